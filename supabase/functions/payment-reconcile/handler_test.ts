import { assertEquals } from "../_shared/payments/assert.ts";
import type { StatusResult } from "../_shared/payments/mod.ts";
import {
  ASYNC_HMAC,
  fakeJwt,
  recordingRpc,
  type RpcCall,
  ScriptedAdapter,
} from "../_shared/edge/fakes.ts";
import { handleReconcile } from "./handler.ts";

const stale = [
  {
    payment_id: "p1",
    provider: "airtel",
    provider_ref: "REF1",
    status: "initiated",
    push_recorded: true,
  },
  {
    payment_id: "p2",
    provider: "airtel",
    provider_ref: "REF2",
    status: "ambiguous",
    push_recorded: true,
  },
  {
    payment_id: "p3",
    provider: "airtel",
    provider_ref: "REF3",
    status: "initiated",
    push_recorded: true,
  },
  {
    payment_id: "p4",
    provider: "mixx",
    provider_ref: "REF4",
    status: "initiated",
    push_recorded: true,
  },
];

function setup(
  statuses: Record<string, StatusResult>,
  payments: typeof stale = stale,
) {
  const calls: RpcCall[] = [];
  const airtel = new ScriptedAdapter("airtel", ASYNC_HMAC, {
    status: (ref) => statuses[ref],
  });
  const mixx = new ScriptedAdapter("mixx", {
    ...ASYNC_HMAC,
    statusQuery: false,
  }, {});
  const serviceRpc = recordingRpc("service", calls, {
    payments_to_reconcile: () => payments,
    apply_payment_event: () => ({ result: "applied" }),
    fail_unsent_push: () => ({ result: "failed" }),
    expire_overdue_payments: () => ({ expired: 1 }),
  });
  return {
    calls,
    deps: {
      serviceRpc,
      adapterFor: (p: string) => (p === "mixx" ? mixx : airtel),
      now: () => 0,
    },
  };
}

const asScheduler = (body = "{}") =>
  new Request("http://local/payment-reconcile", {
    method: "POST",
    headers: { Authorization: `Bearer ${fakeJwt({ role: "service_role" })}` },
    body,
  });

Deno.test("only the service role may reconcile", async () => {
  const { calls, deps } = setup({});
  const req = new Request("http://local/payment-reconcile", {
    method: "POST",
    headers: {
      Authorization: `Bearer ${fakeJwt({ role: "authenticated", sub: "x" })}`,
    },
  });
  const res = await handleReconcile(req, deps);
  assertEquals(res.status, 403);
  assertEquals(calls.length, 0);
});

Deno.test("final answers are applied, the rest left alone, then overdue payments expire", async () => {
  const { calls, deps } = setup({
    REF1: {
      supported: true,
      state: "succeeded",
      providerTxnId: "AM1",
      raw: null,
    },
    REF2: { supported: true, state: "expired", raw: null },
    REF3: { supported: true, state: "initiated", raw: null },
  });
  const res = await handleReconcile(asScheduler(), deps);
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals(body.checked, 4);
  assertEquals(body.results.map((r: { result: string }) => r.result), [
    "applied",
    "applied",
    "still_pending",
    "no_status_query",
  ]);
  const applied = calls.filter((c) => c.fn === "apply_payment_event").map((c) =>
    c.args
  );
  assertEquals(
    applied.map((
      a,
    ) => [a.p_provider_ref, a.p_outcome, a.p_failure_reason, a.p_source]),
    [
      ["REF1", "succeeded", null, "status_query"],
      ["REF2", "failed", "timeout", "status_query"],
    ],
  );
  assertEquals(calls.at(-1)?.fn, "expire_overdue_payments");
});

Deno.test("an unreachable provider teaches nothing", async () => {
  const { calls, deps } = setup({
    REF1: {
      supported: true,
      state: "ambiguous",
      transportError: "timeout",
      raw: null,
    },
    REF2: { supported: true, state: "ambiguous", notFound: true, raw: null },
    REF3: {
      supported: true,
      state: "ambiguous",
      transportError: "network",
      raw: null,
    },
  });
  await handleReconcile(asScheduler(), deps);
  assertEquals(calls.filter((c) => c.fn === "apply_payment_event").length, 0);
});

Deno.test("a claimed push the provider never saw goes to fail_unsent_push", async () => {
  const unsent = stale.map((p) => ({
    ...p,
    status: "pending",
    push_recorded: false,
  }));
  const { calls, deps } = setup({
    REF1: { supported: true, state: "ambiguous", notFound: true, raw: null },
    REF2: { supported: true, state: "initiated", raw: null },
    REF3: {
      supported: true,
      state: "ambiguous",
      transportError: "timeout",
      raw: null,
    },
  }, unsent);
  const body = await (await handleReconcile(asScheduler(), deps)).json();
  assertEquals(body.results.map((r: { result: string }) => r.result), [
    "unsent_push_failed",
    "still_pending",
    "provider_unreachable",
    "unsent_push_failed",
  ]);
  assertEquals(
    calls.filter((c) => c.fn === "fail_unsent_push").map((c) => [
      c.args.p_payment_id,
      c.args.p_finding,
    ]),
    [["p1", "not_found"], ["p4", "cannot_ask"]],
  );
});

Deno.test("fields a status answer could not read reach the database", async () => {
  const { calls, deps } = setup({
    REF1: {
      supported: true,
      state: "succeeded",
      unreadable: ["amount"],
      raw: null,
    },
  }, [stale[0]]);
  await handleReconcile(asScheduler(), deps);
  const applied = calls.find((c) => c.fn === "apply_payment_event");
  assertEquals(applied?.args.p_unreadable, ["amount"]);
});

Deno.test("options are validated", async () => {
  const { deps } = setup({});
  assertEquals(
    (await handleReconcile(asScheduler('{"limit": -1}'), deps)).status,
    422,
  );
  assertEquals((await handleReconcile(asScheduler("nope"), deps)).status, 400);
  assertEquals((await handleReconcile(asScheduler("null"), deps)).status, 400);
  assertEquals((await handleReconcile(asScheduler("[1]"), deps)).status, 400);
});
