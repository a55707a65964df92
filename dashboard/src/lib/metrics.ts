// What the Overview shows, computed from rows read through RLS. Pure functions, so Vitest
// checks them and the browser test checks the page against SQL.
import { eatDay } from "./format";

export interface OrderRow {
  id: string;
  status: string;
  total: number;
  created_at: string;
  paid_at: string | null;
}

export interface PaymentRow {
  provider: string;
  status: string;
  created_at: string;
}

export interface ShipmentRow {
  seconds_to_dispatch: number | null;
  seconds_to_deliver: number | null;
}

/** Payments that reached an end: the ones a success rate divides by. */
export const SUCCEEDED = ["succeeded", "refunded", "partially_refunded"];
export const UNSUCCESSFUL = ["failed", "expired"];

export function isFinished(status: string): boolean {
  return SUCCEEDED.includes(status) || UNSUCCESSFUL.includes(status);
}

export interface ProviderRate {
  provider: string;
  succeeded: number;
  finished: number;
  rate: number | null;
}

/** Mean of the non-null values, or null. */
export function mean(values: Array<number | null>): number | null {
  const xs = values.filter((v): v is number => v !== null && !Number.isNaN(v));
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

export interface FulfilmentTimes {
  toDispatch: number | null;
  toDeliver: number | null;
}

/** Mean seconds from payment to dispatch and from dispatch to delivery. A negative
 * duration can only come from a clock moved by hand (tests, fixes); it is left out. */
export function fulfilmentTimes(shipments: ShipmentRow[]): FulfilmentTimes {
  const valid = (v: number | null) => (v !== null && v >= 0 ? v : null);
  return {
    toDispatch: mean(shipments.map((s) => valid(s.seconds_to_dispatch))),
    toDeliver: mean(shipments.map((s) => valid(s.seconds_to_deliver))),
  };
}

/** The last `days` EAT days, oldest first, ending with `today`. */
export function lastDays(today: string, days: number): string[] {
  const end = Date.parse(`${today}T00:00:00Z`);
  return Array.from({ length: days }, (_, i) => new Date(end - (days - 1 - i) * 86400000).toISOString().slice(0, 10));
}

export interface DailySeries {
  days: string[];
  orders: number[];
  successRate: Array<number | null>;
}

/** Orders per day and payment success rate per day, for the charts. */
export function dailySeries(orders: OrderRow[], payments: PaymentRow[], today: string, days = 14): DailySeries {
  const axis = lastDays(today, days);
  const index = new Map(axis.map((d, i) => [d, i]));
  const counts = axis.map(() => 0);
  const ok = axis.map(() => 0);
  const done = axis.map(() => 0);
  for (const o of orders) {
    const i = index.get(eatDay(o.created_at));
    if (i !== undefined) counts[i] += 1;
  }
  for (const p of payments) {
    if (!isFinished(p.status)) continue;
    const i = index.get(eatDay(p.created_at));
    if (i === undefined) continue;
    done[i] += 1;
    if (SUCCEEDED.includes(p.status)) ok[i] += 1;
  }
  return { days: axis, orders: counts, successRate: done.map((n, i) => (n ? ok[i] / n : null)) };
}
