/**
 * Vodacom M-Pesa Tanzania, M-Pesa OpenAPI (market vodacomTZN).
 *
 * - Auth: the API key, RSA-encrypted (PKCS#1 v1.5, base64) with the portal's public key,
 *   is the Bearer of `GET …/getSession/`; the session id, encrypted the same way, is the
 *   Bearer of every other call. Sessions are cached in module scope.
 * - Single-stage C2B is synchronous: the POST blocks until the customer enters the PIN
 *   (or the prompt times out) and its reply is the final outcome. There is no callback.
 *   A timeout on our side is `ambiguous`; `queryStatus` resolves it.
 * - Status: `queryTransactionStatus` answers `output_ResponseTransactionStatus` and the
 *   mobile-money transaction id as `output_OriginalTransactionID` (the OpenAPI's published
 *   response; `output_TransactionID` is not part of this answer).
 * - Refunds are reversals of the payment (`PUT …/reversal/`, synchronous, partial amounts
 *   allowed), sent with our refund reference as `input_ThirdPartyConversationID`; a lost
 *   answer is asked for by that reference (`queryTransactionStatus`), and a resend with it
 *   is refused as a duplicate (409 `INS-10`).
 * - Vendor payouts are B2C payments (`POST …/b2cPayment/singleStage/`, synchronous, from
 *   the B2C short code), sent with our payout reference as `input_ThirdPartyConversationID`
 *   and asked about like reversals; before a wallet's first payout, Query Beneficiary Name
 *   (`GET …/queryBeneficiaryName/`, `input_KycQueryType=Name`) tells whose it is.
 */
import { noCallbacks, statusNotFound, statusUnavailable } from "./common.ts";
import { ProviderClient } from "./client.ts";
import { type MpesaConfig, mpesaConfig } from "./config.ts";
import type { PaymentState } from "./contract.ts";
import { randomHex, rsaPkcs1EncryptBase64 } from "./crypto.ts";
import { type HttpResult, jsonResponse, obj, str } from "./http.ts";
import {
  assertPayoutRequest,
  holderName,
  lookupNotAsked,
  payoutFromRefund,
  payoutStatusFromRefund,
} from "./payouts.ts";
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
  PayoutAdapter,
  PayoutCapability,
  PayoutRequest,
  PayoutResult,
  PayoutStatusRequest,
  PayoutStatusResult,
  Protocol,
  RefundFailureReason,
  RefundRequest,
  RefundResult,
  RefundState,
  RefundStatusRequest,
  RefundStatusResult,
  StatusResult,
  WalletHolderResult,
  WalletLookupRequest,
} from "./types.ts";

/** M-Pesa's limit of our references on the wire (`input_ThirdPartyConversationID`). */
const WIRE_REFERENCE = /^[A-Za-z0-9]{1,20}$/;

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

/** Vodacom M-Pesa: the OpenAPI's single-stage C2B (synchronous, no callback). */
export const mpesa: Protocol = {
  name: "mpesa",
  create: (env, deps) => new MpesaAdapter(mpesaConfig(env), deps),
};

export class MpesaAdapter implements PaymentAdapter, PayoutAdapter {
  readonly provider = "mpesa" as const;
  readonly capabilities: Capabilities = {
    mode: "sync",
    callbackAuth: "none",
    statusQuery: true,
    refund: {
      whole: "reversal",
      partial: "reversal",
      statusQuery: ["reversal"],
      callbacks: false,
    },
  };
  private readonly client: ProviderClient;

  constructor(private readonly cfg: MpesaConfig, deps: AdapterDeps) {
    // The encrypted API key asks for a session; the encrypted session id is the Bearer of
    // every other call (cached until MPESA_SESSION_TTL_S).
    const headers = (bearer: string) => ({
      "Authorization": `Bearer ${bearer}`,
      "Content-Type": "application/json",
      "Accept": "application/json",
      "Origin": cfg.origin,
    });
    this.client = new ProviderClient({
      baseUrl: `${cfg.baseUrl}${cfg.marketPath}`,
      httpTimeoutMs: cfg.httpTimeoutMs,
      // single-stage C2B blocks until the customer answers the USSD prompt
      pushTimeoutMs: cfg.syncPushTimeoutMs,
      credential: {
        name: "getSession",
        cacheKey: `mpesa|${cfg.baseUrl}${cfg.marketPath}|${cfg.apiKey}`,
        request: () => ({
          method: "GET",
          path: "/getSession/",
          headers: headers(rsaPkcs1EncryptBase64(cfg.publicKey, cfg.apiKey)),
        }),
        read: (reply, now) => {
          const body = obj(reply.json);
          const sessionId = str(body.output_SessionID);
          if (
            reply.status >= 300 || body.output_ResponseCode !== "INS-0" ||
            !sessionId
          ) {
            return {
              refused: `${str(body.output_ResponseCode) ?? ""} ${
                str(body.output_ResponseDesc) ?? ""
              }`,
            };
          }
          return {
            value: rsaPkcs1EncryptBase64(cfg.publicKey, sessionId),
            expiresAt: now + cfg.sessionTtlMs,
          };
        },
      },
      authorize: headers,
    }, deps);
  }

  initiate(payment: PaymentRequest): Promise<InitiateResult> {
    const providerRef = payment.reference;
    return this.client.push(payment, () => ({
      method: "POST",
      path: "/c2bPayment/singleStage/",
      json: {
        input_Amount: String(payment.amount),
        input_Country: "TZN",
        input_Currency: payment.currency,
        input_CustomerMSISDN: payment.msisdn,
        input_ServiceProviderCode: this.cfg.serviceProviderCode,
        input_ThirdPartyConversationID: providerRef,
        input_TransactionReference: payment.reference,
        input_PurchasedItemsDesc: (payment.description || payment.reference)
          .slice(0, 100),
      },
    }), (reply) => {
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
        raw: reply.raw,
      };
    });
  }

  verifyAndParseCallback(input: CallbackInput): Promise<ParsedCallback> {
    return Promise.resolve(
      noCallbacks(input, "M-Pesa single-stage C2B sends no callbacks"),
    );
  }

  acknowledge(_parsed: ParsedCallback | null, _outcome: AckOutcome): Response {
    return jsonResponse(404, {
      output_ResponseCode: "INS-22",
      output_ResponseDesc: "M-Pesa single-stage C2B has no callback",
    });
  }

  queryStatus(providerRef: string): Promise<StatusResult> {
    const params = new URLSearchParams({
      input_QueryReference: providerRef,
      input_ServiceProviderCode: this.cfg.serviceProviderCode,
      input_ThirdPartyConversationID: randomHex(16),
      input_Country: "TZN",
    });
    return this.client.status({
      method: "GET",
      path: `/queryTransactionStatus/?${params}`,
    }, statusResult);
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    if (!WIRE_REFERENCE.test(request.reference)) {
      throw new RangeError("refund reference must be 1-20 letters/digits");
    }
    if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
      throw new RangeError("refund amount must be a positive whole number");
    }
    if (!request.providerTxnId) {
      return {
        supported: true,
        method: "reversal",
        state: "failed",
        failureReason: "missing_payment_details",
        message: "M-Pesa reversal needs the payment's transaction id",
        raw: null,
      };
    }
    return await this.client.refund("reversal", {
      method: "PUT",
      path: "/reversal/",
      json: {
        input_ReversalAmount: String(request.amount),
        input_TransactionID: request.providerTxnId,
        input_Country: "TZN",
        input_ServiceProviderCode: this.cfg.serviceProviderCode,
        input_ThirdPartyConversationID: request.reference,
      },
    }, reversalResult);
  }

  refundStatus(request: RefundStatusRequest): Promise<RefundStatusResult> {
    // a reversal is the only way M-Pesa refunds, and it is known by our reference
    const params = new URLSearchParams({
      input_QueryReference: request.reference,
      input_ServiceProviderCode: this.cfg.serviceProviderCode,
      input_ThirdPartyConversationID: randomHex(16),
      input_Country: "TZN",
    });
    return this.client.refundStatus({
      method: "GET",
      path: `/queryTransactionStatus/?${params}`,
    }, reversalStatusResult);
  }

  // -- vendor payouts (PayoutAdapter) ------------------------------------------------------

  get payoutCapability(): PayoutCapability {
    return {
      method: "b2c",
      statusQuery: true,
      callbacks: false,
      nameLookup: this.cfg.nameLookup,
    };
  }

  /** Query Beneficiary Name: the wallet's registered first and last names. */
  async walletHolder(
    request: WalletLookupRequest,
  ): Promise<WalletHolderResult> {
    if (!this.cfg.nameLookup) return { supported: false };
    const params = new URLSearchParams({
      input_CustomerMSISDN: request.msisdn,
      input_Country: "TZN",
      input_ServiceProviderCode: this.cfg.b2cServiceProviderCode,
      input_ThirdPartyConversationID: randomHex(16),
      input_KycQueryType: "Name",
    });
    const asked = await this.client.attempt("status", {
      method: "GET",
      path: `/queryBeneficiaryName/?${params}`,
    });
    return "error" in asked
      ? lookupNotAsked(asked.error)
      : beneficiaryNameResult(asked.reply);
  }

  /** A B2C payment of the payout to the vendor's wallet: synchronous, like a reversal. */
  async payout(request: PayoutRequest): Promise<PayoutResult> {
    assertPayoutRequest(request);
    if (!WIRE_REFERENCE.test(request.reference)) {
      throw new RangeError("payout reference must be 1-20 letters/digits");
    }
    const sent = await this.client.refund("payout", {
      method: "POST",
      path: this.cfg.b2cPath,
      json: {
        input_Amount: String(request.amount),
        input_Country: "TZN",
        input_Currency: "TZS",
        input_CustomerMSISDN: request.msisdn,
        input_ServiceProviderCode: this.cfg.b2cServiceProviderCode,
        input_ThirdPartyConversationID: request.reference,
        input_TransactionReference: request.reference,
        input_PaymentItemsDesc: (request.description || request.reference)
          .slice(0, 100),
      },
    }, b2cResult);
    return payoutFromRefund(sent, "b2c");
  }

  /** A B2C payment is found by our reference the way a reversal is. */
  async payoutStatus(
    request: PayoutStatusRequest,
  ): Promise<PayoutStatusResult> {
    return payoutStatusFromRefund(
      await this.refundStatus({ reference: request.reference, method: null }),
    );
  }
}

/** Query Beneficiary Name codes meaning "no such M-Pesa customer". */
const NO_SUCH_CUSTOMER = new Set([
  "INS-2051",
  "INS-2002",
  "INS-995",
  "INS-996",
]);

function beneficiaryNameResult(reply: HttpResult): WalletHolderResult {
  const json = obj(reply.json);
  const code = str(json.output_ResponseCode);
  const answer = {
    supported: true as const,
    rawCode: code ?? `HTTP ${reply.status}`,
    message: str(json.output_ResponseDesc),
    raw: reply.raw,
  };
  if (code === "INS-0" && reply.status < 300) {
    const name = holderName(
      json.output_CustomerFirstName,
      json.output_CustomerLastName,
    );
    return name
      ? { ...answer, outcome: "found", name }
      : { ...answer, outcome: "unavailable", message: "no name in the answer" };
  }
  if (code && NO_SUCH_CUSTOMER.has(code)) {
    return { ...answer, outcome: "not_found" };
  }
  return {
    ...answer,
    outcome: "unavailable",
    ...(reply.status >= 500 ? { transportError: "provider_unavailable" } : {}),
  };
}

/** A B2C payment's reply (refund-shaped: payoutFromRefund reads it as the payout's). */
function b2cResult(reply: HttpResult): RefundResult {
  const json = obj(reply.json);
  const code = str(json.output_ResponseCode);
  const mapped = mapMpesaReply(reply.status, code);
  const state: RefundState = mapped.state === "succeeded"
    ? "refunded"
    : mapped.state === "failed"
    ? "failed"
    : "ambiguous";
  const reason: RefundFailureReason = mapped.reason === "insufficient_funds"
    ? "insufficient_balance" // our B2C float
    : mapped.reason === "invalid_msisdn"
    ? "payee_refused"
    : "provider_error";
  return {
    supported: true,
    method: "payout",
    state,
    providerRefundId: str(json.output_TransactionID) || undefined,
    failureReason: state === "failed" ? reason : undefined,
    rawCode: code ?? `HTTP ${reply.status}`,
    message: str(json.output_ResponseDesc),
    raw: reply.raw,
  };
}

/** A refused reversal's reason, from the reply's result code. */
function reversalFailure(code: string | undefined): RefundFailureReason {
  switch (code ? FAILED_CODES[code] : undefined) {
    case "insufficient_funds":
      return "insufficient_balance";
    case "invalid_msisdn":
      return "payee_refused";
    default:
      return code === "INS-6" ? "not_eligible" : "provider_error";
  }
}

function reversalResult(reply: HttpResult): RefundResult {
  const json = obj(reply.json);
  const code = str(json.output_ResponseCode);
  const mapped = mapMpesaReply(reply.status, code);
  const state: RefundState = mapped.state === "succeeded"
    ? "refunded"
    : mapped.state === "failed"
    ? "failed"
    : "ambiguous";
  return {
    supported: true,
    method: "reversal",
    state,
    providerRefundId: str(json.output_TransactionID) || undefined,
    failureReason: state === "failed" ? reversalFailure(code) : undefined,
    rawCode: code ?? `HTTP ${reply.status}`,
    message: str(json.output_ResponseDesc),
    raw: reply.raw,
  };
}

function reversalStatusResult(reply: HttpResult): RefundStatusResult {
  const json = obj(reply.json);
  const code = str(json.output_ResponseCode);
  const message = str(json.output_ResponseDesc);
  if (code === "INS-0" && reply.status < 300) {
    const txStatus = str(json.output_ResponseTransactionStatus);
    const mapped = mapMpesaTransactionStatus(txStatus);
    // the reversal's own transaction: "Completed" means the money went back
    const state: RefundState = mapped.state === "succeeded"
      ? "refunded"
      : mapped.state === "failed"
      ? "failed"
      : mapped.state === "initiated"
      ? "pending"
      : "ambiguous";
    return {
      supported: true,
      state,
      notFound: mapped.notFound,
      providerRefundId: mpesaQueriedTransactionId(json),
      failureReason: state === "failed" ? "provider_error" : undefined,
      rawCode: txStatus,
      message,
      raw: reply.raw,
    };
  }
  const answer = {
    supported: true as const,
    state: "ambiguous" as const,
    rawCode: code ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  return code === "INS-18" || reply.status === 404
    ? { ...answer, notFound: true }
    : { ...answer, transportError: "provider_unavailable" };
}

/**
 * The mobile-money transaction id in a `queryTransactionStatus` answer: the OpenAPI
 * documents it as `output_OriginalTransactionID` ("the Transaction ID to identify the
 * original transaction on the Mobile Money platform"), which a reversal needs. An answer
 * carrying only `output_TransactionID` (seen in no source; our earlier reading) is still
 * read rather than lost.
 */
export function mpesaQueriedTransactionId(
  json: Record<string, unknown>,
): string | undefined {
  return str(json.output_OriginalTransactionID) ||
    str(json.output_TransactionID) || undefined;
}

function statusResult(reply: HttpResult): StatusResult {
  const json = obj(reply.json);
  const code = str(json.output_ResponseCode);
  const message = str(json.output_ResponseDesc);
  if (code === "INS-0" && reply.status < 300) {
    const txStatus = str(json.output_ResponseTransactionStatus);
    const mapped = mapMpesaTransactionStatus(txStatus);
    return {
      supported: true,
      state: mapped.state,
      notFound: mapped.notFound,
      failureReason: mapped.reason,
      providerTxnId: mpesaQueriedTransactionId(json),
      rawCode: txStatus,
      message,
      raw: reply.raw,
    };
  }
  const answer = {
    rawCode: code ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  return code === "INS-18" || reply.status === 404
    ? statusNotFound(answer)
    : statusUnavailable(answer);
}
