/**
 * Work that continues after the response. On Supabase, `EdgeRuntime.waitUntil` keeps the
 * worker alive until the promise settles; plain Deno (the local stack, tests) has no such
 * global but keeps serving, so the promise simply runs on. Failures are logged, never
 * thrown into the request that started them.
 */

import { reportError } from "./observe.ts";

interface EdgeRuntimeLike {
  waitUntil(promise: Promise<unknown>): void;
}

export function runInBackground(
  task: () => Promise<unknown>,
  label: string,
): void {
  const promise = task().catch((error) => {
    reportError(`background task ${label} failed:`, error);
  });
  const runtime = (globalThis as { EdgeRuntime?: EdgeRuntimeLike }).EdgeRuntime;
  if (runtime && typeof runtime.waitUntil === "function") {
    runtime.waitUntil(promise);
  }
}
