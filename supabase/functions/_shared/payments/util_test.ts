import {
  assert,
  assertEquals,
  assertFalse,
  assertRejects,
  assertThrows,
} from "./assert.ts";
import { ConfigError } from "./config.ts";
import { httpRequest, TransportError, wholeAmount, withRetry } from "./http.ts";
import {
  createPaymentAdapter,
  isProviderName,
  PROTOCOLS,
  PROVIDERS,
} from "./mod.ts";
import {
  isCanonicalMsisdn,
  toCanonicalMsisdn,
  toNationalMsisdn,
} from "./msisdn.ts";
import { reasonFromText } from "./reasons.ts";
import { isValidReference } from "./reference.ts";
import { envOf, FakeClock, json, MockProvider } from "./testing.ts";
import { expiryAt, lifetimeMs, TokenCache } from "./token_cache.ts";

Deno.test("msisdn: canonical form from common spellings", () => {
  for (
    const input of [
      "255712345678",
      "+255712345678",
      "+255 712 345 678",
      "0712345678",
      "0712-345-678",
      "712345678",
      255712345678,
    ]
  ) {
    assertEquals(toCanonicalMsisdn(input), "255712345678", String(input));
  }
  for (
    const bad of [
      "",
      "12345",
      "2557123456789",
      "071234567",
      "25571234567a",
      null,
      {},
    ]
  ) {
    assertEquals(toCanonicalMsisdn(bad), null, String(bad));
  }
  assert(isCanonicalMsisdn("255712345678"));
  assertFalse(isCanonicalMsisdn("0712345678"));
  assertEquals(toNationalMsisdn("255712345678"), "712345678");
  assertThrows(() => toNationalMsisdn("0712345678"), RangeError);
});

Deno.test("reference: the database's pattern, 4-20 letters and digits", () => {
  assert(isValidReference("WP" + "0123456789ABCDEF01")); // the database's default shape
  assert(isValidReference("W1234567890ABCDEF123"));
  assert(isValidReference("WATS"));
  assertFalse(isValidReference("WP1")); // too short for private.payment_references
  assertFalse(isValidReference("has-dash"));
  assertFalse(isValidReference("x".repeat(21)));
  assertFalse(isValidReference(""));
});

Deno.test("failure reasons from provider text", () => {
  const cases: Array<[string, string]> = [
    ["Insufficient funds in wallet", "insufficient_funds"],
    ["Not enough balance", "insufficient_funds"],
    ["Invalid PIN entered", "wrong_pin"],
    ["Transaction cancelled by customer", "cancelled"],
    ["User rejected the request", "cancelled"],
    ["Transaction timed out", "timeout"],
    ["Request expired", "timeout"],
    ["Daily limit exceeded", "limit"],
    ["Invalid MSISDN", "invalid_msisdn"],
    ["Subscriber not registered", "invalid_msisdn"],
    ["General failure", "provider_error"],
    ["", "provider_error"],
  ];
  for (const [text, reason] of cases) {
    assertEquals(reasonFromText(text), reason, text);
  }
  assertEquals(reasonFromText(undefined), "provider_error");
});

Deno.test("amounts: whole numbers from numbers and strings only", () => {
  assertEquals(wholeAmount(1000), 1000);
  assertEquals(wholeAmount("1000"), 1000);
  assertEquals(wholeAmount(" 1000.00 "), 1000);
  assertEquals(wholeAmount("1000.50"), null);
  assertEquals(wholeAmount("-5"), null);
  assertEquals(wholeAmount("1e3"), null);
  assertEquals(wholeAmount(null), null);
  assertEquals(wholeAmount(10.5), null);
});

Deno.test("token cache: reuse until expiry, one fetch for concurrent callers, invalidate", async () => {
  const cache = new TokenCache();
  const clock = new FakeClock();
  let fetches = 0;
  const fetcher = async () => {
    fetches++;
    await new Promise((r) => setTimeout(r, 5));
    return { value: `t${fetches}`, expiresAt: clock.now() + 1000 };
  };
  const [a, b] = await Promise.all([
    cache.get("k", clock.now, fetcher),
    cache.get("k", clock.now, fetcher),
  ]);
  assertEquals([a, b, fetches], ["t1", "t1", 1]);
  clock.advance(999);
  assertEquals(await cache.get("k", clock.now, fetcher), "t1");
  clock.advance(1);
  assertEquals(await cache.get("k", clock.now, fetcher), "t2");
  cache.invalidate("k", "stale-value"); // someone else's token: kept
  assertEquals(await cache.get("k", clock.now, fetcher), "t2");
  cache.invalidate("k", "t2");
  assertEquals(await cache.get("k", clock.now, fetcher), "t3");
  await assertRejects(() =>
    cache.get("other", clock.now, () => Promise.reject(new Error("boom")))
  );
  // a failed fetch is not cached
  assertEquals(await cache.get("other", clock.now, fetcher), "t4");
});

Deno.test("token lifetimes: margin before expiry; expires_in as number or string", () => {
  assertEquals(lifetimeMs(3600, 1), 3_600_000);
  assertEquals(lifetimeMs("180", 1), 180_000);
  assertEquals(lifetimeMs(undefined, 60), 60_000);
  assertEquals(lifetimeMs("junk", 60), 60_000);
  assertEquals(expiryAt(0, 3_600_000), 3_240_000); // 10 %
  assertEquals(expiryAt(0, 180_000), 150_000); // at least 30 s
  assertEquals(expiryAt(0, 40_000), 20_000); // at most half
});

Deno.test("httpRequest: a slow server is a timeout (real socket on 127.0.0.1)", async () => {
  const controller = new AbortController();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: () => {},
    },
    async () => {
      await new Promise((r) => setTimeout(r, 400));
      return new Response("late");
    },
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const error = await httpRequest(fetch, url, { method: "GET" }, 100).then(
      () => null,
      (e) => e,
    );
    assert(error instanceof TransportError);
    assertEquals(error.kind, "timeout");
    const ok = await httpRequest(fetch, url, { method: "GET" }, 2000);
    assertEquals([ok.status, ok.text], [200, "late"]);
  } finally {
    controller.abort();
    await server.finished;
  }
});

Deno.test("httpRequest: connection refused is a network error", async () => {
  const error = await httpRequest(fetch, "http://127.0.0.1:9/", {
    method: "GET",
  }, 2000)
    .then(() => null, (e) => e);
  assert(error instanceof TransportError);
  assertEquals(error.kind, "network");
});

Deno.test("withRetry retries 5xx and transport errors, not 4xx", async () => {
  const mock = new MockProvider();
  let n = 0;
  mock.on(
    "GET",
    "/flaky",
    () => (++n === 1 ? json(503, {}) : json(200, { ok: 1 })),
  );
  mock.on("GET", "/bad", () => json(400, {}));
  const call = (p: string) => () =>
    httpRequest(mock.fetch, `http://x${p}`, { method: "GET" }, 1000);
  assertEquals((await withRetry(call("/flaky"), 2, 1)).status, 200);
  assertEquals((await withRetry(call("/bad"), 2, 1)).status, 400);
  assertEquals(mock.callsTo("/bad").length, 1);
});

Deno.test("config: every missing variable is named; factory builds each provider", () => {
  let error: unknown;
  try {
    createPaymentAdapter("airtel", {
      env: envOf({ AIRTEL_BASE_URL: "ftp://x" }),
    });
  } catch (e) {
    error = e;
  }
  assert(error instanceof ConfigError);
  assertEquals(error.missing, [
    "AIRTEL_BASE_URL",
    "AIRTEL_CLIENT_ID",
    "AIRTEL_CLIENT_SECRET",
    "AIRTEL_CALLBACK_HASH_KEY",
  ]);
  const env = envOf({
    MPESA_BASE_URL: "http://127.0.0.1:1/mpesa/",
    MPESA_API_KEY: "k",
    MPESA_PUBLIC_KEY: "p",
    MPESA_SERVICE_PROVIDER_CODE: "000000",
    AIRTEL_BASE_URL: "http://127.0.0.1:1/airtel",
    AIRTEL_CLIENT_ID: "i",
    AIRTEL_CLIENT_SECRET: "s",
    AIRTEL_CALLBACK_HASH_KEY: "h",
    MIXX_TOKEN_URL: "http://127.0.0.1:1/mixx/token",
    MIXX_PUSH_URL: "http://127.0.0.1:1/mixx/push",
    MIXX_USERNAME: "u",
    MIXX_PASSWORD: "p",
    MIXX_BILLER_MSISDN: "255650000000",
    MIXX_BILLER_CODE: "WATS",
    MIXX_CALLBACK_TOKEN: "t".repeat(32),
    CLICKPESA_BASE_URL: "http://127.0.0.1:1/clickpesa/third-parties",
    CLICKPESA_CLIENT_ID: "c",
    CLICKPESA_API_KEY: "a",
    CLICKPESA_CHECKSUM_KEY: "k",
  });
  const caps = Object.fromEntries(
    (["mpesa", "airtel", "mixx", "halopesa"] as const).map((p) => [
      p,
      createPaymentAdapter(p, { env }).capabilities,
    ]),
  );
  assertEquals(caps, {
    mpesa: {
      mode: "sync",
      callbackAuth: "none",
      statusQuery: true,
      refund: {
        whole: "reversal",
        partial: "reversal",
        statusQuery: ["reversal"],
        callbacks: false,
      },
    },
    airtel: {
      mode: "async",
      callbackAuth: "hmac",
      statusQuery: true,
      // no disbursement configured: only a whole payment goes back by itself
      refund: {
        whole: "refund",
        partial: null,
        statusQuery: [],
        callbacks: false,
      },
    },
    mixx: {
      mode: "async",
      callbackAuth: "url_token",
      statusQuery: false,
      refund: null, // no B2C configured: refunds are paid by hand
    },
    halopesa: {
      mode: "async",
      callbackAuth: "hmac",
      statusQuery: true,
      refund: {
        whole: "payout",
        partial: "payout",
        statusQuery: ["payout"],
        callbacks: true,
      },
    },
  });
  const payouts = envOf({
    AIRTEL_DISBURSEMENT_PIN: "1234",
    AIRTEL_ENCRYPTION_PUBLIC_KEY: "k",
    MIXX_B2C_URL: "http://127.0.0.1:1/mixx/b2c",
    MIXX_B2C_MSISDN: "255650000001",
    MIXX_B2C_PIN: "1234",
    MIXX_B2C_SENDER_NAME: "WATS",
    MIXX_B2C_BRAND_ID: "1",
  });
  const withPayouts = (n: string) => payouts(n) ?? env(n);
  assertEquals(
    createPaymentAdapter("airtel", { env: withPayouts }).capabilities.refund,
    {
      whole: "refund",
      partial: "payout",
      statusQuery: ["payout"],
      callbacks: false,
    },
  );
  assertEquals(
    createPaymentAdapter("mixx", { env: withPayouts }).capabilities.refund,
    { whole: "payout", partial: "payout", statusQuery: [], callbacks: false },
  );
  // a group of optional variables is all or nothing: a half-configured B2C is an error
  let half: unknown;
  try {
    createPaymentAdapter("mixx", {
      env: (n) => n === "MIXX_B2C_PIN" ? "1234" : env(n),
    });
  } catch (e) {
    half = e;
  }
  assert(half instanceof ConfigError);
  assertEquals(half.missing, [
    "MIXX_B2C_URL",
    "MIXX_B2C_MSISDN",
    "MIXX_B2C_SENDER_NAME",
    "MIXX_B2C_BRAND_ID",
  ]);
  assert(isProviderName("mixx"));
  assertFalse(isProviderName("tigo"));
  assertFalse(isProviderName("clickpesa")); // a protocol, not a provider
  assertEquals(
    PROVIDERS.map((p) => `${p}:${PROTOCOLS[p].name}`),
    ["mpesa:mpesa", "airtel:airtel", "mixx:mixx", "halopesa:clickpesa"],
  );
  let short: unknown;
  try {
    createPaymentAdapter("mixx", {
      env: (n) => n === "MIXX_CALLBACK_TOKEN" ? "short" : env(n),
    });
  } catch (e) {
    short = e;
  }
  assert(short instanceof ConfigError);
});
