import { assert, assertEquals } from "../_shared/payments/assert.ts";
import {
  ASYNC_HMAC,
  fakeJwt,
  recordingRpc,
  type RpcCall,
  ScriptedAdapter,
  SYNC_NO_CALLBACK,
} from "../_shared/edge/fakes.ts";
import { HttpError } from "../_shared/edge/http.ts";
import type { InstalmentPayment } from "../_shared/edge/rpc.ts";
import {
  handleInstalmentPush,
  parsePayRequest,
  parseRunOptions,
} from "./handler.ts";

const customer = fakeJwt({
  sub: "c0ffee00-0000-4000-8000-000000000001",
  role: "authenticated",
});
const scheduler = fakeJwt({ role: "service_role" });
const PLAN = "b1a00000-0000-4000-8000-000000000001";

function request(
  token: string | null,
  body: unknown,
  method = "POST",
): Request {
  return new Request("http://local/instalment-push", {
    method,
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: method === "POST"
      ? typeof body === "string" ? body : JSON.stringify(body)
      : undefined,
  });
}

function instalmentPayment(
  over: Partial<InstalmentPayment> = {},
): InstalmentPayment {
  return {
    payment_id: "9a900000-0000-4000-8000-000000000002",
    order_id: "0rder000-0000-4000-8000-000000000001",
    plan_id: PLAN,
    instalment: 2,
    amount: 10000,
    currency: "TZS",
    provider: "airtel",
    msisdn: "255711000001",
    payment_status: "pending",
    order_status: "pending_payment",
    push_requested: false,
    expires_at: "2026-11-27T12:05:00Z",
    replayed: false,
    ...over,
  };
}

function setup(
  adapter: ScriptedAdapter,
  answers: Record<string, (args: Record<string, unknown>) => unknown>,
  adapterFor?: () => ScriptedAdapter,
) {
  const calls: RpcCall[] = [];
  const all = {
    claim_payment_push: (args: Record<string, unknown>) => ({
      claimed: true,
      provider_ref: `WP${String(args.p_payment_id).slice(0, 8)}`,
      expires_at: "2026-11-27T12:30:00Z",
      payment_status: "pending",
      order_status: "pending_payment",
    }),
    record_payment_initiation: (args: Record<string, unknown>) => ({
      payment_status: args.p_outcome,
      order_status: "pending_payment",
    }),
    apply_payment_event: () => ({ result: "applied" }),
    ...answers,
  };
  const background: Promise<unknown>[] = [];
  const deps = {
    userRpc: (token: string) =>
      recordingRpc(`user:${token.slice(-9)}`, calls, all),
    serviceRpc: recordingRpc("service", calls, all),
    adapterFor: adapterFor ?? (() => adapter),
    background: (task: () => Promise<unknown>) => {
      background.push(task());
    },
    now: () => 0,
  };
  return { calls, deps, background };
}

Deno.test("options and requests are checked before anything happens", () => {
  assertEquals(parseRunOptions(""), { limit: 100 });
  assertEquals(parseRunOptions('{"limit": 5}'), { limit: 5 });
  assertEquals(parsePayRequest(`{"plan_id": "${PLAN}"}`), { planId: PLAN });
  const refusals: [() => unknown, number, string][] = [
    [() => parseRunOptions("{nope"), 400, "invalid_json"],
    [() => parseRunOptions('{"limit": 0}'), 422, "invalid_option"],
    [() => parseRunOptions('{"limit": 2.5}'), 422, "invalid_option"],
    [() => parseRunOptions('{"other": 1}'), 422, "unknown_field"],
    [() => parsePayRequest("[]"), 400, "invalid_json"],
    [() => parsePayRequest("{}"), 422, "invalid_plan_id"],
    [() => parsePayRequest('{"plan_id": "42"}'), 422, "invalid_plan_id"],
    [
      () => parsePayRequest(`{"plan_id": "${PLAN}", "amount": 1}`),
      422,
      "unknown_field",
    ],
  ];
  for (const [parse, status, code] of refusals) {
    try {
      parse();
      throw new Error(`expected ${code}`);
    } catch (error) {
      assert(error instanceof HttpError, String(error));
      assertEquals([error.status, error.code], [status, code]);
    }
  }
});

Deno.test("the scheduled run pushes every due instalment through the shared push path", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const due = [
    instalmentPayment(),
    instalmentPayment({
      payment_id: "9a900000-0000-4000-8000-000000000003",
      plan_id: "b1a00000-0000-4000-8000-000000000002",
      amount: 7000,
    }),
  ];
  const { calls, deps } = setup(adapter, {
    run_instalment_schedule: () => ({
      reminded: 3,
      cancelled: 1,
      busy: 0,
      due,
    }),
  });
  const response = await handleInstalmentPush(request(scheduler, {}), deps);
  assertEquals(response.status, 200);
  const body = await response.json();
  assertEquals(
    [body.reminded, body.cancelled, body.pushed],
    [3, 1, 2],
  );
  assertEquals(
    body.results.map((r: Record<string, unknown>) => r.result),
    ["pushed", "pushed"],
  );
  assertEquals(
    adapter.initiated.map((p) => [p.amount, p.msisdn]),
    [[10000, "255711000001"], [7000, "255711000001"]],
  );
  assertEquals(calls.map((c) => `${c.as} ${c.fn}`), [
    "service run_instalment_schedule",
    "service claim_payment_push",
    "service record_payment_initiation",
    "service claim_payment_push",
    "service record_payment_initiation",
  ]);
  assertEquals(calls[0].args, { p_limit: 100 });
});

Deno.test("a payment another run already claimed is not pushed again", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { deps } = setup(adapter, {
    run_instalment_schedule: () => ({
      reminded: 0,
      cancelled: 0,
      busy: 0,
      due: [instalmentPayment()],
    }),
    claim_payment_push: () => ({
      claimed: false,
      provider_ref: null,
      expires_at: "2026-11-27T12:30:00Z",
      payment_status: "initiated",
      order_status: "pending_payment",
    }),
  });
  const response = await handleInstalmentPush(request(scheduler, {}), deps);
  const body = await response.json();
  assertEquals([body.pushed, body.results[0].result], [0, "not_claimed"]);
  assertEquals(adapter.initiated.length, 0);
});

Deno.test("an unconfigured provider fails that push, the run goes on", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { calls, deps } = setup(adapter, {
    run_instalment_schedule: () => ({
      reminded: 0,
      cancelled: 0,
      busy: 0,
      due: [instalmentPayment()],
    }),
  }, () => {
    throw new Error("AIRTEL_CLIENT_ID is not set");
  });
  const response = await handleInstalmentPush(request(scheduler, {}), deps);
  assertEquals(response.status, 200);
  const body = await response.json();
  assertEquals(body.results[0].result, "provider_unavailable");
  const recorded = calls.find((c) => c.fn === "record_payment_initiation");
  assertEquals(recorded?.args.p_outcome, "failed");
});

Deno.test("a customer pays the next instalment now: their RPC, then the push", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { calls, deps } = setup(adapter, {
    pay_next_instalment: () => instalmentPayment(),
  });
  const response = await handleInstalmentPush(
    request(customer, { plan_id: PLAN }),
    deps,
  );
  assertEquals(response.status, 202);
  const body = await response.json();
  assertEquals(
    [body.plan_id, body.instalment, body.payment_status, body.amount],
    [PLAN, 2, "initiated", 10000],
  );
  assertEquals(body.expires_at, "2026-11-27T12:30:00Z");
  assertEquals(calls[0].as.startsWith("user:"), true);
  assertEquals(calls[0].args, { p_plan_id: PLAN });
  assertEquals(adapter.initiated.length, 1);
  assert(
    !JSON.stringify(body).includes("WP"),
    "the provider reference leaked to the customer",
  );
});

Deno.test("tapping again while the prompt is out never pushes twice", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { calls, deps } = setup(adapter, {
    pay_next_instalment: () =>
      instalmentPayment({
        payment_status: "initiated",
        push_requested: true,
        replayed: true,
      }),
  });
  const response = await handleInstalmentPush(
    request(customer, { plan_id: PLAN }),
    deps,
  );
  assertEquals(response.status, 202);
  assertEquals((await response.json()).replayed, true);
  assertEquals(calls.map((c) => c.fn), ["pay_next_instalment"]);
  assertEquals(adapter.initiated.length, 0);
});

Deno.test("M-Pesa's synchronous push is answered at once and finished in the background", async () => {
  const adapter = new ScriptedAdapter("mpesa", SYNC_NO_CALLBACK, {
    initiate: (p) => ({
      state: "succeeded",
      providerRef: p.reference,
      providerTxnId: "MP123",
      raw: null,
    }),
  });
  const { calls, deps, background } = setup(adapter, {
    pay_next_instalment: () => instalmentPayment({ provider: "mpesa" }),
  });
  const response = await handleInstalmentPush(
    request(customer, { plan_id: PLAN }),
    deps,
  );
  assertEquals(response.status, 202);
  await Promise.all(background);
  const applied = calls.find((c) => c.fn === "apply_payment_event");
  assertEquals(applied?.args.p_outcome, "succeeded");
  assertEquals(applied?.args.p_source, "initiate_response");
});

Deno.test("who may call: the scheduler or a signed-in customer", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { calls, deps } = setup(adapter, {});
  const anon = fakeJwt({ role: "anon" });
  for (const token of [null, anon, "not-a-jwt"]) {
    const response = await handleInstalmentPush(
      request(token, { plan_id: PLAN }),
      deps,
    );
    assertEquals(response.status, 401);
    assertEquals((await response.json()).error.code, "sign_in_required");
  }
  const get = await handleInstalmentPush(request(customer, null, "GET"), deps);
  assertEquals(get.status, 405);
  const options = await handleInstalmentPush(
    request(customer, null, "OPTIONS"),
    deps,
  );
  assertEquals(options.status, 204);
  assertEquals(calls.length, 0);
});

Deno.test("refusals from the database reach the customer; our failures are 503", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { deps } = setup(adapter, {
    pay_next_instalment: () => {
      throw new HttpError(409, "plan_not_active", "this plan is paid in full");
    },
  });
  const refused = await handleInstalmentPush(
    request(customer, { plan_id: PLAN }),
    deps,
  );
  assertEquals(refused.status, 409);
  assertEquals((await refused.json()).error.code, "plan_not_active");

  const broken = setup(adapter, {
    pay_next_instalment: () => {
      throw new Error("socket closed");
    },
  });
  const failed = await handleInstalmentPush(
    request(customer, { plan_id: PLAN }),
    broken.deps,
  );
  assertEquals(failed.status, 503);
  const text = await failed.text();
  assert(!text.includes("socket"), text);
});
