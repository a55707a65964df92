/**
 * Test doubles for the Edge Function handlers: a recording RPC and a scripted adapter.
 * Only the handler tests import this file.
 */
import type {
  AckOutcome,
  CallbackInput,
  Capabilities,
  InitiateResult,
  ParsedCallback,
  PaymentAdapter,
  PaymentRequest,
  ProviderName,
  RefundRequest,
  RefundResult,
  RefundStatusRequest,
  RefundStatusResult,
  StatusResult,
} from "../payments/mod.ts";
import type { Rpc, Select } from "./db.ts";
import type { RpcName } from "./rpc.ts";

/** One call the handler made: as whom, which SQL function, the arguments as sent. */
export interface RpcCall {
  as: string;
  fn: string;
  args: Record<string, unknown>;
}

/** Answers of the fake database, by SQL function (the names of rpc.ts). */
export type RpcAnswers = Partial<
  Record<RpcName, (args: Record<string, unknown>) => unknown>
>;

/** The transport rpc.ts calls through, faked: records each call (SQL function name and
 * arguments as the Data API would receive them) and answers from `answers`. */
export function recordingRpc(
  as: string,
  calls: RpcCall[],
  answers: RpcAnswers,
): Rpc {
  return (fn, args) => {
    calls.push({ as, fn, args });
    const answer = answers[fn as RpcName];
    if (!answer) return Promise.reject(new Error(`unexpected rpc ${fn}`));
    try {
      return Promise.resolve(answer(args));
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/** A table read, faked: records each read and answers from `rows` (by table). */
export function recordingSelect(
  calls: RpcCall[],
  rows: Record<string, (match: Record<string, string>) => unknown[]>,
): Select {
  return (table, columns, match) => {
    calls.push({
      as: "service",
      fn: `select ${table}`,
      args: { columns, ...match },
    });
    const answer = rows[table];
    if (!answer) {
      return Promise.reject(new Error(`unexpected read of ${table}`));
    }
    return Promise.resolve(answer(match) as Record<string, unknown>[]);
  };
}

export class ScriptedAdapter implements PaymentAdapter {
  readonly initiated: PaymentRequest[] = [];
  readonly queried: string[] = [];
  readonly refunds: RefundRequest[] = [];
  readonly refundQueries: RefundStatusRequest[] = [];
  constructor(
    readonly provider: ProviderName,
    readonly capabilities: Capabilities,
    private readonly script: {
      initiate?: (p: PaymentRequest) => InitiateResult;
      callback?: (input: CallbackInput) => ParsedCallback;
      status?: (ref: string) => StatusResult;
      refund?: (r: RefundRequest) => RefundResult | Promise<RefundResult>;
      refundStatus?: (r: RefundStatusRequest) => RefundStatusResult;
    },
  ) {}

  initiate(payment: PaymentRequest): Promise<InitiateResult> {
    this.initiated.push(payment);
    const answer = this.script.initiate?.(payment) ??
      { state: "initiated", providerRef: payment.reference, raw: null };
    return Promise.resolve(answer);
  }

  verifyAndParseCallback(input: CallbackInput): Promise<ParsedCallback> {
    if (!this.script.callback) throw new Error("no callback script");
    return Promise.resolve(this.script.callback(input));
  }

  acknowledge(_parsed: ParsedCallback | null, outcome: AckOutcome): Response {
    const status =
      { accepted: 200, unauthentic: 401, invalid: 400, error: 503 }[outcome];
    return new Response(JSON.stringify({ outcome }), { status });
  }

  queryStatus(ref: string): Promise<StatusResult> {
    this.queried.push(ref);
    return Promise.resolve(this.script.status?.(ref) ?? { supported: false });
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    this.refunds.push(request);
    return await (this.script.refund?.(request) ?? { supported: false });
  }

  refundStatus(request: RefundStatusRequest): Promise<RefundStatusResult> {
    this.refundQueries.push(request);
    return Promise.resolve(
      this.script.refundStatus?.(request) ?? { supported: false },
    );
  }
}

export const ASYNC_HMAC: Capabilities = {
  mode: "async",
  callbackAuth: "hmac",
  statusQuery: true,
  refund: {
    whole: "payout",
    partial: "payout",
    statusQuery: ["payout"],
    callbacks: true,
  },
};

export const SYNC_NO_CALLBACK: Capabilities = {
  mode: "sync",
  callbackAuth: "none",
  statusQuery: true,
  refund: {
    whole: "reversal",
    partial: "reversal",
    statusQuery: ["reversal"],
    callbacks: false,
  },
};

/** An unsigned JWT with the given claims (handlers only read claims; the gateway verifies). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) =>
    btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(
      /\//g,
      "_",
    );
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}
