/**
 * Vodacom M-Pesa Tanzania, M-Pesa OpenAPI (market vodacomTZN).
 *
 * - Auth: the API key, RSA-encrypted (PKCS#1 v1.5, base64) with the portal's public key,
 *   is the Bearer of `GET …/getSession/`; the session id, encrypted the same way, is the
 *   Bearer of every other call. Sessions are cached in module scope.
 * - Single-stage C2B is synchronous: the POST blocks until the customer enters the PIN
 *   (or the prompt times out) and its reply is the final outcome. There is no callback.
 *   A timeout on our side is `ambiguous`; `queryStatus` resolves it.
 */
import type { MpesaConfig } from "./config.ts";
import { randomHex, rsaPkcs1EncryptBase64 } from "./crypto.ts";
import {
  AuthError,
  fetchCredential,
  httpRequest,
  type HttpResult,
  jsonResponse,
  obj,
  str,
  TransportError,
  withFreshCredentialOn401,
  withRetry,
} from "./http.ts";
import { isCanonicalMsisdn } from "./msisdn.ts";
import { isValidReference } from "./reference.ts";
import { assertPayment, invalidMsisdn, refundError } from "./common.ts";
import { tokenCache } from "./token_cache.ts";
import type {
  AckOutcome,
  AdapterDeps,
  CallbackInput,
  Capabilities,
  FailureReason,
  InitiateResult,
  InitiateState,
  ParsedCallback,
  PaymentAdapter,
  PaymentRequest,
  PaymentState,
  RefundRequest,
  RefundResult,
  StatusResult,
} from "./types.ts";

/** Result codes whose meaning we rely on (from the OpenAPI's published code table). */
const FAILED_CODES: Record<string, FailureReason> = {
  "INS-2": "provider_error", // invalid API key (not processed)
  "INS-4": "provider_error", // user not active
  "INS-5": "cancelled", // transaction cancelled by customer
  "INS-6": "provider_error", // transaction failed
  "INS-13": "provider_error", // invalid shortcode
  "INS-14": "provider_error", // invalid reference
  "INS-15": "provider_error", // invalid amount
  "INS-17": "provider_error", // invalid transaction reference (1..20)
  "INS-19": "provider_error", // invalid third-party reference
  "INS-20": "provider_error", // not all parameters provided
  "INS-21": "provider_error", // parameter validation failed
  "INS-26": "provider_error", // not authorized
  "INS-995": "invalid_msisdn", // customer profile has problems
  "INS-996": "invalid_msisdn", // customer account not active
  "INS-2001": "wrong_pin", // initiator authentication error (wrong PIN) — low confidence
  "INS-2002": "invalid_msisdn", // receiver invalid
  "INS-2006": "insufficient_funds", // insufficient balance
  "INS-2051": "invalid_msisdn", // MSISDN invalid
};

/** Codes that leave the outcome unknown: ask queryTransactionStatus. */
const AMBIGUOUS_CODES = new Set([
  "INS-1", // internal error
  "INS-9", // request timeout (the prompt may still have been answered)
  "INS-10", // duplicate: an earlier push with this reference exists
  "INS-16", // temporary overload
  "INS-23", // unknown status
]);

export function mapMpesaReply(
  httpStatus: number,
  code: string | undefined,
): { state: InitiateState; reason?: FailureReason } {
  if (code === "INS-0" && httpStatus >= 200 && httpStatus < 300) {
    return { state: "succeeded" };
  }
  if (code && AMBIGUOUS_CODES.has(code)) {
    return code === "INS-9"
      ? { state: "ambiguous", reason: "timeout" }
      : { state: "ambiguous" };
  }
  if (code && code in FAILED_CODES) {
    return { state: "failed", reason: FAILED_CODES[code] };
  }
  // Unknown code: a 4xx (other than timeout/conflict) was refused; anything else is unknown.
  if (
    httpStatus >= 400 && httpStatus < 500 && httpStatus !== 408 &&
    httpStatus !== 409
  ) {
    return { state: "failed", reason: "provider_error" };
  }
  return { state: "ambiguous" };
}

/** `output_ResponseTransactionStatus` → normalized state. */
export function mapMpesaTransactionStatus(
  status: string | undefined,
): { state: PaymentState; reason?: FailureReason; notFound?: boolean } {
  const s = (status ?? "").toLowerCase().replace(/[\s_-]/g, "");
  switch (s) {
    case "completed":
    case "success":
    case "successful":
      return { state: "succeeded" };
    case "cancelled":
    case "canceled":
      return { state: "failed", reason: "cancelled" };
    case "expired":
    case "timeout":
      return { state: "failed", reason: "timeout" };
    case "failed":
    case "declined":
    case "rejected":
      return { state: "failed", reason: "provider_error" };
    case "pending":
    case "inprogress":
    case "initiated":
    case "processing":
      return { state: "initiated" };
    case "reversed":
    case "refunded":
      return { state: "refunded" };
    case "notfound":
      return { state: "ambiguous", notFound: true };
    default:
      return { state: "ambiguous" };
  }
}

export class MpesaAdapter implements PaymentAdapter {
  readonly provider = "mpesa" as const;
  readonly capabilities: Capabilities = {
    mode: "sync",
    callbackAuth: "none",
    statusQuery: true,
    refund: true,
  };

  constructor(
    private readonly cfg: MpesaConfig,
    private readonly deps: AdapterDeps,
  ) {}

  private url(operation: string): string {
    return `${this.cfg.baseUrl}${this.cfg.marketPath}/${operation}/`;
  }

  private get cacheKey(): string {
    return `mpesa|${this.cfg.baseUrl}${this.cfg.marketPath}|${this.cfg.apiKey}`;
  }

  private headers(bearer: string): Record<string, string> {
    return {
      "Authorization": `Bearer ${bearer}`,
      "Content-Type": "application/json",
      "Accept": "application/json",
      "Origin": this.cfg.origin,
    };
  }

  /** The encrypted session id to use as Bearer (cached until MPESA_SESSION_TTL_S). */
  private session(): Promise<string> {
    return tokenCache.get(this.cacheKey, this.deps.now, async () => {
      const bearer = rsaPkcs1EncryptBase64(this.cfg.publicKey, this.cfg.apiKey);
      const reply = await fetchCredential(
        "getSession",
        () =>
          httpRequest(this.deps.fetch, this.url("getSession"), {
            method: "GET",
            headers: this.headers(bearer),
          }, this.cfg.httpTimeoutMs),
      );
      const body = obj(reply.json);
      const sessionId = str(body.output_SessionID);
      if (
        reply.status >= 300 || body.output_ResponseCode !== "INS-0" ||
        !sessionId
      ) {
        throw new AuthError(
          `getSession refused: HTTP ${reply.status} ${
            str(body.output_ResponseCode) ?? ""
          } ${str(body.output_ResponseDesc) ?? ""}`.trim(),
        );
      }
      return {
        value: rsaPkcs1EncryptBase64(this.cfg.publicKey, sessionId),
        expiresAt: this.deps.now() + this.cfg.sessionTtlMs,
      };
    });
  }

  /** Sends one authenticated call; on 401 (session expired) fetches a new session once. */
  private async call(
    method: "GET" | "POST" | "PUT",
    url: string,
    body: unknown,
    timeoutMs: number,
    idempotent: boolean,
  ): Promise<HttpResult> {
    const send = async (bearer: string) => {
      const once = () =>
        httpRequest(this.deps.fetch, url, {
          method,
          headers: this.headers(bearer),
          body: body === undefined ? undefined : JSON.stringify(body),
        }, timeoutMs);
      return idempotent ? await withRetry(once) : await once();
    };
    return await withFreshCredentialOn401(
      () => this.session(),
      (bearer) => tokenCache.invalidate(this.cacheKey, bearer),
      send,
    );
  }

  async initiate(payment: PaymentRequest): Promise<InitiateResult> {
    assertPayment(payment);
    const providerRef = payment.reference;
    if (!isCanonicalMsisdn(payment.msisdn)) return invalidMsisdn(providerRef);
    const body = {
      input_Amount: String(payment.amount),
      input_Country: "TZN",
      input_Currency: payment.currency,
      input_CustomerMSISDN: payment.msisdn,
      input_ServiceProviderCode: this.cfg.serviceProviderCode,
      input_ThirdPartyConversationID: providerRef,
      input_TransactionReference: payment.reference,
      input_PurchasedItemsDesc: (payment.description || payment.reference)
        .slice(0, 100),
    };
    let reply: HttpResult;
    try {
      reply = await this.call(
        "POST",
        this.url("c2bPayment/singleStage"),
        body,
        this.cfg.syncPushTimeoutMs,
        false,
      );
    } catch (error) {
      if (error instanceof AuthError) {
        return {
          state: "failed",
          providerRef,
          failureReason: "provider_error",
          message: error.message + "; the push was not sent",
          raw: null,
        };
      }
      if (error instanceof TransportError) {
        return {
          state: "ambiguous",
          providerRef,
          message: error.message,
          transportError: error.kind,
          raw: null,
        };
      }
      throw error;
    }
    const json = obj(reply.json);
    const code = str(json.output_ResponseCode);
    const mapped = mapMpesaReply(reply.status, code);
    return {
      state: mapped.state,
      providerRef,
      providerTxnId: str(json.output_TransactionID) || undefined,
      failureReason: mapped.reason,
      rawCode: code ?? `HTTP ${reply.status}`,
      message: str(json.output_ResponseDesc),
      raw: reply.json ?? reply.text.slice(0, 2000),
    };
  }

  verifyAndParseCallback(input: CallbackInput): Promise<ParsedCallback> {
    return Promise.resolve({
      authentic: false,
      rejection: "unsupported",
      providerRef: null,
      providerTxnId: null,
      state: null,
      failureReason: null,
      amount: null,
      currency: null,
      msisdn: null,
      unreadable: [],
      rawCode: null,
      message: "M-Pesa single-stage C2B sends no callbacks",
      raw: input.rawBody.slice(0, 2000),
    });
  }

  acknowledge(_parsed: ParsedCallback | null, _outcome: AckOutcome): Response {
    return jsonResponse(404, {
      output_ResponseCode: "INS-22",
      output_ResponseDesc: "M-Pesa single-stage C2B has no callback",
    });
  }

  async queryStatus(providerRef: string): Promise<StatusResult> {
    const params = new URLSearchParams({
      input_QueryReference: providerRef,
      input_ServiceProviderCode: this.cfg.serviceProviderCode,
      input_ThirdPartyConversationID: randomHex(16),
      input_Country: "TZN",
    });
    let reply: HttpResult;
    try {
      reply = await this.call(
        "GET",
        `${this.url("queryTransactionStatus")}?${params}`,
        undefined,
        this.cfg.httpTimeoutMs,
        true,
      );
    } catch (error) {
      if (error instanceof TransportError || error instanceof AuthError) {
        return {
          supported: true,
          state: "ambiguous",
          transportError: error instanceof TransportError
            ? error.kind
            : "provider_unavailable",
          message: error.message,
          raw: null,
        };
      }
      throw error;
    }
    const json = obj(reply.json);
    const code = str(json.output_ResponseCode);
    const raw = reply.json ?? reply.text.slice(0, 2000);
    if (code === "INS-0" && reply.status < 300) {
      const txStatus = str(json.output_ResponseTransactionStatus);
      const mapped = mapMpesaTransactionStatus(txStatus);
      return {
        supported: true,
        state: mapped.state,
        notFound: mapped.notFound,
        failureReason: mapped.reason,
        providerTxnId: str(json.output_TransactionID) || undefined,
        rawCode: txStatus,
        message: str(json.output_ResponseDesc),
        raw,
      };
    }
    if (code === "INS-18" || reply.status === 404) {
      return {
        supported: true,
        state: "ambiguous",
        notFound: true,
        rawCode: code ?? `HTTP ${reply.status}`,
        message: str(json.output_ResponseDesc),
        raw,
      };
    }
    return {
      supported: true,
      state: "ambiguous",
      transportError: "provider_unavailable",
      rawCode: code ?? `HTTP ${reply.status}`,
      message: str(json.output_ResponseDesc),
      raw,
    };
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    if (!isValidReference(request.reference)) {
      throw new RangeError("refund reference must be 1-20 letters/digits");
    }
    if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
      throw new RangeError("refund amount must be a positive whole number");
    }
    if (!request.providerTxnId) {
      return {
        supported: true,
        state: "failed",
        message: "M-Pesa reversal needs the payment's transaction id",
        raw: null,
      };
    }
    const body = {
      input_ReversalAmount: String(request.amount),
      input_TransactionID: request.providerTxnId,
      input_Country: "TZN",
      input_ServiceProviderCode: this.cfg.serviceProviderCode,
      input_ThirdPartyConversationID: request.reference,
    };
    let reply: HttpResult;
    try {
      reply = await this.call(
        "PUT",
        this.url("reversal"),
        body,
        this.cfg.httpTimeoutMs,
        false,
      );
    } catch (error) {
      return refundError(error);
    }
    const json = obj(reply.json);
    const code = str(json.output_ResponseCode);
    const mapped = mapMpesaReply(reply.status, code);
    return {
      supported: true,
      state: mapped.state === "succeeded"
        ? "refunded"
        : mapped.state === "failed"
        ? "failed"
        : "ambiguous",
      providerRefundId: str(json.output_TransactionID) || undefined,
      rawCode: code ?? `HTTP ${reply.status}`,
      message: str(json.output_ResponseDesc),
      raw: reply.json ?? reply.text.slice(0, 2000),
    };
  }
}
