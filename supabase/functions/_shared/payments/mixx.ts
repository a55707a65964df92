/**
 * Mixx by Yas (formerly Tigo Pesa), "Push BillPay".
 *
 * - Auth: the token URL issued at onboarding takes a form-encoded password grant
 *   (`username`, `password`, `grant_type=password`); every push also carries `Username`
 *   and `Password` headers.
 * - Push: JSON `{CustomerMSISDN, BillerMSISDN, Amount, Remarks, ReferenceID}`;
 *   `ReferenceID` starts with our biller code. The reply only says accepted.
 * - Callback: `{Status, Description, MFSTransactionID, ReferenceID, Amount}` where Status
 *   may be the string "true" and Amount a string. It is NOT signed. The push request has
 *   no callback-URL field: Mixx posts every result to the one callback URL registered at
 *   onboarding. That URL carries our secret (MIXX_CALLBACK_TOKEN) as `?token=…` or as the
 *   last path segment (`…/payment-webhook/mixx/<token>`: no source says whether Mixx keeps
 *   a query string), checked in constant time, plus Mixx's source IPs when
 *   MIXX_CALLBACK_ALLOWED_IPS is set. The
 *   per-payment secret is the ReferenceID itself (our reference: 72 random bits the
 *   database hands out): a callback can only name a payment whose reference it knows.
 * - We must answer `{ResponseCode, ResponseStatus, ResponseDescription, ReferenceID}`.
 * - Status: the transaction query (XML `COMMAND{TYPE=MTPGGetSODetails, REFERENCEID,
 *   MSISDN, PIN, EXTERNALREFID}` to its own URL, seen in a Tanzanian gateway's
 *   integration; `RESULTCODE` 0 with `TXNSTATUS` Posted = paid, `GetSOError…` = no such
 *   sales order) when MIXX_QUERY_* is configured; without it, unresolved payments expire.
 * - Refunds: Mixx has no refund API; money goes back by B2C "Account to Wallet" (XML
 *   `COMMAND{TYPE=REQMFCI, REFERENCEID, MSISDN, PIN, MSISDN1, AMOUNT, SENDERNAME,
 *   LANGUAGE1, BRAND_ID}` POSTed to a URL issued per partner; synchronous reply with
 *   `TXNID`, `TXNSTATUS` (`error000` = paid) and `MESSAGE`), authenticated by the
 *   account's PIN in the body, not by the BillPay token. No status query is known: a B2C
 *   payout whose answer was lost stays with an operator. Configured by the `MIXX_B2C_*`
 *   variables; without them refunds are paid by hand.
 * - Vendor payouts go out the same way (B2C to the vendor's wallet, by our payout
 *   reference). No name lookup is known: a Mixx wallet is confirmed by an admin
 *   (`verify_payout_wallet`) before its first payout.
 */
import { ipAllowed, statusNotFound, statusUnavailable } from "./common.ts";
import { oauthGrant, ProviderClient } from "./client.ts";
import { type MixxConfig, mixxConfig } from "./config.ts";
import { timingSafeEqual } from "./crypto.ts";
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
import { isCanonicalMsisdn } from "./msisdn.ts";
import { assertPayoutRequest, payoutFromRefund } from "./payouts.ts";
import { reasonFromText } from "./reasons.ts";
import { readXmlFields, xmlCommand } from "./xml.ts";
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
  PayoutStatusResult,
  Protocol,
  RefundFailureReason,
  RefundRequest,
  RefundResult,
  RefundState,
  RefundStatusResult,
  StatusResult,
  WalletHolderResult,
} from "./types.ts";

export const MIXX_PUSH_SUCCESS = "BILLER-18-0000-S";
export const MIXX_ACK_OK = "BILLER-30-0000-S";
export const MIXX_ACK_ERROR = "BILLER-30-3030-E";

/**
 * The callback URL to register with Mixx: the webhook URL plus our secret token, in the
 * query string (`query`, the default) or as the last path segment (`path`), whichever form
 * Mixx keeps (ask them; the adapter accepts both).
 */
export function mixxCallbackUrl(
  webhookUrl: string,
  token: string,
  form: "query" | "path" = "query",
): string {
  const url = new URL(webhookUrl);
  if (form === "path") {
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/${
      encodeURIComponent(token)
    }`;
  } else {
    url.searchParams.set("token", token);
  }
  return url.toString();
}

/**
 * The callback tokens a request URL carries: `?token=` and the path segment after
 * `payment-webhook/mixx/`. Both are returned when both are there (each must match).
 */
export function mixxCallbackTokens(requestUrl: string): string[] {
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    return [];
  }
  const tokens: string[] = [];
  const query = url.searchParams.get("token");
  if (query) tokens.push(query);
  const parts = url.pathname.split("/").filter(Boolean);
  const at = parts.indexOf("payment-webhook");
  if (at >= 0 && parts[at + 1] === "mixx" && parts.length === at + 3) {
    try {
      tokens.push(decodeURIComponent(parts[at + 2]));
    } catch {
      tokens.push(parts[at + 2]);
    }
  }
  return tokens;
}

/** Mixx booleans arrive as true/false or "true"/"false" (any case). */
export function mixxBool(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const v = value.trim().toLowerCase();
    if (v === "true") return true;
    if (v === "false") return false;
  }
  return null;
}

/** Mixx by Yas: Push BillPay. */
export const mixx: Protocol = {
  name: "mixx",
  create: (env, deps) => new MixxAdapter(mixxConfig(env), deps),
};

export class MixxAdapter implements PaymentAdapter, PayoutAdapter {
  readonly provider = "mixx" as const;
  readonly capabilities: Capabilities;

  private readonly client: ProviderClient;
  /** The B2C gateway and the transaction query: no token, the PIN travels in the body. */
  private readonly b2cClient: ProviderClient;

  constructor(private readonly cfg: MixxConfig, deps: AdapterDeps) {
    this.capabilities = {
      mode: "async",
      callbackAuth: "url_token",
      statusQuery: cfg.query !== null,
      refund: cfg.b2c
        ? {
          whole: "payout",
          partial: "payout",
          statusQuery: [],
          callbacks: false,
        }
        : null,
    };
    this.b2cClient = new ProviderClient({
      httpTimeoutMs: cfg.httpTimeoutMs,
      pushTimeoutMs: cfg.pushTimeoutMs,
    }, deps);
    this.client = new ProviderClient({
      httpTimeoutMs: cfg.httpTimeoutMs,
      pushTimeoutMs: cfg.pushTimeoutMs,
      credential: {
        name: "Mixx token",
        cacheKey: `mixx|${cfg.tokenUrl}|${cfg.username}`,
        request: () => ({
          method: "POST",
          path: cfg.tokenUrl,
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Cache-Control": "no-cache",
          },
          body: new URLSearchParams({
            username: cfg.username,
            password: cfg.password,
            grant_type: "password",
          }).toString(),
        }),
        read: (reply, now) => oauthGrant(reply, now, 3600),
      },
      // every push carries the biller's credentials besides the token
      authorize: (token) => ({
        "Authorization": `Bearer ${token}`,
        "Username": cfg.username,
        "Password": cfg.password,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Cache-Control": "no-cache",
      }),
    }, deps);
  }

  /** The ReferenceID Mixx knows a payment by: biller code + our reference. */
  providerRefFor(reference: string): string {
    return `${this.cfg.billerCode}${reference}`;
  }

  /**
   * Our reference back from a ReferenceID (the biller-code prefix removed), so callbacks
   * name payments exactly as initiate() did: by our reference. A ReferenceID without our
   * prefix is returned whole (it matches no payment of ours).
   */
  referenceFrom(referenceId: string): string {
    return referenceId.startsWith(this.cfg.billerCode)
      ? referenceId.slice(this.cfg.billerCode.length)
      : referenceId;
  }

  initiate(payment: PaymentRequest): Promise<InitiateResult> {
    // On the wire the ReferenceID carries our biller code; towards our code the payment
    // keeps its own reference (callbacks are mapped back by referenceFrom).
    return this.client.push(payment, () => ({
      method: "POST",
      path: this.cfg.pushUrl,
      json: {
        CustomerMSISDN: payment.msisdn,
        BillerMSISDN: this.cfg.billerMsisdn,
        Amount: payment.amount,
        Remarks: (payment.description || payment.reference).slice(0, 100),
        ReferenceID: this.providerRefFor(payment.reference),
      },
    }), (reply) => pushResult(payment.reference, reply));
  }

  verifyAndParseCallback(input: CallbackInput): Promise<ParsedCallback> {
    const parsed = parseJson(input.rawBody);
    const body = obj(parsed);
    const status = mixxBool(body.Status);
    const description = str(body.Description) ?? null;
    // Mixx always reports the Amount; it never reports currency or phone.
    const amount = reported(body.Amount, wholeAmount, true);
    const result: ParsedCallback = {
      authentic: false,
      providerRef: str(body.ReferenceID)
        ? this.referenceFrom(str(body.ReferenceID)!)
        : null,
      providerTxnId: str(body.MFSTransactionID) || null,
      state: status === true ? "succeeded" : status === false ? "failed" : null,
      failureReason: status === false ? reasonFromText(description) : null,
      amount: amount.value,
      currency: null,
      msisdn: null,
      unreadable: unreadableOf({ amount }),
      rawCode: body.Status === undefined ? null : String(body.Status),
      message: description,
      raw: parsed ?? input.rawBody.slice(0, 2000),
    };
    const tokens = mixxCallbackTokens(input.url);
    if (tokens.length === 0) {
      return Promise.resolve({ ...result, rejection: "missing_signature" });
    }
    // every token the URL carries must be ours (each compared in constant time)
    let allMatch = true;
    for (const token of tokens) {
      if (!timingSafeEqual(token, this.cfg.callbackToken)) allMatch = false;
    }
    if (!allMatch) {
      return Promise.resolve({ ...result, rejection: "bad_token" });
    }
    if (!ipAllowed(this.cfg.callbackAllowedIps, input.sourceIp)) {
      return Promise.resolve({ ...result, rejection: "ip_not_allowed" });
    }
    if (parsed === null || !result.providerRef || status === null) {
      return Promise.resolve({ ...result, rejection: "malformed" });
    }
    return Promise.resolve({ ...result, authentic: true });
  }

  acknowledge(parsed: ParsedCallback | null, outcome: AckOutcome): Response {
    const referenceId = parsed?.providerRef
      ? this.providerRefFor(parsed.providerRef)
      : "";
    if (outcome === "accepted") {
      return jsonResponse(200, {
        ResponseCode: MIXX_ACK_OK,
        ResponseStatus: true,
        ResponseDescription: "Callback successful",
        ReferenceID: referenceId,
      });
    }
    const [status, description] = outcome === "unauthentic"
      ? [401, "Unauthorized"]
      : outcome === "invalid"
      ? [400, "Invalid callback"]
      : [503, "Temporary failure, please retry"];
    return jsonResponse(status, {
      ResponseCode: MIXX_ACK_ERROR,
      ResponseStatus: false,
      ResponseDescription: description,
      ReferenceID: referenceId,
    }, status === 503 ? RETRY_SOON : {});
  }

  /** The transaction query (`MTPGGetSODetails`), by the ReferenceID we pushed with. */
  queryStatus(providerRef: string): Promise<StatusResult> {
    const query = this.cfg.query;
    if (!query) return Promise.resolve({ supported: false });
    const referenceId = this.providerRefFor(providerRef);
    return this.b2cClient.status({
      method: "POST",
      path: query.url,
      headers: {
        "Content-Type": "text/xml",
        "Accept": "application/xml, text/xml",
      },
      body: xmlCommand([
        ["TYPE", "MTPGGetSODetails"],
        ["REFERENCEID", referenceId],
        ["MSISDN", query.msisdn],
        ["PIN", query.pin],
        ["EXTERNALREFID", referenceId],
      ]),
    }, queryResult);
  }

  refund(request: RefundRequest): Promise<RefundResult> {
    const b2c = this.cfg.b2c;
    if (!b2c) return Promise.resolve({ supported: false });
    if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
      throw new RangeError("refund amount must be a positive whole number");
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
    return this.b2cClient.refund("payout", {
      method: "POST",
      path: b2c.url,
      headers: {
        "Content-Type": "application/xml",
        "Accept": "application/xml",
      },
      body: xmlCommand([
        ["TYPE", "REQMFCI"],
        ["REFERENCEID", request.reference],
        ["MSISDN", b2c.accountMsisdn],
        ["PIN", b2c.pin],
        ["MSISDN1", request.msisdn],
        ["AMOUNT", String(request.amount)],
        ["SENDERNAME", b2c.senderName],
        ["LANGUAGE1", b2c.language],
        ["BRAND_ID", b2c.brandId],
      ]),
    }, b2cResult);
  }

  /** No status query is known for B2C: an operator settles a lost answer. */
  refundStatus(): Promise<RefundStatusResult> {
    return Promise.resolve({ supported: false });
  }

  // -- vendor payouts (PayoutAdapter) ------------------------------------------------------

  /** Payouts are B2C "Account to Wallet": off without the MIXX_B2C_* variables. */
  get payoutCapability(): PayoutCapability | null {
    return this.cfg.b2c
      ? {
        method: "b2c",
        statusQuery: false,
        callbacks: false,
        nameLookup: false,
      }
      : null;
  }

  /** No name lookup is known for Mixx wallets. */
  walletHolder(): Promise<WalletHolderResult> {
    return Promise.resolve({ supported: false });
  }

  /** Account to Wallet of the payout to the vendor's wallet, by our reference. */
  async payout(request: PayoutRequest): Promise<PayoutResult> {
    if (!this.cfg.b2c) return { supported: false };
    assertPayoutRequest(request);
    const sent = await this.refund({
      providerRef: "",
      amount: request.amount,
      reference: request.reference,
      msisdn: request.msisdn,
    });
    return payoutFromRefund(sent, "b2c");
  }

  /** No status query is known for B2C: an operator settles a lost answer. */
  payoutStatus(): Promise<PayoutStatusResult> {
    return Promise.resolve({ supported: false });
  }
}

/** B2C `TXNSTATUS` codes (low confidence: from public SDKs, not official documentation). */
export function mapMixxB2cStatus(
  code: string | undefined,
): { state: RefundState; reason?: RefundFailureReason } {
  switch ((code ?? "").toLowerCase()) {
    case "error000":
      return { state: "refunded" };
    case "error001": // service not available: not processed
      return { state: "failed", reason: "provider_error" };
    case "error013": // our account's balance is short
      return { state: "failed", reason: "insufficient_balance" };
    case "error010": // invalid customer
    case "error011": // customer locked
      return { state: "failed", reason: "payee_refused" };
    case "error012": // invalid amount
    case "error014": // amount too high
    case "error015": // amount too low
    case "error016": // invalid payment
      return { state: "failed", reason: "not_eligible" };
    default: // error111 (no response), error100 (general error), unknown: it may have moved
      return { state: "ambiguous" };
  }
}

/**
 * The transaction query's `TXNSTATUS` when `RESULTCODE` is 0: `Posted` is the only word
 * seen meaning paid (the Tanzanian gateway's integration treats nothing else as collected);
 * refusal and progress words are read as such, anything else is unknown (ambiguous).
 */
export function mapMixxQueryStatus(
  status: string | undefined,
): "succeeded" | "failed" | "initiated" | "ambiguous" {
  const word = (status ?? "").trim().toLowerCase();
  if (word === "posted") return "succeeded";
  if (/fail|reject|declin|cancel|expire|revers/.test(word)) return "failed";
  if (/pend|progress|initiat|submit|process/.test(word)) return "initiated";
  return "ambiguous";
}

function queryResult(reply: HttpResult): StatusResult {
  const fields = readXmlFields(reply.text);
  const code = fields?.RESULTCODE;
  const answer = {
    rawCode: code ?? `HTTP ${reply.status}`,
    message: fields?.RESULTDESC,
    raw: reply.text.slice(0, 2000),
  };
  if (reply.status !== 200 || !fields || code === undefined) {
    return statusUnavailable(answer);
  }
  if (code !== "0") {
    // GetSOError…: Mixx has no sales order with this reference (never pushed, or gone)
    return /^GetSOError/i.test(code)
      ? statusNotFound(answer)
      : statusUnavailable(answer);
  }
  const state = mapMixxQueryStatus(fields.TXNSTATUS);
  const amount = reported(fields.AMOUNT || undefined, wholeAmount, false);
  return {
    supported: true,
    state,
    failureReason: state === "failed"
      ? reasonFromText(fields.RESULTDESC ?? fields.TXNSTATUS)
      : undefined,
    providerTxnId: fields.TXNID || undefined,
    amount: amount.value ?? undefined,
    unreadable: unreadableOf({ amount }),
    rawCode: fields.TXNSTATUS ?? code,
    message: fields.RESULTDESC,
    raw: answer.raw,
  };
}

function b2cResult(reply: HttpResult): RefundResult {
  const fields = readXmlFields(reply.text) ?? {};
  const code = fields.TXNSTATUS;
  const message = fields.MESSAGE;
  const base = {
    supported: true as const,
    method: "payout" as const,
    providerRefundId: fields.TXNID || undefined,
    rawCode: code ?? `HTTP ${reply.status}`,
    message,
    raw: reply.text.slice(0, 2000),
  };
  if (reply.status >= 500 || reply.status === 408) {
    return { state: "ambiguous", ...base };
  }
  if (!code) {
    // refused before processing (401, 400 …), or a 2xx that says nothing
    return reply.status >= 400
      ? { state: "failed", failureReason: "provider_error", ...base }
      : { state: "ambiguous", ...base };
  }
  if (/duplicate/i.test(message ?? "")) {
    // a payout with this reference exists: what became of it is unknown here
    return { state: "ambiguous", ...base };
  }
  const mapped = mapMixxB2cStatus(code);
  return mapped.state === "failed"
    ? { state: "failed", failureReason: mapped.reason, ...base }
    : { state: mapped.state, ...base };
}

function pushResult(providerRef: string, reply: HttpResult): InitiateResult {
  const json = obj(reply.json);
  const ok = mixxBool(json.ResponseStatus);
  const message = str(json.ResponseDescription) ?? str(json.Message);
  const base = {
    providerRef,
    rawCode: str(json.ResponseCode) ?? `HTTP ${reply.status}`,
    message,
    raw: reply.raw,
  };
  if (reply.status >= 500 || reply.status === 408) {
    return { state: "ambiguous", ...base };
  }
  if (reply.status === 200 && ok === true) {
    return { state: "initiated", ...base };
  }
  if (/duplicate|already/i.test(message ?? "")) {
    return { state: "ambiguous", ...base };
  }
  if (ok === false || (reply.status >= 400 && reply.status < 500)) {
    return { state: "failed", failureReason: reasonFromText(message), ...base };
  }
  return { state: "ambiguous", ...base };
}
