/**
 * HTTP helpers shared by our Edge Functions: JSON responses, one error shape, CORS for the
 * apps, and request-body limits.
 */

/** CORS for the customer app and the admin dashboard (browsers call checkout-initiate). */
export const corsHeaders: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers":
    "authorization, x-client-info, apikey, content-type, idempotency-key, x-supabase-api-version",
  "Access-Control-Allow-Methods": "POST, OPTIONS",
  "Access-Control-Expose-Headers": "idempotency-key, idempotent-replayed",
  "Access-Control-Max-Age": "86400",
};

/** An error the client caused or should know about; becomes a JSON response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Seconds after which a retry may succeed (sent as Retry-After, with 429 and 503). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Our own temporary failure (database busy or unreachable, a bug): 503 with Retry-After,
 * never a 500 and never the underlying error's text. */
export function unavailable(message: string, retryAfter = 2): HttpError {
  return new HttpError(
    503,
    "temporarily_unavailable",
    message,
    undefined,
    retryAfter,
  );
}

export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

/** `{"error": {"code", "message", "details"?}}` with the status of the error. */
export function errorResponse(
  error: HttpError,
  headers: Record<string, string> = {},
): Response {
  const body: Record<string, unknown> = {
    code: error.code,
    message: error.message,
  };
  if (error.details !== undefined) body.details = error.details;
  const extra: Record<string, string> = error.retryAfter === undefined
    ? {}
    : { "Retry-After": String(error.retryAfter) };
  return json(error.status, { error: body }, { ...headers, ...extra });
}

/** Reads the body as text (invalid UTF-8 replaced), refusing more than `limit` bytes. */
export async function readBody(req: Request, limit: number): Promise<string> {
  return decodeText(await readBodyBytes(req, limit));
}

/** Bytes as UTF-8 text, invalid sequences replaced (never throws). */
export function decodeText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** `\x…`: bytes as PostgreSQL's hex bytea literal, for a bytea RPC argument. */
export function byteaHex(bytes: Uint8Array): string {
  let hex = "\\x";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** Reads the body's bytes exactly, refusing more than `limit` bytes (413) without
 * buffering it all. */
export async function readBodyBytes(
  req: Request,
  limit: number,
): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) {
    throw new HttpError(
      413,
      "payload_too_large",
      `request body over ${limit} bytes`,
    );
  }
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new HttpError(
        413,
        "payload_too_large",
        `request body over ${limit} bytes`,
      );
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * The header that carries the caller's address as the platform's edge saw it. Hosted
 * Supabase serves functions behind Cloudflare, which sets `CF-Connecting-IP` to the
 * connecting address and overwrites any value the client sent; the local stack's gateway
 * does the same. `X-Forwarded-For` is not used: its first hop is whatever the client wrote.
 * Override with CLIENT_IP_HEADER when another trusted proxy sits in front.
 */
export const DEFAULT_CLIENT_IP_HEADER = "cf-connecting-ip";

/** The caller's address from the trusted header, or null when it is missing or not one
 * IPv4/IPv6 address (an allow-list then refuses: fail closed). */
export function clientIp(
  req: Request,
  header: string = DEFAULT_CLIENT_IP_HEADER,
): string | null {
  const value = req.headers.get(header)?.trim() ?? "";
  return isIpAddress(value) ? value : null;
}

const IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$/;

/** True for one IPv4 address in dotted form or one IPv6 address. */
export function isIpAddress(value: string): boolean {
  if (IPV4.test(value)) return true;
  if (!value.includes(":") || !/^[0-9A-Fa-f:.]{2,45}$/.test(value)) {
    return false;
  }
  try {
    return new URL(`http://[${value}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}
