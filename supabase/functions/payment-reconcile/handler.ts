/**
 * payment-reconcile: the scheduled job (Supabase Cron, or the local stack's scheduler)
 * that settles payments nobody told us about.
 *
 * 1. `payments_to_reconcile` lists stale initiated/ambiguous payments (and pushes whose
 *    outcome was never recorded);
 * 2. each provider with a status query is asked; a final answer goes through the same
 *    `apply_payment_event` as a callback. A push whose outcome was never recorded (the
 *    function died between the claim and the provider) and that the provider does not
 *    know, or cannot be asked about, goes to `fail_unsent_push`, which fails it once the
 *    claim is old enough;
 * 3. `expire_overdue_payments` expires what stays unpaid past its window, releasing stock.
 *
 * Each RPC is a typed function of _shared/edge/rpc.ts, which names the SQL function.
 */
import type { PaymentAdapter, ProviderName } from "../_shared/payments/mod.ts";
import { isProviderName } from "../_shared/payments/mod.ts";
import {
  errorResponse,
  HttpError,
  json,
  readBody,
  unavailable,
} from "../_shared/edge/http.ts";
import {
  jobBody,
  requireSchedulerCall,
  wholeOption,
  workThrough,
} from "../_shared/edge/scheduled.ts";
import type { Rpc } from "../_shared/edge/db.ts";
import * as sql from "../_shared/edge/rpc.ts";
import { reportError } from "../_shared/edge/observe.ts";

export interface ReconcileDeps {
  serviceRpc: Rpc;
  adapterFor(provider: ProviderName): PaymentAdapter;
  now(): number;
}

interface Options {
  minAgeSeconds: number;
  limit: number;
  budgetMs: number;
}

function options(raw: string): Options {
  const defaults: Options = { minAgeSeconds: 60, limit: 100, budgetMs: 50_000 };
  const body = jobBody(raw);
  return {
    minAgeSeconds: wholeOption(
      body.min_age_seconds,
      defaults.minAgeSeconds,
      0,
      86_400,
      "options must be whole numbers up to 86400",
    ),
    limit: wholeOption(
      body.limit,
      defaults.limit,
      0,
      1_000,
      "options must be whole numbers up to 1000",
    ),
    budgetMs: defaults.budgetMs,
  };
}

async function settle(
  payment: sql.StalePayment,
  deps: ReconcileDeps,
): Promise<Record<string, unknown>> {
  if (!isProviderName(payment.provider)) {
    return { payment_id: payment.payment_id, result: "unknown_provider" };
  }
  const adapter = deps.adapterFor(payment.provider);
  const status = await adapter.queryStatus(payment.provider_ref);
  if (!payment.push_recorded && (!status.supported || status.notFound)) {
    const failed = await sql.failUnsentPush(deps.serviceRpc, {
      paymentId: payment.payment_id,
      finding: status.supported ? "not_found" : "cannot_ask",
    });
    return {
      payment_id: payment.payment_id,
      result: `unsent_push_${failed.result}`,
    };
  }
  if (!status.supported) {
    return { payment_id: payment.payment_id, result: "no_status_query" };
  }
  if (status.transportError || status.notFound) {
    return {
      payment_id: payment.payment_id,
      result: status.notFound ? "not_found" : "provider_unreachable",
    };
  }
  let outcome: "succeeded" | "failed" | null = null;
  let reason = status.failureReason ?? null;
  if (status.state === "succeeded" || status.state === "failed") {
    outcome = status.state;
  } else if (status.state === "expired") {
    // the customer never answered the prompt: nothing was charged
    outcome = "failed";
    reason ??= "timeout";
  }
  if (!outcome) {
    return {
      payment_id: payment.payment_id,
      result: "still_pending",
      state: status.state,
    };
  }
  const applied = await sql.applyPaymentEvent(deps.serviceRpc, {
    provider: payment.provider,
    providerRef: payment.provider_ref,
    outcome,
    amount: status.amount ?? null,
    msisdn: status.msisdn ?? null,
    providerTxnId: status.providerTxnId ?? null,
    failureReason: reason,
    source: "status_query",
    unreadable: status.unreadable ?? [],
  });
  return { payment_id: payment.payment_id, result: "applied", applied };
}

export async function handleReconcile(
  req: Request,
  deps: ReconcileDeps,
): Promise<Response> {
  try {
    requireSchedulerCall(req, "may reconcile");
    const opts = options(await readBody(req, 4096));
    const stale = await sql.paymentsToReconcile(deps.serviceRpc, {
      minAgeSeconds: opts.minAgeSeconds,
      limit: opts.limit,
    });
    const results = await workThrough(
      stale,
      { budgetMs: opts.budgetMs, now: deps.now },
      (payment) => ({
        key: { payment_id: payment.payment_id },
        what: `reconciling ${payment.provider_ref}`,
      }),
      (payment) => settle(payment, deps),
    );
    const expired = await sql.expireOverduePayments(deps.serviceRpc);
    return json(200, { checked: stale.length, results, expired });
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    reportError("payment-reconcile failed:", error);
    return errorResponse(
      unavailable("reconciliation failed; it runs again soon"),
    );
  }
}
