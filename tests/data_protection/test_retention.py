"""The retention job (public.apply_retention(), supabase/migrations/20261127001600_data_protection.sql)
run as postgres, as the scheduler runs it, over rows written in old and recent windows: what it
removes, what it masks, what it keeps, and that a second run changes nothing. The scheduled job
`apply-retention` is paused on the test instance (wats.testing.runner.PAUSED_JOBS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.metrics.data import Rows

PHONE = "255711000001"
MASKED = "255****0001"
BODY = b'{"msisdn": "255711000001", "ResultCode": 0}'


@pytest.fixture
def conn(target) -> Iterator[psycopg.Connection]:  # type: ignore[no-untyped-def]
    with psycopg.connect(target.db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def rows(conn: psycopg.Connection) -> Iterator[Rows]:
    made = Rows(conn)
    yield made
    made.remove()


def one(conn: psycopg.Connection, sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def retain(conn: psycopg.Connection) -> dict[str, int]:
    result: dict[str, int] = one(conn, "select public.apply_retention()")
    return result


def days_ago(n: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=n)


def event(conn: psycopg.Connection, rows: Rows, at: dt.datetime, payment_id: str | None = None) -> str:
    eid = one(
        conn,
        "insert into private.payment_events (provider, body, headers, remote_addr, request_path, msisdn, "
        "payment_id, outcome, amount, provider_ref, received_at) values ('mpesa', %s, %s::jsonb, '10.0.0.1', "
        "'/payment-webhook/mpesa/secret-token', %s, %s, 'succeeded', 1000, 'WATS-RET', %s) returning id::text",
        [BODY, '{"x-forwarded-for": "10.0.0.1"}', PHONE, payment_id, at],
    )
    rows.events.append(eid)
    return str(eid)


def notification(conn: psycopg.Connection, user: str, created: dt.datetime, read: dt.datetime | None) -> str:
    return str(
        one(
            conn,
            "insert into public.notifications (user_id, type, title, read_at, created_at) "
            "values (%s, 'system', 'Retention test', %s, %s) returning id::text",
            [user, read, created],
        )
    )


def delivery(conn: psycopg.Connection, notification_id: str, user: str, status: str, at: dt.datetime) -> str:
    conn.execute("delete from private.notification_deliveries where notification_id = %s", [notification_id])
    return str(
        one(
            conn,
            "insert into private.notification_deliveries (notification_id, user_id, channel, purpose, status, "
            "sent_at, created_at, updated_at) values (%s, %s, 'push', 'service', %s, %s, %s, %s) returning id::text",
            [notification_id, user, status, at if status == "sent" else None, at, at],
        )
    )


def audit(conn: psycopg.Connection, at: dt.datetime) -> str:
    return str(
        one(
            conn,
            "insert into public.audit_logs (actor_role, action, entity_type, before, after, context, created_at) "
            "values ('system', 'update', 'vendor_accounts', %s::jsonb, %s::jsonb, %s::jsonb, %s) returning id::text",
            [
                '{"payout_msisdn": "255711000001"}',
                '{"payout_msisdn": "255722000002", "commission_bps": 1000}',
                '{"note": "phone 255711000001 in a sentence stays"}',
                at,
            ],
        )
    )


def payout(conn: psycopg.Connection, at: dt.datetime) -> str:
    """A cancelled payout to a shop's wallet (the seed's first shop), written straight in."""
    return str(
        one(
            conn,
            "insert into private.vendor_payouts (vendor_id, amount, provider, msisdn, source, status, cancelled_at, "
            "created_at) select id, 1000, 'mpesa', '255722000002', 'request', 'cancelled', %s, %s "
            "from public.vendors order by created_at limit 1 returning id::text",
            [at, at],
        )
    )


def snapshot(conn: psycopg.Connection, ids: dict[str, list[str]]) -> list[Any]:
    return [
        conn.execute(
            "select id, to_jsonb(t) - 'updated_at' from private.payment_events t where id = any(%s::uuid[]) "
            "order by id",
            [ids["events"]],
        ).fetchall(),
        conn.execute(
            "select id, phone, shipping_address from public.orders where id = any(%s::uuid[]) order by id",
            [ids["orders"]],
        ).fetchall(),
        conn.execute(
            "select id, msisdn from public.payments where id = any(%s::uuid[]) order by id", [ids["payments"]]
        ).fetchall(),
        conn.execute(
            "select id from public.notifications where id = any(%s::uuid[]) order by id", [ids["notifications"]]
        ).fetchall(),
        conn.execute(
            "select id from private.notification_deliveries where id = any(%s::uuid[]) order by id",
            [ids["deliveries"]],
        ).fetchall(),
        conn.execute(
            "select id, before, after, context from public.audit_logs where id = any(%s::uuid[]) order by id",
            [ids["audit"]],
        ).fetchall(),
        conn.execute(
            "select id, msisdn from private.vendor_payouts where id = any(%s::uuid[]) order by id", [ids["payouts"]]
        ).fetchall(),
    ]


def test_retention_removes_masks_keeps_and_is_idempotent(conn: psycopg.Connection, rows: Rows) -> None:
    retain(conn)  # settle whatever the seed or an earlier test left
    old, recent = days_ago(800), days_ago(10)
    user = rows.customer

    # money: old finished orders and payments (masked), a recent one and one under review (kept)
    old_order = rows.order(old, "completed", paid_at=old, delivered_at=old, completed_at=old)
    old_payment = rows.payment(old_order, "mpesa", "succeeded", old, 10)
    recent_order = rows.order(recent, "cancelled", cancelled_at=recent)
    recent_payment = rows.payment(recent_order, "mpesa", "failed", recent, 10)
    review_order = rows.order(old, "completed", paid_at=old, delivered_at=old, completed_at=old)
    review_payment = rows.payment(review_order, "airtel", "succeeded", old, 10)
    conn.execute(
        "update public.payments set needs_review = true, review_reason = 'other' where id = %s", [review_payment]
    )

    # raw provider events: old (redacted), recent (kept), old of a payment under review (kept)
    old_event = event(conn, rows, days_ago(100), old_payment)
    recent_event = event(conn, rows, days_ago(10), recent_payment)
    review_event = event(conn, rows, days_ago(100), review_payment)

    # notifications: read long ago (deleted), unread and old (kept), read recently (kept)
    read_old = notification(conn, user, days_ago(400), days_ago(200))
    unread_old = notification(conn, user, days_ago(400), None)
    read_recent = notification(conn, user, days_ago(20), days_ago(10))
    notes = [read_old, unread_old, read_recent]
    sent_old = delivery(conn, unread_old, user, "sent", days_ago(40))
    pending_old = delivery(conn, read_recent, user, "pending", days_ago(40))

    audit_old, audit_recent = audit(conn, old), audit(conn, recent)
    payout_old, payout_recent = payout(conn, old), payout(conn, recent)
    ids = {
        "events": [old_event, recent_event, review_event],
        "orders": [old_order, recent_order, review_order],
        "payments": [old_payment, recent_payment, review_payment],
        "notifications": notes,
        "deliveries": [sent_old, pending_old],
        "audit": [audit_old, audit_recent],
        "payouts": [payout_old, payout_recent],
    }
    try:
        result = retain(conn)
        assert result["payment_events_redacted"] >= 1 and result["notifications_deleted"] >= 1, result
        assert result["deliveries_deleted"] >= 1 and result["orders_masked"] >= 1, result
        assert result["payments_masked"] >= 1 and result["audit_logs_masked"] >= 1, result
        assert result["payouts_masked"] >= 1, result

        # raw events: the payload goes, what we understood of it stays
        ev = dict(
            (r[0], r[1:])
            for r in conn.execute(
                "select id::text, body, headers, remote_addr, request_path, msisdn, outcome, amount, provider_ref, "
                "personal_data_removed_at is not null from private.payment_events where id = any(%s::uuid[])",
                [ids["events"]],
            ).fetchall()
        )
        assert ev[old_event] == (None, {}, None, None, MASKED, "succeeded", 1000, "WATS-RET", True)
        for kept in (recent_event, review_event):
            assert bytes(ev[kept][0]) == BODY and ev[kept][4] == PHONE and ev[kept][8] is False, kept

        # money rows: all still there; old finished ones masked, the rest untouched
        orders = dict(
            (r[0], (r[1], r[2]))
            for r in conn.execute(
                "select id::text, phone, shipping_address from public.orders where id = any(%s::uuid[])",
                [ids["orders"]],
            ).fetchall()
        )
        assert set(orders) == set(ids["orders"]), "an order was deleted"
        assert orders[old_order] == (
            MASKED,
            {"recipient_name": "(removed)", "region": "Dar es Salaam", "district": "Ilala", "street": "(removed)"},
        )
        assert orders[recent_order][0] == PHONE and orders[review_order][0] == PHONE
        assert orders[recent_order][1]["recipient_name"] == "Metrics"
        payments: dict[str, str] = dict(
            conn.execute(
                "select id::text, msisdn from public.payments where id = any(%s::uuid[])", [ids["payments"]]
            ).fetchall()
        )
        assert payments == {old_payment: MASKED, recent_payment: PHONE, review_payment: PHONE}
        payouts: dict[str, str] = dict(
            conn.execute(
                "select id::text, msisdn from private.vendor_payouts where id = any(%s::uuid[])", [ids["payouts"]]
            ).fetchall()
        )
        assert payouts == {payout_old: "255****0002", payout_recent: "255722000002"}

        # notifications and deliveries
        left = {r[0] for r in conn.execute("select id::text from public.notifications where id = any(%s::uuid[])",
                                           [notes]).fetchall()}  # fmt: skip
        assert left == {unread_old, read_recent}
        deliveries = {
            r[0]
            for r in conn.execute(
                "select id::text from private.notification_deliveries where id = any(%s::uuid[])",
                [ids["deliveries"]],
            ).fetchall()
        }
        assert deliveries == {pending_old}

        # audit rows: kept, whole phone values masked, free text and other values untouched
        audits = dict(
            (r[0], r[1:])
            for r in conn.execute(
                "select id::text, before, after, context from public.audit_logs where id = any(%s::uuid[])",
                [ids["audit"]],
            ).fetchall()
        )
        assert audits[audit_old] == (
            {"payout_msisdn": MASKED},
            {"payout_msisdn": "255****0002", "commission_bps": 1000},
            {"note": "phone 255711000001 in a sentence stays"},
        )
        assert audits[audit_recent][0] == {"payout_msisdn": PHONE}

        # a second run changes nothing
        before = snapshot(conn, ids)
        again = retain(conn)
        assert set(again.values()) == {0}, again
        assert snapshot(conn, ids) == before
    finally:
        conn.execute("delete from public.notifications where id = any(%s::uuid[])", [notes])
        conn.execute("delete from private.vendor_payouts where id = any(%s::uuid[])", [ids["payouts"]])


def test_audit_logs_stay_append_only_but_for_masking(conn: psycopg.Connection) -> None:
    """Only the masking update passes the guard, and only with the retention setting."""
    row = audit(conn, days_ago(1))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("update public.audit_logs set after = private.mask_phones_in_json(after) where id = %s", [row])
    with conn.transaction():
        conn.execute("select set_config('wats.retention', 'mask', true)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update public.audit_logs set action = 'forged' where id = %s", [row])
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("delete from public.audit_logs where id = %s", [row])
    with conn.transaction():
        conn.execute("select set_config('wats.retention', 'mask', true)")
        conn.execute(
            "update public.audit_logs set before = private.mask_phones_in_json(before), "
            "after = private.mask_phones_in_json(after) where id = %s",
            [row],
        )
    assert one(conn, "select before ->> 'payout_msisdn' from public.audit_logs where id = %s", [row]) == MASKED
