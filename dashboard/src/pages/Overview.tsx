import { useEffect } from "react";
import { DayChart } from "../components/Chart";
import { Loaded } from "../components/State";
import { eatDay, formatDuration, formatEAT, formatPercent, formatTZS, startOfEATDay } from "../lib/format";
import { useT } from "../lib/i18n";
import {
  dailySeries,
  fulfilmentTimes,
  SUCCEEDED,
  UNSUCCESSFUL,
  type DailySeries,
  type FulfilmentTimes,
  type ProviderRate,
} from "../lib/metrics";
import { supabase } from "../lib/supabase";
import { must, useQuery } from "../lib/useQuery";

const PROVIDERS = ["airtel", "halopesa", "mixx", "mpesa"];

interface OverviewData {
  todaysOrders: number;
  gmv: number;
  reviewQueue: number;
  rates: ProviderRate[];
  times: FulfilmentTimes;
  series: DailySeries;
  alerts: FiringAlert[];
}

export interface FiringAlert {
  id: string;
  rule: string;
  subject: string;
  summary: string;
  fired_at: string;
}

async function count(query: PromiseLike<{ count: number | null; error: { message: string } | null }>) {
  const { count, error } = await query;
  if (error) throw new Error(error.message);
  return count ?? 0;
}

/** Everything the Overview shows, read through RLS as the admin. Tiles use exact counts;
 * the charts read the last 14 days' rows. */
export async function loadOverview(now = new Date()): Promise<OverviewData> {
  const db = supabase();
  const today = startOfEATDay(now);
  const month = startOfEATDay(now, 29);
  const fortnight = startOfEATDay(now, 13);
  const head = { count: "exact" as const, head: true };
  const rate = async (provider: string): Promise<ProviderRate> => {
    const [succeeded, failed] = await Promise.all([
      count(db.from("payments").select("id", head).eq("provider", provider).gte("created_at", month).in("status", SUCCEEDED)),
      count(
        db.from("payments").select("id", head).eq("provider", provider).gte("created_at", month).in("status", UNSUCCESSFUL),
      ),
    ]);
    const finished = succeeded + failed;
    return { provider, succeeded, finished, rate: finished ? succeeded / finished : null };
  };
  const [todaysOrders, paidToday, reviewQueue, rates, shipments, orders, payments, alerts] = await Promise.all([
    count(db.from("orders").select("id", head).gte("created_at", today)),
    db.from("orders").select("total").gte("paid_at", today).then(must),
    count(db.from("payments").select("id", head).eq("needs_review", true)),
    Promise.all(PROVIDERS.map(rate)),
    db
      .from("shipments")
      .select("seconds_to_dispatch,seconds_to_deliver")
      .gte("delivered_at", month)
      .then(must),
    db.from("orders").select("id,status,total,created_at,paid_at").gte("created_at", fortnight).then(must),
    db.from("payments").select("provider,status,created_at").gte("created_at", fortnight).then(must),
    db.rpc("ops_alerts").then(must),
  ]);
  return {
    todaysOrders,
    gmv: (paidToday as Array<{ total: number }>).reduce((sum, o) => sum + o.total, 0),
    reviewQueue,
    rates: rates.filter((r) => r.finished > 0),
    times: fulfilmentTimes(shipments),
    series: dailySeries(orders, payments, eatDay(now), 14),
    alerts: (alerts ?? []) as FiringAlert[],
  };
}

export function Overview() {
  const t = useT();
  const q = useQuery(() => loadOverview(), []);
  useEffect(() => {
    if (q.data) performance.mark("wats:overview-data");
  }, [q.data]);
  return (
    <Loaded q={q}>
      {(d) => (
        <div className="overview" data-testid="overview-ready">
          <div className="tiles">
            <Tile label={t("todaysOrders")} value={String(d.todaysOrders)} id="todays-orders" />
            <Tile label={t("gmv")} value={formatTZS(d.gmv)} id="gmv" />
            <Tile label={t("reviewQueue")} value={String(d.reviewQueue)} id="review-queue" href="#/payments" />
            <div className="tile">
              <span className="tile-label">{t("fulfilment")}</span>
              <span
                className="tile-value small"
                data-testid="fulfilment"
                data-dispatch-s={d.times.toDispatch === null ? "" : Math.round(d.times.toDispatch)}
                data-deliver-s={d.times.toDeliver === null ? "" : Math.round(d.times.toDeliver)}
              >
                {formatDuration(d.times.toDispatch)} {t("toDispatch")}
                <br />
                {formatDuration(d.times.toDeliver)} {t("toDeliver")}
              </span>
            </div>
          </div>
          <section>
            <h2>{t("successByProvider")}</h2>
            {d.rates.length === 0 ? (
              <p className="state" data-state="empty">
                {t("empty")}
              </p>
            ) : (
              <table data-testid="success-rates">
                <thead>
                  <tr>
                    <th>{t("provider")}</th>
                    <th>{t("rate")}</th>
                    <th>n</th>
                  </tr>
                </thead>
                <tbody>
                  {d.rates.map((r) => (
                    <tr key={r.provider} data-provider={r.provider}>
                      <td>{r.provider}</td>
                      <td data-field="rate">{formatPercent(r.rate)}</td>
                      <td data-field="counts">
                        {r.succeeded}/{r.finished}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section>
            <h2>{t("alerts")}</h2>
            {d.alerts.length === 0 ? (
              <p className="state" data-state="empty" data-testid="alerts">
                {t("alertsNone")}
              </p>
            ) : (
              <table data-testid="alerts">
                <tbody>
                  {d.alerts.map((a) => (
                    <tr key={a.id} data-rule={a.rule}>
                      <td>{a.rule}</td>
                      <td>{a.summary}</td>
                      <td>{formatEAT(a.fired_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <div className="charts">
            <section>
              <h2>{t("ordersPerDay")}</h2>
              <DayChart days={d.series.days} values={d.series.orders} label={t("ordersPerDay")} testId="chart-orders" />
            </section>
            <section>
              <h2>{t("successPerDay")}</h2>
              <DayChart
                days={d.series.days}
                values={d.series.successRate}
                label={t("successPerDay")}
                percent
                testId="chart-success"
              />
            </section>
          </div>
        </div>
      )}
    </Loaded>
  );
}

function Tile({ label, value, id, href }: { label: string; value: string; id: string; href?: string }) {
  const body = (
    <>
      <span className="tile-label">{label}</span>
      <span className="tile-value" data-testid={id}>
        {value}
      </span>
    </>
  );
  return <div className="tile">{href ? <a href={href}>{body}</a> : body}</div>;
}
