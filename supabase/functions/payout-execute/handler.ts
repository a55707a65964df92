/**
 * payout-execute: sends the vendor payouts SQL created (weekly run, a vendor's request,
 * an admin's approval), and settles the ones whose answer was lost. Called by the scheduler
 * (Supabase Cron, every minute) or an operator, with the service role key.
 *
 * 1. `payouts_to_execute` lists pending payouts (approved where needed) to send, and
 *    processing ones without an answer for `stale_seconds` to ask about;
 * 2. a pending payout is claimed (`claim_payout`: claimed is true for exactly one caller,
 *    so a retried or concurrent run never sends it twice);
 * 3. a wallet never confirmed is looked up first where the provider tells a wallet's
 *    registered name (M-Pesa Query Beneficiary Name, Airtel KYC user enquiry, ClickPesa's
 *    payout preview) and `record_wallet_check` compares it with the shop's and its owner's
 *    names in SQL (a mismatch or no such wallet fails the payout, the money back to the
 *    vendor's balance); without a lookup (Mixx) the payout fails `wallet_unverified` until
 *    an admin confirms the wallet (`verify_payout_wallet`);
 * 4. the payout goes out through the provider's B2C product (M-Pesa B2C, Airtel
 *    disbursement, Mixx Account to Wallet, a ClickPesa payout for HaloPesa wallets) and the
 *    answer is recorded (`record_payout_outcome`): succeeded, failed (nothing moved), or
 *    ambiguous (it stays processing; never resent);
 * 5. a stale processing payout is asked about by our reference: a final answer is recorded;
 *    a provider that has no record of it (it never arrived) fails it.
 *
 * Who is paid, how much, to which wallet, whether the names match, and every state change
 * are SQL's: this function carries the claim to the provider and the answer back.
 */
import type {
  PayoutAdapter,
  PayoutRequest,
  PayoutResult,
  PayoutState,
  ProviderName,
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
import type { Rpc } from "../_shared/edge/db.ts";
import * as sql from "../_shared/edge/rpc.ts";
import { reportError } from "../_shared/edge/observe.ts";

export interface PayoutDeps {
  serviceRpc: Rpc;
  /** The adapter paying wallets on `provider`; throws when it is not configured. */
  adapterFor(provider: ProviderName): PayoutAdapter;
  now(): number;
}

/**
 * A processing payout is asked about only after this long without an answer. "The provider
 * does not know it" fails the payout (its money back to the vendor's balance), which is
 * only true once no send can still be on its way: a send lives at most as long as the
 * Edge Function that makes it, 400 s on Supabase's paid plans (150 s on the free plan).
 */
export const MIN_STALE_SECONDS = 420;
export const DEFAULT_STALE_SECONDS = 600;

/** What the payee's statement shows, where the provider shows one. */
const DESCRIPTION = "WATS payout";

const DEFAULTS = {
  limit: 50,
  staleSeconds: DEFAULT_STALE_SECONDS,
  // no new payout starts after this; one started may take its provider calls' time
  budgetMs: 40_000,
};

/** The provider's answer as record_payout_outcome's outcome. */
function outcomeOf(state: PayoutState): "succeeded" | "failed" | "ambiguous" {
  return providerOutcome(state, "paid");
}

type Row = Record<string, unknown>;

/** Fails a claimed payout that was not sent: nothing moved, its money goes back to the
 * vendor's available balance and the vendor is told. */
async function notSent(
  deps: PayoutDeps,
  payoutId: string,
  reason: string,
  result = "failed",
): Promise<Row> {
  const recorded = await sql.recordPayoutOutcome(deps.serviceRpc, {
    payoutId,
    outcome: "failed",
    failureReason: reason,
  });
  return {
    payout_id: payoutId,
    result,
    payout_status: recorded.payout_status,
    reason: reason.split(":")[0],
  };
}

/**
 * Whose wallet is it: null when the wallet may be paid (the provider's name matched, SQL
 * says), else what happened to the payout (failed, nothing sent).
 */
async function checkWallet(
  deps: PayoutDeps,
  adapter: PayoutAdapter,
  payoutId: string,
  payout: PayoutRequest,
): Promise<Row | null> {
  let lookup;
  try {
    lookup = await adapter.walletHolder({
      msisdn: payout.msisdn,
      reference: payout.reference,
      amount: payout.amount,
    });
  } catch (error) {
    reportError(`wallet lookup for payout ${payoutId} failed:`, error);
    return await notSent(
      deps,
      payoutId,
      failureText("wallet_check_unavailable", errorText(error)),
      "wallet_check_unavailable",
    );
  }
  if (!lookup.supported) {
    return await notSent(
      deps,
      payoutId,
      `wallet_unverified: ${adapter.provider} tells no wallet's name; an admin confirms the wallet`,
      "wallet_unverified",
    );
  }
  if (lookup.outcome === "unavailable") {
    return await notSent(
      deps,
      payoutId,
      failureText("wallet_check_unavailable", lookup.message),
      "wallet_check_unavailable",
    );
  }
  const check = await sql.recordWalletCheck(deps.serviceRpc, {
    payoutId,
    holderName: lookup.outcome === "found" ? lookup.name ?? null : null,
  });
  if (check.verified) return null;
  return {
    payout_id: payoutId,
    result: "failed",
    payout_status: "failed",
    reason: check.reason ?? "wallet_check_failed",
  };
}

async function send(payoutId: string, deps: PayoutDeps): Promise<Row> {
  const claim = await sql.claimPayout(deps.serviceRpc, payoutId);
  if (!claim.claimed) {
    return {
      payout_id: payoutId,
      result: "not_claimed",
      payout_status: claim.status,
    };
  }
  // From here the payout is processing and ours alone: whatever happens, record it.
  if (!claim.provider || !isProviderName(claim.provider)) {
    return await notSent(deps, payoutId, "unknown_provider");
  }
  if (
    typeof claim.reference !== "string" || typeof claim.amount !== "number" ||
    typeof claim.msisdn !== "string"
  ) {
    return await notSent(deps, payoutId, "incomplete_claim");
  }
  let adapter: PayoutAdapter;
  try {
    adapter = deps.adapterFor(claim.provider);
  } catch (error) {
    reportError(`payout provider ${claim.provider} not configured:`, error);
    return await notSent(deps, payoutId, "provider_not_configured");
  }
  if (!adapter.payoutCapability) {
    return await notSent(
      deps,
      payoutId,
      `provider_not_configured: ${claim.provider} payouts are not configured`,
    );
  }
  const payout: PayoutRequest = {
    reference: claim.reference,
    amount: claim.amount,
    msisdn: claim.msisdn,
    description: DESCRIPTION,
  };
  if (claim.wallet_verified !== true) {
    const refused = await checkWallet(deps, adapter, payoutId, payout);
    if (refused) return refused;
  }
  let result: PayoutResult;
  try {
    result = await adapter.payout(payout);
  } catch (error) {
    // adapters throw only before sending (a request they refuse to build); answers that
    // arrive are read, and missing answers are ambiguous
    reportError(`payout ${payoutId} was not sent:`, error);
    return await notSent(
      deps,
      payoutId,
      failureText("not_sent", errorText(error)),
    );
  }
  if (!result.supported) {
    return await notSent(
      deps,
      payoutId,
      `provider_not_configured: ${claim.provider} payouts are not configured`,
    );
  }
  const outcome = outcomeOf(result.state);
  const recorded = await sql.recordPayoutOutcome(deps.serviceRpc, {
    payoutId,
    outcome,
    method: result.method,
    providerPayoutId: result.providerPayoutId ?? null,
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
    payout_id: payoutId,
    result: outcome === "ambiguous" ? "pending" : outcome,
    method: result.method,
    payout_status: recorded.payout_status,
    recorded: recorded.result,
  };
}

/** A check that learned nothing final: the payout stays processing, and the answer's time
 * is kept (`last_checked_at`) so that the next check waits `stale_seconds` again. */
async function stillOpen(
  deps: PayoutDeps,
  due: sql.PayoutDue,
  result: string,
  note: string | null,
): Promise<Row> {
  const recorded = await sql.recordPayoutOutcome(deps.serviceRpc, {
    payoutId: due.payout_id,
    outcome: "ambiguous",
    method: due.method ?? null,
    failureReason: note,
  });
  return {
    payout_id: due.payout_id,
    result,
    payout_status: recorded.payout_status,
  };
}

async function check(due: sql.PayoutDue, deps: PayoutDeps): Promise<Row> {
  if (!due.reference || !due.provider) {
    // the database does not say whom to ask about what (payouts_to_execute without the
    // provider and reference columns): nothing can be learned here
    return { payout_id: due.payout_id, result: "cannot_ask" };
  }
  if (!isProviderName(due.provider)) {
    return { payout_id: due.payout_id, result: "unknown_provider" };
  }
  let adapter: PayoutAdapter;
  try {
    adapter = deps.adapterFor(due.provider);
  } catch (error) {
    reportError(`payout provider ${due.provider} not configured:`, error);
    return { payout_id: due.payout_id, result: "provider_unavailable" };
  }
  const status = await adapter.payoutStatus({
    reference: due.reference,
    method: due.method ?? null,
  });
  if (!status.supported) {
    // Mixx B2C: only an operator can settle it, from the provider's statement
    return await stillOpen(
      deps,
      due,
      "cannot_ask",
      "no_final_answer: the provider has no status query; settle it from its statement",
    );
  }
  if (status.transportError) {
    return await stillOpen(
      deps,
      due,
      "provider_unreachable",
      failureText("no_final_answer", status.message),
    );
  }
  const method = due.method ?? adapter.payoutCapability?.method ?? null;
  if (status.notFound) {
    const recorded = await sql.recordPayoutOutcome(deps.serviceRpc, {
      payoutId: due.payout_id,
      outcome: "failed",
      method,
      failureReason:
        "not_found_at_provider: the provider has no payout with this reference; it was never received",
    });
    return {
      payout_id: due.payout_id,
      result: "not_found",
      payout_status: recorded.payout_status,
      recorded: recorded.result,
    };
  }
  const outcome = outcomeOf(status.state);
  if (outcome === "ambiguous") {
    return await stillOpen(deps, due, "still_pending", null);
  }
  const recorded = await sql.recordPayoutOutcome(deps.serviceRpc, {
    payoutId: due.payout_id,
    outcome,
    method,
    providerPayoutId: status.providerPayoutId ?? null,
    failureReason: outcome === "failed"
      ? failureText(status.failureReason ?? "provider_error", status.message)
      : null,
  });
  return {
    payout_id: due.payout_id,
    result: outcome,
    payout_status: recorded.payout_status,
    recorded: recorded.result,
  };
}

export async function handlePayoutExecute(
  req: Request,
  deps: PayoutDeps,
): Promise<Response> {
  try {
    requireSchedulerCall(req, "sends payouts");
    const opts = sendAndAskOptions(
      await readBody(req, 4096),
      DEFAULTS,
      MIN_STALE_SECONDS,
    );
    const due = await sql.payoutsToExecute(deps.serviceRpc, {
      limit: opts.limit,
      staleSeconds: opts.staleSeconds,
    });
    // a database call that fails leaves a claimed payout processing, asked about once
    // stale; nothing is sent twice
    const results = await workThrough(
      due,
      { budgetMs: opts.budgetMs, now: deps.now },
      (payout) => ({
        key: { payout_id: payout.payout_id },
        what: `payout ${payout.payout_id}`,
      }),
      (payout) =>
        payout.action === "send"
          ? send(payout.payout_id, deps)
          : check(payout, deps),
    );
    const counts = countResults(results);
    return json(200, { checked: due.length, counts, results });
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    reportError("payout-execute failed:", error);
    return errorResponse(
      unavailable("payouts were not executed; it runs again soon"),
    );
  }
}
