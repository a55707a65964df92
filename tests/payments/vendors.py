"""Vendors with earnings to pay out, for the payout tests (docs/payments.md, "Payouts").

Arranging goes through the real callers where a person would act: the vendor registers
the payout wallet and asks for a payout through the Data API with their own JWT, a customer
pays through checkout-initiate and the sandbox, an admin packs, dispatches and confirms the
delivery and approves payouts through the Data API, the scheduler's calls (run_payouts,
complete_orders, payout-execute) go with the service role key. Only what a test needs to
skip in time goes to the database as ``postgres``: the return window is made to have
passed (delivery dated back) and a payout's last answer made old.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.payments.market import Customer, Market

#: The wallet number prefixes of each provider's network (what ClickPesa routes by, too).
WALLET_PREFIX = {"mpesa": "25575", "airtel": "25568", "mixx": "25565", "halopesa": "25562"}
#: What the sandbox calls each provider's way of paying a vendor, by vendor_payouts.method.
SANDBOX_METHOD = {"b2c": "b2c", "disbursement": "disbursement", "payout": "payout"}
#: The method payout-execute records for a payout to a wallet of each provider.
METHOD = {"mpesa": "b2c", "airtel": "disbursement", "mixx": "b2c", "halopesa": "payout"}


@dataclass
class Vendor:
    id: str
    owner: Customer
    provider: str
    wallet: str
    #: The wallet holder's name as the provider's KYC record holds it (the sandbox's).
    holder: str


class Payouts:
    """A Market's vendors, their payouts and the payout-execute runs."""

    def __init__(self, market: Market):
        self.market = market
        self.db = market.db
        self._admin: Customer | None = None

    # -- arranging ---------------------------------------------------------------------------
    def admin(self) -> Customer:
        if self._admin is None:
            self._admin = self.market.admin()
        return self._admin

    def vendor(self, provider: str, suffix: str = "01", *, verified: bool = False) -> Vendor:
        """An approved shop whose owner registered a ``provider`` wallet ending in ``suffix``
        (the sandbox's payout scenario digits); the wallet's holder is the owner, as the
        provider's records say it in capitals with an initial (``MWANAISHA A. JUMA``)."""
        m = self.market
        owner_id, phone = m.new_user("10")
        first, middle, last = random.choice(
            [("Mwanaisha", "Abdallah", "Juma"), ("Baraka", "Emmanuel", "Mushi"), ("Neema", "Joseph", "Mollel")]
        )
        self.db.execute(
            "update public.profiles set full_name = %s where id = %s", [f"{first} {middle} {last}", owner_id]
        )
        row = self.db.execute(
            "insert into public.vendors (owner_id, name, slug, status) values (%s, %s, %s, 'approved') returning id",
            [owner_id, f"Duka la {first}", f"duka-{uuid.uuid4().hex[:10]}"],
        ).fetchone()
        assert row is not None
        vendor_id = str(row[0])
        owner = m.as_user(owner_id, phone)
        wallet = WALLET_PREFIX[provider] + f"{random.randrange(10**5):05d}" + suffix
        holder = f"{first.upper()} {middle[0]}. {last.upper()}"
        m.sandbox("PUT", f"/_sandbox/wallets/{wallet}", json={"name": holder})
        # the owner registers the wallet through the Data API (RLS: their own shop only)
        updated = (
            owner.rest.from_("vendor_accounts")
            .update({"payout_provider": provider, "payout_msisdn": wallet})
            .eq("vendor_id", vendor_id)
            .execute()
        )
        assert len(updated.data) == 1, updated
        if verified:
            confirmed = m.rpc(self.admin(), "verify_payout_wallet", {"p_vendor_id": vendor_id, "p_holder_name": holder})
            assert confirmed.status_code == 200, confirmed.text
        return Vendor(vendor_id, owner, provider, wallet, holder)

    def earn(self, vendor: Vendor, price: int = 200_000) -> int:
        """A customer buys one of the vendor's products and pays (M-Pesa, synchronous); an
        admin ships and confirms the delivery; the return window passes and the scheduler
        completes the order: the vendor's earnings become available. Returns what is
        available now."""
        m = self.market
        before = self.balance(vendor)["available"]
        bought = m.paid("mpesa", shop=vendor.id, price=price)
        staff = self.admin()
        parcels = [
            r[0]
            for r in self.db.execute(
                "select id::text from public.shipments where order_id = %s", [bought["order_id"]]
            ).fetchall()
        ]
        assert parcels, bought
        for parcel in parcels:
            tracking = f"DX{random.randrange(10**9)}"
            for fn, args in (
                ("pack_shipment", {}),
                ("dispatch_shipment", {"p_carrier": "Dar Express", "p_tracking_number": tracking}),
                ("confirm_delivery", {}),
            ):
                moved = m.rpc(staff, fn, {"p_shipment_id": parcel, **args})
                assert moved.status_code == 200, moved.text
        # time travel: the return window has passed
        self.db.execute(
            "update public.shipments set delivered_at = now() - interval '30 days' where order_id = %s",
            [bought["order_id"]],
        )
        self.db.execute(
            "update public.orders set delivered_at = now() - interval '30 days' where id = %s", [bought["order_id"]]
        )
        done = self.service_rpc("complete_orders", {})
        assert done.status_code == 200, done.text
        status = self.db.execute("select status from public.orders where id = %s", [bought["order_id"]]).fetchone()
        assert status == ("completed",), status
        available = int(self.balance(vendor)["available"])
        assert available > before, (before, available)
        return available

    # -- acting ------------------------------------------------------------------------------
    def service_rpc(self, fn: str, args: dict[str, Any]) -> httpx.Response:
        return self.market.rpc(self.market.target.service_role_key, fn, args)

    def request(self, vendor: Vendor) -> str:
        """The vendor asks for their available balance (Data API, their JWT); the payout id."""
        asked = self.market.rpc(vendor.owner, "request_payout", {})
        assert asked.status_code == 200, asked.text
        body = asked.json()
        assert body["created"] is True, body
        return str(body["payout_id"])

    def balance(self, vendor: Vendor) -> dict[str, Any]:
        """What the vendor sees of their money (Data API, their JWT)."""
        seen = self.market.rpc(vendor.owner, "vendor_balance", {})
        assert seen.status_code == 200, seen.text
        return dict(seen.json())

    def run(self, client: httpx.Client | None = None, **options: Any) -> dict[str, Any]:
        """One run of payout-execute, as the scheduler calls it (service role)."""
        r = (client or self.market.http).post(
            f"{self.market.target.url}/functions/v1/payout-execute",
            json={"limit": 500, **options},
            headers={"Authorization": f"Bearer {self.market.target.service_role_key}"},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    @staticmethod
    def result_for(run: dict[str, Any], payout_id: str) -> dict[str, Any] | None:
        found = [r for r in run["results"] if r["payout_id"] == payout_id]
        assert len(found) <= 1, found
        return found[0] if found else None

    def idle(self) -> None:
        self.market.sandbox("GET", "/_sandbox/idle", params={"timeout": 20})

    # -- observing ---------------------------------------------------------------------------
    def payout(self, payout_id: str) -> dict[str, Any]:
        row = self.db.execute(
            "select status, method, provider_payout_id, failure_reason, attempts, reference, amount, msisdn, "
            "provider, needs_approval from private.vendor_payouts where id = %s",
            [payout_id],
        ).fetchone()
        assert row is not None
        names = [
            "status",
            "method",
            "provider_payout_id",
            "failure_reason",
            "attempts",
            "reference",
            "amount",
            "msisdn",
            "provider",
            "needs_approval",
        ]
        return dict(zip(names, row, strict=True))

    def sent(self, reference: str) -> list[dict[str, Any]]:
        """What the sandbox recorded of attempts to pay ``reference`` (paid, refused, lost …)."""
        return list(self.market.sandbox("GET", "/_sandbox/payouts", params={"reference": reference}))

    def wallet_state(self, vendor: Vendor) -> tuple[bool, str | None]:
        row = self.db.execute(
            "select payout_verified_at is not null, payout_verified_name from public.vendor_accounts "
            "where vendor_id = %s",
            [vendor.id],
        ).fetchone()
        assert row is not None
        return bool(row[0]), row[1]

    def age(self, payout_id: str) -> None:
        """Time travel: the payout's last answer an hour ago, so the next run asks about it."""
        self.db.execute(
            "update private.vendor_payouts set claimed_at = now() - interval '1 hour', "
            "last_checked_at = now() - interval '1 hour' where id = %s",
            [payout_id],
        )

    def events(self, reference: str) -> list[str]:
        """The stored callbacks naming ``reference`` (by bytes: some bodies are not UTF-8)."""
        return sorted(
            r[0]
            for r in self.db.execute(
                "select status from private.payment_events where provider = 'halopesa' and "
                "position(convert_to(%s, 'UTF8') in body) > 0",
                [reference],
            ).fetchall()
        )
