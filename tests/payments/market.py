"""A small marketplace the payment tests arrange and act on.

Arranging (shops, products, stock) goes straight to the database as `postgres`; acting
goes through the real callers: customers are created with the Auth admin API, fill their
carts through the Data API with their own JWT, and pay through the `checkout-initiate`
Edge Function, whose provider adapters talk to the mobile-money sandbox, which calls
`payment-webhook` back.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from postgrest import SyncPostgrestClient
from supabase import Client
from supabase_auth.errors import AuthApiError

from wats.access_tokens import issued_token

ADDRESS = {
    "recipient_name": "Amina Juma",
    "region": "Dar es Salaam",
    "district": "Ilala",
    "street": "Samora Avenue 12",
}
OPEN = ("pending", "initiated", "ambiguous")


@dataclass
class Customer:
    id: str
    phone: str
    token: str
    rest: SyncPostgrestClient


class Market:
    def __init__(self, target: Any, db: psycopg.Connection, service: Client):
        self.target = target
        self.db = db
        self.service = service
        self.http = httpx.Client(timeout=60)
        self._refund_admin: Customer | None = None

    # -- arranging -------------------------------------------------------------------------
    def new_user(self, suffix: str = "00") -> tuple[str, str]:
        """A new auth user (through the Auth admin API) whose phone ends in ``suffix``."""
        for _ in range(5):
            phone = "2558" + f"{random.randrange(10**6):06d}" + suffix
            try:
                user = self.service.auth.admin.create_user({"phone": phone, "phone_confirm": True})
            except AuthApiError as exc:
                if exc.code == "phone_exists":
                    continue  # a random number another test already took
                raise
            return user.user.id, phone
        raise AssertionError("could not find a free test phone")

    def customer(self, suffix: str = "00") -> Customer:
        """A customer; the sandbox picks the payment outcome from the phone's last digits."""
        user_id, phone = self.new_user(suffix)
        return self.as_user(user_id, phone)

    def as_user(self, user_id: str, phone: str = "") -> Customer:
        """Act as an existing user: an access token as Auth issues it now, through the custom
        access token hook (an admin's names the database role wats_admin)."""
        token = issued_token(self.db, self.target.jwt_secret, user_id, phone)
        rest = SyncPostgrestClient(f"{self.target.url}/rest/v1", headers={"apikey": self.target.anon_key})
        rest.auth(token)
        return Customer(user_id, phone, token, rest)

    def admin(self) -> Customer:
        """A new admin (fulfilment staff too, today)."""
        user_id, phone = self.new_user("10")
        self.db.execute("update public.profiles set role = 'admin' where id = %s", [user_id])
        return self.as_user(user_id, phone)

    def owner_of(self, shop: str) -> Customer:
        """The vendor who owns ``shop``."""
        row = self.db.execute("select owner_id::text from public.vendors where id = %s", [shop]).fetchone()
        assert row is not None
        return self.as_user(row[0])

    def rpc(self, who: Customer | str, fn: str, args: dict[str, Any]) -> httpx.Response:
        """An RPC through the Data API as a user (their token) or with a key."""
        token = who.token if isinstance(who, Customer) else who
        return self.http.post(
            f"{self.target.url}/rest/v1/rpc/{fn}",
            json=args,
            headers={"apikey": self.target.anon_key, "Authorization": f"Bearer {token}"},
        )

    def shop(self, *, approved: bool = True) -> str:
        owner, _phone = self.new_user("10")
        row = self.db.execute(
            "insert into public.vendors (owner_id, name, slug, status) values (%s, %s, %s, %s) returning id",
            [owner, "Test shop", f"test-shop-{uuid.uuid4().hex[:10]}", "approved" if approved else "pending"],
        ).fetchone()
        assert row is not None
        return str(row[0])

    def product(
        self,
        stock: dict[str, int] | int = 10,
        *,
        price: int = 10_000,
        shop: str | None = None,
        status: str = "active",
    ) -> str:
        vendor = shop or self.shop()
        row = self.db.execute(
            "insert into public.products (vendor_id, title, price, status) values (%s, %s, %s, %s) returning id",
            [vendor, f"Test product {uuid.uuid4().hex[:6]}", price, status],
        ).fetchone()
        assert row is not None
        product_id = str(row[0])
        per_center = {"DAR": stock} if isinstance(stock, int) else stock
        for code, on_hand in per_center.items():
            self.db.execute(
                "insert into public.inventory (product_id, center_id, on_hand) "
                "select %s, id, %s from public.fulfillment_centers where code = %s",
                [product_id, on_hand, code],
            )
        return product_id

    def stock(self, product_id: str) -> dict[str, tuple[int, int]]:
        rows = self.db.execute(
            "select c.code, i.on_hand, i.reserved from public.inventory i "
            "join public.fulfillment_centers c on c.id = i.center_id where i.product_id = %s",
            [product_id],
        ).fetchall()
        return {code: (on_hand, reserved) for code, on_hand, reserved in rows}

    # -- acting as the customer ------------------------------------------------------------------
    def fill_cart(self, customer: Customer, items: list[tuple[str, int]]) -> None:
        customer.rest.from_("carts").upsert(
            {"customer_id": customer.id}, on_conflict="customer_id", ignore_duplicates=True
        ).execute()
        cart = customer.rest.from_("carts").select("id").execute().data[0]["id"]
        customer.rest.from_("cart_items").delete().eq("cart_id", cart).execute()
        for product_id, quantity in items:
            customer.rest.from_("cart_items").insert(
                {"cart_id": cart, "product_id": product_id, "quantity": quantity}
            ).execute()

    def checkout(
        self,
        customer: Customer,
        provider: str = "airtel",
        *,
        key: str | None = None,
        body: dict[str, Any] | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        return (client or self.http).post(
            f"{self.target.url}/functions/v1/checkout-initiate",
            json=body if body is not None else {"provider": provider, "shipping_address": ADDRESS},
            headers={
                "Authorization": f"Bearer {customer.token}",
                "apikey": self.target.anon_key,
                "Idempotency-Key": key or f"test-{uuid.uuid4()}",
            },
        )

    def buy(self, customer: Customer, provider: str = "airtel", quantity: int = 1, **product: Any) -> dict[str, Any]:
        """Put one new product in the cart and check out; returns the 202 body."""
        product_id = self.product(**product)
        self.fill_cart(customer, [(product_id, quantity)])
        response = self.checkout(customer, provider)
        assert response.status_code == 202, response.text
        return response.json() | {"product_id": product_id}

    # -- observing -------------------------------------------------------------------------
    def payment(self, payment_id: str) -> dict[str, Any]:
        row = self.db.execute(
            "select p.status, p.failure_reason, p.needs_review, p.review_reason, o.status, r.reference, "
            "p.provider, p.msisdn, p.order_id from public.payments p join public.orders o on o.id = p.order_id "
            "join private.payment_references r on r.payment_id = p.id where p.id = %s",
            [payment_id],
        ).fetchone()
        assert row is not None
        names = [
            "status",
            "failure_reason",
            "needs_review",
            "review_reason",
            "order_status",
            "provider_ref",
            "provider",
            "msisdn",
            "order_id",
        ]
        return dict(zip(names, row, strict=True))

    def wait_payment(
        self, payment_id: str, *, until: tuple[str, ...] | None = None, timeout: float = 15.0
    ) -> dict[str, Any]:
        """Poll until the payment leaves the open states (or reaches one of ``until``)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.payment(payment_id)
            done = state["status"] in until if until else state["status"] not in OPEN
            if done or time.monotonic() > deadline:
                return state
            time.sleep(0.1)

    def events(self, payment_id: str) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in self.db.execute(
                "select source, status from private.payment_events where payment_id = %s order by received_at",
                [payment_id],
            ).fetchall()
        ]

    def notifications(self, user_id: str) -> list[str]:
        rows = self.db.execute(
            "select type from public.notifications where user_id = %s order by created_at", [user_id]
        ).fetchall()
        return [r[0] for r in rows]

    # -- the sandbox and the jobs ------------------------------------------------------------------
    def sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.http.request(method, f"{self.target.sandbox_url}{path}", **kwargs)
        r.raise_for_status()
        return r.json()

    def sandbox_txn(self, provider: str, msisdn: str) -> dict[str, Any]:
        rows = self.sandbox("GET", "/_sandbox/transactions", params={"provider": provider, "msisdn": msisdn})
        assert rows, f"the sandbox saw no {provider} push for {msisdn}"
        return rows[-1]

    def send_callback(self, provider: str, msisdn: str, **body: Any) -> None:
        txn = self.sandbox_txn(provider, msisdn)
        self.sandbox("POST", f"/_sandbox/transactions/{provider}/{txn['ref']}/callback", json=body)
        self.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})

    def reconcile(self, min_age_seconds: int = 0) -> dict[str, Any]:
        r = self.http.post(
            f"{self.target.url}/functions/v1/payment-reconcile",
            json={"min_age_seconds": min_age_seconds},
            headers={"Authorization": f"Bearer {self.target.service_role_key}"},
        )
        assert r.status_code == 200, r.text
        return r.json()

    def reconcile_until(self, payment_id: str, statuses: tuple[str, ...], timeout: float = 10.0) -> dict[str, Any]:
        """Run the reconcile job (as the scheduler does) until the payment settles."""
        deadline = time.monotonic() + timeout
        while True:
            self.reconcile()
            state = self.payment(payment_id)
            if state["status"] in statuses or time.monotonic() > deadline:
                return state
            time.sleep(0.3)

    def expire_now(self, order_id: str) -> None:
        """Move an order's payment window into the past (time travel for expiry tests)."""
        self.db.execute("update public.orders set expires_at = now() - interval '1 hour' where id = %s", [order_id])

    def expire(self) -> dict[str, Any]:
        """The expiry job, called as the scheduler calls it (service role RPC)."""
        r = self.http.post(
            f"{self.target.url}/rest/v1/rpc/expire_overdue_payments",
            json={},
            headers={"apikey": self.target.anon_key, "Authorization": f"Bearer {self.target.service_role_key}"},
        )
        assert r.status_code == 200, r.text
        return r.json()

    # -- refunds (docs/payments.md, "Refunds") -----------------------------------------------
    def refund_admin(self) -> Customer:
        """One admin of this Market for granting, retrying and recording refunds."""
        if self._refund_admin is None:
            self._refund_admin = self.admin()
        return self._refund_admin

    def paid(self, provider: str, suffix: str = "00", **product: Any) -> dict[str, Any]:
        """A new customer whose phone ends in ``suffix`` buys one product and pays; the
        bought answer plus ``customer``, ``msisdn`` and the payment's ``amount``."""
        customer = self.customer(suffix)
        bought = self.buy(customer, provider, **product)
        self.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})
        state = self.wait_payment(bought["payment_id"], until=("succeeded", "failed"), timeout=20)
        assert state["status"] == "succeeded", state
        return bought | {"customer": customer, "msisdn": customer.phone}

    def grant_refund(self, payment_id: str, amount: int, *, key: str | None = None) -> httpx.Response:
        """An admin grants a refund through the Data API (``rpc/refund_payment``)."""
        return self.rpc(
            self.refund_admin(),
            "refund_payment",
            {
                "p_payment_id": payment_id,
                "p_amount": amount,
                "p_reason": "test refund",
                "p_idempotency_key": key or f"refund-{uuid.uuid4()}",
                "p_source": "review",
            },
        )

    def granted(self, payment_id: str, amount: int) -> str:
        """A refund of ``amount`` granted (asserted); its id."""
        r = self.grant_refund(payment_id, amount)
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def admin_rpc(self, fn: str, args: dict[str, Any]) -> httpx.Response:
        return self.rpc(self.refund_admin(), fn, args)

    def refund_execute(self, client: httpx.Client | None = None, **options: Any) -> dict[str, Any]:
        """One run of refund-execute, as the scheduler calls it (service role)."""
        r = (client or self.http).post(
            f"{self.target.url}/functions/v1/refund-execute",
            json={"limit": 500, **options},
            headers={"Authorization": f"Bearer {self.target.service_role_key}"},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    @staticmethod
    def result_for(run: dict[str, Any], refund_id: str) -> dict[str, Any] | None:
        found = [r for r in run["results"] if r["refund_id"] == refund_id]
        assert len(found) <= 1, found
        return found[0] if found else None

    def refund(self, refund_id: str) -> dict[str, Any]:
        row = self.db.execute(
            "select status, method, provider_refund_id, failure_reason, attempts, reference, amount, "
            "manual_reference from public.refunds where id = %s",
            [refund_id],
        ).fetchone()
        assert row is not None
        names = [
            "status",
            "method",
            "provider_refund_id",
            "failure_reason",
            "attempts",
            "reference",
            "amount",
            "manual_reference",
        ]
        return dict(zip(names, row, strict=True))

    def money(self, payment_id: str) -> tuple[str, int, int]:
        """(payment status, refunded_amount, amount)."""
        row = self.db.execute(
            "select status, refunded_amount, amount from public.payments where id = %s", [payment_id]
        ).fetchone()
        assert row is not None
        return str(row[0]), int(row[1]), int(row[2])

    def payouts(self, **filters: str) -> list[dict[str, Any]]:
        """What the sandbox recorded of money sent back (status paid = paid out)."""
        return list(self.sandbox("GET", "/_sandbox/payouts", params=filters))

    def age_refund(self, refund_id: str) -> None:
        """Time travel: the refund's last answer an hour ago, so the next run asks about it."""
        self.db.execute(
            "update public.refunds set claimed_at = now() - interval '1 hour', "
            "last_checked_at = now() - interval '1 hour' where id = %s",
            [refund_id],
        )

    def claim_says_whole_payment(self) -> bool:
        """Whether claim_refund tells the sender that a refund is the whole payment (then
        Airtel gives it back through its refund API; otherwise by disbursement)."""
        row = self.db.execute("select pg_get_functiondef('public.claim_refund(uuid)'::regprocedure)").fetchone()
        return row is not None and "whole_payment" in str(row[0])

    # -- money out (docs/money.md) -------------------------------------------------------------
    def deliver(self, order_id: str, staff: Customer | None = None) -> None:
        """Fulfilment staff pack, dispatch and deliver every parcel of the order."""
        staff = staff or self.refund_admin()
        rows = self.db.execute("select id::text from public.shipments where order_id = %s", [order_id]).fetchall()
        for (shipment,) in rows:
            for fn, extra in (
                ("pack_shipment", {}),
                ("dispatch_shipment", {"p_carrier": "Boda", "p_tracking_number": "T1"}),
                ("confirm_delivery", {}),
            ):
                r = self.rpc(staff, fn, {"p_shipment_id": shipment, **extra})
                assert r.status_code == 200, r.text

    def complete(self, order_id: str) -> None:
        """The return window passes (delivery moved a week back) and the hourly job runs."""
        self.db.execute(
            "update public.shipments set delivered_at = now() - interval '8 days' where order_id = %s", [order_id]
        )
        self.db.execute("update public.orders set delivered_at = now() - interval '8 days' where id = %s", [order_id])
        r = self.rpc(self.target.service_role_key, "complete_orders", {})
        assert r.status_code == 200, r.text
        status = self.db.execute("select status from public.orders where id = %s", [order_id]).fetchone()
        assert status == ("completed",), status

    def balances(self, owner: Customer, shop: str | None = None) -> dict[str, int]:
        """A vendor's balances as they read them (rpc/vendor_balance)."""
        r = self.rpc(owner, "vendor_balance", {"p_vendor_id": shop} if shop else {})
        assert r.status_code == 200, r.text
        return {k: int(v) for k, v in r.json().items() if k != "vendor_id"}

    def service_rpc(self, fn: str, args: dict[str, Any]) -> httpx.Response:
        return self.rpc(self.target.service_role_key, fn, args)

    def points(self, customer: Customer) -> int:
        r = self.rpc(customer, "loyalty_balance", {})
        assert r.status_code == 200, r.text
        return int(r.json())

    def webhook(self, provider: str, body: bytes | str, **headers: str) -> httpx.Response:
        return self.http.post(
            f"{self.target.url}/functions/v1/payment-webhook/{provider}",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
