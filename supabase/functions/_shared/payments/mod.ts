/**
 * Entry point: `createPaymentAdapter("airtel")` returns the adapter for a provider,
 * configured from environment variables (see docs/payments.md). Tests inject `env`,
 * `fetch` and `now`.
 *
 *   import { createPaymentAdapter } from "../_shared/payments/mod.ts";
 *   const adapter = createPaymentAdapter(provider);
 *   const result = await adapter.initiate({ reference, amount, currency: "TZS", msisdn });
 */
import { AirtelAdapter } from "./airtel.ts";
import {
  airtelConfig,
  clickPesaConfig,
  denoEnv,
  mixxConfig,
  mpesaConfig,
} from "./config.ts";
import { HaloPesaAdapter } from "./halopesa.ts";
import { MixxAdapter } from "./mixx.ts";
import { MpesaAdapter } from "./mpesa.ts";
import { tokenCache } from "./token_cache.ts";
import {
  type AdapterDeps,
  type EnvGetter,
  type FetchLike,
  type PaymentAdapter,
  type ProviderName,
  PROVIDERS,
} from "./types.ts";

export * from "./types.ts";
export { ConfigError } from "./config.ts";
export { isCanonicalMsisdn, toCanonicalMsisdn } from "./msisdn.ts";
export { isValidReference, referenceFromPaymentId } from "./reference.ts";
export { mixxCallbackUrl } from "./mixx.ts";
export { timingSafeEqual } from "./crypto.ts";

export interface AdapterOptions {
  /** Environment getter; defaults to Deno.env.get. */
  env?: EnvGetter;
  /** fetch implementation; defaults to the global fetch. */
  fetch?: FetchLike;
  /** Clock in epoch ms; defaults to Date.now. */
  now?: () => number;
}

export function isProviderName(value: unknown): value is ProviderName {
  return typeof value === "string" &&
    (PROVIDERS as readonly string[]).includes(value);
}

/**
 * Builds the adapter for `provider`. Throws ConfigError (naming every missing variable)
 * when the provider is not configured.
 */
export function createPaymentAdapter(
  provider: ProviderName,
  options: AdapterOptions = {},
): PaymentAdapter {
  const env = options.env ?? denoEnv;
  const deps: AdapterDeps = {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    now: options.now ?? (() => Date.now()),
  };
  switch (provider) {
    case "mpesa":
      return new MpesaAdapter(mpesaConfig(env), deps);
    case "airtel":
      return new AirtelAdapter(airtelConfig(env), deps);
    case "mixx":
      return new MixxAdapter(mixxConfig(env), deps);
    case "halopesa":
      return new HaloPesaAdapter(clickPesaConfig(env), deps);
    default:
      throw new RangeError(`unknown payment provider: ${String(provider)}`);
  }
}

/** Forgets every cached token and session (tests; credential rotation). */
export function clearCredentialCache(): void {
  tokenCache.clear();
}
