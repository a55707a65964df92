"""The cells of ``policies/functions.toml``: every RPC of schema public, called through
supabase-py (``.rpc``) as each role.

``none``: the call fails with 42501 (HTTP 401 anon, 403 otherwise) and changes nothing.
A set / ``all`` / ``empty`` over rows: the rows returned are exactly the function's ``rows``
(narrowed to this run's) in the set. ``own``: the call works and is about the caller only.
``all`` for a function that acts: it acts on a row that is not the caller's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from supabase import Client

from tests.policies import after_payment, data_protection, instalments, metrics, money, notifications
from tests.policies.actors import Actor, Outcome
from tests.policies.harness import assert_denied
from tests.policies.matrix import COVERAGE, MATRIX, ROLES, FunctionSpec
from tests.policies.world import World, rand

CELLS = [(name, role) for name in MATRIX.functions for role in ROLES]


def refused(out: Outcome, actor: Actor, what: str) -> None:
    assert_denied(out, actor, what, silent_ok=False)


def result_keys(f: FunctionSpec, rows: list[dict[str, Any]]) -> set[str]:
    assert f.key is not None
    return {"|".join(str(r[k]) for k in f.key) for r in rows}


def rows_of(world: World, f: FunctionSpec, where: str, params: dict[str, Any]) -> set[str]:
    assert f.key is not None and f.rows is not None
    key = "concat_ws('|', " + ", ".join(f"r.{k}::text" for k in f.key) + ")"
    return {r[0] for r in world.q(f"select {key} from ({f.rows}) as r where {where}", params)}


def check_rows(
    world: World, f: FunctionSpec, role: str, call: Callable[[Client], Any], narrow: str, params: dict[str, Any]
) -> set[str]:
    """A set-returning RPC: the rows the role gets, among the ``rows`` narrowed by ``narrow``,
    are exactly those matching the cell."""
    actor, value = world.actors[role], f.execute[role]
    what = f"rpc {f.name} as {role} [{value}]"
    out = actor.run(call)
    universe = rows_of(world, f, narrow, params)
    assert universe, f"arrangement gap: {f.name} has no arranged rows"
    if value == "none":
        refused(out, actor, what)
        return {"denied"}
    assert out.ok, f"{what}: {out}"
    expected = rows_of(world, f, f"({narrow}) and {f.predicate(role, actor.uid)}", params)
    seen = result_keys(f, out.rows()) & universe
    assert seen == expected, f"{what}: got {sorted(seen)[:4]}…, expected {sorted(expected)[:4]}…"
    sides = {"allowed"} if out.ok else set()
    if value not in ("all",):
        assert universe - expected, f"arrangement gap: every {f.name} row is in {role}'s cell"
        sides.add("denied")
    if value not in ("empty",):
        assert expected, f"arrangement gap: no {f.name} row in {role}'s cell"
    return sides


# -- a pending payment the refused callers aim at ---------------------------------------------


@pytest.fixture(scope="module")
def pending(world: World) -> Iterator[dict[str, Any]]:
    """A checkout of the customer awaiting payment (stock reserved), failed at the end."""
    result = world.checkout("customer", [(world.products[("vendor", "spare")], 1)])
    try:
        yield result
    finally:
        state = world.one("select status from public.payments where id = %s", [result["payment_id"]])
        if state in ("pending", "initiated", "ambiguous"):
            world.pay(result, "failed")


def payment_state(world: World, payment_id: str) -> tuple[Any, ...]:
    return tuple(
        world.q(
            "select to_jsonb(p)::text, to_jsonb(o)::text, (select coalesce(sum(reserved), 0) from public.inventory) "
            "from public.payments p join public.orders o on o.id = p.order_id where p.id = %s",
            [payment_id],
        )[0]
    )


def service_flow_args(name: str, payment: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    if name == "claim_payment_push":
        return {"p_payment_id": payment["payment_id"]}
    if name == "record_payment_initiation":
        return {"p_payment_id": payment["payment_id"], "p_outcome": "initiated"}
    if name == "record_webhook_event":
        return {"p_provider": "mpesa", "p_headers": {}, "p_body": "\\x" + f"policy {rand()}".encode().hex()}
    if name == "finish_webhook_event":
        return {"p_event_id": event_id or str(uuid.uuid4()), "p_authentic": True}
    if name == "apply_payment_event":
        return {
            "p_provider": payment["provider"],
            "p_provider_ref": payment["provider_ref"],
            "p_outcome": "succeeded",
            "p_amount": payment["amount"],
            "p_currency": "TZS",
            "p_provider_txn_id": f"POL{rand(12)}",
            "p_source": "callback",
        }
    if name == "payments_to_reconcile":
        return {"p_min_age_seconds": 86400, "p_limit": 1000}  # only payments stale for a day
    if name == "fail_unsent_push":
        return {"p_payment_id": payment["payment_id"], "p_finding": "not_found"}
    if name == "expire_overdue_payments":
        return {"p_grace_seconds": 86400}  # only orders overdue for a day
    raise AssertionError(name)


SERVICE_FLOW = (
    "claim_payment_push",
    "record_payment_initiation",
    "record_webhook_event",
    "finish_webhook_event",
    "apply_payment_event",
    "payments_to_reconcile",
    "fail_unsent_push",
    "expire_overdue_payments",
)


def check_service_flow_allowed(world: World, name: str) -> None:
    """The service role drives a payment of the customer (not its own rows: it has none)."""
    svc = world.service
    what = f"rpc {name} as service_role"
    if name == "record_webhook_event":
        args = service_flow_args(name, {})
        out = svc.run(lambda c: c.rpc(name, args).execute())
        assert out.ok, f"{what}: {out}"
        body = bytes.fromhex(args["p_body"][2:])
        assert world.q("select 1 from private.payment_events where id = %s and body = %s", [out.data, body])
        return
    if name == "finish_webhook_event":
        event = world.one(
            "insert into private.payment_events (provider, body) values ('mpesa', 'x') returning id::text"
        )
        out = svc.run(lambda c: c.rpc(name, service_flow_args(name, {}, event)).execute())
        assert out.ok, f"{what}: {out}"
        assert world.one("select authenticated from private.payment_events where id = %s", [event]) is True
        return
    payment = world.checkout("customer", [(world.products[("vendor", "spare")], 1)])
    try:
        if name in ("payments_to_reconcile", "fail_unsent_push"):
            world.q(
                "update public.payments set push_requested_at = now() - interval '2 days' where id = %s",
                [payment["payment_id"]],
            )
        if name == "expire_overdue_payments":
            world.q(
                "update public.orders set expires_at = now() - interval '2 days' where id = %s", [payment["order_id"]]
            )
        out = svc.run(lambda c: c.rpc(name, service_flow_args(name, payment)).execute())
        assert out.ok, f"{what}: {out}"
        pay_status, order_status, checks, pushed = world.q(
            "select p.status, o.status, p.status_checks, p.push_requested_at is not null "
            "from public.payments p join public.orders o on o.id = p.order_id where p.id = %s",
            [payment["payment_id"]],
        )[0]
        if name == "claim_payment_push":
            assert out.data["claimed"] is True and pushed, f"{what}: {out}"
        elif name == "record_payment_initiation":
            assert pay_status == "initiated", f"{what}: payment is {pay_status}"
        elif name == "apply_payment_event":
            assert (pay_status, order_status) == ("succeeded", "paid"), f"{what}: {pay_status}/{order_status}"
        elif name == "payments_to_reconcile":
            assert payment["payment_id"] in {r["payment_id"] for r in out.rows()} and checks == 1, f"{what}: {out}"
        elif name == "fail_unsent_push":
            assert out.data["result"] == "failed", f"{what}: {out}"
            assert (pay_status, order_status) == ("failed", "cancelled"), f"{what}: {pay_status}/{order_status}"
        elif name == "expire_overdue_payments":
            assert (pay_status, order_status) == ("expired", "expired"), f"{what}: {pay_status}/{order_status}"
    finally:
        state = world.one("select status from public.payments where id = %s", [payment["payment_id"]])
        if state in ("pending", "initiated", "ambiguous"):
            world.pay(payment, "failed")


# -- the test --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "role"), CELLS, ids=["-".join(c) for c in CELLS])
def test_function_cell(world: World, pending: dict[str, Any], name: str, role: str) -> None:
    f = MATRIX.functions[name]
    actor, value = world.actors[role], f.execute[role]
    what = f"rpc {name} as {role} [{value}]"
    sides: set[str] = set()
    params = world.params()
    my_products = list(world.products.values())
    my_vendors = list(world.vendors.values())

    if name == "product_stock":
        sides = check_rows(
            world,
            f,
            role,
            lambda c: c.rpc(name, {"p_product_ids": my_products}).execute(),
            "r.product_id = any(%(products)s::uuid[])",
            {**params, "products": my_products},
        )
        if "allowed" in sides:
            out = actor.run(lambda c: c.rpc(name, {"p_product_ids": my_products}).execute())
            assert all(set(r) == {"product_id", "center_id", "center_code", "available"} for r in out.rows())

    elif name == "vendor_order_lines":
        sides = check_rows(
            world,
            f,
            role,
            lambda c: c.rpc(name, {}).in_("vendor_id", my_vendors).execute(),
            "r.vendor_id = any(%(vendors)s::uuid[])",
            {**params, "vendors": my_vendors},
        )

    elif name == "loyalty_balance":
        out = actor.run(lambda c: c.rpc(name, {}).execute())
        if value == "none":
            refused(out, actor, what)
            sides = {"denied"}
        else:
            own = world.one(
                "select coalesce(sum(points), 0) from public.loyalty_points where customer_id = %s", [actor.uid]
            )
            others = world.one(
                "select coalesce(sum(points), 0) from public.loyalty_points where customer_id = any(%s) "
                "and customer_id <> %s",
                [world.all_users(), actor.uid],
            )
            assert own > 0 and others > 0, "arrangement gap: loyalty points of the caller and of others"
            assert out.ok and int(out.data) == own, f"{what}: {out}, own points {own}"
            sides = {"allowed", "denied"}

    elif name in after_payment.NAMES:
        sides = after_payment.check(world, name, role, value, what)

    elif name in money.NAMES:
        sides = money.check(world, name, role, value, what)

    elif name in metrics.NAMES:
        sides = metrics.check(world, name, role, value, what)

    elif name in data_protection.NAMES:
        sides = data_protection.check(world, name, role, value, what)

    elif name in instalments.NAMES:
        sides = instalments.check(world, name, role, value, what)

    elif name == "livestream_sales":
        sides = check_rows(
            world,
            f,
            role,
            lambda c: c.rpc(name, {}).in_("vendor_id", my_vendors).execute(),
            "r.vendor_id = any(%(vendors)s::uuid[])",
            {**params, "vendors": my_vendors},
        )
    elif name in notifications.NAMES:
        sides = notifications.check(world, name, role, value, what)

    elif name == "refunds_to_execute":
        sides = after_payment.refunds_to_execute(world, role, value, what)

    elif name == "custom_access_token_hook":
        event = {"user_id": actor.uid or world.users["customer"], "claims": {"role": "authenticated"}}
        out = actor.run(lambda c: c.rpc(name, {"event": event}).execute())
        assert value == "none", f"{name}: only supabase_auth_admin may run the hook"
        refused(out, actor, what)
        sides = {"denied"}

    elif name == "checkout":
        sides = check_checkout(world, role, value, what)

    elif name == "payment_reference":
        out = actor.run(lambda c: c.rpc(name, {"p_payment_id": pending["payment_id"]}).execute())
        if value == "none":
            refused(out, actor, what)
            sides = {"denied"}
        else:
            assert value == "all", what
            assert out.ok and out.data == pending["provider_ref"], f"{what}: {out}"
            sides = {"allowed"}

    elif name == "payment_by_reference":
        out = actor.run(lambda c: c.rpc(name, {"p_reference": pending["provider_ref"]}).execute())
        if value == "none":
            refused(out, actor, what)
            sides = {"denied"}
        else:
            assert value == "all", what
            assert out.ok and out.data == pending["payment_id"], f"{what}: {out}"
            sides = {"allowed"}

    elif name in SERVICE_FLOW:
        if value == "none":
            before = payment_state(world, pending["payment_id"])
            events = world.one("select count(*) from private.payment_events")
            out = actor.run(lambda c: c.rpc(name, service_flow_args(name, pending)).execute())
            refused(out, actor, what)
            assert payment_state(world, pending["payment_id"]) == before, f"{what}: the payment or order changed"
            assert world.one("select count(*) from private.payment_events") == events, f"{what}: an event appeared"
            sides = {"denied"}
        else:
            assert value == "all" and role == "service_role", f"{what}: only the service role drives payments"
            check_service_flow_allowed(world, name)
            sides = {"allowed"}
    else:
        raise AssertionError(f"no test for rpc {name}: add one to tests/policies/test_functions.py")

    COVERAGE.mark(f"fn:{name}", role, "execute", *sides)


def check_checkout(world: World, role: str, value: str, what: str) -> set[str]:
    actor = world.actors[role]
    args = {"p_idempotency_key": f"policy-{uuid.uuid4()}", "p_provider": "airtel", "p_shipping_address": {
        "recipient_name": "Policy", "region": "Dar es Salaam", "district": "Ilala", "street": "1"}}  # fmt: skip
    users = world.all_users()
    orders_before = world.one("select count(*) from public.orders where customer_id = any(%s)", [users])
    if value == "none":
        out = actor.run(lambda c: c.rpc("checkout", args).execute())
        refused(out, actor, what)
        assert world.one("select count(*) from public.orders where customer_id = any(%s)", [users]) == orders_before
        return {"denied"}
    assert value == "own"
    spare = world.products[("other_vendor", "spare")]
    cart = world.ensure_cart(role)
    others = world.q(
        "select customer_id::text, count(*) from public.cart_items where customer_id = any(%s) and customer_id <> %s "
        "group by 1 order by 1",
        [users, actor.uid],
    )
    world.q("delete from public.cart_items where cart_id = %s and product_id = %s", [cart, spare])
    added = actor.run(
        lambda c: c.table("cart_items").insert({"cart_id": cart, "product_id": spare, "quantity": 1}).execute()
    )
    assert added.ok, f"{what}: could not fill the cart: {added}"
    out = actor.run(lambda c: c.rpc("checkout", args).execute())
    assert out.ok, f"{what}: {out}"
    try:
        owner, payer = world.q(
            "select o.customer_id::text, p.customer_id::text from public.orders o join public.payments p "
            "on p.order_id = o.id where o.id = %s",
            [out.data["order_id"]],
        )[0]
        assert owner == payer == actor.uid, f"{what}: the order is {owner}'s, paid by {payer}"
        assert world.q(
            "select 1 from public.order_items where order_id = %s and product_id = %s", [out.data["order_id"], spare]
        ), f"{what}: the caller's cart did not become the order"
        after = world.q(
            "select customer_id::text, count(*) from public.cart_items where customer_id = any(%s) "
            "and customer_id <> %s group by 1 order by 1",
            [users, actor.uid],
        )
        assert after == others, f"{what}: other people's carts changed"
    finally:
        world.pay(dict(out.data), "failed")  # cancelled; stock released, items back in the cart
        world.q("delete from public.cart_items where customer_id = %s and product_id = %s", [actor.uid, spare])
    return {"allowed", "denied"}


def test_vendor_order_lines_pages_are_slices_of_the_whole_list(world: World) -> None:
    """p_limit / p_offset (read from an index) give exactly the slices of the full list."""
    for role, args in (("vendor", {}), ("admin", {"p_vendor_id": world.vendors["vendor"]})):
        actor = world.actors[role]
        whole = actor.run(lambda c, a=args: c.rpc("vendor_order_lines", a).execute())
        assert whole.ok and len(whole.rows()) >= 3, f"{role}: {whole}"
        ids = [r["order_item_id"] for r in whole.rows()]
        times = [r["ordered_at"] for r in whole.rows()]
        assert times == sorted(times, reverse=True), f"{role}: not newest first"
        for limit, offset in ((2, 0), (2, 1), (1000, 0), (5, len(ids))):
            page = actor.run(
                lambda c, a=args, n=limit, o=offset: c.rpc(
                    "vendor_order_lines", {**a, "p_limit": n, "p_offset": o}
                ).execute()
            )
            assert page.ok, f"{role} page {limit}/{offset}: {page}"
            assert [r["order_item_id"] for r in page.rows()] == ids[offset : offset + limit], (
                f"{role} page {limit}/{offset} is not that slice of the whole list"
            )
            assert page.rows() == whole.rows()[offset : offset + limit]
        for bad in ({"p_limit": 0}, {"p_limit": 1001}, {"p_limit": 5, "p_offset": -1}):
            out = actor.run(lambda c, a=args, b=bad: c.rpc("vendor_order_lines", {**a, **b}).execute())
            assert out.status == 400 and out.code == "22023", f"{role} {bad}: {out}"
