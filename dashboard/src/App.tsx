import { useEffect, useState, type ReactNode } from "react";
import type { Session } from "@supabase/supabase-js";
import { LangContext, translate, type Key, type Lang } from "./lib/i18n";
import { readConfig, supabase } from "./lib/supabase";
import { SignIn } from "./pages/SignIn";
import { Overview } from "./pages/Overview";
import { Vendors } from "./pages/Vendors";
import { Orders } from "./pages/Orders";
import { PaymentsReview } from "./pages/PaymentsReview";
import { Returns } from "./pages/Returns";
import { Shipments } from "./pages/Shipments";
import { Payouts } from "./pages/Payouts";
import { AuditLog } from "./pages/AuditLog";

export const PAGES: Array<{ path: string; label: Key; render: () => ReactNode }> = [
  { path: "overview", label: "overview", render: () => <Overview /> },
  { path: "vendors", label: "vendors", render: () => <Vendors /> },
  { path: "orders", label: "orders", render: () => <Orders /> },
  { path: "payments", label: "paymentsReview", render: () => <PaymentsReview /> },
  { path: "returns", label: "returnsRefunds", render: () => <Returns /> },
  { path: "shipments", label: "shipments", render: () => <Shipments /> },
  { path: "payouts", label: "payouts", render: () => <Payouts /> },
  { path: "audit", label: "auditLog", render: () => <AuditLog /> },
];

function currentPath(): string {
  const path = window.location.hash.replace(/^#\/?/, "").split("?")[0];
  return PAGES.some((p) => p.path === path) ? path : "overview";
}

type Gate = "unknown" | "admin" | "refused";

export function App() {
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem("wats-admin-lang") === "sw" ? "sw" : "en"));
  const [session, setSession] = useState<Session | null>(null);
  const [ready, setReady] = useState(false);
  const [gate, setGate] = useState<Gate>("unknown");
  const [path, setPath] = useState(currentPath);
  const configured = readConfig() !== null;
  const t = (key: Key) => translate(lang, key);

  useEffect(() => {
    const onHash = () => setPath(currentPath());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    if (!configured) return;
    const auth = supabase().auth;
    auth.getSession().then(({ data }) => {
      setSession(data.session);
      setReady(true);
    });
    const { data } = auth.onAuthStateChange((_event, next) => setSession(next));
    return () => data.subscription.unsubscribe();
  }, [configured]);

  // Admin or not is the database's answer (profiles.role, readable by its owner), the same
  // thing private.is_admin() reads; the page shows nothing else until it is known.
  const userId = session?.user.id;
  useEffect(() => {
    if (!userId) {
      setGate("unknown");
      return;
    }
    let live = true;
    supabase()
      .from("profiles")
      .select("role")
      .eq("id", userId)
      .maybeSingle()
      .then(({ data, error }) => {
        if (live) setGate(!error && data?.role === "admin" ? "admin" : "refused");
      });
    return () => {
      live = false;
    };
  }, [userId]);

  function switchLang() {
    const next = lang === "en" ? "sw" : "en";
    localStorage.setItem("wats-admin-lang", next);
    setLang(next);
  }

  const langButton = (
    <button className="lang" onClick={switchLang} data-testid="lang">
      {t("language")}
    </button>
  );

  let body: ReactNode;
  if (!configured) {
    body = <p className="state error">VITE_SUPABASE_URL / VITE_SUPABASE_ANON_KEY are not set.</p>;
  } else if (!ready) {
    body = <p className="state">{t("loading")}</p>;
  } else if (!session) {
    body = <SignIn />;
  } else if (gate === "unknown") {
    body = <p className="state">{t("loading")}</p>;
  } else if (gate === "refused") {
    body = (
      <section className="refused" data-testid="admins-only">
        <h1>{t("adminsOnly")}</h1>
        <p>{t("adminsOnlyText")}</p>
        <button onClick={() => supabase().auth.signOut()}>{t("signOut")}</button>
      </section>
    );
  } else {
    const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
    body = (
      <div className="shell">
        <nav>
          {PAGES.map((p) => (
            <a key={p.path} href={`#/${p.path}`} className={p.path === path ? "active" : ""} data-nav={p.path}>
              {t(p.label)}
            </a>
          ))}
        </nav>
        <main key={page.path} data-page={page.path}>
          <h1>{t(page.label)}</h1>
          {page.render()}
        </main>
      </div>
    );
  }

  return (
    <LangContext.Provider value={lang}>
      <header className="top">
        <strong>{t("appTitle")}</strong>
        <span className="spacer" />
        {langButton}
        {session && (
          <button onClick={() => supabase().auth.signOut()} data-testid="sign-out">
            {t("signOut")}
          </button>
        )}
      </header>
      {body}
    </LangContext.Provider>
  );
}
