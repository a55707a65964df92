/**
 * Callbacks about money sent out (ClickPesa PAYOUT events) reach the side that knows their
 * reference: a vendor's payout (apply_payout_event) or a refund (apply_refund_event).
 */
import { assertEquals } from "../_shared/payments/assert.ts";
import type { ParsedCallback } from "../_shared/payments/mod.ts";
import {
  ASYNC_HMAC,
  recordingRpc,
  type RpcCall,
  ScriptedAdapter,
} from "../_shared/edge/fakes.ts";
import { handleWebhook } from "./handler.ts";

const EVENT = "e0e00000-0000-4000-8000-000000000002";

const payoutEvent = (reference: string): ParsedCallback => ({
  authentic: true,
  subject: "refund",
  providerRef: reference,
  providerTxnId: "PO7",
  state: "succeeded",
  failureReason: null,
  refundFailure: null,
  amount: null,
  currency: null,
  msisdn: null,
  unreadable: [],
  rawCode: "PAYOUT INITIATED SUCCESS",
  message: null,
  raw: {},
});

/** A fake database knowing the given payout and refund references. */
function setup(
  parsed: ParsedCallback,
  known: { payouts?: string[]; refunds?: string[]; fails?: boolean } = {},
) {
  const calls: RpcCall[] = [];
  const adapter = new ScriptedAdapter("halopesa", ASYNC_HMAC, {
    callback: () => parsed,
  });
  const serviceRpc = recordingRpc("service", calls, {
    record_webhook_event: () => EVENT,
    finish_webhook_event: () => null,
    apply_payout_event: (args) => {
      if (known.fails) throw new Error("database down");
      return known.payouts?.includes(String(args.p_reference))
        ? { payout_id: "p1", payout_status: "paid", result: "applied" }
        : { result: "unknown_payout" };
    },
    apply_refund_event: (args) =>
      known.refunds?.includes(String(args.p_reference))
        ? { refund_id: "r1", refund_status: "succeeded", result: "applied" }
        : { result: "unknown_refund" },
    apply_payment_event: () => ({ result: "applied" }),
  });
  return { calls, deps: { serviceRpc, adapterFor: () => adapter } };
}

function post(): Request {
  return new Request("http://local/payment-webhook/halopesa", {
    method: "POST",
    body: '{"event":"PAYOUT INITIATED"}',
    headers: { "cf-connecting-ip": "10.1.2.3" },
  });
}

Deno.test("a payout's callback (WO reference) goes to apply_payout_event only", async () => {
  const reference = "WO0123456789ABCDEF01";
  const { calls, deps } = setup(payoutEvent(reference), {
    payouts: [reference],
  });
  const res = await handleWebhook(post(), deps);
  assertEquals(res.status, 200);
  assertEquals(calls.map((c) => c.fn), [
    "record_webhook_event",
    "apply_payout_event",
    "finish_webhook_event",
  ]);
  assertEquals(calls[1].args, {
    p_provider: "halopesa",
    p_reference: reference,
    p_outcome: "succeeded",
    p_provider_payout_id: "PO7",
    p_failure_reason: null,
    p_webhook_event_id: EVENT,
  });
});

Deno.test("a failed payout reaches apply_payout_event with its reason", async () => {
  const reference = "WO0123456789ABCDEF02";
  const { calls, deps } = setup({
    ...payoutEvent(reference),
    state: "failed",
    refundFailure: "payee_refused",
    message: "wallet barred",
  }, { payouts: [reference] });
  await handleWebhook(post(), deps);
  const applied = calls.find((c) => c.fn === "apply_payout_event")!;
  assertEquals([applied.args.p_outcome, applied.args.p_failure_reason], [
    "failed",
    "payee_refused: wallet barred",
  ]);
  assertEquals(calls.some((c) => c.fn === "apply_refund_event"), false);
});

Deno.test("a refund's callback (WR reference) never asks the payouts", async () => {
  const reference = "WR0123456789ABCDEF01";
  const { calls, deps } = setup(payoutEvent(reference), {
    refunds: [reference],
  });
  assertEquals((await handleWebhook(post(), deps)).status, 200);
  assertEquals(
    calls.map((c) => c.fn).filter((fn) => fn.startsWith("apply_")),
    ["apply_refund_event"],
  );
});

Deno.test("a reference without our prefixes is looked up on both sides", async () => {
  // a refund whose reference does not start with WR: the refunds are asked first, found
  const refund = "MANUAL0001";
  const first = setup(payoutEvent(refund), { refunds: [refund] });
  await handleWebhook(post(), first.deps);
  assertEquals(
    first.calls.map((c) => c.fn).filter((fn) => fn.startsWith("apply_")),
    ["apply_refund_event"],
  );
  // a payout whose reference does not start with WO: refunds first, then payouts
  const payout = "LEGACY0002";
  const second = setup(payoutEvent(payout), { payouts: [payout] });
  assertEquals((await handleWebhook(post(), second.deps)).status, 200);
  assertEquals(
    second.calls.map((c) => c.fn).filter((fn) => fn.startsWith("apply_")),
    ["apply_refund_event", "apply_payout_event"],
  );
  // a WO reference the payouts do not know is tried as a refund
  const odd = "WO0000000000000000AA";
  const third = setup(payoutEvent(odd), { refunds: [odd] });
  await handleWebhook(post(), third.deps);
  assertEquals(
    third.calls.map((c) => c.fn).filter((fn) => fn.startsWith("apply_")),
    ["apply_payout_event", "apply_refund_event"],
  );
});

Deno.test("a reference nobody knows is stored and acknowledged, never applied", async () => {
  const { calls, deps } = setup(payoutEvent("WO9999999999999999ZZ"));
  const res = await handleWebhook(post(), deps);
  assertEquals(res.status, 200);
  assertEquals(calls.map((c) => c.fn), [
    "record_webhook_event",
    "apply_payout_event",
    "apply_refund_event",
    "finish_webhook_event",
  ]);
});

Deno.test("a database failure applying a payout's callback asks for a retry", async () => {
  const { deps } = setup(payoutEvent("WO0123456789ABCDEF03"), { fails: true });
  const res = await handleWebhook(post(), deps);
  // the provider's own "retry" answer (the real adapters add Retry-After)
  assertEquals(res.status, 503);
});
