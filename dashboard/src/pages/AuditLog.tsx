import { useState } from "react";
import { Loaded } from "../components/State";
import { formatEAT, shortId } from "../lib/format";
import { useT } from "../lib/i18n";
import { supabase } from "../lib/supabase";
import { must, useQuery } from "../lib/useQuery";

interface AuditRow {
  id: string;
  actor_id: string | null;
  actor_role: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: unknown;
  after: unknown;
  context: unknown;
  created_at: string;
}

const TABLES = ["", "profiles", "vendors", "vendor_accounts", "orders", "payments", "shipments", "returns", "refunds", "vendor_payouts"];

/** `2026-12-02` in EAT → the instant that day began (or ended) in EAT. */
export function eatDateBound(day: string, end = false): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const midnight = Date.parse(`${day}T00:00:00+03:00`);
  return new Date(end ? midnight + 86400000 : midnight).toISOString();
}

export function AuditLog() {
  const t = useT();
  const [table, setTable] = useState("");
  const [actor, setActor] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const q = useQuery(async () => {
    let query = supabase()
      .from("audit_logs")
      .select("id,actor_id,actor_role,action,entity_type,entity_id,before,after,context,created_at")
      .order("created_at", { ascending: false })
      .limit(200);
    if (table) query = query.eq("entity_type", table);
    if (/^[0-9a-f-]{36}$/i.test(actor.trim())) query = query.eq("actor_id", actor.trim());
    else if (actor.trim()) query = query.eq("actor_role", actor.trim());
    const lo = eatDateBound(from);
    const hi = eatDateBound(to, true);
    if (lo) query = query.gte("created_at", lo);
    if (hi) query = query.lt("created_at", hi);
    return must(await query) as AuditRow[];
  }, [table, actor, from, to]);
  return (
    <>
      <div className="filters">
        <label>
          {t("table")}{" "}
          <select value={table} onChange={(e) => setTable(e.target.value)} data-testid="audit-table">
            {TABLES.map((x) => (
              <option key={x} value={x}>
                {x || "—"}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("actor")} <input value={actor} onChange={(e) => setActor(e.target.value)} placeholder="uuid / admin / service_role" />
        </label>
        <label>
          {t("from")} <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          {t("to")} <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        <span className="hint">EAT</span>
      </div>
      <Loaded q={q} empty={(rows) => rows.length === 0}>
        {(rows) => (
          <table data-testid="audit">
            <thead>
              <tr>
                <th>{t("when")}</th>
                <th>{t("actor")}</th>
                <th>{t("action")}</th>
                <th>{t("table")}</th>
                <th>id</th>
                <th>Δ</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.id}>
                  <td>{formatEAT(a.created_at)}</td>
                  <td>
                    {a.actor_role ?? "system"} {shortId(a.actor_id)}
                  </td>
                  <td>{a.action}</td>
                  <td>{a.entity_type}</td>
                  <td>{shortId(a.entity_id)}</td>
                  <td className="json">
                    <code>{JSON.stringify(a.after ?? a.context ?? null)?.slice(0, 160)}</code>
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
