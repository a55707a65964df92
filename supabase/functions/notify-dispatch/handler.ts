/**
 * notify-dispatch: sends the notifications SQL queued for push (Expo) and SMS (Beem), and
 * reads Expo's receipts. Run with the service role key: woken by every new notification
 * (NOTIFY locally, pg_net on hosted projects) and every minute by the schedule.
 *
 * 1. `claim_notification_deliveries` hands out due sends, each to exactly one caller
 *    (SKIP LOCKED), with the texts already in the person's language;
 * 2. each is sent through its channel's adapter and the answer recorded
 *    (`record_notification_delivery`): SQL decides sent, retry later (backoff) or failed.
 *    A send whose answer is lost is recorded `unknown` and never repeated; if this function
 *    dies between claim and record, SQL settles the claim the same way after a lease;
 * 3. `push_receipts_to_check` / `record_push_receipts`: devices whose receipts say
 *    DeviceNotRegistered are disabled.
 *
 * Phones and push tokens never reach the logs unmasked.
 */
import {
  errorResponse,
  HttpError,
  json,
  readBody,
  unavailable,
} from "../_shared/edge/http.ts";
import {
  jobBody,
  requireSchedulerCall,
  wholeOption,
} from "../_shared/edge/scheduled.ts";
import type { Rpc } from "../_shared/edge/db.ts";
import type { PushService } from "../_shared/notify/expo.ts";
import type { SmsGateway } from "../_shared/notify/sms.ts";
import * as sql from "../_shared/notify/rpc.ts";
import { maskPhone } from "../_shared/notify/transport.ts";
import { reportError } from "../_shared/edge/observe.ts";

export interface DispatchDeps {
  serviceRpc: Rpc;
  /** The SMS gateway; throws when it is not configured. */
  sms(): SmsGateway;
  /** Expo push; throws when it is not configured. */
  push(): PushService;
  now(): number;
}

interface Options {
  limit: number;
  budgetMs: number;
  concurrency: number;
  receipts: boolean;
}

function options(raw: string): Options {
  const defaults: Options = {
    limit: 100,
    budgetMs: 40_000,
    concurrency: 6,
    receipts: true,
  };
  const body = jobBody(raw);
  const limit = wholeOption(
    body.limit ?? undefined,
    defaults.limit,
    1,
    500,
    "limit must be a whole number from 1 to 500",
  );
  if (body.receipts !== undefined && typeof body.receipts !== "boolean") {
    throw new HttpError(
      422,
      "invalid_option",
      "receipts must be true or false",
    );
  }
  return {
    ...defaults,
    limit,
    receipts: body.receipts === undefined ? true : body.receipts as boolean,
  };
}

type Row = Record<string, unknown>;

async function sendOne(
  item: sql.ClaimedDelivery,
  deps: DispatchDeps,
): Promise<sql.DeliveryAnswer> {
  const base = { deliveryId: item.delivery_id, claimId: item.claim_id };
  if (item.channel === "sms") {
    if (!item.phone || !item.sms_text) {
      return { ...base, outcome: "nothing_to_send", error: "no_phone" };
    }
    let gateway: SmsGateway;
    try {
      gateway = deps.sms();
    } catch (error) {
      reportError(
        "sms gateway:",
        error instanceof Error ? error.message : error,
      );
      return { ...base, outcome: "retry", error: "sms_not_configured" };
    }
    const result = await gateway.send({
      to: item.phone,
      text: item.sms_text,
      reference: item.delivery_id,
    });
    if (result.outcome !== "sent") {
      console.warn(
        `sms to ${maskPhone(item.phone)} (${item.type}): ${result.outcome} ${
          result.error ?? ""
        }`,
      );
    }
    return {
      ...base,
      outcome: result.outcome,
      error: result.error,
      providerMessageId: result.providerMessageId,
    };
  }
  const devices = (item.devices ?? []).map((d) => ({
    deviceId: d.device_id,
    token: d.token,
  }));
  if (!devices.length) {
    return { ...base, outcome: "nothing_to_send", error: "no_device" };
  }
  let push: PushService;
  try {
    push = deps.push();
  } catch (error) {
    reportError("expo push:", error instanceof Error ? error.message : error);
    return { ...base, outcome: "retry", error: "push_not_configured" };
  }
  const result = await push.send(devices, {
    title: item.title,
    body: item.body,
    data: item.data,
    priority: item.purpose === "service" ? "high" : "normal",
  });
  if (result.outcome !== "sent") {
    console.warn(
      `push ${item.delivery_id} (${item.type}, ${devices.length} devices): ${result.outcome} ${
        result.error ?? ""
      }`,
    );
  }
  return {
    ...base,
    outcome: result.outcome,
    error: result.error,
    tickets: result.tickets,
    unregisteredDevices: result.unregistered,
  };
}

async function deliver(
  item: sql.ClaimedDelivery,
  deps: DispatchDeps,
): Promise<Row> {
  let answer: sql.DeliveryAnswer;
  try {
    answer = await sendOne(item, deps);
  } catch (error) {
    // a bug between claim and answer: we cannot tell whether it went out
    reportError(`delivery ${item.delivery_id} failed while sending:`, error);
    answer = {
      deliveryId: item.delivery_id,
      claimId: item.claim_id,
      outcome: "unknown",
      error: "dispatcher_error",
    };
  }
  let recorded: sql.DeliveryRecorded;
  try {
    recorded = await sql.recordNotificationDelivery(deps.serviceRpc, answer);
  } catch (error) {
    // the claim stays; SQL settles it after the lease as unknown (never resent)
    reportError(
      `delivery ${item.delivery_id}: the answer was not recorded:`,
      error instanceof Error ? error.message : error,
    );
    recorded = { recorded: false, status: "sending" };
  }
  return {
    delivery_id: item.delivery_id,
    channel: item.channel,
    outcome: answer.outcome,
    status: recorded.status,
    recorded: recorded.recorded,
  };
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function pool<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from(
    { length: Math.min(limit, items.length) },
    async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    },
  );
  await Promise.all(runners);
  return results;
}

async function checkReceipts(deps: DispatchDeps): Promise<Row> {
  const due = await sql.pushReceiptsToCheck(deps.serviceRpc, 300);
  if (!due.length) return { checked: 0, disabled_devices: 0 };
  let push: PushService;
  try {
    push = deps.push();
  } catch {
    return { checked: 0, disabled_devices: 0 };
  }
  const ids = due.flatMap((d) => Object.values(d.tickets));
  const receipts = await push.receipts(ids);
  let disabled = 0;
  let checked = 0;
  for (const delivery of due) {
    const unregistered: string[] = [];
    const errors: Record<string, string> = {};
    let pending = false;
    for (const [deviceId, ticket] of Object.entries(delivery.tickets)) {
      const receipt = receipts[ticket];
      if (!receipt) {
        pending = true; // not ready yet (Expo keeps receipts about a day)
        continue;
      }
      if (receipt.status === "error") {
        if (receipt.error === "DeviceNotRegistered") {
          unregistered.push(deviceId);
        } else errors[deviceId] = receipt.error ?? "unknown_error";
      }
    }
    if (pending && !unregistered.length && !Object.keys(errors).length) {
      continue;
    }
    const recorded = await sql.recordPushReceipts(
      deps.serviceRpc,
      delivery.delivery_id,
      unregistered,
      errors,
    );
    disabled += recorded.disabled_devices;
    checked++;
  }
  return { checked, disabled_devices: disabled };
}

export async function handleNotifyDispatch(
  req: Request,
  deps: DispatchDeps,
): Promise<Response> {
  try {
    requireSchedulerCall(req, "sends notifications");
    const opts = options(await readBody(req, 4096));
    const started = deps.now();
    const results: Row[] = [];
    let rounds = 0;
    // drain: claim again while full batches keep coming, within the time budget
    while (deps.now() - started < opts.budgetMs) {
      const claimed = await sql.claimNotificationDeliveries(
        deps.serviceRpc,
        opts.limit,
      );
      rounds++;
      results.push(
        ...await pool(claimed, opts.concurrency, (item) => deliver(item, deps)),
      );
      if (claimed.length < opts.limit) break;
    }
    let receipts: Row = { checked: 0, disabled_devices: 0 };
    if (opts.receipts) {
      try {
        receipts = await checkReceipts(deps);
      } catch (error) {
        // receipts are looked at again on the next run
        console.warn(
          "push receipts not read:",
          error instanceof Error ? error.message : error,
        );
      }
    }
    const counts: Record<string, number> = {};
    for (const r of results) {
      const key = String(r.outcome);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return json(200, {
      claimed: results.length,
      rounds,
      counts,
      receipts,
      results,
    });
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    reportError(
      "notify-dispatch failed:",
      error instanceof Error ? error.message : error,
    );
    return errorResponse(
      unavailable("notifications were not sent; it runs again soon"),
    );
  }
}
