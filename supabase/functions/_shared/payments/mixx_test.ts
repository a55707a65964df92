import { assert, assertEquals } from "./assert.ts";
import { createPaymentAdapter } from "./mod.ts";
import {
  MIXX_ACK_ERROR,
  MIXX_ACK_OK,
  mixxBool,
  mixxCallbackUrl,
} from "./mixx.ts";
import { envOf, FakeClock, json, MockProvider } from "./testing.ts";
import { tokenCache } from "./token_cache.ts";

const TOKEN = "mixx-callback-token-0123456789abcdef";
const WEBHOOK = "http://127.0.0.1:54321/functions/v1/payment-webhook/mixx";

function setup(extraEnv: Record<string, string> = {}) {
  tokenCache.clear();
  const mock = new MockProvider();
  const clock = new FakeClock();
  let tokens = 0;
  mock.on("POST", "/mixx/token", (req) => {
    const form = new URLSearchParams(req.body);
    if (
      req.headers.get("content-type") !== "application/x-www-form-urlencoded" ||
      form.get("username") !== "wats" || form.get("password") !== "pw" ||
      form.get("grant_type") !== "password"
    ) {
      return json(400, {
        error: "invalid_grant",
        error_description: "The user name or password is incorrect.",
      });
    }
    tokens++;
    return json(200, {
      access_token: `mt${tokens}`,
      token_type: "bearer",
      expires_in: 86399,
    });
  });
  const adapter = createPaymentAdapter("mixx", {
    env: envOf({
      MIXX_TOKEN_URL: "http://mixx.test/mixx/token",
      MIXX_PUSH_URL: "http://mixx.test/mixx/push",
      MIXX_USERNAME: "wats",
      MIXX_PASSWORD: "pw",
      MIXX_BILLER_MSISDN: "255650000000",
      MIXX_BILLER_CODE: "WATS",
      MIXX_CALLBACK_TOKEN: TOKEN,
      PAYMENTS_PUSH_TIMEOUT_MS: "100",
      ...extraEnv,
    }),
    fetch: mock.fetch,
    now: clock.now,
  });
  return { mock, clock, adapter, tokens: () => tokens };
}

const payment = {
  reference: "W00000000000000000B2",
  amount: 7000,
  currency: "TZS" as const,
  msisdn: "255654000001",
  description: "WATS order",
};

const ACCEPTED = {
  ResponseCode: "BILLER-18-0000-S",
  ResponseStatus: true,
  ResponseDescription: "Bill request submitted successfully",
  ReferenceID: "WATS" + payment.reference,
};

Deno.test("mixx: form-encoded token, push with Username/Password headers and typed body", async () => {
  const { mock, adapter } = setup();
  mock.on("POST", "/mixx/push", () => json(200, ACCEPTED));
  const result = await adapter.initiate(payment);
  assertEquals(result.state, "initiated");
  assertEquals(result.providerRef, payment.reference);
  assertEquals(result.rawCode, "BILLER-18-0000-S");
  const push = mock.callsTo("/mixx/push")[0];
  assertEquals(push.headers.get("authorization"), "Bearer mt1");
  assertEquals(push.headers.get("username"), "wats");
  assertEquals(push.headers.get("password"), "pw");
  const body = JSON.parse(push.body);
  assertEquals(body, {
    CustomerMSISDN: "255654000001",
    BillerMSISDN: "255650000000",
    Amount: 7000,
    Remarks: "WATS order",
    ReferenceID: "WATSW00000000000000000B2",
  });
  assertEquals(typeof body.Amount, "number");
});

Deno.test("mixx: push outcomes", async () => {
  const cases: Array<[() => Response | "hang", string, string | undefined]> = [
    [() => json(200, ACCEPTED), "initiated", undefined],
    [
      () => json(200, { ...ACCEPTED, ResponseStatus: "true" }),
      "initiated",
      undefined,
    ],
    [
      () =>
        json(200, {
          ResponseCode: "BILLER-18-3017-E",
          ResponseStatus: false,
          ResponseDescription: "Invalid customer MSISDN",
          ReferenceID: "x",
        }),
      "failed",
      "invalid_msisdn",
    ],
    [
      () =>
        json(200, {
          ResponseCode: "BILLER-18-3020-E",
          ResponseStatus: "false",
          ResponseDescription: "Duplicate ReferenceID",
        }),
      "ambiguous",
      undefined,
    ],
    [() => json(504, { Message: "Gateway timeout" }), "ambiguous", undefined],
    [() => "hang", "ambiguous", undefined],
  ];
  for (const [reply, state, reason] of cases) {
    const { mock, adapter } = setup();
    mock.on("POST", "/mixx/push", reply);
    const result = await adapter.initiate(payment);
    assertEquals([result.state, result.failureReason], [state, reason]);
    assertEquals(mock.callsTo("/mixx/push").length, 1);
  }
});

Deno.test("mixx: token cached; wrong password → failed, nothing pushed", async () => {
  const { mock, adapter, tokens } = setup();
  mock.on("POST", "/mixx/push", () => json(200, ACCEPTED));
  await adapter.initiate(payment);
  await adapter.initiate(payment);
  assertEquals(tokens(), 1);
  const bad = setup({ MIXX_PASSWORD: "wrong" });
  const result = await bad.adapter.initiate(payment);
  assertEquals([result.state, result.failureReason], [
    "failed",
    "provider_error",
  ]);
  assertEquals(bad.mock.callsTo("/mixx/push").length, 0);
});

function callbackInput(
  body: unknown,
  url = mixxCallbackUrl(WEBHOOK, TOKEN),
  ip = "127.0.0.1",
) {
  return {
    headers: new Headers({ "content-type": "application/json" }),
    rawBody: typeof body === "string" ? body : JSON.stringify(body),
    url,
    sourceIp: ip,
  };
}

Deno.test("mixx: callback with Status as string and Amount as string", async () => {
  const { adapter } = setup();
  const ok = await adapter.verifyAndParseCallback(callbackInput({
    Status: "true",
    Description: "Success",
    MFSTransactionID: "8ABC123",
    ReferenceID: "WATSW00000000000000000B2",
    Amount: "7000",
  }));
  assert(ok.authentic);
  assertEquals(
    [
      ok.state,
      ok.providerRef,
      ok.providerTxnId,
      ok.amount,
      ok.msisdn,
      ok.rawCode,
    ],
    ["succeeded", "W00000000000000000B2", "8ABC123", 7000, null, "true"],
  );
  const failed = await adapter.verifyAndParseCallback(callbackInput({
    Status: false,
    Description: "Insufficient balance",
    MFSTransactionID: "",
    ReferenceID: "WATSW00000000000000000B2",
    Amount: 7000,
  }));
  assert(failed.authentic);
  assertEquals(
    [failed.state, failed.failureReason, failed.providerTxnId, failed.amount],
    ["failed", "insufficient_funds", null, 7000],
  );
});

Deno.test("mixx: URL token — wrong, missing; IP allow-list; malformed body", async () => {
  const { adapter } = setup();
  const body = {
    Status: "true",
    Description: "ok",
    MFSTransactionID: "1",
    ReferenceID: "R",
    Amount: "1",
  };
  const wrong = await adapter.verifyAndParseCallback(
    callbackInput(body, mixxCallbackUrl(WEBHOOK, TOKEN.slice(0, -1) + "X")),
  );
  assertEquals([wrong.authentic, wrong.rejection], [false, "bad_token"]);
  const missing = await adapter.verifyAndParseCallback(
    callbackInput(body, WEBHOOK),
  );
  assertEquals([missing.authentic, missing.rejection], [
    false,
    "missing_signature",
  ]);
  const malformed = await adapter.verifyAndParseCallback(
    callbackInput("{nope"),
  );
  assertEquals([malformed.authentic, malformed.rejection], [
    false,
    "malformed",
  ]);
  const noStatus = await adapter.verifyAndParseCallback(
    callbackInput({ ReferenceID: "R" }),
  );
  assertEquals(noStatus.rejection, "malformed");
  const limited = setup({ MIXX_CALLBACK_ALLOWED_IPS: "41.1.1.1" });
  const outsider = await limited.adapter.verifyAndParseCallback(
    callbackInput(body),
  );
  assertEquals(outsider.rejection, "ip_not_allowed");
  const insider = await limited.adapter.verifyAndParseCallback(
    callbackInput(body, undefined, "41.1.1.1"),
  );
  assert(insider.authentic);
});

Deno.test("mixx: the JSON acknowledgement Mixx expects", async () => {
  const { adapter } = setup();
  const parsed = await adapter.verifyAndParseCallback(callbackInput({
    Status: "true",
    Description: "ok",
    MFSTransactionID: "1",
    ReferenceID: "WATSX",
    Amount: "1",
  }));
  const ok = adapter.acknowledge(parsed, "accepted");
  assertEquals(ok.status, 200);
  assertEquals(await ok.json(), {
    ResponseCode: MIXX_ACK_OK,
    ResponseStatus: true,
    ResponseDescription: "Callback successful",
    ReferenceID: "WATSX",
  });
  const denied = adapter.acknowledge(parsed, "unauthentic");
  assertEquals(denied.status, 401);
  const deniedBody = await denied.json();
  assertEquals([deniedBody.ResponseCode, deniedBody.ResponseStatus], [
    MIXX_ACK_ERROR,
    false,
  ]);
  assertEquals(adapter.acknowledge(null, "error").status, 503);
});

Deno.test("mixx: no status query; no refund without B2C", async () => {
  const { adapter } = setup();
  assertEquals(await adapter.queryStatus("x"), { supported: false });
  assertEquals(
    await adapter.refund({ providerRef: "x", amount: 1, reference: "R" }),
    { supported: false },
  );
  assertEquals(adapter.capabilities.refund, null);
  assertEquals([
    mixxBool("TRUE"),
    mixxBool("false"),
    mixxBool("yes"),
    mixxBool(1),
  ], [
    true,
    false,
    null,
    null,
  ]);
  assertEquals(
    mixxCallbackUrl("http://h/functions/v1/payment-webhook/mixx", "a+b/c"),
    "http://h/functions/v1/payment-webhook/mixx?token=a%2Bb%2Fc",
  );
});

const B2C = {
  MIXX_B2C_URL: "http://mixx.test/mixx/b2c",
  MIXX_B2C_MSISDN: "255650000001",
  MIXX_B2C_PIN: "9876",
  MIXX_B2C_SENDER_NAME: "WATS & Co <Refunds>",
  MIXX_B2C_BRAND_ID: "1234",
};

function xmlReply(fields: Record<string, string>, status = 200): Response {
  const body = Object.entries(fields).map(([k, v]) => `<${k}>${v}</${k}>`)
    .join("");
  return new Response(`<?xml version="1.0"?><COMMAND>${body}</COMMAND>`, {
    status,
    headers: { "content-type": "application/xml" },
  });
}

Deno.test("mixx: a refund is a B2C payout (Account to Wallet, XML, PIN in the body)", async () => {
  const { mock, adapter } = setup(B2C);
  mock.on("POST", "/mixx/b2c", () =>
    xmlReply({
      TYPE: "RESMFCI",
      TXNID: "B2C001",
      TXNSTATUS: "error000",
      MESSAGE: "Success",
    }));
  const request = {
    providerRef: "WP0",
    amount: 7000,
    reference: "WR0000000000000000X1",
    msisdn: "255654000001",
  };
  const paid = await adapter.refund(request);
  assert(paid.supported);
  assertEquals([paid.method, paid.state, paid.providerRefundId], [
    "payout",
    "refunded",
    "B2C001",
  ]);
  const call = mock.callsTo("/mixx/b2c")[0];
  assertEquals(call.headers.get("content-type"), "application/xml");
  assertEquals(call.headers.get("authorization"), null); // no BillPay token
  assertEquals(mock.callsTo("/mixx/token").length, 0);
  const fields = Object.fromEntries(
    [...call.body.matchAll(/<([A-Z_0-9]+)>([^<]*)<\/\1>/g)].map((
      m,
    ) => [m[1], m[2]]),
  );
  assertEquals(fields, {
    TYPE: "REQMFCI",
    REFERENCEID: request.reference,
    MSISDN: "255650000001",
    PIN: "9876",
    MSISDN1: "255654000001",
    AMOUNT: "7000",
    SENDERNAME: "WATS &amp; Co &lt;Refunds&gt;",
    LANGUAGE1: "EN",
    BRAND_ID: "1234",
  });
  for (
    const [reply, state, reason] of [
      [
        xmlReply({ TXNSTATUS: "error013", MESSAGE: "Insufficient funds" }),
        "failed",
        "insufficient_balance",
      ],
      [
        xmlReply({ TXNSTATUS: "error010", MESSAGE: "Invalid customer" }),
        "failed",
        "payee_refused",
      ],
      [
        xmlReply({ TXNSTATUS: "error111", MESSAGE: "No response" }),
        "ambiguous",
        undefined,
      ],
      [
        xmlReply({ TXNSTATUS: "error100", MESSAGE: "General error" }),
        "ambiguous",
        undefined,
      ],
      [
        xmlReply({ TXNSTATUS: "error016", MESSAGE: "Duplicate REFERENCEID" }),
        "ambiguous",
        undefined,
      ],
      [xmlReply({}, 504), "ambiguous", undefined],
      [
        new Response("Unauthorized", { status: 401 }),
        "failed",
        "provider_error",
      ],
      [
        new Response("<html>ok</html>", { status: 200 }),
        "ambiguous",
        undefined,
      ],
    ] as Array<[Response, string, string | undefined]>
  ) {
    mock.on("POST", "/mixx/b2c", () => reply.clone());
    const r = await adapter.refund(request);
    assert(r.supported);
    assertEquals([r.state, r.failureReason], [state, reason]);
  }
  const bad = await adapter.refund({ ...request, msisdn: null });
  assert(bad.supported);
  assertEquals(bad.failureReason, "invalid_msisdn");
  // no query is known: an operator settles a lost answer
  assertEquals(
    await adapter.refundStatus({
      reference: request.reference,
      method: "payout",
    }),
    { supported: false },
  );
});

Deno.test("mixx: the callback token may be the last path segment; query and path forms both checked", async () => {
  const { adapter } = setup();
  const body = {
    Status: "true",
    Description: "ok",
    MFSTransactionID: "1",
    ReferenceID: "WATSR",
    Amount: "1",
  };
  const pathUrl = mixxCallbackUrl(WEBHOOK, TOKEN, "path");
  assertEquals(pathUrl, `${WEBHOOK}/${TOKEN}`);
  const byPath = await adapter.verifyAndParseCallback(
    callbackInput(body, pathUrl),
  );
  assert(byPath.authentic);
  // hosted Supabase hands the function its path from the function name on
  const hosted = await adapter.verifyAndParseCallback(
    callbackInput(body, `http://edge/payment-webhook/mixx/${TOKEN}`),
  );
  assert(hosted.authentic);
  const wrongPath = await adapter.verifyAndParseCallback(
    callbackInput(body, `${WEBHOOK}/${TOKEN.slice(0, -1)}X`),
  );
  assertEquals([wrongPath.authentic, wrongPath.rejection], [
    false,
    "bad_token",
  ]);
  // both forms present: both must be ours
  const mixed = await adapter.verifyAndParseCallback(
    callbackInput(body, `${WEBHOOK}/${TOKEN}?token=guess`),
  );
  assertEquals(mixed.rejection, "bad_token");
  const both = await adapter.verifyAndParseCallback(
    callbackInput(body, `${WEBHOOK}/${TOKEN}?token=${TOKEN}`),
  );
  assert(both.authentic);
});

const QUERY = {
  MIXX_QUERY_URL: "http://mixx.test/mixx/query",
  MIXX_QUERY_PIN: "5555",
};

/*
 * The transaction query as a Tanzanian gateway's Mixx integration sends it (a Camel route
 * posting `COMMAND{TYPE=MTPGGetSODetails, REFERENCEID, MSISDN=biller MSISDN, PIN,
 * EXTERNALREFID}` to the TQS URL with text/xml, and a parser reading RESULTCODE,
 * RESULTDESC, TXNID, TXNSTATUS, EXTERNALREFID: RESULTCODE 0 with TXNSTATUS "Posted" is
 * collected, "GetSOError…" codes are errors). The answer below has that shape.
 */
Deno.test("mixx: the transaction query (MTPGGetSODetails) settles a lost callback", async () => {
  const { mock, adapter } = setup(QUERY);
  assertEquals(adapter.capabilities.statusQuery, true);
  let answer: Record<string, string> = {
    TYPE: "MTPGGetSODetails",
    RESULTCODE: "0",
    RESULTDESC: "Sales order details retrieved successfully",
    TXNID: "26638644052",
    TXNSTATUS: "Posted",
    EXTERNALREFID: "WATS" + payment.reference,
    AMOUNT: "7000",
  };
  mock.on("POST", "/mixx/query", () => xmlReply(answer));
  const paid = await adapter.queryStatus(payment.reference);
  assert(paid.supported);
  assertEquals(
    [paid.state, paid.providerTxnId, paid.amount, paid.unreadable],
    ["succeeded", "26638644052", 7000, []],
  );
  const call = mock.callsTo("/mixx/query")[0];
  assertEquals(call.headers.get("content-type"), "text/xml");
  assertEquals(call.headers.get("authorization"), null);
  for (
    const tag of [
      "<TYPE>MTPGGetSODetails</TYPE>",
      `<REFERENCEID>WATS${payment.reference}</REFERENCEID>`,
      "<MSISDN>255650000000</MSISDN>",
      "<PIN>5555</PIN>",
      `<EXTERNALREFID>WATS${payment.reference}</EXTERNALREFID>`,
    ]
  ) assert(call.body.includes(tag), tag);
  for (
    const [status, state] of [
      ["Pending", "initiated"],
      ["Failed", "failed"],
      ["Something new", "ambiguous"],
    ]
  ) {
    answer = { RESULTCODE: "0", TXNSTATUS: status };
    const r = await adapter.queryStatus(payment.reference);
    assert(r.supported);
    assertEquals(r.state, state, status);
  }
  answer = { RESULTCODE: "0", TXNSTATUS: "Posted", AMOUNT: "7,000" };
  const odd = await adapter.queryStatus(payment.reference);
  assert(odd.supported);
  assertEquals(odd.unreadable, ["amount"]);
  answer = { RESULTCODE: "GetSOError001", RESULTDESC: "No sales order" };
  const unknown = await adapter.queryStatus(payment.reference);
  assert(unknown.supported);
  assertEquals([unknown.state, unknown.notFound], ["ambiguous", true]);
  mock.on("POST", "/mixx/query", () => new Response("oops", { status: 500 }));
  const down = await adapter.queryStatus(payment.reference);
  assert(down.supported);
  assertEquals(down.transportError, "provider_unavailable");
});

Deno.test("mixx: the query needs URL and PIN together; MSISDN defaults to the biller's", () => {
  let error: unknown = null;
  try {
    setup({ MIXX_QUERY_URL: QUERY.MIXX_QUERY_URL });
  } catch (e) {
    error = e;
  }
  assert(String(error).includes("MIXX_QUERY_PIN"));
  assertEquals(setup().adapter.capabilities.statusQuery, false);
});
