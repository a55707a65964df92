/**
 * SMS to Tanzanian phones behind one small interface, `SmsGateway`, with one
 * implementation: Beem (beem.africa). Why Beem: it is a Tanzanian company, directly
 * connected to the Tanzanian networks (Vodacom, Airtel, Yas/Tigo, Halotel, TTCL, Zantel),
 * registers sender names with TCRA and bills in shillings; its API is one JSON POST with
 * Basic authentication. Africa's Talking would also do (its API is form-encoded, keyed by
 * username and API key); neither offers an idempotency key, so a send whose answer is lost
 * is never repeated (see transport.ts).
 *
 * Beem: `POST https://apisms.beem.africa/v1/send`, `Authorization: Basic
 * base64(api_key:secret_key)`, `{source_addr, encoding: 0, message, recipients:
 * [{recipient_id, dest_addr}]}`; accepted: `200 {"successful": true, "request_id", "code":
 * 100, "valid", "invalid", "duplicates"}`; refused: an error status with Beem's own JSON
 * (`{"code", "message"}`, possibly under `data`).
 */
import { obj, str } from "../payments/http.ts";
import { exchange, type FetchLike, NoAnswer } from "./transport.ts";

export interface SmsRequest {
  /** 255 and nine digits. */
  to: string;
  text: string;
  /** Our id for the message (the delivery), sent as Beem's recipient_id. */
  reference: string;
}

export interface SmsResult {
  /** sent: accepted; retry: refused for now (not sent); failed: refused for good;
   * unknown: the answer was lost (it may have been sent). */
  outcome: "sent" | "retry" | "failed" | "unknown";
  providerMessageId?: string;
  error?: string;
}

export interface SmsGateway {
  readonly name: string;
  send(request: SmsRequest): Promise<SmsResult>;
}

export interface BeemConfig {
  url: string;
  apiKey: string;
  secretKey: string;
  senderId: string;
  timeoutMs: number;
}

export class SmsConfigError extends Error {
  constructor(missing: string[]) {
    super(`SMS gateway not configured: missing ${missing.join(", ")}`);
    this.name = "SmsConfigError";
  }
}

export function beemConfig(
  env: (name: string) => string | undefined,
): BeemConfig {
  const get = (name: string) => env(name)?.trim() ?? "";
  const missing = ["BEEM_API_KEY", "BEEM_SECRET_KEY", "BEEM_SENDER_ID"].filter(
    (name) => !get(name),
  );
  if (missing.length) throw new SmsConfigError(missing);
  const timeout = Number(get("NOTIFY_HTTP_TIMEOUT_MS") || "10000");
  return {
    url: get("BEEM_SMS_URL") || "https://apisms.beem.africa/v1/send",
    apiKey: get("BEEM_API_KEY"),
    secretKey: get("BEEM_SECRET_KEY"),
    senderId: get("BEEM_SENDER_ID"),
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : 10000,
  };
}

/** Beem's codes for a number that will never take the message. */
const BAD_NUMBER = new Set(["101"]);

export class BeemSms implements SmsGateway {
  readonly name = "beem";
  constructor(
    private readonly config: BeemConfig,
    private readonly fetchFn: FetchLike,
  ) {}

  async send(request: SmsRequest): Promise<SmsResult> {
    const auth = btoa(`${this.config.apiKey}:${this.config.secretKey}`);
    let answer;
    try {
      answer = await exchange(this.fetchFn, this.config.url, {
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          Authorization: `Basic ${auth}`,
        },
        body: JSON.stringify({
          source_addr: this.config.senderId,
          encoding: 0,
          schedule_time: "",
          message: request.text,
          recipients: [{
            recipient_id: request.reference,
            dest_addr: request.to,
          }],
        }),
      }, this.config.timeoutMs);
    } catch (error) {
      if (error instanceof NoAnswer) {
        return {
          outcome: error.kind === "not_sent" ? "retry" : "unknown",
          error: error.message,
        };
      }
      throw error;
    }
    const body = obj(answer.json);
    const detail = Object.keys(obj(body.data)).length ? obj(body.data) : body;
    const code = str(detail.code);
    const said = str(detail.message)?.slice(0, 200);
    if (answer.status >= 200 && answer.status < 300) {
      if (body.successful === true || code === "100") {
        return { outcome: "sent", providerMessageId: str(body.request_id) };
      }
      // answered, but nothing was accepted (every recipient invalid)
      return {
        outcome: "failed",
        error: `beem ${code ?? answer.status}: ${said ?? "not accepted"}`,
      };
    }
    if (answer.json === null || (code === undefined && said === undefined)) {
      // not Beem's answer (a proxy's page): it may have gone through
      return {
        outcome: "unknown",
        error: `HTTP ${answer.status} without Beem's answer`,
      };
    }
    const error = `beem ${code ?? "?"} (HTTP ${answer.status}): ${said ?? ""}`
      .trim();
    if (code !== undefined && BAD_NUMBER.has(code)) {
      return { outcome: "failed", error };
    }
    // refused for now: credentials, balance, sender name, rate, Beem's own failure
    return { outcome: "retry", error };
  }
}
