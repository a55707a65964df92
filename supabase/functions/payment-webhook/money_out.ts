/**
 * A provider's callback about money we sent out (ClickPesa `PAYOUT …` events): a refund
 * paid as a payout to the payer (`apply_refund_event`) or a vendor's payout
 * (`apply_payout_event`). Both are found by our reference, which the callback names.
 *
 * Which one it is: the reference's prefix says which side to ask first (the database draws
 * refund references `WR…` and payout references `WO…`, contract.ts); when that side does
 * not know the reference, the other is asked. So a reference that does not follow the
 * prefixes (set by hand, or a future format) still finds its row, and an unknown one is
 * stored as unknown by both. Each call is one SQL transaction that locks the row, applies
 * the outcome once (a repeat is a duplicate) and annotates the stored callback.
 */
import {
  type ParsedCallback,
  PAYOUT_REFERENCE_PREFIX,
  type ProviderName,
} from "../_shared/payments/mod.ts";
import type { Rpc } from "../_shared/edge/db.ts";
import * as sql from "../_shared/edge/rpc.ts";

export interface MoneyOutApplied {
  /** The side that knew the reference (or was asked last, when none did). */
  subject: "refund" | "payout";
  /** What SQL did: applied | pending | duplicate | ignored | unknown_refund | unknown_payout. */
  result: string;
}

export async function applyMoneyOutEvent(
  rpc: Rpc,
  a: {
    provider: ProviderName;
    parsed: ParsedCallback & { providerRef: string };
    webhookEventId: string;
  },
): Promise<MoneyOutApplied> {
  const { parsed } = a;
  const outcome = parsed.state === "succeeded" || parsed.state === "failed"
    ? parsed.state
    : "ambiguous";
  const failureReason = parsed.state === "failed"
    ? [parsed.refundFailure ?? "provider_error", parsed.message]
      .filter(Boolean).join(": ")
    : null;
  const asRefund = async (): Promise<MoneyOutApplied> => ({
    subject: "refund",
    result: (await sql.applyRefundEvent(rpc, {
      provider: a.provider,
      reference: parsed.providerRef,
      outcome,
      providerRefundId: parsed.providerTxnId,
      failureReason,
      webhookEventId: a.webhookEventId,
    })).result,
  });
  const asPayout = async (): Promise<MoneyOutApplied> => ({
    subject: "payout",
    result: (await sql.applyPayoutEvent(rpc, {
      provider: a.provider,
      reference: parsed.providerRef,
      outcome,
      providerPayoutId: parsed.providerTxnId,
      failureReason,
      webhookEventId: a.webhookEventId,
    })).result,
  });
  const [first, second] = parsed.providerRef.startsWith(PAYOUT_REFERENCE_PREFIX)
    ? [asPayout, asRefund]
    : [asRefund, asPayout];
  const answer = await first();
  return String(answer.result ?? "").startsWith("unknown_")
    ? await second()
    : answer;
}
