import { createPaymentAdapter } from "../_shared/payments/mod.ts";
import { rpcWith, serviceClient } from "../_shared/edge/db.ts";
import { handleReconcile } from "./handler.ts";
import { serveObserved } from "../_shared/edge/observe.ts";

Deno.serve(serveObserved("payment-reconcile", (req) =>
  handleReconcile(req, {
    serviceRpc: rpcWith(serviceClient()),
    adapterFor: (provider) => createPaymentAdapter(provider),
    now: () => Date.now(),
  })));
