/**
 * checkout-initiate: a signed-in customer taps Pay.
 *
 * 1. read the body and the Idempotency-Key header (their rules are the database's);
 * 2. `checkout` RPC as the customer — one transaction checks the key and the address,
 *    locks the cart, re-reads prices, reserves stock and creates the order and a pending
 *    payment (or replays the result recorded for this key);
 * 3. `claim_payment_push` RPC — at most one push per payment, whatever the retries (the
 *    claim alone hands out the reference to push with: customers never see it);
 * 4. the provider's adapter pushes the prompt to the customer's phone;
 * 5. `record_payment_initiation` RPC — initiated, failed (stock released) or ambiguous.
 *
 * No prices, totals or states are computed here; each RPC is a typed function of
 * _shared/edge/rpc.ts, which names the SQL function it calls.
 */
import {
  isProviderName,
  type PaymentAdapter,
  type ProviderName,
  PROVIDERS,
} from "../_shared/payments/mod.ts";
import {
  corsHeaders,
  errorResponse,
  HttpError,
  json,
  readBody,
  unavailable,
} from "../_shared/edge/http.ts";
import { bearerToken, decodeClaims } from "../_shared/edge/jwt.ts";
import type { Rpc } from "../_shared/edge/db.ts";
import * as sql from "../_shared/edge/rpc.ts";
import { reportError } from "../_shared/edge/observe.ts";

export type { CheckoutResult } from "../_shared/edge/rpc.ts";

export interface CheckoutDeps {
  userRpc(accessToken: string): Rpc;
  serviceRpc: Rpc;
  adapterFor(provider: ProviderName): PaymentAdapter;
  background(task: () => Promise<unknown>, label: string): void;
}

const MAX_BODY = 16 * 1024;

export interface CheckoutRequest {
  provider: ProviderName;
  shippingAddress: Record<string, string>;
  idempotencyKey: string;
  /** Loyalty points to spend on the order (0: none); the database checks the balance and cap. */
  redeemPoints: number;
}

/** Text a person could have typed: well-formed Unicode without control characters
 * (tab and line breaks allowed). A NUL could not even be stored. */
export function isPlainText(value: string): boolean {
  if (!value.isWellFormed()) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const control = code < 0x20 || code === 0x7f;
    if (control && code !== 0x09 && code !== 0x0a && code !== 0x0d) {
      return false;
    }
  }
  return true;
}

/**
 * Reads the request: the Idempotency-Key header, a JSON object with a known provider and
 * a shipping address of text members. Throws HttpError 400/422 naming the first problem.
 * What the key must look like and which address members are required, allowed and how
 * long is the database's rule (`public.checkout`, `private.is_valid_shipping_address`):
 * it refuses with its own 400/422 and message. Here only what must hold before
 * PostgreSQL sees the data (the JSON's shape, text it can store) and the address tidied
 * (text trimmed, empty members left out).
 */
export function parseCheckoutRequest(
  headers: Headers,
  rawBody: string,
): CheckoutRequest {
  const key = headers.get("idempotency-key")?.trim() ?? "";
  if (!key) {
    throw new HttpError(
      400,
      "idempotency_key_missing",
      "send an Idempotency-Key header (8-255 printable characters, one per checkout attempt)",
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    throw new HttpError(400, "invalid_json", "the body must be a JSON object");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "invalid_json", "the body must be a JSON object");
  }
  const {
    provider,
    shipping_address: address,
    redeem_points: points = 0,
    ...rest
  } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new HttpError(
      422,
      "unknown_field",
      `unknown field: ${unknown[0]}`,
      { fields: unknown },
    );
  }
  if (!isProviderName(provider)) {
    throw new HttpError(
      422,
      "unknown_provider",
      `provider must be one of ${PROVIDERS.join(", ")}`,
    );
  }
  if (!address || typeof address !== "object" || Array.isArray(address)) {
    throw new HttpError(
      422,
      "invalid_address",
      "shipping_address must be an object",
    );
  }
  const shippingAddress: Record<string, string> = {};
  for (const [field, value] of Object.entries(address)) {
    if (!isPlainText(field)) {
      throw new HttpError(
        422,
        "invalid_address",
        "shipping_address has a member name with control characters or broken Unicode",
      );
    }
    if (typeof value !== "string") {
      throw new HttpError(
        422,
        "invalid_address",
        `shipping_address.${field} must be text`,
      );
    }
    if (!isPlainText(value)) {
      throw new HttpError(
        422,
        "invalid_address",
        `shipping_address.${field} holds control characters or broken Unicode`,
      );
    }
    const trimmed = value.trim();
    if (trimmed) shippingAddress[field] = trimmed;
  }
  if (
    typeof points !== "number" || !Number.isInteger(points) || points < 0 ||
    points > 2_147_483_647
  ) {
    throw new HttpError(
      422,
      "invalid_points",
      "redeem_points must be a whole number of points, 0 or more",
    );
  }
  return {
    provider,
    shippingAddress,
    idempotencyKey: key,
    redeemPoints: points,
  };
}

/** Order and payment status as the database reports them after a step. */
type Status = Pick<sql.PaymentStatus, "order_status" | "payment_status">;

function accepted(
  result: sql.CheckoutResult,
  status: Status,
  extra: Record<string, unknown> = {},
): Response {
  return json(
    202,
    {
      order_id: result.order_id,
      payment_id: result.payment_id,
      order_status: status.order_status,
      payment_status: status.payment_status,
      amount: result.amount,
      currency: result.currency,
      provider: result.provider,
      expires_at: result.expires_at,
      ...extra,
    },
    {
      ...corsHeaders,
      "Idempotent-Replayed": String(result.replayed),
    },
  );
}

export async function handleCheckout(
  req: Request,
  deps: CheckoutDeps,
): Promise<Response> {
  if (req.method === "OPTIONS") {
    return new Response(null, { status: 204, headers: corsHeaders });
  }
  try {
    if (req.method !== "POST") {
      throw new HttpError(405, "method_not_allowed", "use POST");
    }
    const token = bearerToken(req);
    const claims = token ? decodeClaims(token) : null;
    if (!token || !claims || claims.role !== "authenticated" || !claims.sub) {
      throw new HttpError(
        401,
        "sign_in_required",
        "sign in first: checkout needs the customer's access token",
      );
    }
    const request = parseCheckoutRequest(
      req.headers,
      await readBody(req, MAX_BODY),
    );
    let result = await sql.checkout(deps.userRpc(token), request);

    if (result.payment_status !== "pending" || result.push_requested) {
      // A retry of a checkout whose prompt was already sent: never push twice.
      return accepted(result, result);
    }
    const claim = await sql.claimPaymentPush(
      deps.serviceRpc,
      result.payment_id,
    );
    if (!claim.claimed || !claim.provider_ref) return accepted(result, claim);
    const providerRef = claim.provider_ref;
    // the claim opened the full payment window
    result = { ...result, expires_at: claim.expires_at ?? result.expires_at };

    let adapter: PaymentAdapter;
    try {
      adapter = deps.adapterFor(result.provider);
    } catch (error) {
      reportError("payment provider not configured:", error);
      await sql.recordPaymentInitiation(deps.serviceRpc, {
        paymentId: result.payment_id,
        outcome: "failed",
        failureReason: "provider_error",
        detail: { message: "provider not configured" },
      });
      throw new HttpError(
        503,
        "provider_unavailable",
        `${result.provider} payments are not available right now; nothing was charged`,
        undefined,
        300,
      );
    }
    const payment = {
      reference: providerRef,
      amount: result.amount,
      currency: "TZS" as const,
      msisdn: result.msisdn,
      description: `WATS order ${result.order_id.slice(0, 8)}`,
    };

    if (adapter.capabilities.mode === "sync") {
      // M-Pesa's push blocks until the customer answers: answer the app now, finish later.
      const recorded = await sql.recordPaymentInitiation(deps.serviceRpc, {
        paymentId: result.payment_id,
        outcome: "initiated",
      });
      deps.background(async () => {
        const reply = await adapter.initiate(payment);
        if (reply.state === "succeeded" || reply.state === "failed") {
          await sql.applyPaymentEvent(deps.serviceRpc, {
            provider: result.provider,
            providerRef,
            outcome: reply.state,
            providerTxnId: reply.providerTxnId ?? null,
            failureReason: reply.failureReason ?? null,
            source: "initiate_response",
          });
        } else if (reply.state === "ambiguous") {
          await sql.recordPaymentInitiation(deps.serviceRpc, {
            paymentId: result.payment_id,
            outcome: "ambiguous",
            detail: {
              code: reply.rawCode ?? null,
              message: reply.message ?? null,
            },
          });
        }
      }, `push ${result.payment_id}`);
      return accepted(result, recorded);
    }

    const reply = await adapter.initiate(payment);
    const outcome = reply.state === "succeeded" ? "initiated" : reply.state;
    try {
      const recorded = await sql.recordPaymentInitiation(deps.serviceRpc, {
        paymentId: result.payment_id,
        outcome,
        providerTxnId: reply.providerTxnId ?? null,
        failureReason: reply.failureReason ?? null,
        detail: {
          code: reply.rawCode ?? null,
          message: reply.message ?? null,
        },
      });
      return accepted(
        result,
        recorded,
        reply.failureReason ? { failure_reason: reply.failureReason } : {},
      );
    } catch (error) {
      // The prompt went out but we could not record it: reconciliation will ask the
      // provider (the push was claimed, so it is never sent again).
      reportError("could not record the push outcome:", error);
      return accepted(result, {
        order_status: result.order_status,
        payment_status: "ambiguous",
      });
    }
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error, corsHeaders);
    reportError("checkout-initiate failed:", error);
    return errorResponse(
      unavailable("checkout failed; nothing was charged, try again"),
      corsHeaders,
    );
  }
}
