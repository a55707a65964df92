"""The function cells of the instalment RPCs: the customer's "pay the next instalment now"
(their own active plan only) and the scheduled job (the service role only). Each call is
made through supabase-py as the role, on the plans the world arranged (one under way per
shopper); what a call creates is failed afterwards, so every plan stays under way."""

from __future__ import annotations

from typing import Any

from tests.policies.harness import assert_denied
from tests.policies.world import World

NAMES = ("pay_next_instalment", "run_instalment_schedule")


def plan_of(world: World, shopper: str) -> dict[str, Any]:
    order = world.orders[(shopper, "plan")]
    plan_id = world.one("select id::text from public.bnpl_orders where order_id = %s", [order["order_id"]])
    return {"order": order, "plan_id": plan_id}


def payments_of(world: World, order_id: str) -> int:
    return int(world.one("select count(*) from public.payments where order_id = %s", [order_id]))


def close(world: World, order: dict[str, Any], answer: dict[str, Any]) -> None:
    """The provider refuses the payment the call made: only that attempt ends."""
    world.pay({"provider": order["provider"], "payment_id": answer["payment_id"], "amount": answer["amount"]}, "failed")
    status = world.one("select status from public.bnpl_orders where order_id = %s", [order["order_id"]])
    assert status == "active", f"the plan did not wait for another attempt: {status}"


def check(world: World, name: str, role: str, value: str, what: str) -> set[str]:
    actor = world.actors[role]
    if name == "pay_next_instalment":
        theirs = plan_of(world, "customer" if role != "customer" else "other_customer")
        before = payments_of(world, theirs["order"]["order_id"])
        out = actor.run(lambda c: c.rpc(name, {"p_plan_id": theirs["plan_id"]}).execute())
        if value == "none":
            assert_denied(out, actor, what, silent_ok=False)
        else:
            assert value == "own", what
            assert out.status == 404 and out.code == "PT404", f"{what}: someone else's plan: {out}"
        assert payments_of(world, theirs["order"]["order_id"]) == before, f"{what}: a payment appeared"
        if value == "none":
            return {"denied"}
        mine = plan_of(world, role)
        out = actor.run(lambda c: c.rpc(name, {"p_plan_id": mine["plan_id"]}).execute())
        assert out.ok, f"{what}: {out}"
        answer = dict(out.data)
        assert answer["plan_id"] == mine["plan_id"] and answer["instalment"] == 2, f"{what}: {answer}"
        payer = world.one("select customer_id::text from public.payments where id = %s", [answer["payment_id"]])
        assert payer == actor.uid, f"{what}: the payment is {payer}'s"
        close(world, mine["order"], answer)
        return {"allowed", "denied"}

    # run_instalment_schedule
    target = plan_of(world, "customer")
    if value == "none":
        before = payments_of(world, target["order"]["order_id"])
        world.q("update public.instalments set due_at = now() - interval '1 minute' "
                "where plan_id = %s and number = 2", [target["plan_id"]])  # fmt: skip
        try:
            out = actor.run(lambda c: c.rpc(name, {"p_limit": 500}).execute())
        finally:
            world.q("update public.instalments set due_at = now() + interval '14 days' "
                    "where plan_id = %s and number = 2", [target["plan_id"]])  # fmt: skip
        assert_denied(out, actor, what, silent_ok=False)
        assert payments_of(world, target["order"]["order_id"]) == before, f"{what}: a payment appeared"
        return {"denied"}
    assert value == "all" and role == "service_role", what
    world.q("update public.instalments set due_at = now() - interval '1 minute' "
            "where plan_id = %s and number = 2", [target["plan_id"]])  # fmt: skip
    # earlier attempts (other cells') ended long enough ago for the job to prompt again
    world.q("update public.payments set created_at = created_at - interval '2 days', "
            "completed_at = completed_at - interval '2 days' where instalment_id in "
            "(select id from public.instalments where plan_id = %s and number = 2)", [target["plan_id"]])  # fmt: skip
    try:
        out = actor.run(lambda c: c.rpc(name, {"p_limit": 500}).execute())
        assert out.ok, f"{what}: {out}"
        due = [d for d in out.data["due"] if d["plan_id"] == target["plan_id"]]
        assert len(due) == 1 and due[0]["instalment"] == 2, f"{what}: {out.data}"
        close(world, target["order"], due[0])
    finally:
        world.q("update public.instalments set due_at = now() + interval '14 days' "
                "where plan_id = %s and number = 2", [target["plan_id"]])  # fmt: skip
    return {"allowed"}
