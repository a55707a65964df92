// One supabase-js client with the anon key; the admin's session (from phone OTP) rides on it.
// The service role key never reaches the browser: every rule is RLS and the SQL functions.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";

declare global {
  interface Window {
    __WATS_CONFIG__?: { supabaseUrl?: string; anonKey?: string };
  }
}

export interface DashboardConfig {
  supabaseUrl: string;
  anonKey: string;
}

/** Runtime settings (/config.js, served by the local stack) win over build-time VITE_*. */
export function readConfig(
  runtime: Window["__WATS_CONFIG__"] = typeof window === "undefined" ? undefined : window.__WATS_CONFIG__,
  env: Record<string, string | undefined> = import.meta.env,
): DashboardConfig | null {
  const supabaseUrl = runtime?.supabaseUrl || env.VITE_SUPABASE_URL;
  const anonKey = runtime?.anonKey || env.VITE_SUPABASE_ANON_KEY;
  return supabaseUrl && anonKey ? { supabaseUrl, anonKey } : null;
}

let client: SupabaseClient | null = null;

export function supabase(): SupabaseClient {
  if (!client) {
    const config = readConfig();
    if (!config) throw new Error("VITE_SUPABASE_URL and VITE_SUPABASE_ANON_KEY are not set");
    client = createClient(config.supabaseUrl, config.anonKey, {
      auth: { persistSession: true, autoRefreshToken: true, storageKey: "wats-admin-auth" },
    });
  }
  return client;
}

/** PostgREST/RPC errors as one readable line. */
export function errorText(error: unknown): string {
  if (!error) return "";
  if (typeof error === "string") return error;
  const e = error as { message?: string; code?: string; details?: string };
  return [e.code, e.message].filter(Boolean).join(": ") || String(error);
}
