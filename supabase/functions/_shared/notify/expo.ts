/**
 * Expo's push API (the customer app is an Expo app): `POST
 * https://exp.host/--/api/v2/push/send` with one message for a person's devices (`to`: their
 * tokens, at most 100), and `POST …/getReceipts` a quarter of an hour later to learn which
 * devices are gone (DeviceNotRegistered: stop sending to them). With Expo's enhanced push
 * security the project's access token goes as `Authorization: Bearer` (EXPO_ACCESS_TOKEN).
 *
 * Each device gets a ticket: ok (Expo has the message), DeviceNotRegistered (the device is
 * gone), MessageRateExceeded (too many to that device now: retried later, that device
 * only), anything else refused for good. A whole request refused by Expo itself (429, or a
 * 5xx with Expo's `errors`) was not taken and is retried; no answer, or a page that is not
 * Expo's, is `unknown` and never repeated.
 */
import { obj, str } from "../payments/http.ts";
import { exchange, type FetchLike, NoAnswer } from "./transport.ts";

export interface PushTarget {
  deviceId: string;
  token: string;
}

export interface PushMessage {
  title: string;
  body: string;
  data: Record<string, unknown>;
  /** high for payments and orders, normal for marketing. */
  priority: "high" | "normal";
}

export interface PushResult {
  outcome: "sent" | "retry" | "failed" | "unknown" | "nothing_to_send";
  /** device id → Expo ticket id, for the devices that took the message. */
  tickets: Record<string, string>;
  /** Devices Expo says are no longer registered. */
  unregistered: string[];
  error?: string;
}

export interface Receipt {
  status: "ok" | "error";
  error?: string;
  message?: string;
}

export interface PushService {
  send(targets: PushTarget[], message: PushMessage): Promise<PushResult>;
  receipts(ticketIds: string[]): Promise<Record<string, Receipt>>;
}

export interface ExpoConfig {
  url: string;
  accessToken: string | null;
  timeoutMs: number;
}

export function expoConfig(
  env: (name: string) => string | undefined,
): ExpoConfig {
  const url = env("EXPO_PUSH_URL")?.trim() || "https://exp.host/--/api/v2/push";
  const timeout = Number(env("NOTIFY_HTTP_TIMEOUT_MS")?.trim() || "10000");
  return {
    url: url.replace(/\/+$/, ""),
    accessToken: env("EXPO_ACCESS_TOKEN")?.trim() || null,
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 10000,
  };
}

export const MAX_RECIPIENTS = 100;

export class ExpoPush implements PushService {
  constructor(
    private readonly config: ExpoConfig,
    private readonly fetchFn: FetchLike,
  ) {}

  private headers(): Record<string, string> {
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      Accept: "application/json",
    };
    if (this.config.accessToken) {
      headers.Authorization = `Bearer ${this.config.accessToken}`;
    }
    return headers;
  }

  async send(targets: PushTarget[], message: PushMessage): Promise<PushResult> {
    const none: PushResult = {
      outcome: "nothing_to_send",
      tickets: {},
      unregistered: [],
    };
    if (!targets.length) return { ...none, error: "no_device" };
    const chosen = targets.slice(0, MAX_RECIPIENTS);
    let answer;
    try {
      answer = await exchange(this.fetchFn, `${this.config.url}/send`, {
        headers: this.headers(),
        body: JSON.stringify([{
          to: chosen.map((t) => t.token),
          title: message.title,
          body: message.body,
          data: message.data,
          sound: "default",
          priority: message.priority,
        }]),
      }, this.config.timeoutMs);
    } catch (error) {
      if (error instanceof NoAnswer) {
        return {
          ...none,
          outcome: error.kind === "not_sent" ? "retry" : "unknown",
          error: error.message,
        };
      }
      throw error;
    }
    const body = obj(answer.json);
    const errors = Array.isArray(body.errors) ? body.errors.map(obj) : [];
    if (answer.status !== 200 || errors.length) {
      const first = errors[0] ?? {};
      const code = str(first.code);
      const error = `expo ${code ?? "HTTP " + answer.status}: ${
        str(first.message)?.slice(0, 200) ?? ""
      }`.trim();
      if (!errors.length) {
        // not Expo's answer (a proxy's page): it may have been taken
        return {
          ...none,
          outcome: "unknown",
          error: `HTTP ${answer.status} without Expo's answer`,
        };
      }
      // Expo refused the whole request: nothing was sent. Retried when it may work
      // later (rate, Expo's own failure, credentials an operator fixes).
      const later = answer.status === 429 || answer.status >= 500 ||
        answer.status === 401 || answer.status === 403;
      return { ...none, outcome: later ? "retry" : "failed", error };
    }
    const tickets = Array.isArray(body.data) ? body.data.map(obj) : [];
    if (tickets.length !== chosen.length) {
      // an answer we cannot match to the devices: treat it as lost
      return {
        ...none,
        outcome: "unknown",
        error:
          `expo answered ${tickets.length} tickets for ${chosen.length} devices`,
      };
    }
    const result: PushResult = {
      outcome: "sent",
      tickets: {},
      unregistered: [],
    };
    let retry: string | undefined;
    let failed: string | undefined;
    chosen.forEach((target, i) => {
      const ticket = tickets[i];
      const id = str(ticket.id);
      if (ticket.status === "ok" && id) {
        result.tickets[target.deviceId] = id;
        return;
      }
      const kind = str(obj(ticket.details).error) ?? "unknown_error";
      if (kind === "DeviceNotRegistered") {
        result.unregistered.push(target.deviceId);
      } else if (kind === "MessageRateExceeded") retry ??= kind;
      else failed ??= kind;
    });
    const reached = Object.keys(result.tickets).length > 0;
    if (retry) return { ...result, outcome: "retry", error: `expo ${retry}` };
    if (reached) return result;
    if (failed) {
      return { ...result, outcome: "failed", error: `expo ${failed}` };
    }
    return {
      ...result,
      outcome: "nothing_to_send",
      error: "no_device: DeviceNotRegistered",
    };
  }

  async receipts(ticketIds: string[]): Promise<Record<string, Receipt>> {
    if (!ticketIds.length) return {};
    const answer = await exchange(
      this.fetchFn,
      `${this.config.url}/getReceipts`,
      {
        headers: this.headers(),
        body: JSON.stringify({ ids: ticketIds }),
      },
      this.config.timeoutMs,
    );
    if (answer.status !== 200) {
      throw new Error(`expo receipts: HTTP ${answer.status}`);
    }
    const out: Record<string, Receipt> = {};
    for (const [id, raw] of Object.entries(obj(obj(answer.json).data))) {
      const receipt = obj(raw);
      out[id] = receipt.status === "ok" ? { status: "ok" } : {
        status: "error",
        error: str(obj(receipt.details).error) ?? "unknown_error",
        message: str(receipt.message)?.slice(0, 200),
      };
    }
    return out;
  }
}
