/**
 * Provider configuration, read only from environment variables (through an injectable
 * getter). Going live is configuration only: every URL is a variable. The variables are
 * listed in .env.example and docs/payments.md.
 */
import type { ProviderName } from "./contract.ts";
import type { EnvGetter } from "./types.ts";

export class ConfigError extends Error {
  constructor(readonly provider: ProviderName, readonly missing: string[]) {
    super(
      `payment provider ${provider} is not configured: missing or invalid ${
        missing.join(", ")
      }`,
    );
    this.name = "ConfigError";
  }
}

/** The default getter: the process environment (Supabase injects secrets there). */
export const denoEnv: EnvGetter = (name) => Deno.env.get(name);

function isHttpUrl(value: string): boolean {
  try {
    const parsed = new URL(value);
    return parsed.protocol === "https:" || parsed.protocol === "http:";
  } catch {
    return false;
  }
}

/** Reads one adapter's variables, collecting every missing or invalid one (`done` throws
 * ConfigError naming them all). */
export class Reader {
  readonly missing: string[] = [];
  constructor(private readonly env: EnvGetter) {}

  required(name: string): string {
    const value = this.env(name)?.trim();
    if (!value) {
      this.missing.push(name);
      return "";
    }
    return value;
  }

  optional(name: string, fallback: string): string {
    const value = this.env(name)?.trim();
    return value ? value : fallback;
  }

  url(name: string): string {
    const value = this.required(name);
    if (!value) return "";
    if (!isHttpUrl(value)) {
      this.missing.push(name);
      return "";
    }
    return value.replace(/\/+$/, "");
  }

  millis(name: string, fallback: number): number {
    const raw = this.env(name)?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) {
      this.missing.push(name);
      return fallback;
    }
    return value;
  }

  /**
   * A group of variables that is optional as a whole: all set → their values; none set →
   * null (the feature is off); some set → the missing ones are reported.
   */
  group<K extends string>(names: Record<K, string>): Record<K, string> | null {
    const values = {} as Record<K, string>;
    const missing: string[] = [];
    for (const [key, name] of Object.entries(names) as Array<[K, string]>) {
      const value = this.env(name)?.trim();
      if (value) values[key] = value;
      else missing.push(name);
    }
    if (missing.length === Object.keys(names).length) return null;
    this.missing.push(...missing);
    return missing.length ? null : values;
  }

  list(name: string): string[] {
    const raw = this.env(name)?.trim();
    if (!raw) return [];
    return raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  }

  done(provider: ProviderName): void {
    if (this.missing.length > 0) throw new ConfigError(provider, this.missing);
  }
}

/** Timeouts shared by all providers (token, status, refund calls; async pushes). */
export interface CommonTimeouts {
  /** Token/session, status query and refund calls. */
  httpTimeoutMs: number;
  /** Push calls of asynchronous providers (they answer at once; no USSD wait). */
  pushTimeoutMs: number;
}

export function commonTimeouts(r: Reader): CommonTimeouts {
  return {
    httpTimeoutMs: r.millis("PAYMENTS_HTTP_TIMEOUT_MS", 15_000),
    pushTimeoutMs: r.millis("PAYMENTS_PUSH_TIMEOUT_MS", 30_000),
  };
}

export interface MpesaConfig extends CommonTimeouts {
  /** e.g. https://openapi.m-pesa.com (production host) or the local sandbox. */
  baseUrl: string;
  /** e.g. /openapi/ipg/v2/vodacomTZN (live) or /sandbox/ipg/v2/vodacomTZN. */
  marketPath: string;
  apiKey: string;
  /** The portal's public key: PEM, or base64 DER (SubjectPublicKeyInfo) as the portal shows it. */
  publicKey: string;
  serviceProviderCode: string;
  /** Value of the `Origin` header the OpenAPI requires. */
  origin: string;
  /** Synchronous C2B: must outlast the USSD PIN prompt. */
  syncPushTimeoutMs: number;
  /** How long a session id is reused before a new one is fetched. */
  sessionTtlMs: number;
  /** Vendor payouts (B2C): the short code money is paid out from (Vodacom usually issues
   * a separate B2C short code; default: serviceProviderCode). */
  b2cServiceProviderCode: string;
  /** The B2C operation under the market path (the SDKs differ: `/b2cPayment/singleStage/`
   * or `/b2cPayment/`; the portal says which). */
  b2cPath: string;
  /** Whether to ask Query Beneficiary Name before a wallet's first payout (the OpenAPI
   * lists it; off when the market does not offer it: admins confirm wallets by hand). */
  nameLookup: boolean;
}

export function mpesaConfig(env: EnvGetter): MpesaConfig {
  const r = new Reader(env);
  const marketPath = "/" +
    r.optional("MPESA_MARKET_PATH", "/openapi/ipg/v2/vodacomTZN")
      .replace(/^\/+|\/+$/g, "");
  const cfg: MpesaConfig = {
    ...commonTimeouts(r),
    baseUrl: r.url("MPESA_BASE_URL"),
    marketPath,
    apiKey: r.required("MPESA_API_KEY"),
    publicKey: r.required("MPESA_PUBLIC_KEY"),
    serviceProviderCode: r.required("MPESA_SERVICE_PROVIDER_CODE"),
    origin: r.optional("MPESA_ORIGIN", "*"),
    syncPushTimeoutMs: r.millis("MPESA_PUSH_TIMEOUT_MS", 90_000),
    sessionTtlMs: r.millis("MPESA_SESSION_TTL_S", 3_000) * 1000,
    b2cServiceProviderCode: "",
    b2cPath: "/" +
      r.optional("MPESA_B2C_PATH", "/b2cPayment/singleStage/").replace(
        /^\/+/,
        "",
      ),
    nameLookup: !/^(off|false|no|0)$/i.test(
      r.optional("MPESA_NAME_LOOKUP", "on"),
    ),
  };
  cfg.b2cServiceProviderCode = r.optional(
    "MPESA_B2C_SERVICE_PROVIDER_CODE",
    cfg.serviceProviderCode,
  );
  r.done("mpesa");
  return cfg;
}

export interface AirtelConfig extends CommonTimeouts {
  /** https://openapi.airtel.africa (live), https://openapiuat.airtel.africa (UAT). */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** The portal's key for callback authentication (`hash`). */
  callbackHashKey: string;
  country: string;
  currency: string;
  callbackAllowedIps: string[];
  /**
   * Disbursement (B2C, `POST /standard/v2/disbursements/`): how a part of a payment goes
   * back (the refund API only returns the whole payment). Null when not configured: a
   * partial Airtel refund is then paid by hand.
   */
  disbursement: {
    /** The disbursement PIN of our Airtel Money business wallet. */
    pin: string;
    /** The portal's RSA public key the PIN is encrypted with (PEM or base64 DER). */
    publicKey: string;
  } | null;
  /**
   * Signed requests (`AIRTEL_COLLECTION_API=v2`): the push goes to `/merchant/v2/payments/`
   * with `x-signature`/`x-key`, the AES key wrapped with the portal's RSA public key
   * (`AIRTEL_ENCRYPTION_PUBLIC_KEY`, the same key the disbursement PIN uses). Null: v1,
   * unsigned.
   */
  signing: { publicKey: string } | null;
}

export function airtelConfig(env: EnvGetter): AirtelConfig {
  const r = new Reader(env);
  const api = r.optional("AIRTEL_COLLECTION_API", "v1").toLowerCase();
  if (api !== "v1" && api !== "v2") {
    r.missing.push("AIRTEL_COLLECTION_API (v1 or v2)");
  }
  const signed = api === "v2";
  const cfg: AirtelConfig = {
    ...commonTimeouts(r),
    baseUrl: r.url("AIRTEL_BASE_URL"),
    clientId: r.required("AIRTEL_CLIENT_ID"),
    clientSecret: r.required("AIRTEL_CLIENT_SECRET"),
    callbackHashKey: r.required("AIRTEL_CALLBACK_HASH_KEY"),
    country: r.optional("AIRTEL_COUNTRY", "TZ"),
    currency: r.optional("AIRTEL_CURRENCY", "TZS"),
    callbackAllowedIps: r.list("AIRTEL_CALLBACK_ALLOWED_IPS"),
    disbursement: null,
    signing: signed
      ? { publicKey: r.required("AIRTEL_ENCRYPTION_PUBLIC_KEY") }
      : null,
  };
  if (signed) {
    // the public key serves signing; the PIN alone decides whether disbursements are on
    const pin = r.optional("AIRTEL_DISBURSEMENT_PIN", "");
    cfg.disbursement = pin && cfg.signing?.publicKey
      ? { pin, publicKey: cfg.signing.publicKey }
      : null;
  } else {
    cfg.disbursement = r.group({
      pin: "AIRTEL_DISBURSEMENT_PIN",
      publicKey: "AIRTEL_ENCRYPTION_PUBLIC_KEY",
    });
  }
  r.done("airtel");
  return cfg;
}

export interface MixxConfig extends CommonTimeouts {
  /** Token URL issued to us at onboarding (form-encoded password grant). */
  tokenUrl: string;
  /** Push BillPay URL issued to us at onboarding. */
  pushUrl: string;
  username: string;
  password: string;
  billerMsisdn: string;
  /** Prefix of every ReferenceID (Mixx routes by it). */
  billerCode: string;
  /** Secret carried in the callback URL registered with Mixx: as `?token=` or as the last
   * path segment (`…/payment-webhook/mixx/<token>`), whichever form Mixx keeps. */
  callbackToken: string;
  callbackAllowedIps: string[];
  /**
   * B2C "Account to Wallet" (XML `REQMFCI` to a URL issued per partner): how refunds go
   * back, Mixx having no refund API. Null when not configured: refunds are paid by hand.
   */
  b2c: {
    url: string;
    /** Our disbursement account's MSISDN (`MSISDN`). */
    accountMsisdn: string;
    /** That account's PIN (`PIN`). */
    pin: string;
    /** `SENDERNAME` shown to the payer. */
    senderName: string;
    /** `BRAND_ID` issued at onboarding. */
    brandId: string;
    /** `LANGUAGE1` of the payer's SMS (EN or SW). */
    language: string;
  } | null;
  /**
   * The transaction query (XML `MTPGGetSODetails` to its own URL, authenticated by the
   * biller MSISDN and a PIN in the body): how reconciliation settles a payment whose
   * callback was lost. Null when not configured: such a payment expires (docs/payments.md).
   */
  query: {
    url: string;
    /** `MSISDN` of the query: the biller MSISDN unless Mixx issues another. */
    msisdn: string;
    pin: string;
  } | null;
}

export function mixxConfig(env: EnvGetter): MixxConfig {
  const r = new Reader(env);
  const cfg: MixxConfig = {
    ...commonTimeouts(r),
    tokenUrl: r.url("MIXX_TOKEN_URL"),
    pushUrl: r.url("MIXX_PUSH_URL"),
    username: r.required("MIXX_USERNAME"),
    password: r.required("MIXX_PASSWORD"),
    billerMsisdn: r.required("MIXX_BILLER_MSISDN"),
    billerCode: r.required("MIXX_BILLER_CODE"),
    callbackToken: r.required("MIXX_CALLBACK_TOKEN"),
    callbackAllowedIps: r.list("MIXX_CALLBACK_ALLOWED_IPS"),
    b2c: null,
    query: null,
  };
  const query = r.group({ url: "MIXX_QUERY_URL", pin: "MIXX_QUERY_PIN" });
  if (query) {
    cfg.query = {
      ...query,
      msisdn: r.optional("MIXX_QUERY_MSISDN", cfg.billerMsisdn),
    };
    if (!isHttpUrl(query.url)) r.missing.push("MIXX_QUERY_URL");
  }
  const b2c = r.group({
    url: "MIXX_B2C_URL",
    accountMsisdn: "MIXX_B2C_MSISDN",
    pin: "MIXX_B2C_PIN",
    senderName: "MIXX_B2C_SENDER_NAME",
    brandId: "MIXX_B2C_BRAND_ID",
  });
  if (b2c) {
    cfg.b2c = { ...b2c, language: r.optional("MIXX_B2C_LANGUAGE", "EN") };
    if (!isHttpUrl(b2c.url)) r.missing.push("MIXX_B2C_URL");
  }
  if (cfg.callbackToken && cfg.callbackToken.length < 24) {
    r.missing.push("MIXX_CALLBACK_TOKEN (at least 24 characters)");
  }
  r.done("mixx");
  return cfg;
}

export interface ClickPesaConfig extends CommonTimeouts {
  /** https://api.clickpesa.com/third-parties (live) or the local sandbox. */
  baseUrl: string;
  clientId: string;
  apiKey: string;
  /** Checksum key: signs our requests and verifies ClickPesa's webhooks. */
  checksumKey: string;
  callbackAllowedIps: string[];
  /**
   * What `collectedAmount` is: `gross` (what the customer paid, the default) or `net` (less
   * ClickPesa's collection fee, when the account deducts fees from collections). In `net`
   * the fee comes from the report's `fee` field, else from `feeBasisPoints`.
   */
  collectedAmount: "gross" | "net";
  /** CLICKPESA_COLLECTION_FEE_PERCENT in basis points (1.5 % → 150), or null. */
  feeBasisPoints: number | null;
}

/** A percentage with at most two decimals ("1.5", "2", "0.75") in basis points; null for
 * anything else (0 < percent < 100). */
export function percentToBasisPoints(text: string): number | null {
  if (!/^[0-9]{1,2}(\.[0-9]{1,2})?$/.test(text)) return null;
  const [whole, fraction = ""] = text.split(".");
  const bp = Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
  return bp > 0 && bp < 10_000 ? bp : null;
}

export function clickPesaConfig(env: EnvGetter): ClickPesaConfig {
  const r = new Reader(env);
  const cfg: ClickPesaConfig = {
    ...commonTimeouts(r),
    baseUrl: r.url("CLICKPESA_BASE_URL"),
    clientId: r.required("CLICKPESA_CLIENT_ID"),
    apiKey: r.required("CLICKPESA_API_KEY"),
    checksumKey: r.required("CLICKPESA_CHECKSUM_KEY"),
    callbackAllowedIps: r.list("CLICKPESA_CALLBACK_ALLOWED_IPS"),
    collectedAmount: "gross",
    feeBasisPoints: null,
  };
  const collected = r.optional("CLICKPESA_COLLECTED_AMOUNT", "gross")
    .toLowerCase();
  if (collected === "gross" || collected === "net") {
    cfg.collectedAmount = collected;
  } else {
    r.missing.push("CLICKPESA_COLLECTED_AMOUNT (gross or net)");
  }
  const percent = r.optional("CLICKPESA_COLLECTION_FEE_PERCENT", "");
  if (percent) {
    cfg.feeBasisPoints = percentToBasisPoints(percent);
    if (cfg.feeBasisPoints === null) {
      r.missing.push(
        "CLICKPESA_COLLECTION_FEE_PERCENT (a percentage like 1.5)",
      );
    }
  }
  r.done("halopesa");
  return cfg;
}
