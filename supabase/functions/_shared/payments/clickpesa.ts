/**
 * ClickPesa's wire protocol: how we take HaloPesa (Halotel) payments. The provider is
 * `halopesa` (the customer's choice, the webhook path `payment-webhook/halopesa`); everything
 * on the wire is ClickPesa's.
 *
 * HaloPesa publishes no direct merchant push API; the ClickPesa aggregator covers Halotel
 * with a documented USSD-push API, HMAC-signed webhooks and a status query (see
 * docs/payments.md).
 *
 * - Auth: `POST /generate-token` with `client-id` and `api-key` headers → `token`, which
 *   already starts with "Bearer " (valid one hour; cached 55 minutes at most).
 * - Push: `POST /payments/initiate-ussd-push-request` `{amount (string), currency,
 *   orderReference, phoneNumber (255…), checksum}`; `checksum` = hex HMAC-SHA256 (checksum
 *   key) over the canonical JSON (keys sorted recursively, compact) of the other fields.
 * - Status: `GET /payments/{orderReference}` → an array of payments.
 * - Webhook: `{event: "PAYMENT RECEIVED" | "PAYMENT FAILED", data: {…}, checksum,
 *   checksumMethod}` signed like requests, over the body without checksum/checksumMethod.
 *   A documented failure sample names the event `eventType`: read the same. A webhook whose
 *   `checksumMethod` is `legacy` is checked as ClickPesa's earlier documentation defines that
 *   checksum (top-level values, sorted by key, concatenated); as that covers nothing inside
 *   `data` (a nested object concatenates as "[object Object]"), such a webhook is refused
 *   with the reason stored, unless every value is a plain one.
 * - Amounts: `collectedAmount` is what the customer paid unless the account deducts
 *   ClickPesa's fee from collections (CLICKPESA_COLLECTED_AMOUNT=net): the fee is then added
 *   back (from the report's `fee`, else from CLICKPESA_COLLECTION_FEE_PERCENT), so the
 *   database still compares what the customer paid with the order's total.
 * - Refunds: no refund API for collections; money goes back as a mobile-money payout to
 *   the payer's wallet, with our refund reference as `orderReference`:
 *   `POST /payouts/preview-mobile-money-payout` (checks the phone, the fee and our
 *   balance; moves nothing) then `POST /payouts/create-mobile-money-payout` (both with
 *   `checksum`; status AUTHORIZED | SUCCESS | REVERSED …). A lost answer is asked for with
 *   `GET /payouts/{orderReference}`; outcomes also arrive as webhooks (`PAYOUT INITIATED`
 *   with the payout's status, `PAYOUT REFUNDED`, `PAYOUT REVERSED`) on the same URL as the
 *   payment webhooks, signed the same way.
 * - Vendor payouts to HaloPesa wallets are the same payouts, by our payout reference; the
 *   preview's `receiver.accountName` is the wallet holder's name, asked before a wallet's
 *   first payout (a preview moves nothing).
 */
import { ipAllowed, statusNotFound, statusUnavailable } from "./common.ts";
import { ProviderClient } from "./client.ts";
import { type ClickPesaConfig, clickPesaConfig } from "./config.ts";
import type { PaymentState } from "./contract.ts";
import { canonicalJson, hmacSha256Hex, timingSafeEqual } from "./crypto.ts";
import {
  type HttpResult,
  jsonResponse,
  obj,
  parseJson,
  reported,
  RETRY_SOON,
  str,
  unreadableOf,
  wholeAmount,
} from "./http.ts";
import { isCanonicalMsisdn, toCanonicalMsisdn } from "./msisdn.ts";
import {
  assertPayoutRequest,
  holderName,
  lookupNotAsked,
  payoutFromRefund,
  payoutStatusFromRefund,
} from "./payouts.ts";
import { reasonFromText } from "./reasons.ts";
import { expiryAt, lifetimeMs } from "./token_cache.ts";
import type {
  AckOutcome,
  AdapterDeps,
  CallbackInput,
  Capabilities,
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

/** ClickPesa's checksum of a payload: fields `checksum`/`checksumMethod` are left out. */
export async function clickPesaChecksum(
  key: string,
  payload: Record<string, unknown>,
): Promise<string> {
  const { checksum: _c, checksumMethod: _m, ...rest } = payload;
  return await hmacSha256Hex(key, canonicalJson(rest));
}

/**
 * ClickPesa's earlier ("legacy") checksum, as its documentation defined it: the payload's
 * keys sorted, their values concatenated (`Object.values(sorted).join("")`: a nested object
 * becomes "[object Object]", an array its comma-joined items), hex HMAC-SHA256 with the
 * checksum key; `checksum`/`checksumMethod` left out.
 */
export async function clickPesaLegacyChecksum(
  key: string,
  payload: Record<string, unknown>,
): Promise<string> {
  const { checksum: _c, checksumMethod: _m, ...rest } = payload;
  const values = Object.keys(rest).sort().map((k) => rest[k]);
  return await hmacSha256Hex(key, values.join(""));
}

/** True when a legacy checksum covers every value of `payload` (no nested object or
 * array, whose contents the concatenation loses). */
function legacyCovers(payload: Record<string, unknown>): boolean {
  const { checksum: _c, checksumMethod: _m, ...rest } = payload;
  return Object.values(rest).every((v) => v === null || typeof v !== "object");
}

/**
 * The gross amount (what the customer paid) when ClickPesa reports `net` of a fee of
 * `basisPoints` charged as ceil(gross × rate): the smallest whole G with
 * G − ceil(G × rate) = net, or null when none fits. Two amounts can give the same net (a
 * round total T and T + 1); the smaller is taken, which is right for every total whose fee
 * is a whole number. For the others (about `rate` of all totals) the amount differs from
 * the order's total and the database sends the payment to review: never paid short, and
 * exact once the database checks the net itself (the SQL change proposed in issue 14).
 */
export function grossFromNet(net: number, basisPoints: number): number | null {
  // G − ceil(G × rate) grows by 0 or 1 per shilling, so every fit lies next to
  // net / (1 − rate)
  const fits: number[] = [];
  const near = Math.floor(net * 10_000 / (10_000 - basisPoints));
  for (let gross = Math.max(net, near - 2); gross <= near + 2; gross++) {
    if (gross - Math.ceil(gross * basisPoints / 10_000) === net) {
      fits.push(gross);
    }
  }
  return fits.length > 0 ? fits[0] : null;
}

/** ClickPesa's three-letter currency code, upper-cased; null for anything else. */
function currencyCode(value: unknown): string | null {
  const text = str(value)?.trim();
  return text && /^[A-Za-z]{3}$/.test(text) ? text.toUpperCase() : null;
}

/**
 * The money fields of a ClickPesa payment (webhook `data` or a status-query item): the
 * collected amount is always reported; currency and the payer's phone may be missing. With
 * `net` amounts the fee is added back: `amount` is what the customer paid, `fee` the part
 * ClickPesa kept; a fee that cannot be known makes the amount unreadable (review).
 */
function clickPesaReport(
  data: Record<string, unknown>,
  cfg: Pick<ClickPesaConfig, "collectedAmount" | "feeBasisPoints">,
) {
  let amount = reported(data.collectedAmount, wholeAmount, true);
  let fee: number | null = null;
  if (cfg.collectedAmount === "net" && amount.value !== null) {
    const net = amount.value;
    const reportedFee = reported(data.fee, wholeAmount, false);
    if (reportedFee.value !== null) fee = reportedFee.value;
    else if (!reportedFee.unreadable && cfg.feeBasisPoints !== null) {
      const gross = grossFromNet(net, cfg.feeBasisPoints);
      fee = gross === null ? null : gross - net;
    }
    amount = fee === null
      ? { value: null, unreadable: true }
      : { value: net + fee, unreadable: false };
  }
  return {
    fee,
    fields: {
      amount,
      currency: reported(data.collectedCurrency, currencyCode, false),
      msisdn: reported(
        obj(data.customer).customerPhoneNumber ?? data.paymentPhoneNumber,
        toCanonicalMsisdn,
        false,
      ),
    },
  };
}

/** ClickPesa payment status → normalized state. */
export function mapClickPesaStatus(status: string | undefined): PaymentState {
  switch ((status ?? "").toUpperCase()) {
    case "SUCCESS":
    case "SETTLED":
      return "succeeded";
    case "FAILED":
      return "failed";
    case "PROCESSING":
    case "PENDING":
      return "initiated";
    default:
      return "ambiguous";
  }
}

/** The `halopesa` provider, spoken in ClickPesa's protocol. */
/** ClickPesa's third-parties API: carries the `halopesa` provider. */
export const clickpesa: Protocol = {
  name: "clickpesa",
  create: (env, deps) => new ClickPesaAdapter(clickPesaConfig(env), deps),
};

export class ClickPesaAdapter implements PaymentAdapter, PayoutAdapter {
  readonly provider = "halopesa" as const;
  readonly capabilities: Capabilities = {
    mode: "async",
    callbackAuth: "hmac",
    statusQuery: true,
    refund: {
      whole: "payout",
      partial: "payout",
      statusQuery: ["payout"],
      callbacks: true,
    },
  };
  private readonly client: ProviderClient;

  constructor(private readonly cfg: ClickPesaConfig, deps: AdapterDeps) {
    this.client = new ProviderClient({
      baseUrl: cfg.baseUrl,
      httpTimeoutMs: cfg.httpTimeoutMs,
      pushTimeoutMs: cfg.pushTimeoutMs,
      credential: {
        name: "ClickPesa token",
        cacheKey: `clickpesa|${cfg.baseUrl}|${cfg.clientId}`,
        request: () => ({
          method: "POST",
          path: "/generate-token",
          headers: {
            "client-id": cfg.clientId,
            "api-key": cfg.apiKey,
            "Accept": "application/json",
          },
        }),
        read: (reply, now) => {
          const body = obj(reply.json);
          const token = str(body.token);
          if (reply.status >= 300 || body.success !== true || !token) {
            return { refused: str(body.message) ?? "" };
          }
          // valid one hour; the reply carries no expiry
          return {
            value: token.startsWith("Bearer ") ? token : `Bearer ${token}`,
            expiresAt: expiryAt(now, lifetimeMs(body.expires_in, 3600)),
          };
        },
      },
      // the token already starts with "Bearer "
      authorize: (token) => ({
        "Authorization": token,
        "Content-Type": "application/json",
        "Accept": "application/json",
      }),
    }, deps);
  }

  initiate(payment: PaymentRequest): Promise<InitiateResult> {
    return this.client.push(payment, async () => {
      const payload: Record<string, unknown> = {
        amount: String(payment.amount),
        currency: payment.currency,
        orderReference: payment.reference,
        phoneNumber: payment.msisdn,
      };
      payload.checksum = await clickPesaChecksum(this.cfg.checksumKey, payload);
      return {
        method: "POST",
        path: "/payments/initiate-ussd-push-request",
        json: payload,
      };
    }, (reply) => pushResult(payment.reference, reply));
  }

  async verifyAndParseCallback(input: CallbackInput): Promise<ParsedCallback> {
    const parsed = parseJson(input.rawBody);
    const body = obj(parsed);
    const data = obj(body.data);
    // a documented failure sample names it eventType
    const event = str(body.event) ?? str(body.eventType) ?? null;
    if (event?.startsWith("PAYOUT ")) {
      return await this.verified(
        input,
        parsed,
        payoutEvent(event, data, parsed),
      );
    }
    const message = str(data.message) ?? null;
    const { fields: report, fee } = clickPesaReport(data, this.cfg);
    let state: PaymentState | null = null;
    if (event === "PAYMENT RECEIVED") state = "succeeded";
    else if (event === "PAYMENT FAILED") state = "failed";
    const result: ParsedCallback = {
      authentic: false,
      providerRef: str(data.orderReference) ?? null,
      providerTxnId: str(data.id) ?? null,
      state,
      failureReason: state === "failed" ? reasonFromText(message) : null,
      amount: report.amount.value,
      fee: fee ?? undefined,
      currency: report.currency.value,
      msisdn: report.msisdn.value,
      unreadable: unreadableOf(report),
      rawCode: event,
      message,
      raw: parsed ?? input.rawBody.slice(0, 2000),
    };
    return await this.verified(input, parsed, result);
  }

  /** The checks every webhook passes, payment or payout: a JSON object, the IP allow-list,
   * the checksum over the body (constant time), then the fields that name its subject. */
  private async verified(
    input: CallbackInput,
    parsed: unknown,
    result: ParsedCallback,
  ): Promise<ParsedCallback> {
    if (
      parsed === null || typeof parsed !== "object" || Array.isArray(parsed)
    ) {
      return { ...result, rejection: "malformed" };
    }
    const body = parsed as Record<string, unknown>;
    if (!ipAllowed(this.cfg.callbackAllowedIps, input.sourceIp)) {
      return { ...result, rejection: "ip_not_allowed" };
    }
    const received = str(body.checksum);
    if (!received) return { ...result, rejection: "missing_signature" };
    const method = (str(body.checksumMethod) ?? "canonical").toLowerCase();
    let expected: string;
    if (method === "canonical") {
      expected = await clickPesaChecksum(this.cfg.checksumKey, body);
    } else if (method === "legacy") {
      if (!legacyCovers(body)) {
        return {
          ...result,
          rejection: "unverifiable_signature",
          rejectionDetail:
            "checksumMethod legacy covers only the top-level values: " +
            "the data object is not signed; ask ClickPesa to sign this application's " +
            "webhooks with the canonical checksum",
        };
      }
      expected = await clickPesaLegacyChecksum(this.cfg.checksumKey, body);
    } else {
      return {
        ...result,
        rejection: "unverifiable_signature",
        rejectionDetail: `unknown checksumMethod ${
          JSON.stringify(method.slice(0, 40))
        }`,
      };
    }
    if (!timingSafeEqual(expected, received.toLowerCase())) {
      return { ...result, rejection: "bad_signature" };
    }
    if (!result.rawCode || !result.providerRef) {
      return { ...result, rejection: "malformed" };
    }
    return { ...result, authentic: true };
  }

  acknowledge(_parsed: ParsedCallback | null, outcome: AckOutcome): Response {
    switch (outcome) {
      case "accepted":
        return jsonResponse(200, { received: true });
      case "unauthentic":
        return jsonResponse(401, {
          statusCode: 401,
          message: "Unauthorized",
          error: "Unauthorized",
        });
      case "invalid":
        return jsonResponse(400, {
          statusCode: 400,
          message: "Invalid payload",
          error: "Bad Request",
        });
      default:
        return jsonResponse(503, {
          statusCode: 503,
          message: "Temporary failure, please retry",
          error: "Service Unavailable",
        }, RETRY_SOON);
    }
  }

  queryStatus(providerRef: string): Promise<StatusResult> {
    return this.client.status({
      method: "GET",
      path: `/payments/${encodeURIComponent(providerRef)}`,
    }, (reply) => statusResult(reply, this.cfg));
  }

  /**
   * A payout of `amount` to the payer's wallet: previewed first (nothing moves: a refusal
   * or no answer there fails the refund with nothing sent), then created.
   */
  async refund(request: RefundRequest): Promise<RefundResult> {
    if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
      throw new RangeError("refund amount must be a positive whole number");
    }
    if (!request.msisdn || !isCanonicalMsisdn(request.msisdn)) {
      return notSent(
        "invalid_msisdn",
        "the payer's wallet is not 255 + 9 digits; nothing was sent",
      );
    }
    const payload: Record<string, unknown> = {
      amount: request.amount,
      currency: "TZS",
      orderReference: request.reference,
      phoneNumber: request.msisdn,
    };
    payload.checksum = await clickPesaChecksum(this.cfg.checksumKey, payload);
    const preview = await this.client.attempt("status", {
      method: "POST",
      path: "/payouts/preview-mobile-money-payout",
      json: payload,
    });
    if ("error" in preview) {
      return notSent("provider_error", `preview: ${preview.error.message}`);
    }
    const refused = previewRefusal(preview.reply, request.amount);
    if (refused) return refused;
    return await this.client.refund("payout", {
      method: "POST",
      path: "/payouts/create-mobile-money-payout",
      json: payload,
    }, payoutResult);
  }

  refundStatus(request: RefundStatusRequest): Promise<RefundStatusResult> {
    return this.client.refundStatus({
      method: "GET",
      path: `/payouts/${encodeURIComponent(request.reference)}`,
    }, payoutStatusResult);
  }

  // -- vendor payouts (PayoutAdapter) ------------------------------------------------------

  readonly payoutCapability: PayoutCapability = {
    method: "payout",
    statusQuery: true,
    callbacks: true,
    nameLookup: true,
  };

  /**
   * The payout preview (it moves nothing): `receiver.accountName` is the name the network
   * registered for the wallet. A phone ClickPesa cannot pay is "no such wallet"; any other
   * refusal (our balance, a used reference) teaches nothing about the holder.
   */
  async walletHolder(
    request: WalletLookupRequest,
  ): Promise<WalletHolderResult> {
    const payload: Record<string, unknown> = {
      amount: request.amount,
      currency: "TZS",
      orderReference: request.reference,
      phoneNumber: request.msisdn,
    };
    payload.checksum = await clickPesaChecksum(this.cfg.checksumKey, payload);
    const preview = await this.client.attempt("status", {
      method: "POST",
      path: "/payouts/preview-mobile-money-payout",
      json: payload,
    });
    if ("error" in preview) return lookupNotAsked(preview.error);
    const json = obj(preview.reply.json);
    const message = messageOf(json);
    const answer = {
      supported: true as const,
      rawCode: `HTTP ${preview.reply.status}`,
      message: message ? `preview: ${message}` : undefined,
      raw: preview.reply.raw,
    };
    if (preview.reply.status === 200) {
      const name = holderName(obj(json.receiver).accountName);
      return name
        ? { ...answer, outcome: "found", name }
        : { ...answer, outcome: "unavailable", message: "no receiver name" };
    }
    if (
      preview.reply.status === 400 &&
      /phone|msisdn|number|not registered|not found/i.test(message ?? "") &&
      !/balance/i.test(message ?? "")
    ) {
      return { ...answer, outcome: "not_found" };
    }
    return {
      ...answer,
      outcome: "unavailable",
      ...(preview.reply.status >= 500
        ? { transportError: "provider_unavailable" }
        : {}),
    };
  }

  /** The refund's payout (preview, then create) to the vendor's wallet. */
  async payout(request: PayoutRequest): Promise<PayoutResult> {
    assertPayoutRequest(request);
    const sent = await this.refund({
      providerRef: "",
      amount: request.amount,
      reference: request.reference,
      msisdn: request.msisdn,
    });
    return payoutFromRefund(sent, "payout");
  }

  /** `GET /payouts/{orderReference}`. */
  async payoutStatus(
    request: PayoutStatusRequest,
  ): Promise<PayoutStatusResult> {
    return payoutStatusFromRefund(
      await this.refundStatus({
        reference: request.reference,
        method: "payout",
      }),
    );
  }
}

function notSent(
  reason: RefundFailureReason,
  message: string,
): Extract<RefundResult, { supported: true }> {
  return {
    supported: true,
    method: "payout",
    state: "failed",
    failureReason: reason,
    message,
    raw: null,
  };
}

/** A payout status → our refund state. */
export function mapClickPesaPayoutStatus(
  status: string | undefined,
): RefundState {
  switch ((status ?? "").toUpperCase()) {
    case "SUCCESS":
      return "refunded";
    case "FAILED":
    case "REFUNDED": // the payout failed and came back to our balance
    case "REVERSED":
      return "failed";
    case "AUTHORIZED":
    case "PROCESSING":
    case "PENDING":
      return "pending";
    default:
      return "ambiguous";
  }
}

function payoutFailure(message: string | undefined): RefundFailureReason {
  if (!message) return "provider_error";
  if (/insufficient|balance/i.test(message)) return "insufficient_balance";
  if (
    /phone|msisdn|number|account|wallet|receiver|beneficiary/i.test(message)
  ) {
    return "payee_refused";
  }
  return "provider_error";
}

/**
 * Why the preview refuses to let the payout go: ClickPesa refused it (4xx: bad phone, our
 * balance …), or the payer would receive less than the refund (fees charged to the
 * receiver: the fee bearer must be the merchant). A payout with this reference already
 * exists (409): ambiguous, nothing new is created. Null: go on.
 */
function previewRefusal(
  reply: HttpResult,
  amount: number,
): RefundResult | null {
  const json = obj(reply.json);
  const message = messageOf(json);
  if (reply.status === 409 || /already|duplicate/i.test(message ?? "")) {
    // a payout with this reference exists: what became of it is for the status query
    return {
      supported: true,
      method: "payout",
      state: "ambiguous",
      rawCode: `HTTP ${reply.status}`,
      message: `preview: ${message ?? "order reference already used"}`,
      raw: reply.raw,
    };
  }
  if (reply.status !== 200) {
    return {
      ...notSent(
        reply.status >= 500 ? "provider_error" : payoutFailure(message),
        `preview: ${message ?? `HTTP ${reply.status}`}`,
      ),
      rawCode: `HTTP ${reply.status}`,
      raw: reply.raw,
    };
  }
  const receiver = obj(json.receiver);
  if (
    receiver.amount !== undefined && wholeAmount(receiver.amount) !== amount
  ) {
    return {
      ...notSent(
        "fee_charged_to_payee",
        `preview: the payer would receive ${
          String(receiver.amount)
        }, not ${amount}; set the payout fee bearer to the merchant`,
      ),
      raw: reply.raw,
    };
  }
  return null;
}

function payoutResult(reply: HttpResult): RefundResult {
  const json = obj(reply.json);
  const status = str(json.status);
  const message = messageOf(json);
  const base = {
    supported: true as const,
    method: "payout" as const,
    providerRefundId: str(json.id) || undefined,
    rawCode: status ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  if (reply.status >= 500 || reply.status === 408 || reply.status === 409) {
    // no answer we can use, or a payout with this reference exists: ask about it
    return { state: "ambiguous", ...base };
  }
  if (reply.status >= 200 && reply.status < 300) {
    const state = mapClickPesaPayoutStatus(status);
    return state === "failed"
      ? { state, failureReason: payoutFailure(message), ...base }
      : { state, ...base };
  }
  if (/already|duplicate|exists/i.test(message ?? "")) {
    return { state: "ambiguous", ...base };
  }
  return { state: "failed", failureReason: payoutFailure(message), ...base };
}

function payoutStatusResult(reply: HttpResult): RefundStatusResult {
  const list = Array.isArray(reply.json) ? reply.json.map(obj) : null;
  const answer = {
    supported: true as const,
    rawCode: `HTTP ${reply.status}`,
    message: messageOf(obj(reply.json)),
    raw: reply.raw,
  };
  if (reply.status === 404 || (reply.status === 200 && list?.length === 0)) {
    return { ...answer, state: "ambiguous", notFound: true };
  }
  if (reply.status !== 200 || !list) {
    return {
      ...answer,
      state: "ambiguous",
      transportError: "provider_unavailable",
    };
  }
  // one order reference: a success wins, else the latest
  const success = list.find((p) =>
    mapClickPesaPayoutStatus(str(p.status)) === "refunded"
  );
  const latest = success ??
    [...list].sort((a, b) =>
      String(b.updatedAt ?? b.createdAt ?? "").localeCompare(
        String(a.updatedAt ?? a.createdAt ?? ""),
      )
    )[0];
  const status = str(latest.status);
  const state = mapClickPesaPayoutStatus(status);
  const message = str(latest.message) ?? str(latest.notes);
  return {
    supported: true,
    state,
    providerRefundId: str(latest.id) || undefined,
    failureReason: state === "failed" ? payoutFailure(message) : undefined,
    rawCode: status,
    message,
    raw: reply.raw,
  };
}

/** A `PAYOUT …` webhook, read as a refund outcome (not yet authenticated). */
function payoutEvent(
  event: string,
  data: Record<string, unknown>,
  parsed: unknown,
): ParsedCallback {
  const status = str(data.status);
  const message = str(data.message) ?? str(data.notes) ?? null;
  // INITIATED carries the payout's status; REFUNDED and REVERSED: the money came back
  const refund: RefundState = event === "PAYOUT INITIATED"
    ? mapClickPesaPayoutStatus(status)
    : event === "PAYOUT REFUNDED" || event === "PAYOUT REVERSED"
    ? "failed"
    : "ambiguous";
  return {
    authentic: false,
    subject: "refund",
    providerRef: str(data.orderReference) ?? null,
    providerTxnId: str(data.id) ?? null,
    state: refund === "refunded"
      ? "succeeded"
      : refund === "failed"
      ? "failed"
      : "ambiguous",
    failureReason: null,
    refundFailure: refund === "failed"
      ? payoutFailure(message ?? undefined)
      : null,
    amount: null,
    currency: null,
    msisdn: null,
    unreadable: [],
    rawCode: `${event}${status ? ` ${status}` : ""}`,
    message,
    raw: parsed,
  };
}

function pushResult(providerRef: string, reply: HttpResult): InitiateResult {
  const json = obj(reply.json);
  const status = str(json.status);
  const message = messageOf(json);
  const base = {
    providerRef,
    providerTxnId: str(json.id) || undefined,
    rawCode: status ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  if (reply.status >= 500 || reply.status === 408) {
    return { state: "ambiguous", ...base };
  }
  if (reply.status >= 200 && reply.status < 300) {
    const mapped = mapClickPesaStatus(status);
    if (mapped === "failed") {
      return {
        state: "failed",
        failureReason: reasonFromText(message),
        ...base,
      };
    }
    // PROCESSING (and even SUCCESS) only means accepted: the webhook or the status
    // query confirms payment.
    if (mapped === "initiated" || mapped === "succeeded") {
      return { state: "initiated", ...base };
    }
    return { state: "ambiguous", ...base };
  }
  if (reply.status === 409 || /already|duplicate|exists/i.test(message ?? "")) {
    return { state: "ambiguous", ...base };
  }
  const reason = /phone|msisdn|number/i.test(message ?? "")
    ? "invalid_msisdn"
    : reasonFromText(message);
  return { state: "failed", failureReason: reason, ...base };
}

function statusResult(
  reply: HttpResult,
  cfg: Pick<ClickPesaConfig, "collectedAmount" | "feeBasisPoints">,
): StatusResult {
  const list = Array.isArray(reply.json) ? reply.json.map(obj) : null;
  const answer = {
    rawCode: `HTTP ${reply.status}`,
    message: messageOf(obj(reply.json)),
    raw: reply.raw,
  };
  if (reply.status === 404 || (reply.status === 200 && list?.length === 0)) {
    return statusNotFound(answer);
  }
  if (reply.status !== 200 || !list) return statusUnavailable(answer);
  // One order reference, possibly several attempts: a success wins, else the latest.
  const success = list.find((p) =>
    mapClickPesaStatus(str(p.status)) === "succeeded"
  );
  const latest = success ??
    [...list].sort((a, b) =>
      String(b.updatedAt ?? b.createdAt ?? "").localeCompare(
        String(a.updatedAt ?? a.createdAt ?? ""),
      )
    )[0];
  const status = str(latest.status);
  const state = mapClickPesaStatus(status);
  const message = str(latest.message);
  const { fields: report, fee } = clickPesaReport(latest, cfg);
  return {
    supported: true,
    state,
    failureReason: state === "failed" ? reasonFromText(message) : undefined,
    providerTxnId: str(latest.id) || undefined,
    amount: report.amount.value ?? undefined,
    fee: fee ?? undefined,
    msisdn: report.msisdn.value ?? undefined,
    unreadable: unreadableOf(report),
    rawCode: status,
    message,
    raw: reply.raw,
  };
}

function messageOf(json: Record<string, unknown>): string | undefined {
  const message = json.message;
  if (Array.isArray(message)) return message.map(String).join("; ");
  return str(message) ?? str(json.error);
}
