import { assertEquals } from "../_shared/payments/assert.ts";
import type { ParsedCallback } from "../_shared/payments/mod.ts";
import {
  ASYNC_HMAC,
  recordingRpc,
  type RpcCall,
  ScriptedAdapter,
} from "../_shared/edge/fakes.ts";
import { handleWebhook, providerFromPath, redactedPath } from "./handler.ts";

const parsedOk: ParsedCallback = {
  authentic: true,
  providerRef: "WP0123456789ABCDEF01",
  providerTxnId: "AM123",
  state: "succeeded",
  failureReason: null,
  amount: null,
  currency: null,
  msisdn: null,
  unreadable: [],
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
    apply_refund_event: () => {
      if (applyFails) throw new Error("database down");
      return { refund_status: "succeeded", result: "applied" };
    },
  });
  return { calls, adapter, deps: { serviceRpc, adapterFor: () => adapter } };
}

function post(
  path: string,
  body: string | Uint8Array<ArrayBuffer> = '{"transaction":{}}',
): Request {
  return new Request(`http://local${path}`, {
    method: "POST",
    body,
    // what the platform's edge adds (it overwrites cf-connecting-ip), behind a client
    // that wrote its own X-Forwarded-For
    headers: {
      "cf-connecting-ip": "10.1.2.3",
      "x-forwarded-for": "198.51.100.23, 10.1.2.3",
    },
  });
}

Deno.test("the provider is the last path segment, locally and on Supabase", () => {
  assertEquals(providerFromPath("/payment-webhook/airtel"), "airtel");
  assertEquals(providerFromPath("/functions/v1/payment-webhook/mixx"), "mixx");
  assertEquals(providerFromPath("/payment-webhook"), null);
  assertEquals(providerFromPath("/payment-webhook/airtel/extra"), null);
  // Mixx's secret may be the last path segment (the form Mixx keeps, if it drops queries)
  assertEquals(providerFromPath("/payment-webhook/mixx/s3cret"), "mixx");
  assertEquals(
    providerFromPath("/functions/v1/payment-webhook/mixx/s3cret"),
    "mixx",
  );
  assertEquals(providerFromPath("/payment-webhook/mixx/a/b"), null);
  assertEquals(providerFromPath("/payment-webhook/halopesa/s3cret"), null);
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
  assertEquals(
    calls[0].args.p_body,
    "\\x" + [...new TextEncoder().encode('{"transaction":{}}')]
      .map((b) => b.toString(16).padStart(2, "0")).join(""),
  );
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

Deno.test("when applying fails the provider is told to retry (503), never 500", async () => {
  const { deps } = setup(parsedOk, true);
  const res = await handleWebhook(post("/payment-webhook/airtel"), deps);
  assertEquals(res.status, 503);
});

Deno.test("the raw body is stored byte for byte, NUL and invalid UTF-8 included", async () => {
  const { calls, deps } = setup({ ...parsedOk, authentic: false });
  const bytes = new Uint8Array([0x7b, 0x00, 0xff, 0xfe, 0x7d]);
  await handleWebhook(post("/payment-webhook/airtel", bytes), deps);
  assertEquals(calls[0].args.p_body, "\\x7b00fffe7d");
});

Deno.test("the source address comes from the trusted edge header, never X-Forwarded-For", async () => {
  const { calls, deps } = setup(parsedOk);
  await handleWebhook(
    new Request("http://local/payment-webhook/airtel", {
      method: "POST",
      body: "{}",
      headers: { "x-forwarded-for": "198.51.100.23" },
    }),
    deps,
  );
  assertEquals(calls[0].args.p_source_ip, null);
});

Deno.test("fields the adapter could not read reach the database with the outcome", async () => {
  const { calls, deps } = setup({
    ...parsedOk,
    amount: null,
    unreadable: ["amount"],
  });
  await handleWebhook(post("/payment-webhook/airtel"), deps);
  const applied = calls.find((c) => c.fn === "apply_payment_event");
  assertEquals(applied?.args.p_unreadable, ["amount"]);
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

Deno.test("the stored path keeps Mixx's URL token out", () => {
  assertEquals(
    redactedPath(new URL("http://x/payment-webhook/mixx?token=s3cret&a=1")),
    "/payment-webhook/mixx?token=%5Bredacted%5D&a=1",
  );
  assertEquals(
    redactedPath(new URL("http://x/payment-webhook/airtel")),
    "/payment-webhook/airtel",
  );
  for (
    const path of [
      "/payment-webhook/mixx/s3cret-Token_value",
      "/functions/v1/payment-webhook/mixx/s3cret-Token_value/",
    ]
  ) {
    const stored = redactedPath(new URL(`http://x${path}`));
    assertEquals(stored.includes("s3cret"), false, stored);
    assertEquals(stored.endsWith("/mixx/[redacted]"), true, stored);
  }
  assertEquals(
    redactedPath(new URL("http://x/payment-webhook/mixx/s3cret?token=s3cret")),
    "/payment-webhook/mixx/[redacted]?token=%5Bredacted%5D",
  );
});

const payoutOk: ParsedCallback = {
  ...parsedOk,
  subject: "refund",
  providerRef: "WR0123456789ABCDEF01",
  providerTxnId: "PO1",
  rawCode: "PAYOUT INITIATED SUCCESS",
};

Deno.test("a refund callback (a payout's outcome) is stored first, then applied as a refund", async () => {
  const { calls, deps } = setup(payoutOk);
  const res = await handleWebhook(post("/payment-webhook/halopesa"), deps);
  assertEquals(res.status, 200);
  assertEquals(calls.map((c) => c.fn), [
    "record_webhook_event",
    "apply_refund_event",
    "finish_webhook_event",
  ]);
  assertEquals(calls[1].args, {
    p_provider: "halopesa",
    p_reference: "WR0123456789ABCDEF01",
    p_outcome: "succeeded",
    p_provider_refund_id: "PO1",
    p_failure_reason: null,
    p_webhook_event_id: "e0e00000-0000-4000-8000-000000000001",
  });
  assertEquals(calls.some((c) => c.fn === "apply_payment_event"), false);
});

Deno.test("a failed or unfinished payout reaches apply_refund_event with its reason", async () => {
  const failed = setup({
    ...payoutOk,
    state: "failed",
    refundFailure: "payee_refused",
    message: "wallet barred",
  });
  await handleWebhook(post("/payment-webhook/halopesa"), failed.deps);
  const applied = failed.calls.find((c) => c.fn === "apply_refund_event")!;
  assertEquals([applied.args.p_outcome, applied.args.p_failure_reason], [
    "failed",
    "payee_refused: wallet barred",
  ]);
  const pending = setup({ ...payoutOk, state: "ambiguous" });
  await handleWebhook(post("/payment-webhook/halopesa"), pending.deps);
  assertEquals(
    pending.calls.find((c) => c.fn === "apply_refund_event")!.args.p_outcome,
    "ambiguous",
  );
});

Deno.test("a forged refund callback changes nothing; a database failure asks for a retry", async () => {
  const forged = setup({
    ...payoutOk,
    authentic: false,
    rejection: "bad_signature",
  });
  const res = await handleWebhook(
    post("/payment-webhook/halopesa"),
    forged.deps,
  );
  assertEquals(res.status, 401);
  assertEquals(forged.calls.map((c) => c.fn), [
    "record_webhook_event",
    "finish_webhook_event",
  ]);
  const down = setup(payoutOk, true);
  const retry = await handleWebhook(
    post("/payment-webhook/halopesa"),
    down.deps,
  );
  assertEquals(retry.status, 503);
});

Deno.test("a Mixx callback to /payment-webhook/mixx/<token> reaches the adapter whole; the stored path hides the token", async () => {
  const calls: RpcCall[] = [];
  let seenUrl = "";
  const adapter = new ScriptedAdapter("mixx", ASYNC_HMAC, {
    callback: (input) => {
      seenUrl = input.url;
      return parsedOk;
    },
  });
  const serviceRpc = recordingRpc("service", calls, {
    record_webhook_event: () => "e0e00000-0000-4000-8000-000000000002",
    finish_webhook_event: () => null,
    apply_payment_event: () => ({ result: "applied" }),
  });
  const res = await handleWebhook(
    post("/payment-webhook/mixx/zzSecretTokenValue0123456789"),
    { serviceRpc, adapterFor: () => adapter },
  );
  assertEquals(res.status, 200);
  assertEquals(seenUrl.endsWith("/mixx/zzSecretTokenValue0123456789"), true);
  assertEquals(calls[0].args.p_path, "/payment-webhook/mixx/[redacted]");
  assertEquals(JSON.stringify(calls).includes("zzSecretTokenValue"), false);
  // another provider with an extra segment is no route: 404, nothing stored
  const other = await handleWebhook(
    post("/payment-webhook/airtel/zzSecretTokenValue0123456789"),
    { serviceRpc, adapterFor: () => adapter },
  );
  assertEquals(other.status, 404);
  assertEquals(calls.length, 3);
});
