/**
 * End to end: the real adapters pay vendors against the Python mobile-money sandbox.
 *
 * Runs only when WATS_SANDBOX_URL and WATS_E2E_WEBHOOK_PORT are set (the pytest
 * tests/sandbox/test_deno_payouts_e2e.py starts the sandbox and sets them, with the adapter
 * variables from `ensure_credentials`). For each provider: the wallet holder's name lookup
 * (registered name, another name, no such wallet), a paid payout and its status, a refused
 * one, a lost answer the status query settles, one that never arrived; ClickPesa's PAYOUT
 * webhook, received on the webhook port and verified by the adapter.
 */
import { assert, assertEquals } from "../_shared/payments/assert.ts";
import {
  clearCredentialCache,
  createPaymentAdapter,
  createPayoutAdapter,
  type ParsedCallback,
  type PayoutAdapter,
  type ProviderName,
} from "../_shared/payments/mod.ts";

const SANDBOX = Deno.env.get("WATS_SANDBOX_URL") ?? "";
const WEBHOOK_PORT = Number(Deno.env.get("WATS_E2E_WEBHOOK_PORT") ?? "0");
const ENABLED = SANDBOX.startsWith("http://127.0.0.1") && WEBHOOK_PORT > 0;

const PREFIX: Record<ProviderName, string> = {
  mpesa: "25575",
  airtel: "25568",
  mixx: "25565",
  halopesa: "25562",
};

const wallet = (provider: ProviderName, digits: string) =>
  `${PREFIX[provider]}00077${digits}`;

function reference(tag: string): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  return "WO" +
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")
      .toUpperCase() +
    tag;
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

async function paidOut(ref: string): Promise<Array<[string, number, string]>> {
  const rows = await sandbox(`/_sandbox/payouts?reference=${ref}`) as Array<
    { method: string; amount: number; status: string }
  >;
  return rows.map((r) => [r.method, r.amount, r.status]);
}

const SANDBOX_METHOD: Record<ProviderName, string> = {
  mpesa: "b2c",
  airtel: "disbursement",
  mixx: "b2c",
  halopesa: "payout",
};

Deno.test({
  name: "payout adapters against the sandbox: lookup → payout → status",
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
        duplicate_count: 3,
        duplicate_interval_s: 0.05,
        callback_retries: 0,
      }),
    });
    const seen: ParsedCallback[] = [];
    const stop = new AbortController();
    const server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: WEBHOOK_PORT,
        signal: stop.signal,
        onListen: () => {},
      },
      async (request, info) => {
        const adapter = createPaymentAdapter("halopesa");
        const parsed = await adapter.verifyAndParseCallback({
          headers: request.headers,
          rawBody: await request.text(),
          url: request.url,
          sourceIp: info.remoteAddr.hostname,
        });
        seen.push(parsed);
        return adapter.acknowledge(
          parsed,
          parsed.authentic ? "accepted" : "unauthentic",
        );
      },
    );

    try {
      for (const provider of ["mpesa", "airtel", "mixx", "halopesa"] as const) {
        const adapter: PayoutAdapter = createPayoutAdapter(provider);
        const capability = adapter.payoutCapability;
        assert(capability, `${provider} is configured for payouts`);
        const method = capability.method;

        await t.step(`${provider}: whose wallet is it`, async () => {
          const mine = wallet(provider, "01");
          await sandbox(`/_sandbox/wallets/${mine}`, {
            method: "PUT",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: "Zawadi Ally Mrema" }),
          });
          const lookup = (digits: string) =>
            adapter.walletHolder({
              msisdn: wallet(provider, digits),
              reference: reference("L" + digits),
              amount: 50_000,
            });
          const found = await lookup("01");
          if (!capability.nameLookup) {
            assertEquals(found, { supported: false });
            return;
          }
          assert(found.supported);
          assertEquals([found.outcome, found.name], [
            "found",
            "Zawadi Ally Mrema",
          ]);
          const other = await lookup("85");
          assert(other.supported);
          assertEquals([other.outcome, other.name], [
            "found",
            "Mwajuma Selemani Kiwelu",
          ]);
          const none = await lookup("87");
          assert(none.supported);
          assertEquals(none.outcome, "not_found");
        });

        await t.step(`${provider}: paid once, by our reference`, async () => {
          const ref = reference("P1");
          const sent = await adapter.payout({
            reference: ref,
            amount: 50_000,
            msisdn: wallet(provider, "01"),
            description: "WATS payout",
          });
          assert(sent.supported);
          assertEquals(sent.method, method);
          if (provider === "halopesa") {
            assertEquals(sent.state, "pending"); // AUTHORIZED; the webhook says paid
            const event = await until(
              "the PAYOUT webhook",
              () => seen.find((e) => e.providerRef === ref),
            );
            assert(event.authentic, JSON.stringify(event));
            assertEquals([event.subject, event.state], ["refund", "succeeded"]);
          } else {
            assertEquals(sent.state, "paid", JSON.stringify(sent));
            assert(sent.providerPayoutId);
          }
          if (capability.statusQuery) {
            const status = await until("paid", async () => {
              const s = await adapter.payoutStatus({ reference: ref, method });
              return s.supported && s.state === "paid" ? s : undefined;
            });
            assert(status.supported);
          }
          // sent again by mistake: the provider refuses the reference, nothing more is paid
          const again = await adapter.payout({
            reference: ref,
            amount: 50_000,
            msisdn: wallet(provider, "01"),
          });
          assert(again.supported);
          assert(again.state !== "paid", JSON.stringify(again));
          assertEquals(await paidOut(ref), [[
            SANDBOX_METHOD[provider],
            50_000,
            "paid",
          ]]);
        });

        await t.step(`${provider}: a wallet that cannot receive`, async () => {
          const sent = await adapter.payout({
            reference: reference("R2"),
            amount: 50_000,
            msisdn: wallet(provider, "82"),
          });
          assert(sent.supported);
          assertEquals([sent.state, sent.failureReason], [
            "failed",
            "payee_refused",
          ]);
        });

        await t.step(`${provider}: a lost answer, then the truth`, async () => {
          const ref = reference("A3");
          const sent = await adapter.payout({
            reference: ref,
            amount: 50_000,
            msisdn: wallet(provider, "83"),
          });
          assert(sent.supported);
          assertEquals(sent.state, "ambiguous", JSON.stringify(sent));
          if (capability.statusQuery) {
            const status = await adapter.payoutStatus({
              reference: ref,
              method,
            });
            assert(status.supported);
            assertEquals(status.state, "paid");
          } else {
            assertEquals(
              await adapter.payoutStatus({ reference: ref, method }),
              { supported: false },
            );
          }
          assertEquals((await paidOut(ref)).map((p) => p[2]), ["paid"]);
        });

        await t.step(`${provider}: a payout that never arrived`, async () => {
          const ref = reference("N4");
          const sent = await adapter.payout({
            reference: ref,
            amount: 50_000,
            msisdn: wallet(provider, "84"),
          });
          assert(sent.supported);
          assertEquals(sent.state, "ambiguous");
          if (capability.statusQuery) {
            const status = await adapter.payoutStatus({
              reference: ref,
              method: null,
            });
            assert(status.supported);
            assertEquals(status.notFound, true, JSON.stringify(status));
          }
          assertEquals((await paidOut(ref)).map((p) => p[2]), ["lost"]);
        });
      }
    } finally {
      stop.abort();
      await server.finished;
    }
  },
});
