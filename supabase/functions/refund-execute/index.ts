import { createPaymentAdapter } from "../_shared/payments/mod.ts";
import { rpcWith, selectWith, serviceClient } from "../_shared/edge/db.ts";
import { handleRefundExecute } from "./handler.ts";
import { serveObserved } from "../_shared/edge/observe.ts";

Deno.serve(serveObserved("refund-execute", (req) =>
  handleRefundExecute(req, {
    serviceRpc: rpcWith(serviceClient()),
    serviceSelect: selectWith(serviceClient()),
    adapterFor: (provider) => createPaymentAdapter(provider),
    now: () => Date.now(),
  })));
