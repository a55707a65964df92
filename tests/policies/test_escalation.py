"""Escalation attempts: what an attacker with an account (or none) would
try, through supabase-py. Each attempt is counted; after each, the database (as postgres)
must show that nothing changed."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from supabase import Client

from tests.policies.actors import Actor, Outcome, client_for, mint_token
from tests.policies.harness import assert_denied, key_filter, table
from tests.policies.matrix import COVERAGE, MATRIX
from tests.policies.world import BUCKET, PNG, PROBE_COLUMN, World, rand

MASKED = re.compile(r"^255\*{4}[0-9]{4}$")


def attempt(actor: Actor, call: Callable[[Client], Any]) -> Outcome:
    COVERAGE.escalations += 1
    return actor.run(call)


def refused(actor: Actor, call: Callable[[Client], Any], what: str) -> Outcome:
    """The attempt must fail with 42501 (401 anon / 403 others)."""
    out = attempt(actor, call)
    assert_denied(out, actor, what, silent_ok=False)
    return out


def nothing(actor: Actor, call: Callable[[Client], Any], what: str) -> Outcome:
    """The attempt must reach no row: 0 rows, or 42501."""
    out = attempt(actor, call)
    assert_denied(out, actor, what, silent_ok=True)
    return out


def row(world: World, table_name: str, key: str, column: str = "id") -> str:
    return world.one(f"select to_jsonb(t)::text from {table_name} t where {column}::text = %s", [key])


def test_a_customer_cannot_make_themself_admin_or_vendor(world: World) -> None:
    c = world.actors["customer"]
    before = row(world, "public.profiles", c.uid)
    for role in ("admin", "vendor"):
        refused(
            c, lambda cl, r=role: cl.table("profiles").update({"role": r}).eq("id", c.uid).execute(), f"role {role}"
        )
        refused(
            c,
            lambda cl, r=role: cl.table("profiles").upsert({"id": c.uid, "role": r}, on_conflict="id").execute(),
            f"upsert role {role}",
        )
    # another customer cannot do it for them either: the row is not theirs
    nothing(
        world.actors["other_customer"],
        lambda cl: cl.table("profiles").update({"role": "admin"}).eq("id", c.uid).execute(),
        "other customer promotes",
    )
    assert row(world, "public.profiles", c.uid) == before
    # a token claiming user_role admin (as if the hook said so) changes nothing: policies read profiles
    forged = client_for(world.target.url, world.target.anon_key, c.last, mint_token(
        world.target.jwt_secret, c.uid, c.phone, user_role="admin", app_metadata={"role": "admin"}))  # fmt: skip
    claimer = Actor("customer", c.uid, forged, "token with user_role admin", c.phone, c.last)
    out = attempt(claimer, lambda cl: cl.table("audit_logs").select("id").limit(5).execute())
    assert out.ok and out.rows() == [], f"a user_role claim opened the audit log: {out}"
    nothing(claimer, lambda cl: cl.table("profiles").update({"full_name": "x"}).neq("id", c.uid).execute(), "claims")
    # the pending shop's owner cannot approve their own shop
    p = world.actors["pending_owner"]
    shop = world.vendors["pending"]
    before_shop = row(world, "public.vendors", shop)
    refused(p, lambda cl: cl.table("vendors").update({"status": "approved"}).eq("id", shop).execute(), "self-approve")
    assert row(world, "public.vendors", shop) == before_shop
    assert world.one("select role from public.profiles where id = %s", [p.uid]) == "customer"


def test_nobody_edits_an_order_total_or_status(world: World) -> None:
    order = world.orders[("customer", "paid")]["order_id"]
    before = row(world, "public.orders", order)
    c, svc = world.actors["customer"], world.service
    for actor in (c, svc, world.admin):
        for change in ({"total": 1}, {"subtotal": 1, "total": 1}, {"status": "completed"}, {"paid_at": None}):
            refused(actor, lambda cl, ch=change: cl.table("orders").update(ch).eq("id", order).execute(), f"{change}")
        refused(actor, lambda cl: cl.table("orders").delete().eq("id", order).execute(), "delete order")
    for shipment in world.shipments(order):
        refused(c, lambda cl, s=shipment: cl.rpc("pack_shipment", {"p_shipment_id": s}).execute(), "pack own parcel")
        refused(
            c,
            lambda cl, s=shipment: cl.rpc(
                "dispatch_shipment", {"p_shipment_id": s, "p_carrier": "me", "p_tracking_number": "1"}
            ).execute(),
            "dispatch own parcel",
        )
    assert row(world, "public.orders", order) == before
    # the customer's own pending payment cannot be declared paid by them
    pending = world.checkout("customer", [(world.products[("vendor", "spare")], 1)])
    try:
        args = {
            "p_provider": pending["provider"],
            "p_provider_ref": pending["provider_ref"],
            "p_outcome": "succeeded",
            "p_amount": pending["amount"],
        }
        refused(c, lambda cl: cl.rpc("apply_payment_event", args).execute(), "apply own success")
        refused(
            c,
            lambda cl: cl.table("payments").update({"status": "succeeded"}).eq("id", pending["payment_id"]).execute(),
            "mark own payment succeeded",
        )
        state = world.q(
            "select p.status, o.status from public.payments p join public.orders o on o.id = p.order_id "
            "where p.id = %s",
            [pending["payment_id"]],
        )[0]
        assert state == ("pending", "pending_payment"), state
    finally:
        world.pay(pending, "failed")
        world.q(
            "delete from public.cart_items where customer_id = %s and product_id = %s",
            [c.uid, world.products[("vendor", "spare")]],
        )


def test_nobody_inserts_payments_points_or_notifications(world: World) -> None:
    c = world.actors["customer"]
    paid = world.orders[("customer", "paid")]
    rows = {
        "payments": {
            "order_id": paid["order_id"],
            "customer_id": c.uid,
            "provider": "mpesa",
            "msisdn": c.phone,
            "amount": 1,
            "status": "succeeded",
            "attempt": 9,
        },
        "loyalty_points": {"customer_id": c.uid, "points": 100000, "reason": "bonus", "note": rand()},
        "notifications": {"user_id": c.uid, "type": "system", "title": f"Free money {rand()}"},
        "bnpl_orders": {
            "order_id": world.orders[("customer", "delivered")]["order_id"],
            "customer_id": c.uid,
            "plan": "pay_in_2",
            "instalment_count": 2,
            "provider": "mpesa",
            "total": 2,
            "interval_days": 14,
        },
    }
    for name, payload in rows.items():
        spec = MATRIX.tables[name]
        for actor in (c, world.service):
            before = world.count_like(spec, payload)
            refused(actor, lambda cl, n=name, p=payload: cl.table(n).insert(p).execute(), f"insert {name}")
            assert world.count_like(spec, payload) == before, f"a {name} row appeared"
    refused(
        c,
        lambda cl: cl.table("loyalty_points").update({"points": 100000}).eq("customer_id", c.uid).execute(),
        "inflate own points",
    )


def test_nobody_reads_another_customers_phone(world: World) -> None:
    c = world.actors["customer"]
    other = world.users["other_customer"]
    other_phone = world.phones["other_customer"]
    for call in (
        lambda cl: cl.table("profiles").select("id, phone").eq("id", other).execute(),
        lambda cl: cl.table("profiles").select("id").eq("phone", other_phone).execute(),
        lambda cl: cl.table("orders").select("id, phone").eq("customer_id", other).execute(),
        lambda cl: cl.table("payments").select("id, msisdn").eq("msisdn", other_phone).execute(),
        lambda cl: cl.rpc("vendor_order_lines", {}).execute(),
    ):
        out = attempt(c, call)
        assert out.ok and out.rows() == [], f"the customer read someone else's rows: {out}"
    # vendors see the lines they fulfil, every customer phone masked as the orders' phones
    for role in ("vendor", "other_vendor"):
        v = world.actors[role]
        out = attempt(v, lambda cl: cl.rpc("vendor_order_lines", {}).execute())
        assert out.ok and out.rows(), f"{role} sees no order lines: {out}"
        orders = list({r["order_id"] for r in out.rows()})
        real = dict(world.q("select id::text, phone from public.orders where id = any(%s::uuid[])", [orders]))
        for line in out.rows():
            assert MASKED.match(line["customer_phone"]), f"{role} saw an unmasked phone: {line['customer_phone']}"
            phone = real[line["order_id"]]
            assert line["customer_phone"] == phone[:3] + "****" + phone[-4:]
        text = json.dumps(out.data)
        assert not any(p in text for p in real.values()), f"{role}'s order lines contain a raw phone"
        peek = attempt(v, lambda cl, o=orders: cl.table("orders").select("id").in_("id", o).execute())
        assert peek.rows() == [], f"{role} reads the orders table: {peek}"
    # the admin sees them unmasked
    out = attempt(
        world.admin, lambda cl: cl.rpc("vendor_order_lines", {}).eq("vendor_id", world.vendors["vendor"]).execute()
    )
    assert out.ok and out.rows() and all(not MASKED.match(r["customer_phone"]) for r in out.rows())


def test_a_vendor_cannot_touch_another_vendor_or_its_own_terms(world: World) -> None:
    v = world.actors["vendor"]
    mine, theirs = world.vendors["vendor"], world.vendors["other_vendor"]
    their_product = world.products[("other_vendor", "active")]
    my_product = world.products[("vendor", "active")]
    watched = {
        "public.products": [their_product, my_product],
        "public.vendors": [mine, theirs],
    }
    snapshots = {(t, k): row(world, t, k) for t, keys in watched.items() for k in keys}
    account = row(world, "public.vendor_accounts", mine, "vendor_id")
    nothing(v, lambda cl: cl.table("products").update({"price": 1}).eq("id", their_product).execute(), "price")
    nothing(v, lambda cl: cl.table("products").update({"status": "archived"}).eq("id", their_product).execute(), "st")
    nothing(v, lambda cl: cl.table("products").delete().eq("id", their_product).execute(), "delete theirs")
    nothing(v, lambda cl: cl.table("vendors").update({"name": "Mine now"}).eq("id", theirs).execute(), "rename theirs")
    refused(v, lambda cl: cl.table("products").update({"vendor_id": theirs}).eq("id", my_product).execute(), "move")
    refused(
        v,
        lambda cl: cl.table("products").insert({"vendor_id": theirs, "title": "Fake", "price": 1}).execute(),
        "product for them",
    )
    for status in ("suspended", "pending"):
        refused(
            v, lambda cl, s=status: cl.table("vendors").update({"status": s}).eq("id", mine).execute(), "own status"
        )
    refused(
        v, lambda cl: cl.table("vendors").update({"owner_id": world.users["customer"]}).eq("id", mine).execute(), "o"
    )
    for bps in (0, 1):
        refused(
            v,
            lambda cl, b=bps: cl.table("vendor_accounts").update({"commission_bps": b}).eq("vendor_id", mine).execute(),
            "commission",
        )
    stock = world.one("select id::text from public.inventory where product_id = %s limit 1", [my_product])
    stock_before = row(world, "public.inventory", stock)
    refused(v, lambda cl: cl.table("inventory").update({"reserved": 0, "on_hand": 0}).eq("id", stock).execute(), "rsv")
    refused(
        v,
        lambda cl: (
            cl.table("inventory")
            .insert(
                {"product_id": their_product, "vendor_id": theirs, "center_id": world.centers["active"], "on_hand": 1}
            )
            .execute()
        ),
        "stock theirs",
    )
    out = attempt(v, lambda cl: cl.table("vendor_accounts").select("*").eq("vendor_id", theirs).execute())
    assert out.ok and out.rows() == []
    up = attempt(
        v, lambda cl: cl.storage.from_(BUCKET).upload(f"{theirs}/evil-{rand()}.png", PNG, {"content-type": "image/png"})
    )
    assert not up.ok and up.code == "storage:403", f"uploaded into another vendor's folder: {up}"
    for (t, k), before in snapshots.items():
        assert row(world, t, k) == before, f"{t} {k} changed"
    assert row(world, "public.vendor_accounts", mine, "vendor_id") == account
    assert row(world, "public.inventory", stock) == stock_before


@pytest.mark.parametrize("role", ["anon", "customer", "vendor", "admin", "service_role"])
def test_the_audit_log_is_append_only_for_everyone(world: World, role: str) -> None:
    actor = world.actors[role]
    spec = MATRIX.tables["audit_logs"]
    key = sorted(world.keys(spec))[0]
    before = world.snapshot(spec, key)
    refused(actor, lambda cl: cl.table("audit_logs").update({"action": "tampered"}).eq("id", key).execute(), "update")
    refused(
        actor, lambda cl: cl.table("audit_logs").update({"after": None}).gte("created_at", "2000-01-01").execute(), "u"
    )
    refused(actor, lambda cl: cl.table("audit_logs").delete().eq("id", key).execute(), "delete")
    refused(actor, lambda cl: cl.table("audit_logs").delete().gte("created_at", "2000-01-01").execute(), "delete all")
    payload = {"actor_role": "admin", "action": f"forged-{rand()}", "entity_type": "payments"}
    refused(actor, lambda cl: cl.table("audit_logs").insert(payload).execute(), "insert")
    assert world.snapshot(spec, key) == before
    assert world.count_like(spec, payload) == 0


@pytest.mark.parametrize("role", ["anon", "customer", "vendor", "admin", "service_role"])
def test_internal_functions_are_not_reachable(world: World, role: str) -> None:
    actor = world.actors[role]
    for name, args in (
        ("is_admin", {}),
        ("uid", {}),
        ("visible_from", {}),
        ("own_vendor_id", {}),
        ("write_audit", {"p_action": "x", "p_entity_type": "y", "p_entity_id": None}),
        ("mask_phone", {"p_phone": "255712345678"}),
        ("payment_invariant_violations", {}),
        ("money_invariant_violations", {}),
        ("post_transfer", {"p_cause_type": "order", "p_cause_id": str(uuid.uuid4()), "p_kind": "x", "p_legs": []}),
        ("create_payout", {"p_vendor_id": str(uuid.uuid4()), "p_source": "request"}),
        ("settle_paid", {"p_payment_id": str(uuid.uuid4()), "p_txn_id": "x"}),
    ):
        out = attempt(actor, lambda cl, n=name, a=args: cl.schema("private").rpc(n, a).execute())
        assert out.status == 406 and out.code == "PGRST106", f"private.{name} as {role}: {out}"
        out = attempt(actor, lambda cl, n=name, a=args: cl.rpc(n, a).execute())
        assert out.status == 404 and out.code == "PGRST202", f"{name} in public as {role}: {out}"
    out = attempt(actor, lambda cl: cl.schema("private").table("payment_events").select("*").execute())
    assert out.status == 406 and out.code == "PGRST106", out
    event = {"user_id": world.users["customer"], "claims": {"role": "authenticated", "sub": world.users["customer"]}}
    refused(actor, lambda cl: cl.rpc("custom_access_token_hook", {"event": event}).execute(), "token hook")


def test_anon_writes_nothing_anywhere(world: World) -> None:
    anon = world.actors["anon"]
    for label, spec in MATRIX.tables.items():
        if spec.schema != "public":
            continue
        universe = sorted(world.keys(spec))
        first = spec.key[0]
        values = sorted({k.split("|")[0] for k in universe})[:50]
        before = {k: world.snapshot(spec, k) for k in universe[:50]}
        for payload in world.candidates(spec)[:2]:
            count = world.count_like(spec, payload)
            refused(anon, lambda cl, p=payload, s=spec: table(cl, s).insert(p).execute(), f"anon insert {label}")
            assert world.count_like(spec, payload) == count, f"anon inserted into {label}"
        column = PROBE_COLUMN[label]
        refused(
            anon,
            lambda cl, s=spec, c=column, f=first, v=values: table(cl, s).update({c: None}).in_(f, v).execute(),
            f"anon update {label}",
        )
        refused(
            anon,
            lambda cl, s=spec, f=first, v=values: table(cl, s).delete().in_(f, v).execute(),
            f"anon delete {label}",
        )
        if universe:
            refused(
                anon,
                lambda cl, s=spec, k=universe[0]: table(cl, s).upsert({**key_filter(s, k)}).execute(),
                f"anon upsert {label}",
            )
        for k, snap in before.items():
            assert world.snapshot(spec, k) == snap, f"anon changed {label} {k}"
    for name, args in (
        ("checkout", {"p_idempotency_key": "anon-attempt-1", "p_provider": "mpesa", "p_shipping_address": {}}),
        ("pack_shipment", {"p_shipment_id": str(uuid.uuid4())}),
        (
            "refund_payment",
            {"p_payment_id": str(uuid.uuid4()), "p_amount": 1, "p_reason": "x", "p_idempotency_key": "k"},
        ),
        ("apply_payment_event", {"p_provider": "mpesa", "p_provider_ref": "x", "p_outcome": "succeeded"}),
    ):
        refused(anon, lambda cl, n=name, a=args: cl.rpc(n, a).execute(), f"anon rpc {name}")
    for folder in (world.vendors["vendor"], world.misc_folder):
        up = attempt(
            anon,
            lambda cl, f=folder: cl.storage.from_(BUCKET).upload(
                f"{f}/anon-{rand()}.png", PNG, {"content-type": "image/png"}
            ),
        )
        assert not up.ok and up.code == "storage:403", f"anon uploaded: {up}"
    name = world.objects["vendor"].split("/", 1)[1]
    gone = attempt(anon, lambda cl: cl.storage.from_(BUCKET).remove([name]))
    assert gone.ok and gone.data == [], f"anon removed an object: {gone}"


def test_a_token_not_signed_with_the_project_secret_is_refused(world: World) -> None:
    c = world.actors["customer"]
    now = int(time.time())
    from supabase_standin import keys

    for claims in (
        {"role": "service_role", "exp": now + 600},
        {"sub": c.uid, "role": "authenticated", "aud": "authenticated", "exp": now + 600},
    ):
        token = keys.sign("not-the-project-secret-but-32-chars-long!", claims)
        last: dict[str, int] = {}
        client = client_for(world.target.url, world.target.anon_key, last, token)
        forged = Actor("customer", c.uid, client, "forged", last=last)
        out = attempt(forged, lambda cl: cl.table("orders").select("id").limit(1).execute())
        assert out.status == 401 and not out.ok, f"a forged token was accepted: {out}"
