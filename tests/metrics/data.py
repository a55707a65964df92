"""Rows written straight into the tables (as postgres) for the metrics and alert tests, and
removed again afterwards: they bypass the payment flow (no ledger postings), so they must
not outlive the test that needs them (tests/payments checks the money invariants)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import psycopg

from wats.seed.catalog import PEOPLE

ADDRESS = '{"recipient_name": "Metrics", "region": "Dar es Salaam", "district": "Ilala", "street": "1"}'


def phone_of(key: str) -> str:
    return next(p.phone for p in PEOPLE if p.key == key)


@dataclass
class Rows:
    db: psycopg.Connection
    customer: str = ""
    orders: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        row = self.db.execute("select id::text from public.profiles where phone = %s", [phone_of("amina")]).fetchone()
        assert row, "seed the stack (wats db reset)"
        self.customer = str(row[0])

    def order(self, at: dt.datetime, status: str, **times: dt.datetime) -> str:
        columns = "".join(f", {c}" for c in times)
        marks = ", %s" * len(times)
        row = self.db.execute(
            "insert into public.orders (customer_id, status, subtotal, total, shipping_address, phone, "
            f"idempotency_key, expires_at, created_at{columns}) "
            f"values (%s, %s, 1000, 1000, %s::jsonb, '255711000001', %s, %s, %s{marks}) returning id::text",
            [self.customer, status, ADDRESS, f"metrics-{uuid.uuid4()}", at + dt.timedelta(minutes=30), at,
             *times.values()],
        ).fetchone()  # fmt: skip
        assert row
        self.orders.append(str(row[0]))
        return str(row[0])

    def payment(
        self,
        order_id: str,
        provider: str,
        status: str,
        at: dt.datetime,
        seconds: int | None,
        pushed: dt.datetime | None = None,
    ) -> str:
        row = self.db.execute(
            "insert into public.payments (order_id, customer_id, provider, msisdn, amount, status, created_at, "
            "push_requested_at, completed_at, refunded_amount) "
            "values (%s, %s, %s, '255711000001', 1000, %s, %s, %s, %s, %s) returning id::text",
            [
                order_id,
                self.customer,
                provider,
                status,
                at,
                pushed or at,
                at + dt.timedelta(seconds=seconds) if seconds is not None else None,
                500 if status == "partially_refunded" else 0,
            ],
        ).fetchone()
        assert row
        self.payments.append(str(row[0]))
        return str(row[0])

    def paid(self, provider: str, status: str, at: dt.datetime, seconds: int = 10) -> str:
        """An order and its final payment (paid, cancelled or expired to match)."""
        if status in ("succeeded", "partially_refunded", "refunded"):
            o = self.order(at, "paid", paid_at=at + dt.timedelta(seconds=seconds))
        elif status == "expired":
            o = self.order(at, "expired", expired_at=at + dt.timedelta(minutes=30))
        else:
            o = self.order(at, "cancelled", cancelled_at=at + dt.timedelta(seconds=seconds))
        return self.payment(o, provider, status, at, seconds)

    def event(self, provider: str, authenticated: bool | None, at: dt.datetime) -> str:
        row = self.db.execute(
            "insert into private.payment_events (provider, body, authenticated, received_at) "
            "values (%s, 'x', %s, %s) returning id::text",
            [provider, authenticated, at],
        ).fetchone()
        assert row
        self.events.append(str(row[0]))
        return str(row[0])

    def remove(self) -> None:
        db = self.db
        db.execute("delete from private.payment_events where id = any(%s::uuid[])", [self.events])
        db.execute("delete from public.shipments where order_id = any(%s::uuid[])", [self.orders])
        db.execute("delete from public.refunds where order_id = any(%s::uuid[])", [self.orders])
        db.execute("delete from public.payments where order_id = any(%s::uuid[])", [self.orders])
        db.execute("delete from public.orders where id = any(%s::uuid[])", [self.orders])
        self.orders.clear()
        self.payments.clear()
        self.events.clear()
