import { rpcWith, serviceClient } from "../_shared/edge/db.ts";
import { expoConfig, ExpoPush } from "../_shared/notify/expo.ts";
import { beemConfig, BeemSms } from "../_shared/notify/sms.ts";
import { handleNotifyDispatch } from "./handler.ts";
import { serveObserved } from "../_shared/edge/observe.ts";

const env = (name: string) => Deno.env.get(name);

Deno.serve(serveObserved("notify-dispatch", (req) =>
  handleNotifyDispatch(req, {
    serviceRpc: rpcWith(serviceClient()),
    sms: () => new BeemSms(beemConfig(env), fetch),
    push: () => new ExpoPush(expoConfig(env), fetch),
    now: () => Date.now(),
  })));
