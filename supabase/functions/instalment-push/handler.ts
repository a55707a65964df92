/**
 * instalment-push: the push prompts of instalment plans (lipa kidogo kidogo).
 *
 * Called two ways, told apart by the caller's token:
 *
 * - by the scheduler (Supabase Cron) with the service role key and `{}` (or `{limit}`):
 *   1. `run_instalment_schedule` — reminders a day ahead, plans past their grace period
 *      cancelled (paid instalments refunded), and a pending payment for each due instalment;
 *   2. each of those payments is pushed (_shared/edge/push.ts: claim, adapter, record), the
 *      path of every payment.
 *   Answers 200 `{reminded, cancelled, busy, pushed, results}`.
 * - by the customer app with the customer's access token and `{"plan_id": …}`: pay the
 *   next instalment now (early, or again after a failed push):
 *   1. `pay_next_instalment` as the customer — a pending payment of the plan's next
 *      instalment, or the payment already open (never two prompts);
 *   2. its push, unless it was already sent.
 *   Answers 202 with the payment, like checkout-initiate.
 *
 * Which instalment is due, its amount and what happens to the plan are the database's;
 * each step is one RPC of _shared/edge/rpc.ts.
 */
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
import { type PushDeps, pushPayment } from "../_shared/edge/push.ts";
import * as sql from "../_shared/edge/rpc.ts";
import { reportError } from "../_shared/edge/observe.ts";

export interface InstalmentPushDeps extends PushDeps {
  userRpc(accessToken: string): Rpc;
  now(): number;
}

const MAX_BODY = 4096;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The scheduled run stops pushing after this long; what is left is pushed next time. */
const BUDGET_MS = 50_000;

function parseObject(raw: string): Record<string, unknown> {
  if (!raw.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new HttpError(400, "invalid_json", "the body must be a JSON object");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "invalid_json", "the body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

function refuseUnknown(body: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new HttpError(
      422,
      "unknown_field",
      `unknown field: ${unknown[0]}`,
      { fields: unknown },
    );
  }
}

/** The scheduled run's options: `limit` (1-500, default 100). */
export function parseRunOptions(raw: string): { limit: number } {
  const body = parseObject(raw);
  refuseUnknown(body, ["limit"]);
  const limit = body.limit ?? 100;
  if (
    typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 ||
    limit > 500
  ) {
    throw new HttpError(
      422,
      "invalid_option",
      "limit must be a whole number from 1 to 500",
    );
  }
  return { limit };
}

/** The customer's request: `{"plan_id": "<uuid>"}`. */
export function parsePayRequest(raw: string): { planId: string } {
  const body = parseObject(raw);
  refuseUnknown(body, ["plan_id"]);
  const planId = body.plan_id;
  if (typeof planId !== "string" || !UUID.test(planId)) {
    throw new HttpError(
      422,
      "invalid_plan_id",
      "plan_id must be the id of one of your instalment plans",
    );
  }
  return { planId };
}

function describe(payment: sql.InstalmentPayment): string {
  return `WATS instalment ${payment.instalment} order ${
    payment.order_id.slice(0, 8)
  }`;
}

async function scheduledRun(
  req: Request,
  deps: InstalmentPushDeps,
): Promise<Response> {
  const { limit } = parseRunOptions(await readBody(req, MAX_BODY));
  const started = deps.now();
  const run = await sql.runInstalmentSchedule(deps.serviceRpc, limit);
  const results: Record<string, unknown>[] = [];
  let pushed = 0;
  for (const payment of run.due) {
    const base = {
      payment_id: payment.payment_id,
      plan_id: payment.plan_id,
      instalment: payment.instalment,
    };
    if (deps.now() - started > BUDGET_MS) {
      // unclaimed: its unpushed hold ends it, and the next run makes a new one
      results.push({ ...base, result: "deferred" });
      continue;
    }
    try {
      const outcome = await pushPayment(deps, {
        paymentId: payment.payment_id,
        provider: payment.provider,
        amount: payment.amount,
        msisdn: payment.msisdn,
        description: describe(payment),
      });
      if (outcome.claimed) pushed++;
      results.push({
        ...base,
        result: outcome.claimed ? "pushed" : "not_claimed",
        payment_status: outcome.status.payment_status,
        ...(outcome.failureReason
          ? { failure_reason: outcome.failureReason }
          : {}),
      });
    } catch (error) {
      reportError(`pushing instalment payment ${payment.payment_id}:`, error);
      results.push({
        ...base,
        result: error instanceof HttpError ? error.code : "error",
      });
    }
  }
  return json(200, {
    reminded: run.reminded,
    cancelled: run.cancelled,
    busy: run.busy,
    pushed,
    results,
  });
}

async function payNext(
  req: Request,
  token: string,
  deps: InstalmentPushDeps,
): Promise<Response> {
  const { planId } = parsePayRequest(await readBody(req, MAX_BODY));
  const payment = await sql.payNextInstalment(deps.userRpc(token), planId);
  let status = {
    order_status: payment.order_status,
    payment_status: payment.payment_status,
  };
  let expiresAt = payment.expires_at;
  let failure: Record<string, unknown> = {};
  if (payment.payment_status === "pending" && !payment.push_requested) {
    const outcome = await pushPayment(deps, {
      paymentId: payment.payment_id,
      provider: payment.provider,
      amount: payment.amount,
      msisdn: payment.msisdn,
      description: describe(payment),
    });
    status = outcome.status;
    expiresAt = outcome.expiresAt ?? expiresAt;
    if (outcome.failureReason) {
      failure = { failure_reason: outcome.failureReason };
    }
  }
  return json(202, {
    plan_id: payment.plan_id,
    instalment: payment.instalment,
    order_id: payment.order_id,
    payment_id: payment.payment_id,
    order_status: status.order_status,
    payment_status: status.payment_status,
    amount: payment.amount,
    currency: payment.currency,
    provider: payment.provider,
    expires_at: expiresAt,
    replayed: payment.replayed,
    ...failure,
  }, corsHeaders);
}

export async function handleInstalmentPush(
  req: Request,
  deps: InstalmentPushDeps,
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
    if (token && claims?.role === "service_role") {
      return await scheduledRun(req, deps);
    }
    if (!token || !signedInClaims(claims)) {
      throw new HttpError(
        401,
        "sign_in_required",
        "sign in first: paying an instalment needs the customer's access token",
      );
    }
    return await payNext(req, token, deps);
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error, corsHeaders);
    reportError("instalment-push failed:", error);
    return errorResponse(
      unavailable(
        "the instalment could not be sent; nothing was charged, try again",
      ),
      corsHeaders,
    );
  }
}
