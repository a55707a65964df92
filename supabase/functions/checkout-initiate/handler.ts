/**
 * checkout-initiate: a signed-in customer taps Pay.
 *
 * 1. read the body and the Idempotency-Key header (their rules are the database's);
 * 2. `checkout` RPC as the customer — one transaction checks the key and the address,
 *    locks the cart, re-reads prices, reserves stock and creates the order and a pending
 *    payment (or replays the result recorded for this key);
 * 3-5. the push (_shared/edge/push.ts, shared with instalment-push): `claim_payment_push`
 *    (at most one push per payment, whatever the retries; the claim alone hands out the
 *    reference to push with: customers never see it), the provider's adapter prompts the
 *    customer's phone, `record_payment_initiation` (initiated, failed: stock released, or
 *    ambiguous).
 *
 * With `plan` (pay_in_2/3/4) the order is paid by an instalment plan and the payment is its
 * first instalment (the database checks the cart qualifies and fixes the schedule).
 *
 * No prices, totals or states are computed here; each RPC is a typed function of
 * _shared/edge/rpc.ts, which names the SQL function it calls.
 */
import {
  isProviderName,
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
import {
  bearerToken,
  decodeClaims,
  signedInClaims,
} from "../_shared/edge/jwt.ts";
import type { Rpc } from "../_shared/edge/db.ts";
import {
  type PushDeps,
  pushPayment,
  type Status,
} from "../_shared/edge/push.ts";
import * as sql from "../_shared/edge/rpc.ts";
import { reportError } from "../_shared/edge/observe.ts";

export type { CheckoutResult } from "../_shared/edge/rpc.ts";

export interface CheckoutDeps extends PushDeps {
  userRpc(accessToken: string): Rpc;
}

const MAX_BODY = 16 * 1024;

export interface CheckoutRequest {
  provider: ProviderName;
  shippingAddress: Record<string, string>;
  idempotencyKey: string;
  /** Loyalty points to spend on the order (0: none); the database checks the balance and cap. */
  redeemPoints: number;
  /** An instalment plan (pay_in_2, pay_in_3, pay_in_4) instead of paying in full; the
   * database says which plans exist and whether the cart qualifies. */
  plan: string | null;
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
    plan = null,
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
  if (plan !== null && (typeof plan !== "string" || !isPlainText(plan))) {
    // which plans exist is the database's to say (422 unknown_plan)
    throw new HttpError(
      422,
      "invalid_plan",
      "plan must be the name of an instalment plan, or null to pay in full",
    );
  }
  return {
    provider,
    shippingAddress,
    idempotencyKey: key,
    redeemPoints: points,
    plan,
  };
}

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
      ...(result.plan ? { plan: result.plan } : {}),
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
    if (!token || !signedInClaims(claims)) {
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
    const result = await sql.checkout(deps.userRpc(token), request);

    if (result.payment_status !== "pending" || result.push_requested) {
      // A retry of a checkout whose prompt was already sent: never push twice.
      return accepted(result, result);
    }
    const pushed = await pushPayment(deps, {
      paymentId: result.payment_id,
      provider: result.provider,
      amount: result.amount,
      msisdn: result.msisdn,
      description: `WATS order ${result.order_id.slice(0, 8)}`,
    });
    // the claim opened the full payment window
    return accepted(
      { ...result, expires_at: pushed.expiresAt ?? result.expires_at },
      pushed.status,
      pushed.failureReason ? { failure_reason: pushed.failureReason } : {},
    );
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error, corsHeaders);
    reportError("checkout-initiate failed:", error);
    return errorResponse(
      unavailable("checkout failed; nothing was charged, try again"),
      corsHeaders,
    );
  }
}
