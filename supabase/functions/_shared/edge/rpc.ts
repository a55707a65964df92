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
  PayoutMethod,
  PayoutStatus,
  ProviderName,
  RefundMethod,
  RefundStatus,
  ReportField,
} from "../payments/mod.ts";
import type { Rpc, Select } from "./db.ts";
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
  | "expire_overdue_payments"
  | "refunds_to_execute"
  | "claim_refund"
  | "record_refund_outcome"
  | "apply_refund_event"
  | "payouts_to_execute"
  | "claim_payout"
  | "record_wallet_check"
  | "record_payout_outcome"
  | "apply_payout_event"
  | "pay_next_instalment"
  | "run_instalment_schedule";

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
  /** Loyalty points to spend (checked against the balance and cap by the database). */
  redeemPoints?: number;
  /** An instalment plan instead of paying in full (pay_in_2, pay_in_3, pay_in_4). */
  plan?: string | null;
}

/** One instalment of a plan's schedule (`private.plan_summary`). */
export interface InstalmentSummary {
  number: number;
  amount: number;
  due_at: string;
  status: "scheduled" | "paid" | "cancelled";
}

/** An order's instalment plan, as checkout answers it (`private.plan_summary`). */
export interface PlanSummary {
  plan_id: string;
  plan: string;
  status: "pending" | "active" | "completed" | "cancelled";
  total: number;
  instalments: InstalmentSummary[];
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
  /** The instalment plan (null when the order is paid in full): `amount` is then the
   * first instalment's. */
  plan: PlanSummary | null;
}

/**
 * `public.checkout(p_idempotency_key, p_provider, p_shipping_address, p_points, p_plan)`,
 * as the customer: the order and its pending payment, or the answer recorded for this key.
 * Refuses with PTnnn (idempotency_key_invalid, unknown_provider, invalid_address,
 * cart_empty, points_over_cap, not_enough_points, unknown_plan, plan_not_offered …).
 */
export function checkout(rpc: Rpc, a: CheckoutArgs): Promise<CheckoutResult> {
  return call(rpc, "checkout", {
    p_idempotency_key: a.idempotencyKey,
    p_provider: a.provider,
    p_shipping_address: a.shippingAddress,
    p_points: a.redeemPoints ? a.redeemPoints : undefined,
    p_plan: a.plan ?? undefined,
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

// -- refund-execute ------------------------------------------------------------------------

/** One row of `public.refunds_to_execute`: requested (to send) or processing without an
 * answer for a while (to ask the provider about). */
export interface RefundDue {
  refund_id: string;
  status: RefundStatus;
}

/** `public.refunds_to_execute(p_limit, p_stale_seconds)`. */
export function refundsToExecute(
  rpc: Rpc,
  a: { limit: number; staleSeconds: number },
): Promise<RefundDue[]> {
  return call(rpc, "refunds_to_execute", {
    p_limit: a.limit,
    p_stale_seconds: a.staleSeconds,
  });
}

/** What `public.claim_refund` answers: the claimant (exactly one caller) gets what the
 * provider needs; everyone else `{claimed: false, refund_id}`. */
export interface RefundClaim {
  claimed: boolean;
  refund_id: string;
  /** Our reference of the refund towards the provider (`refunds.reference`). */
  reference?: string;
  amount?: number;
  currency?: "TZS";
  provider?: ProviderName;
  /** The payment's reference (`private.payment_references`). */
  payment_reference?: string | null;
  /** The payment's receipt at the provider (M-Pesa reversal, Airtel refund). */
  provider_txn_id?: string | null;
  /** The payer's wallet. */
  msisdn?: string | null;
  /** True when this refund gives back the whole payment (when the database says so). */
  whole_payment?: boolean;
}

/** `public.claim_refund(p_refund_id)`: requested → processing, for exactly one caller. */
export function claimRefund(rpc: Rpc, refundId: string): Promise<RefundClaim> {
  return call(rpc, "claim_refund", { p_refund_id: refundId });
}

export interface RefundOutcome {
  refundId: string;
  /** `ambiguous`: not known yet; the refund stays processing and is asked about later. */
  outcome: "succeeded" | "failed" | "ambiguous";
  method?: RefundMethod | null;
  providerRefundId?: string | null;
  failureReason?: string | null;
}

/** What the refund functions answer: the refund's state after the call, and what the call
 * did (applied | duplicate | ignored | pending | unknown_refund). */
export interface RefundRecorded {
  refund_id?: string;
  refund_status?: RefundStatus;
  result: string;
}

/** `public.record_refund_outcome(p_refund_id, p_outcome, p_method, p_provider_refund_id,
 * p_failure_reason)`: only a processing refund changes. */
export function recordRefundOutcome(
  rpc: Rpc,
  a: RefundOutcome,
): Promise<RefundRecorded> {
  return call(rpc, "record_refund_outcome", {
    p_refund_id: a.refundId,
    p_outcome: a.outcome,
    p_method: a.method,
    p_provider_refund_id: a.providerRefundId,
    p_failure_reason: a.failureReason,
  });
}

export interface RefundEvent {
  provider: ProviderName;
  /** Our refund reference, as the callback names it. */
  reference: string;
  outcome: "succeeded" | "failed" | "ambiguous";
  providerRefundId?: string | null;
  failureReason?: string | null;
  webhookEventId?: string;
}

/** `public.apply_refund_event(p_provider, p_reference, p_outcome, p_provider_refund_id,
 * p_failure_reason, p_webhook_event_id)`: a provider callback about a refund sent as a
 * payout, in one transaction; the stored callback is annotated. */
export function applyRefundEvent(
  rpc: Rpc,
  a: RefundEvent,
): Promise<RefundRecorded> {
  return call(rpc, "apply_refund_event", {
    p_provider: a.provider,
    p_reference: a.reference,
    p_outcome: a.outcome,
    p_provider_refund_id: a.providerRefundId,
    p_failure_reason: a.failureReason,
    p_webhook_event_id: a.webhookEventId,
  });
}

/** What refund-execute needs to ask a provider about a refund sent earlier. */
export interface RefundSent {
  id: string;
  provider: ProviderName;
  reference: string;
  status: RefundStatus;
  /** Recorded with the last answer; null when no answer was ever recorded. */
  method: RefundMethod | "manual" | null;
}

/** `public.refunds` (granted to the service role: a read, not an RPC): the provider,
 * reference and method of one refund; null when there is no such refund. */
export async function refundSent(
  select: Select,
  refundId: string,
): Promise<RefundSent | null> {
  const rows = await select("refunds", "id,provider,reference,status,method", {
    id: refundId,
  });
  return (rows[0] as unknown as RefundSent | undefined) ?? null;
}

// -- payout-execute ------------------------------------------------------------------------

/** One row of `public.payouts_to_execute`: a payout to send (pending, approved where
 * needed) or to ask the provider about (processing without an answer for a while). The
 * provider, reference and method tell a check whom to ask about what (columns added to
 * payouts_to_execute for payout-execute; absent from an older database). */
export interface PayoutDue {
  payout_id: string;
  action: "send" | "check";
  provider?: ProviderName | null;
  reference?: string | null;
  method?: PayoutMethod | null;
}

/** `public.payouts_to_execute(p_limit, p_stale_seconds)`. */
export function payoutsToExecute(
  rpc: Rpc,
  a: { limit: number; staleSeconds: number },
): Promise<PayoutDue[]> {
  return call(rpc, "payouts_to_execute", {
    p_limit: a.limit,
    p_stale_seconds: a.staleSeconds,
  });
}

/** What `public.claim_payout` answers: the claimant (exactly one caller) gets what the
 * provider needs; everyone else `{claimed: false, payout_id, status}`. */
export interface PayoutClaim {
  claimed: boolean;
  payout_id: string;
  /** The payout's status, when it was not claimed. */
  status?: PayoutStatus;
  /** Our reference of the payout towards the provider (`WO…`). */
  reference?: string;
  amount?: number;
  currency?: "TZS";
  provider?: ProviderName;
  /** The vendor's wallet. */
  msisdn?: string;
  /** The wallet's holder was confirmed (a name lookup matched, or an admin). */
  wallet_verified?: boolean | null;
}

/** `public.claim_payout(p_payout_id)`: pending → processing, for exactly one caller. */
export function claimPayout(rpc: Rpc, payoutId: string): Promise<PayoutClaim> {
  return call(rpc, "claim_payout", { p_payout_id: payoutId });
}

/** What `public.record_wallet_check` answers: verified, or the payout failed and why
 * (`name_mismatch`, `wallet_not_found`). */
export interface WalletCheck {
  verified: boolean;
  payout_id: string;
  reason?: string;
}

/** `public.record_wallet_check(p_payout_id, p_holder_name)`: the provider's name for the
 * claimed payout's wallet (null: no such wallet). SQL compares it with the shop's and its
 * owner's names. */
export function recordWalletCheck(
  rpc: Rpc,
  a: { payoutId: string; holderName: string | null },
): Promise<WalletCheck> {
  return call(rpc, "record_wallet_check", {
    p_payout_id: a.payoutId,
    p_holder_name: a.holderName,
  });
}

export interface PayoutOutcome {
  payoutId: string;
  /** `ambiguous`: not known yet; the payout stays processing and is asked about later. */
  outcome: "succeeded" | "failed" | "ambiguous";
  method?: PayoutMethod | null;
  providerPayoutId?: string | null;
  failureReason?: string | null;
}

/** What the payout functions answer: the payout's state after the call, and what the call
 * did (applied | pending | duplicate | ignored | unknown_payout). */
export interface PayoutRecorded {
  payout_id?: string;
  payout_status?: PayoutStatus;
  result: string;
}

/** `public.record_payout_outcome(p_payout_id, p_outcome, p_method, p_provider_payout_id,
 * p_failure_reason)`: only a processing payout changes. */
export function recordPayoutOutcome(
  rpc: Rpc,
  a: PayoutOutcome,
): Promise<PayoutRecorded> {
  return call(rpc, "record_payout_outcome", {
    p_payout_id: a.payoutId,
    p_outcome: a.outcome,
    p_method: a.method,
    p_provider_payout_id: a.providerPayoutId,
    p_failure_reason: a.failureReason,
  });
}

export interface PayoutEvent {
  provider: ProviderName;
  /** Our payout reference, as the callback names it. */
  reference: string;
  outcome: "succeeded" | "failed" | "ambiguous";
  providerPayoutId?: string | null;
  failureReason?: string | null;
  webhookEventId?: string;
}

/** `public.apply_payout_event(p_provider, p_reference, p_outcome, p_provider_payout_id,
 * p_failure_reason, p_webhook_event_id)`: a provider callback about a vendor payout, in one
 * transaction; the stored callback is annotated. */
export function applyPayoutEvent(
  rpc: Rpc,
  a: PayoutEvent,
): Promise<PayoutRecorded> {
  return call(rpc, "apply_payout_event", {
    p_provider: a.provider,
    p_reference: a.reference,
    p_outcome: a.outcome,
    p_provider_payout_id: a.providerPayoutId,
    p_failure_reason: a.failureReason,
    p_webhook_event_id: a.webhookEventId,
  });
}

// -- instalment-push -----------------------------------------------------------------------

/** A pending payment of one instalment (`private.instalment_payment_info`): what to push. */
export interface InstalmentPayment {
  payment_id: string;
  order_id: string;
  plan_id: string;
  /** The instalment's number in its plan (1 …). */
  instalment: number;
  amount: number;
  currency: "TZS";
  provider: ProviderName;
  msisdn: string;
  payment_status: PaymentState;
  order_status: OrderState;
  /** True when its push was already claimed (never push twice). */
  push_requested: boolean;
  expires_at: string;
  /** True when the payment already existed (the customer tapped again). */
  replayed: boolean;
}

/** `public.pay_next_instalment(p_plan_id)`, as the customer: a payment of the next
 * instalment of their active plan, or the one already open. Refuses with PTnnn
 * (plan_not_found, plan_not_active, phone_missing, too_many_attempts). */
export function payNextInstalment(
  rpc: Rpc,
  planId: string,
): Promise<InstalmentPayment> {
  return call(rpc, "pay_next_instalment", { p_plan_id: planId });
}

/** What one run of the instalment job did (`public.run_instalment_schedule`). */
export interface InstalmentRun {
  reminded: number;
  cancelled: number;
  busy: number;
  /** New payments of due instalments: each to push. */
  due: InstalmentPayment[];
}

/** `public.run_instalment_schedule(p_limit)`: reminders, cancellations past the grace
 * period, and the payments of due instalments to push. Service role. */
export function runInstalmentSchedule(
  rpc: Rpc,
  limit: number,
): Promise<InstalmentRun> {
  return call(rpc, "run_instalment_schedule", { p_limit: limit });
}
