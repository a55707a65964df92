/**
 * What became of one request to a messaging provider, as far as the sender can know.
 * The rule that keeps a person from getting a message twice: a send is retried only when
 * the provider certainly did not take it — the connection was never made, or the
 * provider's own answer says it refused. A timeout, a dropped connection or a proxy's
 * error page may hide an accepted message: that is `unknown`, and never sent again.
 */
import {
  httpRequest,
  type HttpResult,
  TransportError,
} from "../payments/http.ts";
import type { FetchLike } from "../payments/types.ts";

export type { FetchLike };

/** Why a request has no answer to read. */
export class NoAnswer extends Error {
  constructor(
    /** not_sent: the connection was never made (safe to retry); unknown: it may have
     * arrived. */
    readonly kind: "not_sent" | "unknown",
    message: string,
  ) {
    super(message);
    this.name = "NoAnswer";
  }
}

/** Deno's words for a connection that was never made (DNS, refused, unreachable). */
const NEVER_CONNECTED =
  /\(Connect\)|tcp connect error|dns error|connection refused|failed to lookup address|network is unreachable/i;

export async function exchange(
  fetchFn: FetchLike,
  url: string,
  init: { headers: Record<string, string>; body: string },
  timeoutMs: number,
): Promise<HttpResult> {
  try {
    return await httpRequest(
      fetchFn,
      url,
      { method: "POST", headers: init.headers, body: init.body },
      timeoutMs,
    );
  } catch (error) {
    if (error instanceof TransportError) {
      if (error.kind === "network" && NEVER_CONNECTED.test(error.message)) {
        throw new NoAnswer("not_sent", "could not connect");
      }
      throw new NoAnswer(
        "unknown",
        error.kind === "timeout"
          ? `no answer within ${timeoutMs} ms`
          : "the connection broke",
      );
    }
    throw error;
  }
}

/** `255****5678`: a phone as logs may show it. */
export function maskPhone(phone: string): string {
  return phone.length >= 8
    ? `${phone.slice(0, 3)}****${phone.slice(-4)}`
    : "****";
}

/** `ExponentPushToken[abcd…]`: a push token as logs may show it. */
export function maskToken(token: string): string {
  const open = token.indexOf("[");
  return open < 0
    ? "…"
    : `${token.slice(0, open)}[${token.slice(open + 1, open + 5)}…]`;
}
