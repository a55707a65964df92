import { assert, assertEquals } from "../payments/assert.ts";
import {
  maskPhone,
  reportError,
  resetObservability,
  routeOf,
  scrub,
  scrubValue,
  serveObserved,
} from "./observe.ts";

const PHONE = "255712345678";

Deno.test("scrub masks phones and drops credentials", () => {
  const text = scrub(
    `payer ${PHONE} or +255 712 345 678 or 0712345678, Bearer abc.def-ghi, pin=1234, ` +
      `api_key: "k-123", eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl`,
  );
  assert(!text.includes("712345678") && !text.includes("712 345 678"), text);
  assert(text.includes("255****5678"), text);
  assert(
    !text.includes("abc.def") && !text.includes("1234") &&
      !text.includes("k-123"),
    text,
  );
  assert(!text.includes("eyJ"), text);
  assertEquals(maskPhone(PHONE), "255****5678");
  assertEquals(
    scrubValue({
      msisdn: PHONE,
      client_secret: "s3",
      nested: [{ note: PHONE }],
    }),
    {
      msisdn: "255****5678",
      client_secret: "[redacted]",
      nested: [{ note: "255****5678" }],
    },
  );
});

Deno.test("the route keeps words and hides tokens", () => {
  assertEquals(
    routeOf("http://x/payment-webhook/mixx/9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    "/payment-webhook/mixx/:param",
  );
});

async function capture<T>(fn: () => Promise<T>): Promise<[T, string[]]> {
  const lines: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  console.error = (...args: unknown[]) =>
    lines.push(args.map(String).join(" "));
  try {
    return [await fn(), lines];
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("one JSON log line per request, with ids and a masked phone", async () => {
  Deno.env.delete("SENTRY_DSN");
  resetObservability();
  const handler = serveObserved(
    "checkout-initiate",
    () =>
      Response.json({ payment_id: "p-1", order_id: "o-1", msisdn: PHONE }, {
        status: 202,
      }),
  );
  const [res, lines] = await capture(() =>
    Promise.resolve(
      handler(new Request("http://x/checkout-initiate", { method: "POST" })),
    )
  );
  assertEquals(res.status, 202);
  assertEquals(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assertEquals(line.fn, "checkout-initiate");
  assertEquals(line.route, "/checkout-initiate");
  assertEquals([line.status, line.payment_id, line.order_id, line.phone], [
    202,
    "p-1",
    "o-1",
    "255****5678",
  ]);
  assert(
    typeof line.duration_ms === "number" &&
      line.request_id === res.headers.get("x-request-id"),
  );
  assert(!lines[0].includes(PHONE));
});

Deno.test({
  name:
    "a thrown error reaches Sentry (a local receiver) without the phone number",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const bodies: string[] = [];
    const receiver = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
    }, async (req) => {
      bodies.push(new TextDecoder().decode(await req.arrayBuffer()));
      return Response.json({ id: "0" });
    });
    try {
      Deno.env.set(
        "SENTRY_DSN",
        `http://public@127.0.0.1:${receiver.addr.port}/1`,
      );
      resetObservability();
      const handler = serveObserved("payment-webhook", () => {
        throw new Error(
          `provider said no for ${PHONE} with Bearer sekret.token`,
        );
      });
      const [res] = await capture(() =>
        Promise.resolve(
          handler(
            new Request("http://x/payment-webhook/mpesa", {
              headers: { "x-request-id": "req-42" },
            }),
          ),
        )
      );
      assertEquals(res.status, 500);
      await capture(() =>
        Promise.resolve(
          reportError("payout 1 was not sent:", new Error(`wallet ${PHONE}`)),
        )
      );
      for (let i = 0; i < 50 && bodies.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(bodies.length >= 2, `events received: ${bodies.length}`);
      const all = bodies.join("\n");
      assert(
        all.includes("provider said no") && all.includes("payment-webhook"),
        all,
      );
      assert(all.includes("req-42"), "the request id is a tag");
      assert(
        !all.includes(PHONE) && !all.includes("712345678"),
        "a phone number reached Sentry",
      );
      assert(!all.includes("sekret.token"), "a token reached Sentry");
    } finally {
      Deno.env.delete("SENTRY_DSN");
      resetObservability();
      await receiver.shutdown();
    }
  },
});

Deno.test("without SENTRY_DSN nothing is sent", async () => {
  Deno.env.delete("SENTRY_DSN");
  resetObservability();
  const handler = serveObserved("refund-execute", () => {
    throw new Error("boom");
  });
  const [res, lines] = await capture(() =>
    Promise.resolve(handler(new Request("http://x/refund-execute")))
  );
  assertEquals(res.status, 500);
  assert(lines.some((l) => l.includes('"status":500')));
});
