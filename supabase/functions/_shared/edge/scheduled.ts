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
