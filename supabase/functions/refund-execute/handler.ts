/**
 * refund-execute: sends the refunds SQL granted, and settles the ones whose answer was
 * lost. Called by the scheduler (Supabase Cron) or an operator, with the service role key.
 *
 * 1. `refunds_to_execute` lists requested refunds (to send) and processing ones without an
 *    answer for `stale_seconds` (to ask about);
 * 2. a requested refund is claimed (`claim_refund`: claimed is true for exactly one
 *    caller, so a retried or concurrent run never sends it twice), sent through the
 *    payment's provider (M-Pesa reversal, Airtel refund, a B2C payout where the provider
 *    has no refund API), and the answer recorded (`record_refund_outcome`): succeeded,
 *    failed (nothing moved), or ambiguous (it stays processing; never resent);
 * 3. a stale processing refund is asked about by our reference (`refundStatus`): a final
 *    answer is recorded; a provider that has no record of it (it never arrived) fails it,
 *    so an operator can retry it with the same reference or pay it by hand.
 *
 * What a refund is, how much and to whom, and every state change, are SQL's: this function
 * only carries the claim to the provider and the answer back. Each RPC is a typed function
 * of _shared/edge/rpc.ts.
 */
import type {
  PaymentAdapter,
  ProviderName,
  RefundMethod,
  RefundResult,
  RefundState,
} from "../_shared/payments/mod.ts";
import {
  errorText,
  failureText,
  providerOutcome,
} from "../_shared/payments/outcome.ts";
import { isProviderName } from "../_shared/payments/mod.ts";
import {
  errorResponse,
  HttpError,
  json,
  readBody,
  unavailable,
} from "../_shared/edge/http.ts";
import {
  countResults,
  requireSchedulerCall,
  sendAndAskOptions,
  workThrough,
} from "../_shared/edge/scheduled.ts";
import type { Rpc, Select } from "../_shared/edge/db.ts";
import * as sql from "../_shared/edge/rpc.ts";
import { reportError } from "../_shared/edge/observe.ts";

export interface RefundDeps {
  serviceRpc: Rpc;
  serviceSelect: Select;
  adapterFor(provider: ProviderName): PaymentAdapter;
  now(): number;
}

/** A processing refund is asked about only after this long without an answer: a send in
 * flight (a claim, then up to two provider calls) must have finished by then, or "the
 * provider does not know it" could fail a refund that is being sent. */
export const MIN_STALE_SECONDS = 60;

const DEFAULTS = { limit: 50, staleSeconds: 120, budgetMs: 50_000 };

/** The provider's answer as record_refund_outcome's outcome. */
function outcomeOf(state: RefundState): "succeeded" | "failed" | "ambiguous" {
  return providerOutcome(state, "refunded");
}

type Row = Record<string, unknown>;

/** Records a refund that was claimed but could not be sent: nothing moved. */
async function notSent(
  deps: RefundDeps,
  refundId: string,
  reason: string,
  method: RefundMethod | null = null,
): Promise<Row> {
  const recorded = await sql.recordRefundOutcome(deps.serviceRpc, {
    refundId,
    outcome: "failed",
    method,
    failureReason: reason,
  });
  return {
    refund_id: refundId,
    result: "failed",
    refund_status: recorded.refund_status,
    reason,
  };
}

async function send(refundId: string, deps: RefundDeps): Promise<Row> {
  const claim = await sql.claimRefund(deps.serviceRpc, refundId);
  if (!claim.claimed) return { refund_id: refundId, result: "not_claimed" };
  // From here the refund is processing and ours alone: whatever happens, record it.
  if (!claim.provider || !isProviderName(claim.provider)) {
    return await notSent(deps, refundId, "unknown_provider");
  }
  let adapter: PaymentAdapter;
  try {
    adapter = deps.adapterFor(claim.provider);
  } catch (error) {
    reportError(`refund provider ${claim.provider} not configured:`, error);
    return await notSent(deps, refundId, "provider_not_configured");
  }
  let result: RefundResult;
  try {
    result = await adapter.refund({
      providerRef: claim.payment_reference ?? "",
      providerTxnId: claim.provider_txn_id ?? null,
      amount: claim.amount ?? 0,
      reference: claim.reference ?? "",
      msisdn: claim.msisdn ?? null,
      wholePayment: claim.whole_payment === true,
    });
  } catch (error) {
    // adapters throw only before sending (a request they refuse to build); answers that
    // arrive are read, and missing answers are ambiguous
    reportError(`refund ${refundId} was not sent:`, error);
    return await notSent(
      deps,
      refundId,
      failureText("not_sent", errorText(error)),
    );
  }
  if (!result.supported) {
    return await notSent(
      deps,
      refundId,
      `no_refund_api: ${claim.provider} refunds are paid by hand (record_manual_refund)`,
    );
  }
  const outcome = outcomeOf(result.state);
  const recorded = await sql.recordRefundOutcome(deps.serviceRpc, {
    refundId,
    outcome,
    method: result.method,
    providerRefundId: result.providerRefundId ?? null,
    // accepted and in progress (pending) is no failure; a lost answer is said why
    failureReason: outcome === "succeeded" || result.state === "pending"
      ? null
      : failureText(
        result.failureReason ??
          (outcome === "failed" ? "provider_error" : "no_final_answer"),
        result.message ?? result.rawCode,
      ),
  });
  return {
    refund_id: refundId,
    result: outcome === "ambiguous" ? "pending" : outcome,
    method: result.method,
    refund_status: recorded.refund_status,
    recorded: recorded.result,
  };
}

async function check(refundId: string, deps: RefundDeps): Promise<Row> {
  const sent = await sql.refundSent(deps.serviceSelect, refundId);
  if (!sent) return { refund_id: refundId, result: "unknown_refund" };
  if (sent.status !== "processing") {
    return {
      refund_id: refundId,
      result: "settled",
      refund_status: sent.status,
    };
  }
  if (!isProviderName(sent.provider)) {
    return { refund_id: refundId, result: "unknown_provider" };
  }
  let adapter: PaymentAdapter;
  try {
    adapter = deps.adapterFor(sent.provider);
  } catch (error) {
    reportError(`refund provider ${sent.provider} not configured:`, error);
    return { refund_id: refundId, result: "provider_unavailable" };
  }
  const method = sent.method === "manual" ? null : sent.method;
  const status = await adapter.refundStatus({
    reference: sent.reference,
    method,
  });
  if (!status.supported) {
    // Mixx B2C, Airtel's refund API: only an operator can settle it
    return { refund_id: refundId, result: "cannot_ask" };
  }
  if (status.transportError) {
    return { refund_id: refundId, result: "provider_unreachable" };
  }
  // the method the provider was asked about is the one it knows the refund by
  const asked = method ?? adapter.capabilities.refund?.statusQuery[0] ?? null;
  if (status.notFound) {
    const recorded = await sql.recordRefundOutcome(deps.serviceRpc, {
      refundId,
      outcome: "failed",
      method: asked,
      failureReason:
        "not_found_at_provider: the provider has no refund with this reference; it was never received",
    });
    return {
      refund_id: refundId,
      result: "not_found",
      refund_status: recorded.refund_status,
      recorded: recorded.result,
    };
  }
  const outcome = outcomeOf(status.state);
  if (outcome === "ambiguous") {
    return {
      refund_id: refundId,
      result: "still_pending",
      state: status.state,
    };
  }
  const recorded = await sql.recordRefundOutcome(deps.serviceRpc, {
    refundId,
    outcome,
    method: asked,
    providerRefundId: status.providerRefundId ?? null,
    failureReason: outcome === "failed"
      ? failureText(status.failureReason ?? "provider_error", status.message)
      : null,
  });
  return {
    refund_id: refundId,
    result: outcome,
    refund_status: recorded.refund_status,
    recorded: recorded.result,
  };
}

export async function handleRefundExecute(
  req: Request,
  deps: RefundDeps,
): Promise<Response> {
  try {
    requireSchedulerCall(req, "sends refunds");
    const opts = sendAndAskOptions(
      await readBody(req, 4096),
      DEFAULTS,
      MIN_STALE_SECONDS,
    );
    const due = await sql.refundsToExecute(deps.serviceRpc, {
      limit: opts.limit,
      staleSeconds: opts.staleSeconds,
    });
    // a database call that fails leaves a claimed refund processing, asked about once
    // stale; nothing is sent twice
    const results = await workThrough(
      due,
      { budgetMs: opts.budgetMs, now: deps.now },
      (refund) => ({
        key: { refund_id: refund.refund_id },
        what: `refund ${refund.refund_id}`,
      }),
      (refund) =>
        refund.status === "requested"
          ? send(refund.refund_id, deps)
          : check(refund.refund_id, deps),
    );
    const counts = countResults(results);
    return json(200, { checked: due.length, counts, results });
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    reportError("refund-execute failed:", error);
    return errorResponse(
      unavailable("refunds were not executed; it runs again soon"),
    );
  }
}
