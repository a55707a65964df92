/** Payment references: what we call a payment when we talk to a provider. The database
 * hands them out (`claim_payment_push`); this only checks one before it goes on the wire. */
import { REFERENCE_PATTERN } from "./contract.ts";

export function isValidReference(value: string): boolean {
  return REFERENCE_PATTERN.test(value);
}
