import { createPaymentAdapter } from "../_shared/payments/mod.ts";
import { rpcWith, serviceClient } from "../_shared/edge/db.ts";
import { handleWebhook } from "./handler.ts";
import { serveObserved } from "../_shared/edge/observe.ts";

Deno.serve(serveObserved("payment-webhook", (req) =>
  handleWebhook(req, {
    serviceRpc: rpcWith(serviceClient()),
    adapterFor: (provider) => createPaymentAdapter(provider),
    clientIpHeader: Deno.env.get("CLIENT_IP_HEADER") || undefined,
  })));
