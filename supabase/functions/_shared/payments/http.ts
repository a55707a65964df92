/**
 * Bounded HTTP calls to providers. Every call has a timeout (AbortSignal.timeout). Only
 * calls that cannot move money (token/session fetches, status queries) are retried.
 */
import type { FetchLike } from "./types.ts";

export class TransportError extends Error {
  constructor(readonly kind: "timeout" | "network", message: string) {
    super(message);
    this.name = "TransportError";
  }
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or null when the body is empty or not JSON. */
  json: unknown;
}

export interface HttpRequest {
  method: "GET" | "POST" | "PUT";
  headers?: Record<string, string>;
  body?: string;
}

/**
 * One HTTP exchange, body included, within `timeoutMs`. Throws TransportError on timeout
 * or network failure; any HTTP status is returned (the caller interprets it).
 */
export async function httpRequest(
  fetchFn: FetchLike,
  url: string,
  request: HttpRequest,
  timeoutMs: number,
): Promise<HttpResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetchFn(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal,
      redirect: "manual",
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      json: parseJson(text),
    };
  } catch (error) {
    if (error instanceof TransportError) throw error;
    if (signal.aborted || isTimeoutError(error)) {
      throw new TransportError("timeout", `no reply within ${timeoutMs} ms`);
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new TransportError("network", `network error: ${message}`);
  }
}

function isTimeoutError(error: unknown): boolean {
  return error instanceof DOMException &&
    (error.name === "TimeoutError" || error.name === "AbortError");
}

export function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Runs `attempt` up to `attempts` times while it throws TransportError or returns a 5xx.
 * For idempotent calls only (tokens, sessions, status queries) — never for a push.
 */
export async function withRetry(
  attempt: () => Promise<HttpResult>,
  attempts = 2,
  pauseMs = 250,
): Promise<HttpResult> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    try {
      const result = await attempt();
      if (result.status < 500 || i === attempts - 1) return result;
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/** Small typed accessors for untrusted JSON. */
export function obj(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

export function str(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Parses a whole, non-negative amount sent as a number or a string ("1000", "1000.00"). */
export function wholeAmount(value: unknown): number | null {
  const text = typeof value === "number"
    ? String(value)
    : typeof value === "string"
    ? value.trim()
    : "";
  if (!/^[0-9]+(\.0+)?$/.test(text)) return null;
  const amount = Number(text);
  return Number.isSafeInteger(amount) ? amount : null;
}

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** We could not authenticate (token/session refused or unreachable): nothing was sent. */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

/**
 * Runs `send` with a cached credential; on a 401 the credential is dropped and `send` runs
 * once more with a fresh one. A 401 is refused before processing, so even a push may be
 * resent: nothing moved.
 */
export async function withFreshCredentialOn401(
  getCredential: () => Promise<string>,
  invalidate: (credential: string) => void,
  send: (credential: string) => Promise<HttpResult>,
): Promise<HttpResult> {
  const credential = await getCredential();
  const first = await send(credential);
  if (first.status !== 401) return first;
  invalidate(credential);
  return send(await getCredential());
}

/** Wraps token/session fetch failures so they are never mistaken for a push timeout. */
export async function fetchCredential(
  what: string,
  attempt: () => Promise<HttpResult>,
): Promise<HttpResult> {
  try {
    return await withRetry(attempt);
  } catch (error) {
    if (error instanceof TransportError) {
      throw new AuthError(`${what} failed: ${error.message}`);
    }
    throw error;
  }
}
