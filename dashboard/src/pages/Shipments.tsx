import { useState } from "react";
import { Badge, Flash, Loaded } from "../components/State";
import { formatEAT, shortId } from "../lib/format";
import { useT } from "../lib/i18n";
import { supabase } from "../lib/supabase";
import { useAction } from "../lib/useAction";
import { must, useQuery } from "../lib/useQuery";

interface Center {
  id: string;
  code: string;
  name: string;
}

interface ShipmentRow {
  id: string;
  order_id: string;
  center_id: string;
  status: string;
  carrier: string | null;
  tracking_number: string | null;
  failure_reason: string | null;
  created_at: string;
  dispatched_at: string | null;
}

const OPEN = ["pending", "packed", "dispatched", "in_transit", "failed"];

/** What an admin may do next to a parcel in `status` (the SQL functions decide for real). */
export function shipmentActions(status: string): string[] {
  switch (status) {
    case "pending":
      return ["pack"];
    case "packed":
      return ["dispatch"];
    case "dispatched":
      return ["in_transit", "delivered", "failed"];
    case "in_transit":
      return ["delivered", "failed"];
    case "failed":
      return ["dispatch", "return"];
    default:
      return [];
  }
}

export function Shipments() {
  const t = useT();
  const [center, setCenter] = useState("");
  const [showAll, setShowAll] = useState(false);
  const [forms, setForms] = useState<Record<string, { carrier?: string; tracking?: string; reason?: string }>>({});
  const centers = useQuery(
    async () => must(await supabase().from("fulfillment_centers").select("id,code,name").order("code")) as Center[],
    [],
  );
  const q = useQuery(async () => {
    let query = supabase()
      .from("shipments")
      .select("id,order_id,center_id,status,carrier,tracking_number,failure_reason,created_at,dispatched_at")
      .order("created_at", { ascending: false })
      .limit(200);
    if (center) query = query.eq("center_id", center);
    if (!showAll) query = query.in("status", OPEN);
    return must(await query) as ShipmentRow[];
  }, [center, showAll]);
  const { message, busy, act } = useAction(q.reload);
  const form = (id: string) => forms[id] ?? {};
  const setForm = (id: string, patch: Record<string, string>) => setForms({ ...forms, [id]: { ...form(id), ...patch } });
  const db = () => supabase();
  const run = (s: ShipmentRow, what: string) => {
    const label = `${what} ${shortId(s.id)}`;
    switch (what) {
      case "pack":
        return act(label, () => db().rpc("pack_shipment", { p_shipment_id: s.id }));
      case "dispatch":
        return act(label, () =>
          db().rpc("dispatch_shipment", {
            p_shipment_id: s.id,
            p_carrier: form(s.id).carrier ?? "",
            p_tracking_number: form(s.id).tracking ?? "",
          }),
        );
      case "in_transit":
        return act(label, () => db().rpc("mark_shipment_in_transit", { p_shipment_id: s.id }));
      case "delivered":
        return act(label, () => db().rpc("confirm_delivery", { p_shipment_id: s.id }));
      case "failed":
        return act(label, () =>
          db().rpc("report_delivery_failed", { p_shipment_id: s.id, p_reason: form(s.id).reason ?? "" }),
        );
      case "return":
        return act(label, () => db().rpc("return_shipment_to_center", { p_shipment_id: s.id }));
    }
  };
  const names: Record<string, string> = {
    pack: t("pack"),
    dispatch: t("dispatch"),
    in_transit: t("inTransit"),
    delivered: t("delivered"),
    failed: t("failed"),
    return: "Return to center",
  };
  const centerName = (id: string) => centers.data?.find((c) => c.id === id)?.code ?? shortId(id);
  return (
    <>
      <div className="filters">
        <label>
          {t("center")}{" "}
          <select value={center} onChange={(e) => setCenter(e.target.value)} data-testid="center-filter">
            <option value="">{t("allCenters")}</option>
            {centers.data?.map((c) => (
              <option key={c.id} value={c.id}>
                {c.code} · {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.target.checked)} /> all statuses
        </label>
      </div>
      <Flash message={message} />
      <Loaded q={q} empty={(rows) => rows.length === 0}>
        {(rows) => (
          <table data-testid="shipments">
            <thead>
              <tr>
                <th>{t("created")}</th>
                <th>{t("order")}</th>
                <th>{t("center")}</th>
                <th>{t("status")}</th>
                <th>
                  {t("carrier")} / {t("tracking")}
                </th>
                <th>{t("actions")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => {
                const actions = shipmentActions(s.status);
                return (
                  <tr key={s.id} data-shipment={s.id}>
                    <td>{formatEAT(s.created_at)}</td>
                    <td>
                      <a href={`#/orders?q=${s.order_id}`}>{shortId(s.order_id)}</a>
                    </td>
                    <td>{centerName(s.center_id)}</td>
                    <td>
                      <Badge value={s.status} />
                      {s.failure_reason ? ` (${s.failure_reason})` : ""}
                    </td>
                    <td>
                      {s.carrier ?? "—"} {s.tracking_number ?? ""}
                    </td>
                    <td className="actions">
                      {actions.includes("dispatch") && (
                        <>
                          <input
                            placeholder={t("carrier")}
                            aria-label={t("carrier")}
                            value={form(s.id).carrier ?? ""}
                            onChange={(e) => setForm(s.id, { carrier: e.target.value })}
                          />
                          <input
                            placeholder={t("tracking")}
                            aria-label={t("tracking")}
                            value={form(s.id).tracking ?? ""}
                            onChange={(e) => setForm(s.id, { tracking: e.target.value })}
                          />
                        </>
                      )}
                      {actions.includes("failed") && (
                        <input
                          placeholder={t("reason")}
                          aria-label={t("reason")}
                          value={form(s.id).reason ?? ""}
                          onChange={(e) => setForm(s.id, { reason: e.target.value })}
                        />
                      )}
                      {actions.map((a) => (
                        <button key={a} disabled={busy} onClick={() => run(s, a)} data-action={a}>
                          {names[a]}
                        </button>
                      ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}
