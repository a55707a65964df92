"""The rows the policy suite arranges, and how it reads, copies and restores them.

Arranging (``World.arrange``):

- Users: ``customer``, ``other_customer``, ``vendor``, ``other_vendor`` are new users made
  with the Auth admin API (``service.auth.admin.create_user``) who act with access tokens
  minted with the project's JWT secret; ``admin`` is the seeded admin, who signs in by
  phone OTP through supabase-py (a test phone of the local stack, ``wats.test_otp``, so no SMS is
  spent). Two more users own rows nobody acting owns: ``pending_owner`` (a shop awaiting
  approval) and ``bystander`` (no shop, no cart, a notification).
- Shops are opened through the Data API by their owners and approved by the admin through
  the Data API (which promotes the owner to role vendor); the pending one stays pending.
- Catalog rows (categories, centers, products, images, stock, livestreams and reminders),
  shipments, returns and a payout go straight to the database as ``postgres`` (the
  migration role), as trusted SQL would write them; a small refund of each shopper's paid
  order is granted by the admin (rpc refund_payment).
- Each shopper checks out one cart on an instalment plan (``rpc checkout`` with
  ``p_plan``) and pays its first instalment: the plan is under way, its stock held.
- Orders go through the real money path: each shopper fills their cart and calls
  ``rpc checkout`` as themself, the service role applies the provider's success with
  ``rpc apply_payment_event`` (stock committed, order paid, loyalty points, notifications),
  the payment creates each order's parcels, which the admin packs, dispatches and delivers
  (``rpc pack_shipment`` …) for the delivered orders. One order is
  checked out and then failed (cancelled, stock released). Nothing is left pending or
  reserved, so the money invariants hold.

Every table's *universe* is SQL selecting the rows arranged in this run (rows of this run's
users, shops and entities), so the suite never acts on anyone else's rows and works on a
database other suites share.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from supabase import Client

from tests.policies.actors import Actor, anon_actor, minted_actor, otp_actor, service_actor
from tests.policies.matrix import TableSpec
from wats.test_otp import local_test_otps

ADDRESS = {"recipient_name": "Policy Suite", "region": "Dar es Salaam", "district": "Ilala", "street": "Uhuru St 1"}
BUCKET = "product-images"
RETURN_PHOTOS = "return-photos"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5d9c6c20000000049454e44ae426082"
)
SHOPPERS = ("customer", "other_customer", "vendor", "other_vendor", "admin")
MY_VENDORS = "(select v.id from public.vendors as v where v.owner_id = any(%(users)s))"
MY_ORDERS = "(select o.id from public.orders as o where o.customer_id = any(%(users)s))"
MY_PAYMENTS = "(select p.id from public.payments as p where p.customer_id = any(%(users)s))"

#: Rows of this run, per matrix file: a WHERE clause over the table (params from World.params).
UNIVERSE = {
    "profiles": "id = any(%(users)s)",
    "vendors": "owner_id = any(%(users)s)",
    "vendor_accounts": f"vendor_id in {MY_VENDORS}",
    "categories": "id = any(%(categories)s)",
    "fulfillment_centers": "id = any(%(centers)s)",
    "products": f"vendor_id in {MY_VENDORS}",
    "product_images": f"vendor_id in {MY_VENDORS}",
    "livestream_sessions": f"vendor_id in {MY_VENDORS}",
    "livestream_products": f"vendor_id in {MY_VENDORS}",
    "inventory": f"vendor_id in {MY_VENDORS}",
    "carts": "customer_id = any(%(users)s)",
    "cart_items": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "orders": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "order_items": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "payments": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "shipments": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "shipment_lines": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "refunds": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "returns": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "loyalty_points": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "bnpl_orders": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "instalments": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "livestream_reminders": "user_id = any(%(users)s)",
    "notifications": "user_id = any(%(users)s) and created_at >= %(started)s",
    "audit_logs": (
        "created_at >= %(started)s and (actor_id = any(%(users)s) or entity_id = any(%(users)s) "
        f"or entity_id in {MY_VENDORS} or entity_id in {MY_ORDERS} or entity_id in {MY_PAYMENTS})"
    ),
    "private.idempotency_records": "customer_id = any(%(users)s) and created_at >= %(started)s",
    "private.payment_events": f"payment_id in {MY_PAYMENTS}",
    "private.notification_texts": "true",
    "private.payment_references": f"payment_id in {MY_PAYMENTS}",
    "private.scheduled_jobs": "true",
    "private.ops_alerts": "rule = 'policy_suite'",
    "private.settings": "true",
    "private.status_transitions": "true",
    "private.vendor_payouts": f"vendor_id in {MY_VENDORS}",
    "private.ledger_accounts": f"vendor_id in {MY_VENDORS} or customer_id = any(%(users)s)",
    "private.ledger_transfers": "created_at >= %(started)s",
    "private.ledger_entries": (
        "created_at >= %(started)s and account_id in (select a.id from private.ledger_accounts as a "
        f"where a.vendor_id in {MY_VENDORS} or a.customer_id = any(%(users)s))"
    ),
    "private.category_commissions": "category_id = any(%(categories)s)",
    "private.loyalty_expiry_notices": "customer_id = any(%(users)s)",
    "push_devices": "user_id = any(%(users)s)",
    "marketing_consents": "user_id = any(%(users)s)",
    "private.notification_rules": "true",
    "private.notification_deliveries": "user_id = any(%(users)s)",
    "storage.objects": (
        "(bucket_id = 'product-images' and (storage.foldername(name))[1] = any(%(folders)s)) "
        "or bucket_id = %(other_bucket)s "
        "or (bucket_id = 'return-photos' and (storage.foldername(name))[1] = any(%(users)s::text[]))"
    ),
}

#: The column an update probes when the cell leaves the choice open: one whose change is
#: harmless (restored afterwards) and, for API roles, usually the one they may write.
PROBE_COLUMN = {
    "profiles": "full_name",
    "vendors": "description",
    "vendor_accounts": "payout_msisdn",
    "categories": "name",
    "fulfillment_centers": "address",
    "products": "description",
    "product_images": "alt_text",
    "livestream_sessions": "description",
    "livestream_products": "position",
    "inventory": "on_hand",
    "carts": "updated_at",
    "cart_items": "quantity",
    "orders": "cancel_reason",
    "order_items": "title",
    "payments": "failure_reason",
    "shipments": "carrier",
    "shipment_lines": "quantity",
    "refunds": "reason",
    "private.notification_texts": "body",
    "returns": "resolution_note",
    "loyalty_points": "note",
    "bnpl_orders": "cancel_reason",
    "instalments": "reminded_at",
    "livestream_reminders": "notified_at",
    "notifications": "read_at",
    "audit_logs": "action",
    "private.idempotency_records": "request_fingerprint",
    "private.payment_events": "error",
    "private.payment_references": "reference",
    "private.scheduled_jobs": "description",
    "private.ops_alerts": "summary",
    "private.settings": "description",
    "private.status_transitions": "to_state",
    "private.vendor_payouts": "failure_reason",
    "private.ledger_accounts": "last_entry_at",
    "private.ledger_transfers": "memo",
    "private.ledger_entries": "kind",
    "private.category_commissions": "commission_bps",
    "private.loyalty_expiry_notices": "notified_at",
    "push_devices": "platform",
    "marketing_consents": "granted",
    "private.notification_rules": "sms",
    "private.notification_deliveries": "last_error",
}

#: How an allowed delete is tried without losing arranged rows: on a fresh copy (victim) of
#: a row in the cell's set, or on the row itself, put back afterwards (restore).
DELETE_VICTIM = {"vendors", "categories", "fulfillment_centers", "products", "livestream_sessions"}
DELETE_RESTORE = {
    "cart_items",
    "product_images",
    "livestream_products",
    "inventory",
    "returns",
    "shipments",
    "vendor_accounts",
    "carts",
    "livestream_reminders",
    "push_devices",
}


def rand(n: int = 8) -> str:
    return secrets.token_hex(n // 2)


def new_phone() -> str:
    """A phone no seeded or other suite uses: 255 75x xxx xxx."""
    return "25575" + f"{secrets.randbelow(10**7):07d}"


def test_otp_phones() -> dict[str, str]:
    """The stack's test phones: the local stack's (WATS_AUTH_SMS_TEST_OTP, default the seeded
    demo users), never supabase/config.toml's (tests/lint/test_config_safety.py)."""
    return local_test_otps()


@dataclass
class Column:
    name: str
    type: str
    generated: bool


@dataclass
class World:
    target: Any
    db: psycopg.Connection
    run: str = field(default_factory=lambda: rand(8))
    actors: dict[str, Actor] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # persona -> user id
    phones: dict[str, str] = field(default_factory=dict)
    extra_users: list[str] = field(default_factory=list)
    vendors: dict[str, str] = field(default_factory=dict)  # vendor, other_vendor, pending -> vendor id
    products: dict[tuple[str, str], str] = field(default_factory=dict)  # (shop, kind) -> product id
    sessions: dict[tuple[str, str], str] = field(default_factory=dict)  # (shop, status) -> session id
    categories: dict[str, str] = field(default_factory=dict)
    centers: dict[str, str] = field(default_factory=dict)  # active, inactive, DAR
    carts: dict[str, str] = field(default_factory=dict)
    orders: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (shopper, kind) -> checkout
    objects: dict[str, str] = field(default_factory=dict)  # label -> "bucket/name"
    other_bucket: str = ""
    misc_folder: str = ""
    started: dt.datetime | None = None
    admin_token: str = ""
    _columns: dict[str, list[Column]] = field(default_factory=dict)

    # -- small database helpers ----------------------------------------------------------
    def q(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        cur = self.db.execute(sql, params)
        return cur.fetchall() if cur.description else []

    def one(self, sql: str, params: Any = None) -> Any:
        rows = self.q(sql, params)
        assert rows, f"no row: {sql}"
        return rows[0][0]

    @property
    def service(self) -> Actor:
        return self.actors["service_role"]

    @property
    def admin(self) -> Actor:
        return self.actors["admin"]

    def uid(self, role: str) -> str | None:
        actor = self.actors.get(role)
        return actor.uid if actor else None

    def all_users(self) -> list[str]:
        return [*self.users.values(), *self.extra_users]

    def params(self) -> dict[str, Any]:
        return {
            "users": self.all_users(),
            "categories": list(self.categories.values()),
            "centers": [self.centers["active"], self.centers["inactive"]],
            "started": self.started,
            "folders": [*self.vendors.values(), self.misc_folder],
            "other_bucket": self.other_bucket,
        }

    def columns(self, spec: TableSpec) -> list[Column]:
        if spec.table not in self._columns:
            rows = self.q(
                "select column_name, data_type, is_generated = 'ALWAYS' from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                [spec.schema, spec.name],
            )
            self._columns[spec.table] = [Column(n, t, g) for n, t, g in rows]
        return self._columns[spec.table]

    def key_expr(self, spec: TableSpec) -> str:
        return "concat_ws('|', " + ", ".join(f"{k}::text" for k in spec.key) + ")"

    @staticmethod
    def key_of(spec: TableSpec, row: dict[str, Any]) -> str:
        return "|".join(str(row[k]) for k in spec.key)

    def keys(self, spec: TableSpec, where: str = "true", uid_params: dict[str, Any] | None = None) -> set[str]:
        """Keys of the rows of this run's universe matching ``where``."""
        sql = f"select {self.key_expr(spec)} from {spec.table} where ({UNIVERSE[spec.label]}) and ({where})"
        return {r[0] for r in self.q(sql, {**self.params(), **(uid_params or {})})}

    def sample(self, spec: TableSpec, per_class: int = 2) -> set[str]:
        """Arranged rows to try writes on: up to ``per_class`` rows of each access class, a
        class being the row's membership in every set of the file for every role. Every
        distinction a cell can draw is tried, without writing to each of hundreds of audit
        rows fourteen times."""
        from tests.policies.matrix import ROLES, Cell

        tests = [Cell.of(name).predicate(spec.sets, self.uid(role)) for name in sorted(spec.sets) for role in ROLES]
        signature = "concat_ws(',', " + ", ".join(f"({t})::text" for t in tests) + ")" if tests else "''"
        rows = self.q(
            f"select {self.key_expr(spec)}, {signature} from {spec.table} where {UNIVERSE[spec.label]}",
            self.params(),
        )
        chosen: dict[str, list[str]] = {}
        for key, sig in sorted(rows):
            bucket = chosen.setdefault(sig, [])
            if len(bucket) < per_class:
                bucket.append(key)
        return {k for keys in chosen.values() for k in keys}

    def count(self, spec: TableSpec, where: str) -> int:
        return int(self.one(f"select count(*) from {spec.table} where {where}"))

    def snapshot(self, spec: TableSpec, key: str) -> str | None:
        rows = self.q(f"select to_jsonb(t)::text from {spec.table} as t where {self.key_expr(spec)} = %s", [key])
        return rows[0][0] if rows else None

    def row(self, spec: TableSpec, key: str) -> dict[str, Any]:
        text = self.snapshot(spec, key)
        assert text is not None, f"{spec.table} {key} is gone"
        return json.loads(text)

    def restore_column(self, spec: TableSpec, key: str, column: str, before: str) -> None:
        """Put one column back to its value in the snapshot ``before`` (as postgres)."""
        self.q(
            f"update {spec.table} set {column} = (jsonb_populate_record(null::{spec.table}, %s::jsonb)).{column} "
            f"where {self.key_expr(spec)} = %s",
            [before, key],
        )

    def reinsert(self, spec: TableSpec, snapshot: str) -> None:
        cols = ", ".join(c.name for c in self.columns(spec) if not c.generated)
        self.q(
            f"insert into {spec.table} ({cols}) "
            f"select {cols} from jsonb_populate_record(null::{spec.table}, %s::jsonb)",
            [snapshot],
        )

    # -- arranging -----------------------------------------------------------------------
    def arrange(self) -> None:
        t = self.target
        self.started = self.one("select now()")
        self.actors["anon"] = anon_actor(t.url, t.anon_key)
        self.actors["service_role"] = service_actor(t.url, t.service_role_key)
        self._arrange_admin()
        svc: Client = self.service.client
        for persona in ("customer", "other_customer", "vendor", "other_vendor", "pending_owner", "bystander"):
            phone = new_phone()
            user = svc.auth.admin.create_user({"phone": phone, "phone_confirm": True, "user_metadata": {}}).user
            assert user is not None
            self.users[persona] = user.id
            self.phones[persona] = phone
            self.actors[persona] = minted_actor(persona, t.url, t.anon_key, t.jwt_secret, user.id, phone)
        self._arrange_shops()
        self._arrange_catalog()
        self._arrange_orders()
        self._arrange_after_orders()
        self._arrange_notifications()
        self._arrange_storage()

    def _arrange_admin(self) -> None:
        """The seeded admin signs in with their test phone and OTP through supabase-py."""
        phones = test_otp_phones()
        rows = self.q("select id, phone from public.profiles where role = 'admin' and phone = any(%s)", [list(phones)])
        assert rows, "no seeded admin with a test phone (wats.test_otp): seed the stack (wats db reset / wats seed)"
        uid, phone = str(rows[0][0]), rows[0][1]
        actor, token = otp_actor("admin", self.target.url, self.target.anon_key, phone, phones[phone])
        assert actor.uid == uid
        self.actors["admin"] = actor
        self.admin_token = token
        self.users["admin"] = uid
        self.phones["admin"] = phone

    def _arrange_shops(self) -> None:
        for persona, shop in (("vendor", "vendor"), ("other_vendor", "other_vendor"), ("pending_owner", "pending")):
            actor = self.actors[persona]
            out = actor.run(
                lambda c, shop=shop: (
                    c.table("vendors")
                    .insert(
                        {"name": f"Policy {shop} {self.run}", "slug": f"policy-{self.run}-{shop.replace('_', '-')}"}
                    )
                    .execute()
                )
            )
            assert out.ok, f"{persona} could not open a shop: {out}"
            self.vendors[shop] = out.rows()[0]["id"]
        for shop in ("vendor", "other_vendor"):
            out = self.admin.run(
                lambda c, shop=shop: (
                    c.table("vendors").update({"status": "approved"}).eq("id", self.vendors[shop]).execute()
                )
            )
            assert out.ok and out.rows(), f"admin could not approve {shop}: {out}"
            role = self.one("select role from public.profiles where id = %s", [self.users[shop]])
            assert role == "vendor", f"approving the shop did not promote its owner: {role}"
            self.q(
                "update public.vendor_accounts set payout_provider = 'mpesa', payout_msisdn = %s where vendor_id = %s",
                [self.phones[shop], self.vendors[shop]],
            )

    def _arrange_catalog(self) -> None:
        run = self.run
        self.categories["root"] = self.one(
            "insert into public.categories (slug, name) values (%s, 'Policy root') returning id::text",
            [f"policy-{run}-root"],
        )
        self.categories["child"] = self.one(
            "insert into public.categories (slug, name, parent_id) values (%s, 'Policy child', %s) returning id::text",
            [f"policy-{run}-child", self.categories["root"]],
        )
        out = self.admin.run(
            lambda c: c.rpc(
                "set_category_commission", {"p_category_id": self.categories["root"], "p_commission_bps": 1000}
            ).execute()
        )
        assert out.ok, f"admin could not set a category's commission: {out}"
        for kind, active in (("active", True), ("inactive", False)):
            self.centers[kind] = self.one(
                "insert into public.fulfillment_centers (code, name, region, active) values (%s, %s, 'Dodoma', %s) "
                "returning id::text",
                [self.center_code(), f"Policy {kind} center", active],
            )
        self.centers["DAR"] = self.one("select id::text from public.fulfillment_centers where code = 'DAR'")
        for shop, vendor_id in self.vendors.items():
            for kind, status, price in (
                ("active", "active", 5000),
                ("draft", "draft", 4000),
                ("archived", "archived", 3000),
                ("spare", "active", 2000),
            ):
                pid = self.one(
                    "insert into public.products (vendor_id, category_id, title, price, status) "
                    "values (%s, %s, %s, %s, %s) returning id::text",
                    [vendor_id, self.categories["child"], f"Policy {shop} {kind}", price, status],
                )
                self.products[(shop, kind)] = pid
                self.q(
                    "insert into public.product_images (product_id, storage_path, alt_text) values (%s, %s, 'image')",
                    [pid, f"{vendor_id}/{pid}/main.png"],
                )
            stock = [
                ("active", "DAR", 1000),
                ("active", "inactive", 10),
                ("draft", "DAR", 5),
                ("spare", "DAR", 5000),
            ]
            for kind, center, on_hand in stock:
                self.q(
                    "insert into public.inventory (product_id, center_id, on_hand) values (%s, %s, %s)",
                    [self.products[(shop, kind)], self.centers[center], on_hand],
                )
            sessions = {
                "vendor": ("scheduled", "ended"),
                "other_vendor": ("live", "cancelled"),
                "pending": ("scheduled",),
            }
            for status in sessions[shop]:
                sid = self.one(
                    "insert into public.livestream_sessions (vendor_id, title, scheduled_start, status) "
                    "values (%s, %s, now() + interval '1 day', %s) returning id::text",
                    [vendor_id, f"Policy {shop} {status}", status],
                )
                self.sessions[(shop, status)] = sid
                self.q(
                    "insert into public.livestream_products (session_id, product_id) values (%s, %s)",
                    [sid, self.products[(shop, "active")]],
                )

    def center_code(self) -> str:
        return "Q" + "".join(secrets.choice(string.ascii_uppercase) for _ in range(4))

    # -- the money path ------------------------------------------------------------------
    def ensure_cart(self, shopper: str) -> str:
        actor = self.actors[shopper]
        rows = actor.run(lambda c: c.table("carts").select("id").eq("customer_id", actor.uid).execute()).rows()
        if not rows:
            out = actor.run(lambda c: c.table("carts").insert({"customer_id": actor.uid}).execute())
            assert out.ok, f"{shopper} could not open a cart: {out}"
            rows = out.rows()
        self.carts[shopper] = rows[0]["id"]
        return rows[0]["id"]

    def checkout(self, shopper: str, items: list[tuple[str, int]], plan: str | None = None) -> dict[str, Any]:
        """Fill the shopper's cart through the Data API and check out as them (on an
        instalment plan with ``plan``); what the cart held before (arranged rows other tests
        read) is put back afterwards."""
        actor = self.actors[shopper]
        cart = self.ensure_cart(shopper)
        held = self.q("select product_id, quantity, created_at from public.cart_items where cart_id = %s", [cart])
        try:
            return self._checkout(shopper, actor, cart, items, plan)
        finally:
            for product_id, quantity, created_at in held:
                self.q(
                    "insert into public.cart_items (cart_id, customer_id, product_id, quantity, created_at) "
                    "values (%s, %s, %s, %s, %s) on conflict (cart_id, product_id) do nothing",
                    [cart, self.users[shopper], product_id, quantity, created_at],
                )

    def _checkout(
        self, shopper: str, actor: Actor, cart: str, items: list[tuple[str, int]], plan: str | None = None
    ) -> dict[str, Any]:
        assert actor.run(lambda c: c.table("cart_items").delete().eq("cart_id", cart).execute()).ok
        for product_id, quantity in items:
            out = actor.run(
                lambda c, p=product_id, n=quantity: (
                    c.table("cart_items").insert({"cart_id": cart, "product_id": p, "quantity": n}).execute()
                )
            )
            assert out.ok, f"{shopper} could not fill the cart: {out}"
        args: dict[str, Any] = {
            "p_idempotency_key": f"policy-{uuid.uuid4()}",
            "p_provider": "mpesa",
            "p_shipping_address": ADDRESS,
        }
        if plan is not None:
            args["p_plan"] = plan
        out = actor.run(lambda c: c.rpc("checkout", args).execute())
        assert out.ok, f"{shopper} checkout failed: {out}"
        result = dict(out.data)
        result["shopper"] = shopper
        result["provider_ref"] = self.reference(result["payment_id"])
        return result

    def reference(self, payment_id: str) -> str:
        """What the provider knows a payment by: never in the customer's answer."""
        return str(self.one("select reference from private.payment_references where payment_id = %s", [payment_id]))

    def pay(self, checkout: dict[str, Any], outcome: str = "succeeded") -> dict[str, Any]:
        """The provider's answer, applied by the service role as the payment functions do."""
        out = self.service.run(
            lambda c: c.rpc(
                "apply_payment_event",
                {
                    "p_provider": checkout["provider"],
                    "p_provider_ref": self.reference(checkout["payment_id"]),
                    "p_outcome": outcome,
                    "p_amount": checkout["amount"] if outcome == "succeeded" else None,
                    "p_currency": "TZS",
                    "p_provider_txn_id": f"POL{uuid.uuid4().hex[:16]}",
                    "p_source": "status_query",
                },
            ).execute()
        )
        assert out.ok and out.data["result"] == "applied", f"applying {outcome} failed: {out}"
        return dict(out.data)

    def shipments(self, order_id: str) -> list[str]:
        """The parcels the payment created for an order."""
        return [
            r[0] for r in self.q("select id::text from public.shipments where order_id = %s order by id", [order_id])
        ]

    def move(self, shipment: str, *steps: str) -> None:
        """Fulfilment staff (the admin) move a parcel: pack, dispatch, transit, deliver, fail, return."""
        calls = {
            "pack": ("pack_shipment", {}),
            "dispatch": ("dispatch_shipment", {"p_carrier": "Policy Express", "p_tracking_number": f"PX{rand(8)}"}),
            "transit": ("mark_shipment_in_transit", {}),
            "deliver": ("confirm_delivery", {}),
            "fail": ("report_delivery_failed", {"p_reason": "nobody home"}),
            "return": ("return_shipment_to_center", {}),
        }
        for step in steps:
            fn, args = calls[step]
            out = self.admin.run(lambda c, f=fn, a=args: c.rpc(f, {"p_shipment_id": shipment, **a}).execute())
            assert out.ok, f"admin could not {step} parcel {shipment}: {out}"

    def fulfil(self, order_id: str, *steps: str) -> None:
        for shipment in self.shipments(order_id):
            self.move(shipment, *steps)

    def buy(self, shopper: str, items: list[tuple[str, int]], kind: str, deliver: bool = False) -> dict[str, Any]:
        result = self.checkout(shopper, items)
        self.pay(result)
        if deliver:
            self.fulfil(result["order_id"], "pack", "dispatch", "deliver")
        self.orders[(shopper, kind)] = result
        return result

    def fresh_paid(self, shopper: str = "customer") -> dict[str, Any]:
        """A new paid order of one spare unit, for a function test to act on."""
        result = self.checkout(shopper, [(self.products[("vendor", "spare")], 1)])
        self.pay(result)
        result["shipments"] = self.shipments(result["order_id"])
        return result

    def _arrange_orders(self) -> None:
        a1, a2 = self.products[("vendor", "active")], self.products[("other_vendor", "active")]
        plans = {
            "customer": ([(a1, 3), (a2, 3)], [(a1, 3)]),
            "other_customer": ([(a2, 3)], [(a2, 3)]),
            "vendor": ([(a2, 3)], [(a2, 3)]),
            "other_vendor": ([(a1, 3)], [(a1, 3)]),
            "admin": ([(a1, 3), (a2, 3)], [(a2, 3)]),
        }
        for shopper, (paid, delivered) in plans.items():
            self.buy(shopper, paid, "paid")
            self.buy(shopper, delivered, "delivered", deliver=True)
        cancelled = self.checkout("customer", [(self.products[("other_vendor", "spare")], 1)])
        self.pay(cancelled, "failed")
        self.orders[("customer", "cancelled")] = cancelled

    def line_of(self, shopper: str, kind: str) -> str:
        return self.one(
            "select id::text from public.order_items where order_id = %s order by id limit 1",
            [self.orders[(shopper, kind)]["order_id"]],
        )

    def _arrange_after_orders(self) -> None:
        for shopper in SHOPPERS:
            paid = self.orders[(shopper, "paid")]
            self.q(
                "insert into public.returns (order_item_id, quantity, reason, photo_paths) "
                "values (%s, 1, 'damaged', %s)",
                [self.line_of(shopper, "delivered"), [self.return_photo(shopper)]],
            )
            out = self.admin.run(
                lambda c, p=paid: c.rpc(
                    "refund_payment",
                    {
                        "p_payment_id": p["payment_id"],
                        "p_amount": 100,
                        "p_reason": "policy suite",
                        "p_idempotency_key": f"policy-{rand(12)}",
                    },
                ).execute()
            )
            assert out.ok, f"admin could not grant a refund: {out}"
            self.plan_under_way(shopper)
            self.q(
                "insert into public.livestream_reminders (session_id, user_id) values (%s, %s)",
                [self.sessions[("other_vendor", "live")], self.users[shopper]],
            )
            product = self.products[
                ("vendor" if shopper in ("customer", "other_vendor", "admin") else "other_vendor", "active")
            ]
            cart = self.ensure_cart(shopper)
            self.q(
                "insert into public.cart_items (cart_id, customer_id, product_id, quantity) values (%s, %s, %s, 1) "
                "on conflict (cart_id, product_id) do nothing",
                [cart, self.users[shopper], product],
            )
        for persona in ("pending_owner", "bystander"):
            self.q(
                "insert into public.notifications (user_id, type, title) values (%s, 'system', 'Policy suite')",
                [self.users[persona]],
            )
        self._arrange_money_out()

    def plan_under_way(self, shopper: str) -> dict[str, Any]:
        """The shopper buys 10 spare units (23,000 TZS) on a pay_in_2 plan and pays the first
        instalment: the plan is active, its order awaits the second with its stock held."""
        result = self.checkout(shopper, [(self.products[("vendor", "spare")], 10)], "pay_in_2")
        self.pay(result)
        self.orders[(shopper, "plan")] = result
        return result

    def complete(self, order_id: str) -> None:
        """The order's return window passes: it completes and its vendors' earnings become
        available (the ledger posts it from the status change, as complete_orders does)."""
        self.q("update public.shipments set delivered_at = now() - interval '30 days' where order_id = %s", [order_id])
        self.q(
            "update public.orders set delivered_at = now() - interval '30 days', status = 'completed' where id = %s",
            [order_id],
        )

    def _arrange_money_out(self) -> None:
        """Each shop earns on a completed order and asks for its payout through the Data API;
        the vendor's is cancelled by the admin, the other vendor's paid by the service role."""
        for shop, shopper in (("vendor", "customer"), ("other_vendor", "other_customer")):
            done = self.buy(shopper, [(self.products[(shop, "active")], 3)], "completed", deliver=True)
            self.complete(done["order_id"])
            out = self.actors[shop].run(lambda c: c.rpc("request_payout", {}).execute())
            assert out.ok and out.data["created"], f"{shop} could not ask for a payout: {out}"
            payout = out.data["payout_id"]
            if shop == "vendor":
                out = self.admin.run(lambda c, p=payout: c.rpc("cancel_payout", {"p_payout_id": p}).execute())
                assert out.ok, f"admin could not cancel a payout: {out}"
            else:
                for fn, args in (
                    ("claim_payout", {}),
                    ("record_payout_outcome", {"p_outcome": "succeeded", "p_method": "b2c"}),
                ):
                    out = self.service.run(
                        lambda c, f=fn, a=args, p=payout: c.rpc(f, {"p_payout_id": p, **a}).execute()
                    )
                    assert out.ok, f"the service role could not {fn}: {out}"
        self.q(
            "insert into private.loyalty_expiry_notices (customer_id, last_activity_at) values (%s, now()) "
            "on conflict (customer_id) do nothing",
            [self.users["customer"]],
        )
        self.q(
            "insert into private.ops_alerts (rule, subject, status, summary, resolved_at) "
            "values ('policy_suite', %s, 'resolved', 'policy suite', now())",
            [self.run],
        )

    def _arrange_notifications(self) -> None:
        """Every persona registers a device and consents to marketing through the Data API
        (rpc register_push_device, set_marketing_consent); a notification each then queues
        their push sends."""
        for persona in ("customer", "other_customer", "vendor", "other_vendor", "admin", "bystander"):
            token = f"ExponentPushToken[policy-{self.run}-{persona}]"
            out = self.actors[persona].run(
                lambda c, t=token: c.rpc("register_push_device", {"p_token": t, "p_platform": "android"}).execute()
            )
            assert out.ok, f"{persona} could not register a device: {out}"
            out = self.actors[persona].run(lambda c: c.rpc("set_marketing_consent", {"p_granted": True}).execute())
            assert out.ok, f"{persona} could not give consent: {out}"
            self.q(
                "select private.notify(%s, 'system', %s::jsonb, '{}'::jsonb)",
                [self.users[persona], json.dumps({"title": "Policy suite", "body": self.run})],
            )

    def _arrange_storage(self) -> None:
        self.misc_folder = f"policy-{self.run}-misc"
        self.other_bucket = f"policy-{self.run}"
        storage = self.service.client.storage
        storage.create_bucket(self.other_bucket, options={"public": False})
        for label, folder in (
            ("vendor", self.vendors["vendor"]),
            ("other_vendor", self.vendors["other_vendor"]),
            ("pending", self.vendors["pending"]),
            ("misc", self.misc_folder),
        ):
            path = f"{folder}/policy-{self.run}.png"
            storage.from_(BUCKET).upload(path, PNG, {"content-type": "image/png"})
            self.objects[label] = f"{BUCKET}/{path}"
        storage.from_(self.other_bucket).upload("policy.png", PNG, {"content-type": "image/png"})
        self.objects["other_bucket"] = f"{self.other_bucket}/policy.png"
        for shopper in SHOPPERS:
            path = self.return_photo(shopper)
            storage.from_(RETURN_PHOTOS).upload(path, PNG, {"content-type": "image/png"})
            self.objects[f"photo:{shopper}"] = f"{RETURN_PHOTOS}/{path}"

    def return_photo(self, shopper: str) -> str:
        """The photo of the arranged return of ``shopper``, in their own folder of return-photos."""
        return f"{self.users[shopper]}/policy-{self.run}.png"

    def close(self) -> None:
        """Remove what is not history: the storage objects and bucket, the admin's test items."""
        storage = self.service.client.storage
        with contextlib.suppress(Exception):
            names = [n for (b, n) in self.q(
                f"select bucket_id, name from storage.objects where {UNIVERSE['storage.objects']}", self.params()
            ) if b == BUCKET]  # fmt: skip
            if names:
                storage.from_(BUCKET).remove(names)
        with contextlib.suppress(Exception):
            storage.from_(RETURN_PHOTOS).remove([self.return_photo(s) for s in SHOPPERS])
        with contextlib.suppress(Exception):
            storage.empty_bucket(self.other_bucket)
            storage.delete_bucket(self.other_bucket)
        with contextlib.suppress(Exception):
            self.q(
                "delete from public.cart_items where customer_id = %s and product_id in "
                "(select id from public.products where vendor_id = any(%s::uuid[]))",
                [self.users["admin"], list(self.vendors.values())],
            )

    # -- temporary arrangements ----------------------------------------------------------
    @contextlib.contextmanager
    def temporary_shop(self, role: str) -> Iterator[str | None]:
        """A pending shop for a shop-less persona, for cells whose set `own` is about shops
        the user owns (vendors, vendor_accounts): a customer who applied to sell."""
        uid = self.uid(role)
        if uid is None or self.q("select 1 from public.vendors where owner_id = %s", [uid]):
            yield None
            return
        vendor_id = self.one(
            "insert into public.vendors (owner_id, name, slug) values (%s, 'Policy applicant', %s) returning id::text",
            [uid, f"policy-{rand(10)}"],
        )
        try:
            yield vendor_id
        finally:
            self.q("delete from public.vendors where id = %s", [vendor_id])

    @contextlib.contextmanager
    def without_cart(self, owner: str) -> Iterator[None]:
        """For an insert of the owner's own cart: their cart (and items) set aside meanwhile."""
        carts = self.q("select to_jsonb(c)::text from public.carts as c where customer_id = %s", [owner])
        items = self.q("select to_jsonb(i)::text from public.cart_items as i where customer_id = %s", [owner])
        self.q("delete from public.carts where customer_id = %s", [owner])
        try:
            yield
        finally:
            self.q("delete from public.carts where customer_id = %s", [owner])
            for (snap,) in carts:
                self.q(
                    "insert into public.carts select * from jsonb_populate_record(null::public.carts, %s::jsonb)",
                    [snap],
                )
            for (snap,) in items:
                self.q(
                    "insert into public.cart_items "
                    "select * from jsonb_populate_record(null::public.cart_items, %s::jsonb)",
                    [snap],
                )

    # -- insert candidates ---------------------------------------------------------------
    def candidates(self, spec: TableSpec) -> list[dict[str, Any]]:
        """Rows one could try to insert into the table, one per owner the suite arranged (and
        variants, e.g. an unlisted product in a cart). Which of them a role may insert is
        decided by the matrix cell's predicate, not here."""
        label = spec.label
        u = self.users
        shops = ("vendor", "other_vendor", "pending")
        paid = {s: self.orders[(s, "paid")] for s in SHOPPERS}
        now = dt.datetime.now(dt.UTC)
        if label == "profiles":
            return [{"id": u["customer"], "full_name": "Copy"}, {"id": str(uuid.uuid4()), "full_name": "Ghost"}]
        if label == "vendors":
            return [
                {"owner_id": u[p], "name": "Candidate shop", "slug": f"cand-{rand(10)}", "region": "Arusha"}
                for p in (*SHOPPERS, "bystander")
            ]
        if label == "vendor_accounts":
            return [{"vendor_id": self.vendors[s], "commission_bps": 0} for s in shops]
        if label == "categories":
            return [
                {"parent_id": self.categories["root"], "slug": f"cand-{rand(10)}", "name": "Candidate", "position": 3}
            ]
        if label == "fulfillment_centers":
            return [{"code": self.center_code(), "name": "Candidate center", "region": "Mbeya", "active": False}]
        if label == "products":
            return [
                {
                    "vendor_id": self.vendors[s],
                    "category_id": self.categories["child"],
                    "title": f"Candidate {rand()}",
                    "description": "policy suite",
                    "price": 1234,
                    "currency": "TZS",
                    "status": "draft",
                }
                for s in shops
            ]
        if label == "product_images":
            return [
                {
                    "product_id": self.products[(s, "draft")],
                    "vendor_id": self.vendors[s],
                    "storage_path": f"{self.vendors[s]}/{self.products[(s, 'draft')]}/cand-{rand()}.png",
                    "position": 1,
                    "alt_text": "candidate",
                }
                for s in shops
            ]
        if label == "livestream_sessions":
            start = now + dt.timedelta(days=3)
            return [
                {
                    "vendor_id": self.vendors[s],
                    "title": f"Candidate {rand()}",
                    "description": "policy suite",
                    "scheduled_start": start.isoformat(),
                    "scheduled_end": (start + dt.timedelta(hours=1)).isoformat(),
                    "stream_url": "https://live.example.org/policy",
                }
                for s in shops
            ]
        if label == "livestream_products":
            first = {"vendor": "scheduled", "other_vendor": "live", "pending": "scheduled"}
            return [
                {
                    "session_id": self.sessions[(s, first[s])],
                    "product_id": self.products[(s, "spare")],  # only active products are featured
                    "vendor_id": self.vendors[s],
                    "position": 2,
                    "live_price": 1500,
                }
                for s in shops
            ]
        if label == "inventory":
            return [
                {
                    "product_id": self.products[(s, "spare")],
                    "vendor_id": self.vendors[s],
                    "center_id": self.centers["active"],
                    "on_hand": 5,
                }
                for s in shops
            ]
        if label == "carts":
            return [{"customer_id": u[p]} for p in (*SHOPPERS, "bystander")]
        if label == "cart_items":
            out = []
            for p in SHOPPERS:
                for kind in ("spare", "draft"):
                    out.append(
                        {
                            "cart_id": self.carts[p],
                            "customer_id": u[p],
                            "product_id": self.products[("vendor", kind)],
                            "quantity": 2,
                        }
                    )
            return out
        if label == "orders":
            return [
                {
                    "customer_id": u[p],
                    "subtotal": 1000,
                    "shipping_fee": 0,
                    "total": 1000,
                    "shipping_address": ADDRESS,
                    "phone": self.phones[p],
                    "idempotency_key": f"cand-{rand(12)}",
                }
                for p in SHOPPERS
            ]
        if label == "order_items":
            return [
                {
                    "order_id": paid[p]["order_id"],
                    "customer_id": u[p],
                    "product_id": self.products[("vendor", "spare")],
                    "vendor_id": self.vendors["vendor"],
                    "center_id": self.centers["DAR"],
                    "title": f"Candidate {rand()}",
                    "unit_price": 1,
                    "quantity": 1,
                    "line_total": 1,
                }
                for p in SHOPPERS
            ]
        if label == "payments":
            return [
                {
                    "order_id": paid[p]["order_id"],
                    "customer_id": u[p],
                    "provider": "mpesa",
                    "msisdn": self.phones[p],
                    "amount": 1,
                    "attempt": 7,
                }
                for p in SHOPPERS
            ]
        if label == "shipments":
            return [
                {
                    "order_id": paid[p]["order_id"],
                    "center_id": self.centers["DAR"],
                    "carrier": "Candidate",
                    "tracking_number": f"T{rand(10)}",
                }
                for p in SHOPPERS
            ]
        if label == "shipment_lines":
            return [
                {
                    "shipment_id": self.shipments(paid[p]["order_id"])[0],
                    "order_item_id": self.line_of(p, "paid"),
                    "customer_id": u[p],
                    "vendor_id": self.vendors["vendor"],
                    "quantity": 1,
                }
                for p in SHOPPERS
            ]
        if label == "refunds":
            return [
                {
                    "payment_id": paid[p]["payment_id"],
                    "order_id": paid[p]["order_id"],
                    "customer_id": u[p],
                    "provider": "mpesa",
                    "amount": 1,
                    "source": "review",
                }
                for p in SHOPPERS
            ]
        if label == "private.notification_texts":
            return [{"type": f"cand_{rand(6)}", "language": "en", "audience": "anyone", "title": "x", "body": "y"}]
        if label == "returns":
            return [
                {
                    "order_item_id": self.line_of(p, "delivered"),
                    "quantity": 1,
                    "reason": "wrong_item",
                    "details": f"candidate {rand()}",
                }
                for p in SHOPPERS
            ]
        if label == "loyalty_points":
            return [
                {"customer_id": u[p], "order_id": paid[p]["order_id"], "points": 5, "reason": "bonus", "note": rand()}
                for p in SHOPPERS
            ]
        if label == "bnpl_orders":
            return [
                {
                    "order_id": self.orders[(p, "delivered")]["order_id"],
                    "customer_id": u[p],
                    "plan": "pay_in_2",
                    "instalment_count": 2,
                    "provider": "mpesa",
                    "total": 2000,
                    "interval_days": 14,
                }
                for p in SHOPPERS
            ]
        if label == "instalments":
            plans = {p: self.one("select id::text from public.bnpl_orders where order_id = %s",
                                 [self.orders[(p, "plan")]["order_id"]]) for p in SHOPPERS}  # fmt: skip
            return [
                {
                    "plan_id": plans[p],
                    "order_id": self.orders[(p, "plan")]["order_id"],
                    "customer_id": u[p],
                    "number": 3,
                    "amount": 1,
                    "due_at": (now + dt.timedelta(days=40)).isoformat(),
                }
                for p in SHOPPERS
            ]
        if label == "livestream_reminders":
            return [
                {"session_id": self.sessions[session], "user_id": u[p]}
                for p in SHOPPERS
                for session in (("vendor", "scheduled"), ("other_vendor", "cancelled"), ("pending", "scheduled"))
            ]
        if label == "notifications":
            return [{"user_id": u[p], "type": "system", "title": f"Candidate {rand()}"} for p in SHOPPERS]
        if label == "audit_logs":
            return [{"actor_id": u["admin"], "actor_role": "admin", "action": f"cand-{rand()}", "entity_type": "x"}]
        if label == "private.idempotency_records":
            return [{"customer_id": u["customer"], "idempotency_key": f"cand-{rand(12)}", "request_fingerprint": "x"}]
        if label == "private.payment_events":
            return [{"provider": "mpesa", "body": f"cand-{rand()}"}]
        if label == "private.payment_references":
            return [{"payment_id": paid[p]["payment_id"], "provider": "mpesa"} for p in SHOPPERS]
        if label == "private.scheduled_jobs":
            job = {"schedule": "59 23 31 12 *", "sql_command": "select 1", "description": "candidate"}
            return [{"name": f"cand-{rand(8)}", **job}]
        if label == "private.settings":
            return [{"key": f"candidate.x{rand(8)}", "value": 1, "description": "candidate"}]
        if label == "private.status_transitions":
            return [{"machine": "order", "from_state": f"x{rand()}", "to_state": "paid"}]
        if label == "private.vendor_payouts":
            return [
                {
                    "vendor_id": self.vendors["other_vendor"],
                    "amount": 1,
                    "provider": "mpesa",
                    "msisdn": self.phones["other_vendor"],
                    "source": "request",
                }
            ]
        if label == "private.ledger_accounts":
            return [{"code": f"cand:{rand(10)}", "kind": "commission", "unit": "TZS", "normal_side": "credit",
                     "tracks_balance": False}]  # fmt: skip
        if label == "private.ledger_transfers":
            return [{"cause_type": "order", "cause_id": str(uuid.uuid4()), "kind": "candidate"}]
        if label == "private.ledger_entries":
            transfer = self.one("select max(id) from private.ledger_transfers")
            account = self.one("select private.ledger_account('commission')")
            return [{"transfer_id": transfer, "account_id": account, "unit": "TZS", "amount": 1, "kind": "sale"}]
        if label == "private.category_commissions":
            return [{"category_id": self.categories["child"], "commission_bps": 5}]
        if label == "private.loyalty_expiry_notices":
            return [{"customer_id": u["other_customer"], "last_activity_at": now.isoformat()}]
        if label == "private.ops_alerts":
            return [{"rule": "policy_suite", "subject": self.run, "summary": "policy suite"}]
        if label == "push_devices":
            return [{"user_id": u[p], "token": f"ExponentPushToken[cand-{rand(10)}]"} for p in SHOPPERS]
        if label == "marketing_consents":
            return [{"user_id": u[p], "granted": False} for p in SHOPPERS]
        if label == "private.notification_rules":
            return [{"type": f"cand_{rand(6)}", "purpose": "service"}]
        if label == "private.notification_deliveries":
            notification = self.one(
                "select id::text from public.notifications where user_id = %s order by created_at limit 1",
                [u["customer"]],
            )
            return [{"notification_id": notification, "user_id": u["customer"], "channel": "sms", "purpose": "service"}]
        raise AssertionError(f"no insert candidates for {label}")

    @contextlib.contextmanager
    def prepared_insert(self, spec: TableSpec, role: str, payload: dict[str, Any]) -> Iterator[None]:
        """Make room for an insert that would otherwise only hit a uniqueness constraint:
        a user's own cart is set aside while they open one."""
        if spec.label == "carts" and payload["customer_id"] == self.uid(role):
            with self.without_cart(payload["customer_id"]):
                yield
            return
        yield

    def classify_candidate(self, spec: TableSpec, payload: dict[str, Any], predicate: str) -> bool:
        """Would the row this payload creates be in the cell's set? Insert it for real as
        postgres in a transaction that is rolled back (triggers fill derived columns, e.g. a
        return's customer), and test the predicate on it; if even postgres cannot insert it
        (e.g. a second shop for one owner), test the predicate on the payload itself."""
        cols = list(payload)
        values = [Jsonb(v) if isinstance(v, (dict, list)) else v for v in payload.values()]
        placeholders = ", ".join(["%s"] * len(cols))
        try:
            with self.db.transaction(force_rollback=True):
                key = self.one(
                    f"insert into {spec.table} ({', '.join(cols)}) values ({placeholders}) "
                    f"returning {self.key_expr(spec)}",
                    values,
                )
                return bool(
                    self.one(
                        f"select exists (select 1 from {spec.table} "
                        f"where {self.key_expr(spec)} = %s and ({predicate}))",
                        [key],
                    )
                )
        except psycopg.Error:
            return bool(
                self.one(
                    f"select exists (select 1 from jsonb_populate_record(null::{spec.table}, %s::jsonb) as t "
                    f"where {predicate})",
                    [json.dumps(payload)],
                )
            )

    def marker(self, payload: dict[str, Any]) -> str:
        """The payload's plain values, to find the row it would create (to_jsonb(t) @> marker)."""
        plain = {
            k: v
            for k, v in payload.items()
            if isinstance(v, (str, int, bool)) and not k.endswith(("_at", "_start", "_end"))
        }
        return json.dumps(plain)

    def count_like(self, spec: TableSpec, payload: dict[str, Any]) -> int:
        return int(
            self.one(f"select count(*) from {spec.table} as t where to_jsonb(t) @> %s::jsonb", [self.marker(payload)])
        )

    def remove_inserted(self, spec: TableSpec, payload: dict[str, Any], row: dict[str, Any] | None) -> None:
        """Undo an allowed insert (as postgres). Returns are history: rejected instead, which
        frees the quantity and moves the order back when nothing else is open."""
        if row is not None and all(k in row for k in spec.key):
            where, params = f"{self.key_expr(spec)} = %s", [self.key_of(spec, row)]
        else:
            where, params = "to_jsonb(t) @> %s::jsonb", [self.marker(payload)]
        if spec.label == "returns":
            self.q(f"update public.returns as t set status = 'rejected' where {where}", params)
            return
        self.q(f"delete from {spec.table} as t where {where}", params)

    # -- delete victims ------------------------------------------------------------------
    def victim(self, spec: TableSpec, like: dict[str, Any]) -> str:
        """A fresh row like ``like`` (same owner and state), for an allowed delete."""
        label = spec.label
        if label == "vendors":
            phone = new_phone()
            user = self.service.client.auth.admin.create_user({"phone": phone, "phone_confirm": True}).user
            assert user is not None
            self.extra_users.append(user.id)
            return self.one(
                "insert into public.vendors (owner_id, name, slug, status) values (%s, 'Victim shop', %s, %s) "
                "returning id::text",
                [user.id, f"victim-{rand(10)}", like["status"]],
            )
        if label == "categories":
            return self.one(
                "insert into public.categories (slug, name, parent_id) values (%s, 'Victim', %s) returning id::text",
                [f"victim-{rand(10)}", like["parent_id"]],
            )
        if label == "fulfillment_centers":
            return self.one(
                "insert into public.fulfillment_centers (code, name, region, active) "
                "values (%s, 'Victim', 'Tanga', %s) returning id::text",
                [self.center_code(), like["active"]],
            )
        if label == "products":
            return self.one(
                "insert into public.products (vendor_id, title, price, status) values (%s, 'Victim', 100, %s) "
                "returning id::text",
                [like["vendor_id"], like["status"]],
            )
        if label == "livestream_sessions":
            return self.one(
                "insert into public.livestream_sessions (vendor_id, title, scheduled_start, status) "
                "values (%s, 'Victim', now() + interval '2 days', %s) returning id::text",
                [like["vendor_id"], like["status"]],
            )
        raise AssertionError(f"no victims for {label}")

    def dependents(self, spec: TableSpec, key: str) -> list[tuple[TableSpec, str]]:
        """Rows a delete of this row cascades to, to put back with it (a cart's items)."""
        if spec.label != "carts":
            return []
        from tests.policies.matrix import MATRIX

        items = MATRIX.tables["cart_items"]
        rows = self.q("select to_jsonb(i)::text from public.cart_items as i where cart_id = %s", [key])
        return [(items, r[0]) for r in rows]
