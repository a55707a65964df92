/**
 * Phone numbers. Our canonical form is the contract's `public.msisdn`: `255` + 9 digits
 * (what GoTrue stores, without `+`). Each adapter converts to what its provider wants.
 */
import { MSISDN_PATTERN } from "./contract.ts";

export function isCanonicalMsisdn(value: string): boolean {
  return MSISDN_PATTERN.test(value);
}

/**
 * Normalizes a Tanzanian number to the canonical form, or returns null when it cannot be
 * one. Accepts `255XXXXXXXXX`, `+255 XXX XXX XXX`, `0XXXXXXXXX` and the 9-digit national
 * number; spaces, dashes and dots are ignored.
 */
export function toCanonicalMsisdn(value: unknown): string | null {
  if (typeof value !== "string" && typeof value !== "number") return null;
  let digits = String(value).trim().replace(/[\s\-.()]/g, "");
  if (digits.startsWith("+")) digits = digits.slice(1);
  if (!/^[0-9]+$/.test(digits)) return null;
  if (digits.length === 12 && digits.startsWith("255")) return digits;
  if (digits.length === 10 && digits.startsWith("0")) {
    return "255" + digits.slice(1);
  }
  if (digits.length === 9 && !digits.startsWith("0")) return "255" + digits;
  return null;
}

/** The 9-digit national subscriber number (Airtel's `subscriber.msisdn`). */
export function toNationalMsisdn(canonical: string): string {
  if (!isCanonicalMsisdn(canonical)) {
    throw new RangeError(`not a canonical msisdn: ${canonical}`);
  }
  return canonical.slice(3);
}
