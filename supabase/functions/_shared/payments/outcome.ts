/**
 * What a provider's answer to a refund or a payout means for our records: the outcome the
 * SQL functions take (`record_refund_outcome`, `record_payout_outcome`) and the failure
 * text they keep.
 */

/** `done` (refunded, paid) is succeeded, failed is failed, anything else is not final. */
export function providerOutcome<S extends string>(
  state: S,
  done: S,
): "succeeded" | "failed" | "ambiguous" {
  return state === done
    ? "succeeded"
    : state === "failed"
    ? "failed"
    : "ambiguous";
}

/** `reason: provider message`, for the operator and the notification (SQL keeps 500
 * characters). */
export function failureText(reason: string, message?: string): string {
  return message ? `${reason}: ${message.slice(0, 300)}` : reason;
}

/** An exception's message, or the thrown value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
