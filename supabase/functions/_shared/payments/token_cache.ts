/**
 * Module-scope cache of access tokens and sessions. An edge-function instance serves many
 * requests, so a token fetched once is reused until shortly before it expires. Concurrent
 * callers share one in-flight fetch.
 */

export interface CachedToken {
  value: string;
  /** Epoch milliseconds after which the token must not be used. */
  expiresAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  async get(
    key: string,
    now: () => number,
    fetcher: () => Promise<CachedToken>,
  ): Promise<string> {
    const cached = this.entries.get(key);
    if (cached && cached.expiresAt > now()) return cached.value;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetcher().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const fresh = await pending;
    this.entries.set(key, fresh);
    return fresh.value;
  }

  /** Drops the cached token (after a 401), unless another caller already replaced it. */
  invalidate(key: string, value?: string): void {
    const cached = this.entries.get(key);
    if (cached && (value === undefined || cached.value === value)) {
      this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.inflight.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The process-wide cache every adapter uses. */
export const tokenCache = new TokenCache();

/**
 * When to stop using a token that lives `lifetimeMs`: a safety margin of 10 % (at least
 * 30 s, at most half the lifetime) before the provider's expiry.
 */
export function expiryAt(now: number, lifetimeMs: number): number {
  const margin = Math.min(Math.max(lifetimeMs * 0.1, 30_000), lifetimeMs / 2);
  return now + lifetimeMs - margin;
}

/** `expires_in` arrives as a number or a numeric string (seconds); fallback when absent. */
export function lifetimeMs(
  expiresIn: unknown,
  fallbackSeconds: number,
): number {
  const seconds = typeof expiresIn === "number"
    ? expiresIn
    : typeof expiresIn === "string"
    ? Number(expiresIn.trim())
    : NaN;
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : fallbackSeconds) *
    1000;
}
