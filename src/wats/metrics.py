"""``wats metrics``: the business metrics of a local stack (``public.metrics_*``,
supabase/migrations/20261127001300_metrics.sql) as tables, with a sparkline per day.

It reads them over a direct database session as ``postgres``, which the metrics functions
allow (as they allow pg_cron and the SQL editor); admins read the same functions through
the Data API. ``--timing`` prints how long each function took (the figures of
docs/scaling.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import psycopg

from wats.settings import Settings

BARS = "▁▂▃▄▅▆▇█"
EAT = dt.timezone(dt.timedelta(hours=3))


def sparkline(values: Sequence[float | int | Decimal | None]) -> str:
    """One bar per value, scaled between the smallest and the largest; a space for none."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span == 0:
            out.append(BARS[len(BARS) // 2] if high else BARS[0])
        else:
            out.append(BARS[round((float(v) - low) / span * (len(BARS) - 1))])
    return "".join(out)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal | float):
        return f"{float(value):.4g}" if abs(float(value)) < 1 else f"{float(value):,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.astimezone(EAT).strftime("%Y-%m-%d %H:%M")
    return str(value)


def percent(value: Decimal | float | None) -> str | None:
    """A rate (0..1) as the table shows it: 93.3%."""
    return None if value is None else f"{float(value) * 100:.1f}%"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    if not cells:
        lines.append("(nothing yet)")
    return "\n".join(lines)


def days_of(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(count)]


class Reader:
    def __init__(self, conn: psycopg.Connection, timing: bool) -> None:
        self.conn = conn
        self.timing = timing
        self.took: dict[str, float] = {}

    def rows(self, name: str, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        began = time.perf_counter()
        cur = self.conn.execute(sql, params)
        data = cur.fetchall()
        self.took[name] = time.perf_counter() - began
        columns = [c.name for c in cur.description or []]
        return [dict(zip(columns, row, strict=True)) for row in data]


def report(conn: psycopg.Connection, days: int, timing: bool = False) -> str:
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(EAT).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), EAT)
    calendar = days_of(first, days)
    window = (start, now)
    r = Reader(conn, timing)
    out: list[str] = [f"WATS metrics, {first} .. {today} (EAT), sparklines one bar per day\n"]

    pay = r.rows("metrics_payments", "select * from public.metrics_payments(%s, %s, 'day')", window)
    providers = sorted({p["provider"] for p in pay})
    rows = []
    for provider in providers:
        mine = [p for p in pay if p["provider"] == provider]
        finished = sum(p["finished"] for p in mine)
        succeeded = sum(p["succeeded"] for p in mine)
        by_day = {p["bucket"].astimezone(EAT).date(): p for p in mine}
        rates = [by_day[d]["success_rate"] if d in by_day else None for d in calendar]
        last = mine[-1]
        rows.append(
            [provider, finished, percent(Decimal(succeeded) / finished) if finished else None,
             last["outcome_p50_s"], last["outcome_p90_s"], sparkline(rates)]
        )  # fmt: skip
    headers = ["provider", "finished", "success", "p50 s (last day)", "p90 s (last day)", "success per day"]
    out.append(table("Payments (final state reached)", headers, rows))

    orders = r.rows("metrics_orders", "select * from public.metrics_orders(%s, %s)", window)
    by_day = {o["day"]: o for o in orders}
    series = {k: [by_day[d][k] if d in by_day else 0 for d in calendar] for k in ("checkouts", "paid", "gmv")}
    rows = [[o["day"], o["checkouts"], o["paid"], o["gmv"], o["abandoned"], percent(o["abandonment_rate"]),
             o["refunded_amount"], percent(o["refund_rate"])] for o in orders]  # fmt: skip
    headers = ["day", "checkouts", "paid", "GMV TZS", "abandoned", "abandon rate", "refunded TZS", "refund rate"]
    out.append(table("\nOrders per day", headers, rows))
    out.append(
        f"paid orders {sparkline(series['paid'])}  GMV {sparkline(series['gmv'])}  "
        f"checkouts {sparkline(series['checkouts'])}"
    )

    fulfil = r.rows("metrics_fulfilment", "select * from public.metrics_fulfilment(%s, %s)", window)
    times = ("dispatch_p50_s", "dispatch_p90_s", "deliver_p50_s", "deliver_p90_s")
    rows = [
        [f["center_code"], f["shipments"], f["dispatched"], f["delivered"], *(hours(f[t]) for t in times)]
        for f in fulfil
    ]
    headers = ["center", "shipments", "dispatched", "delivered", "→dispatch p50 h", "p90 h", "→deliver p50 h", "p90 h"]
    out.append(table("\nFulfilment (paid → dispatched / delivered)", headers, rows))

    hooks = r.rows("metrics_webhooks", "select * from public.metrics_webhooks(%s, %s)", window)
    rows = []
    for provider in sorted({h["provider"] for h in hooks}):
        per_day = {h["day"]: h for h in hooks if h["provider"] == provider}
        fails = [per_day[d]["auth_failures"] if d in per_day else 0 for d in calendar]
        rows.append([provider, sum(h["callbacks"] for h in per_day.values()), sum(fails), sparkline(fails)])
    out.append(table("\nWebhooks", ["provider", "callbacks", "auth failures", "failures per day"], rows))

    now_rows = r.rows("metrics_now", "select * from public.metrics_now()")
    rows = [[n["metric"] + (f" ({n['provider']})" if n["provider"] else ""), n["value"]] for n in now_rows]
    out.append(table("\nNow", ["what", "count"], rows))
    if timing:
        out.append("\nTiming: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in r.took.items()))
    return "\n".join(out)


def hours(seconds: Decimal | None) -> Decimal | None:
    return None if seconds is None else Decimal(seconds) / 3600


def main(args: argparse.Namespace) -> int:
    settings = Settings.load(getattr(args, "instance", None))
    url = getattr(args, "db_url", None) or settings.db_url()
    with psycopg.connect(url, autocommit=True) as conn:
        print(report(conn, args.days, args.timing))
    return 0
