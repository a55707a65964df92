import { createPayoutAdapter } from "../_shared/payments/mod.ts";
import { rpcWith, serviceClient } from "../_shared/edge/db.ts";
import { handlePayoutExecute } from "./handler.ts";
import { serveObserved } from "../_shared/edge/observe.ts";

Deno.serve(serveObserved("payout-execute", (req) =>
  handlePayoutExecute(req, {
    serviceRpc: rpcWith(serviceClient()),
    adapterFor: (provider) => createPayoutAdapter(provider),
    now: () => Date.now(),
  })));
