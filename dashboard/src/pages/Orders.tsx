import { Fragment, useState, type FormEvent } from "react";
import { Badge, Flash, Loaded } from "../components/State";
import { formatEAT, formatTZS, maskPhone, shortId } from "../lib/format";
import { useT } from "../lib/i18n";
import { supabase } from "../lib/supabase";
import { useAction } from "../lib/useAction";
import { must, useQuery } from "../lib/useQuery";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type SearchKind = "id" | "phone" | "reference" | "recent";

/** What a search box entry is: an order (or payment) id, a phone, or a reference. */
export function searchKind(input: string): SearchKind {
  const s = input.trim();
  if (!s) return "recent";
  if (UUID.test(s)) return "id";
  if (/^\+?[\d\s]{6,}$/.test(s)) return "phone";
  return "reference";
}

interface OrderRow {
  id: string;
  status: string;
  total: number;
  phone: string | null;
  created_at: string;
  paid_at: string | null;
}

const ORDER_COLUMNS = "id,status,total,phone,created_at,paid_at";

async function findOrders(input: string): Promise<OrderRow[]> {
  const db = supabase();
  const s = input.trim();
  const kind = searchKind(s);
  if (kind === "recent") {
    return must(await db.from("orders").select(ORDER_COLUMNS).order("created_at", { ascending: false }).limit(50));
  }
  if (kind === "phone") {
    const digits = s.replace(/\D/g, "").replace(/^0/, "255");
    return must(await db.from("orders").select(ORDER_COLUMNS).like("phone", `%${digits}%`).limit(50));
  }
  let ids: string[] = [];
  if (kind === "id") {
    const pay = must(await db.from("payments").select("order_id").eq("id", s)) as Array<{ order_id: string }>;
    ids = [s, ...pay.map((p) => p.order_id)];
  } else {
    const [pays, refunds, byReference] = await Promise.all([
      db.from("payments").select("order_id").or(`provider_txn_id.eq.${s},provider_request_id.eq.${s}`).then(must),
      db.from("refunds").select("order_id").or(`reference.eq.${s},provider_refund_id.eq.${s}`).then(must),
      // our payment reference (what the provider and the customer's SMS show): admin-only RPC
      db.rpc("payment_by_reference", { p_reference: s }).then(must),
    ]);
    ids = [...(pays as Array<{ order_id: string }>), ...(refunds as Array<{ order_id: string }>)].map((r) => r.order_id);
    if (typeof byReference === "string") {
      const pay = must(await db.from("payments").select("order_id").eq("id", byReference)) as Array<{ order_id: string }>;
      ids.push(...pay.map((p) => p.order_id));
    }
  }
  if (ids.length === 0) return [];
  return must(await db.from("orders").select(ORDER_COLUMNS).in("id", ids));
}

function initialSearch(): string {
  const query = window.location.hash.split("?")[1] ?? "";
  return new URLSearchParams(query).get("q") ?? "";
}

export function Orders() {
  const t = useT();
  const [input, setInput] = useState(initialSearch);
  const [search, setSearch] = useState(initialSearch);
  const [open, setOpen] = useState<string | null>(null);
  const q = useQuery(() => findOrders(search), [search]);
  function submit(e: FormEvent) {
    e.preventDefault();
    setSearch(input);
    setOpen(null);
  }
  return (
    <>
      <form className="filters" onSubmit={submit}>
        <input
          value={input}
          onChange={(e) => setInput(e.target.value)}
          placeholder={t("searchHint")}
          aria-label={t("search")}
          size={48}
          data-testid="order-search"
        />
        <button type="submit">{t("search")}</button>
      </form>
      <Loaded q={q} empty={(rows) => rows.length === 0}>
        {(rows) => (
          <table data-testid="orders">
            <thead>
              <tr>
                <th>{t("created")}</th>
                <th>{t("order")}</th>
                <th>{t("phone")}</th>
                <th>{t("total")}</th>
                <th>{t("status")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((o) => (
                <Fragment key={o.id}>
                  <tr data-order={o.id} onClick={() => setOpen(open === o.id ? null : o.id)} className="clickable">
                    <td>{formatEAT(o.created_at)}</td>
                    <td>{shortId(o.id)}</td>
                    <td>{maskPhone(o.phone)}</td>
                    <td>{formatTZS(o.total)}</td>
                    <td>
                      <Badge value={o.status} />
                    </td>
                  </tr>
                  {open === o.id && (
                    <tr>
                      <td colSpan={5}>
                        <OrderDetail orderId={o.id} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        )}
      </Loaded>
    </>
  );
}

interface Detail {
  order: OrderRow & { cancel_reason: string | null };
  payments: Array<{
    id: string;
    provider: string;
    msisdn: string;
    amount: number;
    status: string;
    refunded_amount: number;
    reference: string | null;
  }>;
  shipments: Array<{ id: string; status: string; carrier: string | null; tracking_number: string | null }>;
  refunds: Array<{ id: string; amount: number; status: string; reference: string; source: string; created_at: string }>;
  audit: Array<{ id: string; action: string; entity_type: string; created_at: string; actor_role: string | null }>;
}

async function loadDetail(orderId: string): Promise<Detail> {
  const db = supabase();
  const [order, payments, shipments, refunds] = await Promise.all([
    db.from("orders").select(`${ORDER_COLUMNS},cancel_reason`).eq("id", orderId).single().then(must),
    db.from("payments").select("id,provider,msisdn,amount,status,refunded_amount").eq("order_id", orderId).then(must),
    db.from("shipments").select("id,status,carrier,tracking_number").eq("order_id", orderId).then(must),
    db.from("refunds").select("id,amount,status,reference,source,created_at").eq("order_id", orderId).then(must),
  ]);
  const ids = [orderId, ...(payments as Array<{ id: string }>).map((p) => p.id), ...(shipments as Array<{ id: string }>).map((s) => s.id)];
  const audit = must(
    await db
      .from("audit_logs")
      .select("id,action,entity_type,created_at,actor_role")
      .in("entity_id", ids)
      .order("created_at", { ascending: true }),
  );
  // the reference the provider knows each payment by (admin-only RPC)
  const withReferences = await Promise.all(
    (payments as Detail["payments"]).map(async (p) => {
      const { data } = await db.rpc("payment_reference", { p_payment_id: p.id });
      return { ...p, reference: typeof data === "string" ? data : null };
    }),
  );
  return { order, payments: withReferences, shipments, refunds, audit } as Detail;
}

function OrderDetail({ orderId }: { orderId: string }) {
  const t = useT();
  const q = useQuery(() => loadDetail(orderId), [orderId]);
  const { message, busy, act } = useAction(q.reload);
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  return (
    <div className="detail" data-testid="order-detail">
      <Flash message={message} />
      <Loaded q={q}>
        {(d) => {
          const paid = d.payments.find((p) => ["succeeded", "partially_refunded"].includes(p.status));
          return (
            <>
              <p>
                {t("order")} <code>{d.order.id}</code> · {formatTZS(d.order.total)} · <Badge value={d.order.status} />
                {d.order.cancel_reason ? ` · ${d.order.cancel_reason}` : ""}
              </p>
              <div className="actions">
                <input placeholder={t("reason")} aria-label={t("reason")} value={reason} onChange={(e) => setReason(e.target.value)} />
                <button
                  className="danger"
                  disabled={busy}
                  onClick={() =>
                    act(t("cancel"), () => supabase().rpc("cancel_order", { p_order_id: orderId, p_reason: reason || null }))
                  }
                >
                  {t("cancel")}
                </button>
                {paid && (
                  <>
                    <input
                      placeholder={`${t("amount")} (TZS)`}
                      aria-label={t("amount")}
                      value={amount}
                      inputMode="numeric"
                      onChange={(e) => setAmount(e.target.value)}
                    />
                    <button
                      disabled={busy}
                      data-action="refund"
                      onClick={() =>
                        act(t("refund"), () =>
                          supabase().rpc("refund_payment", {
                            p_payment_id: paid.id,
                            p_amount: Number(amount.replace(/\D/g, "")),
                            p_reason: reason || "refund by an admin",
                            p_idempotency_key: `dash-${crypto.randomUUID()}`,
                            p_source: "review",
                          }),
                        )
                      }
                    >
                      {t("refund")}
                    </button>
                  </>
                )}
              </div>
              <h3>{t("payments")}</h3>
              <ul>
                {d.payments.map((p) => (
                  <li key={p.id}>
                    {p.provider} {p.reference ?? ""} {maskPhone(p.msisdn)} {formatTZS(p.amount)} <Badge value={p.status} />
                    {p.refunded_amount ? ` · refunded ${formatTZS(p.refunded_amount)}` : ""}
                  </li>
                ))}
              </ul>
              <h3>{t("shipments")}</h3>
              <ul>
                {d.shipments.map((s) => (
                  <li key={s.id}>
                    {shortId(s.id)} <Badge value={s.status} /> {s.carrier ?? ""} {s.tracking_number ?? ""}
                  </li>
                ))}
              </ul>
              <h3>{t("refunds")}</h3>
              <ul data-testid="order-refunds">
                {d.refunds.map((r) => (
                  <li key={r.id}>
                    {r.reference} {formatTZS(r.amount)} {r.source} <Badge value={r.status} />
                  </li>
                ))}
              </ul>
              <h3>{t("timeline")}</h3>
              <ol className="timeline">
                {d.audit.map((a) => (
                  <li key={a.id}>
                    {formatEAT(a.created_at)} · {a.entity_type} · {a.action} · {a.actor_role ?? "system"}
                  </li>
                ))}
              </ol>
            </>
          );
        }}
      </Loaded>
    </div>
  );
}
