/**
 * supabase-js as an app uses Realtime: `channel(topic, { config: { private: true } })
 * .on("broadcast", …).subscribe()` with the user's access token (serializer 2.0.0, binary
 * broadcasts). Prints one JSON line with the subscribe status, waits WAIT ms, then prints
 * one JSON line with what it received. Driven by tests/standin/conformance/test_realtime.py.
 */
import { createClient } from "npm:@supabase/supabase-js@2.119.0";

function env(name: string): string {
  const value = Deno.env.get(name);
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

const supabase = createClient(env("URL"), env("ANON"), {
  auth: { persistSession: false, autoRefreshToken: false },
});
await supabase.realtime.setAuth(env("TOKEN"));
const received: unknown[] = [];
const status = await new Promise<string>((resolve) => {
  supabase
    .channel(env("TOPIC"), { config: { private: true } })
    .on("broadcast", { event: "*" }, (message) => received.push(message))
    .subscribe((state, error) => {
      if (state !== "CLOSED") {
        resolve(error ? `${state} ${error.message}` : state);
      }
    });
});
console.log(JSON.stringify({ status }));
await new Promise((resolve) => setTimeout(resolve, Number(env("WAIT"))));
console.log(JSON.stringify({ received }));
await supabase.removeAllChannels();
Deno.exit(0);
