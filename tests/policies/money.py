"""The function cells of the money-out RPCs (payouts, statements, commission rates, points):
each arranges what the function acts on (earnings of a completed order, an open payout, a
customer's aged points), calls it as the role, and checks the denied side (42501, nothing
changed) or the allowed side (the change happened, or the answer is the caller's own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from tests.policies.actors import Outcome
from tests.policies.harness import assert_denied
from tests.policies.world import World


def call(world: World, role: str, fn: str, args: dict[str, Any]) -> Outcome:
    return world.actors[role].run(lambda c: c.rpc(fn, args).execute())


# -- arrangements -----------------------------------------------------------------------------


def earnings(world: World, shop: str = "vendor") -> str:
    """The shop earns more than the payout minimum on a completed order; returns its vendor id."""
    order = world.checkout("customer", [(world.products[(shop, "spare")], 6)])  # 12,000 TZS
    world.pay(order)
    world.fulfil(order["order_id"], "pack", "dispatch", "deliver")
    world.complete(order["order_id"])
    return world.vendors[shop]


def payout(world: World, *, claim: bool = False, approval: bool = False) -> dict[str, Any]:
    """An open payout of the vendor's shop (pending, or processing once claimed)."""
    vendor = earnings(world)
    made = world.one("select private.create_payout(%s, 'request')", [vendor])
    assert made["created"], f"arrangement: no payout could be created: {made}"
    target = {"payout": made["payout_id"], "vendor": vendor}
    if approval:
        world.q("update private.vendor_payouts set needs_approval = true where id = %s", [target["payout"]])
    if claim:
        assert world.one("select public.claim_payout(%s)", [target["payout"]])["claimed"]
    target["reference"] = world.one("select reference from private.vendor_payouts where id = %s", [target["payout"]])
    return target


def close_payout(world: World, target: dict[str, Any]) -> None:
    """No payout is left open for the next test (a vendor has at most one)."""
    rows = world.q(
        "select id::text, status from private.vendor_payouts where status in ('pending', 'processing') "
        "and (id = %s or vendor_id = %s)",
        [target.get("payout"), target.get("vendor")],
    )
    for payout_id, status in rows:
        if status == "pending":
            world.q("update private.vendor_payouts set status = 'cancelled' where id = %s", [payout_id])
            world.q("select private.return_payout(p) from private.vendor_payouts as p where p.id = %s", [payout_id])
        else:
            world.q(
                "select private.finish_payout(p, 'failed', null, null, 'policy suite') "
                "from private.vendor_payouts as p where p.id = %s",
                [payout_id],
            )


def stuck(target: dict[str, Any], world: World) -> dict[str, Any]:
    """The claimed payout has had no answer for 20 minutes."""
    world.q(
        "update private.vendor_payouts set claimed_at = now() - interval '20 minutes' where id = %s",
        [target["payout"]],
    )
    return target


def shop_name(world: World) -> str:
    return str(world.one("select name from public.vendors where id = %s", [world.vendors["vendor"]]))


def payout_status(world: World, target: dict[str, Any]) -> str:
    return str(world.one("select status from private.vendor_payouts where id = %s", [target["payout"]]))


def aged_points(world: World) -> dict[str, Any]:
    """The bystander has points untouched for more than a year, reminded long ago."""
    user = world.users["bystander"]
    issued = world.one("select private.ledger_account('points_issued')")
    account = world.one("select private.ledger_account('points_customer', %s)", [user])
    legs = [
        {"account": issued, "amount": 50, "kind": "points_earned"},
        {"account": account, "amount": -50, "kind": "points_earned"},
    ]
    world.q(
        "select private.post_transfer('order', gen_random_uuid(), 'earn_points', %s, 'policy suite')", [Jsonb(legs)]
    )
    world.q(
        "update private.ledger_accounts set last_entry_at = now() - interval '13 months' "
        "where kind = 'points_customer' and customer_id = %s",
        [user],
    )
    world.q(
        "insert into private.loyalty_expiry_notices (customer_id, last_activity_at, notified_at) "
        "select customer_id, last_entry_at, now() - interval '40 days' from private.ledger_accounts "
        "where kind = 'points_customer' and customer_id = %s "
        "on conflict (customer_id) do update set last_activity_at = excluded.last_activity_at, "
        "notified_at = excluded.notified_at",
        [user],
    )
    return {"user": user}


def points_of(world: World, user: str) -> int:
    return int(world.one("select private.points_balance(%s)", [user]))


# -- checks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acts:
    """A function acting on one arranged target; who may is in the matrix cell ("all" or "none")."""

    arrange: Callable[[World], dict[str, Any]]
    args: Callable[[dict[str, Any]], dict[str, Any]]
    done: Callable[[World, dict[str, Any]], bool]
    tidy: Callable[[World, dict[str, Any]], None] | None = close_payout

    def check(self, world: World, fn: str, role: str, value: str, what: str) -> set[str]:
        target = self.arrange(world)
        try:
            out = call(world, role, fn, self.args(target))
            if value == "none":
                assert_denied(out, world.actors[role], what, silent_ok=False)
                assert not self.done(world, target), f"{what}: refused, but it happened"
                return {"denied"}
            assert value == "all", what
            assert out.ok, f"{what}: {out}"
            assert self.done(world, target), f"{what}: answered, but nothing happened"
            return {"allowed"}
        finally:
            if self.tidy:
                self.tidy(world, target)


def becomes(status: str) -> Callable[[World, dict[str, Any]], bool]:
    return lambda world, t: payout_status(world, t) == status


def has_open_payout(world: World, t: dict[str, Any]) -> bool:
    opened = world.q(
        "select id::text from private.vendor_payouts where vendor_id = %s and status in ('pending', 'processing')",
        [t["vendor"]],
    )
    if opened:
        t["payout"] = opened[0][0]
    return bool(opened)


def tidy_commission(world: World, t: dict[str, Any]) -> None:
    world.q("delete from private.category_commissions where category_id = %s", [t["category"]])


ACTS: dict[str, Acts] = {
    "run_payouts": Acts(lambda w: {"vendor": earnings(w)}, lambda t: {}, has_open_payout),
    "approve_payout": Acts(
        lambda w: payout(w, approval=True),
        lambda t: {"p_payout_id": t["payout"]},
        lambda w, t: (
            w.one("select approved_at is not null from private.vendor_payouts where id = %s", [t["payout"]]) is True
        ),
    ),
    "cancel_payout": Acts(payout, lambda t: {"p_payout_id": t["payout"]}, becomes("cancelled")),
    "claim_payout": Acts(payout, lambda t: {"p_payout_id": t["payout"]}, becomes("processing")),
    "record_wallet_check": Acts(
        lambda w: (
            payout(w, claim=True)
            | {"name": w.one("select name from public.vendors where id = %s", [w.vendors["vendor"]])}
        ),
        lambda t: {"p_payout_id": t["payout"], "p_holder_name": t["name"]},
        lambda w, t: (
            w.one(
                "select payout_verified_at is not null from public.vendor_accounts where vendor_id = %s", [t["vendor"]]
            )
            is True
        ),
    ),
    "record_payout_outcome": Acts(
        lambda w: payout(w, claim=True),
        lambda t: {"p_payout_id": t["payout"], "p_outcome": "succeeded", "p_method": "b2c"},
        becomes("paid"),
    ),
    "apply_payout_event": Acts(
        lambda w: payout(w, claim=True),
        lambda t: {"p_provider": "mpesa", "p_reference": t["reference"], "p_outcome": "succeeded"},
        becomes("paid"),
    ),
    "settle_payout_by_hand": Acts(
        lambda w: stuck(payout(w, claim=True), w),
        lambda t: {
            "p_payout_id": t["payout"],
            "p_outcome": "succeeded",
            "p_provider_payout_id": "STMT-9",
            "p_note": "on the provider's statement",
        },
        becomes("paid"),
    ),
    "verify_payout_wallet": Acts(
        lambda w: {"vendor": w.vendors["other_vendor"], "payout": None},
        lambda t: {"p_vendor_id": t["vendor"], "p_holder_name": "Policy Other Vendor"},
        lambda w, t: (
            w.one(
                "select payout_verified_name = 'Policy Other Vendor' from public.vendor_accounts where vendor_id = %s",
                [t["vendor"]],
            )
            is True
        ),
        lambda w, t: w.q(
            "update public.vendor_accounts set payout_verified_at = null, payout_verified_name = null "
            "where vendor_id = %s",
            [t["vendor"]],
        ),
    ),
    "expire_points": Acts(aged_points, lambda t: {}, lambda w, t: points_of(w, t["user"]) == 0, lambda w, t: None),
    "set_category_commission": Acts(
        lambda w: {"category": w.categories["child"], "payout": None},
        lambda t: {"p_category_id": t["category"], "p_commission_bps": 750},
        lambda w, t: (
            w.q(
                "select 1 from private.category_commissions where category_id = %s and commission_bps = 750",
                [t["category"]],
            )
            != []
        ),
        tidy_commission,
    ),
}


def payouts_to_execute(world: World, role: str, value: str, what: str) -> set[str]:
    target = payout(world)
    try:
        out = call(world, role, "payouts_to_execute", {"p_limit": 500, "p_stale_seconds": 86400})
        if value == "none":
            assert_denied(out, world.actors[role], what, silent_ok=False)
            return {"denied"}
        assert out.ok and target["payout"] in {r["payout_id"] for r in out.rows()}, f"{what}: {out}"
        return {"allowed"}
    finally:
        close_payout(world, target)


def own_shop(world: World, fn: str, role: str, value: str, what: str) -> set[str]:
    """vendor_statement / vendor_balance / request_payout: a vendor's own shop only; admins any."""
    actor = world.actors[role]
    mine = {"vendor": "vendor", "other_vendor": "other_vendor"}.get(role)
    target = earnings(world) if fn == "request_payout" else world.vendors["vendor"]

    def answer(shop_id: str) -> Outcome:
        return call(world, role, fn, {"p_vendor_id": shop_id})

    def opened(shop_id: str) -> bool:
        return bool(
            world.q("select 1 from private.vendor_payouts where vendor_id = %s and status = 'pending'", [shop_id])
        )

    try:
        if value == "none":
            out = answer(target)
            assert_denied(out, actor, what, silent_ok=False)
            assert fn != "request_payout" or not opened(target), f"{what}: refused, but a payout opened"
            return {"denied"}
        if value == "all":
            out = answer(target)
            assert out.ok, f"{what}: {out}"
            assert fn != "request_payout" or opened(target), f"{what}: no payout opened"
            assert fn == "request_payout" or out.data["vendor_id"] == target, f"{what}: {out}"
            return {"allowed"}
        assert value == "own" and mine is not None, what
        own_id = world.vendors[mine]
        if fn == "request_payout":
            own_id = earnings(world, mine)
        out = answer(own_id)
        assert out.ok, f"{what} (own): {out}"
        if fn == "request_payout":
            assert opened(own_id), f"{what}: no payout opened"
        else:
            assert out.data["vendor_id"] == own_id, f"{what}: {out}"
            balances = out.data["balances"] if fn == "vendor_statement" else out.data
            assert balances["available"] >= 0 or balances["pending"] >= 0, f"{what}: {out}"
        other = world.vendors["other_vendor" if mine == "vendor" else "vendor"]
        out = answer(other)
        assert_denied(out, actor, f"{what} (another shop)", silent_ok=False)
        return {"allowed", "denied"}
    finally:
        for shop in ("vendor", "other_vendor"):
            close_payout(world, {"vendor": world.vendors[shop]})


def loyalty_account(world: World, role: str, value: str, what: str) -> set[str]:
    actor = world.actors[role]
    out = call(world, role, "loyalty_account", {})
    if value == "none":
        assert_denied(out, actor, what, silent_ok=False)
        return {"denied"}
    assert value == "own", what
    own = points_of(world, actor.uid)
    others = {points_of(world, u) for u in world.all_users() if u != actor.uid} - {own}
    assert own > 0 and others, "arrangement gap: points of the caller and different points of others"
    assert out.ok and out.data["points"] == own, f"{what}: {out}, own points {own}"
    return {"allowed", "denied"}


OWN_SHOP = {"vendor_statement", "vendor_balance", "request_payout"}
NAMES = set(ACTS) | OWN_SHOP | {"payouts_to_execute", "loyalty_account"}


def check(world: World, name: str, role: str, value: str, what: str) -> set[str]:
    if name in OWN_SHOP:
        return own_shop(world, name, role, value, what)
    if name == "payouts_to_execute":
        return payouts_to_execute(world, role, value, what)
    if name == "loyalty_account":
        return loyalty_account(world, role, value, what)
    return ACTS[name].check(world, name, role, value, what)
