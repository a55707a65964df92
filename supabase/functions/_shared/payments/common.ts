/** Results shared by the adapters (the HTTP plumbing is client.ts). */
import type { CallbackInput, ParsedCallback, StatusResult } from "./types.ts";

/** For an adapter whose provider sends no callbacks: the call is stored, never applied. */
export function noCallbacks(
  input: CallbackInput,
  message: string,
): ParsedCallback {
  return {
    authentic: false,
    rejection: "unsupported",
    providerRef: null,
    providerTxnId: null,
    state: null,
    failureReason: null,
    amount: null,
    currency: null,
    msisdn: null,
    unreadable: [],
    rawCode: null,
    message,
    raw: input.rawBody.slice(0, 2000),
  };
}

/** What a status answer said beyond the state: for the two answers below. */
interface Answered {
  rawCode: string;
  message?: string;
  raw: unknown;
}

/** The provider has no such transaction (the push never arrived, or too early). */
export function statusNotFound(answer: Answered): StatusResult {
  return { supported: true, state: "ambiguous", notFound: true, ...answer };
}

/** A status answer we cannot use (an error, a 5xx after the retry): nothing learned. */
export function statusUnavailable(answer: Answered): StatusResult {
  return {
    supported: true,
    state: "ambiguous",
    transportError: "provider_unavailable",
    ...answer,
  };
}

/** True when no allow-list is configured, or the source IP is on it. */
export function ipAllowed(
  allowed: string[],
  sourceIp: string | null | undefined,
): boolean {
  if (allowed.length === 0) return true;
  return !!sourceIp && allowed.includes(sourceIp.trim());
}
