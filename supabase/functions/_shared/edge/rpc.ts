/**
 * The SQL functions the Edge Functions call, one typed function each: which SQL function
 * it is (supabase/migrations), its arguments and what it answers. A handler reads
 * `await sql.applyPaymentEvent(rpc, {...})`; this file says that is
 * `public.apply_payment_event(p_provider, …)`. Every call goes through an `Rpc`: the Data
 * API with the deadlock retries and the 503 of db.ts (`rpcWith`), a recording fake in the
 * handler tests (fakes.ts). Arguments left undefined are not sent (the SQL default
 * applies).
 */
import type {
  FailureReason,
  OrderState,
  PaymentState,
  ProviderName,
  ReportField,
} from "../payments/mod.ts";
import type { Rpc } from "./db.ts";
import { byteaHex } from "./http.ts";

/** The SQL functions of this file (`public.` schema). */
export type RpcName =
  | "checkout"
  | "claim_payment_push"
  | "record_payment_initiation"
  | "record_webhook_event"
  | "finish_webhook_event"
  | "apply_payment_event"
  | "payments_to_reconcile"
  | "fail_unsent_push"
  | "expire_overdue_payments";

async function call<T>(
  rpc: Rpc,
  fn: RpcName,
  args: Record<string, unknown>,
): Promise<T> {
  const sent: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) {
    if (value !== undefined) sent[name] = value;
  }
  return await rpc(fn, sent) as T;
}

/** What the payment functions report after each step (`private.payment_status`). */
export interface PaymentStatus {
  payment_id: string;
  payment_status: PaymentState;
  order_id: string;
  order_status: OrderState;
  needs_review: boolean;
  failure_reason: string | null;
}

// -- checkout-initiate ---------------------------------------------------------------------

export interface CheckoutArgs {
  idempotencyKey: string;
  provider: ProviderName;
  /** Checked by `private.is_valid_shipping_address`. */
  shippingAddress: Record<string, unknown>;
}

/** What `public.checkout` answers (`private.checkout_result`): never the reference. */
export interface CheckoutResult {
  order_id: string;
  payment_id: string;
  order_status: OrderState;
  payment_status: PaymentState;
  amount: number;
  currency: "TZS";
  provider: ProviderName;
  msisdn: string;
  expires_at: string;
  replayed: boolean;
  push_requested: boolean;
}

/**
 * `public.checkout(p_idempotency_key, p_provider, p_shipping_address)`, as the customer:
 * the order and its pending payment, or the answer recorded for this key. Refuses with
 * PTnnn (idempotency_key_invalid, unknown_provider, invalid_address, cart_empty …).
 */
export function checkout(rpc: Rpc, a: CheckoutArgs): Promise<CheckoutResult> {
  return call(rpc, "checkout", {
    p_idempotency_key: a.idempotencyKey,
    p_provider: a.provider,
    p_shipping_address: a.shippingAddress,
  });
}

export interface PushClaim extends PaymentStatus {
  /** True for exactly one caller, ever: only that one may push. */
  claimed: boolean;
  /** The reference to push with; only for the claimant. */
  provider_ref: string | null;
  /** The end of the payment window the claim opened. */
  expires_at: string;
}

/** `public.claim_payment_push(p_payment_id)`: at most one push per payment. */
export function claimPaymentPush(
  rpc: Rpc,
  paymentId: string,
): Promise<PushClaim> {
  return call(rpc, "claim_payment_push", { p_payment_id: paymentId });
}

export interface PushOutcome {
  paymentId: string;
  outcome: "initiated" | "ambiguous" | "failed";
  providerTxnId?: string | null;
  failureReason?: FailureReason | null;
  /** The provider's code and message, for the audit rows. */
  detail?: Record<string, unknown>;
}

/** `public.record_payment_initiation(p_payment_id, p_outcome, p_provider_txn_id,
 * p_failure_reason, p_detail)`: the provider's answer to the push. */
export function recordPaymentInitiation(
  rpc: Rpc,
  a: PushOutcome,
): Promise<PaymentStatus> {
  return call(rpc, "record_payment_initiation", {
    p_payment_id: a.paymentId,
    p_outcome: a.outcome,
    p_provider_txn_id: a.providerTxnId,
    p_failure_reason: a.failureReason,
    p_detail: a.detail,
  });
}

// -- payment-webhook -----------------------------------------------------------------------

export interface WebhookEvent {
  provider: ProviderName;
  headers: Record<string, string>;
  /** The body exactly as received (bytea). */
  body: Uint8Array;
  sourceIp: string | null;
  path: string;
}

/** `public.record_webhook_event(p_provider, p_headers, p_body, p_source_ip, p_path)`:
 * stores the raw event before anything else; answers its id. */
export function recordWebhookEvent(
  rpc: Rpc,
  a: WebhookEvent,
): Promise<string> {
  return call(rpc, "record_webhook_event", {
    p_provider: a.provider,
    p_headers: a.headers,
    p_body: byteaHex(a.body),
    p_source_ip: a.sourceIp,
    p_path: a.path,
  });
}

/** `public.finish_webhook_event(p_event_id, p_authentic, p_rejection)`. */
export async function finishWebhookEvent(
  rpc: Rpc,
  a: { eventId: string; authentic: boolean; rejection: string | null },
): Promise<void> {
  await call(rpc, "finish_webhook_event", {
    p_event_id: a.eventId,
    p_authentic: a.authentic,
    p_rejection: a.rejection,
  });
}

export interface PaymentEvent {
  provider: ProviderName;
  providerRef: string;
  outcome: PaymentState;
  /** null: the report does not carry it (not a mismatch). */
  amount?: number | null;
  currency?: string | null;
  msisdn?: string | null;
  providerTxnId?: string | null;
  failureReason?: FailureReason | null;
  source: "callback" | "status_query" | "initiate_response";
  webhookEventId?: string;
  /** Fields of the report the adapter could not read: a success goes to review. */
  unreadable?: ReportField[];
}

export interface AppliedEvent extends PaymentStatus {
  /** applied, duplicate, review, ignored, unknown_payment … */
  result: string;
}

/** `public.apply_payment_event(p_provider, p_provider_ref, p_outcome, p_amount, p_currency,
 * p_msisdn, p_provider_txn_id, p_failure_reason, p_source, p_webhook_event_id,
 * p_unreadable)`: one provider outcome, in one transaction. */
export function applyPaymentEvent(
  rpc: Rpc,
  a: PaymentEvent,
): Promise<AppliedEvent> {
  return call(rpc, "apply_payment_event", {
    p_provider: a.provider,
    p_provider_ref: a.providerRef,
    p_outcome: a.outcome,
    p_amount: a.amount,
    p_currency: a.currency,
    p_msisdn: a.msisdn,
    p_provider_txn_id: a.providerTxnId,
    p_failure_reason: a.failureReason,
    p_source: a.source,
    p_webhook_event_id: a.webhookEventId,
    p_unreadable: a.unreadable,
  });
}

// -- payment-reconcile ---------------------------------------------------------------------

/** One row of `public.payments_to_reconcile`. */
export interface StalePayment {
  payment_id: string;
  provider: ProviderName;
  provider_ref: string;
  status: PaymentState;
  /** False while the push was claimed but the provider's answer never recorded. */
  push_recorded: boolean;
}

/** `public.payments_to_reconcile(p_min_age_seconds, p_limit)`. */
export function paymentsToReconcile(
  rpc: Rpc,
  a: { minAgeSeconds: number; limit: number },
): Promise<StalePayment[]> {
  return call(rpc, "payments_to_reconcile", {
    p_min_age_seconds: a.minAgeSeconds,
    p_limit: a.limit,
  });
}

/** `public.fail_unsent_push(p_payment_id, p_finding)`: a claimed push the provider never
 * saw (`not_found`) or cannot be asked about (`cannot_ask`). */
export function failUnsentPush(
  rpc: Rpc,
  a: { paymentId: string; finding: "not_found" | "cannot_ask" },
): Promise<PaymentStatus & { result: string }> {
  return call(rpc, "fail_unsent_push", {
    p_payment_id: a.paymentId,
    p_finding: a.finding,
  });
}

/** `public.expire_overdue_payments()`: expires what stays unpaid past its window. */
export function expireOverduePayments(
  rpc: Rpc,
): Promise<{ expired: number; busy: number }> {
  return call(rpc, "expire_overdue_payments", {});
}
