/**
 * Calling our SQL functions through the Data API, as the user or as the service role.
 * Edge Functions never compute prices or states: each step is one RPC.
 */
import {
  createClient,
  type SupabaseClient,
} from "npm:@supabase/supabase-js@2.119.0";
import { HttpError } from "./http.ts";

export type Rpc = (
  fn: string,
  args: Record<string, unknown>,
) => Promise<unknown>;

function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

let service: SupabaseClient | null = null;

/** The service-role client (bypasses RLS; only our internal RPCs are granted to it). */
export function serviceClient(): SupabaseClient {
  service ??= createClient(
    env("SUPABASE_URL"),
    env("SUPABASE_SERVICE_ROLE_KEY"),
    {
      auth: { persistSession: false, autoRefreshToken: false },
    },
  );
  return service;
}

/** A client acting as the caller: the Data API runs RPCs with the caller's JWT. */
export function userClient(accessToken: string): SupabaseClient {
  return createClient(env("SUPABASE_URL"), env("SUPABASE_ANON_KEY"), {
    global: { headers: { Authorization: `Bearer ${accessToken}` } },
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

interface PostgrestErrorLike {
  code?: string;
  message?: string;
  details?: string | null;
  hint?: string | null;
}

/**
 * Maps a Data API error to an HttpError. Our SQL functions raise `PTnnn` SQLSTATEs
 * (PostgREST turns them into HTTP nnn) with a machine-readable code in DETAIL.
 */
export function toHttpError(
  error: PostgrestErrorLike,
  status: number,
): HttpError {
  const code = error.code ?? "";
  const reason = error.details && /^[a-z_]+$/.test(error.details)
    ? error.details
    : null;
  if (/^PT\d{3}$/.test(code)) {
    return new HttpError(
      Number(code.slice(2)),
      reason ?? "request_refused",
      error.message ?? "refused",
      error.hint ? safeJson(error.hint) : undefined,
    );
  }
  if (status === 401 || status === 403) {
    return new HttpError(status, "not_allowed", error.message ?? "not allowed");
  }
  if (status >= 400 && status < 500) {
    return new HttpError(
      status,
      reason ?? "bad_request",
      error.message ?? "bad request",
    );
  }
  return new HttpError(
    503,
    "database_unavailable",
    "the database could not complete the request",
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Wraps a client into `rpc(fn, args)` that returns data or throws HttpError. */
export function rpcWith(client: SupabaseClient): Rpc {
  return async (fn, args) => {
    const { data, error, status } = await client.rpc(fn, args);
    if (error) throw toHttpError(error, status);
    return data;
  };
}
