/**
 * The payment contract on the TypeScript side, written once. The database owns it: each
 * value below mirrors a SQL definition in supabase/migrations, named beside it, and
 * tests/payments/test_contract.py fails when the two differ. Everything else in the Edge
 * Functions (types, adapters, handlers) takes these values from here.
 */

/** `public.payment_provider`: the providers a customer can pay with, in the domain's
 * order (the path segment of payment-webhook, the name of an adapter). */
export const PROVIDERS = ["mpesa", "airtel", "mixx", "halopesa"] as const;
export type ProviderName = typeof PROVIDERS[number];

/** `public.payment_status`: every state of a payment (machine in
 * `private.status_transitions`). */
export const PAYMENT_STATES = [
  "pending",
  "initiated",
  "ambiguous",
  "succeeded",
  "failed",
  "expired",
  "refunded",
  "partially_refunded",
] as const;
export type PaymentState = typeof PAYMENT_STATES[number];

/** `public.order_status`: every state of an order. */
export const ORDER_STATES = [
  "pending_payment",
  "paid",
  "processing",
  "partially_shipped",
  "shipped",
  "delivered",
  "completed",
  "cancelled",
  "expired",
  "return_requested",
  "returned",
] as const;
export type OrderState = typeof ORDER_STATES[number];

/** `public.refund_status`: every state of a refund (machine `refund` in
 * `private.status_transitions`). */
export const REFUND_STATES = [
  "requested",
  "processing",
  "succeeded",
  "failed",
  "manual",
] as const;
export type RefundStatus = typeof REFUND_STATES[number];

/** `public.refunds.method` (check `refunds_method_allowed`): how a refund went back. The
 * adapters send by the first three; `manual` is a person's. */
export const REFUND_METHODS = [
  "reversal",
  "refund",
  "payout",
  "manual",
] as const;

/** `public.msisdn`: a Tanzanian mobile number as GoTrue stores it, 255 + 9 digits. */
export const MSISDN_PATTERN = /^255[0-9]{9}$/;

/** `public.idempotency_key`: 8-255 printable ASCII characters, no spaces. The database
 * checks it; checkout-initiate leaves that to it. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{8,255}$/;

/** `private.payment_references.reference`: our reference of a payment towards its
 * provider (`WP` + 18 hex characters by default; 20 is M-Pesa's limit). */
export const REFERENCE_PATTERN = /^[A-Za-z0-9]{4,20}$/;

export function isProviderName(value: unknown): value is ProviderName {
  return typeof value === "string" &&
    (PROVIDERS as readonly string[]).includes(value);
}

/** `private.vendor_payouts.status` (check `vendor_payouts_status_allowed`; machine `payout`
 * in `private.status_transitions`). */
export const PAYOUT_STATES = [
  "pending",
  "processing",
  "paid",
  "failed",
  "cancelled",
] as const;
export type PayoutStatus = typeof PAYOUT_STATES[number];

/** `private.vendor_payouts.method` (check `vendor_payouts_method_allowed`): how a vendor's
 * payout went out. M-Pesa B2C and Mixx's Account to Wallet are `b2c`, Airtel's
 * `disbursement`, ClickPesa's (HaloPesa wallets) `payout`. */
export const PAYOUT_METHODS = ["b2c", "disbursement", "payout"] as const;
export type PayoutMethod = typeof PAYOUT_METHODS[number];

/** The prefix of our references, as the database draws them (the column defaults of
 * `public.refunds.reference` and `private.vendor_payouts.reference`): a provider's payout
 * callback names one or the other, and payment-webhook asks that side first. */
export const REFUND_REFERENCE_PREFIX = "WR";
export const PAYOUT_REFERENCE_PREFIX = "WO";
