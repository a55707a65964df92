/** Failure-reason normalization shared by adapters whose providers only send free text. */
import type { FailureReason } from "./types.ts";

const RULES: Array<[RegExp, FailureReason]> = [
  [
    /insufficient|not enough (balance|funds)|low balance|balance is insufficient/i,
    "insufficient_funds",
  ],
  [/\bpin\b|password|authenticat/i, "wrong_pin"],
  [/cancel|reject|declin|refused|aborted/i, "cancelled"],
  [/time ?out|timed out|expired|no response|did not respond/i, "timeout"],
  [/limit|exceed/i, "limit"],
  [
    /(invalid|unknown|unregistered|not registered).*(msisdn|number|subscriber|phone|wallet|account)|(msisdn|number|subscriber|phone).*(invalid|not registered|not found)/i,
    "invalid_msisdn",
  ],
];

/** Best-effort reason from a provider's message; `provider_error` when nothing matches. */
export function reasonFromText(text: unknown): FailureReason {
  if (typeof text !== "string" || text.length === 0) return "provider_error";
  for (const [pattern, reason] of RULES) {
    if (pattern.test(text)) return reason;
  }
  return "provider_error";
}
