import { createPaymentAdapter } from "../_shared/payments/mod.ts";
import { rpcWith, serviceClient, userClient } from "../_shared/edge/db.ts";
import { runInBackground } from "../_shared/edge/background.ts";
import { handleInstalmentPush } from "./handler.ts";
import { serveObserved } from "../_shared/edge/observe.ts";

Deno.serve(serveObserved("instalment-push", (req) =>
  handleInstalmentPush(req, {
    userRpc: (token) => rpcWith(userClient(token)),
    serviceRpc: rpcWith(serviceClient()),
    adapterFor: (provider) => createPaymentAdapter(provider),
    background: runInBackground,
    now: () => Date.now(),
  })));
