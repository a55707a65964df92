"""Anomaly alerts (supabase/migrations/20261127001500_alerts.sql): each rule is driven with
data written for the test, evaluated twice (one alert row, however often it is evaluated
while firing; every admin notified once), then the data is taken away and the next
evaluation resolves it (admins told again). The scheduled job `evaluate-alerts` is paused on
the test instance (wats.testing.runner.PAUSED_JOBS), so only the test evaluates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from supabase import Client

from tests.metrics.data import Rows, phone_of
from wats.seed.sessions import sign_in


@pytest.fixture
def conn(target) -> Iterator[psycopg.Connection]:  # type: ignore[no-untyped-def]
    with psycopg.connect(target.db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def rows(conn: psycopg.Connection) -> Iterator[Rows]:
    made = Rows(conn)
    yield made
    made.remove()


def evaluate(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute("select private.evaluate_alerts()").fetchone()
    assert row
    result: dict[str, Any] = row[0]
    return result


def alerts(conn: psycopg.Connection, rule: str, subject: str, since: dt.datetime) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select id::text, status, summary, resolved_at from private.ops_alerts "
        "where rule = %s and subject = %s and fired_at >= %s order by fired_at",
        [rule, subject, since],
    ).fetchall()


def notified(conn: psycopg.Connection, kind: str, alert_id: str) -> int:
    row = conn.execute(
        "select count(*) from public.notifications n join public.profiles p on p.id = n.user_id "
        "where n.type = %s and n.data ->> 'alert_id' = %s and p.role = 'admin'",
        [kind, alert_id],
    ).fetchone()
    assert row
    return int(row[0])


def fires_once_then_resolves(
    conn: psycopg.Connection, rule: str, subject: str, arrange: Callable[[], None], clear: Callable[[], None]
) -> str:
    evaluate(conn)  # settle whatever an earlier test left
    since = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
    assert alerts(conn, rule, subject, since) == []
    firing_before = conn.execute(
        "select count(*) from private.ops_alerts where rule = %s and subject = %s and status = 'firing'",
        [rule, subject],
    ).fetchone()
    assert firing_before == (0,), f"{rule}/{subject} is already firing before the test arranged anything"
    arrange()
    evaluate(conn)
    evaluate(conn)
    found = alerts(conn, rule, subject, since)
    assert len(found) == 1, f"{rule}/{subject}: {found}"
    alert_id, status, summary, resolved_at = found[0]
    assert status == "firing" and resolved_at is None and summary
    admins = conn.execute("select count(*) from public.profiles where role = 'admin'").fetchone()
    assert admins and admins[0] >= 1
    assert notified(conn, "ops_alert", alert_id) == admins[0]
    clear()
    evaluate(conn)
    found = alerts(conn, rule, subject, since)
    assert [(a[0], a[1]) for a in found] == [(alert_id, "resolved")]
    assert notified(conn, "ops_alert_resolved", alert_id) == admins[0]
    evaluate(conn)
    assert len(alerts(conn, rule, subject, since)) == 1, "a resolved alert fired again without a cause"
    return alert_id


def now(conn: psycopg.Connection) -> dt.datetime:
    value = conn.execute("select now()").fetchone()
    assert value
    result: dt.datetime = value[0]
    return result


def test_success_rate_drop(conn: psycopg.Connection, rows: Rows) -> None:
    def arrange() -> None:
        t = now(conn)
        for _ in range(20):
            rows.paid("halopesa", "succeeded", t - dt.timedelta(days=2))
        for _ in range(20):
            rows.paid("halopesa", "failed", t - dt.timedelta(minutes=10))

    fires_once_then_resolves(conn, "payment_success_drop", "halopesa", arrange, rows.remove)


def test_a_small_sample_does_not_fire(conn: psycopg.Connection, rows: Rows) -> None:
    t = now(conn)
    # the suites before this one may have finished HaloPesa payments in the window: the
    # minimum sample is set just above what the window will hold
    row = conn.execute(
        "select count(*) from public.payments where provider = 'halopesa' and completed_at >= now() - "
        "make_interval(mins => private.setting_int('alerts.success_window_minutes')::integer)"
    ).fetchone()
    assert row is not None
    already = int(row[0])
    for _ in range(20):
        rows.paid("halopesa", "succeeded", t - dt.timedelta(days=2))
    for _ in range(19):
        rows.paid("halopesa", "failed", t - dt.timedelta(minutes=10))
    conn.execute("update private.settings set value = %s where key = 'alerts.success_min_sample'", [str(already + 20)])
    try:
        evaluate(conn)
        assert alerts(conn, "payment_success_drop", "halopesa", t) == []  # already + 19 < already + 20
        conn.execute(
            "update private.settings set value = %s where key = 'alerts.success_min_sample'", [str(already + 19)]
        )
        evaluate(conn)  # the same data with the sample reached: it fires
        assert [a[1] for a in alerts(conn, "payment_success_drop", "halopesa", t)] == ["firing"]
    finally:
        conn.execute("update private.settings set value = '20' where key = 'alerts.success_min_sample'")
        rows.remove()
        evaluate(conn)


def open_payment(rows: Rows, provider: str, pushed: dt.datetime) -> str:
    order = rows.order(pushed, "pending_payment")
    return rows.payment(order, provider, "initiated", pushed, None, pushed=pushed)


def test_callbacks_silent(conn: psycopg.Connection, rows: Rows) -> None:
    def arrange() -> None:
        for minutes in (4, 5, 6):
            open_payment(rows, "mixx", now(conn) - dt.timedelta(minutes=minutes))

    def clear() -> None:  # a callback arrives
        rows.event("mixx", True, now(conn))

    fires_once_then_resolves(conn, "callbacks_silent", "mixx", arrange, clear)


def test_payments_stuck(conn: psycopg.Connection, rows: Rows) -> None:
    def arrange() -> None:
        open_payment(rows, "airtel", now(conn) - dt.timedelta(hours=2))

    fires_once_then_resolves(conn, "payments_stuck", "", arrange, rows.remove)


def test_money_invariant(conn: psycopg.Connection, rows: Rows) -> None:
    def arrange() -> None:  # money received for a cancelled order, neither in review nor refunded
        t = now(conn)
        order = rows.order(t, "cancelled", cancelled_at=t)
        rows.payment(order, "mpesa", "succeeded", t, 5)

    fires_once_then_resolves(conn, "money_invariant", "", arrange, rows.remove)


def test_webhook_authentication_failures(conn: psycopg.Connection, rows: Rows) -> None:
    def arrange() -> None:
        for _ in range(10):  # alerts.auth_failure_threshold
            rows.event("airtel", False, now(conn))

    fires_once_then_resolves(conn, "webhook_auth_failures", "airtel", arrange, rows.remove)


def test_thresholds_are_settings(conn: psycopg.Connection, rows: Rows) -> None:
    for _ in range(3):
        rows.event("airtel", False, now(conn))
    since = now(conn)
    evaluate(conn)
    assert alerts(conn, "webhook_auth_failures", "airtel", since) == []
    conn.execute("update private.settings set value = '3' where key = 'alerts.auth_failure_threshold'")
    try:
        evaluate(conn)
        assert len(alerts(conn, "webhook_auth_failures", "airtel", since)) == 1
    finally:
        conn.execute("update private.settings set value = '10' where key = 'alerts.auth_failure_threshold'")
    rows.remove()
    evaluate(conn)


def test_a_webhook_url_without_pg_net_is_skipped(conn: psycopg.Connection, rows: Rows) -> None:
    """The local stack has no pg_net: with a URL set, the alert is still recorded and
    notified, and no request id is stored (hosted projects have pg_net)."""
    has_net = conn.execute("select to_regnamespace('net') is not null").fetchone()
    if has_net and has_net[0]:
        pytest.skip("pg_net is installed here")
    conn.execute(
        "update private.settings set value = '\"https://hooks.example.invalid/x\"' where key = 'alerts.webhook_url'"
    )
    try:
        since = now(conn)
        for _ in range(10):
            rows.event("mpesa", False, since)
        evaluate(conn)
        found = conn.execute(
            "select webhook_request_id from private.ops_alerts where rule = 'webhook_auth_failures' "
            "and subject = 'mpesa' and fired_at >= %s",
            [since],
        ).fetchall()
        assert found == [(None,)]
    finally:
        conn.execute("update private.settings set value = '\"\"' where key = 'alerts.webhook_url'")
        rows.remove()
        evaluate(conn)


def test_admins_read_alerts_and_customers_are_refused(target, conn: psycopg.Connection, rows: Rows) -> None:  # type: ignore[no-untyped-def]
    since = now(conn)
    for _ in range(10):
        rows.event("halopesa", False, since)
    evaluate(conn)
    admin: Client = sign_in(target.url, target.anon_key, phone_of("admin"))
    firing = admin.rpc("ops_alerts", {}).execute().data
    assert any(a["rule"] == "webhook_auth_failures" and a["subject"] == "halopesa" for a in firing)
    customer: Client = sign_in(target.url, target.anon_key, phone_of("baraka"))
    with pytest.raises(Exception) as exc:
        customer.rpc("ops_alerts", {}).execute()
    assert getattr(exc.value, "code", None) == "42501"
    rows.remove()
    evaluate(conn)


def test_evaluate_alerts_is_scheduled(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "select schedule, sql_command from private.scheduled_jobs where name = 'evaluate-alerts'"
    ).fetchone()
    assert row == ("*/5 * * * *", "select private.evaluate_alerts()")
