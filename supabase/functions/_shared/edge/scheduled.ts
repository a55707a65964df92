/**
 * The calls only the scheduler makes (Supabase Cron through pg_net, the local scheduler, or
 * an operator): POST with the service role key. The gateway has verified the JWT already
 * (`verify_jwt = true`); this checks that it is the service role's.
 */

import { HttpError } from "./http.ts";
import { bearerToken, decodeClaims } from "./jwt.ts";

/** Throws 405 unless POST, 403 `service_role_required` unless the service role calls;
 * `what` ends the refusal: "only the scheduler <what>". */
export function requireSchedulerCall(req: Request, what: string): void {
  if (req.method !== "POST") {
    throw new HttpError(405, "method_not_allowed", "use POST");
  }
  const token = bearerToken(req);
  const claims = token ? decodeClaims(token) : null;
  if (claims?.role !== "service_role") {
    throw new HttpError(
      403,
      "service_role_required",
      `only the scheduler ${what}`,
    );
  }
}

/** The options of a scheduler call: a JSON object, or an empty body for none (400
 * `invalid_json` otherwise). */
export function jobBody(raw: string): Record<string, unknown> {
  if (!raw.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new HttpError(400, "invalid_json", "the body must be a JSON object");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "invalid_json", "the body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/** A whole-number option from `min` to `max`, `fallback` when absent; 422
 * `invalid_option` with `message` otherwise. */
export function wholeOption(
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  message: string,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < min ||
    value > max
  ) {
    throw new HttpError(422, "invalid_option", message);
  }
  return value;
}
