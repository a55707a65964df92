/**
 * Test helpers (imported only by *_test.ts files): a scripted fetch that records every
 * request and honours AbortSignal, and an env getter over a plain object.
 */
import type { EnvGetter, FetchLike } from "./types.ts";

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

/** A handler returns a Response, or "hang" to never answer (until the signal aborts). */
export type MockHandler = (
  request: RecordedRequest,
) => Response | "hang" | Promise<Response | "hang">;

interface Route {
  method: string;
  path: string | RegExp;
  handler: MockHandler;
}

export class MockProvider {
  readonly calls: RecordedRequest[] = [];
  private readonly routes: Route[] = [];

  on(method: string, path: string | RegExp, handler: MockHandler): this {
    this.routes.unshift({ method, path, handler });
    return this;
  }

  callsTo(path: string | RegExp): RecordedRequest[] {
    return this.calls.filter((c) =>
      typeof path === "string"
        ? c.url.pathname === path
        : path.test(c.url.pathname)
    );
  }

  readonly fetch: FetchLike = async (input, init) => {
    const request: RecordedRequest = {
      method: init.method ?? "GET",
      url: new URL(input),
      headers: new Headers(init.headers),
      body: typeof init.body === "string" ? init.body : "",
    };
    this.calls.push(request);
    const route = this.routes.find((r) =>
      r.method === request.method &&
      (typeof r.path === "string"
        ? r.path === request.url.pathname
        : r.path.test(request.url.pathname))
    );
    if (!route) return new Response("no route", { status: 599 });
    const signal = init.signal;
    const answer = await route.handler(request);
    if (answer !== "hang") return answer;
    return await new Promise<Response>((_resolve, reject) => {
      if (!signal) return; // never settles: the test must use a signal
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), {
        once: true,
      });
    });
  };
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

export function envOf(values: Record<string, string>): EnvGetter {
  return (name) => values[name];
}

/** A settable clock for token-expiry tests. */
export class FakeClock {
  constructor(public t = 1_700_000_000_000) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
