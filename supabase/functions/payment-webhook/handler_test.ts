import { assertEquals } from "../_shared/payments/assert.ts";
import type { ParsedCallback } from "../_shared/payments/mod.ts";
import {
  ASYNC_HMAC,
  recordingRpc,
  type RpcCall,
  ScriptedAdapter,
} from "../_shared/edge/fakes.ts";
import { handleWebhook, providerFromPath } from "./handler.ts";

const parsedOk: ParsedCallback = {
  authentic: true,
  providerRef: "WP0123456789ABCDEF01",
  providerTxnId: "AM123",
  state: "succeeded",
  failureReason: null,
  amount: null,
  currency: null,
  msisdn: null,
  rawCode: "TS",
  message: "ok",
  raw: {},
};

function setup(parsed: ParsedCallback, applyFails = false) {
  const calls: RpcCall[] = [];
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {
    callback: () => parsed,
  });
  const serviceRpc = recordingRpc("service", calls, {
    record_webhook_event: () => "e0e00000-0000-4000-8000-000000000001",
    finish_webhook_event: () => null,
    apply_payment_event: () => {
      if (applyFails) throw new Error("database down");
      return { result: "applied" };
    },
  });
  return { calls, adapter, deps: { serviceRpc, adapterFor: () => adapter } };
}

function post(path: string, body = '{"transaction":{}}'): Request {
  return new Request(`http://local${path}`, {
    method: "POST",
    body,
    headers: { "x-forwarded-for": "10.1.2.3" },
  });
}

Deno.test("the provider is the last path segment, locally and on Supabase", () => {
  assertEquals(providerFromPath("/payment-webhook/airtel"), "airtel");
  assertEquals(providerFromPath("/functions/v1/payment-webhook/mixx"), "mixx");
  assertEquals(providerFromPath("/payment-webhook"), null);
  assertEquals(providerFromPath("/payment-webhook/airtel/extra"), null);
});

Deno.test("an unknown provider is 404 and nothing is stored", async () => {
  const { calls, deps } = setup(parsedOk);
  const res = await handleWebhook(post("/payment-webhook/paypal"), deps);
  assertEquals(res.status, 404);
  assertEquals(calls.length, 0);
});

Deno.test("an authentic callback is stored, applied, finished and acknowledged", async () => {
  const { calls, deps } = setup(parsedOk);
  const res = await handleWebhook(post("/payment-webhook/airtel"), deps);
  assertEquals(res.status, 200);
  assertEquals(calls.map((c) => c.fn), [
    "record_webhook_event",
    "apply_payment_event",
    "finish_webhook_event",
  ]);
  assertEquals(calls[0].args.p_source_ip, "10.1.2.3");
  assertEquals(calls[0].args.p_body, '{"transaction":{}}');
  const applied = calls[1].args;
  assertEquals([
    applied.p_provider,
    applied.p_provider_ref,
    applied.p_outcome,
    applied.p_source,
  ], [
    "airtel",
    "WP0123456789ABCDEF01",
    "succeeded",
    "callback",
  ]);
  assertEquals(
    applied.p_webhook_event_id,
    "e0e00000-0000-4000-8000-000000000001",
  );
});

Deno.test("a forged callback is stored and rejected with 401; nothing is applied", async () => {
  const { calls, deps } = setup({
    ...parsedOk,
    authentic: false,
    rejection: "bad_signature",
  });
  const res = await handleWebhook(post("/payment-webhook/airtel"), deps);
  assertEquals(res.status, 401);
  assertEquals(calls.map((c) => c.fn), [
    "record_webhook_event",
    "finish_webhook_event",
  ]);
  assertEquals(calls[1].args.p_rejection, "bad_signature");
});

Deno.test("a malformed callback is 400 and nothing is applied", async () => {
  const { calls, deps } = setup({
    ...parsedOk,
    authentic: false,
    rejection: "malformed",
  });
  const res = await handleWebhook(
    post("/payment-webhook/airtel", "not json"),
    deps,
  );
  assertEquals(res.status, 400);
  assertEquals(calls.some((c) => c.fn === "apply_payment_event"), false);
});

Deno.test("when applying fails the provider is told to retry (500)", async () => {
  const { deps } = setup(parsedOk, true);
  const res = await handleWebhook(post("/payment-webhook/airtel"), deps);
  assertEquals(res.status, 500);
});

Deno.test("GET is not a callback", async () => {
  const { calls, deps } = setup(parsedOk);
  const res = await handleWebhook(
    new Request("http://local/payment-webhook/airtel"),
    deps,
  );
  assertEquals(res.status, 405);
  assertEquals(calls.length, 0);
});

Deno.test("an oversized body is refused with 413 before it is stored", async () => {
  const { calls, deps } = setup(parsedOk);
  const res = await handleWebhook(
    post("/payment-webhook/airtel", "x".repeat(70 * 1024)),
    deps,
  );
  assertEquals(res.status, 413);
  assertEquals(calls.length, 0);
});
