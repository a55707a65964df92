/**
 * The one HTTP client of the provider adapters. It owns everything that is not a
 * provider's wire protocol:
 *
 * - the credential (token or session): fetched once, cached in module scope until shortly
 *   before it expires, one fetch shared by concurrent callers, retried once on a timeout
 *   or a 5xx (asking for a credential cannot move money);
 * - every call bounded by a timeout (`pushTimeoutMs` for a push, `httpTimeoutMs` for the
 *   rest);
 * - retries only where they cannot double-charge: a status query is retried once on a
 *   timeout or a 5xx, a push or a refund never is;
 * - calls of products authenticated by what the body carries (Mixx's B2C PIN) need no
 *   credential at all (`credential` left out);
 * - a 401 drops the credential and sends once more with a fresh one, whatever the call: a
 *   401 is refused before processing, so nothing moved;
 * - failures mapped into results: no credential → the push `failed` (it was never sent),
 *   no reply → `ambiguous` (it may have been received), a status query that could not be
 *   asked → `ambiguous` with `transportError` (nothing learned).
 *
 * An adapter describes its provider: how to ask for a credential and read the answer
 * (`CredentialSpec`), which headers an authenticated call carries (`authorize`), what each
 * call sends and how to read its reply.
 */
import {
  httpRequest,
  type HttpResult,
  obj,
  str,
  TransportError,
  withRetry,
} from "./http.ts";
import {
  type CachedToken,
  expiryAt,
  lifetimeMs,
  tokenCache,
} from "./token_cache.ts";
import { isCanonicalMsisdn } from "./msisdn.ts";
import { isValidReference } from "./reference.ts";
import type {
  AdapterDeps,
  InitiateResult,
  PaymentRequest,
  RefundMethod,
  RefundResult,
  RefundStatusResult,
  StatusResult,
} from "./types.ts";

/** We could not authenticate (credential refused or unreachable): nothing was sent. */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthError";
  }
}

/** One request: `path` is appended to the client's `baseUrl`, or is a whole URL. */
export interface ProviderRequest {
  method: "GET" | "POST" | "PUT";
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as it is (a form, say). */
  body?: string;
}

/** A credential and when to stop using it, or what the provider said when it refused. */
export type Grant = CachedToken | { refused: string };

/** How a provider hands out credentials. */
export interface CredentialSpec {
  /** Names the credential in errors: "Airtel token", "getSession". */
  name: string;
  /** One credential per provider endpoint and account. */
  cacheKey: string;
  request(): ProviderRequest;
  /** Reads the provider's answer at `now` (epoch ms). */
  read(reply: HttpResult, now: number): Grant;
}

export interface ProviderClientOptions {
  /** Prepended to relative request paths. */
  baseUrl?: string;
  /** How to get a token or session; left out when calls carry their own proof (a PIN in
   * the body): they are then sent without one, and a 401 is an answer like any other. */
  credential?: CredentialSpec;
  /** The headers of an authenticated call carrying `credential`. */
  authorize?(credential: string): Record<string, string>;
  /** Credential, status-query and refund calls. */
  httpTimeoutMs: number;
  /** Push calls. */
  pushTimeoutMs: number;
}

/** What a call does decides its timeout and whether it may be repeated: a `status` call
 * (a status query, a payout preview: nothing moves) may be; a push or a refund never. */
export type CallKind = "push" | "status" | "refund";

type Reader<T> = (reply: HttpResult) => T | Promise<T>;

/** A call's reply, or why there is none: no credential (nothing was sent) or no answer. */
export type Attempt =
  | { reply: HttpResult }
  | { error: AuthError | TransportError };

export class ProviderClient {
  constructor(
    private readonly options: ProviderClientOptions,
    private readonly deps: AdapterDeps,
  ) {}

  /** The cached credential, fetched when missing or about to expire. Throws AuthError. */
  credential(): Promise<string> {
    const spec = this.options.credential;
    if (!spec) return Promise.reject(new AuthError("no credential configured"));
    return tokenCache.get(spec.cacheKey, this.deps.now, async () => {
      let reply: HttpResult;
      try {
        reply = await withRetry(() =>
          this.exchange(spec.request(), this.options.httpTimeoutMs)
        );
      } catch (error) {
        if (error instanceof TransportError) {
          throw new AuthError(`${spec.name} failed: ${error.message}`);
        }
        throw error;
      }
      const grant = spec.read(reply, this.deps.now());
      if ("refused" in grant) {
        throw new AuthError(
          `${spec.name} refused: HTTP ${reply.status} ${grant.refused}`.trim(),
        );
      }
      return grant;
    });
  }

  /**
   * One authenticated call, its reply whatever the HTTP status. Throws AuthError (no
   * credential: nothing was sent) or TransportError (no reply).
   */
  async call(kind: CallKind, request: ProviderRequest): Promise<HttpResult> {
    const timeoutMs = kind === "push"
      ? this.options.pushTimeoutMs
      : this.options.httpTimeoutMs;
    const send = (credential: string | null) => {
      const once = () =>
        this.exchange({
          ...request,
          headers: {
            ...(credential === null
              ? {}
              : this.options.authorize?.(credential) ?? {}),
            ...request.headers,
          },
        }, timeoutMs);
      return kind === "status" ? withRetry(once) : once();
    };
    const spec = this.options.credential;
    if (!spec) return await send(null);
    const credential = await this.credential();
    const first = await send(credential);
    if (first.status !== 401) return first;
    tokenCache.invalidate(spec.cacheKey, credential);
    return await send(await this.credential());
  }

  /** `call`, with the reasons for having no reply returned rather than thrown. */
  async attempt(kind: CallKind, request: ProviderRequest): Promise<Attempt> {
    try {
      return { reply: await this.call(kind, request) };
    } catch (error) {
      if (error instanceof AuthError || error instanceof TransportError) {
        return { error };
      }
      throw error;
    }
  }

  /**
   * Sends the push prompt of `payment`, built by `build`; `read` interprets the reply. A
   * malformed payment request throws (a bug of ours); a phone that is not canonical
   * fails at once, before anything is sent.
   */
  async push(
    payment: PaymentRequest,
    build: () => ProviderRequest | Promise<ProviderRequest>,
    read: Reader<InitiateResult>,
  ): Promise<InitiateResult> {
    assertPayment(payment);
    const providerRef = payment.reference;
    if (!isCanonicalMsisdn(payment.msisdn)) {
      return {
        state: "failed",
        providerRef,
        failureReason: "invalid_msisdn",
        message: "msisdn is not 255 + 9 digits; nothing was sent",
        raw: null,
      };
    }
    let reply: HttpResult;
    try {
      reply = await this.call("push", await build());
    } catch (error) {
      if (error instanceof AuthError) {
        return {
          state: "failed",
          providerRef,
          failureReason: "provider_error",
          message: error.message + "; the push was not sent",
          raw: null,
        };
      }
      if (error instanceof TransportError) {
        return {
          state: "ambiguous",
          providerRef,
          message: error.message,
          transportError: error.kind,
          raw: null,
        };
      }
      throw error;
    }
    return await read(reply);
  }

  /** Asks for a payment's status; `read` interprets the reply. */
  async status(
    request: ProviderRequest,
    read: Reader<StatusResult>,
  ): Promise<StatusResult> {
    let reply: HttpResult;
    try {
      reply = await this.call("status", request);
    } catch (error) {
      if (error instanceof AuthError || error instanceof TransportError) {
        return {
          supported: true,
          state: "ambiguous",
          transportError: error instanceof TransportError
            ? error.kind
            : "provider_unavailable",
          message: error.message,
          raw: null,
        };
      }
      throw error;
    }
    return await read(reply);
  }

  /**
   * Sends a refund by `method`; `read` interprets the reply. No credential → failed
   * (nothing was sent); no reply → ambiguous (it may have been received: ask later by our
   * reference, never resend).
   */
  async refund(
    method: RefundMethod,
    request:
      | ProviderRequest
      | (() => ProviderRequest | Promise<ProviderRequest>),
    read: Reader<RefundResult>,
  ): Promise<RefundResult> {
    const built = typeof request === "function" ? await request() : request;
    const sent = await this.attempt("refund", built);
    if ("reply" in sent) {
      try {
        return await read(sent.reply);
      } catch (error) {
        // an answer arrived that we could not read: the money may have moved
        return {
          supported: true,
          method,
          state: "ambiguous",
          rawCode: `HTTP ${sent.reply.status}`,
          message: `unreadable reply: ${
            error instanceof Error ? error.message : String(error)
          }`,
          raw: sent.reply.raw,
        };
      }
    }
    return sent.error instanceof AuthError
      ? {
        supported: true,
        method,
        state: "failed",
        failureReason: "no_credentials",
        message: sent.error.message + "; the refund was not sent",
        raw: null,
      }
      : {
        supported: true,
        method,
        state: "ambiguous",
        transportError: sent.error.kind,
        message: sent.error.message,
        raw: null,
      };
  }

  /** Asks about a refund sent earlier; `read` interprets the reply. No credential or no
   * reply: nothing was learned (ambiguous with `transportError`). */
  async refundStatus(
    request: ProviderRequest,
    read: Reader<RefundStatusResult>,
  ): Promise<RefundStatusResult> {
    const asked = await this.attempt("status", request);
    if ("reply" in asked) return await read(asked.reply);
    return {
      supported: true,
      state: "ambiguous",
      transportError: asked.error instanceof TransportError
        ? asked.error.kind
        : "provider_unavailable",
      message: asked.error.message,
      raw: null,
    };
  }

  private exchange(
    request: ProviderRequest,
    timeoutMs: number,
  ): Promise<HttpResult> {
    const url = /^https?:\/\//.test(request.path)
      ? request.path
      : `${this.options.baseUrl ?? ""}${request.path}`;
    return httpRequest(this.deps.fetch, url, {
      method: request.method,
      headers: request.headers,
      body: request.json === undefined
        ? request.body
        : JSON.stringify(request.json),
    }, timeoutMs);
  }
}

/**
 * Reads an OAuth2 token answer (RFC 6749 §5): `access_token` with `expires_in` seconds (a
 * number or a numeric string; `fallbackSeconds` when absent), or the `error_description` /
 * `error` of a refusal.
 */
export function oauthGrant(
  reply: HttpResult,
  now: number,
  fallbackSeconds: number,
): Grant {
  const body = obj(reply.json);
  const token = str(body.access_token);
  if (reply.status !== 200 || !token) {
    return { refused: str(body.error_description) ?? str(body.error) ?? "" };
  }
  return {
    value: token,
    expiresAt: expiryAt(now, lifetimeMs(body.expires_in, fallbackSeconds)),
  };
}

/** Programming errors (not customer errors) in a payment request throw. */
function assertPayment(payment: PaymentRequest): void {
  if (!isValidReference(payment.reference)) {
    throw new RangeError(
      "payment reference must be 4-20 letters/digits (contract.ts)",
    );
  }
  if (!Number.isSafeInteger(payment.amount) || payment.amount <= 0) {
    throw new RangeError("amount must be a positive whole number of TZS");
  }
  if (payment.currency !== "TZS") {
    throw new RangeError("only TZS is supported");
  }
}
