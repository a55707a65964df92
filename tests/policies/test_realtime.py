"""The cells of ``policies/realtime.messages.toml`` through Supabase Realtime (supabase-py's
realtime client), which authorizes private channels by these policies in PostgreSQL as the
joining user: select = joining a private topic (and receiving its broadcasts), insert =
broadcasting to it from the app. A row is a topic; the arranged topics are each persona's
``user:<id>``. Realtime has no API that updates or deletes messages: those cells are checked
in SQL as the role, with the claims and ``realtime.topic`` set as Realtime sets them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import psycopg
import pytest
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from tests.policies.actors import mint_token
from tests.policies.matrix import COVERAGE, MATRIX, OPS, ROLES
from tests.policies.world import World

SPEC = MATRIX.table("realtime.messages")
CELLS = [(role, op) for role in ROLES for op in OPS]
PERSONAS = ("customer", "other_customer", "vendor", "other_vendor", "admin", "bystander")


def token_of(world: World, role: str) -> str:
    if role == "anon":
        return str(world.target.anon_key)
    if role == "service_role":
        return str(world.target.service_role_key)
    if role == "admin" and world.admin_token:
        return world.admin_token
    return mint_token(world.target.jwt_secret, world.users[role], world.phones.get(role))


def topics(world: World) -> dict[str, str]:
    """topic -> whose, for every arranged persona."""
    return {f"user:{world.users[p]}": p for p in PERSONAS}


def in_cell(world: World, role: str, op: str, topic: str) -> bool:
    predicate = SPEC.cell(role, op).predicate(SPEC.sets, world.uid(role))
    return bool(world.one(f"select exists (select 1 from (select %s::text as topic) as t where {predicate})", [topic]))


async def socket(world: World, role: str) -> AsyncRealtimeClient:
    rt = AsyncRealtimeClient(f"{world.target.url}/realtime/v1", world.target.anon_key, auto_reconnect=False)
    await rt.connect()
    await rt.set_auth(token_of(world, role))
    return rt


async def join(rt: AsyncRealtimeClient, topic: str, received: list[dict[str, Any]] | None = None) -> Any:
    states: list[tuple[RealtimeSubscribeStates, str | None]] = []
    channel = rt.channel(topic, {"config": {"private": True, "broadcast": {"self": False, "ack": False}}})  # type: ignore[typeddict-item]
    if received is not None:
        channel.on_broadcast("*", lambda m: received.append(dict(m)))
    await channel.subscribe(lambda s, e: states.append((s, str(e) if e else None)))
    return channel, states[-1]


def check_select(world: World, role: str) -> set[str]:
    sides: set[str] = set()

    async def scenario() -> None:
        rt = await socket(world, role)
        try:
            for topic in topics(world):
                _channel, (state, error) = await join(rt, topic)
                label = f"realtime join {topic} as {role}"
                if in_cell(world, role, "select", topic):
                    assert state == RealtimeSubscribeStates.SUBSCRIBED, f"{label}: {state} {error}"
                    sides.add("allowed")
                else:
                    assert state == RealtimeSubscribeStates.CHANNEL_ERROR, f"{label}: joined"
                    assert "Unauthorized: You do not have permissions to read" in (error or ""), f"{label}: {error}"
                    sides.add("denied")
        finally:
            await rt.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    return sides


def check_insert(world: World, role: str) -> set[str]:
    """Broadcast from the role's joined channel; a second socket of the topic's owner
    listens. Relayed = the write policy allowed it."""
    sides: set[str] = set()

    async def scenario() -> None:
        sender = await socket(world, role)
        try:
            for topic, owner in topics(world).items():
                channel, (state, _e) = await join(sender, topic)
                if state != RealtimeSubscribeStates.SUBSCRIBED:
                    # Realtime takes broadcasts only on a joined channel: refused to join is
                    # refused to broadcast
                    assert not in_cell(world, role, "insert", topic), f"{role} may write {topic} but not join it"
                    sides.add("denied")
                    continue
                listener = await socket(world, owner)
                heard: list[dict[str, Any]] = []
                try:
                    _c, (listening, error) = await join(listener, topic, heard)
                    assert listening == RealtimeSubscribeStates.SUBSCRIBED, f"{owner} cannot join {topic}: {error}"
                    marker = f"policy-{time.monotonic_ns()}"
                    await channel.send_broadcast("probe", {"marker": marker})
                    deadline = time.monotonic() + 2.0
                    while not heard and time.monotonic() < deadline:
                        await asyncio.sleep(0.05)
                    label = f"realtime broadcast to {topic} as {role}"
                    got = [m for m in heard if m["payload"].get("marker") == marker]
                    if in_cell(world, role, "insert", topic):
                        assert got, f"{label}: not relayed"
                        sides.add("allowed")
                    else:
                        assert got == [], f"{label}: relayed"
                        sides.add("denied")
                finally:
                    await listener.close()
                await sender.remove_channel(channel)
        finally:
            await sender.close()

    asyncio.run(asyncio.wait_for(scenario(), 120))
    return sides


def check_sql(world: World, role: str, op: str) -> set[str]:
    """update/delete as Realtime would run them for the role: one transaction, role and
    claims and realtime.topic set, then rolled back."""
    db_role = {"anon": "anon", "service_role": "service_role"}.get(role, "authenticated")
    claims = {"role": db_role} if world.uid(role) is None else {"role": db_role, "sub": world.uid(role)}
    sides: set[str] = set()
    with psycopg.connect(world.target.db_url) as conn:
        for topic in topics(world):
            try:
                with conn.transaction():
                    conn.execute(
                        "insert into realtime.messages (topic, extension, event, payload) "
                        "values (%s, 'broadcast', 'policy', '{}')",
                        [topic],
                    )
                    conn.execute(
                        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true), "
                        "set_config('realtime.topic', %s, true)",
                        [db_role, json.dumps(claims), topic],
                    )
                    try:
                        if op == "update":
                            cur = conn.execute(
                                "update realtime.messages set event = 'changed' where topic = %s and event = 'policy'",
                                [topic],
                            )
                        else:
                            cur = conn.execute(
                                "delete from realtime.messages where topic = %s and event = 'policy'", [topic]
                            )
                        touched, refused = cur.rowcount, False
                    except psycopg.errors.InsufficientPrivilege:
                        touched, refused = 0, True
                    raise _Rollback(touched, refused)
            except _Rollback as result:
                label = f"{op} realtime.messages of {topic} as {role}"
                if in_cell(world, role, op, topic):
                    assert result.touched == 1 and not result.refused, f"{label}: {result.touched} rows"
                    sides.add("allowed")
                else:
                    assert result.touched == 0, f"{label}: {result.touched} rows changed"
                    if not SPEC.has_privilege(role, op):
                        assert result.refused, f"{label}: no privilege, so 42501"
                    sides.add("denied")
    return sides


class _Rollback(Exception):
    def __init__(self, touched: int, refused: bool) -> None:
        super().__init__("rolled back")
        self.touched = touched
        self.refused = refused


@pytest.mark.parametrize(("role", "op"), CELLS, ids=["-".join(c) for c in CELLS])
def test_realtime_cell(world: World, role: str, op: str) -> None:
    if op == "select":
        sides = check_select(world, role)
    elif op == "insert":
        sides = check_insert(world, role)
    else:
        sides = check_sql(world, role, op)
    COVERAGE.mark("realtime.messages", role, op, *sides)
