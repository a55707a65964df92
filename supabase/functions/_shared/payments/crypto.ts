/**
 * Cryptographic helpers: HMAC (WebCrypto), constant-time comparison, canonical JSON,
 * RSA PKCS#1 v1.5 encryption (node:crypto: WebCrypto has only RSA-OAEP) and random
 * tokens.
 */
import { Buffer } from "node:buffer";
import {
  constants as nodeCryptoConstants,
  createPublicKey,
  type KeyObject,
  publicEncrypt,
} from "node:crypto";

const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function hmacSha256(key: string, message: string): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    encoder.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const signature = await crypto.subtle.sign(
    "HMAC",
    cryptoKey,
    encoder.encode(message),
  );
  return new Uint8Array(signature);
}

export async function hmacSha256Base64(
  key: string,
  message: string,
): Promise<string> {
  return toBase64(await hmacSha256(key, message));
}

export async function hmacSha256Hex(
  key: string,
  message: string,
): Promise<string> {
  return toHex(await hmacSha256(key, message));
}

/**
 * Compares two strings in time that depends only on their lengths, never on where they
 * first differ. Returns false for different lengths (after the same amount of work).
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const length = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < length; i++) {
    diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  }
  return diff === 0;
}

/** Recursively sorts object keys (arrays keep their order), as ClickPesa's checksum wants. */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalize);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as Record<string, unknown>).sort()) {
      out[key] = canonicalize((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

/** Compact JSON of the canonicalized value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value));
}

const publicKeyCache = new Map<string, KeyObject>();

/**
 * Parses an RSA public key given as PEM (`-----BEGIN PUBLIC KEY-----` SPKI or
 * `-----BEGIN RSA PUBLIC KEY-----` PKCS#1) or as bare base64 of the DER
 * SubjectPublicKeyInfo (the form the M-Pesa portal shows).
 */
export function parsePublicKey(material: string): KeyObject {
  const cached = publicKeyCache.get(material);
  if (cached) return cached;
  const text = material.trim().replace(/\\n/g, "\n");
  let key: KeyObject;
  if (text.includes("-----BEGIN")) {
    key = createPublicKey({ key: text, format: "pem" });
  } else {
    const der = Buffer.from(text.replace(/\s+/g, ""), "base64");
    key = createPublicKey({ key: der, format: "der", type: "spki" });
  }
  publicKeyCache.set(material, key);
  return key;
}

/** RSAES-PKCS1-v1_5 encryption, base64 output (M-Pesa's API key / session id bearer). */
export function rsaPkcs1EncryptBase64(
  publicKey: string,
  plaintext: string,
): string {
  const encrypted = publicEncrypt(
    {
      key: parsePublicKey(publicKey),
      padding: nodeCryptoConstants.RSA_PKCS1_PADDING,
    },
    encoder.encode(plaintext),
  );
  return toBase64(new Uint8Array(encrypted));
}

/** A random identifier of `bytes` random bytes, hex encoded. */
export function randomHex(bytes = 16): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return toHex(buf);
}

/** An unguessable URL-safe token (base64url, `bytes` random bytes). */
export function randomToken(bytes = 32): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return toBase64(buf).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}
