import { useState } from "react";
import { Badge, Flash, Loaded } from "../components/State";
import { formatEAT, formatTZS, shortId } from "../lib/format";
import { useT } from "../lib/i18n";
import { supabase } from "../lib/supabase";
import { useAction } from "../lib/useAction";
import { must, useQuery } from "../lib/useQuery";

interface ReturnRow {
  id: string;
  order_id: string;
  quantity: number;
  unit_price: number;
  reason: string;
  details: string | null;
  status: string;
  refund_amount: number | null;
  created_at: string;
}

interface RefundRow {
  id: string;
  order_id: string;
  provider: string;
  amount: number;
  source: string;
  status: string;
  reference: string;
  failure_reason: string | null;
  attempts: number;
  created_at: string;
}

/** Returns (decide, receive) and refunds (status, retry a failed one, record a manual one). */
export function Returns() {
  const t = useT();
  const returns = useQuery(
    async () =>
      must(
        await supabase()
          .from("returns")
          .select("id,order_id,quantity,unit_price,reason,details,status,refund_amount,created_at")
          .order("created_at", { ascending: false })
          .limit(200),
      ) as ReturnRow[],
    [],
  );
  const refunds = useQuery(
    async () =>
      must(
        await supabase()
          .from("refunds")
          .select("id,order_id,provider,amount,source,status,reference,failure_reason,attempts,created_at")
          .order("created_at", { ascending: false })
          .limit(200),
      ) as RefundRow[],
    [],
  );
  const reloadBoth = () => {
    returns.reload();
    refunds.reload();
  };
  const { message, busy, act } = useAction(reloadBoth);
  const [counts, setCounts] = useState<Record<string, { restocked: string; damaged: string }>>({});
  const [refs, setRefs] = useState<Record<string, string>>({});
  const db = () => supabase();
  return (
    <>
      <Flash message={message} />
      <h2>{t("returns")}</h2>
      <Loaded q={returns} empty={(rows) => rows.length === 0}>
        {(rows) => (
          <table data-testid="returns">
            <thead>
              <tr>
                <th>{t("created")}</th>
                <th>{t("order")}</th>
                <th>{t("quantity")}</th>
                <th>{t("reason")}</th>
                <th>{t("status")}</th>
                <th>{t("refund")}</th>
                <th>{t("actions")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => {
                const c = counts[r.id] ?? { restocked: String(r.quantity), damaged: "0" };
                return (
                  <tr key={r.id} data-return={r.id}>
                    <td>{formatEAT(r.created_at)}</td>
                    <td>
                      <a href={`#/orders?q=${r.order_id}`}>{shortId(r.order_id)}</a>
                    </td>
                    <td>
                      {r.quantity} × {formatTZS(r.unit_price)}
                    </td>
                    <td>
                      {r.reason}
                      {r.details ? `: ${r.details}` : ""}
                    </td>
                    <td>
                      <Badge value={r.status} />
                    </td>
                    <td>{formatTZS(r.refund_amount)}</td>
                    <td className="actions">
                      {r.status === "requested" && (
                        <>
                          <button
                            disabled={busy}
                            onClick={() => act(t("approve"), () => db().rpc("decide_return", { p_return_id: r.id, p_approve: true }))}
                          >
                            {t("approve")}
                          </button>
                          <button
                            disabled={busy}
                            className="danger"
                            onClick={() => act(t("reject"), () => db().rpc("decide_return", { p_return_id: r.id, p_approve: false }))}
                          >
                            {t("reject")}
                          </button>
                        </>
                      )}
                      {r.status === "approved" && (
                        <>
                          <label>
                            {t("restocked")}{" "}
                            <input
                              size={3}
                              value={c.restocked}
                              onChange={(e) => setCounts({ ...counts, [r.id]: { ...c, restocked: e.target.value } })}
                            />
                          </label>
                          <label>
                            {t("writtenOff")}{" "}
                            <input
                              size={3}
                              value={c.damaged}
                              onChange={(e) => setCounts({ ...counts, [r.id]: { ...c, damaged: e.target.value } })}
                            />
                          </label>
                          <button
                            disabled={busy}
                            onClick={() =>
                              act(t("receive"), () =>
                                db().rpc("receive_return", {
                                  p_return_id: r.id,
                                  p_restocked: Number(c.restocked),
                                  p_damaged: Number(c.damaged),
                                }),
                              )
                            }
                          >
                            {t("receive")}
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Loaded>
      <h2>{t("refunds")}</h2>
      <Loaded q={refunds} empty={(rows) => rows.length === 0}>
        {(rows) => (
          <table data-testid="refunds">
            <thead>
              <tr>
                <th>{t("created")}</th>
                <th>{t("reference")}</th>
                <th>{t("order")}</th>
                <th>{t("provider")}</th>
                <th>{t("amount")}</th>
                <th>{t("status")}</th>
                <th>{t("actions")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id} data-refund={r.id}>
                  <td>{formatEAT(r.created_at)}</td>
                  <td>{r.reference}</td>
                  <td>
                    <a href={`#/orders?q=${r.order_id}`}>{shortId(r.order_id)}</a>
                  </td>
                  <td>{r.provider}</td>
                  <td>{formatTZS(r.amount)}</td>
                  <td>
                    <Badge value={r.status} /> {r.failure_reason ?? ""} {r.attempts ? `(${r.attempts})` : ""}
                  </td>
                  <td className="actions">
                    {r.status === "failed" && (
                      <>
                        <button disabled={busy} onClick={() => act(t("retryRefund"), () => db().rpc("retry_refund", { p_refund_id: r.id }))}>
                          {t("retryRefund")}
                        </button>
                        <input
                          placeholder={t("reference")}
                          aria-label={t("reference")}
                          value={refs[r.id] ?? ""}
                          onChange={(e) => setRefs({ ...refs, [r.id]: e.target.value })}
                        />
                        <button
                          disabled={busy}
                          onClick={() =>
                            act(t("manualRefund"), () =>
                              db().rpc("record_manual_refund", { p_refund_id: r.id, p_reference: refs[r.id] ?? "" }),
                            )
                          }
                        >
                          {t("manualRefund")}
                        </button>
                      </>
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
