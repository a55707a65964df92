/**
 * HTTP exchanges with providers (every one bounded by AbortSignal.timeout) and typed
 * accessors for the untrusted JSON they answer. The rules of who is retried and when
 * live in client.ts.
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
  /** What to keep of the reply: its JSON, or the first 2,000 characters of the text. */
  raw: unknown;
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
    const json = parseJson(text);
    return {
      status: response.status,
      headers: response.headers,
      text,
      json,
      raw: json ?? text.slice(0, 2000),
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

/** Text of a string or finite number. A string holding a NUL character is no text we can
 * store or compare (PostgreSQL text cannot hold it): undefined, like any other non-text. */
export function str(value: unknown): string | undefined {
  if (typeof value === "string") {
    return value.includes("\0") ? undefined : value;
  }
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Parses a whole, non-negative amount sent as a number or a string ("1000", "1000.00");
 * null for anything else ("1,000", "", "5000.50", -1, objects …). */
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

/** One field of a provider's report, read: its value, or null and whether that null means
 * "absent" (fine where the provider may leave it out) or "unreadable". */
export interface Reported<T> {
  value: T | null;
  unreadable: boolean;
}

/**
 * Reads a reported field with `parse`. Absent (undefined or null) is unreadable only when
 * `required` (the provider always sends it); present but unparseable always is.
 */
export function reported<T>(
  raw: unknown,
  parse: (value: unknown) => T | null | undefined,
  required: boolean,
): Reported<T> {
  if (raw === undefined || raw === null) {
    return { value: null, unreadable: required };
  }
  const value = parse(raw) ?? null;
  return { value, unreadable: value === null };
}

/** The names of the unreadable fields among `fields`, for ParsedCallback.unreadable. */
export function unreadableOf<K extends string>(
  fields: Record<K, Reported<unknown>>,
): K[] {
  return (Object.keys(fields) as K[]).filter((name) => fields[name].unreadable);
}

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** For an acknowledgement of our own temporary failure: the provider may retry soon. */
export const RETRY_SOON: Record<string, string> = { "Retry-After": "5" };
