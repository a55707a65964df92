import { createPayoutAdapter } from "../_shared/payments/mod.ts";
import { rpcWith, serviceClient } from "../_shared/edge/db.ts";
import { handlePayoutExecute } from "./handler.ts";

Deno.serve((req) =>
  handlePayoutExecute(req, {
    serviceRpc: rpcWith(serviceClient()),
    adapterFor: (provider) => createPayoutAdapter(provider),
    now: () => Date.now(),
  })
);
