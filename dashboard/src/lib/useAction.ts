import { useState } from "react";
import { errorText } from "./supabase";

export type Message = { ok: boolean; text: string } | null;

/** Runs an action (an RPC or an update), shows its outcome and reloads the page's data. */
export function useAction(after: () => void): {
  message: Message;
  busy: boolean;
  act: (label: string, run: () => PromiseLike<{ error: unknown }>) => Promise<void>;
} {
  const [message, setMessage] = useState<Message>(null);
  const [busy, setBusy] = useState(false);
  async function act(label: string, run: () => PromiseLike<{ error: unknown }>) {
    setBusy(true);
    try {
      const { error } = await run();
      setMessage(error ? { ok: false, text: `${label}: ${errorText(error)}` } : { ok: true, text: `${label}: ✓` });
      if (!error) after();
    } catch (e) {
      setMessage({ ok: false, text: `${label}: ${errorText(e)}` });
    } finally {
      setBusy(false);
    }
  }
  return { message, busy, act };
}
