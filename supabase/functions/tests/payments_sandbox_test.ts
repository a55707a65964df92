/**
 * End to end: the real adapters against the Python mobile-money sandbox.
 *
 * Runs only when WATS_SANDBOX_URL and WATS_E2E_WEBHOOK_PORT are set (the pytest
 * tests/sandbox/test_deno_adapters_e2e.py starts the sandbox and sets them, with the
 * adapter variables from `ensure_credentials`). This test listens on the webhook port the
 * sandbox calls back, verifies each callback with the adapter and answers with the
 * adapter's acknowledgement — what payment-webhook will do, minus the database.
 */
import { assert, assertEquals } from "../_shared/payments/assert.ts";
import {
  clearCredentialCache,
  createPaymentAdapter,
  isProviderName,
  type ParsedCallback,
  type PaymentAdapter,
  type ProviderName,
} from "../_shared/payments/mod.ts";

const SANDBOX = Deno.env.get("WATS_SANDBOX_URL") ?? "";
const WEBHOOK_PORT = Number(Deno.env.get("WATS_E2E_WEBHOOK_PORT") ?? "0");
const ENABLED = SANDBOX.startsWith("http://127.0.0.1") && WEBHOOK_PORT > 0;

interface Seen {
  provider: ProviderName;
  parsed: ParsedCallback;
  status: number;
}

const seen: Seen[] = [];

/** Variables some steps set for the adapters (the webhook receiver's included): a
 * deployment's settings, over the ones ensure_credentials gave. */
const overrides: Record<string, string> = {};
const envWith = (name: string) => overrides[name] ?? Deno.env.get(name);

async function settings(values: Record<string, number>): Promise<void> {
  await sandbox("/_sandbox/settings", {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(values),
  });
}

const PREFIX: Record<ProviderName, string> = {
  mpesa: "25575",
  airtel: "25568",
  mixx: "25565",
  halopesa: "25562",
};

function phone(provider: ProviderName, digits: string): string {
  return `${PREFIX[provider]}00011${digits}`;
}

function newRef(digits: string): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return "E" +
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")
      .toUpperCase() +
    digits;
}

async function sandbox(path: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(`${SANDBOX}${path}`, init);
  const body = await response.json();
  assert(
    response.status < 300,
    `${path}: ${response.status} ${JSON.stringify(body)}`,
  );
  return body;
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 8000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function callbacksFor(providerRef: string): Seen[] {
  return seen.filter((s) => s.parsed.providerRef === providerRef);
}

async function payment(
  adapter: PaymentAdapter,
  digits: string,
  amount = 10_000,
) {
  const reference = newRef(digits);
  const result = await adapter.initiate({
    reference,
    amount,
    currency: "TZS",
    msisdn: phone(adapter.provider, digits),
    description: "WATS e2e",
  });
  return result;
}

/** A payment that succeeded, as its adapter and the sandbox know it. */
async function paid(adapter: PaymentAdapter, digits: string) {
  const result = await payment(adapter, digits);
  if (result.state === "succeeded") {
    return { ...result, msisdn: phone(adapter.provider, digits) };
  }
  const [cb] = await until("the payment's callback", () => {
    const got = callbacksFor(result.providerRef);
    return got.length ? got : undefined;
  });
  assertEquals(cb.parsed.state, "succeeded");
  return {
    ...result,
    providerTxnId: cb.parsed.providerTxnId ?? undefined,
    msisdn: phone(adapter.provider, digits),
  };
}

const refundRef = (tag: string) =>
  "WR" + newRef(tag).slice(1).slice(0, 16) + tag;

Deno.test({
  name: "adapters against the sandbox: initiate → callback → verify → status",
  ignore: !ENABLED,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    clearCredentialCache();
    await sandbox("/_sandbox/reset", { method: "POST" });
    await sandbox("/_sandbox/settings", {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        answer_delay_s: 0.2,
        late_delay_s: 1.0,
        prompt_timeout_s: 1.5,
        duplicate_count: 3,
        duplicate_interval_s: 0.05,
        callback_retries: 0,
      }),
    });
    const stop = new AbortController();
    const server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: WEBHOOK_PORT,
        signal: stop.signal,
        onListen: () => {},
      },
      async (request, info) => {
        // the provider, then (Mixx's path form) the callback token
        const match = new URL(request.url).pathname.match(
          /\/payment-webhook\/([a-z]+)(\/[^/]+)?$/,
        );
        const provider = match?.[1];
        if (!isProviderName(provider)) {
          return new Response("?", { status: 404 });
        }
        const adapter = createPaymentAdapter(provider, { env: envWith });
        const parsed = await adapter.verifyAndParseCallback({
          headers: request.headers,
          rawBody: await request.text(),
          url: request.url,
          sourceIp: info.remoteAddr.hostname,
        });
        const response = adapter.acknowledge(
          parsed,
          parsed.authentic ? "accepted" : "unauthentic",
        );
        seen.push({ provider, parsed, status: response.status });
        return response;
      },
    );

    try {
      for (const provider of ["airtel", "mixx", "halopesa"] as const) {
        const adapter = createPaymentAdapter(provider);

        await t.step(
          `${provider}: success, callback authentic, status`,
          async () => {
            const result = await payment(adapter, "01");
            assertEquals(result.state, "initiated", JSON.stringify(result));
            const [cb] = await until("callback", () => {
              const got = callbacksFor(result.providerRef);
              return got.length ? got : undefined;
            });
            assert(cb.parsed.authentic, JSON.stringify(cb.parsed));
            assertEquals(cb.status, 200);
            assertEquals(cb.parsed.state, "succeeded");
            if (provider !== "airtel") assertEquals(cb.parsed.amount, 10_000);
            if (adapter.capabilities.statusQuery) {
              const status = await adapter.queryStatus(result.providerRef);
              assert(status.supported);
              assertEquals(status.state, "succeeded");
            }
          },
        );

        await t.step(`${provider}: insufficient funds`, async () => {
          const result = await payment(adapter, "91");
          assertEquals(result.state, "initiated");
          const [cb] = await until("callback", () => {
            const got = callbacksFor(result.providerRef);
            return got.length ? got : undefined;
          });
          assert(cb.parsed.authentic);
          assertEquals(
            [cb.parsed.state, cb.parsed.failureReason],
            ["failed", "insufficient_funds"],
          );
        });

        await t.step(
          `${provider}: forged callback rejected with 401`,
          async () => {
            const result = await payment(adapter, "98");
            const [cb] = await until("forged callback", () => {
              const got = callbacksFor(result.providerRef);
              return got.length ? got : undefined;
            });
            assertEquals(cb.parsed.authentic, false);
            assertEquals(cb.status, 401);
            // the sandbox knows Mixx payments by their wire ReferenceID (biller code + ref)
            const wireRef = provider === "mixx"
              ? `${Deno.env.get("MIXX_BILLER_CODE") ?? ""}${result.providerRef}`
              : result.providerRef;
            // our answer reaches the sandbox's record just after our handler saw the call
            const deliveries = await until("the recorded answer", async () => {
              const list = await sandbox(
                `/_sandbox/deliveries?ref=${encodeURIComponent(wireRef)}`,
              ) as Array<{ state: string; status_code: number | null }>;
              return list.length > 0 &&
                  list.every((d) => d.state !== "scheduled")
                ? list
                : undefined;
            });
            assertEquals(deliveries.map((d) => d.status_code), [401]);
          },
        );

        await t.step(
          `${provider}: duplicate callbacks all verify`,
          async () => {
            const result = await payment(adapter, "96");
            const got = await until("3 callbacks", () => {
              const list = callbacksFor(result.providerRef);
              return list.length >= 3 ? list : undefined;
            });
            assert(
              got.every((s) =>
                s.parsed.authentic && s.parsed.state === "succeeded"
              ),
            );
          },
        );

        await t.step(`${provider}: ambiguous push, then success`, async () => {
          const result = await payment(adapter, "97");
          assertEquals(result.state, "ambiguous");
          if (adapter.capabilities.statusQuery) {
            const status = await until("status success", async () => {
              const s = await adapter.queryStatus(result.providerRef);
              return s.supported && s.state === "succeeded" ? s : undefined;
            });
            assert(status.supported);
          }
          const [cb] = await until("callback", () => {
            const got = callbacksFor(result.providerRef);
            return got.length ? got : undefined;
          });
          assertEquals(cb.parsed.state, "succeeded");
        });

        await t.step(`${provider}: refused at once`, async () => {
          const result = await payment(adapter, "99");
          assertEquals(
            [result.state, result.failureReason],
            ["failed", "invalid_msisdn"],
          );
        });
      }

      await t.step(
        "airtel: the whole payment by the refund API, part of one by disbursement",
        async () => {
          const adapter = createPaymentAdapter("airtel");
          const whole = await paid(adapter, "02");
          const back = await adapter.refund({
            providerRef: whole.providerRef,
            providerTxnId: whole.providerTxnId,
            amount: 10_000,
            reference: refundRef("A1"),
            msisdn: whole.msisdn,
            wholePayment: true,
          });
          assert(back.supported);
          assertEquals([back.method, back.state], ["refund", "refunded"]);
          const part = await paid(adapter, "03");
          const reference = refundRef("A2");
          const payout = await adapter.refund({
            providerRef: part.providerRef,
            providerTxnId: part.providerTxnId,
            amount: 4_000,
            reference,
            msisdn: part.msisdn,
          });
          assert(payout.supported);
          assertEquals([payout.method, payout.state], ["payout", "refunded"]);
          const status = await adapter.refundStatus({
            reference,
            method: "payout",
          });
          assert(status.supported);
          assertEquals(status.state, "refunded");
          const paidOut = await sandbox(
            `/_sandbox/payouts?reference=${reference}`,
          ) as Array<
            { amount: number; status: string; msisdn: string; method: string }
          >;
          assertEquals(
            paidOut.map((p) => [p.method, p.amount, p.status, p.msisdn]),
            [["disbursement", 4_000, "paid", part.msisdn]],
          );
        },
      );

      await t.step(
        "mixx: a refund is a B2C payout to the payer's wallet",
        async () => {
          const adapter = createPaymentAdapter("mixx");
          const done = await paid(adapter, "04");
          const reference = refundRef("X1");
          const back = await adapter.refund({
            providerRef: done.providerRef,
            amount: 3_000,
            reference,
            msisdn: done.msisdn,
          });
          assert(back.supported);
          assertEquals([back.method, back.state], ["payout", "refunded"]);
          const paidOut = await sandbox(
            `/_sandbox/payouts?reference=${reference}`,
          ) as Array<
            { amount: number; status: string }
          >;
          assertEquals(paidOut.map((p) => [p.amount, p.status]), [[
            3_000,
            "paid",
          ]]);
        },
      );

      await t.step(
        "halopesa: a payout is pending, then its PAYOUT webhook and the status say paid",
        async () => {
          const adapter = createPaymentAdapter("halopesa");
          const done = await paid(adapter, "05");
          const reference = refundRef("H1");
          const sent = await adapter.refund({
            providerRef: done.providerRef,
            amount: 10_000,
            reference,
            msisdn: done.msisdn,
          });
          assert(sent.supported);
          assertEquals([sent.method, sent.state], ["payout", "pending"]);
          const [cb] = await until("the PAYOUT webhook", () => {
            const got = callbacksFor(reference);
            return got.length ? got : undefined;
          });
          assert(cb.parsed.authentic);
          assertEquals([cb.parsed.subject, cb.parsed.state], [
            "refund",
            "succeeded",
          ]);
          const status = await adapter.refundStatus({
            reference,
            method: "payout",
          });
          assert(status.supported);
          assertEquals(status.state, "refunded");
        },
      );

      await t.step(
        "halopesa: a lost create answer is ambiguous; the status query finds the payout",
        async () => {
          const adapter = createPaymentAdapter("halopesa");
          const done = await paid(adapter, "83");
          const reference = refundRef("H2");
          const sent = await adapter.refund({
            providerRef: done.providerRef,
            amount: 10_000,
            reference,
            msisdn: done.msisdn,
          });
          assert(sent.supported);
          assertEquals(sent.state, "ambiguous");
          const status = await until("paid", async () => {
            const s = await adapter.refundStatus({
              reference,
              method: "payout",
            });
            return s.supported && s.state === "refunded" ? s : undefined;
          });
          assert(status.supported);
          // and a resend with the same reference creates nothing
          const again = await adapter.refund({
            providerRef: done.providerRef,
            amount: 10_000,
            reference,
            msisdn: done.msisdn,
          });
          assert(again.supported);
          assertEquals(again.state, "ambiguous");
          const paidOut = await sandbox(
            `/_sandbox/payouts?reference=${reference}&status=paid`,
          ) as unknown[];
          assertEquals(paidOut.length, 1);
        },
      );

      const mpesa = createPaymentAdapter("mpesa");
      await t.step("mpesa: synchronous success, status, reversal", async () => {
        const result = await payment(mpesa, "01");
        assertEquals(result.state, "succeeded", JSON.stringify(result));
        assert(result.providerTxnId);
        const status = await mpesa.queryStatus(result.providerRef);
        assert(status.supported);
        assertEquals(status.state, "succeeded");
        const reference = "RV" + result.providerRef.slice(-10);
        const refund = await mpesa.refund({
          providerRef: result.providerRef,
          providerTxnId: result.providerTxnId,
          amount: 4_000,
          reference,
        });
        assert(refund.supported);
        assertEquals([refund.method, refund.state], ["reversal", "refunded"]);
        const reversed = await mpesa.refundStatus({
          reference,
          method: "reversal",
        });
        assert(reversed.supported);
        assertEquals(reversed.state, "refunded");
        // the same reference again is a duplicate, never a second reversal
        const again = await mpesa.refund({
          providerRef: result.providerRef,
          providerTxnId: result.providerTxnId,
          amount: 4_000,
          reference,
        });
        assert(again.supported);
        assertEquals(again.state, "ambiguous");
        // more than is left of the payment is refused
        const beyond = await mpesa.refund({
          providerRef: result.providerRef,
          providerTxnId: result.providerTxnId,
          amount: 6_001,
          reference: reference + "B",
        });
        assert(beyond.supported);
        assertEquals(beyond.state, "failed");
      });

      await t.step(
        "mpesa: a reversal refused once (float short) goes through when retried",
        async () => {
          const result = await payment(mpesa, "81");
          assertEquals(result.state, "succeeded");
          const request = {
            providerRef: result.providerRef,
            providerTxnId: result.providerTxnId,
            amount: 10_000,
            reference: "RV" + result.providerRef.slice(-12),
          };
          const first = await mpesa.refund(request);
          assert(first.supported);
          assertEquals([first.state, first.failureReason], [
            "failed",
            "insufficient_balance",
          ]);
          const second = await mpesa.refund(request);
          assert(second.supported);
          assertEquals(second.state, "refunded");
        },
      );

      await t.step("mpesa: customer failures", async () => {
        for (
          const [digits, reason] of [
            ["91", "insufficient_funds"],
            ["92", "wrong_pin"],
            ["93", "cancelled"],
            ["99", "invalid_msisdn"],
          ]
        ) {
          const result = await payment(mpesa, digits);
          assertEquals([result.state, result.failureReason], [
            "failed",
            reason,
          ]);
        }
      });

      await t.step("mpesa: ambiguous reply, status says paid", async () => {
        const result = await payment(mpesa, "97");
        assertEquals(result.state, "ambiguous");
        const status = await mpesa.queryStatus(result.providerRef);
        assert(status.supported);
        assertEquals(status.state, "succeeded");
        // the id comes from output_OriginalTransactionID, and reverses the payment
        assert(status.providerTxnId, "the status answer names the payment");
        const reversed = await mpesa.refund({
          providerRef: result.providerRef,
          providerTxnId: status.providerTxnId,
          amount: 1000,
          reference: refundRef("Q7"),
        });
        assert(reversed.supported);
        assertEquals(reversed.state, "refunded");
      });

      await t.step(
        "mpesa: no answer → our timeout → ambiguous → expired",
        async () => {
          const result = await payment(mpesa, "94");
          assertEquals(result.state, "ambiguous");
          const status = await until("expired", async () => {
            const s = await mpesa.queryStatus(result.providerRef);
            return s.supported && s.state === "failed" ? s : undefined;
          });
          assert(status.supported);
          assertEquals(status.failureReason, "timeout");
        },
      );

      await t.step(
        "status of an unknown reference is 'not found'",
        async () => {
          for (const provider of ["mpesa", "airtel", "halopesa"] as const) {
            const status = await createPaymentAdapter(provider).queryStatus(
              "NOSUCHREF1",
            );
            assert(status.supported);
            assertEquals(
              [status.state, status.notFound],
              ["ambiguous", true],
              provider,
            );
          }
        },
      );

      // -- go-live (issue 14) ------------------------------------------------------------
      const mixx = createPaymentAdapter("mixx");
      await t.step(
        "mixx: callbacks to the path form are authentic",
        async () => {
          await settings({ mixx_callback_path_token: 1 });
          try {
            const result = await payment(mixx, "01");
            const [cb] = await until("callback", () => {
              const got = callbacksFor(result.providerRef);
              return got.length ? got : undefined;
            });
            assert(cb.parsed.authentic, JSON.stringify(cb.parsed));
            assertEquals(cb.status, 200);
          } finally {
            await settings({ mixx_callback_path_token: 0 });
          }
        },
      );

      await t.step(
        "mixx: a lost callback is found by the transaction query",
        async () => {
          assert(mixx.capabilities.statusQuery);
          const result = await payment(mixx, "90");
          const status = await until("Posted", async () => {
            const s = await mixx.queryStatus(result.providerRef);
            return s.supported && s.state === "succeeded" ? s : undefined;
          });
          assert(status.supported);
          assert(status.providerTxnId);
          assertEquals(status.amount, 10_000);
          assertEquals(callbacksFor(result.providerRef).length, 0);
          const unknown = await mixx.queryStatus("NOSUCHREF1");
          assert(unknown.supported);
          assertEquals(unknown.notFound, true);
        },
      );

      await t.step(
        "halopesa: reports net of ClickPesa's fee are read as what the customer paid",
        async () => {
          await settings({
            clickpesa_fee_percent: 1.5,
            clickpesa_report_fee: 0,
          });
          overrides.CLICKPESA_COLLECTED_AMOUNT = "net";
          overrides.CLICKPESA_COLLECTION_FEE_PERCENT = "1.5";
          try {
            const net = createPaymentAdapter("halopesa", { env: envWith });
            const result = await payment(net, "01");
            const [cb] = await until("webhook", () => {
              const got = callbacksFor(result.providerRef);
              return got.length ? got : undefined;
            });
            assert(cb.parsed.authentic);
            assertEquals([cb.parsed.amount, cb.parsed.fee], [10_000, 150]);
            const status = await net.queryStatus(result.providerRef);
            assert(status.supported);
            assertEquals([status.amount, status.fee], [10_000, 150]);
            // with the fee in the report, no setting is needed
            await settings({ clickpesa_report_fee: 1 });
            delete overrides.CLICKPESA_COLLECTION_FEE_PERCENT;
            const reported = await createPaymentAdapter("halopesa", {
              env: envWith,
            }).queryStatus(result.providerRef);
            assert(reported.supported);
            assertEquals([reported.amount, reported.fee], [10_000, 150]);
          } finally {
            delete overrides.CLICKPESA_COLLECTED_AMOUNT;
            delete overrides.CLICKPESA_COLLECTION_FEE_PERCENT;
            await settings({
              clickpesa_fee_percent: 0,
              clickpesa_report_fee: 0,
            });
          }
        },
      );

      await t.step(
        "halopesa: legacy checksums are refused with their reason; eventType is read",
        async () => {
          const halopesa = createPaymentAdapter("halopesa");
          const result = await payment(halopesa, "90");
          for (
            const body of [{ checksum_method: "legacy" }, {
              event_field: "eventType",
            }]
          ) {
            await sandbox(
              `/_sandbox/transactions/halopesa/${result.providerRef}/callback`,
              {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify(body),
              },
            );
          }
          const [legacy, typed] = await until("both webhooks", () => {
            const got = callbacksFor(result.providerRef);
            return got.length >= 2 ? got : undefined;
          });
          assertEquals([legacy.status, legacy.parsed.rejection], [
            401,
            "unverifiable_signature",
          ]);
          assert(typed.parsed.authentic);
          assertEquals([typed.status, typed.parsed.state], [200, "succeeded"]);
        },
      );

      await t.step("airtel: signed v2 pushes are accepted", async () => {
        overrides.AIRTEL_COLLECTION_API = "v2";
        try {
          const v2 = createPaymentAdapter("airtel", { env: envWith });
          const result = await payment(v2, "01");
          assertEquals(result.state, "initiated", JSON.stringify(result));
          const [cb] = await until("callback", () => {
            const got = callbacksFor(result.providerRef);
            return got.length ? got : undefined;
          });
          assert(cb.parsed.authentic);
        } finally {
          delete overrides.AIRTEL_COLLECTION_API;
        }
      });
    } finally {
      stop.abort();
      await server.finished;
    }
  },
});
