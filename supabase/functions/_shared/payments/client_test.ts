import { assert, assertEquals, assertRejects } from "./assert.ts";
import { type CallKind, oauthGrant, ProviderClient } from "./client.ts";
import { FakeClock, json, MockProvider } from "./testing.ts";
import { tokenCache } from "./token_cache.ts";

/** A provider whose token endpoint and one data endpoint answer as each test says. */
function setup(answers: {
  token?: () => Response | "hang";
  data?: (authorization: string | null) => Response | "hang";
}) {
  tokenCache.clear();
  const mock = new MockProvider();
  const clock = new FakeClock();
  let tokens = 0;
  mock.on("POST", "/token", () => {
    if (answers.token) return answers.token();
    tokens++;
    return json(200, { access_token: `t${tokens}`, expires_in: 3600 });
  });
  mock.on(
    "POST",
    "/data",
    (req) => answers.data?.(req.headers.get("authorization")) ?? json(200, {}),
  );
  const client = new ProviderClient({
    baseUrl: "http://provider.test",
    httpTimeoutMs: 50,
    pushTimeoutMs: 50,
    credential: {
      name: "Test token",
      cacheKey: "test|provider.test",
      request: () => ({ method: "POST", path: "/token", json: {} }),
      read: (reply, now) => oauthGrant(reply, now, 60),
    },
    authorize: (token) => ({ Authorization: `Bearer ${token}` }),
  }, { fetch: mock.fetch, now: clock.now });
  const data = () => mock.callsTo("/data").length;
  const tokenCalls = () => mock.callsTo("/token").length;
  return { client, mock, clock, data, tokenCalls };
}

const request = { method: "POST" as const, path: "/data", json: { a: 1 } };
const payment = {
  reference: "WP0123456789ABCDEF01",
  amount: 1000,
  currency: "TZS" as const,
  msisdn: "255711000001",
};

Deno.test("client: only a status query is retried after a 5xx; a push or a refund never", async () => {
  for (
    const [kind, attempts] of [["status", 2], ["push", 1], [
      "refund",
      1,
    ]] as Array<[CallKind, number]>
  ) {
    const { client, data } = setup({ data: () => json(503, {}) });
    const reply = await client.call(kind, request);
    assertEquals([kind, reply.status, data()], [kind, 503, attempts]);
  }
});

Deno.test("client: a timeout is ambiguous for a push, retried once for a status query", async () => {
  const push = setup({ data: () => "hang" });
  const pushed = await push.client.push(payment, () => request, () => {
    throw new Error("no reply to read");
  });
  assertEquals([pushed.state, pushed.transportError, push.data()], [
    "ambiguous",
    "timeout",
    1,
  ]);
  const status = setup({ data: () => "hang" });
  const asked = await status.client.status(request, () => {
    throw new Error("no reply to read");
  });
  assert(asked.supported);
  assertEquals([asked.state, asked.transportError, status.data()], [
    "ambiguous",
    "timeout",
    2,
  ]);
  const refund = setup({ data: () => "hang" });
  const refunded = await refund.client.refund("payout", request, () => {
    throw new Error("no reply to read");
  });
  assert(refunded.supported);
  assertEquals([refunded.state, refund.data()], ["ambiguous", 1]);
});

Deno.test("client: a 401 refreshes the credential and resends once, whatever the call", async () => {
  for (const kind of ["push", "status", "refund"] as CallKind[]) {
    const { client, data, tokenCalls } = setup({
      data: (auth) =>
        auth === "Bearer t2" ? json(200, { ok: kind }) : json(401, {}),
    });
    const reply = await client.call(kind, request);
    assertEquals([reply.status, data(), tokenCalls()], [200, 2, 2], kind);
  }
  // a second 401 is the answer: no loop
  const { client, data } = setup({ data: () => json(401, {}) });
  assertEquals((await client.call("push", request)).status, 401);
  assertEquals(data(), 2);
});

Deno.test("client: a refused credential fails the push before anything is sent", async () => {
  const { client, data, tokenCalls } = setup({
    token: () => json(400, { error: "invalid_grant", error_description: "no" }),
  });
  const result = await client.push(payment, () => request, () => {
    throw new Error("nothing to read");
  });
  assertEquals([result.state, result.failureReason], [
    "failed",
    "provider_error",
  ]);
  assertEquals(
    result.message,
    "Test token refused: HTTP 400 no; the push was not sent",
  );
  assertEquals([data(), tokenCalls()], [0, 1]); // a 4xx refusal is not retried
  const status = await client.status(request, () => {
    throw new Error("nothing to read");
  });
  assert(status.supported);
  assertEquals(status.transportError, "provider_unavailable");
});

Deno.test("client: the credential fetch is retried once on a 5xx, then cached and shared", async () => {
  let answers = 0;
  const { client, clock, tokenCalls } = setup({
    token: () =>
      ++answers === 1
        ? json(502, {})
        : json(200, { access_token: `t${answers}`, expires_in: "120" }),
  });
  const [a, b] = await Promise.all([client.credential(), client.credential()]);
  assertEquals([a, b, tokenCalls()], ["t2", "t2", 2]);
  clock.advance(89_000); // 120 s, 30 s margin
  assertEquals(await client.credential(), "t2");
  clock.advance(1_000);
  assertEquals(await client.credential(), "t3");
});

Deno.test("client: a push is checked before it is built: bugs throw, a bad phone fails", async () => {
  const { client, tokenCalls, data } = setup({});
  let built = 0;
  const build = () => (built++, request);
  const bad = await client.push(
    { ...payment, msisdn: "0711000001" },
    build,
    () => {
      throw new Error("nothing to read");
    },
  );
  assertEquals([bad.state, bad.failureReason], ["failed", "invalid_msisdn"]);
  await assertRejects(
    () => client.push({ ...payment, reference: "WP1" }, build, () => bad),
    RangeError,
  );
  await assertRejects(
    () => client.push({ ...payment, amount: 0.5 }, build, () => bad),
    RangeError,
  );
  assertEquals([built, tokenCalls(), data()], [0, 0, 0]);
});

Deno.test("client: requests carry the authorization and JSON; whole URLs are kept", async () => {
  const { client, mock } = setup({});
  await client.call("push", request);
  const sent = mock.callsTo("/data")[0];
  assertEquals(sent.url.href, "http://provider.test/data");
  assertEquals(sent.headers.get("authorization"), "Bearer t1");
  assertEquals(JSON.parse(sent.body), { a: 1 });
  mock.on("POST", "/elsewhere", () => json(200, {}));
  await client.call("refund", {
    method: "POST",
    path: "http://other.test/elsewhere",
  });
  assertEquals(
    mock.callsTo("/elsewhere")[0].url.href,
    "http://other.test/elsewhere",
  );
});
