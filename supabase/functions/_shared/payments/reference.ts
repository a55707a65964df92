/** Payment references: what we call a payment when we talk to a provider. */

export const REFERENCE_PATTERN = /^[A-Za-z0-9]{1,20}$/;

export function isValidReference(value: string): boolean {
  return REFERENCE_PATTERN.test(value);
}

/**
 * A stable 20-character reference for a payment id (uuid): `W` + the first 19 hex digits
 * of the uuid. Random v4 uuids make it unguessable (72 random bits) and unique in
 * practice; the same payment always yields the same reference, so a retried push is a
 * duplicate the provider can refuse.
 */
export function referenceFromPaymentId(paymentId: string): string {
  const hex = paymentId.replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) {
    throw new RangeError(`not a uuid: ${paymentId}`);
  }
  return "W" + hex.slice(0, 19).toUpperCase();
}
