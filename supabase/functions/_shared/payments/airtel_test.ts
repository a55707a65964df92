import { assert, assertEquals, assertFalse } from "./assert.ts";
import {
  airtelCallbackHash,
  airtelHashInput,
  mapAirtelResponseCode,
  mapAirtelTransactionStatus,
} from "./airtel.ts";
import { createPaymentAdapter } from "./mod.ts";
import { envOf, FakeClock, json, MockProvider } from "./testing.ts";
import { tokenCache } from "./token_cache.ts";
import type { CallbackInput } from "./types.ts";

const HASH_KEY = "airtel-callback-key";
const BASE = "http://airtel.test";

function setup(extraEnv: Record<string, string> = {}) {
  tokenCache.clear();
  const mock = new MockProvider();
  const clock = new FakeClock();
  let tokens = 0;
  mock.on("POST", "/auth/oauth2/token", (req) => {
    const body = JSON.parse(req.body);
    if (body.client_id !== "cid" || body.client_secret !== "secret") {
      return json(401, {
        error: "invalid_client",
        error_description: "bad client",
      });
    }
    tokens++;
    return json(200, {
      access_token: `tok${tokens}`,
      expires_in: "180",
      token_type: "bearer",
    });
  });
  const adapter = createPaymentAdapter("airtel", {
    env: envOf({
      AIRTEL_BASE_URL: BASE,
      AIRTEL_CLIENT_ID: "cid",
      AIRTEL_CLIENT_SECRET: "secret",
      AIRTEL_CALLBACK_HASH_KEY: HASH_KEY,
      PAYMENTS_PUSH_TIMEOUT_MS: "100",
      ...extraEnv,
    }),
    fetch: mock.fetch,
    now: clock.now,
  });
  return { mock, clock, adapter, tokens: () => tokens };
}

const payment = {
  reference: "W00000000000000000A1",
  amount: 25000,
  currency: "TZS" as const,
  msisdn: "255684000001",
  description: "WATS order",
};

function pushReply(responseCode: string, success = true, http = 200) {
  return json(http, {
    data: { transaction: { id: payment.reference, status: "SUCCESS" } },
    status: {
      code: String(http),
      message: success ? "SUCCESS" : "FAILED",
      result_code: "ESB000010",
      response_code: responseCode,
      success,
    },
  });
}

Deno.test("airtel: token request, push shape with 9-digit msisdn and country headers", async () => {
  const { mock, adapter } = setup();
  mock.on("POST", "/merchant/v1/payments/", () => pushReply("DP00800001006"));
  const result = await adapter.initiate(payment);
  assertEquals(result.state, "initiated");
  assertEquals(result.providerRef, payment.reference);
  assertEquals(result.rawCode, "DP00800001006");
  const token = mock.callsTo("/auth/oauth2/token")[0];
  assertEquals(token.headers.get("content-type"), "application/json");
  assertEquals(JSON.parse(token.body), {
    client_id: "cid",
    client_secret: "secret",
    grant_type: "client_credentials",
  });
  const push = mock.callsTo("/merchant/v1/payments/")[0];
  assertEquals(push.headers.get("authorization"), "Bearer tok1");
  assertEquals(push.headers.get("x-country"), "TZ");
  assertEquals(push.headers.get("x-currency"), "TZS");
  assertEquals(JSON.parse(push.body), {
    reference: "WATS order",
    subscriber: { country: "TZ", currency: "TZS", msisdn: "684000001" },
    transaction: {
      amount: 25000,
      country: "TZ",
      currency: "TZS",
      id: payment.reference,
    },
  });
});

Deno.test("airtel: token cached until shortly before expires_in", async () => {
  const { mock, adapter, clock, tokens } = setup();
  mock.on("POST", "/merchant/v1/payments/", () => pushReply("DP00800001006"));
  await adapter.initiate(payment);
  clock.advance(149_000); // 180 s token, 30 s margin
  await adapter.initiate(payment);
  assertEquals(tokens(), 1);
  clock.advance(1_000);
  await adapter.initiate(payment);
  assertEquals(tokens(), 2);
});

Deno.test("airtel: push outcomes — accepted, refused, ambiguous, timeout", async () => {
  const cases: Array<[() => Response | "hang", string, string | undefined]> = [
    [() => pushReply("DP00800001006"), "initiated", undefined],
    [() => pushReply("DP00800001001"), "initiated", undefined], // never paid from a push reply
    [() => pushReply("DP00800001000"), "ambiguous", undefined],
    [
      () => pushReply("DP00800001007", false, 200),
      "failed",
      "insufficient_funds",
    ],
    [() => pushReply("DP00800001003", false, 400), "failed", "limit"],
    [
      () =>
        json(400, {
          status: {
            code: "400",
            message: "Invalid MSISDN",
            result_code: "ESB000008",
            success: false,
          },
        }),
      "failed",
      "invalid_msisdn",
    ],
    [
      () =>
        json(400, {
          status: {
            code: "400",
            message: "Duplicate transaction id",
            success: false,
          },
        }),
      "ambiguous",
      undefined,
    ],
    [() => json(502, { message: "bad gateway" }), "ambiguous", undefined],
    [() => "hang", "ambiguous", undefined],
  ];
  for (const [reply, state, reason] of cases) {
    const { mock, adapter } = setup();
    mock.on("POST", "/merchant/v1/payments/", reply);
    const result = await adapter.initiate(payment);
    assertEquals(
      [result.state, result.failureReason],
      [state, reason],
      JSON.stringify(result.raw),
    );
    assertEquals(
      mock.callsTo("/merchant/v1/payments/").length,
      1,
      "a push is never resent",
    );
  }
});

Deno.test("airtel: a 401 on the push refreshes the token and resends once", async () => {
  const { mock, adapter, tokens } = setup();
  mock.on(
    "POST",
    "/merchant/v1/payments/",
    (req) =>
      req.headers.get("authorization") === "Bearer tok2"
        ? pushReply("DP00800001006")
        : json(401, { error: "invalid_token" }),
  );
  const result = await adapter.initiate(payment);
  assertEquals([result.state, tokens()], ["initiated", 2]);
  assertEquals(mock.callsTo("/merchant/v1/payments/").length, 2);
});

Deno.test("airtel: bad client credentials → failed, push never sent", async () => {
  const { mock, adapter } = setup({ AIRTEL_CLIENT_SECRET: "nope" });
  const result = await adapter.initiate(payment);
  assertEquals([result.state, result.failureReason], [
    "failed",
    "provider_error",
  ]);
  assertEquals(mock.callsTo("/merchant/v1/payments/").length, 0);
});

async function callback(
  transaction: Record<string, unknown>,
  opts: {
    key?: string;
    hash?: string | null;
    tamper?: (b: Record<string, unknown>) => void;
    ip?: string;
  } = {},
): Promise<CallbackInput> {
  const body: Record<string, unknown> = { transaction };
  if (opts.hash !== null) {
    body.hash = opts.hash ??
      await airtelCallbackHash(opts.key ?? HASH_KEY, transaction);
  }
  opts.tamper?.(body);
  return {
    headers: new Headers({ "content-type": "application/json" }),
    rawBody: JSON.stringify(body),
    url: "http://127.0.0.1:54321/functions/v1/payment-webhook/airtel",
    sourceIp: opts.ip ?? "127.0.0.1",
  };
}

const tx = {
  id: payment.reference,
  message: "Paid TZS 25000 to WATS",
  status_code: "TS",
  airtel_money_id: "MP210603.1234.A12345",
};

Deno.test("airtel: callback hash — valid, forged, tampered, missing", async () => {
  const { adapter } = setup();
  const ok = await adapter.verifyAndParseCallback(await callback(tx));
  assert(ok.authentic);
  assertEquals(
    [ok.providerRef, ok.providerTxnId, ok.state, ok.rawCode, ok.amount],
    [payment.reference, "MP210603.1234.A12345", "succeeded", "TS", null],
  );
  const forged = await adapter.verifyAndParseCallback(
    await callback(tx, { key: "wrong" }),
  );
  assertEquals([forged.authentic, forged.rejection], [false, "bad_signature"]);
  const tampered = await adapter.verifyAndParseCallback(
    await callback({ ...tx, status_code: "TF" }, {
      tamper: (b) =>
        (b.transaction as Record<string, unknown>).status_code = "TS",
    }),
  );
  assertEquals([tampered.authentic, tampered.rejection], [
    false,
    "bad_signature",
  ]);
  const missing = await adapter.verifyAndParseCallback(
    await callback(tx, { hash: null }),
  );
  assertEquals([missing.authentic, missing.rejection], [
    false,
    "missing_signature",
  ]);
  const garbage = await adapter.verifyAndParseCallback({
    headers: new Headers(),
    rawBody: "not json",
    url: "http://x",
  });
  assertEquals([garbage.authentic, garbage.rejection], [false, "malformed"]);
});

Deno.test("airtel: hash input is the compact JSON of the transaction object", async () => {
  assertEquals(
    airtelHashInput({
      id: "A",
      message: "m",
      status_code: "TS",
      airtel_money_id: "X",
    }),
    '{"id":"A","message":"m","status_code":"TS","airtel_money_id":"X"}',
  );
  const expected = await airtelCallbackHash("k", { a: 1 });
  assertEquals(expected.length, 44); // base64 of 32 bytes
});

Deno.test("airtel: failed callback reason; IP allow-list", async () => {
  const { adapter } = setup({
    AIRTEL_CALLBACK_ALLOWED_IPS: "10.0.0.1, 10.0.0.2",
  });
  const failed = await adapter.verifyAndParseCallback(
    await callback(
      { ...tx, status_code: "TF", message: "Insufficient funds" },
      { ip: "10.0.0.2" },
    ),
  );
  assert(failed.authentic);
  assertEquals([failed.state, failed.failureReason], [
    "failed",
    "insufficient_funds",
  ]);
  const outsider = await adapter.verifyAndParseCallback(
    await callback(tx, { ip: "6.6.6.6" }),
  );
  assertEquals([outsider.authentic, outsider.rejection], [
    false,
    "ip_not_allowed",
  ]);
});

Deno.test("airtel: acknowledgements", async () => {
  const { adapter } = setup();
  const ok = adapter.acknowledge(null, "accepted");
  assertEquals(ok.status, 200);
  assertEquals((await ok.json()).status.success, true);
  assertEquals(adapter.acknowledge(null, "unauthentic").status, 401);
  assertEquals(adapter.acknowledge(null, "invalid").status, 400);
  assertEquals(adapter.acknowledge(null, "error").status, 503);
});

Deno.test("airtel: status query path and mapping", async () => {
  const { mock, adapter } = setup();
  let reply = { status: "TS", code: "DP00800001001", message: "success" };
  mock.on("GET", /^\/standard\/v1\/payments\//, () =>
    json(200, {
      data: {
        transaction: {
          airtel_money_id: "MP1",
          id: payment.reference,
          message: reply.message,
          status: reply.status,
        },
      },
      status: {
        code: "200",
        message: "SUCCESS",
        result_code: "ESB000010",
        response_code: reply.code,
        success: true,
      },
    }));
  const ok = await adapter.queryStatus(payment.reference);
  assert(ok.supported);
  assertEquals([ok.state, ok.providerTxnId], ["succeeded", "MP1"]);
  const call = mock.callsTo(/^\/standard\/v1\/payments\//)[0];
  assertEquals(call.url.pathname, `/standard/v1/payments/${payment.reference}`);
  assertEquals(call.headers.get("x-country"), "TZ");
  reply = { status: "TF", code: "DP00800001002", message: "Incorrect pin" };
  const pin = await adapter.queryStatus(payment.reference);
  assert(pin.supported);
  assertEquals([pin.state, pin.failureReason], ["failed", "wrong_pin"]);
  reply = { status: "TIP", code: "DP00800001006", message: "in progress" };
  const tip = await adapter.queryStatus(payment.reference);
  assert(tip.supported);
  assertEquals(tip.state, "initiated");
  mock.on(
    "GET",
    /^\/standard\/v1\/payments\//,
    () =>
      json(404, {
        status: {
          code: "404",
          response_code: "DP00800001025",
          message: "Transaction not found",
          success: false,
        },
      }),
  );
  const missing = await adapter.queryStatus("nope");
  assert(missing.supported);
  assertEquals([missing.state, missing.notFound], ["ambiguous", true]);
});

Deno.test("airtel: transaction status codes", () => {
  assertEquals(
    mapAirtelTransactionStatus("TS", undefined, undefined).state,
    "succeeded",
  );
  assertEquals(
    mapAirtelTransactionStatus("TF", "DP00800001007", undefined).reason,
    "insufficient_funds",
  );
  assertEquals(
    mapAirtelTransactionStatus("TF", undefined, "Transaction cancelled").reason,
    "cancelled",
  );
  assertEquals(
    mapAirtelTransactionStatus("TA", undefined, undefined).state,
    "ambiguous",
  );
  assertEquals(
    mapAirtelTransactionStatus("TIP", undefined, undefined).state,
    "initiated",
  );
  assertEquals(
    mapAirtelTransactionStatus("TE", undefined, undefined).reason,
    "timeout",
  );
  assertEquals(mapAirtelResponseCode("DP00800001024")?.reason, "timeout");
  assertEquals(mapAirtelResponseCode("DP00800001025")?.notFound, true);
  assertEquals(mapAirtelResponseCode("DPXXX"), null);
});

Deno.test("airtel: refund by airtel_money_id", async () => {
  const { mock, adapter } = setup();
  mock.on("POST", "/standard/v1/payments/refund", () =>
    json(200, {
      data: { transaction: { airtel_money_id: "RF1", status: "SUCCESS" } },
      status: {
        code: "200",
        message: "SUCCESS",
        result_code: "ESB000010",
        success: true,
      },
    }));
  const refund = await adapter.refund({
    providerRef: payment.reference,
    providerTxnId: "MP1",
    amount: 25000,
    reference: "R1",
  });
  assert(refund.supported);
  assertEquals([refund.state, refund.providerRefundId], ["refunded", "RF1"]);
  assertEquals(
    JSON.parse(mock.callsTo("/standard/v1/payments/refund")[0].body),
    {
      transaction: { airtel_money_id: "MP1" },
    },
  );
  const noId = await adapter.refund({
    providerRef: "x",
    amount: 1,
    reference: "R2",
  });
  assert(noId.supported);
  assertFalse(noId.state === "refunded");
});
