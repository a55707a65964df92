import { assert, assertEquals, assertMatch } from "./assert.ts";
import { canonicalJson, hmacSha256Hex } from "./crypto.ts";
import {
  clickPesaChecksum,
  clickPesaLegacyChecksum,
  grossFromNet,
  mapClickPesaStatus,
} from "./clickpesa.ts";
import { percentToBasisPoints } from "./config.ts";
import { createPaymentAdapter } from "./mod.ts";
import { envOf, FakeClock, json, MockProvider } from "./testing.ts";
import { tokenCache } from "./token_cache.ts";

const CHECKSUM_KEY = "clickpesa-checksum-key";
const API = "/clickpesa/third-parties";

function setup(extraEnv: Record<string, string> = {}) {
  tokenCache.clear();
  const mock = new MockProvider();
  const clock = new FakeClock();
  let tokens = 0;
  mock.on("POST", `${API}/generate-token`, (req) => {
    if (
      req.headers.get("client-id") !== "cp-id" ||
      req.headers.get("api-key") !== "cp-key"
    ) {
      return json(401, { message: "Unauthorized" });
    }
    tokens++;
    return json(200, { success: true, token: `Bearer jwt${tokens}` });
  });
  const adapter = createPaymentAdapter("halopesa", {
    env: envOf({
      CLICKPESA_BASE_URL: `http://clickpesa.test${API}`,
      CLICKPESA_CLIENT_ID: "cp-id",
      CLICKPESA_API_KEY: "cp-key",
      CLICKPESA_CHECKSUM_KEY: CHECKSUM_KEY,
      PAYMENTS_PUSH_TIMEOUT_MS: "100",
      ...extraEnv,
    }),
    fetch: mock.fetch,
    now: clock.now,
  });
  return { mock, clock, adapter, tokens: () => tokens };
}

const payment = {
  reference: "W00000000000000000C3",
  amount: 12000,
  currency: "TZS" as const,
  msisdn: "255624000001",
};

Deno.test("halopesa/clickpesa: token headers, push body with a valid checksum", async () => {
  const { mock, adapter } = setup();
  mock.on(
    "POST",
    `${API}/payments/initiate-ussd-push-request`,
    () =>
      json(200, {
        id: "CP1",
        status: "PROCESSING",
        channel: "HALOPESA",
        orderReference: payment.reference,
        collectedAmount: "12000",
        collectedCurrency: "TZS",
        createdAt: "2026-01-01T00:00:00Z",
      }),
  );
  const result = await adapter.initiate(payment);
  assertEquals([result.state, result.providerRef, result.providerTxnId], [
    "initiated",
    payment.reference,
    "CP1",
  ]);
  const push = mock.callsTo(`${API}/payments/initiate-ussd-push-request`)[0];
  assertEquals(push.headers.get("authorization"), "Bearer jwt1");
  const body = JSON.parse(push.body);
  assertEquals(
    { ...body, checksum: undefined },
    {
      amount: "12000",
      currency: "TZS",
      orderReference: payment.reference,
      phoneNumber: "255624000001",
      checksum: undefined,
    },
  );
  assertMatch(body.checksum, /^[0-9a-f]{64}$/);
  const expected = await hmacSha256Hex(
    CHECKSUM_KEY,
    '{"amount":"12000","currency":"TZS","orderReference":"W00000000000000000C3","phoneNumber":"255624000001"}',
  );
  assertEquals(body.checksum, expected);
});

Deno.test("halopesa/clickpesa: push outcomes", async () => {
  const cases: Array<[() => Response | "hang", string, string | undefined]> = [
    [
      () => json(200, { id: "1", status: "PROCESSING" }),
      "initiated",
      undefined,
    ],
    [
      () =>
        json(200, {
          id: "1",
          status: "FAILED",
          message: "Insufficient balance",
        }),
      "failed",
      "insufficient_funds",
    ],
    [
      () =>
        json(400, {
          statusCode: 400,
          message: ["Invalid phone number"],
          error: "Bad Request",
        }),
      "failed",
      "invalid_msisdn",
    ],
    [
      () => json(409, { message: "Order reference already exists" }),
      "ambiguous",
      undefined,
    ],
    [
      () => json(500, { message: "Internal server error" }),
      "ambiguous",
      undefined,
    ],
    [() => "hang", "ambiguous", undefined],
  ];
  for (const [reply, state, reason] of cases) {
    const { mock, adapter } = setup();
    mock.on("POST", `${API}/payments/initiate-ussd-push-request`, reply);
    const result = await adapter.initiate(payment);
    assertEquals([result.state, result.failureReason], [state, reason]);
    assertEquals(
      mock.callsTo(`${API}/payments/initiate-ussd-push-request`).length,
      1,
    );
  }
});

Deno.test("halopesa/clickpesa: checksum is independent of key order and skips checksum fields", async () => {
  const a = await clickPesaChecksum("k", { b: "2", a: { y: 1, x: [1, 2] } });
  const b = await clickPesaChecksum("k", {
    a: { x: [1, 2], y: 1 },
    checksum: "whatever",
    checksumMethod: "canonical",
    b: "2",
  });
  assertEquals(a, b);
  assertEquals(
    a,
    await hmacSha256Hex("k", canonicalJson({ a: { x: [1, 2], y: 1 }, b: "2" })),
  );
});

async function webhook(
  event: string,
  data: Record<string, unknown>,
  opts: {
    key?: string;
    tamper?: (b: Record<string, unknown>) => void;
    omit?: boolean;
  } = {},
) {
  const body: Record<string, unknown> = { event, data: structuredClone(data) };
  if (!opts.omit) {
    body.checksum = await clickPesaChecksum(opts.key ?? CHECKSUM_KEY, body);
    body.checksumMethod = "canonical";
  }
  opts.tamper?.(body);
  return {
    headers: new Headers({ "content-type": "application/json" }),
    rawBody: JSON.stringify(body),
    url: "http://127.0.0.1:54321/functions/v1/payment-webhook/halopesa",
    sourceIp: "127.0.0.1",
  };
}

const received = {
  id: "CP1",
  status: "SUCCESS",
  paymentReference: "HP123",
  orderReference: payment.reference,
  collectedAmount: "12000",
  collectedCurrency: "TZS",
  message: "success",
  channel: "HALOPESA",
  updatedAt: "2026-01-01T00:00:10Z",
  createdAt: "2026-01-01T00:00:00Z",
  customer: {
    customerName: "Asha",
    customerPhoneNumber: "255624000001",
    customerEmail: "",
  },
};

Deno.test("halopesa/clickpesa: webhook checksum — valid, forged, tampered, missing", async () => {
  const { adapter } = setup();
  const ok = await adapter.verifyAndParseCallback(
    await webhook("PAYMENT RECEIVED", received),
  );
  assert(ok.authentic);
  assertEquals(
    [
      ok.state,
      ok.providerRef,
      ok.providerTxnId,
      ok.amount,
      ok.currency,
      ok.msisdn,
    ],
    ["succeeded", payment.reference, "CP1", 12000, "TZS", "255624000001"],
  );
  const forged = await adapter.verifyAndParseCallback(
    await webhook("PAYMENT RECEIVED", received, { key: "wrong" }),
  );
  assertEquals([forged.authentic, forged.rejection], [false, "bad_signature"]);
  const tampered = await adapter.verifyAndParseCallback(
    await webhook("PAYMENT RECEIVED", received, {
      tamper: (b) => (b.data as Record<string, unknown>).collectedAmount = "1",
    }),
  );
  assertEquals([tampered.authentic, tampered.rejection], [
    false,
    "bad_signature",
  ]);
  const missing = await adapter.verifyAndParseCallback(
    await webhook("PAYMENT RECEIVED", received, { omit: true }),
  );
  assertEquals([missing.authentic, missing.rejection], [
    false,
    "missing_signature",
  ]);
  const failed = await adapter.verifyAndParseCallback(
    await webhook("PAYMENT FAILED", {
      ...received,
      status: "FAILED",
      message: "Invalid PIN",
    }),
  );
  assert(failed.authentic);
  assertEquals([failed.state, failed.failureReason], ["failed", "wrong_pin"]);
  const ack = adapter.acknowledge(ok, "accepted");
  assertEquals(ack.status, 200);
  assertEquals(adapter.acknowledge(forged, "unauthentic").status, 401);
});

Deno.test("halopesa/clickpesa: status query returns an array", async () => {
  const { mock, adapter } = setup();
  mock.on("GET", `${API}/payments/${payment.reference}`, () =>
    json(200, [
      {
        ...received,
        status: "FAILED",
        id: "old",
        updatedAt: "2026-01-01T00:00:05Z",
      },
      { ...received, paymentPhoneNumber: "255624000001" },
    ]));
  const ok = await adapter.queryStatus(payment.reference);
  assert(ok.supported);
  assertEquals([ok.state, ok.providerTxnId, ok.amount, ok.msisdn], [
    "succeeded",
    "CP1",
    12000,
    "255624000001",
  ]);
  mock.on("GET", `${API}/payments/${payment.reference}`, () => json(200, []));
  const empty = await adapter.queryStatus(payment.reference);
  assert(empty.supported);
  assertEquals([empty.state, empty.notFound], ["ambiguous", true]);
  mock.on(
    "GET",
    `${API}/payments/${payment.reference}`,
    () => json(404, { message: "Not found" }),
  );
  const missing = await adapter.queryStatus(payment.reference);
  assert(missing.supported);
  assertEquals(missing.notFound, true);
  assertEquals(
    ["SUCCESS", "SETTLED", "PROCESSING", "PENDING", "FAILED", "?"].map(
      mapClickPesaStatus,
    ),
    ["succeeded", "succeeded", "initiated", "initiated", "failed", "ambiguous"],
  );
});

const refund = {
  providerRef: payment.reference,
  amount: 5000,
  reference: "WR0000000000000000C1",
  msisdn: "255624000001",
};

function payoutPreview(receiverAmount: number | string = 5000) {
  return json(200, {
    amount: 5500,
    balance: 100000,
    channelProvider: "HALOPESA",
    fee: 500,
    payoutFeeBearer: "merchant",
    order: { amount: 5000, currency: "TZS", id: refund.reference },
    receiver: {
      accountName: "Sandbox Customer",
      accountNumber: refund.msisdn,
      accountCurrency: "TZS",
      amount: receiverAmount,
    },
  });
}

Deno.test("halopesa/clickpesa: a refund is a payout, previewed then created, both checksummed", async () => {
  const { mock, adapter } = setup();
  mock.on(
    "POST",
    `${API}/payouts/preview-mobile-money-payout`,
    () => payoutPreview(),
  );
  mock.on("POST", `${API}/payouts/create-mobile-money-payout`, () =>
    json(200, {
      id: "PO1",
      orderReference: refund.reference,
      status: "AUTHORIZED",
      channel: "MOBILE MONEY",
    }));
  const sent = await adapter.refund(refund);
  assert(sent.supported);
  assertEquals([sent.method, sent.state, sent.providerRefundId], [
    "payout",
    "pending",
    "PO1",
  ]);
  for (const step of ["preview", "create"]) {
    const [call] = mock.callsTo(`${API}/payouts/${step}-mobile-money-payout`);
    const body = JSON.parse(call.body);
    assertEquals(
      [body.amount, body.currency, body.orderReference, body.phoneNumber],
      [5000, "TZS", refund.reference, refund.msisdn],
    );
    const { checksum, ...rest } = body;
    assertEquals(
      checksum,
      await hmacSha256Hex(CHECKSUM_KEY, canonicalJson(rest)),
    );
    assertEquals(call.headers.get("authorization"), "Bearer jwt1");
  }
  for (
    const [http, status, state] of [
      [200, "SUCCESS", "refunded"],
      [200, "REVERSED", "failed"],
      [409, undefined, "ambiguous"],
      [502, undefined, "ambiguous"],
      [400, undefined, "failed"],
    ] as Array<[number, string | undefined, string]>
  ) {
    mock.on(
      "POST",
      `${API}/payouts/create-mobile-money-payout`,
      () => json(http, status ? { id: "PO1", status } : { message: "no" }),
    );
    const r = await adapter.refund(refund);
    assert(r.supported);
    assertEquals(r.state, state, `${http} ${status}`);
  }
});

Deno.test("halopesa/clickpesa: a refused or unanswered preview sends nothing", async () => {
  const { mock, adapter } = setup({ PAYMENTS_HTTP_TIMEOUT_MS: "50" });
  const create = `${API}/payouts/create-mobile-money-payout`;
  mock.on("POST", create, () => json(200, { id: "PO1", status: "SUCCESS" }));
  for (
    const [reply, reason] of [
      [json(400, { message: "Insufficient balance" }), "insufficient_balance"],
      [
        json(400, { message: ["phoneNumber must be a valid phone number"] }),
        "payee_refused",
      ],
      [json(503, { message: "down" }), "provider_error"],
      // the payer would get less than the refund: fees on the receiver
      [payoutPreview(4500), "fee_charged_to_payee"],
    ] as Array<[Response, string]>
  ) {
    mock.on(
      "POST",
      `${API}/payouts/preview-mobile-money-payout`,
      () => reply.clone(),
    );
    const r = await adapter.refund(refund);
    assert(r.supported);
    assertEquals([r.state, r.failureReason], ["failed", reason]);
  }
  mock.on(
    "POST",
    `${API}/payouts/preview-mobile-money-payout`,
    () =>
      json(409, {
        message: `Order reference ${refund.reference} already used`,
      }),
  );
  const exists = await adapter.refund(refund);
  assert(exists.supported);
  assertEquals(exists.state, "ambiguous");
  mock.on("POST", `${API}/payouts/preview-mobile-money-payout`, () => "hang");
  const lost = await adapter.refund(refund);
  assert(lost.supported);
  assertEquals(lost.state, "failed");
  assertEquals(mock.callsTo(create).length, 0);
});

Deno.test("halopesa/clickpesa: a payout is asked about by its order reference", async () => {
  const { mock, adapter } = setup();
  const path = `${API}/payouts/${refund.reference}`;
  for (
    const [list, state] of [
      [[{ id: "PO1", status: "SUCCESS" }], "refunded"],
      [[{ id: "PO1", status: "PROCESSING" }], "pending"],
      [[{ id: "PO1", status: "REFUNDED", notes: "Wallet barred" }], "failed"],
      [[{ id: "A", status: "FAILED", updatedAt: "2026-01-02" }, {
        id: "B",
        status: "SUCCESS",
        updatedAt: "2026-01-01",
      }], "refunded"],
    ] as Array<[unknown[], string]>
  ) {
    mock.on("GET", path, () => json(200, list));
    const r = await adapter.refundStatus({
      reference: refund.reference,
      method: "payout",
    });
    assert(r.supported);
    assertEquals(r.state, state);
  }
  mock.on(
    "GET",
    path,
    () => json(404, { message: "Invalid or missing payout" }),
  );
  const missing = await adapter.refundStatus({
    reference: refund.reference,
    method: null,
  });
  assert(missing.supported);
  assertEquals([missing.state, missing.notFound], ["ambiguous", true]);
});

Deno.test("halopesa/clickpesa: PAYOUT webhooks are refund outcomes, signed like the others", async () => {
  const { adapter } = setup();
  const webhook = async (
    event: string,
    data: Record<string, unknown>,
    key = CHECKSUM_KEY,
  ) => {
    const body: Record<string, unknown> = { event, data };
    body.checksum = await clickPesaChecksum(key, body);
    body.checksumMethod = "canonical";
    return await adapter.verifyAndParseCallback({
      headers: new Headers(),
      rawBody: JSON.stringify(body),
      url: "http://x/payment-webhook/halopesa",
    });
  };
  const data = {
    id: "PO1",
    orderReference: refund.reference,
    amount: "5000.00",
    currency: "TZS",
    status: "SUCCESS",
    channel: "MOBILE MONEY",
  };
  const ok = await webhook("PAYOUT INITIATED", data);
  assert(ok.authentic);
  assertEquals(
    [ok.subject, ok.providerRef, ok.providerTxnId, ok.state],
    ["refund", refund.reference, "PO1", "succeeded"],
  );
  const pending = await webhook("PAYOUT INITIATED", {
    ...data,
    status: "AUTHORIZED",
  });
  assertEquals([pending.subject, pending.state], ["refund", "ambiguous"]);
  for (const event of ["PAYOUT REFUNDED", "PAYOUT REVERSED"]) {
    const back = await webhook(event, {
      ...data,
      status: "REVERSED",
      notes: "wallet barred",
    });
    assert(back.authentic);
    assertEquals([back.state, back.refundFailure], ["failed", "payee_refused"]);
  }
  const forged = await webhook("PAYOUT INITIATED", data, "wrong-key");
  assertEquals([forged.authentic, forged.rejection], [false, "bad_signature"]);
  const noRef = await webhook("PAYOUT INITIATED", {
    ...data,
    orderReference: undefined,
  });
  assertEquals([noRef.authentic, noRef.rejection], [false, "malformed"]);
  // payments are untouched by the routing
  const payment = await webhook("PAYMENT RECEIVED", { ...received });
  assertEquals([payment.subject, payment.state], [undefined, "succeeded"]);
});

/*
 * ClickPesa's published PAYMENT RECEIVED sample (docs.clickpesa.com, "Webhooks", Sample
 * Payload Data). The documentation shows no checksum on it; it is signed here with the
 * documented canonical checksum (docs.clickpesa.com, "Checksum": keys sorted recursively,
 * compact JSON, hex HMAC-SHA256, checksum/checksumMethod left out).
 */
const DOC_PAYMENT_RECEIVED = {
  event: "PAYMENT RECEIVED",
  data: {
    id: "ORD123456LCP7890",
    status: "SUCCESS",
    paymentReference: "abc123def456ghi789",
    orderReference: "ORD123456",
    collectedAmount: "10000",
    collectedCurrency: "TZS",
    message: "success",
    channel: "CRDB DIRECT DEBIT MANDATE",
    updatedAt: "2024-04-10T18:22:56.153Z",
    createdAt: "2024-04-10T18:22:16.949Z",
    customer: {
      customerName: "John Doe",
      customerEmail: "john@example.com",
      customerPhoneNumber: "255700000000",
    },
  },
};

async function signed(
  payload: Record<string, unknown>,
  method: "canonical" | "legacy" | null = "canonical",
  key = CHECKSUM_KEY,
) {
  const body: Record<string, unknown> = { ...payload };
  body.checksum = method === "legacy"
    ? await clickPesaLegacyChecksum(key, payload)
    : await clickPesaChecksum(key, payload);
  if (method) body.checksumMethod = method;
  return {
    headers: new Headers({ "content-type": "application/json" }),
    rawBody: JSON.stringify(body),
    url: "http://127.0.0.1:54321/functions/v1/payment-webhook/halopesa",
    sourceIp: "127.0.0.1",
  };
}

Deno.test("halopesa/clickpesa: the documented PAYMENT RECEIVED sample reads as paid (gross)", async () => {
  const { adapter } = setup();
  const parsed = await adapter.verifyAndParseCallback(
    await signed(DOC_PAYMENT_RECEIVED),
  );
  assert(parsed.authentic);
  assertEquals(
    [parsed.state, parsed.providerRef, parsed.amount, parsed.currency],
    ["succeeded", "ORD123456", 10000, "TZS"],
  );
  assertEquals([parsed.msisdn, parsed.fee, parsed.unreadable], [
    "255700000000",
    undefined,
    [],
  ]);
});

Deno.test("halopesa/clickpesa: a failure sample naming the event eventType is read as event", async () => {
  const { adapter } = setup();
  const failed = {
    eventType: "PAYMENT FAILED",
    data: {
      ...DOC_PAYMENT_RECEIVED.data,
      status: "FAILED",
      collectedAmount: "0",
      message: "Insufficient balance",
    },
  };
  const parsed = await adapter.verifyAndParseCallback(await signed(failed));
  assert(parsed.authentic);
  assertEquals([parsed.state, parsed.failureReason, parsed.rawCode], [
    "failed",
    "insufficient_funds",
    "PAYMENT FAILED",
  ]);
});

Deno.test("halopesa/clickpesa: legacy checksums are computed as documented; one that leaves data unsigned is refused with a reason", async () => {
  // the legacy definition (docs.clickpesa.com "Checksum", earlier revision): sorted keys,
  // values concatenated — for the documented example payload that is "100USDTX123"
  assertEquals(
    await clickPesaLegacyChecksum("secret-key", {
      reference: "TX123",
      amount: 100,
      currency: "USD",
    }),
    await hmacSha256Hex("secret-key", "100USDTX123"),
  );
  // a webhook's data is an object: "PAYMENT RECEIVED[object Object]" signs nothing of it
  assertEquals(
    await clickPesaLegacyChecksum(CHECKSUM_KEY, DOC_PAYMENT_RECEIVED),
    await hmacSha256Hex(CHECKSUM_KEY, "[object Object]PAYMENT RECEIVED"),
  );
  const { adapter } = setup();
  const legacy = await adapter.verifyAndParseCallback(
    await signed(DOC_PAYMENT_RECEIVED, "legacy"),
  );
  assertEquals([legacy.authentic, legacy.rejection], [
    false,
    "unverifiable_signature",
  ]);
  assert(legacy.rejectionDetail?.includes("legacy"));
  // a forged amount would carry the same legacy checksum: that is why it is refused
  const forged = await adapter.verifyAndParseCallback(
    await signed({
      ...DOC_PAYMENT_RECEIVED,
      data: { ...DOC_PAYMENT_RECEIVED.data, collectedAmount: "1" },
    }, "legacy"),
  );
  assertEquals(forged.rejection, "unverifiable_signature");
  // a flat payload is fully covered: verified (a wrong key is still refused)
  const flat = { event: "PAYMENT RECEIVED", orderReference: "ORD1" };
  const flatOk = await adapter.verifyAndParseCallback(
    await signed(flat, "legacy"),
  );
  assertEquals(flatOk.rejection, "malformed"); // authentic, but no payment in it
  const flatBad = await adapter.verifyAndParseCallback(
    await signed(flat, "legacy", "wrong"),
  );
  assertEquals(flatBad.rejection, "bad_signature");
  const unknown = await adapter.verifyAndParseCallback({
    ...(await signed(DOC_PAYMENT_RECEIVED)),
    rawBody: JSON.stringify({
      ...DOC_PAYMENT_RECEIVED,
      checksum: "00",
      checksumMethod: "sha1-ish",
    }),
  });
  assertEquals(unknown.rejection, "unverifiable_signature");
  // no checksumMethod at all: the canonical checksum (the documented default)
  const bare = await adapter.verifyAndParseCallback(
    await signed(DOC_PAYMENT_RECEIVED, null),
  );
  assert(bare.authentic);
});

Deno.test("halopesa/clickpesa: net-of-fee amounts — the fee from the report or the setting is added back", async () => {
  const netSample = {
    ...DOC_PAYMENT_RECEIVED,
    data: { ...DOC_PAYMENT_RECEIVED.data, collectedAmount: "9850" },
  };
  // gross (default): the net figure is what ClickPesa says was paid → a mismatch for SQL
  const gross = await setup().adapter.verifyAndParseCallback(
    await signed(netSample),
  );
  assertEquals([gross.amount, gross.fee], [9850, undefined]);
  // net with the fee in the report
  const reported = await setup({ CLICKPESA_COLLECTED_AMOUNT: "net" }).adapter
    .verifyAndParseCallback(
      await signed({
        ...netSample,
        data: { ...netSample.data, fee: "150.00" },
      }),
    );
  assertEquals([reported.amount, reported.fee, reported.unreadable], [
    10000,
    150,
    [],
  ]);
  // net with the fee from the setting (1.5 %: 10,000 − 150 = 9,850)
  const configured = setup({
    CLICKPESA_COLLECTED_AMOUNT: "net",
    CLICKPESA_COLLECTION_FEE_PERCENT: "1.5",
  });
  const bySetting = await configured.adapter.verifyAndParseCallback(
    await signed(netSample),
  );
  assertEquals([bySetting.amount, bySetting.fee], [10000, 150]);
  // net without any way to know the fee: unreadable → review, never paid
  const unknown = await setup({ CLICKPESA_COLLECTED_AMOUNT: "net" }).adapter
    .verifyAndParseCallback(await signed(netSample));
  assertEquals([unknown.amount, unknown.unreadable], [null, ["amount"]]);
  // the status query reads the same way
  configured.mock.on("GET", `${API}/payments/ORD123456`, () =>
    json(200, [{
      ...netSample.data,
      status: "SUCCESS",
    }]));
  const status = await configured.adapter.queryStatus("ORD123456");
  assert(status.supported);
  assertEquals([status.state, status.amount, status.fee], [
    "succeeded",
    10000,
    150,
  ]);
});

Deno.test("halopesa/clickpesa: gross from net — round totals exact, never more than a fit", () => {
  assertEquals(grossFromNet(9850, 150), 10000); // 10,001 gives 9,850 too: the smaller
  assertEquals(grossFromNet(98, 100), 99); // only 99 − ceil(0.99) gives 98
  // every total whose fee is whole comes back exactly; any other fit differs from the
  // total, so SQL's exact comparison sends it to review instead of paying
  for (const total of [1000, 2500, 10_000, 120_000, 9_999_900]) {
    const net = total - Math.ceil(total * 175 / 10_000);
    assertEquals(grossFromNet(net, 175), total, `${total}`);
  }
  for (const total of [1001, 123_457]) {
    const net = total - Math.ceil(total * 175 / 10_000);
    const gross = grossFromNet(net, 175)!;
    assert(gross - Math.ceil(gross * 175 / 10_000) === net);
    assert(gross <= total);
  }
  assertEquals(percentToBasisPoints("1.5"), 150);
  assertEquals(percentToBasisPoints("0.75"), 75);
  assertEquals(percentToBasisPoints("2"), 200);
  assertEquals(percentToBasisPoints("1,5"), null);
  assertEquals(percentToBasisPoints("0"), null);
  assertEquals(percentToBasisPoints("100"), null);
});
