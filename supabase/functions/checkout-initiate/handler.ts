/**
 * checkout-initiate: a signed-in customer taps Pay.
 *
 * 1. validate the body and the Idempotency-Key header;
 * 2. `checkout` RPC as the customer — one transaction locks the cart, re-reads prices,
 *    reserves stock and creates the order and a pending payment (or replays the result
 *    recorded for this key);
 * 3. `claim_payment_push` RPC — at most one push per payment, whatever the retries (the
 *    claim alone hands out the reference to push with: customers never see it);
 * 4. the provider's adapter pushes the prompt to the customer's phone;
 * 5. `record_payment_initiation` RPC — initiated, failed (stock released) or ambiguous.
 *
 * No prices, totals or states are computed here.
 */
import type { PaymentAdapter, ProviderName } from "../_shared/payments/mod.ts";
import { isProviderName } from "../_shared/payments/mod.ts";
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

export interface CheckoutDeps {
  userRpc(accessToken: string): Rpc;
  serviceRpc: Rpc;
  adapterFor(provider: ProviderName): PaymentAdapter;
  background(task: () => Promise<unknown>, label: string): void;
}

/** What the `checkout` SQL function returns. */
export interface CheckoutResult {
  order_id: string;
  payment_id: string;
  order_status: string;
  payment_status: string;
  amount: number;
  currency: "TZS";
  provider: ProviderName;
  msisdn: string;
  expires_at: string;
  replayed: boolean;
  push_requested: boolean;
}

const MAX_BODY = 16 * 1024;
const KEY_PATTERN = /^[\x21-\x7e]{8,255}$/;
/** The shape private.is_valid_shipping_address() accepts (checked again in SQL). */
const ADDRESS_FIELDS: Record<string, { required: boolean; max: number }> = {
  recipient_name: { required: true, max: 200 },
  region: { required: true, max: 200 },
  district: { required: true, max: 200 },
  street: { required: true, max: 200 },
  ward: { required: false, max: 200 },
  landmark: { required: false, max: 200 },
  postcode: { required: false, max: 200 },
  notes: { required: false, max: 500 },
};

export interface CheckoutRequest {
  provider: ProviderName;
  shippingAddress: Record<string, string>;
  idempotencyKey: string;
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

/** Validates the request; throws HttpError 400/422 naming the first problem. */
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
  if (!KEY_PATTERN.test(key)) {
    throw new HttpError(
      400,
      "idempotency_key_invalid",
      "Idempotency-Key must be 8-255 printable ASCII characters without spaces",
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
  const { provider, shipping_address: address, ...rest } = body as Record<
    string,
    unknown
  >;
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
      "provider must be one of mpesa, airtel, mixx, halopesa",
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
    const rule = ADDRESS_FIELDS[field];
    if (!rule) {
      throw new HttpError(
        422,
        "invalid_address",
        `shipping_address has an unknown field: ${field}`,
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
    if (trimmed.length > rule.max) {
      throw new HttpError(
        422,
        "invalid_address",
        `shipping_address.${field} is longer than ${rule.max} characters`,
      );
    }
    if (trimmed) shippingAddress[field] = trimmed;
  }
  for (const [field, rule] of Object.entries(ADDRESS_FIELDS)) {
    if (rule.required && !shippingAddress[field]) {
      throw new HttpError(
        422,
        "invalid_address",
        `shipping_address.${field} is required`,
      );
    }
  }
  return { provider, shippingAddress, idempotencyKey: key };
}

/** Order and payment status as the database reports them after a step. */
interface Status {
  order_status: string;
  payment_status: string;
}

function accepted(
  result: CheckoutResult,
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
    let result = await deps.userRpc(token)("checkout", {
      p_idempotency_key: request.idempotencyKey,
      p_provider: request.provider,
      p_shipping_address: request.shippingAddress,
    }) as CheckoutResult;

    if (result.payment_status !== "pending" || result.push_requested) {
      // A retry of a checkout whose prompt was already sent: never push twice.
      return accepted(result, result);
    }
    const claim = await deps.serviceRpc("claim_payment_push", {
      p_payment_id: result.payment_id,
    }) as Status & {
      claimed: boolean;
      provider_ref: string | null;
      expires_at: string;
    };
    if (!claim.claimed || !claim.provider_ref) return accepted(result, claim);
    const providerRef = claim.provider_ref;
    // the claim opened the full payment window
    result = { ...result, expires_at: claim.expires_at ?? result.expires_at };

    let adapter: PaymentAdapter;
    try {
      adapter = deps.adapterFor(result.provider);
    } catch (error) {
      console.error("payment provider not configured:", error);
      await deps.serviceRpc("record_payment_initiation", {
        p_payment_id: result.payment_id,
        p_outcome: "failed",
        p_failure_reason: "provider_error",
        p_detail: { message: "provider not configured" },
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
      const recorded = await deps.serviceRpc("record_payment_initiation", {
        p_payment_id: result.payment_id,
        p_outcome: "initiated",
      }) as Status;
      deps.background(async () => {
        const reply = await adapter.initiate(payment);
        if (reply.state === "succeeded" || reply.state === "failed") {
          await deps.serviceRpc("apply_payment_event", {
            p_provider: result.provider,
            p_provider_ref: providerRef,
            p_outcome: reply.state,
            p_provider_txn_id: reply.providerTxnId ?? null,
            p_failure_reason: reply.failureReason ?? null,
            p_source: "initiate_response",
          });
        } else if (reply.state === "ambiguous") {
          await deps.serviceRpc("record_payment_initiation", {
            p_payment_id: result.payment_id,
            p_outcome: "ambiguous",
            p_detail: {
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
      const recorded = await deps.serviceRpc("record_payment_initiation", {
        p_payment_id: result.payment_id,
        p_outcome: outcome,
        p_provider_txn_id: reply.providerTxnId ?? null,
        p_failure_reason: reply.failureReason ?? null,
        p_detail: {
          code: reply.rawCode ?? null,
          message: reply.message ?? null,
        },
      }) as Status;
      return accepted(
        result,
        recorded,
        reply.failureReason ? { failure_reason: reply.failureReason } : {},
      );
    } catch (error) {
      // The prompt went out but we could not record it: reconciliation will ask the
      // provider (the push was claimed, so it is never sent again).
      console.error("could not record the push outcome:", error);
      return accepted(result, {
        order_status: result.order_status,
        payment_status: "ambiguous",
      });
    }
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error, corsHeaders);
    console.error("checkout-initiate failed:", error);
    return errorResponse(
      unavailable("checkout failed; nothing was charged, try again"),
      corsHeaders,
    );
  }
}
