/**
 * Vendor payouts through each adapter (PayoutAdapter): the name lookup before a wallet's
 * first payout, the B2C request, how answers read, and asking about a lost answer. Over a
 * scripted fetch (testing.ts): no network.
 */
import { Buffer } from "node:buffer";
import { constants, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { clickPesaChecksum } from "./clickpesa.ts";
import { createPayoutAdapter, isPayoutAdapter } from "./mod.ts";
import { createPaymentAdapter } from "./mod.ts";
import { holderName, payoutFromRefund } from "./payouts.ts";
import {
  envOf,
  FakeClock,
  json,
  MockProvider,
  type RecordedRequest,
} from "./testing.ts";
import { tokenCache } from "./token_cache.ts";
import type { PayoutAdapter, PayoutRequest } from "./types.ts";

const payout: PayoutRequest = {
  reference: "WO0123456789ABCDEF01",
  amount: 250_000,
  msisdn: "255754000123",
  description: "WATS payout",
};

const keys = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "der" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const PUBLIC_KEY_B64 = Buffer.from(keys.publicKey).toString("base64");

function decrypt(base64: string): string {
  return privateDecrypt(
    { key: keys.privateKey, padding: constants.RSA_PKCS1_PADDING },
    Buffer.from(base64, "base64"),
  ).toString("utf8");
}

// -- M-Pesa --------------------------------------------------------------------------------

const MARKET = "/sandbox/ipg/v2/vodacomTZN";

function mpesa(extraEnv: Record<string, string> = {}) {
  tokenCache.clear();
  const mock = new MockProvider();
  mock.on("GET", `${MARKET}/getSession/`, () =>
    json(200, {
      output_ResponseCode: "INS-0",
      output_ResponseDesc: "Request processed successfully",
      output_SessionID: "session-1",
    }));
  const adapter = createPayoutAdapter("mpesa", {
    env: envOf({
      MPESA_BASE_URL: "http://mpesa.test",
      MPESA_MARKET_PATH: MARKET,
      MPESA_API_KEY: "key",
      MPESA_PUBLIC_KEY: PUBLIC_KEY_B64,
      MPESA_SERVICE_PROVIDER_CODE: "000000",
      PAYMENTS_HTTP_TIMEOUT_MS: "200",
      ...extraEnv,
    }),
    fetch: mock.fetch,
    now: new FakeClock().now,
  });
  return { mock, adapter };
}

function mpesaReply(status: number, code: string, extra = {}): Response {
  return json(status, {
    output_ResponseCode: code,
    output_ResponseDesc: code === "INS-0"
      ? "Request processed successfully"
      : code,
    output_ConversationID: "conv",
    output_ThirdPartyConversationID: payout.reference,
    ...extra,
  });
}

Deno.test("mpesa payouts: B2C from the B2C short code, by our reference, session as Bearer", async () => {
  const { mock, adapter } = mpesa({
    MPESA_B2C_SERVICE_PROVIDER_CODE: "777777",
  });
  assertEquals(adapter.payoutCapability, {
    method: "b2c",
    statusQuery: true,
    callbacks: false,
    nameLookup: true,
  });
  mock.on(
    "POST",
    `${MARKET}/b2cPayment/singleStage/`,
    () => mpesaReply(201, "INS-0", { output_TransactionID: "B2C7" }),
  );
  const paid = await adapter.payout(payout);
  assert(paid.supported);
  assertEquals(
    [paid.method, paid.state, paid.providerPayoutId, paid.failureReason],
    ["b2c", "paid", "B2C7", undefined],
  );
  const [call] = mock.callsTo(`${MARKET}/b2cPayment/singleStage/`);
  assertEquals(JSON.parse(call.body), {
    input_Amount: "250000",
    input_Country: "TZN",
    input_Currency: "TZS",
    input_CustomerMSISDN: "255754000123",
    input_ServiceProviderCode: "777777",
    input_ThirdPartyConversationID: payout.reference,
    input_TransactionReference: payout.reference,
    input_PaymentItemsDesc: "WATS payout",
  });
  const bearer = call.headers.get("authorization")!.slice("Bearer ".length);
  assertEquals(decrypt(bearer), "session-1");
  assertEquals(call.headers.get("origin"), "*");
});

Deno.test("mpesa payouts: B2C answers read as payout states", async () => {
  const { mock, adapter } = mpesa();
  const path = `${MARKET}/b2cPayment/singleStage/`;
  for (
    const [reply, state, reason] of [
      [mpesaReply(422, "INS-2006"), "failed", "insufficient_balance"],
      [mpesaReply(400, "INS-2051"), "failed", "payee_refused"],
      [mpesaReply(400, "INS-13"), "failed", "provider_error"],
      [mpesaReply(409, "INS-10"), "ambiguous", undefined],
      [mpesaReply(500, "INS-1"), "ambiguous", undefined],
      [mpesaReply(503, "INS-16"), "ambiguous", undefined],
      [json(502, {}), "ambiguous", undefined],
      [new Response("<html>", { status: 200 }), "ambiguous", undefined],
    ] as Array<[Response, string, string | undefined]>
  ) {
    mock.on("POST", path, () => reply.clone());
    const r = await adapter.payout(payout);
    assert(r.supported);
    assertEquals([r.method, r.state, r.failureReason], ["b2c", state, reason]);
  }
  // no answer at all: ambiguous, sent once (never retried blindly)
  mock.on("POST", path, () => "hang");
  const before = mock.callsTo(path).length;
  const lost = await adapter.payout(payout);
  assert(lost.supported);
  assertEquals([lost.state, lost.transportError], ["ambiguous", "timeout"]);
  assertEquals(mock.callsTo(path).length, before + 1);
});

Deno.test("mpesa payouts: the B2C path is configurable (SDKs differ)", async () => {
  const { mock, adapter } = mpesa({ MPESA_B2C_PATH: "b2cPayment/" });
  mock.on("POST", `${MARKET}/b2cPayment/`, () => mpesaReply(201, "INS-0"));
  const r = await adapter.payout(payout);
  assert(r.supported);
  assertEquals(r.state, "paid");
});

Deno.test("mpesa payouts: a lost answer is asked about by our reference", async () => {
  const { mock, adapter } = mpesa();
  const path = `${MARKET}/queryTransactionStatus/`;
  let asked: RecordedRequest | undefined;
  mock.on("GET", path, (req) => {
    asked = req;
    return mpesaReply(200, "INS-0", {
      output_ResponseTransactionStatus: "Completed",
      output_TransactionID: "B2C7",
    });
  });
  const status = await adapter.payoutStatus({
    reference: payout.reference,
    method: "b2c",
  });
  assert(status.supported);
  assertEquals([status.state, status.providerPayoutId], ["paid", "B2C7"]);
  assertEquals(
    asked!.url.searchParams.get("input_QueryReference"),
    payout.reference,
  );
  mock.on("GET", path, () => mpesaReply(400, "INS-18"));
  const never = await adapter.payoutStatus({
    reference: payout.reference,
    method: null,
  });
  assert(never.supported);
  assertEquals(never.notFound, true);
  mock.on("GET", path, () => json(503, {}));
  const down = await adapter.payoutStatus({
    reference: payout.reference,
    method: "b2c",
  });
  assert(down.supported);
  assertEquals(down.transportError, "provider_unavailable");
});

Deno.test("mpesa payouts: Query Beneficiary Name tells whose wallet it is", async () => {
  const { mock, adapter } = mpesa({
    MPESA_B2C_SERVICE_PROVIDER_CODE: "777777",
  });
  const path = `${MARKET}/queryBeneficiaryName/`;
  let asked: RecordedRequest | undefined;
  mock.on("GET", path, (req) => {
    asked = req;
    return mpesaReply(200, "INS-0", {
      output_CustomerFirstName: "MWANAISHA",
      output_CustomerLastName: " JUMA ",
    });
  });
  const found = await adapter.walletHolder(payout);
  assert(found.supported);
  assertEquals([found.outcome, found.name], ["found", "MWANAISHA JUMA"]);
  const params = asked!.url.searchParams;
  assertEquals(
    [
      params.get("input_CustomerMSISDN"),
      params.get("input_Country"),
      params.get("input_ServiceProviderCode"),
      params.get("input_KycQueryType"),
    ],
    ["255754000123", "TZN", "777777", "Name"],
  );
  assert((params.get("input_ThirdPartyConversationID") ?? "").length > 0);

  for (
    const [reply, outcome] of [
      [mpesaReply(400, "INS-2051"), "not_found"],
      [mpesaReply(400, "INS-996"), "not_found"],
      [mpesaReply(200, "INS-0"), "unavailable"], // no names in it
      [mpesaReply(401, "INS-26"), "unavailable"], // the market does not offer it
      [json(503, {}), "unavailable"],
    ] as Array<[Response, string]>
  ) {
    mock.on("GET", path, () => reply.clone());
    const r = await adapter.walletHolder(payout);
    assert(r.supported);
    assertEquals(r.outcome, outcome);
  }
});

Deno.test("mpesa payouts: the name lookup can be switched off (MPESA_NAME_LOOKUP=off)", async () => {
  const { mock, adapter } = mpesa({ MPESA_NAME_LOOKUP: "off" });
  assertEquals(adapter.payoutCapability?.nameLookup, false);
  assertEquals(await adapter.walletHolder(payout), { supported: false });
  assertEquals(mock.calls.length, 0);
});

Deno.test("mpesa payouts: a request SQL could not have made throws before anything is sent", async () => {
  const { mock, adapter } = mpesa();
  for (
    const bad of [
      { ...payout, amount: 0 },
      { ...payout, amount: 1.5 },
      { ...payout, reference: "W-1" },
      { ...payout, msisdn: "0754000123" },
    ]
  ) {
    await assertRejects(() => adapter.payout(bad), RangeError);
  }
  assertEquals(mock.calls.length, 0);
});

// -- Airtel --------------------------------------------------------------------------------

const DISBURSEMENT = {
  AIRTEL_DISBURSEMENT_PIN: "4321",
  AIRTEL_ENCRYPTION_PUBLIC_KEY: PUBLIC_KEY_B64,
};

function airtel(extraEnv: Record<string, string> = {}) {
  tokenCache.clear();
  const mock = new MockProvider();
  mock.on("POST", "/auth/oauth2/token", () =>
    json(200, {
      access_token: "tok1",
      expires_in: "180",
      token_type: "bearer",
    }));
  const adapter = createPayoutAdapter("airtel", {
    env: envOf({
      AIRTEL_BASE_URL: "http://airtel.test",
      AIRTEL_CLIENT_ID: "cid",
      AIRTEL_CLIENT_SECRET: "secret",
      AIRTEL_CALLBACK_HASH_KEY: "hash-key",
      PAYMENTS_HTTP_TIMEOUT_MS: "200",
      ...extraEnv,
    }),
    fetch: mock.fetch,
    now: new FakeClock().now,
  });
  return { mock, adapter };
}

function disbursed(code: string, http = 200, txStatus = "TS") {
  return json(http, {
    data: {
      transaction: {
        reference_id: "ref9",
        airtel_money_id: "DB9",
        id: payout.reference,
        status: txStatus,
      },
    },
    status: {
      response_code: code,
      code: String(http),
      success: http === 200,
      result_code: "ESB000010",
      message: code,
    },
  });
}

Deno.test("airtel payouts: a disbursement to the vendor's 9-digit wallet, PIN encrypted", async () => {
  const { mock, adapter } = airtel(DISBURSEMENT);
  assertEquals(adapter.payoutCapability?.method, "disbursement");
  mock.on(
    "POST",
    "/standard/v2/disbursements/",
    () => disbursed("DP00900001001"),
  );
  const paid = await adapter.payout({ ...payout, msisdn: "255684000123" });
  assert(paid.supported);
  assertEquals([paid.method, paid.state, paid.providerPayoutId], [
    "disbursement",
    "paid",
    "DB9",
  ]);
  const [call] = mock.callsTo("/standard/v2/disbursements/");
  const body = JSON.parse(call.body);
  assertEquals(body.payee, { currency: "TZS", msisdn: "684000123" });
  assertEquals(body.reference, payout.reference);
  assertEquals(body.transaction, {
    amount: 250_000,
    id: payout.reference,
    type: "B2C",
  });
  assertEquals(decrypt(body.pin), "4321");
  for (
    const [reply, state, reason] of [
      [disbursed("DP00900001000"), "ambiguous", undefined],
      [disbursed("DP00900001006", 200, "TIP"), "pending", undefined],
      [disbursed("DP00900001007", 400), "failed", "insufficient_balance"],
      [disbursed("DP00900001012", 400), "failed", "payee_refused"],
      [disbursed("DP00900001011", 400), "ambiguous", undefined],
      [json(504, {}), "ambiguous", undefined],
    ] as Array<[Response, string, string | undefined]>
  ) {
    mock.on("POST", "/standard/v2/disbursements/", () => reply.clone());
    const r = await adapter.payout(payout);
    assert(r.supported);
    assertEquals([r.state, r.failureReason], [state, reason]);
  }
});

Deno.test("airtel payouts: the enquiry by our reference; not configured without the PIN", async () => {
  const { mock, adapter } = airtel(DISBURSEMENT);
  const path = `/standard/v2/disbursements/${payout.reference}`;
  mock.on("GET", path, (req) => {
    assertEquals(req.url.searchParams.get("transactionType"), "B2C");
    return disbursed("DP00900001001");
  });
  const status = await adapter.payoutStatus({
    reference: payout.reference,
    method: "disbursement",
  });
  assert(status.supported);
  assertEquals([status.state, status.providerPayoutId], ["paid", "DB9"]);
  mock.on("GET", path, () => disbursed("DP00900001015", 404, ""));
  const never = await adapter.payoutStatus({
    reference: payout.reference,
    method: null,
  });
  assert(never.supported);
  assertEquals(never.notFound, true);

  const bare = airtel();
  assertEquals(bare.adapter.payoutCapability, null);
  assertEquals(await bare.adapter.payout(payout), { supported: false });
  assertEquals(
    await bare.adapter.payoutStatus({ reference: "WO1234", method: null }),
    { supported: false },
  );
  assertEquals(bare.mock.calls.length, 0);
});

Deno.test("airtel payouts: the KYC user enquiry tells whose wallet it is", async () => {
  const { mock, adapter } = airtel(DISBURSEMENT);
  const path = "/standard/v1/users/684000123";
  mock.on("GET", path, (req) => {
    assertEquals(req.headers.get("x-country"), "TZ");
    assertEquals(req.headers.get("authorization"), "Bearer tok1");
    return json(200, {
      data: {
        first_name: "Baraka",
        last_name: "Mushi",
        msisdn: "684000123",
        is_barred: false,
        is_pin_set: true,
        grade: "SUBS",
        registration: { id: "1196", status: "SUBS" },
      },
      status: {
        code: "200",
        success: true,
        result_code: "ESB000010",
        message: "SUCCESS",
      },
    });
  });
  const lookup = { ...payout, msisdn: "255684000123" };
  const found = await adapter.walletHolder(lookup);
  assert(found.supported);
  assertEquals([found.outcome, found.name], ["found", "Baraka Mushi"]);
  for (
    const [reply, outcome] of [
      [
        json(404, {
          status: { success: false, message: "User not found", code: "404" },
        }),
        "not_found",
      ],
      [
        json(200, {
          status: {
            success: false,
            message: "Subscriber not registered",
            code: "200",
          },
        }),
        "not_found",
      ],
      [json(200, { status: { success: true }, data: {} }), "unavailable"],
      [json(500, {}), "unavailable"],
    ] as Array<[Response, string]>
  ) {
    mock.on("GET", path, () => reply.clone());
    const r = await adapter.walletHolder(lookup);
    assert(r.supported);
    assertEquals(r.outcome, outcome);
  }
});

// -- Mixx ----------------------------------------------------------------------------------

const MIXX_B2C = {
  MIXX_B2C_URL: "http://mixx.test/mixx/b2c",
  MIXX_B2C_MSISDN: "255650000001",
  MIXX_B2C_PIN: "9876",
  MIXX_B2C_SENDER_NAME: "WATS",
  MIXX_B2C_BRAND_ID: "1234",
};

function mixx(extraEnv: Record<string, string> = {}) {
  tokenCache.clear();
  const mock = new MockProvider();
  const adapter = createPayoutAdapter("mixx", {
    env: envOf({
      MIXX_TOKEN_URL: "http://mixx.test/mixx/token",
      MIXX_PUSH_URL: "http://mixx.test/mixx/push",
      MIXX_USERNAME: "wats",
      MIXX_PASSWORD: "pw",
      MIXX_BILLER_MSISDN: "255650000000",
      MIXX_BILLER_CODE: "WATS",
      MIXX_CALLBACK_TOKEN: "t".repeat(32),
      ...extraEnv,
    }),
    fetch: mock.fetch,
    now: new FakeClock().now,
  });
  return { mock, adapter };
}

function xml(fields: Record<string, string>, status = 200): Response {
  const body = Object.entries(fields).map(([k, v]) => `<${k}>${v}</${k}>`)
    .join("");
  return new Response(`<?xml version="1.0"?><COMMAND>${body}</COMMAND>`, {
    status,
    headers: { "content-type": "application/xml" },
  });
}

Deno.test("mixx payouts: Account to Wallet to the vendor's wallet; no lookup, no query", async () => {
  const { mock, adapter } = mixx(MIXX_B2C);
  assertEquals(adapter.payoutCapability, {
    method: "b2c",
    statusQuery: false,
    callbacks: false,
    nameLookup: false,
  });
  mock.on("POST", "/mixx/b2c", () =>
    xml({
      TYPE: "RESMFCI",
      TXNID: "MX1",
      TXNSTATUS: "error000",
      MESSAGE: "Success",
    }));
  const paid = await adapter.payout({ ...payout, msisdn: "255654000123" });
  assert(paid.supported);
  assertEquals([paid.method, paid.state, paid.providerPayoutId], [
    "b2c",
    "paid",
    "MX1",
  ]);
  const body = mock.callsTo("/mixx/b2c")[0].body;
  for (
    const field of [
      "<TYPE>REQMFCI</TYPE>",
      `<REFERENCEID>${payout.reference}</REFERENCEID>`,
      "<MSISDN1>255654000123</MSISDN1>",
      "<AMOUNT>250000</AMOUNT>",
      "<PIN>9876</PIN>",
    ]
  ) assert(body.includes(field), `${field} in ${body}`);
  mock.on(
    "POST",
    "/mixx/b2c",
    () => xml({ TXNID: "", TXNSTATUS: "error111", MESSAGE: "No response" }),
  );
  const lost = await adapter.payout(payout);
  assert(lost.supported);
  assertEquals(lost.state, "ambiguous");
  assertEquals(await adapter.walletHolder(payout), { supported: false });
  assertEquals(
    await adapter.payoutStatus({ reference: payout.reference, method: "b2c" }),
    { supported: false },
  );
  const bare = mixx();
  assertEquals(bare.adapter.payoutCapability, null);
  assertEquals(await bare.adapter.payout(payout), { supported: false });
});

// -- ClickPesa (HaloPesa wallets) ----------------------------------------------------------

const API = "/clickpesa/third-parties";
const CHECKSUM_KEY = "clickpesa-checksum-key";

function clickpesa() {
  tokenCache.clear();
  const mock = new MockProvider();
  mock.on(
    "POST",
    `${API}/generate-token`,
    () => json(200, { success: true, token: "Bearer jwt1" }),
  );
  const adapter = createPayoutAdapter("halopesa", {
    env: envOf({
      CLICKPESA_BASE_URL: `http://clickpesa.test${API}`,
      CLICKPESA_CLIENT_ID: "cp-id",
      CLICKPESA_API_KEY: "cp-key",
      CLICKPESA_CHECKSUM_KEY: CHECKSUM_KEY,
      PAYMENTS_HTTP_TIMEOUT_MS: "200",
    }),
    fetch: mock.fetch,
    now: new FakeClock().now,
  });
  return { mock, adapter };
}

function preview(name: string | null = "Neema Mollel", amount = 250_000) {
  return json(200, {
    amount,
    balance: 10_000_000,
    channelProvider: "HALOPESA",
    fee: 0,
    order: { amount, currency: "TZS", id: payout.reference },
    payoutFeeBearer: "merchant",
    receiver: {
      accountName: name,
      accountNumber: "255624000123",
      accountCurrency: "TZS",
      amount,
    },
  });
}

async function checksumOk(request: RecordedRequest): Promise<boolean> {
  const body = JSON.parse(request.body);
  return body.checksum === await clickPesaChecksum(CHECKSUM_KEY, body);
}

Deno.test("halopesa payouts: the preview's receiver name is the wallet's holder", async () => {
  const { mock, adapter } = clickpesa();
  const path = `${API}/payouts/preview-mobile-money-payout`;
  mock.on("POST", path, () => preview());
  const wallet = { ...payout, msisdn: "255624000123" };
  const found = await adapter.walletHolder(wallet);
  assert(found.supported);
  assertEquals([found.outcome, found.name], ["found", "Neema Mollel"]);
  const [call] = mock.callsTo(path);
  assert(await checksumOk(call));
  assertEquals(
    [JSON.parse(call.body).orderReference, JSON.parse(call.body).phoneNumber],
    [payout.reference, "255624000123"],
  );
  // the preview moved nothing: no payout was created
  assertEquals(
    mock.callsTo(`${API}/payouts/create-mobile-money-payout`).length,
    0,
  );
  for (
    const [reply, outcome] of [
      [
        json(400, {
          statusCode: 400,
          message: ["phoneNumber must be a valid phone number"],
          error: "Bad Request",
        }),
        "not_found",
      ],
      [
        json(400, {
          statusCode: 400,
          message: "Insufficient balance",
          error: "Bad Request",
        }),
        "unavailable",
      ],
      [preview(null), "unavailable"],
      [json(502, {}), "unavailable"],
    ] as Array<[Response, string]>
  ) {
    mock.on("POST", path, () => reply.clone());
    const r = await adapter.walletHolder(wallet);
    assert(r.supported);
    assertEquals(r.outcome, outcome);
  }
});

Deno.test("halopesa payouts: previewed then created by our reference; asked about by it", async () => {
  const { mock, adapter } = clickpesa();
  mock.on(
    "POST",
    `${API}/payouts/preview-mobile-money-payout`,
    () => preview(),
  );
  mock.on("POST", `${API}/payouts/create-mobile-money-payout`, () =>
    json(200, {
      id: "PO9",
      orderReference: payout.reference,
      amount: "250000.00",
      currency: "TZS",
      status: "AUTHORIZED",
    }));
  const sent = await adapter.payout({ ...payout, msisdn: "255624000123" });
  assert(sent.supported);
  assertEquals([sent.method, sent.state, sent.providerPayoutId], [
    "payout",
    "pending",
    "PO9",
  ]);
  const [create] = mock.callsTo(`${API}/payouts/create-mobile-money-payout`);
  assert(await checksumOk(create));
  assertEquals(JSON.parse(create.body).amount, 250_000);
  const path = `${API}/payouts/${payout.reference}`;
  mock.on("GET", path, () =>
    json(200, [{
      id: "PO9",
      orderReference: payout.reference,
      status: "SUCCESS",
    }]));
  const status = await adapter.payoutStatus({
    reference: payout.reference,
    method: "payout",
  });
  assert(status.supported);
  assertEquals([status.state, status.providerPayoutId], ["paid", "PO9"]);
  mock.on(
    "GET",
    path,
    () => json(404, { message: "Invalid or missing payout" }),
  );
  const never = await adapter.payoutStatus({
    reference: payout.reference,
    method: null,
  });
  assert(never.supported);
  assertEquals(never.notFound, true);
});

// -- shared --------------------------------------------------------------------------------

Deno.test("payouts: every provider's adapter can pay vendors", () => {
  const env = envOf({
    MPESA_BASE_URL: "http://m.test",
    MPESA_API_KEY: "k",
    MPESA_PUBLIC_KEY: PUBLIC_KEY_B64,
    MPESA_SERVICE_PROVIDER_CODE: "1",
    AIRTEL_BASE_URL: "http://a.test",
    AIRTEL_CLIENT_ID: "c",
    AIRTEL_CLIENT_SECRET: "s",
    AIRTEL_CALLBACK_HASH_KEY: "h",
    MIXX_TOKEN_URL: "http://x.test/t",
    MIXX_PUSH_URL: "http://x.test/p",
    MIXX_USERNAME: "u",
    MIXX_PASSWORD: "p",
    MIXX_BILLER_MSISDN: "255650000000",
    MIXX_BILLER_CODE: "W",
    MIXX_CALLBACK_TOKEN: "t".repeat(32),
    CLICKPESA_BASE_URL: "http://c.test",
    CLICKPESA_CLIENT_ID: "c",
    CLICKPESA_API_KEY: "k",
    CLICKPESA_CHECKSUM_KEY: "s",
  });
  for (const provider of ["mpesa", "airtel", "mixx", "halopesa"] as const) {
    const adapter = createPaymentAdapter(provider, { env });
    assert(isPayoutAdapter(adapter), provider);
    const payouts: PayoutAdapter = createPayoutAdapter(provider, { env });
    assertEquals(payouts.provider, provider);
  }
});

Deno.test("payouts: a refund-shaped answer reads as the payout's; holder names are tidied", () => {
  assertEquals(
    payoutFromRefund({
      supported: true,
      method: "payout",
      state: "refunded",
      providerRefundId: "X1",
      rawCode: "TS",
      raw: null,
    }, "disbursement"),
    {
      supported: true,
      method: "disbursement",
      state: "paid",
      providerPayoutId: "X1",
      rawCode: "TS",
      raw: null,
    },
  );
  assertEquals(payoutFromRefund({ supported: false }, "b2c"), {
    supported: false,
  });
  assertEquals(holderName(" Amina\t", null, "", "JUMA  Ali"), "Amina JUMA Ali");
  assertEquals(holderName(undefined, " "), null);
  assertEquals(holderName("x".repeat(300))?.length, 200);
});
