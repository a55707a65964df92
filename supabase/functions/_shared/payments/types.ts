/**
 * The one interface every mobile-money provider adapter implements.
 *
 * Adapters are pure I/O with the provider: they build requests, parse replies and
 * callbacks, and normalize states. They never touch the database; the edge functions
 * (checkout-initiate, payment-webhook, payment-reconcile, refund-execute) do that through
 * SQL functions.
 */

import type {
  PaymentState,
  PayoutMethod,
  ProviderName,
  REFUND_METHODS,
} from "./contract.ts";

/* Provider names and payment states are the contract's (contract.ts). Adapters report only
 * `initiated`, `succeeded`, `failed`, `ambiguous` and `refunded`: `pending` is ours before
 * the push, `expired` our own payment window running out, `partially_refunded` our ledger. */

/** Why a payment failed, whatever the provider called it. */
export type FailureReason =
  | "insufficient_funds"
  | "wrong_pin"
  | "cancelled"
  | "timeout"
  | "invalid_msisdn"
  | "limit"
  | "provider_error";

/** What the caller hands to `initiate`. */
export interface PaymentRequest {
  /**
   * Our stable, unique reference for this payment, as `claim_payment_push` hands it out
   * (`REFERENCE_PATTERN` of contract.ts: 4–20 ASCII letters/digits, within M-Pesa's
   * `input_TransactionReference` limit). The same payment is always pushed with the same
   * reference, so that a provider which refuses duplicates refuses an accidental second
   * push.
   */
  reference: string;
  /** Whole Tanzanian shillings, > 0. */
  amount: number;
  currency: "TZS";
  /** Canonical MSISDN: `255` + 9 digits. Each adapter reformats it for its provider. */
  msisdn: string;
  /** Short text shown to the customer where the provider shows one. */
  description?: string;
}

export type InitiateState = "initiated" | "failed" | "ambiguous" | "succeeded";

export interface InitiateResult {
  /**
   * - `initiated`: the provider accepted the push; the outcome comes later (callback or
   *   status query). An "accepted" reply is never treated as paid.
   * - `failed`: the provider refused the push; nothing was or will be charged.
   * - `ambiguous`: we cannot tell (timeout, 5xx, duplicate, unclear code): resolve with
   *   `queryStatus` or a callback, never by pushing again.
   * - `succeeded`: only synchronous providers (`capabilities.mode === "sync"`, M-Pesa):
   *   the reply carries the customer's final answer with the provider's transaction id.
   */
  state: InitiateState;
  /** The reference the provider knows this payment by; store it, pass it to queryStatus. */
  providerRef: string;
  /** The provider's own transaction id, when the reply carries one. */
  providerTxnId?: string;
  failureReason?: FailureReason;
  /** The provider's result code (e.g. `INS-2006`, `DP00800001006`), for logs and audit. */
  rawCode?: string;
  /** The provider's message, or ours (`timeout`, `network error …`). */
  message?: string;
  /** Set when no usable reply arrived: `timeout` or `network`. */
  transportError?: "timeout" | "network";
  /** Parsed reply body (or null), for storage; never contains our credentials. */
  raw: unknown;
}

/** What the webhook hands to `verifyAndParseCallback`: the request exactly as received. */
export interface CallbackInput {
  headers: Headers;
  /** The body as received, before any JSON parsing (signatures are over bytes/JSON). */
  rawBody: string;
  /** The full request URL (query string included: Mixx's token travels there). */
  url: string;
  /** The caller's IP as the edge function determined it (for optional allow-lists). */
  sourceIp?: string | null;
}

export type CallbackRejection =
  | "missing_signature"
  | "bad_signature"
  | "bad_token"
  | "ip_not_allowed"
  | "malformed"
  | "unsupported"
  /** signed by a scheme that does not cover what the callback says (ClickPesa's legacy
   * checksum over a payload with nested data), or by a scheme we do not know */
  | "unverifiable_signature";

/**
 * A field of a provider's report that the money check compares with the payment. An
 * adapter lists it as unreadable when the report carries it in a form we cannot read
 * ("1,000", "", an object …), or leaves it out although this provider always sends it: the
 * database then sends a success to review instead of paying (never "no amount" = "paid").
 */
export type ReportField = "amount" | "currency" | "msisdn";

export interface ParsedCallback {
  /**
   * What the callback is about: absent or `payment` — a payment's outcome
   * (apply_payment_event); `refund` — a refund sent as a payout (ClickPesa PAYOUT events):
   * `providerRef` is then our refund reference, `providerTxnId` the provider's payout id,
   * `state` succeeded (the payer has the money), failed or ambiguous (still in progress),
   * and `refundFailure` says why it failed (apply_refund_event).
   */
  subject?: "payment" | "refund";
  refundFailure?: RefundFailureReason | null;
  /**
   * True only when the callback proved it comes from the provider (HMAC/checksum or URL
   * token, plus the IP allow-list where configured). When false, every other field is
   * informational (for the stored event) and must never be applied.
   */
  authentic: boolean;
  rejection?: CallbackRejection;
  /** Why, in words, where the code alone would not tell an operator (stored with the
   * rejection in `payment_events.auth_error`). Never holds a secret. */
  rejectionDetail?: string;
  /** Our reference as the provider echoes it (matches InitiateResult.providerRef). */
  providerRef: string | null;
  providerTxnId: string | null;
  /** `succeeded` / `failed` (or `ambiguous`, or null for events that are not outcomes). */
  state: PaymentState | null;
  failureReason: FailureReason | null;
  /** Whole TZS the customer paid, or null where the provider's callback does not report
   * it. Where the provider reports the amount net of its fee, the adapter adds the fee it
   * knows (from the report or its configuration) and says so in `fee`. */
  amount: number | null;
  /** The provider's fee included in `amount` above when the provider reported the amount
   * net of it (ClickPesa with CLICKPESA_COLLECTED_AMOUNT=net); absent otherwise. */
  fee?: number | null;
  /** Currency, or null where the callback does not report it. */
  currency: string | null;
  /** Canonical MSISDN (`255…`), or null where the callback does not report it. */
  msisdn: string | null;
  /** Fields the callback carried unreadably, or omitted though the provider always sends
   * them (their value above is then null). */
  unreadable: ReportField[];
  /** Provider's status/result code as sent (`TS`, `TF`, `PAYMENT RECEIVED`, `true` …). */
  rawCode: string | null;
  /** Provider's message/description. */
  message: string | null;
  /** The parsed body (or the raw text when it is not JSON). */
  raw: unknown;
}

/**
 * How the webhook wants the provider answered:
 * - `accepted`: stored and applied (or a harmless duplicate / sent to review) → 200;
 * - `unauthentic`: signature/token/IP check failed → 401;
 * - `invalid`: malformed body → 400;
 * - `error`: our own temporary failure; the provider should retry → 503 (Retry-After).
 */
export type AckOutcome = "accepted" | "unauthentic" | "invalid" | "error";

export type StatusResult =
  | { supported: false }
  | {
    supported: true;
    /** `initiated` (still in progress), `succeeded`, `failed`, `ambiguous`, `refunded`. */
    state: PaymentState;
    /** The provider says it has no such transaction (push never arrived, or too early). */
    notFound?: boolean;
    providerTxnId?: string;
    failureReason?: FailureReason;
    /** As ParsedCallback.amount: what the customer paid (fee added back where the
     * provider reports net of it, see `fee`). */
    amount?: number;
    fee?: number;
    msisdn?: string;
    /** As ParsedCallback.unreadable, for the status answer. */
    unreadable?: ReportField[];
    rawCode?: string;
    message?: string;
    /** Set when we could not ask (timeout, network, 5xx): nothing was learned. */
    transportError?: "timeout" | "network" | "provider_unavailable";
    raw: unknown;
  };

/** How money goes back to a payer: M-Pesa's reversal of the payment, Airtel's refund of it,
 * or a payout (B2C) to the payer's wallet where the provider has no refund API. The names
 * are `public.refunds.method`'s (contract.ts; `manual` is a person's, not an adapter's). */
export type RefundMethod = Exclude<typeof REFUND_METHODS[number], "manual">;

/** What refund-execute hands to `refund`: one claimed refund (`claim_refund`). */
export interface RefundRequest {
  /** The payment's providerRef (our payment reference). */
  providerRef: string;
  /** The provider's transaction id of the payment (M-Pesa and Airtel need it). */
  providerTxnId?: string | null;
  /** Whole TZS to give back, > 0 (the database granted it). */
  amount: number;
  /**
   * Our unique reference of this refund (`public.refunds.reference`, 4–20 letters/digits):
   * the same refund is always sent with it, so a provider that refuses duplicates refuses
   * an accidental second send, and a lost answer is asked for by it.
   */
  reference: string;
  /** The payer's wallet, canonical `255…` (payouts are sent there). */
  msisdn?: string | null;
  /**
   * True only when the database says this refund gives back the whole payment (Airtel's
   * refund API returns the whole payment, never part of it). Absent or false: part of it,
   * or not known, and an adapter must never send back more than `amount`.
   */
  wholePayment?: boolean;
}

/**
 * Why a refund was refused (`failed`), whatever the provider called it. Stored in
 * `refunds.failure_reason` with the provider's message, for the operator.
 */
export type RefundFailureReason =
  | "insufficient_balance"
  | "payee_refused"
  | "invalid_msisdn"
  | "not_eligible"
  | "fee_charged_to_payee"
  | "missing_payment_details"
  | "no_credentials"
  | "provider_error";

/**
 * - `refunded`: the money reached the payer (the provider says so).
 * - `failed`: refused; nothing moved. An operator retries it (`retry_refund`: the same
 *   reference again) or pays it by hand.
 * - `pending`: accepted, the outcome comes later (a callback or `refundStatus`).
 * - `ambiguous`: no usable answer (timeout, 5xx, duplicate, unclear): the money may have
 *   moved. Never resent: `refundStatus` or a callback resolves it, or an operator.
 */
export type RefundState = "refunded" | "failed" | "pending" | "ambiguous";

export type RefundResult =
  | { supported: false }
  | {
    supported: true;
    /** The method used (what refund-execute records). */
    method: RefundMethod;
    state: RefundState;
    providerRefundId?: string;
    failureReason?: RefundFailureReason;
    rawCode?: string;
    message?: string;
    transportError?: "timeout" | "network";
    raw: unknown;
  };

/** A refund sent earlier whose answer was lost: ask by our reference. */
export interface RefundStatusRequest {
  reference: string;
  /** The method recorded when it was sent; null when nothing was recorded (the sender
   * died between the claim and the answer). */
  method: RefundMethod | null;
}

export type RefundStatusResult =
  | { supported: false }
  | {
    supported: true;
    state: RefundState;
    /** The provider has no refund with this reference: it was never received. */
    notFound?: boolean;
    providerRefundId?: string;
    failureReason?: RefundFailureReason;
    rawCode?: string;
    message?: string;
    /** Set when we could not ask (timeout, network, 5xx): nothing was learned. */
    transportError?: "timeout" | "network" | "provider_unavailable";
    raw: unknown;
  };

/** How an adapter gives money back; null in Capabilities: it cannot (pay by hand). */
export interface RefundCapability {
  /** The method for a refund of the whole payment. */
  whole: RefundMethod;
  /** The method for part of it; null: a partial refund is paid by hand. */
  partial: RefundMethod | null;
  /** The methods whose outcome `refundStatus` can ask about. */
  statusQuery: readonly RefundMethod[];
  /** The provider reports refund outcomes to payment-webhook (ClickPesa PAYOUT events). */
  callbacks: boolean;
}

export interface Capabilities {
  /** `sync`: initiate() blocks until the customer answers and returns the outcome (run it
   * in the background); `async`: initiate() returns at once, the outcome comes later. */
  mode: "sync" | "async";
  /** How callbacks prove their origin (`none`: the provider sends no callbacks). */
  callbackAuth: "hmac" | "url_token" | "none";
  statusQuery: boolean;
  /** How money goes back to the payer (refund-execute); null: only by hand. */
  refund: RefundCapability | null;
}

export interface PaymentAdapter {
  readonly provider: ProviderName;
  readonly capabilities: Capabilities;
  initiate(payment: PaymentRequest): Promise<InitiateResult>;
  verifyAndParseCallback(input: CallbackInput): Promise<ParsedCallback>;
  /** The HTTP answer in the form the provider expects (also for rejected calls). */
  acknowledge(parsed: ParsedCallback | null, outcome: AckOutcome): Response;
  queryStatus(providerRef: string): Promise<StatusResult>;
  /** Sends one claimed refund back to the payer: never retried blindly (see RefundState). */
  refund(request: RefundRequest): Promise<RefundResult>;
  /** Asks about a refund sent earlier, by our reference; `{supported: false}` where the
   * provider has no such query for that method. */
  refundStatus(request: RefundStatusRequest): Promise<RefundStatusResult>;
}

/** Reads one environment variable (Deno.env.get in production; a map in tests). */
export type EnvGetter = (name: string) => string | undefined;

/** The subset of `fetch` the adapters use (injectable for tests). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * A provider's wire protocol, as one adapter file exports it: its name (the file's) and
 * how to build its adapter from the environment. mod.ts maps each provider to one.
 */
export interface Protocol {
  readonly name: string;
  /** Reads the protocol's variables (throws ConfigError naming the missing ones). */
  create(env: EnvGetter, deps: AdapterDeps): PaymentAdapter;
}

export interface AdapterDeps {
  fetch: FetchLike;
  /** Milliseconds since the epoch (injectable for token-expiry tests). */
  now: () => number;
}

/* -- Vendor payouts (payout-execute) -------------------------------------------------------
 *
 * A vendor's earnings go to the vendor's own wallet by the provider's B2C product: M-Pesa
 * B2C, Airtel disbursement, Mixx Account to Wallet, a ClickPesa payout for HaloPesa
 * wallets. The adapters that can do it also implement PayoutAdapter (mod.ts:
 * createPayoutAdapter); PaymentAdapter is unchanged. */

/** What payout-execute hands to `payout`: one claimed vendor payout (`claim_payout`). */
export interface PayoutRequest {
  /**
   * Our reference of the payout (`private.vendor_payouts.reference`, `WO…`, 4-20 letters
   * and digits): the same payout is always sent with it, so a provider that refuses
   * duplicates refuses an accidental second send, and a lost answer is asked about by it.
   */
  reference: string;
  /** Whole TZS, > 0 (SQL decided it). */
  amount: number;
  /** The vendor's wallet, canonical `255…`. */
  msisdn: string;
  /** What the payee's statement shows, where the provider shows one. */
  description?: string;
}

/**
 * - `paid`: the money reached the vendor's wallet (the provider says so).
 * - `failed`: refused; nothing moved (the money goes back to the vendor's balance).
 * - `pending`: accepted, the outcome comes later (a callback or `payoutStatus`).
 * - `ambiguous`: no usable answer (timeout, 5xx, duplicate, unclear): the money may have
 *   moved. Never resent: `payoutStatus` or a callback resolves it, or an operator.
 */
export type PayoutState = "paid" | "failed" | "pending" | "ambiguous";

/** Why a payout was refused: the refund vocabulary (our float, the payee, …). */
export type PayoutFailureReason = RefundFailureReason;

export type PayoutResult =
  | { supported: false }
  | {
    supported: true;
    /** The method used (what payout-execute records). */
    method: PayoutMethod;
    state: PayoutState;
    providerPayoutId?: string;
    failureReason?: PayoutFailureReason;
    rawCode?: string;
    message?: string;
    transportError?: "timeout" | "network";
    raw: unknown;
  };

/** A payout sent earlier whose answer was lost: ask by our reference. */
export interface PayoutStatusRequest {
  reference: string;
  /** The method recorded with the last answer; null when none was recorded. */
  method: PayoutMethod | null;
}

export type PayoutStatusResult =
  | { supported: false }
  | {
    supported: true;
    state: PayoutState;
    /** The provider has no payout with this reference: it was never received. */
    notFound?: boolean;
    providerPayoutId?: string;
    failureReason?: PayoutFailureReason;
    rawCode?: string;
    message?: string;
    /** Set when we could not ask (timeout, network, 5xx): nothing was learned. */
    transportError?: "timeout" | "network" | "provider_unavailable";
    raw: unknown;
  };

/** Whose wallet is it: asked before a wallet's first payout (the name SQL compares with the
 * shop's and its owner's, `record_wallet_check`). ClickPesa's lookup is its payout preview,
 * which needs the payout's reference and amount; it moves nothing. */
export interface WalletLookupRequest {
  msisdn: string;
  reference: string;
  amount: number;
}

export type WalletHolderResult =
  | { supported: false }
  | {
    supported: true;
    /**
     * - `found`: `name` is the holder's name as the provider registered it;
     * - `not_found`: the provider says there is no such wallet;
     * - `unavailable`: nothing was learned (no answer, an error, the lookup refused).
     */
    outcome: "found" | "not_found" | "unavailable";
    name?: string;
    rawCode?: string;
    message?: string;
    transportError?: "timeout" | "network" | "provider_unavailable";
    raw: unknown;
  };

/** How an adapter pays vendors. */
export interface PayoutCapability {
  method: PayoutMethod;
  /** `payoutStatus` can ask about a payout by our reference. */
  statusQuery: boolean;
  /** The provider reports payout outcomes to payment-webhook (ClickPesa PAYOUT events). */
  callbacks: boolean;
  /** `walletHolder` can tell the wallet's registered name. */
  nameLookup: boolean;
}

export interface PayoutAdapter {
  readonly provider: ProviderName;
  /** null: this provider is not configured for payouts. */
  readonly payoutCapability: PayoutCapability | null;
  /** The wallet holder's registered name; `{supported: false}` without a name lookup. */
  walletHolder(request: WalletLookupRequest): Promise<WalletHolderResult>;
  /** Sends one claimed payout: never retried blindly (see PayoutState). */
  payout(request: PayoutRequest): Promise<PayoutResult>;
  /** Asks about a payout sent earlier, by our reference; `{supported: false}` where the
   * provider has no such query. */
  payoutStatus(request: PayoutStatusRequest): Promise<PayoutStatusResult>;
}
