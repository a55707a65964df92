/**
 * Minimal assertions for the Deno tests, on top of node:assert (only npm:/node:
 * specifiers are allowed in this repo, so no jsr:@std/assert).
 */
import nodeAssert from "node:assert/strict";

export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

export function assertFalse(value: unknown, message?: string): void {
  nodeAssert.ok(
    !value,
    message ?? `expected a falsy value, got ${String(value)}`,
  );
}

export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

export function assertNotEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

export function assertMatch(
  actual: string,
  pattern: RegExp,
  message?: string,
): void {
  nodeAssert.match(actual, pattern, message);
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass?: new (...args: never[]) => Error,
): Promise<void> {
  if (errorClass) await nodeAssert.rejects(fn, errorClass);
  else await nodeAssert.rejects(fn);
}

export function assertThrows(
  fn: () => unknown,
  errorClass?: new (...args: never[]) => Error,
): void {
  if (errorClass) nodeAssert.throws(fn, errorClass);
  else nodeAssert.throws(fn);
}
