import { assert, assertEquals } from "../_shared/payments/assert.ts";
import type {
  PayoutAdapter,
  PayoutCapability,
  PayoutRequest,
  PayoutResult,
  PayoutStatusRequest,
  PayoutStatusResult,
  ProviderName,
  WalletHolderResult,
  WalletLookupRequest,
} from "../_shared/payments/mod.ts";
import { ConfigError } from "../_shared/payments/mod.ts";
import { fakeJwt, recordingRpc, type RpcCall } from "../_shared/edge/fakes.ts";
import { handlePayoutExecute, MIN_STALE_SECONDS } from "./handler.ts";

/** A payout adapter answering from a script, recording what it was asked. */
class ScriptedPayouts implements PayoutAdapter {
  readonly lookups: WalletLookupRequest[] = [];
  readonly sent: PayoutRequest[] = [];
  readonly asked: PayoutStatusRequest[] = [];
  constructor(
    readonly provider: ProviderName,
    readonly payoutCapability: PayoutCapability | null,
    private readonly script: {
      holder?: (r: WalletLookupRequest) => WalletHolderResult;
      payout?: (r: PayoutRequest) => PayoutResult;
      status?: (r: PayoutStatusRequest) => PayoutStatusResult;
    },
  ) {}

  walletHolder(request: WalletLookupRequest): Promise<WalletHolderResult> {
    this.lookups.push(request);
    return Promise.resolve(
      this.script.holder?.(request) ?? { supported: false },
    );
  }

  payout(request: PayoutRequest): Promise<PayoutResult> {
    this.sent.push(request);
    try {
      return Promise.resolve(
        this.script.payout?.(request) ?? {
          supported: true,
          method: "b2c",
          state: "paid",
          providerPayoutId: `B2C-${request.reference}`,
          raw: null,
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  payoutStatus(request: PayoutStatusRequest): Promise<PayoutStatusResult> {
    this.asked.push(request);
    return Promise.resolve(
      this.script.status?.(request) ?? { supported: false },
    );
  }
}

const B2C: PayoutCapability = {
  method: "b2c",
  statusQuery: true,
  callbacks: false,
  nameLookup: true,
};

interface Payout {
  id: string;
  status: "pending" | "processing";
  provider?: string;
  reference?: string;
  method?: string | null;
  verified?: boolean;
  claimed?: boolean;
}

/** A fake database of payouts; `names` decides record_wallet_check (the SQL's job). */
function setup(
  payouts: Payout[],
  script: ConstructorParameters<typeof ScriptedPayouts>[2] & {
    capability?: PayoutCapability | null;
    unconfigured?: boolean;
    accepts?: string;
    failOn?: string;
    /** payouts_to_execute answers no provider/reference (the SQL before issue 10). */
    bareRows?: boolean;
  } = {},
) {
  const calls: RpcCall[] = [];
  const byId = new Map(payouts.map((p) => [p.id, p]));
  const serviceRpc = recordingRpc("service", calls, {
    payouts_to_execute: () =>
      payouts.map((p) => ({
        payout_id: p.id,
        action: p.status === "pending" ? "send" : "check",
        ...(script.bareRows ? {} : {
          provider: p.provider ?? "mpesa",
          reference: p.reference ?? `WO${p.id.toUpperCase()}`,
          method: p.method ?? null,
        }),
      })),
    claim_payout: (args) => {
      const p = byId.get(String(args.p_payout_id))!;
      if (p.status !== "pending" || p.claimed === false) {
        return { claimed: false, payout_id: p.id, status: p.status };
      }
      p.status = "processing";
      return {
        claimed: true,
        payout_id: p.id,
        reference: p.reference ?? `WO${p.id.toUpperCase()}`,
        amount: 120_000,
        currency: "TZS",
        provider: p.provider ?? "mpesa",
        msisdn: "255754000777",
        wallet_verified: p.verified ?? true,
      };
    },
    record_wallet_check: (args) => {
      const name = args.p_holder_name as string | null;
      if (name !== null && name === script.accepts) {
        return { verified: true, payout_id: args.p_payout_id };
      }
      return {
        verified: false,
        payout_id: args.p_payout_id,
        reason: name === null ? "wallet_not_found" : "name_mismatch",
      };
    },
    record_payout_outcome: (args) => {
      if (script.failOn === String(args.p_payout_id)) {
        throw new Error("connection reset");
      }
      return {
        payout_id: args.p_payout_id,
        payout_status: args.p_outcome === "ambiguous"
          ? "processing"
          : args.p_outcome === "succeeded"
          ? "paid"
          : "failed",
        result: args.p_outcome === "ambiguous" ? "pending" : "applied",
      };
    },
  });
  const adapter = new ScriptedPayouts(
    "mpesa",
    script.capability === undefined ? B2C : script.capability,
    script,
  );
  const deps = {
    serviceRpc,
    adapterFor: (_p: ProviderName): PayoutAdapter => {
      if (script.unconfigured) {
        throw new ConfigError("mpesa", ["MPESA_API_KEY"]);
      }
      return adapter;
    },
    now: () => 0,
  };
  const fns = () => calls.map((c) => c.fn);
  const recorded = () =>
    calls.filter((c) => c.fn === "record_payout_outcome").map((c) => c.args);
  return { calls, deps, adapter, fns, recorded };
}

const asScheduler = (body = "{}") =>
  new Request("http://local/payout-execute", {
    method: "POST",
    headers: { Authorization: `Bearer ${fakeJwt({ role: "service_role" })}` },
    body,
  });

async function run(
  deps: Parameters<typeof handlePayoutExecute>[1],
  body?: string,
) {
  const res = await handlePayoutExecute(asScheduler(body), deps);
  assertEquals(res.status, 200);
  return await res.json();
}

Deno.test("only the service role may execute payouts; options are checked", async () => {
  const { calls, deps } = setup([]);
  for (
    const claims of [{ role: "authenticated", sub: "u" }, { role: "anon" }]
  ) {
    const res = await handlePayoutExecute(
      new Request("http://local/payout-execute", {
        method: "POST",
        headers: { Authorization: `Bearer ${fakeJwt(claims)}` },
        body: "{}",
      }),
      deps,
    );
    assertEquals(res.status, 403);
  }
  const get = await handlePayoutExecute(
    new Request("http://local/payout-execute"),
    deps,
  );
  assertEquals(get.status, 405);
  for (
    const body of [
      '{"limit": 0}',
      '{"limit": 501}',
      '{"limit": "5"}',
      `{"stale_seconds": ${MIN_STALE_SECONDS - 1}}`,
      '{"stale_seconds": 86401}',
    ]
  ) {
    const res = await handlePayoutExecute(asScheduler(body), deps);
    assertEquals(res.status, 422, body);
    assertEquals((await res.json()).error.code, "invalid_option");
  }
  for (const body of ["nope", "[]", "null"]) {
    const res = await handlePayoutExecute(asScheduler(body), deps);
    assertEquals(res.status, 400, body);
  }
  assertEquals(calls, []);
});

Deno.test("a verified wallet is paid: claim, B2C, the answer recorded", async () => {
  const { deps, adapter, fns, recorded, calls } = setup([
    { id: "p1", status: "pending", reference: "WO0000000000000000P1" },
  ]);
  const out = await run(deps, '{"limit": 20, "stale_seconds": 900}');
  assertEquals(calls[0].args, { p_limit: 20, p_stale_seconds: 900 });
  assertEquals(fns(), [
    "payouts_to_execute",
    "claim_payout",
    "record_payout_outcome",
  ]);
  assertEquals(adapter.lookups, []);
  assertEquals(adapter.sent, [{
    reference: "WO0000000000000000P1",
    amount: 120_000,
    msisdn: "255754000777",
    description: "WATS payout",
  }]);
  assertEquals(recorded(), [{
    p_payout_id: "p1",
    p_outcome: "succeeded",
    p_method: "b2c",
    p_provider_payout_id: "B2C-WO0000000000000000P1",
    p_failure_reason: null,
  }]);
  assertEquals(out.counts, { succeeded: 1 });
  assertEquals(out.results[0].payout_status, "paid");
});

Deno.test("a payout another run claimed is not sent", async () => {
  const { deps, adapter, fns } = setup([
    { id: "p1", status: "pending", claimed: false },
  ]);
  const out = await run(deps);
  assertEquals(out.results, [{
    payout_id: "p1",
    result: "not_claimed",
    payout_status: "pending",
  }]);
  assertEquals(adapter.sent, []);
  assertEquals(fns(), ["payouts_to_execute", "claim_payout"]);
});

Deno.test("an unverified wallet is looked up first; SQL compares the names", async () => {
  const matching = setup([
    { id: "p1", status: "pending", verified: false },
  ], {
    holder: () => ({
      supported: true,
      outcome: "found",
      name: "AMINA JUMA",
      raw: null,
    }),
    accepts: "AMINA JUMA",
  });
  await run(matching.deps);
  assertEquals(matching.fns(), [
    "payouts_to_execute",
    "claim_payout",
    "record_wallet_check",
    "record_payout_outcome",
  ]);
  assertEquals(matching.calls[2].args, {
    p_payout_id: "p1",
    p_holder_name: "AMINA JUMA",
  });
  assertEquals(matching.adapter.lookups, [{
    msisdn: "255754000777",
    reference: "WOP1",
    amount: 120_000,
  }]);
  assertEquals(matching.adapter.sent.length, 1);

  // another name: SQL fails the payout, nothing is sent
  const other = setup([{ id: "p2", status: "pending", verified: false }], {
    holder: () => ({
      supported: true,
      outcome: "found",
      name: "JOHN DOE",
      raw: null,
    }),
    accepts: "AMINA JUMA",
  });
  const out = await run(other.deps);
  assertEquals(out.results, [{
    payout_id: "p2",
    result: "failed",
    payout_status: "failed",
    reason: "name_mismatch",
  }]);
  assertEquals(other.adapter.sent, []);
  assertEquals(other.recorded(), []);

  // no such wallet: SQL is told so (a null name)
  const none = setup([{ id: "p3", status: "pending", verified: false }], {
    holder: () => ({ supported: true, outcome: "not_found", raw: null }),
  });
  const nothing = await run(none.deps);
  assertEquals(none.calls[2].args, { p_payout_id: "p3", p_holder_name: null });
  assertEquals(nothing.results[0].reason, "wallet_not_found");
  assertEquals(none.adapter.sent, []);
});

Deno.test("without a name lookup an unverified wallet waits for an admin: the payout fails", async () => {
  const { deps, adapter, recorded, fns } = setup([
    { id: "p1", status: "pending", verified: false },
  ], { capability: { ...B2C, nameLookup: false } });
  const out = await run(deps);
  assertEquals(adapter.sent, []);
  assertEquals(fns().includes("record_wallet_check"), false);
  assertEquals(recorded().length, 1);
  assertEquals(recorded()[0].p_outcome, "failed");
  assertEquals(recorded()[0].p_method, undefined);
  assert(
    String(recorded()[0].p_failure_reason).startsWith("wallet_unverified: "),
  );
  assertEquals(out.results[0].result, "wallet_unverified");
});

Deno.test("a lookup that learned nothing fails the payout before anything is sent", async () => {
  const { deps, adapter, recorded, fns } = setup([
    { id: "p1", status: "pending", verified: false },
  ], {
    holder: () => ({
      supported: true,
      outcome: "unavailable",
      message: "timeout after 15000 ms",
      transportError: "timeout",
      raw: null,
    }),
  });
  const out = await run(deps);
  assertEquals(adapter.sent, []);
  assertEquals(fns().includes("record_wallet_check"), false);
  assertEquals(
    recorded()[0].p_failure_reason,
    "wallet_check_unavailable: timeout after 15000 ms",
  );
  assertEquals(out.results[0].result, "wallet_check_unavailable");
});

Deno.test("refused, pending and lost answers are recorded as such; nothing is resent", async () => {
  for (
    const [answer, outcome, reason, result] of [
      [
        {
          state: "failed",
          failureReason: "insufficient_balance",
          message: "Insufficient balance",
        },
        "failed",
        "insufficient_balance: Insufficient balance",
        "failed",
      ],
      [{ state: "failed" }, "failed", "provider_error", "failed"],
      [{ state: "pending" }, "ambiguous", null, "pending"],
      [
        { state: "ambiguous", rawCode: "INS-1" },
        "ambiguous",
        "no_final_answer: INS-1",
        "pending",
      ],
    ] as Array<
      [Partial<PayoutResult>, string, string | null, string]
    >
  ) {
    const { deps, adapter, recorded } = setup(
      [{ id: "p1", status: "pending" }],
      {
        payout: () =>
          ({
            supported: true,
            method: "b2c",
            raw: null,
            ...answer,
          }) as PayoutResult,
      },
    );
    const out = await run(deps);
    assertEquals(adapter.sent.length, 1);
    assertEquals(
      [recorded()[0].p_outcome, recorded()[0].p_failure_reason],
      [outcome, reason],
    );
    assertEquals(out.results[0].result, result);
  }
});

Deno.test("a payout that cannot be sent fails, its money back, nothing sent", async () => {
  const thrown = setup([{ id: "p1", status: "pending" }], {
    payout: () => {
      throw new RangeError("payout reference must be 4-20 letters/digits");
    },
  });
  await run(thrown.deps);
  assertEquals(
    thrown.recorded()[0].p_failure_reason,
    "not_sent: payout reference must be 4-20 letters/digits",
  );
  const unconfigured = setup([{ id: "p2", status: "pending" }], {
    unconfigured: true,
  });
  await run(unconfigured.deps);
  assertEquals(
    unconfigured.recorded()[0].p_failure_reason,
    "provider_not_configured",
  );
  const noPayouts = setup([{ id: "p3", status: "pending" }], {
    capability: null,
  });
  await run(noPayouts.deps);
  assertEquals(noPayouts.adapter.sent, []);
  assert(
    String(noPayouts.recorded()[0].p_failure_reason).startsWith(
      "provider_not_configured: ",
    ),
  );
  const unknown = setup([{ id: "p4", status: "pending", provider: "paypal" }]);
  await run(unknown.deps);
  assertEquals(unknown.recorded()[0].p_failure_reason, "unknown_provider");
});

Deno.test("a stale payout is asked about by our reference and its method", async () => {
  const paid = setup([{
    id: "p1",
    status: "processing",
    reference: "WO00000000000000000A",
    method: "b2c",
  }], {
    status: () => ({
      supported: true,
      state: "paid",
      providerPayoutId: "B2C9",
      raw: null,
    }),
  });
  const out = await run(paid.deps);
  assertEquals(paid.adapter.asked, [{
    reference: "WO00000000000000000A",
    method: "b2c",
  }]);
  assertEquals(paid.adapter.sent, []);
  assertEquals(paid.recorded(), [{
    p_payout_id: "p1",
    p_outcome: "succeeded",
    p_method: "b2c",
    p_provider_payout_id: "B2C9",
    p_failure_reason: null,
  }]);
  assertEquals(out.results[0].result, "succeeded");

  // the sender died before recording: no method yet, the adapter's is recorded
  const never = setup([{ id: "p2", status: "processing", method: null }], {
    status: () => ({
      supported: true,
      state: "ambiguous",
      notFound: true,
      raw: null,
    }),
  });
  const gone = await run(never.deps);
  assertEquals(never.recorded()[0].p_outcome, "failed");
  assertEquals(never.recorded()[0].p_method, "b2c");
  assert(
    String(never.recorded()[0].p_failure_reason).startsWith(
      "not_found_at_provider",
    ),
  );
  assertEquals(gone.results[0].result, "not_found");
});

Deno.test("a check that learns nothing final keeps the payout processing and notes the time", async () => {
  for (
    const [status, result, note] of [
      [{ supported: true, state: "pending", raw: null }, "still_pending", null],
      [
        {
          supported: true,
          state: "ambiguous",
          transportError: "timeout",
          message: "no answer",
          raw: null,
        },
        "provider_unreachable",
        "no_final_answer: no answer",
      ],
      [{ supported: false }, "cannot_ask", "no_final_answer: "],
    ] as Array<[PayoutStatusResult, string, string | null]>
  ) {
    const { deps, recorded } = setup(
      [{ id: "p1", status: "processing", method: "b2c" }],
      { status: () => status },
    );
    const out = await run(deps);
    assertEquals(out.results[0].result, result);
    assertEquals(recorded().length, 1);
    assertEquals(recorded()[0].p_outcome, "ambiguous");
    assertEquals(recorded()[0].p_method, "b2c");
    if (note === null) assertEquals(recorded()[0].p_failure_reason, null);
    else assert(String(recorded()[0].p_failure_reason).startsWith(note));
  }
});

Deno.test("a check the database gives no reference for asks nobody", async () => {
  const { deps, adapter, recorded } = setup(
    [{ id: "p1", status: "processing" }],
    { bareRows: true },
  );
  const out = await run(deps);
  assertEquals(out.results, [{ payout_id: "p1", result: "cannot_ask" }]);
  assertEquals(adapter.asked, []);
  assertEquals(recorded(), []);
});

Deno.test("a database failure on one payout leaves it processing; the others go on", async () => {
  const { deps, adapter } = setup([
    { id: "p1", status: "pending" },
    { id: "p2", status: "pending" },
  ], { failOn: "p1" });
  const out = await run(deps);
  assertEquals(out.results.map((r: { result: string }) => r.result), [
    "error",
    "succeeded",
  ]);
  assertEquals(adapter.sent.length, 2);
});

Deno.test("a run that cannot list payouts answers 503 with Retry-After, no database text", async () => {
  const calls: RpcCall[] = [];
  const res = await handlePayoutExecute(asScheduler(), {
    serviceRpc: recordingRpc("service", calls, {
      payouts_to_execute: () => {
        throw new Error('relation "private.vendor_payouts" does not exist');
      },
    }),
    adapterFor: () => {
      throw new Error("unused");
    },
    now: () => 0,
  });
  assertEquals(res.status, 503);
  assert(res.headers.get("retry-after"));
  const text = await res.text();
  assertEquals(text.includes("relation"), false);
  assertEquals(text.includes("vendor_payouts"), false);
});

Deno.test("payouts past the time budget are deferred to the next run", async () => {
  const { deps, adapter } = setup([
    { id: "p1", status: "pending" },
    { id: "p2", status: "pending" },
  ]);
  let t = 0;
  const out = await run({ ...deps, now: () => (t += 30_000) });
  assertEquals(out.results.map((r: { result: string }) => r.result), [
    "succeeded",
    "deferred",
  ]);
  assertEquals(adapter.sent.length, 1);
});
