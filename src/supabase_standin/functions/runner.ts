// Runs one Supabase Edge Function under plain Deno for the local stand-in.
//
// A function's index.ts calls `Deno.serve(handler)` as it does on Supabase. This runner
// captures that call and serves the handler on the loopback port the local stack chose,
// so several functions can run side by side. The function itself is imported unchanged.

const entry = Deno.env.get("STANDIN_FUNCTION_ENTRY");
const port = Number(Deno.env.get("STANDIN_FUNCTION_PORT"));
if (!entry || !port) {
  console.error("STANDIN_FUNCTION_ENTRY and STANDIN_FUNCTION_PORT must be set");
  Deno.exit(2);
}

type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

const realServe = Deno.serve.bind(Deno);

function pickHandler(
  args: unknown[],
): { handler: Handler; options: Record<string, unknown> } {
  const [first, second] = args;
  if (typeof first === "function") {
    return { handler: first as Handler, options: {} };
  }
  const options = (first ?? {}) as Record<string, unknown>;
  const handler =
    (typeof second === "function" ? second : options.handler) as Handler;
  return { handler, options };
}

// @ts-ignore: replace Deno.serve with a port-pinning wrapper before the function loads
Deno.serve = (...args: unknown[]) => {
  const { handler, options } = pickHandler(args);
  const { port: _p, hostname: _h, onListen: _l, handler: _x, ...rest } =
    options;
  return realServe({
    ...rest,
    port,
    hostname: "127.0.0.1",
    onListen: () =>
      console.log(`function ${entry} listening on 127.0.0.1:${port}`),
  }, handler);
};

await import(entry);
