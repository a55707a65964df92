/**
 * Airtel Money Tanzania, Airtel Africa Open API (collection v1).
 *
 * - Auth: OAuth2 client credentials (`POST /auth/oauth2/token`), token cached until
 *   shortly before `expires_in`.
 * - Push: `POST /merchant/v1/payments/`, msisdn as the 9-digit national number; the reply
 *   only says "in progress". With `AIRTEL_COLLECTION_API=v2` the push goes to
 *   `/merchant/v2/payments/` with Airtel's message signing (`x-signature`, `x-key`; see
 *   airtelSignature). The outcome comes by callback (URL set in the Airtel portal)
 *   or by `GET /standard/v1/payments/{id}`.
 * - Callback: `{transaction: {id, message, status_code: TS|TF, airtel_money_id}, hash}`
 *   where `hash` = base64 HMAC-SHA256 (portal key) over the whole body without `hash`,
 *   2-space indented as Airtel's sample shows (compact accepted too: airtelHashInputs).
 * - Refunds: the refund API (`POST /standard/v1/payments/refund`, by `airtel_money_id`)
 *   gives back the WHOLE payment, synchronously, and cannot be asked about afterwards. A
 *   part of a payment goes back as a disbursement (B2C, `POST /standard/v2/disbursements/`,
 *   PIN RSA-encrypted with the portal's key) to the payer's wallet, known by our refund
 *   reference (`transaction.id`) and asked about with
 *   `GET /standard/v2/disbursements/{id}?transactionType=B2C`. No refund callbacks are
 *   documented.
 * - Vendor payouts are disbursements to the vendor's wallet (the same call as a part
 *   refund, by our payout reference); before a wallet's first payout, the KYC user enquiry
 *   (`GET /standard/v1/users/{msisdn}`, 9 digits) tells whose it is.
 */
import { Buffer } from "node:buffer";
import { ipAllowed, statusNotFound, statusUnavailable } from "./common.ts";
import { oauthGrant, ProviderClient } from "./client.ts";
import { type AirtelConfig, airtelConfig } from "./config.ts";
import type { PaymentState } from "./contract.ts";
import {
  hmacSha256Base64,
  rsaPkcs1EncryptBase64,
  timingSafeEqual,
} from "./crypto.ts";
import {
  type HttpResult,
  jsonResponse,
  obj,
  parseJson,
  RETRY_SOON,
  str,
} from "./http.ts";
import { isCanonicalMsisdn, toNationalMsisdn } from "./msisdn.ts";
import {
  assertPayoutRequest,
  holderName,
  lookupNotAsked,
  payoutFromRefund,
  payoutStatusFromRefund,
} from "./payouts.ts";
import { reasonFromText } from "./reasons.ts";
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

/**
 * The texts Airtel's callback `hash` may be computed over: the whole callback body without
 * its `hash` (`{"transaction": {…}}`, keys in their received order), serialised with
 * 2-space indentation, as Airtel's published sample reproduces (see airtel_test.ts), or
 * compactly. Which whitespace the live service hashes is not published, so both are
 * accepted; the documented (indented) form comes first.
 */
export function airtelHashInputs(body: Record<string, unknown>): string[] {
  const { hash: _hash, ...signed } = body;
  return [JSON.stringify(signed, null, 2), JSON.stringify(signed)];
}

/** The `hash` Airtel sends with `body`: base64 HMAC-SHA256 (portal key) over the whole
 * body without `hash`, 2-space indented (the documented form). */
export async function airtelCallbackHash(
  key: string,
  body: Record<string, unknown>,
): Promise<string> {
  return await hmacSha256Base64(key, airtelHashInputs(body)[0]);
}

/** True when `received` is the hash of `body` in one of its accepted serialisations; every
 * candidate is computed and compared in constant time. */
async function airtelHashMatches(
  key: string,
  body: Record<string, unknown>,
  received: string,
): Promise<boolean> {
  let match = false;
  for (const input of airtelHashInputs(body)) {
    const expected = await hmacSha256Base64(key, input);
    if (timingSafeEqual(expected, received)) match = true;
  }
  return match;
}

/**
 * Airtel's message signing (collection v2, `POST /merchant/v2/payments/`): the request body
 * is encrypted with AES-256-CBC (PKCS#7 padding) under a fresh random key and IV; the
 * base64 ciphertext is the `x-signature` header, and `base64(key) + ":" + base64(iv)`,
 * RSA-encrypted with the portal's public key, is `x-key`. Airtel's published example (key,
 * IV, payload, signature) reproduces with this function (airtel_test.ts).
 */
export async function airtelSignature(
  body: string,
  key: Uint8Array<ArrayBuffer>,
  iv: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const aes = await crypto.subtle.importKey("raw", key, "AES-CBC", false, [
    "encrypt",
  ]);
  const encrypted = await crypto.subtle.encrypt(
    { name: "AES-CBC", iv },
    aes,
    new TextEncoder().encode(body),
  );
  return Buffer.from(encrypted).toString("base64");
}

/** The `x-signature` and `x-key` headers of a signed (v2) request carrying `body`. */
export async function airtelSignedHeaders(
  body: string,
  publicKey: string,
): Promise<Record<string, string>> {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const keyIv = `${Buffer.from(key).toString("base64")}:${
    Buffer.from(iv).toString("base64")
  }`;
  return {
    "x-signature": await airtelSignature(body, key, iv),
    "x-key": rsaPkcs1EncryptBase64(publicKey, keyIv),
  };
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
    case "DP00800001004": // invalid amount
    case "DP00800001005": // invalid transaction id
    case "DP00800001009": // "Do not honor": the wallet's bank or Airtel refused it
    case "DP00800001010": // not permitted
    case "DP00800001026": // x-signature and payload did not match (signed v2 requests)
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

/** Airtel Money: the Airtel Africa Open API (collection v1). */
export const airtel: Protocol = {
  name: "airtel",
  create: (env, deps) => new AirtelAdapter(airtelConfig(env), deps),
};

export class AirtelAdapter implements PaymentAdapter, PayoutAdapter {
  readonly provider = "airtel" as const;
  readonly capabilities: Capabilities;
  private readonly client: ProviderClient;

  constructor(private readonly cfg: AirtelConfig, deps: AdapterDeps) {
    this.capabilities = {
      mode: "async",
      callbackAuth: "hmac",
      statusQuery: true,
      refund: {
        whole: "refund",
        partial: cfg.disbursement ? "payout" : null,
        statusQuery: cfg.disbursement ? ["payout"] : [],
        callbacks: false,
      },
    };
    this.client = new ProviderClient({
      baseUrl: cfg.baseUrl,
      httpTimeoutMs: cfg.httpTimeoutMs,
      pushTimeoutMs: cfg.pushTimeoutMs,
      credential: {
        name: "Airtel token",
        cacheKey: `airtel|${cfg.baseUrl}|${cfg.clientId}`,
        request: () => ({
          method: "POST",
          path: "/auth/oauth2/token",
          headers: { "Content-Type": "application/json", "Accept": "*/*" },
          json: {
            client_id: cfg.clientId,
            client_secret: cfg.clientSecret,
            grant_type: "client_credentials",
          },
        }),
        read: (reply, now) => oauthGrant(reply, now, 180),
      },
      authorize: (token) => ({
        "Authorization": `Bearer ${token}`,
        "Content-Type": "application/json",
        "Accept": "*/*",
        "X-Country": cfg.country,
        "X-Currency": cfg.currency,
      }),
    }, deps);
  }

  initiate(payment: PaymentRequest): Promise<InitiateResult> {
    const { country, currency, signing } = this.cfg;
    const id = payment.reference;
    const json = {
      reference: (payment.description || payment.reference).slice(0, 64),
      subscriber: {
        country,
        currency,
        msisdn: toNationalMsisdn(payment.msisdn),
      },
      transaction: {
        amount: payment.amount,
        country,
        currency,
        id,
      },
    };
    return this.client.push(payment, async () => {
      if (!signing) {
        return { method: "POST", path: "/merchant/v1/payments/", json };
      }
      // v2: the exact bytes sent are the bytes signed
      const body = JSON.stringify(json);
      return {
        method: "POST",
        path: "/merchant/v2/payments/",
        headers: await airtelSignedHeaders(body, signing.publicKey),
        body,
      };
    }, (reply) => pushResult(id, reply));
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
    if (!await airtelHashMatches(this.cfg.callbackHashKey, body, received)) {
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

  queryStatus(providerRef: string): Promise<StatusResult> {
    return this.client.status({
      method: "GET",
      path: `/standard/v1/payments/${encodeURIComponent(providerRef)}`,
    }, statusResult);
  }

  refund(request: RefundRequest): Promise<RefundResult> {
    if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
      throw new RangeError("refund amount must be a positive whole number");
    }
    return request.wholePayment === true
      ? this.refundWhole(request)
      : this.disburse(request);
  }

  /** The refund API: the whole payment back, by the payment's airtel_money_id. */
  private refundWhole(request: RefundRequest): Promise<RefundResult> {
    if (!request.providerTxnId) {
      return Promise.resolve({
        supported: true,
        method: "refund",
        state: "failed",
        failureReason: "missing_payment_details",
        message: "Airtel refunds need the payment's airtel_money_id",
        raw: null,
      });
    }
    return this.client.refund("refund", {
      method: "POST",
      path: "/standard/v1/payments/refund",
      json: { transaction: { airtel_money_id: request.providerTxnId } },
    }, refundResult);
  }

  /** A disbursement (B2C) of `amount` to the payer's wallet. */
  private disburse(request: RefundRequest): Promise<RefundResult> {
    const disbursement = this.cfg.disbursement;
    if (!disbursement) {
      return Promise.resolve({
        supported: true,
        method: "payout",
        state: "failed",
        failureReason: "no_credentials",
        message:
          "part of an Airtel payment goes back by disbursement, which is not configured " +
          "(AIRTEL_DISBURSEMENT_PIN, AIRTEL_ENCRYPTION_PUBLIC_KEY): pay it by hand",
        raw: null,
      });
    }
    if (!request.msisdn || !isCanonicalMsisdn(request.msisdn)) {
      return Promise.resolve({
        supported: true,
        method: "payout",
        state: "failed",
        failureReason: "invalid_msisdn",
        message: "the payer's wallet is not 255 + 9 digits; nothing was sent",
        raw: null,
      });
    }
    const msisdn = request.msisdn;
    const { currency } = this.cfg;
    return this.client.refund("payout", () => ({
      method: "POST",
      path: "/standard/v2/disbursements/",
      json: {
        payee: { currency, msisdn: toNationalMsisdn(msisdn) },
        reference: request.reference,
        pin: rsaPkcs1EncryptBase64(disbursement.publicKey, disbursement.pin),
        transaction: {
          amount: request.amount,
          id: request.reference,
          type: "B2C",
        },
      },
    }), disbursementResult);
  }

  refundStatus(request: RefundStatusRequest): Promise<RefundStatusResult> {
    // the refund API has no query; a disbursement is known by our reference
    if (request.method === "refund" || !this.cfg.disbursement) {
      return Promise.resolve({ supported: false });
    }
    const conclusive = request.method === "payout";
    return this.client.refundStatus({
      method: "GET",
      path: `/standard/v2/disbursements/${
        encodeURIComponent(request.reference)
      }?transactionType=B2C`,
    }, (reply) => disbursementStatusResult(reply, conclusive));
  }

  // -- vendor payouts (PayoutAdapter) ------------------------------------------------------

  /** Payouts are disbursements: off without the disbursement PIN and key. */
  get payoutCapability(): PayoutCapability | null {
    return this.cfg.disbursement
      ? {
        method: "disbursement",
        statusQuery: true,
        callbacks: false,
        nameLookup: true,
      }
      : null;
  }

  /** The KYC user enquiry: the wallet's registered first and last names. */
  async walletHolder(
    request: WalletLookupRequest,
  ): Promise<WalletHolderResult> {
    const asked = await this.client.attempt("status", {
      method: "GET",
      path: `/standard/v1/users/${toNationalMsisdn(request.msisdn)}`,
    });
    return "error" in asked
      ? lookupNotAsked(asked.error)
      : userEnquiryResult(asked.reply);
  }

  /** A disbursement (B2C) of the payout to the vendor's wallet, by our reference. */
  async payout(request: PayoutRequest): Promise<PayoutResult> {
    if (!this.cfg.disbursement) return { supported: false };
    assertPayoutRequest(request);
    const sent = await this.disburse({
      providerRef: "",
      amount: request.amount,
      reference: request.reference,
      msisdn: request.msisdn,
    });
    return payoutFromRefund(sent, "disbursement");
  }

  /** The disbursement enquiry, by our reference. */
  async payoutStatus(
    request: PayoutStatusRequest,
  ): Promise<PayoutStatusResult> {
    if (!this.cfg.disbursement) return { supported: false };
    return payoutStatusFromRefund(
      await this.refundStatus({
        reference: request.reference,
        method: "payout",
      }),
    );
  }
}

/** The KYC user enquiry's answer: `data.first_name`/`last_name` when `status.success`. */
function userEnquiryResult(reply: HttpResult): WalletHolderResult {
  const json = obj(reply.json);
  const status = obj(json.status);
  const data = obj(json.data);
  const message = str(status.message);
  const answer = {
    supported: true as const,
    rawCode: str(status.result_code) ?? str(status.response_code) ??
      `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  if (reply.status === 200 && status.success === true) {
    const name = holderName(data.first_name, data.last_name);
    return name
      ? { ...answer, outcome: "found", name }
      : { ...answer, outcome: "unavailable", message: "no name in the answer" };
  }
  if (
    reply.status === 404 ||
    (reply.status < 500 &&
      /not found|not registered|does not exist|no such|invalid msisdn/i.test(
        message ?? "",
      ))
  ) {
    return { ...answer, outcome: "not_found" };
  }
  return {
    ...answer,
    outcome: "unavailable",
    ...(reply.status >= 500 ? { transportError: "provider_unavailable" } : {}),
  };
}

/** Disbursement `status.response_code` values (DP009000010xx). */
export function mapAirtelDisbursementCode(
  code: string | undefined,
): { state: RefundState; reason?: RefundFailureReason } | null {
  switch (code) {
    case "DP00900001001":
      return { state: "refunded" };
    case "DP00900001000": // ambiguous
    case "DP00900001011": // duplicate transaction id: it exists, ask about it
      return { state: "ambiguous" };
    case "DP00900001006": // in progress
      return { state: "pending" };
    case "DP00900001007": // our wallet's balance is short
      return { state: "failed", reason: "insufficient_balance" };
    case "DP00900001012": // the payee cannot receive
      return { state: "failed", reason: "payee_refused" };
    default:
      return null;
  }
}

/** A refusal's reason from a message (the refund API sends only text). */
function refundFailureFromText(text: string | undefined): RefundFailureReason {
  if (!text) return "provider_error";
  if (/insufficient|balance/i.test(text)) return "insufficient_balance";
  if (/eligible|already|refunded/i.test(text)) return "not_eligible";
  if (/msisdn|subscriber|payee|barred|wallet/i.test(text)) {
    return "payee_refused";
  }
  return "provider_error";
}

function pushResult(providerRef: string, reply: HttpResult): InitiateResult {
  const status = obj(obj(reply.json).status);
  const responseCode = str(status.response_code);
  const message = str(status.message);
  const base = {
    providerRef,
    rawCode: responseCode ?? str(status.result_code) ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
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
    return { state: "failed", failureReason: reasonFromText(message), ...base };
  }
  if (reply.status === 200 && status.success === true) {
    return { state: "initiated", ...base };
  }
  return { state: "ambiguous", ...base };
}

function statusResult(reply: HttpResult): StatusResult {
  const json = obj(reply.json);
  const status = obj(json.status);
  const transaction = obj(obj(json.data).transaction);
  const responseCode = str(status.response_code);
  const answer = {
    rawCode: responseCode ?? `HTTP ${reply.status}`,
    message: str(status.message),
    raw: reply.raw,
  };
  if (reply.status === 404 || responseCode === "DP00800001025") {
    return statusNotFound(answer);
  }
  const txStatus = str(transaction.status);
  if (reply.status !== 200 || !txStatus) return statusUnavailable(answer);
  const message = str(transaction.message) ?? str(status.message);
  const mapped = mapAirtelTransactionStatus(txStatus, responseCode, message);
  return {
    supported: true,
    state: mapped.state,
    failureReason: mapped.reason,
    providerTxnId: str(transaction.airtel_money_id) || undefined,
    rawCode: txStatus,
    message,
    raw: reply.raw,
  };
}

/**
 * The refund API's answer. Airtel documents a successful refund as
 * `data.transaction.status: "SUCCESS"` next to `status.success: false`: the transaction
 * status decides, not the flag.
 */
function refundResult(reply: HttpResult): RefundResult {
  const json = obj(reply.json);
  const status = obj(json.status);
  const transaction = obj(obj(json.data).transaction);
  const txStatus = (str(transaction.status) ?? "").toUpperCase();
  const message = str(status.message) ?? str(transaction.message);
  const base = {
    supported: true as const,
    method: "refund" as const,
    providerRefundId: str(transaction.airtel_money_id) || undefined,
    rawCode: str(status.response_code) ?? (txStatus || `HTTP ${reply.status}`),
    message,
    raw: reply.raw,
  };
  if (reply.status === 200 && (txStatus === "SUCCESS" || txStatus === "TS")) {
    return { state: "refunded", ...base };
  }
  if (
    reply.status >= 500 || reply.status === 408 || txStatus === "TA" ||
    txStatus === "TIP"
  ) {
    return { state: "ambiguous", ...base };
  }
  if (reply.status === 200 && !txStatus) {
    // a 200 that does not say what happened
    return { state: "ambiguous", ...base };
  }
  return {
    state: "failed",
    failureReason: refundFailureFromText(message),
    ...base,
  };
}

function disbursementResult(reply: HttpResult): RefundResult {
  const json = obj(reply.json);
  const status = obj(json.status);
  const transaction = obj(obj(json.data).transaction);
  const code = str(status.response_code);
  const message = str(status.message);
  const base = {
    supported: true as const,
    method: "payout" as const,
    providerRefundId: str(transaction.airtel_money_id) ||
      str(transaction.reference_id) || undefined,
    rawCode: code ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  if (reply.status >= 500 || reply.status === 408) {
    return { state: "ambiguous", ...base };
  }
  const mapped = mapAirtelDisbursementCode(code);
  if (mapped) {
    return mapped.state === "failed"
      ? { state: "failed", failureReason: mapped.reason, ...base }
      : { state: mapped.state, ...base };
  }
  if (reply.status >= 400 || code) {
    // refused before or while processing, by an error code of its own
    return {
      state: "failed",
      failureReason: refundFailureFromText(message),
      ...base,
    };
  }
  return { state: "ambiguous", ...base };
}

/** The enquiry's answer; `conclusive`: a "not found" means it was never received (we know
 * it was sent as a disbursement, not through the refund API). */
function disbursementStatusResult(
  reply: HttpResult,
  conclusive: boolean,
): RefundStatusResult {
  const json = obj(reply.json);
  const status = obj(json.status);
  const transaction = obj(obj(json.data).transaction);
  const code = str(status.response_code);
  const message = str(transaction.message) ?? str(status.message);
  const answer = {
    supported: true as const,
    rawCode: code ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  if (reply.status === 404 || code === "DP00900001015") {
    return conclusive
      ? { ...answer, state: "ambiguous", notFound: true }
      : { ...answer, state: "ambiguous" };
  }
  const txStatus = (str(transaction.status) ?? "").toUpperCase();
  if (reply.status !== 200 || !txStatus) {
    return {
      ...answer,
      state: "ambiguous",
      transportError: "provider_unavailable",
    };
  }
  const providerRefundId = str(transaction.airtel_money_id) || undefined;
  switch (txStatus) {
    case "TS":
    case "SUCCESS":
      return { ...answer, state: "refunded", providerRefundId };
    case "TF":
    case "FAILED":
      return {
        ...answer,
        state: "failed",
        failureReason: refundFailureFromText(message),
      };
    case "TIP":
    case "PENDING":
      return { ...answer, state: "pending" };
    default:
      return { ...answer, state: "ambiguous" };
  }
}
