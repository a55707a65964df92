/**
 * payment-webhook/<provider>: a mobile-money provider reports a payment's outcome.
 *
 * 1. the raw event is stored first (`record_webhook_event`), byte for byte, whatever it is;
 *    every RPC is a typed function of _shared/edge/rpc.ts (`sql.recordWebhookEvent` …);
 * 2. the provider's adapter authenticates it (signature in constant time, or the URL
 *    token) and normalizes it — a forged call gets 401 and changes nothing else;
 * 3. `apply_payment_event` (one SQL transaction) applies it: duplicates are no-ops,
 *    mismatches go to review, terminal states never regress. A callback about money we
 *    sent out (ClickPesa `PAYOUT …` events, on the same URL) goes to `apply_refund_event`
 *    (a refund sent as a payout) or `apply_payout_event` (a vendor's payout) instead,
 *    found by our reference (money_out.ts): only a processing refund or payout changes, a
 *    repeated outcome is a duplicate;
 * 4. the adapter answers in the form that provider expects.
 */
import type {
  AckOutcome,
  ParsedCallback,
  PaymentAdapter,
  ProviderName,
} from "../_shared/payments/mod.ts";
import { isProviderName } from "../_shared/payments/mod.ts";
import {
  clientIp,
  decodeText,
  errorResponse,
  HttpError,
  readBodyBytes,
  unavailable,
} from "../_shared/edge/http.ts";
import type { Rpc } from "../_shared/edge/db.ts";
import * as sql from "../_shared/edge/rpc.ts";
import { applyMoneyOutEvent } from "./money_out.ts";
import { reportError } from "../_shared/edge/observe.ts";

export interface WebhookDeps {
  serviceRpc: Rpc;
  adapterFor(provider: ProviderName): PaymentAdapter;
  /** The header with the caller's address as the platform's edge saw it (clientIp). */
  clientIpHeader?: string;
}

const MAX_BODY = 64 * 1024;

/**
 * Providers whose callback URL may carry our secret as its last path segment
 * (`…/payment-webhook/mixx/<token>`): Mixx, whose URL is registered once and may lose a
 * query string. Every other provider's path ends at its name.
 */
const PATH_TOKEN_PROVIDERS: ReadonlySet<string> = new Set(["mixx"]);

/**
 * `/payment-webhook/airtel` (what a function receives: hosted Supabase and the local
 * functions host pass the path from the function's name on) or
 * `/functions/v1/payment-webhook/airtel` → airtel; `/payment-webhook/mixx/<token>` → mixx.
 */
export function providerFromPath(pathname: string): string | null {
  const parts = pathname.split("/").filter(Boolean);
  const at = parts.indexOf("payment-webhook");
  if (at < 0) return null;
  if (parts.length === at + 2) return parts[at + 1];
  if (parts.length === at + 3 && PATH_TOKEN_PROVIDERS.has(parts[at + 1])) {
    return parts[at + 1];
  }
  return null;
}

/** The path as received, with Mixx's callback secret left out, wherever it travelled: the
 * value of a `token` query parameter, or the path segment after the provider. The stored
 * event proves it was there, not what it was. */
export function redactedPath(url: URL): string {
  const copy = new URL(url);
  if (copy.searchParams.has("token")) {
    copy.searchParams.set("token", "[redacted]");
  }
  const parts = copy.pathname.split("/");
  const at = parts.indexOf("payment-webhook");
  const named = parts.slice(at + 1).filter(Boolean);
  if (at >= 0 && named.length === 2 && PATH_TOKEN_PROVIDERS.has(named[0])) {
    copy.pathname = [...parts.slice(0, at + 1), named[0], "[redacted]"].join(
      "/",
    );
  }
  return copy.pathname + copy.search;
}

function headerObject(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = key === "authorization" ? "[redacted]" : value;
  });
  return out;
}

export async function handleWebhook(
  req: Request,
  deps: WebhookDeps,
): Promise<Response> {
  try {
    const url = new URL(req.url);
    const provider = providerFromPath(url.pathname);
    if (!provider || !isProviderName(provider)) {
      throw new HttpError(404, "unknown_provider", "no such payment provider");
    }
    if (req.method !== "POST") {
      throw new HttpError(
        405,
        "method_not_allowed",
        "providers POST their callbacks",
      );
    }
    const bytes = await readBodyBytes(req, MAX_BODY);
    const rawBody = decodeText(bytes);
    const sourceIp = clientIp(req, deps.clientIpHeader);
    const eventId = await sql.recordWebhookEvent(deps.serviceRpc, {
      provider,
      headers: headerObject(req.headers),
      body: bytes,
      sourceIp,
      path: redactedPath(url),
    });

    let adapter: PaymentAdapter;
    try {
      adapter = deps.adapterFor(provider);
    } catch (error) {
      reportError("payment provider not configured:", error);
      throw new HttpError(
        503,
        "provider_unavailable",
        "provider not configured",
        undefined,
        300,
      );
    }

    const finish = (authentic: boolean, rejection: string | null) =>
      sql.finishWebhookEvent(deps.serviceRpc, {
        eventId,
        authentic,
        rejection,
      });
    const answer = (parsed: ParsedCallback | null, outcome: AckOutcome) =>
      adapter.acknowledge(parsed, outcome);

    const parsed = await adapter.verifyAndParseCallback({
      headers: req.headers,
      rawBody,
      url: req.url,
      sourceIp,
    });
    if (!parsed.authentic) {
      const rejection = parsed.rejection ?? "unauthentic";
      await finish(
        false,
        parsed.rejectionDetail
          ? `${rejection}: ${parsed.rejectionDetail}`.slice(0, 500)
          : rejection,
      );
      return answer(
        parsed,
        rejection === "malformed" ? "invalid" : "unauthentic",
      );
    }
    if (!parsed.providerRef || !parsed.state) {
      await finish(true, "malformed");
      return answer(parsed, "invalid");
    }
    try {
      if (parsed.subject === "refund") {
        await applyMoneyOutEvent(deps.serviceRpc, {
          provider,
          parsed: { ...parsed, providerRef: parsed.providerRef },
          webhookEventId: eventId,
        });
      } else {
        await sql.applyPaymentEvent(deps.serviceRpc, {
          provider,
          providerRef: parsed.providerRef,
          outcome: parsed.state,
          amount: parsed.amount,
          currency: parsed.currency,
          msisdn: parsed.msisdn,
          providerTxnId: parsed.providerTxnId,
          failureReason: parsed.failureReason,
          source: "callback",
          webhookEventId: eventId,
          unreadable: parsed.unreadable,
        });
      }
    } catch (error) {
      reportError(
        `applying a ${parsed.subject ?? "payment"} event failed:`,
        error,
      );
      return answer(parsed, "error");
    }
    await finish(true, null);
    return answer(parsed, "accepted");
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    reportError("payment-webhook failed:", error);
    return errorResponse(
      unavailable("the event was not processed; retry later"),
    );
  }
}
