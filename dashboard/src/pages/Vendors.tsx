import { useState } from "react";
import { Badge, Flash, Loaded } from "../components/State";
import { formatEAT, maskPhone } from "../lib/format";
import { useT } from "../lib/i18n";
import { supabase } from "../lib/supabase";
import { useAction } from "../lib/useAction";
import { must, useQuery } from "../lib/useQuery";

export interface VendorRow {
  id: string;
  name: string;
  slug: string;
  region: string | null;
  status: string;
  status_reason: string | null;
  created_at: string;
  approved_at: string | null;
  vendor_accounts: { payout_provider: string | null; payout_msisdn: string | null } | null;
}

const ORDER: Record<string, number> = { pending: 0, suspended: 1, approved: 2 };

/** Pending approval first, then suspended, then approved; newest first within each. */
export function sortVendors<T extends { status: string; created_at: string }>(rows: T[]): T[] {
  return [...rows].sort(
    (a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9) || b.created_at.localeCompare(a.created_at),
  );
}

export function Vendors() {
  const t = useT();
  const q = useQuery(
    async () =>
      sortVendors(
        must(
          await supabase()
            .from("vendors")
            .select(
              "id,name,slug,region,status,status_reason,created_at,approved_at,vendor_accounts(payout_provider,payout_msisdn)",
            ),
        ) as VendorRow[],
      ),
    [],
  );
  const { message, busy, act } = useAction(q.reload);
  const [reasons, setReasons] = useState<Record<string, string>>({});
  // vendors.status and status_reason are admin-only columns (guard trigger); the audit
  // trigger records who and when.
  const setStatus = (v: VendorRow, status: string, label: string) =>
    act(
      `${label} ${v.name}`,
      () =>
        supabase()
          .from("vendors")
          .update({ status, status_reason: reasons[v.id]?.trim() || null })
          .eq("id", v.id),
    );
  return (
    <>
      <Flash message={message} />
      <Loaded q={q} empty={(rows) => rows.length === 0}>
        {(rows) => (
          <table data-testid="vendors">
            <thead>
              <tr>
                <th>{t("name")}</th>
                <th>{t("region")}</th>
                <th>{t("status")}</th>
                <th>{t("reason")}</th>
                <th>{t("created")}</th>
                <th>Wallet</th>
                <th>{t("actions")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((v) => (
                <tr key={v.id} data-vendor={v.slug}>
                  <td>{v.name}</td>
                  <td>{v.region ?? "—"}</td>
                  <td>
                    <Badge value={v.status} />
                  </td>
                  <td>
                    <input
                      aria-label={t("reason")}
                      placeholder={v.status_reason ?? ""}
                      value={reasons[v.id] ?? ""}
                      onChange={(e) => setReasons({ ...reasons, [v.id]: e.target.value })}
                    />
                  </td>
                  <td>{formatEAT(v.created_at)}</td>
                  <td>
                    {v.vendor_accounts?.payout_provider ?? "—"} {maskPhone(v.vendor_accounts?.payout_msisdn)}
                  </td>
                  <td>
                    {v.status !== "approved" && (
                      <button disabled={busy} onClick={() => setStatus(v, "approved", t("approve"))}>
                        {t("approve")}
                      </button>
                    )}
                    {v.status === "approved" && (
                      <button
                        disabled={busy}
                        className="danger"
                        onClick={() => {
                          if (window.confirm(`${t("suspend")} ${v.name}?`)) void setStatus(v, "suspended", t("suspend"));
                        }}
                      >
                        {t("suspend")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}
