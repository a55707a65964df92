/** Helpers shared by the adapters. */
import { AuthError, TransportError } from "./http.ts";
import { isValidReference } from "./reference.ts";
import type {
  InitiateResult,
  PaymentRequest,
  RefundResult,
  StatusResult,
} from "./types.ts";

/** Programming errors (not customer errors) in a payment request throw. */
export function assertPayment(payment: PaymentRequest): void {
  if (!isValidReference(payment.reference)) {
    throw new RangeError("payment reference must be 1-20 letters/digits");
  }
  if (!Number.isSafeInteger(payment.amount) || payment.amount <= 0) {
    throw new RangeError("amount must be a positive whole number of TZS");
  }
  if (payment.currency !== "TZS") {
    throw new RangeError("only TZS is supported");
  }
}

/** The result for a customer msisdn that is not canonical: refused before any call. */
export function invalidMsisdn(providerRef: string): InitiateResult {
  return {
    state: "failed",
    providerRef,
    failureReason: "invalid_msisdn",
    message: "msisdn is not 255 + 9 digits; nothing was sent",
    raw: null,
  };
}

/**
 * Maps an exception thrown around a push: no token/session → `failed` (the push was never
 * sent); timeout or network failure → `ambiguous` (it may have been received).
 */
export function pushError(error: unknown, providerRef: string): InitiateResult {
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

/** A refund request that got no usable answer: refused before processing (no token,
 * nothing moved) or lost in transit (unknown: check by hand). */
export function refundError(error: unknown): RefundResult {
  if (error instanceof AuthError) {
    return {
      supported: true,
      state: "failed",
      message: error.message,
      raw: null,
    };
  }
  if (error instanceof TransportError) {
    return {
      supported: true,
      state: "ambiguous",
      transportError: error.kind,
      message: error.message,
      raw: null,
    };
  }
  throw error;
}

/** A status query that could not be asked: nothing learned. */
export function statusError(error: unknown): StatusResult {
  if (error instanceof AuthError || error instanceof TransportError) {
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

/** True when no allow-list is configured, or the source IP is on it. */
export function ipAllowed(
  allowed: string[],
  sourceIp: string | null | undefined,
): boolean {
  if (allowed.length === 0) return true;
  return !!sourceIp && allowed.includes(sourceIp.trim());
}

/** At most `max` characters of a reply body, for storage. */
export function rawOf(json: unknown, text: string, max = 2000): unknown {
  return json ?? text.slice(0, max);
}
