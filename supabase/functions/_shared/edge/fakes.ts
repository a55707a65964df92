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
  RefundResult,
  StatusResult,
} from "../payments/mod.ts";
import type { Rpc } from "./db.ts";
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

export class ScriptedAdapter implements PaymentAdapter {
  readonly initiated: PaymentRequest[] = [];
  readonly queried: string[] = [];
  constructor(
    readonly provider: ProviderName,
    readonly capabilities: Capabilities,
    private readonly script: {
      initiate?: (p: PaymentRequest) => InitiateResult;
      callback?: (input: CallbackInput) => ParsedCallback;
      status?: (ref: string) => StatusResult;
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

  refund(): Promise<RefundResult> {
    return Promise.resolve({ supported: false });
  }
}

export const ASYNC_HMAC: Capabilities = {
  mode: "async",
  callbackAuth: "hmac",
  statusQuery: true,
  refund: false,
};

export const SYNC_NO_CALLBACK: Capabilities = {
  mode: "sync",
  callbackAuth: "none",
  statusQuery: true,
  refund: true,
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
