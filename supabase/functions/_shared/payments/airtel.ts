/**
 * Airtel Money Tanzania, Airtel Africa Open API (collection v1).
 *
 * - Auth: OAuth2 client credentials (`POST /auth/oauth2/token`), token cached until
 *   shortly before `expires_in`.
 * - Push: `POST /merchant/v1/payments/`, msisdn as the 9-digit national number; the reply
 *   only says "in progress". The outcome comes by callback (URL set in the Airtel portal)
 *   or by `GET /standard/v1/payments/{id}`.
 * - Callback: `{transaction: {id, message, status_code: TS|TF, airtel_money_id}, hash}`
 *   where `hash` = base64 HMAC-SHA256 (portal key) over the JSON of `transaction`.
 */
import type { AirtelConfig } from "./config.ts";
import { hmacSha256Base64, timingSafeEqual } from "./crypto.ts";
import {
  AuthError,
  fetchCredential,
  httpRequest,
  type HttpResult,
  jsonResponse,
  obj,
  parseJson,
  RETRY_SOON,
  str,
  withFreshCredentialOn401,
  withRetry,
} from "./http.ts";
import { isCanonicalMsisdn, toNationalMsisdn } from "./msisdn.ts";
import { reasonFromText } from "./reasons.ts";
import {
  assertPayment,
  invalidMsisdn,
  ipAllowed,
  pushError,
  refundError,
  statusError,
} from "./common.ts";
import { expiryAt, lifetimeMs, tokenCache } from "./token_cache.ts";
import type {
  AckOutcome,
  AdapterDeps,
  CallbackInput,
  Capabilities,
  FailureReason,
  InitiateResult,
  ParsedCallback,
  PaymentAdapter,
  PaymentRequest,
  PaymentState,
  RefundRequest,
  RefundResult,
  StatusResult,
} from "./types.ts";

/**
 * The exact bytes Airtel's `hash` is computed over: the JSON of the `transaction` object
 * as received (keys in their received order, compact). Airtel's documentation is vague
 * about this serialisation; if the live service differs, change only this function.
 */
export function airtelHashInput(transaction: unknown): string {
  return JSON.stringify(transaction);
}

export async function airtelCallbackHash(
  key: string,
  transaction: unknown,
): Promise<string> {
  return await hmacSha256Base64(key, airtelHashInput(transaction));
}

type Mapped = {
  state: PaymentState;
  reason?: FailureReason;
  notFound?: boolean;
};

/** Airtel `response_code` values (DP008000010xx) → normalized outcome. */
export function mapAirtelResponseCode(code: string | undefined): Mapped | null {
  switch (code) {
    case "DP00800001000":
      return { state: "ambiguous" };
    case "DP00800001001":
      return { state: "succeeded" };
    case "DP00800001002":
      return { state: "failed", reason: "wrong_pin" };
    case "DP00800001003":
      return { state: "failed", reason: "limit" };
    case "DP00800001004":
    case "DP00800001005":
    case "DP00800001010":
    case "DP00800001026":
      return { state: "failed", reason: "provider_error" };
    case "DP00800001006":
      return { state: "initiated" };
    case "DP00800001007":
      return { state: "failed", reason: "insufficient_funds" };
    case "DP00800001008":
      return { state: "failed", reason: "cancelled" };
    case "DP00800001024":
    case "DP00800001029":
      return { state: "failed", reason: "timeout" };
    case "DP00800001025":
      return { state: "ambiguous", notFound: true };
    default:
      return null;
  }
}

/** `data.transaction.status` of the status query → normalized outcome. */
export function mapAirtelTransactionStatus(
  status: string | undefined,
  responseCode: string | undefined,
  message: string | undefined,
): Mapped {
  switch ((status ?? "").toUpperCase()) {
    case "TS":
      return { state: "succeeded" };
    case "TF": {
      const byCode = mapAirtelResponseCode(responseCode);
      return {
        state: "failed",
        reason: byCode?.state === "failed"
          ? byCode.reason
          : reasonFromText(message),
      };
    }
    case "TE":
      return { state: "failed", reason: "timeout" };
    case "TIP":
      return { state: "initiated" };
    case "TA":
      return { state: "ambiguous" };
    default:
      return { state: "ambiguous" };
  }
}

export class AirtelAdapter implements PaymentAdapter {
  readonly provider = "airtel" as const;
  readonly capabilities: Capabilities = {
    mode: "async",
    callbackAuth: "hmac",
    statusQuery: true,
    refund: true,
  };

  constructor(
    private readonly cfg: AirtelConfig,
    private readonly deps: AdapterDeps,
  ) {}

  private get cacheKey(): string {
    return `airtel|${this.cfg.baseUrl}|${this.cfg.clientId}`;
  }

  private token(): Promise<string> {
    return tokenCache.get(this.cacheKey, this.deps.now, async () => {
      const reply = await fetchCredential(
        "Airtel token",
        () =>
          httpRequest(
            this.deps.fetch,
            `${this.cfg.baseUrl}/auth/oauth2/token`,
            {
              method: "POST",
              headers: {
                "Content-Type": "application/json",
                "Accept": "*/*",
              },
              body: JSON.stringify({
                client_id: this.cfg.clientId,
                client_secret: this.cfg.clientSecret,
                grant_type: "client_credentials",
              }),
            },
            this.cfg.httpTimeoutMs,
          ),
      );
      const body = obj(reply.json);
      const token = str(body.access_token);
      if (reply.status !== 200 || !token) {
        throw new AuthError(
          `Airtel token refused: HTTP ${reply.status} ${
            str(body.error_description) ?? str(body.error) ?? ""
          }`.trim(),
        );
      }
      return {
        value: token,
        expiresAt: expiryAt(this.deps.now(), lifetimeMs(body.expires_in, 180)),
      };
    });
  }

  private async call(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    timeoutMs: number,
    idempotent: boolean,
  ): Promise<HttpResult> {
    const send = async (token: string) => {
      const once = () =>
        httpRequest(this.deps.fetch, `${this.cfg.baseUrl}${path}`, {
          method,
          headers: {
            "Authorization": `Bearer ${token}`,
            "Content-Type": "application/json",
            "Accept": "*/*",
            "X-Country": this.cfg.country,
            "X-Currency": this.cfg.currency,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        }, timeoutMs);
      return idempotent ? await withRetry(once) : await once();
    };
    return await withFreshCredentialOn401(
      () => this.token(),
      (token) => tokenCache.invalidate(this.cacheKey, token),
      send,
    );
  }

  async initiate(payment: PaymentRequest): Promise<InitiateResult> {
    assertPayment(payment);
    const providerRef = payment.reference;
    if (!isCanonicalMsisdn(payment.msisdn)) return invalidMsisdn(providerRef);
    const body = {
      reference: (payment.description || payment.reference).slice(0, 64),
      subscriber: {
        country: this.cfg.country,
        currency: this.cfg.currency,
        msisdn: toNationalMsisdn(payment.msisdn),
      },
      transaction: {
        amount: payment.amount,
        country: this.cfg.country,
        currency: this.cfg.currency,
        id: providerRef,
      },
    };
    let reply: HttpResult;
    try {
      reply = await this.call(
        "POST",
        "/merchant/v1/payments/",
        body,
        this.cfg.pushTimeoutMs,
        false,
      );
    } catch (error) {
      return pushError(error, providerRef);
    }
    const json = obj(reply.json);
    const status = obj(json.status);
    const responseCode = str(status.response_code);
    const message = str(status.message);
    const raw = reply.json ?? reply.text.slice(0, 2000);
    const base = {
      providerRef,
      rawCode: responseCode ?? str(status.result_code) ??
        `HTTP ${reply.status}`,
      message,
      raw,
    };
    if (reply.status >= 500) return { state: "ambiguous", ...base };
    const mapped = mapAirtelResponseCode(responseCode);
    if (mapped) {
      if (mapped.state === "failed") {
        return { state: "failed", failureReason: mapped.reason, ...base };
      }
      // "In progress" — and even "success" in a push reply — only means accepted: the
      // callback or the status query says whether the customer paid.
      if (mapped.state === "initiated" || mapped.state === "succeeded") {
        return { state: "initiated", ...base };
      }
      return { state: "ambiguous", ...base };
    }
    if (/duplicate|already exists/i.test(message ?? "")) {
      return { state: "ambiguous", ...base };
    }
    if (reply.status >= 400) {
      return {
        state: "failed",
        failureReason: reasonFromText(message),
        ...base,
      };
    }
    if (reply.status === 200 && status.success === true) {
      return { state: "initiated", ...base };
    }
    return { state: "ambiguous", ...base };
  }

  async verifyAndParseCallback(input: CallbackInput): Promise<ParsedCallback> {
    const parsed = parseJson(input.rawBody);
    const body = obj(parsed);
    const transaction = obj(body.transaction);
    const statusCode = str(transaction.status_code) ?? null;
    const message = str(transaction.message) ?? null;
    const result: ParsedCallback = {
      authentic: false,
      providerRef: str(transaction.id) ?? null,
      providerTxnId: str(transaction.airtel_money_id) ?? null,
      state: null,
      failureReason: null,
      amount: null,
      currency: null,
      msisdn: null,
      unreadable: [],
      rawCode: statusCode,
      message,
      raw: parsed ?? input.rawBody.slice(0, 2000),
    };
    if (statusCode === "TS") result.state = "succeeded";
    else if (statusCode === "TF") {
      result.state = "failed";
      result.failureReason = reasonFromText(message);
    } else if (statusCode) result.state = "ambiguous";

    if (
      parsed === null || typeof body.transaction !== "object" ||
      !result.providerRef || !statusCode
    ) {
      return { ...result, rejection: "malformed" };
    }
    if (!ipAllowed(this.cfg.callbackAllowedIps, input.sourceIp)) {
      return { ...result, rejection: "ip_not_allowed" };
    }
    const received = str(body.hash);
    if (!received) return { ...result, rejection: "missing_signature" };
    const expected = await airtelCallbackHash(
      this.cfg.callbackHashKey,
      body.transaction,
    );
    if (!timingSafeEqual(expected, received)) {
      return { ...result, rejection: "bad_signature" };
    }
    return { ...result, authentic: true };
  }

  acknowledge(parsed: ParsedCallback | null, outcome: AckOutcome): Response {
    const id = parsed?.providerRef ?? null;
    switch (outcome) {
      case "accepted":
        return jsonResponse(200, {
          transaction: { id, status: "RECEIVED" },
          status: { code: "200", message: "SUCCESS", success: true },
        });
      case "unauthentic":
        return jsonResponse(401, {
          status: { code: "401", message: "Unauthorized", success: false },
        });
      case "invalid":
        return jsonResponse(400, {
          status: { code: "400", message: "Bad Request", success: false },
        });
      default:
        return jsonResponse(503, {
          status: { code: "503", message: "Temporary failure", success: false },
        }, RETRY_SOON);
    }
  }

  async queryStatus(providerRef: string): Promise<StatusResult> {
    let reply: HttpResult;
    try {
      reply = await this.call(
        "GET",
        `/standard/v1/payments/${encodeURIComponent(providerRef)}`,
        undefined,
        this.cfg.httpTimeoutMs,
        true,
      );
    } catch (error) {
      return statusError(error);
    }
    const json = obj(reply.json);
    const status = obj(json.status);
    const transaction = obj(obj(json.data).transaction);
    const responseCode = str(status.response_code);
    const raw = reply.json ?? reply.text.slice(0, 2000);
    if (reply.status === 404 || responseCode === "DP00800001025") {
      return {
        supported: true,
        state: "ambiguous",
        notFound: true,
        rawCode: responseCode ?? `HTTP ${reply.status}`,
        message: str(status.message),
        raw,
      };
    }
    const txStatus = str(transaction.status);
    if (reply.status !== 200 || !txStatus) {
      return {
        supported: true,
        state: "ambiguous",
        transportError: "provider_unavailable",
        rawCode: responseCode ?? `HTTP ${reply.status}`,
        message: str(status.message),
        raw,
      };
    }
    const message = str(transaction.message) ?? str(status.message);
    const mapped = mapAirtelTransactionStatus(txStatus, responseCode, message);
    return {
      supported: true,
      state: mapped.state,
      failureReason: mapped.reason,
      providerTxnId: str(transaction.airtel_money_id) || undefined,
      rawCode: txStatus,
      message,
      raw,
    };
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    if (!request.providerTxnId) {
      return {
        supported: true,
        state: "failed",
        message: "Airtel refunds need the payment's airtel_money_id",
        raw: null,
      };
    }
    let reply: HttpResult;
    try {
      reply = await this.call(
        "POST",
        "/standard/v1/payments/refund",
        { transaction: { airtel_money_id: request.providerTxnId } },
        this.cfg.httpTimeoutMs,
        false,
      );
    } catch (error) {
      return refundError(error);
    }
    const json = obj(reply.json);
    const status = obj(json.status);
    const transaction = obj(obj(json.data).transaction);
    const txStatus = (str(transaction.status) ?? "").toUpperCase();
    const raw = reply.json ?? reply.text.slice(0, 2000);
    const base = {
      providerRefundId: str(transaction.airtel_money_id) || undefined,
      rawCode: str(status.response_code) ?? txStatus ?? `HTTP ${reply.status}`,
      message: str(status.message),
      raw,
    };
    if (
      reply.status === 200 && status.success === true &&
      (txStatus === "SUCCESS" || txStatus === "TS")
    ) {
      return { supported: true, state: "refunded", ...base };
    }
    if (reply.status >= 500 || txStatus === "TA" || txStatus === "TIP") {
      return { supported: true, state: "ambiguous", ...base };
    }
    return { supported: true, state: "failed", ...base };
  }
}
