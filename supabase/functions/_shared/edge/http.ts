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
  ) {
    super(message);
    this.name = "HttpError";
  }
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
  return json(error.status, { error: body }, headers);
}

/** Reads the body as text, refusing more than `limit` bytes (413) without buffering it all. */
export async function readBody(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) {
    throw new HttpError(
      413,
      "payload_too_large",
      `request body over ${limit} bytes`,
    );
  }
  if (!req.body) return "";
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
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** The caller's address as the platform reports it (first X-Forwarded-For hop). */
export function clientIp(req: Request): string | null {
  const forwarded = req.headers.get("x-forwarded-for");
  if (forwarded) return forwarded.split(",")[0].trim() || null;
  return req.headers.get("x-real-ip");
}
