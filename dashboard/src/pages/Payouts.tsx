import { Badge, Flash, Loaded } from "../components/State";
import { formatEAT, formatTZS, maskPhone } from "../lib/format";
import { useT } from "../lib/i18n";
import { supabase } from "../lib/supabase";
import { useAction } from "../lib/useAction";
import { must, useQuery } from "../lib/useQuery";

interface Payout {
  payout_id: string;
  reference: string;
  amount: number;
  status: string;
  provider: string;
  msisdn: string;
  needs_approval: boolean;
  failure_reason: string | null;
  created_at: string;
  paid_at: string | null;
}

interface VendorMoney {
  id: string;
  name: string;
  balance: Record<string, number | string | null>;
  payouts: Payout[];
}

/** Payouts are private rows; admins read them per vendor through vendor_statement and the
 * balances through vendor_balance (docs/money.md). */
async function loadPayouts(): Promise<VendorMoney[]> {
  const db = supabase();
  const vendors = must(await db.from("vendors").select("id,name").eq("status", "approved").order("name")) as Array<{
    id: string;
    name: string;
  }>;
  const from = new Date(Date.now() - 90 * 86400000).toISOString();
  return Promise.all(
    vendors.map(async (v) => {
      const [balance, statement] = await Promise.all([
        db.rpc("vendor_balance", { p_vendor_id: v.id }).then(must),
        db.rpc("vendor_statement", { p_vendor_id: v.id, p_from: from }).then(must),
      ]);
      return {
        ...v,
        balance: (balance ?? {}) as VendorMoney["balance"],
        payouts: ((statement as { payouts?: Payout[] })?.payouts ?? []).slice().reverse(),
      };
    }),
  );
}

export function payoutGroup(p: Payout): "awaiting" | "failed" | "open" | "done" {
  if (p.status === "pending" && p.needs_approval) return "awaiting";
  if (p.status === "failed") return "failed";
  if (p.status === "pending" || p.status === "processing") return "open";
  return "done";
}

export function Payouts() {
  const t = useT();
  const q = useQuery(loadPayouts, []);
  const { message, busy, act } = useAction(q.reload);
  return (
    <>
      <Flash message={message} />
      <Loaded q={q} empty={(rows) => rows.length === 0}>
        {(rows) => {
          const all = rows.flatMap((v) => v.payouts.map((p) => ({ ...p, vendor: v.name })));
          const order = { awaiting: 0, failed: 1, open: 2, done: 3 };
          all.sort((a, b) => order[payoutGroup(a)] - order[payoutGroup(b)] || b.created_at.localeCompare(a.created_at));
          return (
            <>
              <h2>{t("upcoming")}</h2>
              <table data-testid="balances">
                <thead>
                  <tr>
                    <th>{t("vendor")}</th>
                    <th>{t("available")}</th>
                    <th>{t("pending")}</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((v) => (
                    <tr key={v.id}>
                      <td>{v.name}</td>
                      <td>{formatTZS(Number(v.balance.available ?? 0))}</td>
                      <td>{formatTZS(Number(v.balance.pending ?? 0))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <h2>{t("payouts")}</h2>
              {all.length === 0 ? (
                <p className="state" data-state="empty">
                  {t("empty")}
                </p>
              ) : (
                <table data-testid="payouts">
                  <thead>
                    <tr>
                      <th>{t("created")}</th>
                      <th>{t("vendor")}</th>
                      <th>{t("reference")}</th>
                      <th>{t("amount")}</th>
                      <th>Wallet</th>
                      <th>{t("status")}</th>
                      <th>{t("actions")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {all.map((p) => (
                      <tr key={p.payout_id} data-payout={p.payout_id}>
                        <td>{formatEAT(p.created_at)}</td>
                        <td>{p.vendor}</td>
                        <td>{p.reference}</td>
                        <td>{formatTZS(p.amount)}</td>
                        <td>
                          {p.provider} {maskPhone(p.msisdn)}
                        </td>
                        <td>
                          <Badge value={payoutGroup(p) === "awaiting" ? "awaiting approval" : p.status} /> {p.failure_reason ?? ""}
                        </td>
                        <td className="actions">
                          {payoutGroup(p) === "awaiting" && (
                            <button disabled={busy} onClick={() => act(t("approve"), () => supabase().rpc("approve_payout", { p_payout_id: p.payout_id }))}>
                              {t("approve")}
                            </button>
                          )}
                          {p.status === "pending" && (
                            <button
                              disabled={busy}
                              className="danger"
                              onClick={() => act("Cancel", () => supabase().rpc("cancel_payout", { p_payout_id: p.payout_id }))}
                            >
                              Cancel
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          );
        }}
      </Loaded>
    </>
  );
}
