import { assert, assertEquals } from "../_shared/payments/assert.ts";
import type {
  RefundResult,
  RefundStatusResult,
} from "../_shared/payments/mod.ts";
import { ConfigError } from "../_shared/payments/mod.ts";
import {
  ASYNC_HMAC,
  fakeJwt,
  recordingRpc,
  recordingSelect,
  type RpcCall,
  ScriptedAdapter,
  SYNC_NO_CALLBACK,
} from "../_shared/edge/fakes.ts";
import { handleRefundExecute } from "./handler.ts";

interface Refund {
  id: string;
  status: "requested" | "processing";
  provider: string;
  reference: string;
  method?: string | null;
  claimed?: boolean;
  whole?: boolean;
}

/** A fake database of refunds and the answers of two adapters (M-Pesa, HaloPesa). */
function setup(
  refunds: Refund[],
  script: {
    refund?: (reference: string) => RefundResult;
    status?: (reference: string) => RefundStatusResult;
    unconfigured?: string[];
  } = {},
) {
  const calls: RpcCall[] = [];
  const byId = new Map(refunds.map((r) => [r.id, r]));
  const serviceRpc = recordingRpc("service", calls, {
    refunds_to_execute: () =>
      refunds.map((r) => ({ refund_id: r.id, status: r.status })),
    claim_refund: (args) => {
      const r = byId.get(String(args.p_refund_id))!;
      if (r.status !== "requested" || r.claimed === false) {
        return { claimed: false, refund_id: r.id };
      }
      r.status = "processing";
      return {
        claimed: true,
        refund_id: r.id,
        reference: r.reference,
        amount: 5000,
        currency: "TZS",
        provider: r.provider,
        payment_reference: "WP0000000000000000P1",
        provider_txn_id: "TXN1",
        msisdn: "255754000001",
        ...(r.whole === undefined ? {} : { whole_payment: r.whole }),
      };
    },
    record_refund_outcome: (args) => ({
      refund_id: args.p_refund_id,
      refund_status: args.p_outcome === "ambiguous"
        ? "processing"
        : args.p_outcome,
      result: args.p_outcome === "ambiguous" ? "pending" : "applied",
    }),
  });
  const serviceSelect = recordingSelect(calls, {
    refunds: (match) => {
      const r = byId.get(match.id);
      return r
        ? [{
          id: r.id,
          provider: r.provider,
          reference: r.reference,
          status: r.status,
          method: r.method ?? null,
        }]
        : [];
    },
  });
  const make = (provider: "mpesa" | "halopesa") =>
    new ScriptedAdapter(
      provider,
      provider === "mpesa" ? SYNC_NO_CALLBACK : ASYNC_HMAC,
      {
        refund: (r) =>
          script.refund?.(r.reference) ?? {
            supported: true,
            method: provider === "mpesa" ? "reversal" : "payout",
            state: "refunded",
            providerRefundId: `P-${r.reference}`,
            raw: null,
          },
        refundStatus: (r) =>
          script.status?.(r.reference) ?? { supported: false },
      },
    );
  const adapters = { mpesa: make("mpesa"), halopesa: make("halopesa") };
  const deps = {
    serviceRpc,
    serviceSelect,
    adapterFor: (p: string) => {
      if (script.unconfigured?.includes(p)) {
        throw new ConfigError("mixx", ["MIXX_TOKEN_URL"]);
      }
      return p === "mpesa" ? adapters.mpesa : adapters.halopesa;
    },
    now: () => 0,
  };
  const recorded = () =>
    calls.filter((c) => c.fn === "record_refund_outcome").map((c) => c.args);
  return { calls, deps, adapters, recorded };
}

const asScheduler = (body = "{}") =>
  new Request("http://local/refund-execute", {
    method: "POST",
    headers: { Authorization: `Bearer ${fakeJwt({ role: "service_role" })}` },
    body,
  });

async function run(
  deps: Parameters<typeof handleRefundExecute>[1],
  body?: string,
) {
  const res = await handleRefundExecute(asScheduler(body), deps);
  assertEquals(res.status, 200);
  return await res.json();
}

Deno.test("only the service role may execute refunds", async () => {
  const { calls, deps } = setup([]);
  for (
    const claims of [{ role: "authenticated", sub: "u" }, { role: "anon" }]
  ) {
    const res = await handleRefundExecute(
      new Request("http://local/refund-execute", {
        method: "POST",
        headers: { Authorization: `Bearer ${fakeJwt(claims)}` },
      }),
      deps,
    );
    assertEquals(res.status, 403);
  }
  const get = await handleRefundExecute(
    new Request("http://local/refund-execute"),
    deps,
  );
  assertEquals(get.status, 405);
  assertEquals(calls.length, 0);
});

Deno.test("a requested refund is claimed, sent once with what the claim says, and recorded", async () => {
  const { calls, deps, adapters, recorded } = setup([
    { id: "r1", status: "requested", provider: "mpesa", reference: "WR1" },
    {
      id: "r2",
      status: "requested",
      provider: "halopesa",
      reference: "WR2",
      whole: true,
    },
  ]);
  const body = await run(deps, '{"limit": 10}');
  assertEquals(body.checked, 2);
  assertEquals(body.results.map((r: { result: string }) => r.result), [
    "succeeded",
    "succeeded",
  ]);
  assertEquals(calls[0].fn, "refunds_to_execute");
  assertEquals(calls[0].args, { p_limit: 10, p_stale_seconds: 120 });
  assertEquals(adapters.mpesa.refunds, [{
    providerRef: "WP0000000000000000P1",
    providerTxnId: "TXN1",
    amount: 5000,
    reference: "WR1",
    msisdn: "255754000001",
    wholePayment: false,
  }]);
  assertEquals(adapters.halopesa.refunds[0].wholePayment, true);
  assertEquals(recorded(), [
    {
      p_refund_id: "r1",
      p_outcome: "succeeded",
      p_method: "reversal",
      p_provider_refund_id: "P-WR1",
      p_failure_reason: null,
    },
    {
      p_refund_id: "r2",
      p_outcome: "succeeded",
      p_method: "payout",
      p_provider_refund_id: "P-WR2",
      p_failure_reason: null,
    },
  ]);
  assertEquals(body.counts, { succeeded: 2 });
});

Deno.test("a refund someone else claimed is not sent", async () => {
  const { deps, adapters, recorded } = setup([
    {
      id: "r1",
      status: "requested",
      provider: "mpesa",
      reference: "WR1",
      claimed: false,
    },
  ]);
  const body = await run(deps);
  assertEquals(body.results, [{ refund_id: "r1", result: "not_claimed" }]);
  assertEquals(adapters.mpesa.refunds.length, 0);
  assertEquals(recorded().length, 0);
});

Deno.test("refused, ambiguous and pending answers are recorded as the provider gave them", async () => {
  const answers: Record<string, RefundResult> = {
    WR1: {
      supported: true,
      method: "reversal",
      state: "failed",
      failureReason: "insufficient_balance",
      message: "Insufficient balance",
      raw: null,
    },
    WR2: {
      supported: true,
      method: "reversal",
      state: "ambiguous",
      transportError: "timeout",
      message: "no reply within 15000 ms",
      raw: null,
    },
    WR3: {
      supported: true,
      method: "payout",
      state: "pending",
      providerRefundId: "PO3",
      rawCode: "AUTHORIZED",
      raw: null,
    },
  };
  const { deps, recorded } = setup([
    { id: "r1", status: "requested", provider: "mpesa", reference: "WR1" },
    { id: "r2", status: "requested", provider: "mpesa", reference: "WR2" },
    { id: "r3", status: "requested", provider: "halopesa", reference: "WR3" },
  ], { refund: (ref) => answers[ref] });
  const body = await run(deps);
  assertEquals(body.results.map((r: { result: string }) => r.result), [
    "failed",
    "pending",
    "pending",
  ]);
  assertEquals(
    recorded().map((a) => [a.p_outcome, a.p_method, a.p_failure_reason]),
    [
      ["failed", "reversal", "insufficient_balance: Insufficient balance"],
      ["ambiguous", "reversal", "no_final_answer: no reply within 15000 ms"],
      ["ambiguous", "payout", null], // accepted: no failure to tell
    ],
  );
});

Deno.test("a claimed refund that cannot be sent is failed, never left hanging", async () => {
  const { deps, recorded } = setup([
    { id: "r1", status: "requested", provider: "mixx", reference: "WR1" },
    { id: "r2", status: "requested", provider: "mpesa", reference: "WR2" },
    { id: "r3", status: "requested", provider: "halopesa", reference: "WR3" },
    { id: "r4", status: "requested", provider: "paypal", reference: "WR4" },
  ], {
    unconfigured: ["mixx"],
    refund: (ref) => {
      if (ref === "WR2") throw new RangeError("refund amount must be positive");
      return { supported: false };
    },
  });
  const body = await run(deps);
  assertEquals(body.results.map((r: { result: string }) => r.result), [
    "failed",
    "failed",
    "failed",
    "failed",
  ]);
  const reasons = recorded().map((a) => String(a.p_failure_reason));
  assertEquals(reasons[0], "provider_not_configured");
  assert(reasons[1].startsWith("not_sent: refund amount"));
  assert(reasons[2].startsWith("no_refund_api: halopesa"));
  assertEquals(reasons[3], "unknown_provider");
  assert(recorded().every((a) => a.p_outcome === "failed"));
});

Deno.test("a stale processing refund is asked about by its reference and settled", async () => {
  const statuses: Record<string, RefundStatusResult> = {
    WR1: {
      supported: true,
      state: "refunded",
      providerRefundId: "REV1",
      raw: null,
    },
    WR2: {
      supported: true,
      state: "failed",
      failureReason: "payee_refused",
      message: "barred",
      raw: null,
    },
    WR3: { supported: true, state: "pending", raw: null },
    WR4: { supported: true, state: "ambiguous", notFound: true, raw: null },
    WR5: {
      supported: true,
      state: "ambiguous",
      transportError: "timeout",
      raw: null,
    },
    WR6: { supported: false },
  };
  const { calls, deps, adapters, recorded } = setup([
    {
      id: "r1",
      status: "processing",
      provider: "mpesa",
      reference: "WR1",
      method: "reversal",
    },
    {
      id: "r2",
      status: "processing",
      provider: "halopesa",
      reference: "WR2",
      method: "payout",
    },
    {
      id: "r3",
      status: "processing",
      provider: "halopesa",
      reference: "WR3",
      method: "payout",
    },
    {
      id: "r4",
      status: "processing",
      provider: "mpesa",
      reference: "WR4",
      method: null,
    },
    {
      id: "r5",
      status: "processing",
      provider: "mpesa",
      reference: "WR5",
      method: "reversal",
    },
    {
      id: "r6",
      status: "processing",
      provider: "halopesa",
      reference: "WR6",
      method: "payout",
    },
  ], { status: (ref) => statuses[ref] });
  const body = await run(deps, '{"stale_seconds": 300}');
  assertEquals(body.results.map((r: { result: string }) => r.result), [
    "succeeded",
    "failed",
    "still_pending",
    "not_found",
    "provider_unreachable",
    "cannot_ask",
  ]);
  assertEquals(calls[0].args.p_stale_seconds, 300);
  // never sent again, never claimed
  assertEquals(
    adapters.mpesa.refunds.length + adapters.halopesa.refunds.length,
    0,
  );
  assertEquals(calls.some((c) => c.fn === "claim_refund"), false);
  assertEquals(
    adapters.mpesa.refundQueries.map((q) => [q.reference, q.method]),
    [
      ["WR1", "reversal"],
      ["WR4", null],
      ["WR5", "reversal"],
    ],
  );
  assertEquals(
    recorded().map((a) => [a.p_refund_id, a.p_outcome, a.p_method]),
    [
      ["r1", "succeeded", "reversal"],
      ["r2", "failed", "payout"],
      // nothing was recorded when it was sent: the method it was asked about
      ["r4", "failed", "reversal"],
    ],
  );
  assert(
    String(recorded()[2].p_failure_reason).startsWith("not_found_at_provider"),
  );
});

Deno.test("options are validated; a stale window too short to be safe is refused", async () => {
  const { deps } = setup([]);
  for (
    const body of [
      '{"limit": 0}',
      '{"limit": 501}',
      '{"stale_seconds": 5}',
      '{"limit": "9"}',
    ]
  ) {
    assertEquals(
      (await handleRefundExecute(asScheduler(body), deps)).status,
      422,
      body,
    );
  }
  assertEquals(
    (await handleRefundExecute(asScheduler("nope"), deps)).status,
    400,
  );
  assertEquals(
    (await handleRefundExecute(asScheduler("[]"), deps)).status,
    400,
  );
});

Deno.test("our own failures are 503 with Retry-After and no database text; one refund's failure does not stop the others", async () => {
  const calls: RpcCall[] = [];
  const down = {
    serviceRpc: recordingRpc("service", calls, {
      refunds_to_execute: () => {
        throw new Error('relation "public.refunds" does not exist');
      },
    }),
    serviceSelect: recordingSelect(calls, {}),
    adapterFor: () => {
      throw new Error("unused");
    },
    now: () => 0,
  };
  const res = await handleRefundExecute(asScheduler(), down);
  assertEquals(res.status, 503);
  assert(res.headers.get("retry-after"));
  const text = await res.text();
  assertEquals(text.includes("relation"), false);

  const { deps } = setup([
    { id: "r1", status: "requested", provider: "mpesa", reference: "WR1" },
    { id: "r2", status: "requested", provider: "mpesa", reference: "WR2" },
  ]);
  const flaky = {
    ...deps,
    serviceRpc: (fn: string, args: Record<string, unknown>) =>
      fn === "claim_refund" && args.p_refund_id === "r1"
        ? Promise.reject(new Error("connection reset"))
        : deps.serviceRpc(fn, args),
  };
  const body = await run(flaky);
  assertEquals(body.results.map((r: { result: string }) => r.result), [
    "error",
    "succeeded",
  ]);
});
