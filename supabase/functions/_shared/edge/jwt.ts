/**
 * Reading claims from a JWT the platform has already verified. With `verify_jwt = true`
 * Supabase's gateway (and the local stack's) rejects a bad signature before the function
 * runs; the Data API verifies it again on every RPC made with it.
 */

export interface Claims {
  sub?: string;
  role?: string;
  exp?: number;
  [key: string]: unknown;
}

export function bearerToken(req: Request): string | null {
  const header = req.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match ? match[1] : null;
}

export function decodeClaims(token: string): Claims | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const claims = JSON.parse(atob(padded));
    return claims && typeof claims === "object" ? claims as Claims : null;
  } catch {
    return null;
  }
}
