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
import type { CheckoutResult } from "./handler.ts";
import { handleCheckout, parseCheckoutRequest } from "./handler.ts";

const customer = fakeJwt({
  sub: "c0ffee00-0000-4000-8000-000000000001",
  role: "authenticated",
});
const address = {
  recipient_name: "Amina Juma",
  region: "Dar es Salaam",
  district: "Ilala",
  street: "Samora Avenue 12",
};

function request(body: unknown, headers: Record<string, string> = {}): Request {
  return new Request("http://local/checkout-initiate", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "Authorization": `Bearer ${customer}`,
      "Idempotency-Key": "checkout-key-0001",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function checkoutResult(over: Partial<CheckoutResult> = {}): CheckoutResult {
  return {
    order_id: "0rder000-0000-4000-8000-000000000001",
    payment_id: "9a900000-0000-4000-8000-000000000001",
    order_status: "pending_payment",
    payment_status: "pending",
    amount: 25000,
    currency: "TZS",
    provider: "airtel",
    msisdn: "255711000001",
    expires_at: "2026-11-27T12:00:00Z",
    replayed: false,
    push_requested: false,
    plan: null,
    ...over,
  };
}

function setup(
  adapter: ScriptedAdapter,
  result: CheckoutResult,
  claim = true,
) {
  const calls: RpcCall[] = [];
  const background: Promise<unknown>[] = [];
  const answers = {
    checkout: () => result,
    claim_payment_push: () => ({
      claimed: claim,
      provider_ref: claim ? "WP0123456789ABCDEF01" : null,
      expires_at: "2026-11-27T12:30:00Z",
      payment_status: result.payment_status,
      order_status: result.order_status,
    }),
    record_payment_initiation: (args: Record<string, unknown>) => ({
      payment_status: args.p_outcome,
      order_status: args.p_outcome === "failed"
        ? "cancelled"
        : "pending_payment",
    }),
    apply_payment_event: () => ({ result: "applied" }),
  };
  const deps = {
    userRpc: (token: string) =>
      recordingRpc(`user:${token.slice(-9)}`, calls, answers),
    serviceRpc: recordingRpc("service", calls, answers),
    adapterFor: () => adapter,
    background: (task: () => Promise<unknown>) => {
      background.push(task());
    },
  };
  return { calls, deps, background };
}

Deno.test("a request without an Idempotency-Key is refused before anything happens", () => {
  try {
    parseCheckoutRequest(
      new Headers(),
      JSON.stringify({ provider: "mpesa", shipping_address: address }),
    );
    throw new Error("expected a refusal");
  } catch (error) {
    assert(error instanceof HttpError);
    assertEquals([error.status, error.code], [400, "idempotency_key_missing"]);
  }
});

Deno.test("bodies are validated field by field", () => {
  const headers = new Headers({ "Idempotency-Key": "checkout-key-0001" });
  const cases: [unknown, number, string][] = [
    ["{not json", 400, "invalid_json"],
    [[1, 2], 400, "invalid_json"],
    [{ provider: "visa", shipping_address: address }, 422, "unknown_provider"],
    [{ provider: "mpesa" }, 422, "invalid_address"],
    [
      {
        provider: "mpesa",
        shipping_address: { ...address, region: "Dar\u0007" },
      },
      422,
      "invalid_address",
    ],
    [
      {
        provider: "mpesa",
        shipping_address: { ...address, "ward\u0000": "x" },
      },
      422,
      "invalid_address",
    ],
    [
      { provider: "mpesa", shipping_address: { ...address, street: "\ud800" } },
      422,
      "invalid_address",
    ],
    [
      { provider: "mpesa", shipping_address: { ...address, region: 7 } },
      422,
      "invalid_address",
    ],
    [
      { provider: "mpesa", shipping_address: address, amount: 1 },
      422,
      "unknown_field",
    ],
    [
      { provider: "mpesa", shipping_address: address, redeem_points: -5 },
      422,
      "invalid_points",
    ],
    [
      { provider: "mpesa", shipping_address: address, redeem_points: 2.5 },
      422,
      "invalid_points",
    ],
    [
      { provider: "mpesa", shipping_address: address, redeem_points: "100" },
      422,
      "invalid_points",
    ],
  ];
  for (const [body, status, code] of cases) {
    try {
      parseCheckoutRequest(
        headers,
        typeof body === "string" ? body : JSON.stringify(body),
      );
      throw new Error(`accepted ${JSON.stringify(body)}`);
    } catch (error) {
      assert(error instanceof HttpError, String(error));
      assertEquals(
        [error.status, error.code],
        [status, code],
        JSON.stringify(body),
      );
    }
  }
  const ok = parseCheckoutRequest(
    headers,
    JSON.stringify({
      provider: "halopesa",
      shipping_address: { ...address, notes: "  gate 2 " },
    }),
  );
  assertEquals(ok.shippingAddress.notes, "gate 2");
  assertEquals(ok.redeemPoints, 0);
  const spending = parseCheckoutRequest(
    headers,
    JSON.stringify({
      provider: "airtel",
      shipping_address: address,
      redeem_points: 150,
    }),
  );
  assertEquals(spending.redeemPoints, 150);
});

Deno.test("the key's and the address's rules are left to the database", async () => {
  // public.checkout refuses a malformed key (400 idempotency_key_invalid) and
  // private.is_valid_shipping_address an address with a missing, unknown or too long
  // member (422 invalid_address): tests/payments/test_checkout.py pins those answers.
  // The function sends such requests on as they are, trimmed, and relays the refusal.
  const parsed = parseCheckoutRequest(
    new Headers({ "Idempotency-Key": "short" }),
    JSON.stringify({
      provider: "airtel",
      shipping_address: { ...address, street: " ", floor: "3" },
    }),
  );
  assertEquals(parsed.idempotencyKey, "short");
  assertEquals(parsed.shippingAddress, {
    recipient_name: "Amina Juma",
    region: "Dar es Salaam",
    district: "Ilala",
    floor: "3",
  });
  const { calls, deps } = setup(
    new ScriptedAdapter("airtel", ASYNC_HMAC, {}),
    checkoutResult(),
  );
  deps.userRpc = (token: string) => (fn, args) => {
    calls.push({ as: `user:${token.slice(-9)}`, fn, args });
    return Promise.reject(
      new HttpError(400, "idempotency_key_invalid", "the idempotency key …"),
    );
  };
  const res = await handleCheckout(
    request({ provider: "airtel", shipping_address: address }, {
      "Idempotency-Key": "has space in it",
    }),
    deps,
  );
  assertEquals(res.status, 400);
  assertEquals((await res.json()).error.code, "idempotency_key_invalid");
  assertEquals(calls.map((c) => [c.fn, c.args.p_idempotency_key]), [
    ["checkout", "has space in it"],
  ]);
});

Deno.test("the anon key is not a customer", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { calls, deps } = setup(adapter, checkoutResult());
  const anon = fakeJwt({ role: "anon" });
  const res = await handleCheckout(
    request({ provider: "airtel", shipping_address: address }, {
      Authorization: `Bearer ${anon}`,
    }),
    deps,
  );
  assertEquals(res.status, 401);
  assertEquals(calls.length, 0);
});

Deno.test("an async provider: checkout as the user, claim, one push, record initiated", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { calls, deps } = setup(adapter, checkoutResult());
  const res = await handleCheckout(
    request({ provider: "airtel", shipping_address: address }),
    deps,
  );
  assertEquals(res.status, 202);
  const body = await res.json();
  assertEquals(body.payment_status, "initiated");
  assertEquals(calls.map((c) => `${c.as}:${c.fn}`), [
    `user:${customer.slice(-9)}:checkout`,
    "service:claim_payment_push",
    "service:record_payment_initiation",
  ]);
  assertEquals(calls[0].args.p_idempotency_key, "checkout-key-0001");
  assertEquals(adapter.initiated.length, 1);
  assertEquals(adapter.initiated[0].reference, "WP0123456789ABCDEF01");
  assertEquals(adapter.initiated[0].msisdn, "255711000001");
  // the reference only the claim hands out never reaches the app; the window it opened does
  assertEquals(JSON.stringify(body).includes("WP0123456789ABCDEF01"), false);
  assertEquals(body.expires_at, "2026-11-27T12:30:00Z");
});

Deno.test("a retry after the push was requested never pushes again", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { calls, deps } = setup(
    adapter,
    checkoutResult({
      replayed: true,
      push_requested: true,
      payment_status: "initiated",
    }),
  );
  const res = await handleCheckout(
    request({ provider: "airtel", shipping_address: address }),
    deps,
  );
  assertEquals(res.status, 202);
  assertEquals(res.headers.get("Idempotent-Replayed"), "true");
  assertEquals(adapter.initiated.length, 0);
  assertEquals(calls.map((c) => c.fn), ["checkout"]);
});

Deno.test("a lost race for the push claim does not push", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const { deps } = setup(adapter, checkoutResult(), false);
  const res = await handleCheckout(
    request({ provider: "airtel", shipping_address: address }),
    deps,
  );
  assertEquals(res.status, 202);
  assertEquals(adapter.initiated.length, 0);
});

Deno.test("a refused push is recorded as failed (the database releases the stock)", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {
    initiate: (p) => ({
      state: "failed",
      providerRef: p.reference,
      failureReason: "invalid_msisdn",
      raw: null,
    }),
  });
  const { calls, deps } = setup(adapter, checkoutResult());
  const res = await handleCheckout(
    request({ provider: "airtel", shipping_address: address }),
    deps,
  );
  const body = await res.json();
  assertEquals([res.status, body.payment_status, body.order_status], [
    202,
    "failed",
    "cancelled",
  ]);
  assertEquals(body.failure_reason, "invalid_msisdn");
  const record = calls.find((c) => c.fn === "record_payment_initiation");
  assertEquals(record?.args.p_outcome, "failed");
  assertEquals(record?.args.p_failure_reason, "invalid_msisdn");
});

Deno.test("a sync provider is recorded initiated first and settled in the background", async () => {
  const adapter = new ScriptedAdapter("mpesa", SYNC_NO_CALLBACK, {
    initiate: (p) => ({
      state: "succeeded",
      providerRef: p.reference,
      providerTxnId: "MP123",
      raw: null,
    }),
  });
  const { calls, deps, background } = setup(
    adapter,
    checkoutResult({ provider: "mpesa" }),
  );
  const res = await handleCheckout(
    request({ provider: "mpesa", shipping_address: address }),
    deps,
  );
  assertEquals(res.status, 202);
  assertEquals((await res.json()).payment_status, "initiated");
  await Promise.all(background);
  assertEquals(calls.map((c) => c.fn), [
    "checkout",
    "claim_payment_push",
    "record_payment_initiation",
    "apply_payment_event",
  ]);
  const applied = calls[3].args;
  assertEquals(
    [applied.p_outcome, applied.p_provider_txn_id, applied.p_source],
    [
      "succeeded",
      "MP123",
      "initiate_response",
    ],
  );
});

Deno.test("an unconfigured provider fails the payment and answers 503", async () => {
  const { calls, deps } = setup(
    new ScriptedAdapter("mixx", ASYNC_HMAC, {}),
    checkoutResult({ provider: "mixx" }),
  );
  deps.adapterFor = () => {
    throw new Error("MIXX_PUSH_URL missing");
  };
  const res = await handleCheckout(
    request({ provider: "mixx", shipping_address: address }),
    deps,
  );
  assertEquals(res.status, 503);
  assertEquals((await res.json()).error.code, "provider_unavailable");
  assertEquals(calls.at(-1)?.args.p_outcome, "failed");
});

Deno.test("database refusals pass through with their status and reason", async () => {
  const { deps } = setup(
    new ScriptedAdapter("airtel", ASYNC_HMAC, {}),
    checkoutResult(),
  );
  deps.userRpc = () => () =>
    Promise.reject(
      new HttpError(409, "insufficient_stock", "not enough stock"),
    );
  const res = await handleCheckout(
    request({ provider: "airtel", shipping_address: address }),
    deps,
  );
  assertEquals(res.status, 409);
  assertEquals((await res.json()).error.code, "insufficient_stock");
  assertEquals(res.headers.get("Access-Control-Allow-Origin"), "*");
});

Deno.test("CORS preflight is answered without touching anything", async () => {
  const { calls, deps } = setup(
    new ScriptedAdapter("airtel", ASYNC_HMAC, {}),
    checkoutResult(),
  );
  const res = await handleCheckout(
    new Request("http://local/checkout-initiate", { method: "OPTIONS" }),
    deps,
  );
  assertEquals(res.status, 204);
  assert(
    res.headers.get("Access-Control-Allow-Headers")?.includes(
      "idempotency-key",
    ),
  );
  assertEquals(calls.length, 0);
});

Deno.test("an instalment plan is passed to the database and its schedule answered", async () => {
  const adapter = new ScriptedAdapter("airtel", ASYNC_HMAC, {});
  const plan = {
    plan_id: "b1a00000-0000-4000-8000-000000000001",
    plan: "pay_in_2",
    status: "pending" as const,
    total: 25000,
    instalments: [
      {
        number: 1,
        amount: 12500,
        due_at: "2026-11-27T11:55:00Z",
        status: "scheduled" as const,
      },
      {
        number: 2,
        amount: 12500,
        due_at: "2026-12-11T11:55:00Z",
        status: "scheduled" as const,
      },
    ],
  };
  const { calls, deps } = setup(
    adapter,
    checkoutResult({ amount: 12500, plan }),
  );
  const response = await handleCheckout(
    request({
      provider: "airtel",
      shipping_address: address,
      plan: "pay_in_2",
    }),
    deps,
  );
  assertEquals(response.status, 202);
  const body = await response.json();
  assertEquals([body.amount, body.plan.plan, body.plan.instalments.length], [
    12500,
    "pay_in_2",
    2,
  ]);
  assertEquals(calls[0].args.p_plan, "pay_in_2");
  assertEquals(adapter.initiated[0].amount, 12500);

  const plain = setup(adapter, checkoutResult());
  await handleCheckout(
    request({ provider: "airtel", shipping_address: address }),
    plain.deps,
  );
  assert(!("p_plan" in plain.calls[0].args), "no plan: nothing sent");
  for (const bad of [3, "pay\u0000in_2", { n: 2 }]) {
    const refused = await handleCheckout(
      request({ provider: "airtel", shipping_address: address, plan: bad }),
      plain.deps,
    );
    assertEquals(refused.status, 422);
    assertEquals((await refused.json()).error.code, "invalid_plan");
  }
});
