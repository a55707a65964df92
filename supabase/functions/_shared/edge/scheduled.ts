/**
 * The calls only the scheduler makes (Supabase Cron through pg_net, the local scheduler, or
 * an operator): POST with the service role key. The gateway has verified the JWT already
 * (`verify_jwt = true`); this checks that it is the service role's.
 */

import { HttpError } from "./http.ts";
import { bearerToken, decodeClaims } from "./jwt.ts";
import { reportError } from "./observe.ts";

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

/** The options of a job that sends and then asks about what it sent (refunds, payouts). */
export interface SendAndAskOptions {
  /** at most this many rows per run */
  limit: number;
  /** a processing row is asked about only after this long without an answer */
  staleSeconds: number;
  /** no new row starts after this; one started may take its provider calls' time */
  budgetMs: number;
}

/** `limit` (1–500) and `stale_seconds` (`minStaleSeconds`–86400) from the body, the
 * `defaults` for the rest; 422 `invalid_option` when out of range. */
export function sendAndAskOptions(
  raw: string,
  defaults: SendAndAskOptions,
  minStaleSeconds: number,
): SendAndAskOptions {
  const body = jobBody(raw);
  const message =
    "limit must be a whole number from 1 to 500, stale_seconds from " +
    `${minStaleSeconds} to 86400`;
  return {
    limit: wholeOption(body.limit, defaults.limit, 1, 500, message),
    staleSeconds: wholeOption(
      body.stale_seconds,
      defaults.staleSeconds,
      minStaleSeconds,
      86_400,
      message,
    ),
    budgetMs: defaults.budgetMs,
  };
}

type Row = Record<string, unknown>;

/**
 * Works through `due` in order, one row each: `work`'s row, or once `budgetMs` has passed
 * since the start `{...key, result: "deferred"}` (due again next run), or when `work` throws
 * (a database call failed) `{...key, result: "error"}`, reported as `<what> failed:`.
 */
export async function workThrough<T>(
  due: readonly T[],
  clock: { budgetMs: number; now(): number },
  about: (item: T) => { key: Row; what: string },
  work: (item: T) => Promise<Row>,
): Promise<Row[]> {
  const started = clock.now();
  const results: Row[] = [];
  for (const item of due) {
    const { key, what } = about(item);
    if (clock.now() - started > clock.budgetMs) {
      results.push({ ...key, result: "deferred" });
      continue;
    }
    try {
      results.push(await work(item));
    } catch (error) {
      reportError(`${what} failed:`, error);
      results.push({ ...key, result: "error" });
    }
  }
  return results;
}

/** How many rows ended with each `result`. */
export function countResults(results: readonly Row[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) {
    const key = String(r.result);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
