/**
 * The messaging adapters against scripted HTTP answers: what each answer of Beem and Expo
 * means for a send (sent, retry, failed for good, or unknown: never repeated).
 */
import { assertEquals } from "../payments/assert.ts";
import type { FetchLike } from "../payments/types.ts";
import { expoConfig, ExpoPush, type PushTarget } from "./expo.ts";
import { beemConfig, BeemSms, SmsConfigError } from "./sms.ts";
import { maskPhone, maskToken } from "./transport.ts";

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A fetch that records requests and answers from `script` (or throws it). */
function scripted(
  script: (() => Response | Promise<Response>)[],
  sent: Sent[] = [],
): FetchLike {
  return (input, init) => {
    sent.push({
      url: input,
      headers: init.headers as Record<string, string>,
      body: init.body ? JSON.parse(String(init.body)) : null,
    });
    const next = script.shift();
    if (!next) return Promise.reject(new Error("unexpected request"));
    try {
      return Promise.resolve(next());
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

const json = (status: number, body: unknown) => () =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
const html = (status: number) => () =>
  new Response("<html>504 Gateway Time-out</html>", { status });
const refused = () => {
  throw new TypeError(
    "error sending request for url (http://x/): client error (Connect): tcp connect error: Connection refused (os error 111)",
  );
};
const reset = () => {
  throw new TypeError(
    "error sending request for url (http://x/): connection closed before message completed",
  );
};

const BEEM = {
  url: "http://beem.test/v1/send",
  apiKey: "key",
  secretKey: "secret",
  senderId: "WATS",
  timeoutMs: 2000,
};
const SMS = {
  to: "255711000001",
  text: "WATS: Malipo yamepokelewa.",
  reference: "d1",
};

Deno.test("beem: an accepted SMS carries Beem's request id; the request is Beem's shape", async () => {
  const sent: Sent[] = [];
  const sms = new BeemSms(
    BEEM,
    scripted([json(200, {
      successful: true,
      request_id: 4001,
      code: 100,
      message: "Message Submitted Successfully",
      valid: 1,
      invalid: 0,
      duplicates: 0,
    })], sent),
  );
  assertEquals(await sms.send(SMS), {
    outcome: "sent",
    providerMessageId: "4001",
  });
  assertEquals(sent[0].url, BEEM.url);
  assertEquals(sent[0].headers.Authorization, `Basic ${btoa("key:secret")}`);
  assertEquals(sent[0].body, {
    source_addr: "WATS",
    encoding: 0,
    schedule_time: "",
    message: SMS.text,
    recipients: [{ recipient_id: "d1", dest_addr: "255711000001" }],
  });
});

Deno.test("beem: refusals are retried, except a number that will never take it", async () => {
  const answers = [
    json(401, {
      data: { code: 120, message: "Invalid Authentication Parameters" },
    }),
    json(402, { data: { code: 102, message: "Insufficient balance" } }),
    json(500, { data: { code: 500, message: "Internal server error" } }),
    json(400, { data: { code: 101, message: "Invalid phone number" } }),
    json(200, { successful: false, code: 101, message: "No valid recipient" }),
  ];
  const sms = new BeemSms(BEEM, scripted(answers));
  const outcomes = [];
  for (let i = 0; i < 5; i++) outcomes.push((await sms.send(SMS)).outcome);
  assertEquals(outcomes, ["retry", "retry", "retry", "failed", "failed"]);
});

Deno.test("beem: an answer that may hide an accepted SMS is unknown (never resent)", async () => {
  const sms = new BeemSms(BEEM, scripted([html(504), reset]));
  assertEquals((await sms.send(SMS)).outcome, "unknown");
  assertEquals((await sms.send(SMS)).outcome, "unknown");
});

Deno.test("beem: a connection never made was not sent: retried", async () => {
  const sms = new BeemSms(BEEM, scripted([refused]));
  assertEquals((await sms.send(SMS)).outcome, "retry");
});

Deno.test("beem: no answer in time is unknown", async () => {
  const slow: FetchLike = (_input, init) =>
    new Promise((_resolve, reject) => {
      init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
    });
  const sms = new BeemSms({ ...BEEM, timeoutMs: 50 }, slow);
  assertEquals((await sms.send(SMS)).outcome, "unknown");
});

Deno.test("beem: configuration comes from the environment, secrets required", () => {
  const env: Record<string, string> = {
    BEEM_API_KEY: "k",
    BEEM_SECRET_KEY: "s",
  };
  let error: unknown;
  try {
    beemConfig((name) => env[name]);
  } catch (e) {
    error = e;
  }
  assertEquals(error instanceof SmsConfigError, true);
  env.BEEM_SENDER_ID = "WATS";
  assertEquals(
    beemConfig((name) => env[name]).url,
    "https://apisms.beem.africa/v1/send",
  );
});

const EXPO = {
  url: "http://expo.test/--/api/v2/push",
  accessToken: "tok",
  timeoutMs: 2000,
};
const DEVICES: PushTarget[] = [
  { deviceId: "a", token: "ExponentPushToken[aaaa]" },
  { deviceId: "b", token: "ExponentPushToken[bbbb]" },
];
const MESSAGE = {
  title: "Malipo yamepokelewa",
  body: "Tumepokea TZS 12,000.",
  data: { type: "order_paid" },
  priority: "high" as const,
};

Deno.test("expo: one message to the person's devices; tickets per device", async () => {
  const sent: Sent[] = [];
  const push = new ExpoPush(
    EXPO,
    scripted([json(200, {
      data: [{ status: "ok", id: "t-a" }, { status: "ok", id: "t-b" }],
    })], sent),
  );
  const result = await push.send(DEVICES, MESSAGE);
  assertEquals(result, {
    outcome: "sent",
    tickets: { a: "t-a", b: "t-b" },
    unregistered: [],
  });
  assertEquals(sent[0].url, `${EXPO.url}/send`);
  assertEquals(sent[0].headers.Authorization, "Bearer tok");
  assertEquals(sent[0].body, [{
    to: ["ExponentPushToken[aaaa]", "ExponentPushToken[bbbb]"],
    title: MESSAGE.title,
    body: MESSAGE.body,
    data: MESSAGE.data,
    sound: "default",
    priority: "high",
  }]);
});

Deno.test("expo: a gone device is reported, a rate-limited one retried alone", async () => {
  const push = new ExpoPush(
    EXPO,
    scripted([
      json(200, {
        data: [
          { status: "error", details: { error: "DeviceNotRegistered" } },
          { status: "ok", id: "t-b" },
        ],
      }),
      json(200, {
        data: [
          { status: "ok", id: "t-a" },
          { status: "error", details: { error: "MessageRateExceeded" } },
        ],
      }),
      json(200, {
        data: [
          { status: "error", details: { error: "DeviceNotRegistered" } },
          { status: "error", details: { error: "DeviceNotRegistered" } },
        ],
      }),
    ]),
  );
  assertEquals(await push.send(DEVICES, MESSAGE), {
    outcome: "sent",
    tickets: { b: "t-b" },
    unregistered: ["a"],
  });
  assertEquals(await push.send(DEVICES, MESSAGE), {
    outcome: "retry",
    tickets: { a: "t-a" },
    unregistered: [],
    error: "expo MessageRateExceeded",
  });
  const gone = await push.send(DEVICES, MESSAGE);
  assertEquals([gone.outcome, gone.unregistered], ["nothing_to_send", [
    "a",
    "b",
  ]]);
});

Deno.test("expo: Expo's own refusals are retried or failed; other answers are unknown", async () => {
  const push = new ExpoPush(
    EXPO,
    scripted([
      json(429, {
        errors: [{ code: "TOO_MANY_REQUESTS", message: "slow down" }],
      }),
      json(500, {
        errors: [{ code: "INTERNAL_SERVER_ERROR", message: "oops" }],
      }),
      json(400, { errors: [{ code: "VALIDATION_ERROR", message: "bad" }] }),
      html(504),
      json(200, { data: [{ status: "ok", id: "only-one" }] }),
      refused,
    ]),
  );
  const outcomes = [];
  for (let i = 0; i < 6; i++) {
    outcomes.push((await push.send(DEVICES, MESSAGE)).outcome);
  }
  assertEquals(outcomes, [
    "retry",
    "retry",
    "failed",
    "unknown",
    "unknown",
    "retry",
  ]);
});

Deno.test("expo: no device, no request", async () => {
  const push = new ExpoPush(EXPO, scripted([]));
  assertEquals((await push.send([], MESSAGE)).outcome, "nothing_to_send");
});

Deno.test("expo: receipts by ticket", async () => {
  const push = new ExpoPush(
    EXPO,
    scripted([json(200, {
      data: {
        "t-a": { status: "ok" },
        "t-b": {
          status: "error",
          message: "not registered",
          details: { error: "DeviceNotRegistered" },
        },
      },
    })]),
  );
  assertEquals(await push.receipts(["t-a", "t-b", "t-c"]), {
    "t-a": { status: "ok" },
    "t-b": {
      status: "error",
      error: "DeviceNotRegistered",
      message: "not registered",
    },
  });
  assertEquals(
    expoConfig(() => undefined),
    {
      url: "https://exp.host/--/api/v2/push",
      accessToken: null,
      timeoutMs: 10000,
    },
  );
});

Deno.test("logs show phones and tokens masked", () => {
  assertEquals(maskPhone("255711000001"), "255****0001");
  assertEquals(
    maskToken("ExponentPushToken[abcdefgh]"),
    "ExponentPushToken[abcd…]",
  );
});
