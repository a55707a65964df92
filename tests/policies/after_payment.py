"""The function cells of the after-payment RPCs (fulfilment, returns, refunds, the review
queue): each arranges a fresh target in the state the function acts on, calls it as the
role, and checks the denied side (42501, or 404 for another's order; nothing changed) or
the allowed side (the change happened)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.policies.actors import Outcome
from tests.policies.harness import assert_denied
from tests.policies.world import SHOPPERS, World, rand


def call(world: World, role: str, fn: str, args: dict[str, Any]) -> Outcome:
    return world.actors[role].run(lambda c: c.rpc(fn, args).execute())


def status_of(world: World, table: str, row_id: str) -> str:
    return str(world.one(f"select status from public.{table} where id = %s", [row_id]))


# -- arrangements: a fresh row in the state the function expects ------------------------------


def parcel(world: World, *steps: str, shopper: str = "customer") -> dict[str, Any]:
    paid = world.fresh_paid(shopper)
    shipment = paid["shipments"][0]
    if steps:
        world.move(shipment, *steps)
    return {"shipment": shipment, "order": paid["order_id"], "payment": paid["payment_id"]}


def returned_line(world: World, decide: bool = False) -> dict[str, Any]:
    target = parcel(world, "pack", "dispatch", "deliver")
    line = world.one("select id::text from public.order_items where order_id = %s limit 1", [target["order"]])
    ret = world.one(
        "insert into public.returns (order_item_id, quantity, reason) values (%s, 1, 'damaged') returning id::text",
        [line],
    )
    if decide:
        out = call(world, "admin", "decide_return", {"p_return_id": ret, "p_approve": True})
        assert out.ok, f"could not approve the return: {out}"
    return target | {"return": ret}


def refund(world: World, *, claim: bool = False, fail: bool = False) -> dict[str, Any]:
    paid = world.fresh_paid()
    out = call(
        world,
        "admin",
        "refund_payment",
        {
            "p_payment_id": paid["payment_id"],
            "p_amount": 700,
            "p_reason": "policy",
            "p_idempotency_key": f"pol-{rand(12)}",
        },
    )
    assert out.ok, f"could not grant a refund: {out}"
    target = {"refund": out.data["id"], "payment": paid["payment_id"], "reference": out.data["reference"]}
    if claim or fail:
        claimed = call(world, "service_role", "claim_refund", {"p_refund_id": target["refund"]})
        assert claimed.ok and claimed.data["claimed"], f"could not claim the refund: {claimed}"
    if fail:
        failed = call(
            world, "service_role", "record_refund_outcome", {"p_refund_id": target["refund"], "p_outcome": "failed"}
        )
        assert failed.ok, f"could not fail the refund: {failed}"
    return target


def stuck_refund(world: World) -> dict[str, Any]:
    """A refund sent with no answer for 20 minutes (a provider that cannot be asked)."""
    target = refund(world, claim=True)
    world.q("update public.refunds set claimed_at = now() - interval '20 minutes' where id = %s", [target["refund"]])
    return target


def in_review(world: World) -> dict[str, Any]:
    """A payment whose provider reported the wrong amount: waiting for a person."""
    pending = world.checkout("customer", [(world.products[("vendor", "spare")], 1)])
    out = call(
        world,
        "service_role",
        "apply_payment_event",
        {
            "p_provider": pending["provider"],
            "p_provider_ref": world.reference(pending["payment_id"]),
            "p_outcome": "succeeded",
            "p_amount": 1,
            "p_source": "status_query",
        },
    )
    assert out.ok and out.data["result"] == "review", f"could not send the payment to review: {out}"
    return {"payment": pending["payment_id"], "order": pending["order_id"], "checkout": pending}


def delivered_long_ago(world: World) -> dict[str, Any]:
    target = parcel(world, "pack", "dispatch", "deliver")
    world.q(
        "update public.shipments set delivered_at = now() - interval '30 days' where order_id = %s",
        [target["order"]],
    )
    world.q("update public.orders set delivered_at = now() - interval '30 days' where id = %s", [target["order"]])
    return target


# -- checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acts:
    """A function that acts on one arranged target: who may is in the matrix cell."""

    arrange: Callable[[World], dict[str, Any]]
    args: Callable[[dict[str, Any]], dict[str, Any]]
    done: Callable[[World, dict[str, Any]], bool]
    tidy: Callable[[World, dict[str, Any]], None] | None = None

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


def shipment_becomes(status: str) -> Callable[[World, dict[str, Any]], bool]:
    return lambda world, t: status_of(world, "shipments", t["shipment"]) == status


def refund_becomes(status: str) -> Callable[[World, dict[str, Any]], bool]:
    return lambda world, t: status_of(world, "refunds", t["refund"]) == status


def fail_open_payment(world: World, t: dict[str, Any]) -> None:
    if status_of(world, "payments", t["payment"]) in ("pending", "initiated", "ambiguous"):
        world.pay(t["checkout"], "failed")  # no unpaid hold left behind for the next test


ACTS: dict[str, Acts] = {
    "pack_shipment": Acts(lambda w: parcel(w), lambda t: {"p_shipment_id": t["shipment"]}, shipment_becomes("packed")),
    "dispatch_shipment": Acts(
        lambda w: parcel(w, "pack"),
        lambda t: {"p_shipment_id": t["shipment"], "p_carrier": "Policy Post", "p_tracking_number": "PP1"},
        shipment_becomes("dispatched"),
    ),
    "mark_shipment_in_transit": Acts(
        lambda w: parcel(w, "pack", "dispatch"),
        lambda t: {"p_shipment_id": t["shipment"]},
        shipment_becomes("in_transit"),
    ),
    "report_delivery_failed": Acts(
        lambda w: parcel(w, "pack", "dispatch"),
        lambda t: {"p_shipment_id": t["shipment"], "p_reason": "gate locked"},
        shipment_becomes("failed"),
    ),
    "return_shipment_to_center": Acts(
        lambda w: parcel(w, "pack", "dispatch", "fail"),
        lambda t: {"p_shipment_id": t["shipment"]},
        shipment_becomes("returned"),
    ),
    "decide_return": Acts(
        lambda w: returned_line(w),
        lambda t: {"p_return_id": t["return"], "p_approve": True, "p_note": "ok"},
        lambda w, t: status_of(w, "returns", t["return"]) == "approved",
    ),
    "receive_return": Acts(
        lambda w: returned_line(w, decide=True),
        lambda t: {"p_return_id": t["return"], "p_restocked": 1, "p_damaged": 0},
        lambda w, t: status_of(w, "returns", t["return"]) == "received",
    ),
    "complete_orders": Acts(
        delivered_long_ago, lambda t: {}, lambda w, t: status_of(w, "orders", t["order"]) == "completed"
    ),
    "refund_payment": Acts(
        lambda w: {"payment": w.fresh_paid()["payment_id"], "key": f"pol-{rand(12)}"},
        lambda t: {"p_payment_id": t["payment"], "p_amount": 500, "p_reason": "policy", "p_idempotency_key": t["key"]},
        lambda w, t: bool(w.q("select 1 from public.refunds where payment_id = %s", [t["payment"]])),
    ),
    "claim_refund": Acts(lambda w: refund(w), lambda t: {"p_refund_id": t["refund"]}, refund_becomes("processing")),
    "record_refund_outcome": Acts(
        lambda w: refund(w, claim=True),
        lambda t: {"p_refund_id": t["refund"], "p_outcome": "succeeded", "p_method": "reversal"},
        refund_becomes("succeeded"),
    ),
    "apply_refund_event": Acts(
        lambda w: refund(w, claim=True),
        lambda t: {"p_provider": "mpesa", "p_reference": t["reference"], "p_outcome": "succeeded"},
        refund_becomes("succeeded"),
    ),
    "retry_refund": Acts(
        lambda w: refund(w, fail=True), lambda t: {"p_refund_id": t["refund"]}, refund_becomes("requested")
    ),
    "record_manual_refund": Acts(
        lambda w: refund(w), lambda t: {"p_refund_id": t["refund"], "p_reference": "CASH-1"}, refund_becomes("manual")
    ),
    "settle_refund_by_hand": Acts(
        lambda w: stuck_refund(w),
        lambda t: {
            "p_refund_id": t["refund"],
            "p_outcome": "succeeded",
            "p_provider_refund_id": "STMT-1",
            "p_note": "on the provider's statement",
        },
        refund_becomes("succeeded"),
    ),
    "resolve_payment_review": Acts(
        in_review,
        lambda t: {"p_payment_id": t["payment"], "p_decision": "accept", "p_note": "the money is there"},
        lambda w, t: w.one("select reviewed_at is not null from public.payments where id = %s", [t["payment"]]) is True,
        fail_open_payment,
    ),
}


def check_own(world: World, fn: str, role: str, value: str, what: str) -> set[str]:
    """confirm_delivery / cancel_order: a shopper acts on their own order only; staff on any."""
    make = (
        (lambda w, who: parcel(w, "pack", "dispatch", shopper=who))
        if fn == "confirm_delivery"
        else (lambda w, who: parcel(w, shopper=who))
    )

    def args(t: dict[str, Any]) -> dict[str, Any]:
        return {"p_shipment_id": t["shipment"]} if fn == "confirm_delivery" else {"p_order_id": t["order"]}

    def done(t: dict[str, Any]) -> bool:
        if fn == "confirm_delivery":
            return status_of(world, "shipments", t["shipment"]) == "delivered"
        return status_of(world, "orders", t["order"]) == "cancelled"

    actor = world.actors[role]
    if value == "none":
        target = make(world, "customer")
        assert_denied(call(world, role, fn, args(target)), actor, what, silent_ok=False)
        assert not done(target), f"{what}: refused, but it happened"
        return {"denied"}
    if value == "all":
        target = make(world, "customer")
        out = call(world, role, fn, args(target))
        assert out.ok and done(target), f"{what}: {out}"
        return {"allowed"}
    assert value == "own" and role in SHOPPERS, what
    mine = make(world, role)
    out = call(world, role, fn, args(mine))
    assert out.ok and done(mine), f"{what} (own): {out}"
    someone = "other_customer" if role == "customer" else "customer"
    theirs = make(world, someone)
    out = call(world, role, fn, args(theirs))
    assert not out.ok, f"{what}: acted on {someone}'s order"
    # another's parcel: 42501; another's order: 404 (whether it exists is not told)
    assert out.code in ("42501", "PT404"), f"{what} (theirs): {out}"
    assert not done(theirs), f"{what}: {someone}'s order changed"
    return {"allowed", "denied"}


def check(world: World, name: str, role: str, value: str, what: str) -> set[str]:
    if name in ("confirm_delivery", "cancel_order"):
        return check_own(world, name, role, value, what)
    return ACTS[name].check(world, name, role, value, what)


def refunds_to_execute(world: World, role: str, value: str, what: str) -> set[str]:
    target = refund(world)
    out = call(world, role, "refunds_to_execute", {"p_limit": 500, "p_stale_seconds": 86400})
    if value == "none":
        assert_denied(out, world.actors[role], what, silent_ok=False)
        return {"denied"}
    assert out.ok and target["refund"] in {r["refund_id"] for r in out.rows()}, f"{what}: {out}"
    return {"allowed"}


NAMES = set(ACTS) | {"confirm_delivery", "cancel_order"}
