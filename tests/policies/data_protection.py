"""The function cells of data protection (supabase/migrations/20261127001600_data_protection.sql).

export_my_data: every signed-in person gets their own data and nothing of anyone else's (each
section is compared with a count of the caller's rows, and every customer_id / user_id in the
document is the caller's); anon and the service role (no user) are refused with 42501.

apply_retention: the service role runs it and it acts on someone else's rows (an old read
notification of the customer disappears); everyone else is refused and the row stays."""

from __future__ import annotations

from typing import Any

from tests.policies.harness import assert_denied
from tests.policies.world import World

NAMES = ("export_my_data", "apply_retention")

#: export section -> SQL counting the caller's rows of it
SECTIONS: dict[str, str] = {
    "orders": "select count(*) from public.orders where customer_id = %s",
    "payments": "select count(*) from public.payments where customer_id = %s",
    "refunds": "select count(*) from public.refunds where customer_id = %s",
    "returns": "select count(*) from public.returns where customer_id = %s",
    "instalment_plans": "select count(*) from public.bnpl_orders where customer_id = %s",
    "cart": "select count(*) from public.cart_items where customer_id = %s",
    "notifications": "select count(*) from public.notifications where user_id = %s",
    "marketing_consents": "select count(*) from public.marketing_consents where user_id = %s",
    "push_devices": "select count(*) from public.push_devices where user_id = %s",
    "livestream_reminders": "select count(*) from public.livestream_reminders where user_id = %s",
}


def owners(value: Any) -> set[str]:
    """Every customer_id / user_id anywhere in the document."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("customer_id", "user_id") and isinstance(v, str):
                found.add(v)
            found |= owners(v)
    elif isinstance(value, list):
        for v in value:
            found |= owners(v)
    return found


def check(world: World, name: str, role: str, value: str, what: str) -> set[str]:
    if name == "export_my_data":
        return check_export(world, role, value, what)
    return check_retention(world, role, value, what)


def check_export(world: World, role: str, value: str, what: str) -> set[str]:
    actor = world.actors[role]
    out = actor.run(lambda c: c.rpc("export_my_data", {}).execute())
    if value == "none":
        assert_denied(out, actor, what, silent_ok=False)
        return {"denied"}
    assert value == "own", what
    assert out.ok and isinstance(out.data, dict), f"{what}: {out}"
    doc: dict[str, Any] = out.data
    uid = actor.uid
    assert doc["user_id"] == uid and doc["profile"]["id"] == uid, f"{what}: {doc.get('profile')}"
    assert owners(doc) == {uid}, f"{what}: the export names other people: {owners(doc) - {uid}}"
    for section, sql in SECTIONS.items():
        assert len(doc[section]) == world.one(sql, [uid]), f"{what}: {section} is not all of the caller's rows"
    for order in doc["orders"]:
        lines = world.one("select count(*) from public.order_items where order_id = %s", [order["id"]])
        assert len(order["lines"]) == lines, f"{what}: order {order['id']} lines"
    balance = world.one("select coalesce(sum(points), 0) from public.loyalty_points where customer_id = %s", [uid])
    assert doc["loyalty"]["balance"] == balance, f"{what}: loyalty {doc['loyalty']['balance']} != {balance}"
    assert doc["notifications"] and doc["push_devices"], f"arrangement gap: {role} has no notification or device"
    others = world.one(
        "select count(*) from public.notifications where user_id = any(%s) and user_id <> %s",
        [world.all_users(), uid],
    )
    assert others > 0, "arrangement gap: no one else's notification to leave out"
    if role in ("customer", "other_customer"):
        assert doc["orders"] and doc["payments"], f"arrangement gap: {role} has no order in the export"
    return {"allowed", "denied"}


def check_retention(world: World, role: str, value: str, what: str) -> set[str]:
    actor = world.actors[role]
    old = world.one(
        "insert into public.notifications (user_id, type, title, read_at, created_at) "
        "values (%s, 'system', 'Policy retention', now() - interval '400 days', now() - interval '401 days') "
        "returning id::text",
        [world.users["customer"]],
    )
    try:
        out = actor.run(lambda c: c.rpc("apply_retention", {}).execute())
        still = world.one("select count(*) from public.notifications where id = %s", [old])
        if value == "none":
            assert_denied(out, actor, what, silent_ok=False)
            assert still == 1, f"{what}: the old notification went"
            return {"denied"}
        assert value == "all" and role == "service_role", what
        assert out.ok and out.data["notifications_deleted"] >= 1, f"{what}: {out}"
        assert still == 0, f"{what}: the customer's old read notification is still there"
        return {"allowed"}
    finally:
        world.q("delete from public.notifications where id = %s", [old])
