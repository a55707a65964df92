import { assert, assertEquals } from "../_shared/payments/assert.ts";
import { fakeJwt } from "../_shared/edge/fakes.ts";
import type { Rpc } from "../_shared/edge/db.ts";
import type {
  PushMessage,
  PushResult,
  PushService,
  PushTarget,
  Receipt,
} from "../_shared/notify/expo.ts";
import type { ClaimedDelivery } from "../_shared/notify/rpc.ts";
import type {
  SmsGateway,
  SmsRequest,
  SmsResult,
} from "../_shared/notify/sms.ts";
import { handleNotifyDispatch } from "./handler.ts";

interface Call {
  fn: string;
  args: Record<string, unknown>;
}

function delivery(
  over:
    & Partial<ClaimedDelivery>
    & Pick<ClaimedDelivery, "delivery_id" | "channel">,
): ClaimedDelivery {
  return {
    claim_id: `c-${over.delivery_id}`,
    purpose: "service",
    attempt: 1,
    notification_id: `n-${over.delivery_id}`,
    type: "order_paid",
    language: "sw",
    title: "Malipo yamepokelewa",
    body: "Tumepokea TZS 12,000.",
    data: { type: "order_paid" },
    sms_text: over.channel === "sms" ? "WATS: Malipo yamepokelewa." : null,
    phone: over.channel === "sms" ? "255711000001" : null,
    devices: over.channel === "push"
      ? [{ device_id: "d1", token: "ExponentPushToken[x]" }]
      : null,
    ...over,
  };
}

/** A fake database: hands out `batches` one claim at a time, records every call. */
function database(
  batches: ClaimedDelivery[][],
  extra: Record<string, (args: Record<string, unknown>) => unknown> = {},
) {
  const calls: Call[] = [];
  const rpc: Rpc = (fn, args) => {
    calls.push({ fn, args });
    if (fn === "claim_notification_deliveries") {
      return Promise.resolve(batches.shift() ?? []);
    }
    if (fn === "record_notification_delivery") {
      const answer = extra[fn]?.(args) ?? {
        recorded: true,
        status: args.p_outcome === "sent" ? "sent" : "pending",
      };
      return answer instanceof Error
        ? Promise.reject(answer)
        : Promise.resolve(answer);
    }
    if (fn === "push_receipts_to_check") {
      return Promise.resolve(extra[fn]?.(args) ?? []);
    }
    if (fn === "record_push_receipts") {
      return Promise.resolve({ recorded: true, disabled_devices: 1 });
    }
    return Promise.reject(new Error(`unexpected rpc ${fn}`));
  };
  return { rpc, calls };
}

class FakeSms implements SmsGateway {
  readonly name = "fake";
  readonly sent: SmsRequest[] = [];
  constructor(private readonly answer: SmsResult) {}
  send(request: SmsRequest): Promise<SmsResult> {
    this.sent.push(request);
    return Promise.resolve(this.answer);
  }
}

class FakePush implements PushService {
  readonly sent: { targets: PushTarget[]; message: PushMessage }[] = [];
  constructor(
    private readonly answer: PushResult,
    private readonly receiptAnswers: Record<string, Receipt> = {},
  ) {}
  send(targets: PushTarget[], message: PushMessage): Promise<PushResult> {
    this.sent.push({ targets, message });
    return Promise.resolve(this.answer);
  }
  receipts(): Promise<Record<string, Receipt>> {
    return Promise.resolve(this.receiptAnswers);
  }
}

const SERVICE = `Bearer ${fakeJwt({ role: "service_role" })}`;

function post(auth = SERVICE, body = "{}"): Request {
  return new Request("http://local/notify-dispatch", {
    method: "POST",
    headers: { Authorization: auth },
    body,
  });
}

Deno.test("notify-dispatch: only the service role runs it", async () => {
  const db = database([]);
  const res = await handleNotifyDispatch(
    post(`Bearer ${fakeJwt({ role: "authenticated" })}`),
    {
      serviceRpc: db.rpc,
      sms: () => new FakeSms({ outcome: "sent" }),
      push: () =>
        new FakePush({ outcome: "sent", tickets: {}, unregistered: [] }),
      now: () => 0,
    },
  );
  assertEquals(res.status, 403);
  assertEquals(db.calls, []);
});

Deno.test("notify-dispatch: each claimed send goes out once and its answer is recorded", async () => {
  const db = database([[
    delivery({ delivery_id: "s1", channel: "sms" }),
    delivery({ delivery_id: "p1", channel: "push", purpose: "marketing" }),
  ]]);
  const sms = new FakeSms({ outcome: "sent", providerMessageId: "4001" });
  const push = new FakePush({
    outcome: "sent",
    tickets: { d1: "t1" },
    unregistered: [],
  });
  const res = await handleNotifyDispatch(post(), {
    serviceRpc: db.rpc,
    sms: () => sms,
    push: () => push,
    now: () => 0,
  });
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals(body.claimed, 2);
  assertEquals(body.counts, { sent: 2 });
  assertEquals(sms.sent, [{
    to: "255711000001",
    text: "WATS: Malipo yamepokelewa.",
    reference: "s1",
  }]);
  assertEquals(push.sent[0].message.priority, "normal");
  assertEquals(push.sent[0].targets, [{
    deviceId: "d1",
    token: "ExponentPushToken[x]",
  }]);
  const records = db.calls.filter((c) =>
    c.fn === "record_notification_delivery"
  );
  assertEquals(
    records.map((c) => c.args).sort((a, b) =>
      String(a.p_delivery_id).localeCompare(String(b.p_delivery_id))
    ),
    [
      {
        p_delivery_id: "p1",
        p_claim_id: "c-p1",
        p_outcome: "sent",
        p_tickets: { d1: "t1" },
      },
      {
        p_delivery_id: "s1",
        p_claim_id: "c-s1",
        p_outcome: "sent",
        p_provider_message_id: "4001",
      },
    ],
  );
});

Deno.test("notify-dispatch: nothing to reach, an unconfigured gateway, a lost answer", async () => {
  const db = database([[
    delivery({ delivery_id: "p0", channel: "push", devices: [] }),
    delivery({ delivery_id: "s0", channel: "sms" }),
    delivery({ delivery_id: "p2", channel: "push" }),
  ]]);
  const res = await handleNotifyDispatch(post(), {
    serviceRpc: db.rpc,
    sms: () => {
      throw new Error("SMS gateway not configured");
    },
    push: () =>
      new FakePush({
        outcome: "unknown",
        tickets: {},
        unregistered: [],
        error: "no answer",
      }),
    now: () => 0,
  });
  assertEquals(res.status, 200);
  const outcomes = Object.fromEntries(
    db.calls.filter((c) => c.fn === "record_notification_delivery").map((
      c,
    ) => [c.args.p_delivery_id, [c.args.p_outcome, c.args.p_error]]),
  );
  assertEquals(outcomes, {
    p0: ["nothing_to_send", "no_device"],
    s0: ["retry", "sms_not_configured"],
    p2: ["unknown", "no answer"],
  });
});

Deno.test("notify-dispatch: an answer that cannot be recorded leaves the claim (no 500, no resend)", async () => {
  const db = database([[delivery({ delivery_id: "s1", channel: "sms" })]], {
    record_notification_delivery: () => new Error("503"),
  });
  const sms = new FakeSms({ outcome: "sent" });
  const res = await handleNotifyDispatch(post(), {
    serviceRpc: db.rpc,
    sms: () => sms,
    push: () =>
      new FakePush({ outcome: "sent", tickets: {}, unregistered: [] }),
    now: () => 0,
  });
  assertEquals(res.status, 200);
  const body = await res.json();
  assertEquals(body.results[0].recorded, false);
  assertEquals(sms.sent.length, 1);
});

Deno.test("notify-dispatch: full batches are drained; receipts disable gone devices", async () => {
  const full = [delivery({ delivery_id: "s1", channel: "sms" })];
  const db = database([full, []], {
    push_receipts_to_check:
      () => [{ delivery_id: "old", tickets: { d7: "t7", d8: "t8" } }],
  });
  const res = await handleNotifyDispatch(
    post(undefined, JSON.stringify({ limit: 1 })),
    {
      serviceRpc: db.rpc,
      sms: () => new FakeSms({ outcome: "sent" }),
      push: () =>
        new FakePush({ outcome: "sent", tickets: {}, unregistered: [] }, {
          t7: { status: "error", error: "DeviceNotRegistered" },
          t8: { status: "ok" },
        }),
      now: () => 0,
    },
  );
  const body = await res.json();
  assertEquals(body.rounds, 2);
  assertEquals(body.receipts, { checked: 1, disabled_devices: 1 });
  const receipts = db.calls.find((c) => c.fn === "record_push_receipts");
  assert(receipts);
  assertEquals(receipts.args, {
    p_delivery_id: "old",
    p_unregistered_devices: ["d7"],
  });
});

Deno.test("notify-dispatch: bad options are refused, a database failure is a 503", async () => {
  const db = database([]);
  const deps = {
    serviceRpc: db.rpc,
    sms: () => new FakeSms({ outcome: "sent" }),
    push: () =>
      new FakePush({ outcome: "sent", tickets: {}, unregistered: [] }),
    now: () => 0,
  };
  assertEquals(
    (await handleNotifyDispatch(post(undefined, "{"), deps)).status,
    400,
  );
  assertEquals(
    (await handleNotifyDispatch(
      post(undefined, JSON.stringify({ limit: 0 })),
      deps,
    )).status,
    422,
  );
  const broken = await handleNotifyDispatch(post(), {
    ...deps,
    serviceRpc: () => Promise.reject(new Error("database down")),
  });
  assertEquals(broken.status, 503);
  assertEquals(broken.headers.get("Retry-After"), "2");
});
