import { useState } from "react";
import { Flash, Loaded } from "../components/State";
import { formatEAT, formatTZS, maskPhone, shortId } from "../lib/format";
import { useT } from "../lib/i18n";
import { supabase } from "../lib/supabase";
import { useAction } from "../lib/useAction";
import { must, useQuery } from "../lib/useQuery";

interface ReviewRow {
  id: string;
  order_id: string;
  provider: string;
  msisdn: string;
  amount: number;
  status: string;
  review_reason: string | null;
  created_at: string;
  orders: { status: string; total: number } | null;
}

/** The needs_review queue; each decision is resolve_payment_review (accept or refund). */
export function PaymentsReview() {
  const t = useT();
  const [notes, setNotes] = useState<Record<string, string>>({});
  const q = useQuery(
    async () =>
      must(
        await supabase()
          .from("payments")
          .select("id,order_id,provider,msisdn,amount,status,review_reason,created_at,orders(status,total)")
          .eq("needs_review", true)
          .order("created_at", { ascending: true }),
      ) as unknown as ReviewRow[],
    [],
  );
  const { message, busy, act } = useAction(q.reload);
  const decide = (p: ReviewRow, decision: "accept" | "refund", label: string) =>
    act(`${label} ${shortId(p.id)}`, () =>
      supabase().rpc("resolve_payment_review", {
        p_payment_id: p.id,
        p_decision: decision,
        p_note: notes[p.id] || null,
      }),
    );
  return (
    <>
      <Flash message={message} />
      <Loaded q={q} empty={(rows) => rows.length === 0}>
        {(rows) => (
          <table data-testid="reviews">
            <thead>
              <tr>
                <th>{t("created")}</th>
                <th>{t("order")}</th>
                <th>{t("provider")}</th>
                <th>{t("phone")}</th>
                <th>{t("amount")}</th>
                <th>{t("status")}</th>
                <th>{t("reason")}</th>
                <th>{t("note")}</th>
                <th>{t("actions")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.id} data-payment={p.id}>
                  <td>{formatEAT(p.created_at)}</td>
                  <td>
                    <a href={`#/orders?q=${p.order_id}`}>{shortId(p.order_id)}</a> ({p.orders?.status})
                  </td>
                  <td>{p.provider}</td>
                  <td>{maskPhone(p.msisdn)}</td>
                  <td>{formatTZS(p.amount)}</td>
                  <td>{p.status}</td>
                  <td data-field="reason">{p.review_reason}</td>
                  <td>
                    <input
                      aria-label={t("note")}
                      value={notes[p.id] ?? ""}
                      onChange={(e) => setNotes({ ...notes, [p.id]: e.target.value })}
                    />
                  </td>
                  <td>
                    <button disabled={busy} onClick={() => decide(p, "accept", t("accept"))}>
                      {t("accept")}
                    </button>
                    <button disabled={busy} className="danger" onClick={() => decide(p, "refund", t("refund"))}>
                      {t("refund")}
                    </button>
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
