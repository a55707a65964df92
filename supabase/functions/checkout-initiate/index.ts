import { createPaymentAdapter } from "../_shared/payments/mod.ts";
import { rpcWith, serviceClient, userClient } from "../_shared/edge/db.ts";
import { runInBackground } from "../_shared/edge/background.ts";
import { handleCheckout } from "./handler.ts";
import { serveObserved } from "../_shared/edge/observe.ts";

Deno.serve(serveObserved("checkout-initiate", (req) =>
  handleCheckout(req, {
    userRpc: (token) => rpcWith(userClient(token)),
    serviceRpc: rpcWith(serviceClient()),
    adapterFor: (provider) => createPaymentAdapter(provider),
    background: runInBackground,
  })));
