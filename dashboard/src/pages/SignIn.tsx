import { useState, type FormEvent } from "react";
import { useT } from "../lib/i18n";
import { errorText, supabase } from "../lib/supabase";

/** Phone OTP, as the apps sign in: a code by SMS, then verify it. */
export function normalizePhone(input: string): string {
  const digits = input.replace(/\D/g, "");
  if (digits.startsWith("0") && digits.length === 10) return `255${digits.slice(1)}`;
  return digits;
}

export function SignIn() {
  const t = useT();
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState("");
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function send(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const { error } = await supabase().auth.signInWithOtp({ phone: normalizePhone(phone) });
    setBusy(false);
    if (error) setError(errorText(error));
    else setSent(true);
  }

  async function verify(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const { error } = await supabase().auth.verifyOtp({ phone: normalizePhone(phone), token: code.trim(), type: "sms" });
    setBusy(false);
    if (error) setError(errorText(error));
  }

  return (
    <section className="signin">
      <h1>{t("signIn")}</h1>
      <form onSubmit={send}>
        <label>
          {t("phone")}
          <input name="phone" value={phone} onChange={(e) => setPhone(e.target.value)} placeholder="2557…" required />
        </label>
        <button type="submit" disabled={busy} data-testid="send-code">
          {t("sendCode")}
        </button>
      </form>
      {sent && (
        <form onSubmit={verify}>
          <label>
            {t("code")}
            <input name="code" value={code} onChange={(e) => setCode(e.target.value)} inputMode="numeric" required />
          </label>
          <button type="submit" disabled={busy} data-testid="verify">
            {t("verify")}
          </button>
        </form>
      )}
      {error && (
        <p className="flash error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
