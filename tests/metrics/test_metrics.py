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
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from postgrest.exceptions import APIError
from supabase import Client

from wats.metrics import report, sparkline
from wats.seed.catalog import PEOPLE
from wats.seed.sessions import sign_in

ADDRESS = '{"recipient_name": "Metrics", "region": "Dar es Salaam", "district": "Ilala", "street": "1"}'


def phone_of(key: str) -> str:
    return next(p.phone for p in PEOPLE if p.key == key)


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


@pytest.fixture(scope="module")
def customer_id(mdb: psycopg.Connection) -> str:
    db = mdb
    row = db.execute("select id::text from public.profiles where phone = %s", [phone_of("amina")]).fetchone()
    assert row, "seed the stack (wats db reset)"
    return str(row[0])


def order(db: psycopg.Connection, customer: str, at: dt.datetime, status: str, **times: dt.datetime) -> str:
    columns = ", ".join(times)
    marks = ", ".join(["%s"] * len(times))
    row = db.execute(
        "insert into public.orders (customer_id, status, subtotal, total, shipping_address, phone, idempotency_key, "
        f"expires_at, created_at{', ' + columns if times else ''}) "
        f"values (%s, %s, 1000, 1000, %s::jsonb, '255711000001', %s, %s, %s{', ' + marks if times else ''}) "
        "returning id::text",
        [customer, status, ADDRESS, f"metrics-{uuid.uuid4()}", at + dt.timedelta(minutes=30), at, *times.values()],
    ).fetchone()
    assert row
    return str(row[0])


def payment(
    db: psycopg.Connection, customer: str, order_id: str, provider: str, status: str, at: dt.datetime, seconds: int
) -> str:
    row = db.execute(
        "insert into public.payments (order_id, customer_id, provider, msisdn, amount, status, created_at, "
        "push_requested_at, completed_at, refunded_amount) "
        "values (%s, %s, %s, '255711000001', 1000, %s, %s, %s, %s, %s) returning id::text",
        [
            order_id,
            customer,
            provider,
            status,
            at,
            at,
            at + dt.timedelta(seconds=seconds),
            500 if status == "partially_refunded" else 0,
        ],
    ).fetchone()
    assert row
    return str(row[0])


@pytest.fixture(scope="module")
def business(mdb: psycopg.Connection, customer_id: str, day: dt.datetime) -> Iterator[dict[str, Any]]:
    """One day: mpesa 10 finished payments (6 succeeded, 1 partially refunded, 2 failed, 1
    expired; 10 … 100 s from push to outcome), airtel 2 succeeded (30 s); 3 more checkouts
    abandoned; 3 shipments at DAR; a 500 TZS refund; 4 mpesa callbacks (1 unauthenticated)
    and 2 airtel ones (both unauthenticated)."""
    db, c, at = mdb, customer_id, day
    paid_orders = []
    plan = [("mpesa", "succeeded")] * 6 + [("mpesa", "partially_refunded"), ("mpesa", "failed"), ("mpesa", "failed")]
    plan += [("mpesa", "expired")]
    for i, (provider, status) in enumerate(plan):
        seconds = 10 * (i + 1)
        if status in ("succeeded", "partially_refunded"):
            o = order(db, c, at, "paid", paid_at=at + dt.timedelta(seconds=seconds))
            paid_orders.append(o)
        elif status == "expired":
            o = order(db, c, at, "expired", expired_at=at + dt.timedelta(minutes=30))
        else:
            o = order(db, c, at, "cancelled", cancelled_at=at + dt.timedelta(seconds=seconds))
        p = payment(db, c, o, provider, status, at, seconds)
        if status == "partially_refunded":
            db.execute(
                "insert into public.refunds (payment_id, order_id, customer_id, provider, amount, source, status, "
                "created_at, completed_at) values (%s, %s, %s, 'mpesa', 500, 'review', 'succeeded', %s, %s)",
                [p, o, c, at, at],
            )
    for _ in range(2):
        o = order(db, c, at, "paid", paid_at=at + dt.timedelta(seconds=30))
        paid_orders.append(o)
        payment(db, c, o, "airtel", "succeeded", at, 30)
    for _ in range(3):
        order(db, c, at, "expired", expired_at=at + dt.timedelta(minutes=30))
    center = db.execute("select id from public.fulfillment_centers where code = 'DAR'").fetchone()
    assert center
    hour = dt.timedelta(hours=1)
    for o, dispatched, delivered in (
        (paid_orders[0], 1 * hour, 24 * hour),
        (paid_orders[1], 2 * hour, 48 * hour),
        (paid_orders[2], 3 * hour, None),
    ):
        paid = db.execute("select paid_at from public.orders where id = %s", [o]).fetchone()
        assert paid
        db.execute(
            "insert into public.shipments (order_id, customer_id, center_id, status, dispatched_at, delivered_at) "
            "values (%s, %s, %s, %s, %s, %s)",
            [
                o,
                c,
                center[0],
                "delivered" if delivered else "dispatched",
                paid[0] + dispatched,
                paid[0] + delivered if delivered else None,
            ],
        )
    for provider, authenticated in (("mpesa", True), ("mpesa", True), ("mpesa", None), ("mpesa", False)):
        db.execute(
            "insert into private.payment_events (provider, body, authenticated, received_at) values (%s, 'x', %s, %s)",
            [provider, authenticated, at],
        )
    for _ in range(2):
        db.execute(
            "insert into private.payment_events (provider, body, authenticated, received_at) "
            "values ('airtel', 'x', false, %s)",
            [at],
        )
    yield {"day": day}


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


def test_now_counts_the_review_queue(admin: Client, db: psycopg.Connection, customer_id: str) -> None:
    def queue() -> int:
        rows = admin.rpc("metrics_now", {}).execute().data
        return next(r["value"] for r in rows if r["metric"] == "payments_to_review")

    before = queue()
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    o = order(db, customer_id, at, "paid", paid_at=at)
    p = payment(db, customer_id, o, "mixx", "succeeded", at, 5)
    db.execute("update public.payments set needs_review = true, review_reason = 'other' where id = %s", [p])
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


def test_wats_metrics_prints_the_demo_numbers(target, mdb: psycopg.Connection, customer_id: str) -> None:  # type: ignore[no-untyped-def]
    """`wats metrics` over the stack's database: a payment finished an hour ago shows up in
    the payments table and today's orders."""
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    o = order(mdb, customer_id, at, "paid", paid_at=at)
    payment(mdb, customer_id, o, "halopesa", "succeeded", at, 12)
    text = report(mdb, 3, timing=True)
    line = next(row for row in text.splitlines() if row.startswith("halopesa"))
    assert " 1 " in f" {line} " and "12" in line, line
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
