/**
 * Entry point: `createPaymentAdapter("airtel")` returns the adapter for a provider,
 * configured from environment variables (see docs/payments.md). Tests inject `env`,
 * `fetch` and `now`.
 *
 *   import { createPaymentAdapter } from "../_shared/payments/mod.ts";
 *   const adapter = createPaymentAdapter(provider);
 *   const result = await adapter.initiate({ reference, amount, currency: "TZS", msisdn });
 */
import { airtel } from "./airtel.ts";
import { clickpesa } from "./clickpesa.ts";
import { denoEnv } from "./config.ts";
import type { ProviderName } from "./contract.ts";
import { mixx } from "./mixx.ts";
import { mpesa } from "./mpesa.ts";
import { tokenCache } from "./token_cache.ts";
import type {
  AdapterDeps,
  EnvGetter,
  FetchLike,
  PaymentAdapter,
  PayoutAdapter,
  Protocol,
} from "./types.ts";

export * from "./contract.ts";
export * from "./types.ts";
export { ConfigError } from "./config.ts";
export { isCanonicalMsisdn, toCanonicalMsisdn } from "./msisdn.ts";
export { isValidReference } from "./reference.ts";
export { mixxCallbackUrl } from "./mixx.ts";
export { timingSafeEqual } from "./crypto.ts";

/**
 * The wire protocol that carries each provider's payments: the provider is what the
 * customer chooses (and the webhook's path segment), the protocol is the adapter file
 * that speaks to it. HaloPesa is reached through the ClickPesa aggregator. Another
 * product of a provider (say M-Pesa's USSD-push broker, with its own callback) is one new
 * adapter file exporting a Protocol, and its name here.
 */
export const PROTOCOLS: Readonly<Record<ProviderName, Protocol>> = {
  mpesa,
  airtel,
  mixx,
  halopesa: clickpesa,
};

export interface AdapterOptions {
  /** Environment getter; defaults to Deno.env.get. */
  env?: EnvGetter;
  /** fetch implementation; defaults to the global fetch. */
  fetch?: FetchLike;
  /** Clock in epoch ms; defaults to Date.now. */
  now?: () => number;
}

/**
 * Builds the adapter for `provider`. Throws ConfigError (naming every missing variable)
 * when the provider is not configured.
 */
export function createPaymentAdapter(
  provider: ProviderName,
  options: AdapterOptions = {},
): PaymentAdapter {
  const protocol = PROTOCOLS[provider];
  if (!protocol) {
    throw new RangeError(`unknown payment provider: ${String(provider)}`);
  }
  const deps: AdapterDeps = {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    now: options.now ?? (() => Date.now()),
  };
  return protocol.create(options.env ?? denoEnv, deps);
}

/** Forgets every cached token and session (tests; credential rotation). */
export function clearCredentialCache(): void {
  tokenCache.clear();
}

/** Whether an adapter can pay vendors (implements PayoutAdapter). */
export function isPayoutAdapter(
  adapter: PaymentAdapter,
): adapter is PaymentAdapter & PayoutAdapter {
  const a = adapter as Partial<PayoutAdapter>;
  return typeof a.payout === "function" &&
    typeof a.payoutStatus === "function" &&
    typeof a.walletHolder === "function" && "payoutCapability" in adapter;
}

/**
 * The adapter that pays vendors whose wallet is on `provider` (payout-execute). Throws
 * ConfigError when the provider is not configured; its `payoutCapability` is null when the
 * provider is configured for payments but not for payouts.
 */
export function createPayoutAdapter(
  provider: ProviderName,
  options: AdapterOptions = {},
): PayoutAdapter {
  const adapter = createPaymentAdapter(provider, options);
  if (!isPayoutAdapter(adapter)) {
    throw new RangeError(`the ${provider} adapter cannot pay vendors`);
  }
  return adapter;
}
