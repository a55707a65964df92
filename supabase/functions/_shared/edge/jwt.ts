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

/**
 * The database roles a signed-in person's token names: `authenticated`, or `wats_admin`,
 * which the custom access token hook gives admins (docs/database.md, "Audiences").
 */
export const SIGNED_IN_ROLES: readonly string[] = [
  "authenticated",
  "wats_admin",
];

/** The claims of a token that belongs to a signed-in person (a role of SIGNED_IN_ROLES and
 * a subject), or null: anon and the service role are nobody here. */
export function signedInClaims(
  claims: Claims | null,
): (Claims & { sub: string }) | null {
  if (!claims || typeof claims.sub !== "string" || !claims.sub) return null;
  if (!SIGNED_IN_ROLES.includes(claims.role ?? "")) return null;
  return claims as Claims & { sub: string };
}
