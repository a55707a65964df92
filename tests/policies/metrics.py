"""The function cells of the business metrics (supabase/migrations/20261127001300_metrics.sql):
admins and the service role read them, everyone else is refused with 42501. An allowed call
is checked against the tables themselves over the same pinned window (the totals of the
answer equal a plain count), so a function that answered nothing, or the caller's own rows
only, fails."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.policies.harness import assert_denied
from tests.policies.world import World

#: function -> SQL counting, over [%(from)s, %(to)s), what the answer's `column` adds up to
TOTALS: dict[str, tuple[str, str]] = {
    "metrics_payments": (
        "finished",
        "select count(*) from public.payments where completed_at >= %(from)s and completed_at < %(to)s",
    ),
    "metrics_orders": (
        "checkouts",
        "select count(*) from public.orders where created_at >= %(from)s and created_at < %(to)s",
    ),
    "metrics_fulfilment": (
        "shipments",
        "select count(*) from public.shipments where paid_at >= %(from)s and paid_at < %(to)s",
    ),
    "metrics_webhooks": (
        "callbacks",
        "select count(*) from private.payment_events where received_at >= %(from)s and received_at < %(to)s "
        "and source = 'callback'",
    ),
}
NAMES = (*TOTALS, "metrics_now", "ops_alerts")


def window() -> dict[str, str]:
    to = dt.datetime.now(dt.UTC)
    return {"p_from": (to - dt.timedelta(days=30)).isoformat(), "p_to": to.isoformat()}


def check(world: World, name: str, role: str, value: str, what: str) -> set[str]:
    actor = world.actors[role]
    if name == "metrics_webhooks":  # a callback that failed authentication
        world.q("insert into private.payment_events (provider, body, authenticated) values ('mpesa', 'x', false)")
    args: dict[str, Any] = {} if name == "metrics_now" else window()
    if name == "ops_alerts":
        args = {"p_include_resolved": True}
    out = actor.run(lambda c: c.rpc(name, args).execute())
    if value == "none":
        assert_denied(out, actor, what, silent_ok=False)
        return {"denied"}
    assert value == "all", what
    assert out.ok, f"{what}: {out}"
    rows = out.rows()
    if name == "metrics_now":
        got = {(r["metric"], r["provider"]): r["value"] for r in rows}
        flagged = world.one("select count(*) from public.payments where needs_review and reviewed_at is null")
        assert got.get(("payments_to_review", None)) == flagged, f"{what}: {got}, {flagged} flagged"
        assert ("stock_outs", None) in got, f"{what}: {got}"
        return {"allowed"}
    if name == "ops_alerts":  # the world's resolved alert is among them
        assert any(r["rule"] == "policy_suite" and r["subject"] == world.run for r in rows), f"{what}: {rows[:3]}"
        return {"allowed"}
    column, sql = TOTALS[name]
    expected = world.one(sql, {"from": args["p_from"], "to": args["p_to"]})
    assert expected > 0, f"arrangement gap: nothing for {name} in the last 30 days"
    assert sum(int(r[column]) for r in rows) == expected, f"{what}: {rows[:3]}…, expected {column} = {expected}"
    return {"allowed"}
