"""Instalment plans (lipa kidogo kidogo) as the tests drive them: a customer checks out with
``plan`` through ``checkout-initiate``, the scheduler's run of ``instalment-push`` (service
role) pushes due instalments, the customer pays the next one through ``instalment-push``
with their own token, and the sandbox answers as each provider does. Time moves by SQL
updates of due dates (never by sleeping)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.payments.market import ADDRESS, Customer, Market


@dataclass
class Bought:
    """A checkout on an instalment plan: the 202 body and what it was made of."""

    body: dict[str, Any]
    customer: Customer
    product: str
    shop: str

    @property
    def order_id(self) -> str:
        return str(self.body["order_id"])

    @property
    def plan_id(self) -> str:
        return str(self.body["plan"]["plan_id"])

    @property
    def payment_id(self) -> str:
        return str(self.body["payment_id"])


class Plans:
    def __init__(self, market: Market):
        self.market = market
        self.db = market.db

    # -- acting ----------------------------------------------------------------------------
    def checkout(
        self, customer: Customer, plan: str | None, provider: str = "airtel", key: str | None = None, **extra: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"provider": provider, "shipping_address": ADDRESS, **extra}
        if plan is not None:
            body["plan"] = plan
        return self.market.checkout(customer, provider, key=key, body=body)

    def buy(
        self,
        plan: str = "pay_in_3",
        *,
        suffix: str = "00",
        provider: str = "airtel",
        price: int = 30_000,
        quantity: int = 1,
        stock: int = 10,
        customer: Customer | None = None,
        wait: bool = True,
    ) -> Bought:
        """A new customer (phone ending in ``suffix``) buys one new product on a plan; with
        ``wait`` the first instalment's payment has settled (as the sandbox decided)."""
        buyer = customer or self.market.customer(suffix)
        shop = self.market.shop()
        product = self.market.product(stock, price=price, shop=shop)
        self.market.fill_cart(buyer, [(product, quantity)])
        answer = self.checkout(buyer, plan, provider)
        assert answer.status_code == 202, answer.text
        bought = Bought(answer.json(), buyer, product, shop)
        if wait:
            self.market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
            self.market.wait_payment(bought.payment_id, timeout=20)
        return bought

    def job(self, **options: Any) -> dict[str, Any]:
        """One run of the instalment job, as the scheduler calls it (service role)."""
        answer = self.market.http.post(
            f"{self.market.target.url}/functions/v1/instalment-push",
            json=options,
            headers={"Authorization": f"Bearer {self.market.target.service_role_key}"},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def pay_next(self, customer: Customer, plan_id: str, client: httpx.Client | None = None) -> httpx.Response:
        """The customer taps "pay the next instalment now" in the app."""
        return (client or self.market.http).post(
            f"{self.market.target.url}/functions/v1/instalment-push",
            json={"plan_id": plan_id},
            headers={"Authorization": f"Bearer {customer.token}", "apikey": self.market.target.anon_key},
        )

    def callback(self, provider: str, customer: Customer, outcome: str) -> None:
        """The provider's answer to the customer's latest prompt (sandbox scenario 90: the
        test decides)."""
        self.market.send_callback(provider, customer.phone, outcome=outcome)

    # -- time ------------------------------------------------------------------------------
    def due(self, plan_id: str, number: int, ago: str = "1 minute") -> None:
        """Instalment ``number`` falls due (its due time moved to ``ago`` in the past)."""
        self.db.execute(
            "update public.instalments set due_at = now() - %s::interval where plan_id = %s and number = %s",
            [ago, plan_id, number],
        )

    def age_attempts(self, plan_id: str, hours: int) -> None:
        """The instalment payments of a plan ended ``hours`` ago (for the retry interval)."""
        self.db.execute(
            "update public.payments set created_at = created_at - make_interval(hours => %s), "
            "completed_at = completed_at - make_interval(hours => %s) "
            "where instalment_id in (select id from public.instalments where plan_id = %s)",
            [hours, hours, plan_id],
        )

    # -- observing -------------------------------------------------------------------------
    def plan(self, plan_id: str) -> dict[str, Any]:
        row = self.db.execute(
            "select b.status, b.total, b.plan, o.status, o.total from public.bnpl_orders b "
            "join public.orders o on o.id = b.order_id where b.id = %s",
            [plan_id],
        ).fetchone()
        assert row is not None
        return dict(zip(["status", "total", "plan", "order_status", "order_total"], row, strict=True))

    def instalments(self, plan_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "select number, amount, status, payment_id::text, due_at, reminded_at from public.instalments "
            "where plan_id = %s order by number",
            [plan_id],
        ).fetchall()
        names = ["number", "amount", "status", "payment_id", "due_at", "reminded_at"]
        return [dict(zip(names, r, strict=True)) for r in rows]

    def statuses(self, plan_id: str) -> list[str]:
        return [i["status"] for i in self.instalments(plan_id)]

    def payments(self, plan_id: str, number: int | None = None) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "select p.id::text, i.number, p.status, p.amount, p.needs_review, p.review_reason, p.failure_reason "
            "from public.payments p join public.instalments i on i.id = p.instalment_id "
            "where i.plan_id = %s and (%s::integer is null or i.number = %s) order by p.attempt",
            [plan_id, number, number],
        ).fetchall()
        names = ["id", "number", "status", "amount", "needs_review", "review_reason", "failure_reason"]
        return [dict(zip(names, r, strict=True)) for r in rows]

    def settle(self, payment_id: str) -> dict[str, Any]:
        """Wait for a payment's outcome (the sandbox's callback through payment-webhook)."""
        self.market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
        return self.market.wait_payment(payment_id, timeout=20)

    def sales(self, order_id: str) -> list[tuple[str, str, int]]:
        """The sale postings of an order: (cause type, kind, unallocated leg)."""
        rows = self.db.execute(
            "select t.cause_type, t.kind, coalesce(sum(e.amount) filter (where a.kind = 'unallocated'), 0) "
            "from private.ledger_transfers t join private.ledger_entries e on e.transfer_id = t.id "
            "join private.ledger_accounts a on a.id = e.account_id "
            "where t.kind = 'sale' and (t.cause_id = %s or t.cause_id in "
            "(select id from public.payments where order_id = %s)) group by t.id, t.cause_type, t.kind",
            [order_id, order_id],
        ).fetchall()
        return [(str(a), str(b), int(c)) for a, b, c in rows]

    def refunds(self, order_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "select id::text, payment_id::text, amount, source, status from public.refunds "
            "where order_id = %s order by created_at, id",
            [order_id],
        ).fetchall()
        names = ["id", "payment_id", "amount", "source", "status"]
        return [dict(zip(names, r, strict=True)) for r in rows]

    def setting(self, key: str, value: int) -> int:
        """Change a setting; returns the old value (put it back in a finally)."""
        row = self.db.execute("select value::text from private.settings where key = %s", [key]).fetchone()
        assert row is not None
        self.db.execute("update private.settings set value = %s::jsonb where key = %s", [str(value), key])
        return int(row[0])

    @staticmethod
    def key() -> str:
        return f"test-{uuid.uuid4()}"
