"""Business metrics (supabase/migrations/20261127001300_metrics.sql) through supabase-py.

Each test writes a known day of business into a window of its own (a random day long ago,
so nothing else lands in it), asks the metric as the seeded admin, and checks the exact
numbers: success rate and push-to-outcome percentiles, GMV and abandonment, fulfilment times
per center, webhook authentication failures. Customers and vendors are refused (42501)."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.metrics.data import Rows, phone_of
from wats.metrics import report, sparkline
from wats.seed.sessions import sign_in


@pytest.fixture(scope="module")
def admin(target) -> Client:  # type: ignore[no-untyped-def]
    return sign_in(target.url, target.anon_key, phone_of("admin"))


@pytest.fixture(scope="module")
def day() -> dt.datetime:
    """09:00 UTC (12:00 EAT) of a random day between 2001 and 2020."""
    return dt.datetime(2001, 1, 1, 9, tzinfo=dt.UTC) + dt.timedelta(days=secrets.randbelow(7000))


def window(day: dt.datetime) -> dict[str, str]:
    start = day.replace(hour=0)
    return {"p_from": start.isoformat(), "p_to": (start + dt.timedelta(days=1)).isoformat()}


@pytest.fixture(scope="module")
def mdb(target) -> Iterator[psycopg.Connection]:  # type: ignore[no-untyped-def]
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def rows(mdb: psycopg.Connection) -> Iterator[Rows]:
    made = Rows(mdb)
    yield made
    made.remove()


@pytest.fixture(scope="module")
def business(mdb: psycopg.Connection, day: dt.datetime) -> Iterator[dict[str, Any]]:
    """One day: mpesa 10 finished payments (6 succeeded, 1 partially refunded, 2 failed, 1
    expired; 10 … 100 s from push to outcome), airtel 2 succeeded (30 s); 3 more checkouts
    abandoned; 3 shipments at DAR; a 500 TZS refund; 4 mpesa callbacks (1 unauthenticated)
    and 2 airtel ones (both unauthenticated)."""
    made, db, at = Rows(mdb), mdb, day
    plan = ["succeeded"] * 6 + ["partially_refunded", "failed", "failed", "expired"]
    for i, status in enumerate(plan):
        p = made.paid("mpesa", status, at, 10 * (i + 1))
        if status == "partially_refunded":
            db.execute(
                "insert into public.refunds (payment_id, order_id, customer_id, provider, amount, source, status, "
                "created_at, completed_at) select id, order_id, customer_id, 'mpesa', 500, 'review', 'succeeded', "
                "%s, %s from public.payments where id = %s",
                [at, at, p],
            )
    for _ in range(2):
        made.paid("airtel", "succeeded", at, 30)
    for _ in range(3):
        made.order(at, "expired", expired_at=at + dt.timedelta(minutes=30))
    paid_orders = [
        r[0]
        for r in db.execute(
            "select id from public.orders where id = any(%s::uuid[]) and status = 'paid' order by paid_at limit 3",
            [made.orders],
        ).fetchall()
    ]
    center = db.execute("select id from public.fulfillment_centers where code = 'DAR'").fetchone()
    assert center and len(paid_orders) == 3
    hour = dt.timedelta(hours=1)
    for o, dispatched, delivered in (
        (paid_orders[0], 1 * hour, 24 * hour),
        (paid_orders[1], 2 * hour, 48 * hour),
        (paid_orders[2], 3 * hour, None),
    ):
        db.execute(
            "insert into public.shipments (order_id, customer_id, center_id, status, dispatched_at, delivered_at) "
            "select o.id, o.customer_id, %s, %s, o.paid_at + %s, o.paid_at + %s from public.orders o where o.id = %s",
            [center[0], "delivered" if delivered else "dispatched", dispatched, delivered, o],
        )
    for authenticated in (True, True, None, False):
        made.event("mpesa", authenticated, at)
    for _ in range(2):
        made.event("airtel", False, at)
    yield {"day": day}
    made.remove()


def test_payment_success_rate_and_time_to_outcome(admin: Client, business: dict[str, Any]) -> None:
    rows = admin.rpc("metrics_payments", window(business["day"])).execute().data
    by = {r["provider"]: r for r in rows}
    assert set(by) == {"mpesa", "airtel"}
    m = by["mpesa"]
    assert (m["finished"], m["succeeded"], m["failed"], m["expired"]) == (10, 7, 2, 1)
    assert Decimal(str(m["success_rate"])) == Decimal("0.7")
    assert Decimal(str(m["outcome_p50_s"])) == Decimal("55")
    assert Decimal(str(m["outcome_p90_s"])) == Decimal("91")
    assert (by["airtel"]["finished"], by["airtel"]["succeeded"], by["airtel"]["success_rate"]) == (2, 2, 1)
    hourly = admin.rpc("metrics_payments", {**window(business["day"]), "p_bucket": "hour"}).execute().data
    assert {r["bucket"][:13] for r in hourly} == {business["day"].strftime("%Y-%m-%dT09")}


def test_orders_gmv_abandonment_and_refunds(admin: Client, business: dict[str, Any]) -> None:
    rows = admin.rpc("metrics_orders", window(business["day"])).execute().data
    assert len(rows) == 1
    r = rows[0]
    assert r["day"] == business["day"].date().isoformat()
    assert (r["checkouts"], r["paid"], r["gmv"], r["abandoned"]) == (15, 9, 9000, 4)
    assert Decimal(str(r["abandonment_rate"])) == Decimal("0.2667")
    assert (r["refunds"], r["refunded_amount"]) == (1, 500)
    assert Decimal(str(r["refund_rate"])) == Decimal("0.0556")


def test_fulfilment_time_per_center(admin: Client, business: dict[str, Any]) -> None:
    rows = admin.rpc("metrics_fulfilment", window(business["day"])).execute().data
    assert [r["center_code"] for r in rows] == ["DAR"]
    r = rows[0]
    assert (r["shipments"], r["dispatched"], r["delivered"]) == (3, 3, 2)
    assert (r["dispatch_p50_s"], r["dispatch_p90_s"]) == (7200, 10080)
    assert (r["deliver_p50_s"], r["deliver_p90_s"]) == (129600, 164160)


def test_webhook_authentication_failures(admin: Client, business: dict[str, Any]) -> None:
    rows = admin.rpc("metrics_webhooks", window(business["day"])).execute().data
    got = {r["provider"]: (r["callbacks"], r["auth_failures"]) for r in rows}
    assert got == {"mpesa": (4, 1), "airtel": (2, 2)}


def test_now_counts_the_review_queue(admin: Client, mdb: psycopg.Connection, rows: Rows) -> None:
    def queue() -> int:
        rows = admin.rpc("metrics_now", {}).execute().data
        return next(r["value"] for r in rows if r["metric"] == "payments_to_review")

    before = queue()
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    p = rows.paid("mixx", "succeeded", at, 5)
    mdb.execute("update public.payments set needs_review = true, review_reason = 'other' where id = %s", [p])
    assert queue() == before + 1


def test_a_bad_window_is_refused(admin: Client) -> None:
    with pytest.raises(APIError) as exc:
        admin.rpc("metrics_orders", {"p_from": "2020-01-02T00:00:00Z", "p_to": "2020-01-01T00:00:00Z"}).execute()
    assert exc.value.code == "22023"


@pytest.mark.parametrize("who", ["amina", "kariakoo"])
@pytest.mark.parametrize("name", ["metrics_payments", "metrics_orders", "metrics_fulfilment", "metrics_webhooks"])
def test_customers_and_vendors_are_refused(target, who: str, name: str, business: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    client = sign_in(target.url, target.anon_key, phone_of(who))
    with pytest.raises(APIError) as exc:
        client.rpc(name, window(business["day"])).execute()
    assert exc.value.code == "42501"


def test_the_service_role_reads_them(service: Client, business: dict[str, Any]) -> None:
    rows = service.rpc("metrics_payments", window(business["day"])).execute().data
    assert sum(r["finished"] for r in rows) == 12


def test_sparkline_scales_between_the_smallest_and_largest() -> None:
    assert sparkline([0, 7, 14]) == "▁▅█"
    assert sparkline([None, 3, 3]) == " ▅▅"
    assert sparkline([]) == ""


def test_wats_metrics_prints_the_demo_numbers(target, mdb: psycopg.Connection, rows: Rows) -> None:  # type: ignore[no-untyped-def]
    """`wats metrics` over the stack's database: a payment finished an hour ago shows up in
    the payments table and today's orders."""

    def finished(text: str) -> int:  # the halopesa row's "finished" column (0 without a row)
        line = next((row for row in text.splitlines() if row.startswith("halopesa ")), None)
        return int(line.split()[1]) if line else 0

    before = finished(report(mdb, 3))  # other suites may have paid with HaloPesa today
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    rows.paid("halopesa", "succeeded", at, 12)
    text = report(mdb, 3, timing=True)
    assert finished(text) == before + 1, text
    for title in ("Orders per day", "Fulfilment", "Webhooks", "Now", "Timing: metrics_payments"):
        assert title in text, text
    proc = subprocess.run(
        [sys.executable, "-m", "wats", "metrics", "--days", "2", "--db-url", target.db_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "halopesa" in proc.stdout
