import {
  assert,
  assertEquals,
  assertFalse,
  assertMatch,
  assertNotEquals,
} from "./assert.ts";
import { constants, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { Buffer } from "node:buffer";
import {
  canonicalJson,
  hmacSha256Base64,
  hmacSha256Hex,
  randomHex,
  randomToken,
  rsaPkcs1EncryptBase64,
  timingSafeEqual,
} from "./crypto.ts";

Deno.test("timingSafeEqual: equal, different, different lengths, empty", () => {
  assert(timingSafeEqual("abc", "abc"));
  assert(timingSafeEqual("", ""));
  assertFalse(timingSafeEqual("abc", "abd"));
  assertFalse(timingSafeEqual("abc", "ab"));
  assertFalse(timingSafeEqual("ab", "abc"));
  assertFalse(timingSafeEqual("", "a"));
  assertFalse(timingSafeEqual("a\u0000", "a"));
  assert(timingSafeEqual("näive✓", "näive✓"));
});

Deno.test("HMAC-SHA256 matches RFC 4231 test case 2", async () => {
  const hex = await hmacSha256Hex("Jefe", "what do ya want for nothing?");
  assertEquals(
    hex,
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  const b64 = await hmacSha256Base64("Jefe", "what do ya want for nothing?");
  assertEquals(
    b64,
    btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16)))),
  );
});

Deno.test("canonicalJson sorts keys recursively and keeps array order", () => {
  const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } };
  const b = { a: { c: "x", d: [3, { y: 2, z: 1 }] }, b: 1 };
  assertEquals(canonicalJson(a), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  assertEquals(canonicalJson(a), canonicalJson(b));
  assertEquals(canonicalJson([2, 1]), "[2,1]");
  assertEquals(canonicalJson("ü"), '"ü"');
});

Deno.test("RSA PKCS#1 v1.5: PEM and base64-DER public keys decrypt with the private key", () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const derB64 = publicKey
    .replace(/-----[A-Z ]+-----/g, "")
    .replace(/\s+/g, "");
  for (const material of [publicKey, derB64, publicKey.replace(/\n/g, "\\n")]) {
    const encrypted = rsaPkcs1EncryptBase64(material, "my-api-key");
    const decrypted = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(encrypted, "base64"),
    );
    assertEquals(decrypted.toString("utf8"), "my-api-key");
  }
  // PKCS#1 v1.5 padding is randomized: two encryptions differ.
  assertNotEquals(
    rsaPkcs1EncryptBase64(publicKey, "x"),
    rsaPkcs1EncryptBase64(publicKey, "x"),
  );
});

Deno.test("random tokens are long, url-safe and distinct", () => {
  const a = randomToken();
  const b = randomToken();
  assertMatch(a, /^[A-Za-z0-9_-]{43}$/);
  assertNotEquals(a, b);
  assertMatch(randomHex(8), /^[0-9a-f]{16}$/);
});
