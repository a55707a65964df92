/**
 * Calling our SQL functions through the Data API, as the user or as the service role.
 * Edge Functions never compute prices or states: each step is one RPC.
 */
import {
  createClient,
  type SupabaseClient,
} from "npm:@supabase/supabase-js@2.119.0";
import { HttpError, unavailable } from "./http.ts";
import { reportError } from "./observe.ts";

export type Rpc = (
  fn: string,
  args: Record<string, unknown>,
) => Promise<unknown>;

/** Reads rows of one table (`columns`, where each `match` column equals its value) as the
 * client's role: for the few reads an Edge Function needs besides its RPCs. */
export type Select = (
  table: string,
  columns: string,
  match: Record<string, string>,
) => Promise<Record<string, unknown>[]>;

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
 * SQLSTATEs after which the whole transaction was rolled back and the same call may simply
 * run again: deadlock, serialization failure, a NOWAIT lock that was busy.
 */
const RETRYABLE = new Set(["40P01", "40001", "55P03"]);

/** How often an RPC is tried when the database reports a retryable conflict. */
export const RPC_ATTEMPTS = 3;

export function isRetryable(error: PostgrestErrorLike): boolean {
  return RETRYABLE.has(error.code ?? "");
}

/**
 * Maps a Data API error to an HttpError. Our SQL functions raise `PTnnn` SQLSTATEs
 * (PostgREST turns them into HTTP nnn) with a machine-readable code in DETAIL: those pass
 * through with their message, written for the client. Anything else is not ours to show:
 * PostgreSQL's own text (constraint names, lock details) never reaches the client, and a
 * conflict, a 5xx or an unreachable database becomes 503 with Retry-After.
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
    const http = Number(code.slice(2));
    return new HttpError(
      http,
      reason ?? "request_refused",
      error.message ?? "refused",
      error.hint ? safeJson(error.hint) : undefined,
      http === 429 || http === 503 ? 30 : undefined,
    );
  }
  if (isRetryable(error) || status >= 500 || status < 400) {
    return unavailable("the database is busy; retry in a moment");
  }
  if (status === 401 || status === 403) {
    return new HttpError(status, "not_allowed", "not allowed");
  }
  return new HttpError(
    status === 404 ? 404 : 400,
    "bad_request",
    "the request was refused",
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Wraps a client into `rpc(fn, args)` that returns data or throws HttpError. A call that
 * lost a deadlock or a serialization race (its transaction rolled back, nothing happened)
 * runs again, up to RPC_ATTEMPTS times, after a short random pause.
 */
export function rpcWith(client: SupabaseClient): Rpc {
  return async (fn, args) => {
    for (let attempt = 1;; attempt++) {
      const { data, error, status } = await client.rpc(fn, args);
      if (!error) return data;
      if (!isRetryable(error) || attempt >= RPC_ATTEMPTS) {
        if (isRetryable(error) || status >= 500) {
          reportError(`rpc ${fn} failed (${error.code ?? status})`);
        }
        throw toHttpError(error, status);
      }
      await new Promise((resolve) =>
        setTimeout(resolve, 20 * attempt + Math.random() * 50)
      );
    }
  };
}

/** Wraps a client into `select(table, columns, match)` that returns rows or throws
 * HttpError (503 for anything but a refusal, never PostgreSQL's text). */
export function selectWith(client: SupabaseClient): Select {
  return async (table, columns, match) => {
    let query = client.from(table).select(columns);
    for (const [column, value] of Object.entries(match)) {
      query = query.eq(column, value);
    }
    const { data, error, status } = await query;
    if (error) {
      reportError(`select ${table} failed (${error.code ?? status})`);
      throw toHttpError(error, status);
    }
    return (data ?? []) as unknown as Record<string, unknown>[];
  };
}
