import { assertEquals } from "../payments/assert.ts";
import { recordingRpc, type RpcCall } from "./fakes.ts";
import * as sql from "./rpc.ts";

Deno.test("rpc: each typed call names its SQL function and sends p_ arguments", async () => {
  const calls: RpcCall[] = [];
  const rpc = recordingRpc("service", calls, {
    apply_payment_event: () => ({ result: "applied" }),
    record_webhook_event: () => "e1",
    expire_overdue_payments: () => ({ expired: 0, busy: 0 }),
  });
  const applied = await sql.applyPaymentEvent(rpc, {
    provider: "mpesa",
    providerRef: "WP0123456789ABCDEF01",
    outcome: "succeeded",
    providerTxnId: null,
    source: "initiate_response",
  });
  assertEquals(applied.result, "applied");
  assertEquals(
    await sql.recordWebhookEvent(rpc, {
      provider: "airtel",
      headers: {},
      body: new Uint8Array([0x7b, 0x00, 0xff]),
      sourceIp: null,
      path: "/payment-webhook/airtel",
    }),
    "e1",
  );
  await sql.expireOverduePayments(rpc);
  assertEquals(calls.map((c) => [c.fn, c.args]), [
    // left-out arguments are not sent (the SQL default applies); null is sent
    ["apply_payment_event", {
      p_provider: "mpesa",
      p_provider_ref: "WP0123456789ABCDEF01",
      p_outcome: "succeeded",
      p_provider_txn_id: null,
      p_source: "initiate_response",
    }],
    ["record_webhook_event", {
      p_provider: "airtel",
      p_headers: {},
      p_body: "\\x7b00ff",
      p_source_ip: null,
      p_path: "/payment-webhook/airtel",
    }],
    ["expire_overdue_payments", {}],
  ]);
});
