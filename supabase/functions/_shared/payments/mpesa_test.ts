import { Buffer } from "node:buffer";
import { constants, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { assert, assertEquals, assertFalse, assertRejects } from "./assert.ts";
import { createPaymentAdapter } from "./mod.ts";
import { mapMpesaReply, mapMpesaTransactionStatus } from "./mpesa.ts";
import {
  envOf,
  FakeClock,
  json,
  MockProvider,
  type RecordedRequest,
} from "./testing.ts";
import { tokenCache } from "./token_cache.ts";

const { publicKey, privateKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "der" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const PUBLIC_KEY_B64 = Buffer.from(publicKey).toString("base64");
const API_KEY = "test-api-key-123";
const MARKET = "/sandbox/ipg/v2/vodacomTZN";
const BASE = "http://mpesa.test";

function decryptBearer(request: RecordedRequest): string {
  const header = request.headers.get("authorization") ?? "";
  assert(header.startsWith("Bearer "), "bearer missing");
  return privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
    Buffer.from(header.slice(7), "base64"),
  ).toString("utf8");
}

function setup(extraEnv: Record<string, string> = {}) {
  tokenCache.clear();
  const mock = new MockProvider();
  const clock = new FakeClock();
  let sessions = 0;
  const live = new Set<string>();
  mock.on("GET", `${MARKET}/getSession/`, (req) => {
    if (decryptBearer(req) !== API_KEY) {
      return json(401, {
        output_ResponseCode: "INS-2",
        output_ResponseDesc: "Invalid API Key",
      });
    }
    const id = `session-${++sessions}`;
    live.add(id);
    return json(200, {
      output_ResponseCode: "INS-0",
      output_ResponseDesc: "Request processed successfully",
      output_SessionID: id,
    });
  });
  const adapter = createPaymentAdapter("mpesa", {
    env: envOf({
      MPESA_BASE_URL: BASE,
      MPESA_MARKET_PATH: MARKET,
      MPESA_API_KEY: API_KEY,
      MPESA_PUBLIC_KEY: PUBLIC_KEY_B64,
      MPESA_SERVICE_PROVIDER_CODE: "000000",
      MPESA_PUSH_TIMEOUT_MS: "150",
      ...extraEnv,
    }),
    fetch: mock.fetch,
    now: clock.now,
  });
  const authed = (req: RecordedRequest) => live.has(decryptBearer(req));
  return { mock, clock, adapter, live, authed, sessions: () => sessions };
}

const payment = {
  reference: "W1234567890ABCDEF123",
  amount: 15000,
  currency: "TZS" as const,
  msisdn: "255754000001",
  description: "Order 42",
};

Deno.test("mpesa: C2B request shape, encrypted API key then session as Bearer", async () => {
  const { mock, adapter, authed } = setup();
  mock.on("POST", `${MARKET}/c2bPayment/singleStage/`, (req) => {
    assert(authed(req), "push must carry the encrypted session id");
    return json(201, {
      output_ResponseCode: "INS-0",
      output_ResponseDesc: "Request processed successfully",
      output_TransactionID: "5C1400CVRO",
      output_ConversationID: "abc",
      output_ThirdPartyConversationID: payment.reference,
    });
  });
  const result = await adapter.initiate(payment);
  assertEquals(result.state, "succeeded");
  assertEquals(result.providerRef, payment.reference);
  assertEquals(result.providerTxnId, "5C1400CVRO");
  assertEquals(result.rawCode, "INS-0");
  const push = mock.callsTo(`${MARKET}/c2bPayment/singleStage/`)[0];
  assertEquals(push.url.origin, BASE);
  assertEquals(push.headers.get("origin"), "*");
  assertEquals(push.headers.get("content-type"), "application/json");
  assertEquals(JSON.parse(push.body), {
    input_Amount: "15000",
    input_Country: "TZN",
    input_Currency: "TZS",
    input_CustomerMSISDN: "255754000001",
    input_ServiceProviderCode: "000000",
    input_ThirdPartyConversationID: payment.reference,
    input_TransactionReference: payment.reference,
    input_PurchasedItemsDesc: "Order 42",
  });
});

Deno.test("mpesa: session cached across calls and refreshed after TTL", async () => {
  const { mock, adapter, clock, sessions } = setup({
    MPESA_SESSION_TTL_S: "600",
  });
  mock.on(
    "POST",
    `${MARKET}/c2bPayment/singleStage/`,
    () =>
      json(201, { output_ResponseCode: "INS-0", output_TransactionID: "T" }),
  );
  await adapter.initiate(payment);
  await adapter.initiate({ ...payment, reference: "OTHER1" });
  assertEquals(sessions(), 1);
  clock.advance(600_000);
  await adapter.initiate({ ...payment, reference: "OTHER2" });
  assertEquals(sessions(), 2);
});

Deno.test("mpesa: a 401 (session expired) fetches a new session and resends once", async () => {
  const { mock, adapter, live, authed, sessions } = setup();
  let pushes = 0;
  mock.on("POST", `${MARKET}/c2bPayment/singleStage/`, (req) => {
    pushes++;
    if (!authed(req)) {
      return json(401, {
        output_ResponseCode: "INS-2",
        output_ResponseDesc: "Invalid API Key",
      });
    }
    return json(201, {
      output_ResponseCode: "INS-0",
      output_TransactionID: "T9",
    });
  });
  await adapter.queryStatus("warm-up").catch(() => undefined);
  live.clear(); // the provider forgot every session
  const result = await adapter.initiate(payment);
  assertEquals([result.state, pushes, sessions()], ["succeeded", 2, 2]);
});

Deno.test("mpesa: push timeout → ambiguous, never resent", async () => {
  const { mock, adapter } = setup();
  mock.on("POST", `${MARKET}/c2bPayment/singleStage/`, () => "hang");
  const result = await adapter.initiate(payment);
  assertEquals(result.state, "ambiguous");
  assertEquals(result.transportError, "timeout");
  assertEquals(mock.callsTo(`${MARKET}/c2bPayment/singleStage/`).length, 1);
});

Deno.test("mpesa: no session → failed without a push; bad msisdn → failed without a call", async () => {
  const { mock, adapter } = setup({ MPESA_API_KEY: "wrong" });
  const result = await adapter.initiate(payment);
  assertEquals([result.state, result.failureReason], [
    "failed",
    "provider_error",
  ]);
  assertEquals(mock.callsTo(`${MARKET}/c2bPayment/singleStage/`).length, 0);
  const before = mock.calls.length;
  const bad = await adapter.initiate({ ...payment, msisdn: "0754000001" });
  assertEquals([bad.state, bad.failureReason], ["failed", "invalid_msisdn"]);
  assertEquals(mock.calls.length, before);
  await assertRejects(
    () => adapter.initiate({ ...payment, amount: 10.5 }),
    RangeError,
  );
  await assertRejects(
    () => adapter.initiate({ ...payment, reference: "bad-ref" }),
    RangeError,
  );
});

Deno.test("mpesa: reply codes map to states and reasons", () => {
  const cases: Array<[number, string | undefined, string, string | undefined]> =
    [
      [201, "INS-0", "succeeded", undefined],
      [200, "INS-0", "succeeded", undefined],
      [422, "INS-2006", "failed", "insufficient_funds"],
      [422, "INS-5", "failed", "cancelled"],
      [400, "INS-2001", "failed", "wrong_pin"],
      [400, "INS-2051", "failed", "invalid_msisdn"],
      [422, "INS-6", "failed", "provider_error"],
      [408, "INS-9", "ambiguous", "timeout"],
      [409, "INS-10", "ambiguous", undefined],
      [500, "INS-1", "ambiguous", undefined],
      [503, undefined, "ambiguous", undefined],
      [400, "INS-777", "failed", "provider_error"],
      [500, "INS-0", "ambiguous", undefined],
    ];
  for (const [status, code, state, reason] of cases) {
    const mapped = mapMpesaReply(status, code);
    assertEquals(
      [mapped.state, mapped.reason],
      [state, reason],
      `${status} ${code}`,
    );
  }
});

Deno.test("mpesa: failure reply from the push", async () => {
  const { mock, adapter } = setup();
  mock.on("POST", `${MARKET}/c2bPayment/singleStage/`, () =>
    json(422, {
      output_ResponseCode: "INS-2006",
      output_ResponseDesc: "Insufficient balance",
      output_ConversationID: "c",
    }));
  const result = await adapter.initiate(payment);
  assertEquals(
    [result.state, result.failureReason, result.rawCode],
    ["failed", "insufficient_funds", "INS-2006"],
  );
});

Deno.test("mpesa: status query parameters and mapping", async () => {
  const { mock, adapter } = setup();
  let answer = "Completed";
  mock.on("GET", `${MARKET}/queryTransactionStatus/`, () =>
    json(200, {
      output_ResponseCode: "INS-0",
      output_ResponseDesc: "Request processed successfully",
      output_ResponseTransactionStatus: answer,
      output_ConversationID: "c",
      output_ThirdPartyConversationID: "t",
    }));
  const done = await adapter.queryStatus(payment.reference);
  assert(done.supported);
  assertEquals(done.state, "succeeded");
  const q =
    mock.callsTo(`${MARKET}/queryTransactionStatus/`)[0].url.searchParams;
  assertEquals(q.get("input_QueryReference"), payment.reference);
  assertEquals(q.get("input_ServiceProviderCode"), "000000");
  assertEquals(q.get("input_Country"), "TZN");
  assert((q.get("input_ThirdPartyConversationID") ?? "").length >= 16);
  answer = "Expired";
  const expired = await adapter.queryStatus(payment.reference);
  assert(expired.supported);
  assertEquals([expired.state, expired.failureReason], ["failed", "timeout"]);
  mock.on(
    "GET",
    `${MARKET}/queryTransactionStatus/`,
    () =>
      json(400, {
        output_ResponseCode: "INS-18",
        output_ResponseDesc: "Invalid TransactionID Used",
      }),
  );
  const missing = await adapter.queryStatus("nope");
  assert(missing.supported);
  assertEquals([missing.state, missing.notFound], ["ambiguous", true]);
  mock.on("GET", `${MARKET}/queryTransactionStatus/`, () => "hang");
  // status queries use the ordinary timeout (15 s default) — use a short one here
  const quick = setup({ PAYMENTS_HTTP_TIMEOUT_MS: "50" });
  quick.mock.on("GET", `${MARKET}/queryTransactionStatus/`, () => "hang");
  const timedOut = await quick.adapter.queryStatus("x");
  assert(timedOut.supported);
  assertEquals([timedOut.state, timedOut.transportError], [
    "ambiguous",
    "timeout",
  ]);
  assertEquals(
    quick.mock.callsTo(`${MARKET}/queryTransactionStatus/`).length,
    2,
  );
});

/*
 * The OpenAPI's published "Query Transaction Status" synchronous response (M-Pesa OpenAPI
 * developer portal, API documentation, Query Transaction Status, response parameters and
 * sample values): output_ResponseCode INS-0, output_ResponseDesc "Request processed
 * successfully", output_ResponseTransactionStatus "Completed", output_ConversationID
 * fd1e9143d22544459f7c66e1860ef276, output_ThirdPartyConversationID
 * 1e9b774d1da34af78412a498cbc28f5e, output_OriginalTransactionID 4C123GE3, output_Reversed
 * False. The public SDKs read the same field (Go QueryTxStatusResponse structs:
 * `json:"output_OriginalTransactionID"`). No output_TransactionID in it.
 */
Deno.test("mpesa: the published status answer gives the transaction id (output_OriginalTransactionID)", async () => {
  const { mock, adapter } = setup();
  mock.on("GET", `${MARKET}/queryTransactionStatus/`, () =>
    json(200, {
      output_ResponseCode: "INS-0",
      output_ResponseDesc: "Request processed successfully",
      output_ResponseTransactionStatus: "Completed",
      output_ConversationID: "fd1e9143d22544459f7c66e1860ef276",
      output_ThirdPartyConversationID: "1e9b774d1da34af78412a498cbc28f5e",
      output_OriginalTransactionID: "4C123GE3",
      output_Reversed: "False",
    }));
  const done = await adapter.queryStatus(payment.reference);
  assert(done.supported);
  assertEquals([done.state, done.providerTxnId], ["succeeded", "4C123GE3"]);
  // the id is what a reversal needs: the confirmed payment can be refunded automatically
  mock.on("PUT", `${MARKET}/reversal/`, () =>
    json(201, {
      output_ResponseCode: "INS-0",
      output_ResponseDesc: "Request processed successfully",
      output_TransactionID: "REV9",
    }));
  const reversed = await adapter.refund({
    providerRef: payment.reference,
    providerTxnId: done.providerTxnId,
    amount: 100,
    reference: "WR0000000000000000M9",
  });
  assert(reversed.supported);
  assertEquals(reversed.state, "refunded");
  const sent = JSON.parse(mock.callsTo(`${MARKET}/reversal/`)[0].body);
  assertEquals(sent.input_TransactionID, "4C123GE3");
});

Deno.test("mpesa: transaction status words", () => {
  assertEquals(mapMpesaTransactionStatus("Completed").state, "succeeded");
  assertEquals(mapMpesaTransactionStatus("Cancelled").reason, "cancelled");
  assertEquals(mapMpesaTransactionStatus("Pending").state, "initiated");
  assertEquals(mapMpesaTransactionStatus("In Progress").state, "initiated");
  assertEquals(mapMpesaTransactionStatus("Failed").state, "failed");
  assertEquals(mapMpesaTransactionStatus("Reversed").state, "refunded");
  assertEquals(mapMpesaTransactionStatus("Not Found").notFound, true);
  assertEquals(mapMpesaTransactionStatus("???").state, "ambiguous");
});

Deno.test("mpesa: reversal request and result; no callbacks", async () => {
  const { mock, adapter } = setup();
  mock.on(
    "PUT",
    `${MARKET}/reversal/`,
    () =>
      json(200, { output_ResponseCode: "INS-0", output_TransactionID: "REV1" }),
  );
  const refund = await adapter.refund({
    providerRef: payment.reference,
    providerTxnId: "5C1400CVRO",
    amount: 15000,
    reference: "R1",
  });
  assert(refund.supported);
  assertEquals([refund.state, refund.providerRefundId], ["refunded", "REV1"]);
  assertEquals(JSON.parse(mock.callsTo(`${MARKET}/reversal/`)[0].body), {
    input_ReversalAmount: "15000",
    input_TransactionID: "5C1400CVRO",
    input_Country: "TZN",
    input_ServiceProviderCode: "000000",
    input_ThirdPartyConversationID: "R1",
  });
  const noTxn = await adapter.refund({
    providerRef: "x",
    amount: 1,
    reference: "R2",
  });
  assert(noTxn.supported);
  assertEquals(noTxn.state, "failed");

  const cb = await adapter.verifyAndParseCallback({
    headers: new Headers(),
    rawBody: "{}",
    url: "http://x/payment-webhook/mpesa",
  });
  assertFalse(cb.authentic);
  assertEquals(cb.rejection, "unsupported");
  assertEquals(adapter.acknowledge(cb, "accepted").status, 404);
});

Deno.test("mpesa: reversal answers; a lost one is asked about by our reference", async () => {
  const { mock, adapter } = setup();
  const reversal = {
    providerRef: payment.reference,
    providerTxnId: "5C1400CVRO",
    amount: 4000,
    reference: "WR0000000000000000M1",
  };
  for (
    const [http, code, state, reason] of [
      [201, "INS-0", "refunded", undefined],
      [422, "INS-2006", "failed", "insufficient_balance"],
      [422, "INS-6", "failed", "not_eligible"],
      [409, "INS-10", "ambiguous", undefined], // a reversal with this reference exists
      [500, "INS-1", "ambiguous", undefined],
      [503, undefined, "ambiguous", undefined],
    ] as Array<[number, string | undefined, string, string | undefined]>
  ) {
    mock.on("PUT", `${MARKET}/reversal/`, () =>
      json(http, {
        output_ResponseCode: code,
        output_ResponseDesc: "x",
        output_TransactionID: code === "INS-0" ? "REV2" : "",
      }));
    const r = await adapter.refund(reversal);
    assert(r.supported);
    assertEquals([r.method, r.state, r.failureReason], [
      "reversal",
      state,
      reason,
    ], code);
  }
  const path = `${MARKET}/queryTransactionStatus/`;
  for (
    const [word, state] of [
      ["Completed", "refunded"],
      ["Pending", "pending"],
      ["Failed", "failed"],
    ]
  ) {
    mock.on("GET", path, () =>
      json(200, {
        output_ResponseCode: "INS-0",
        output_ResponseTransactionStatus: word,
        output_OriginalTransactionID: "REV2",
      }));
    const r = await adapter.refundStatus({
      reference: reversal.reference,
      method: "reversal",
    });
    assert(r.supported);
    assertEquals(r.state, state, word);
  }
  assertEquals(
    mock.callsTo(path).at(-1)!.url.searchParams.get("input_QueryReference"),
    reversal.reference,
  );
  mock.on("GET", path, () =>
    json(400, {
      output_ResponseCode: "INS-18",
      output_ResponseDesc: "Invalid TransactionID Used",
    }));
  const missing = await adapter.refundStatus({
    reference: reversal.reference,
    method: null,
  });
  assert(missing.supported);
  assertEquals([missing.state, missing.notFound], ["ambiguous", true]);
});
