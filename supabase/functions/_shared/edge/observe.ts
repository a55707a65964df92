/**
 * Observability of every Edge Function (issue 12): one JSON log line per request, and
 * errors reported to Sentry through the official Deno SDK when `SENTRY_DSN` is set (nothing
 * at all when it is not).
 *
 * - `serveObserved(name, handler)` is what each function's index.ts passes to Deno.serve:
 *   it gives the request an id (the caller's `x-request-id`, the platform's
 *   `sb-execution-id`, or a new UUID), times it, turns a thrown error into a 500 JSON answer
 *   reported to Sentry, and logs `{"fn", "route", "method", "status", "duration_ms",
 *   "request_id", "payment_id"?, "order_id"?, "phone"?}` (the ids and a masked phone taken
 *   from the JSON answer).
 * - `reportError(...args)` replaces console.error where a provider call or a step failed:
 *   the same log line as before, and a Sentry event tagged with the function.
 *
 * Nothing personal leaves: every string of an event passes `scrub`, which masks phone
 * numbers (255****5678), and drops bearer tokens, JWTs, PINs, passwords, secrets and keys.
 * Sentry's default integrations stay off (Deno.serve is not instrumented; reference
 * post-purchase.md §6), and each event is flushed before the answer returns.
 */

import * as Sentry from "npm:@sentry/deno@10.75.2";

type Handler = (req: Request) => Response | Promise<Response>;

let functionName = "unknown";
let sentryReady: boolean | null = null;

/** 255712345678 / +255 712 345 678 / 0712345678 -> 255****5678 */
const PHONE =
  /(?<![0-9])(?:\+?255[\s-]?|0)([67][0-9]{2})[\s-]?([0-9]{3})[\s-]?([0-9]{3})(?![0-9])/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;
const SECRET_PAIR =
  /\b(pin|password|passwd|secret|api[_-]?key|token|authorization|client[_-]?secret)(["']?\s*[:=]\s*["']?)[^\s"',&}]+/gi;
const SECRET_KEY =
  /pin|password|passwd|secret|api[_-]?key|token|authorization|cookie|credential|msisdn|phone/i;

export function maskPhone(value: string): string {
  const digits = value.replace(/[^0-9]/g, "");
  return digits.length >= 8
    ? `${digits.slice(0, 3)}****${digits.slice(-4)}`
    : "****";
}

/** A string with phones masked and credentials removed. */
export function scrub(text: string): string {
  return text
    .replace(JWT, "[jwt]")
    .replace(BEARER, "$1 [redacted]")
    .replace(SECRET_PAIR, "$1$2[redacted]")
    .replace(
      PHONE,
      (match) =>
        maskPhone(match.startsWith("0") ? `255${match.slice(1)}` : match),
    );
}

/** Any JSON-like value scrubbed: strings through `scrub`, secret-named fields dropped. */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrub(value);
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_KEY.test(key) && typeof inner === "string") {
      out[key] = /phone|msisdn/i.test(key) ? maskPhone(inner) : "[redacted]";
    } else {
      out[key] = scrubValue(inner, depth + 1);
    }
  }
  return out;
}

function sentry(): boolean {
  if (sentryReady !== null) return sentryReady;
  const dsn = Deno.env.get("SENTRY_DSN");
  sentryReady = Boolean(dsn);
  if (dsn) {
    Sentry.init({
      dsn,
      defaultIntegrations: false,
      tracesSampleRate: 0,
      sendDefaultPii: false,
      environment: Deno.env.get("SENTRY_ENVIRONMENT") || undefined,
      release: Deno.env.get("SENTRY_RELEASE") || undefined,
      beforeSend: (event) => scrubValue(event) as typeof event,
      beforeBreadcrumb: () => null,
    });
    const region = Deno.env.get("SB_REGION");
    if (region) Sentry.setTag("region", region);
  }
  return sentryReady;
}

/** Only for tests: forget the SDK's state so the next request reads SENTRY_DSN again. */
export function resetObservability(): void {
  sentryReady = null;
}

function errorOf(args: unknown[]): Error {
  const found = args.find((a) => a instanceof Error);
  const text = args.filter((a) => !(a instanceof Error)).map(String).join(" ");
  if (found instanceof Error) {
    const copy = new Error(
      scrub(text ? `${text} ${found.message}` : found.message),
    );
    copy.name = found.name;
    copy.stack = found.stack ? scrub(found.stack) : undefined;
    return copy;
  }
  return new Error(scrub(text || "error"));
}

const pending: Promise<unknown>[] = [];

/** console.error, and a Sentry event (when SENTRY_DSN is set) tagged with the function. */
export function reportError(...args: unknown[]): void {
  console.error(...args.map((a) => (typeof a === "string" ? scrub(a) : a)));
  if (!sentry()) return;
  Sentry.withScope((scope) => {
    scope.setTag("function", functionName);
    Sentry.captureException(errorOf(args));
  });
  pending.push(Sentry.flush(2000));
}

async function flushed(): Promise<void> {
  const waiting = pending.splice(0);
  if (waiting.length) await Promise.allSettled(waiting);
}

function requestId(req: Request): string {
  return req.headers.get("x-request-id") ||
    req.headers.get("sb-execution-id") ||
    crypto.randomUUID();
}

/** The path without anything that may be a secret (payment-webhook's per-payment callback
 * token): segments that are not plain words become `:param`. */
export function routeOf(url: string): string {
  return new URL(url).pathname.split("/").map((segment) =>
    segment === "" || /^[a-z_-]{1,40}$/.test(segment) ? segment : ":param"
  ).join("/");
}

async function idsOf(res: Response): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!(res.headers.get("content-type") ?? "").includes("json")) return out;
  try {
    const text = await res.clone().text();
    if (text.length > 65536) return out;
    const body = JSON.parse(text);
    if (body && typeof body === "object" && !Array.isArray(body)) {
      for (const key of ["payment_id", "order_id", "refund_id", "payout_id"]) {
        if (typeof body[key] === "string") out[key] = body[key];
      }
      for (const key of ["msisdn", "phone"]) {
        if (typeof body[key] === "string") out.phone = maskPhone(body[key]);
      }
    }
  } catch {
    // not JSON after all: no ids
  }
  return out;
}

/** The Deno.serve handler of function `name`: request ids, a JSON log line, Sentry. */
export function serveObserved(name: string, handler: Handler): Handler {
  functionName = name;
  return async (req: Request): Promise<Response> => {
    const started = performance.now();
    const id = requestId(req);
    let res: Response;
    try {
      res = await handler(req);
    } catch (error) {
      if (sentry()) {
        Sentry.withScope((scope) => {
          scope.setTag("function", name);
          scope.setTag("request_id", id);
          Sentry.captureException(errorOf([error]));
        });
        pending.push(Sentry.flush(2000));
      }
      console.error(`${name} failed:`, scrub(String(error)));
      res = new Response(
        JSON.stringify({
          error: { code: "internal_error", message: "Internal error" },
        }),
        { status: 500, headers: { "Content-Type": "application/json" } },
      );
    }
    await flushed();
    const line = {
      level: res.status >= 500 ? "error" : "info",
      fn: name,
      route: routeOf(req.url),
      method: req.method,
      status: res.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      request_id: id,
      ...(await idsOf(res)),
    };
    console.log(JSON.stringify(line));
    const headers = new Headers(res.headers);
    headers.set("x-request-id", id);
    return new Response(res.body, {
      status: res.status,
      statusText: res.statusText,
      headers,
    });
  };
}
