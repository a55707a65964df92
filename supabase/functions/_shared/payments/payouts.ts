/**
 * What the adapters share to pay vendors (PayoutAdapter): the same B2C products carry a
 * refund sent as a payout (Airtel disbursement, Mixx Account to Wallet, a ClickPesa payout),
 * so an adapter sends a vendor's payout through its refund code and reads the answer here as
 * a payout's: `refunded` is `paid`, the method is the payout's name for it.
 */
import type { AuthError } from "./client.ts";
import { MSISDN_PATTERN, type PayoutMethod } from "./contract.ts";
import { TransportError } from "./http.ts";
import { isValidReference } from "./reference.ts";
import type {
  PayoutRequest,
  PayoutResult,
  PayoutState,
  PayoutStatusResult,
  RefundResult,
  RefundState,
  RefundStatusResult,
  WalletHolderResult,
} from "./types.ts";

function payoutState(state: RefundState): PayoutState {
  return state === "refunded" ? "paid" : state;
}

/** A refund-shaped answer of a B2C call, as the payout's answer. */
export function payoutFromRefund(
  result: RefundResult,
  method: PayoutMethod,
): PayoutResult {
  if (!result.supported) return result;
  const { method: _refundMethod, state, providerRefundId, ...rest } = result;
  return {
    ...rest,
    method,
    state: payoutState(state),
    ...(providerRefundId === undefined
      ? {}
      : { providerPayoutId: providerRefundId }),
  };
}

/** A refund-shaped status answer, as the payout's. */
export function payoutStatusFromRefund(
  result: RefundStatusResult,
): PayoutStatusResult {
  if (!result.supported) return result;
  const { state, providerRefundId, ...rest } = result;
  return {
    ...rest,
    state: payoutState(state),
    ...(providerRefundId === undefined
      ? {}
      : { providerPayoutId: providerRefundId }),
  };
}

/**
 * A payout request that cannot be sent is our bug (SQL hands out references, amounts and
 * wallets that pass these checks): it throws before anything is sent.
 */
export function assertPayoutRequest(request: PayoutRequest): void {
  if (!isValidReference(request.reference)) {
    throw new RangeError("payout reference must be 4-20 letters/digits");
  }
  if (!Number.isSafeInteger(request.amount) || request.amount <= 0) {
    throw new RangeError("payout amount must be a positive whole number");
  }
  if (!MSISDN_PATTERN.test(request.msisdn)) {
    throw new RangeError("payout wallet must be 255 + 9 digits");
  }
}

/** A holder's name as a provider reports it in parts (first, last …): the non-empty parts
 * joined by one space, or null when there is none. */
export function holderName(...parts: unknown[]): string | null {
  const words = parts
    .filter((p): p is string => typeof p === "string")
    .map((p) =>
      Array.from(p, (c) => c.charCodeAt(0) < 0x20 || c === "\x7f" ? " " : c)
        .join("").trim()
    )
    .filter((p) => p.length > 0);
  return words.length
    ? words.join(" ").replace(/\s+/g, " ").slice(0, 200)
    : null;
}

/** The lookup's answer when nothing was learned. */
export function lookupUnavailable(
  message: string,
  extra: Partial<Extract<WalletHolderResult, { supported: true }>> = {},
): WalletHolderResult {
  return {
    supported: true,
    outcome: "unavailable",
    message,
    raw: null,
    ...extra,
  };
}

/** The lookup could not be asked: no credential, or no answer. */
export function lookupNotAsked(
  error: AuthError | TransportError,
): WalletHolderResult {
  return lookupUnavailable(error.message, {
    transportError: error instanceof TransportError
      ? error.kind
      : "provider_unavailable",
  });
}
