"""The function cells of notification delivery: devices and consent (each person's own),
and the dispatcher's RPCs (service role only). Each arranges what the function acts on,
calls it as the role through the Data API and checks the denied side (42501 / 401 for
anon, nothing changed) or the allowed side (the change happened, to the caller's rows only
where the cell is own)."""

from __future__ import annotations

import json
from typing import Any

from tests.policies.actors import Outcome
from tests.policies.harness import assert_denied
from tests.policies.world import World, rand

NAMES = (
    "register_push_device",
    "set_marketing_consent",
    "claim_notification_deliveries",
    "record_notification_delivery",
    "push_receipts_to_check",
    "record_push_receipts",
)
DISPATCHER = NAMES[2:]


def call(world: World, role: str, fn: str, args: dict[str, Any]) -> Outcome:
    return world.actors[role].run(lambda c: c.rpc(fn, args).execute())


def devices(world: World) -> list[tuple[Any, ...]]:
    return world.q(
        "select user_id::text, token, disabled_at from public.push_devices where user_id = any(%s) order by token",
        [world.all_users()],
    )


def consents(world: World) -> list[tuple[Any, ...]]:
    return world.q(
        "select user_id::text, granted, created_at from public.marketing_consents where user_id = any(%s) "
        "order by user_id, created_at",
        [world.all_users()],
    )


def queued(world: World, persona: str = "bystander", *, due: bool = True) -> str:
    """A push send of the persona's, queued (due now, or in a day so nobody claims it)."""
    world.q(
        "select private.notify(%s, 'system', %s::jsonb, '{}'::jsonb)",
        [world.users[persona], json.dumps({"title": "Policy", "body": rand()})],
    )
    delivery = world.one(
        "select d.id::text from private.notification_deliveries as d join public.notifications as n "
        "on n.id = d.notification_id where d.user_id = %s and d.channel = 'push' "
        "order by n.created_at desc limit 1",
        [world.users[persona]],
    )
    world.q(
        "update private.notification_deliveries set next_attempt_at = now() + %s::interval, status = 'pending', "
        "claim_id = null where id = %s",
        ["0 seconds" if due else "1 day", delivery],
    )
    return str(delivery)


def state(world: World, delivery: str) -> tuple[Any, ...]:
    return tuple(
        world.q(
            "select status, attempts, claim_id, last_error, receipts_checked_at from private.notification_deliveries "
            "where id = %s",
            [delivery],
        )[0]
    )


def dispatcher_args(name: str, delivery: str, claim: str | None = None) -> dict[str, Any]:
    if name == "claim_notification_deliveries":
        return {"p_limit": 500}
    if name == "record_notification_delivery":
        return {"p_delivery_id": delivery, "p_claim_id": claim or delivery, "p_outcome": "sent"}
    if name == "push_receipts_to_check":
        return {"p_limit": 1000}
    return {"p_delivery_id": delivery}


def claimed(world: World, delivery: str) -> str:
    """The bystander's send, claimed as notify-dispatch claims it; its claim id."""
    for _ in range(5):
        out = call(world, "service_role", "claim_notification_deliveries", {"p_limit": 500})
        assert out.ok, f"claim failed: {out}"
        mine = [d for d in out.rows() if d["delivery_id"] == delivery]
        if mine:
            return str(mine[0]["claim_id"])
        # the local dispatcher took it first: queue another
        delivery = queued(world)
    raise AssertionError("arrangement gap: the send was always claimed by someone else")


def check(world: World, name: str, role: str, value: str, what: str) -> set[str]:
    if name in DISPATCHER:
        return check_dispatcher(world, name, role, value, what)
    before_devices, before_consents = devices(world), consents(world)
    if name == "register_push_device":
        token = f"ExponentPushToken[policy-{rand(12)}]"
        args: dict[str, Any] = {"p_token": token, "p_platform": "ios"}
    else:
        args = {"p_granted": False}
    out = call(world, role, name, args)
    if value == "none":
        assert_denied(out, world.actors[role], what, silent_ok=False)
        assert devices(world) == before_devices and consents(world) == before_consents, f"{what}: rows changed"
        return {"denied"}
    assert value == "own", what
    assert out.ok, f"{what}: {out}"
    uid = world.uid(role)
    try:
        if name == "register_push_device":
            owner = world.q("select user_id::text from public.push_devices where token = %s", [token])
            assert owner == [(uid,)], f"{what}: the device is {owner}'s"
            others = [d for d in devices(world) if d[0] != uid]
            assert others == [d for d in before_devices if d[0] != uid], f"{what}: another person's devices changed"
        else:
            latest = world.q(
                "select granted from public.marketing_consents where user_id = %s order by created_at desc limit 1",
                [uid],
            )
            assert latest == [(False,)] and out.data["granted"] is False, f"{what}: {out}"
            others = [c for c in consents(world) if c[0] != uid]
            assert others == [c for c in before_consents if c[0] != uid], f"{what}: another person's consent changed"
    finally:
        if name == "register_push_device":
            world.q("delete from public.push_devices where token = %s", [token])
        else:
            world.q("insert into public.marketing_consents (user_id, granted) values (%s, true)", [uid])
    return {"allowed", "denied"}


def check_dispatcher(world: World, name: str, role: str, value: str, what: str) -> set[str]:
    if value == "none":
        delivery = queued(world, due=False)  # nobody claims it meanwhile
        before = state(world, delivery)
        out = call(world, role, name, dispatcher_args(name, delivery))
        assert_denied(out, world.actors[role], what, silent_ok=False)
        assert state(world, delivery) == before, f"{what}: the send changed"
        return {"denied"}
    assert value == "all" and role == "service_role", what
    delivery = queued(world)
    if name == "claim_notification_deliveries":
        claimed(world, delivery)  # asserts the bystander's send came back claimed
        return {"allowed"}
    claim = claimed(world, delivery)
    if name == "record_notification_delivery":
        delivery = str(world.one("select id::text from private.notification_deliveries where claim_id = %s", [claim]))
        out = call(world, role, name, dispatcher_args(name, delivery, claim))
        assert out.ok and out.data["recorded"] is True and out.data["status"] == "sent", f"{what}: {out}"
        return {"allowed"}
    delivery = str(world.one("select id::text from private.notification_deliveries where claim_id = %s", [claim]))
    world.q(
        "update private.notification_deliveries set status = 'sent', claim_id = null, sent_at = now() - "
        "interval '1 hour', push_tickets = '{\"x\": \"ticket\"}' where id = %s",
        [delivery],
    )
    if name == "push_receipts_to_check":
        out = call(world, role, name, dispatcher_args(name, delivery))
        assert out.ok and delivery in {d["delivery_id"] for d in out.data}, f"{what}: {out}"
        return {"allowed"}
    out = call(world, role, name, dispatcher_args(name, delivery))
    assert out.ok and out.data["recorded"] is True, f"{what}: {out}"
    assert state(world, delivery)[4] is not None, f"{what}: receipts not recorded"
    return {"allowed"}
