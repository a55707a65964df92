"""``/realtime/v1`` against Supabase Realtime's behaviour, through the official clients:
supabase-py's realtime client (``AsyncRealtimeClient``, serializer 1.0.0) and supabase-js
(``channel(…).on('broadcast', …).subscribe()``, serializer 2.0.0 with binary broadcasts,
run by Deno).

Access to private channels is decided by RLS policies on ``realtime.messages`` that the
tests write here (topics ``conformance:…``) and change while they run: PostgreSQL decides,
as the user, with ``realtime.topic()`` set — never the stand-in.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient, RealtimeSubscribeStates

from tests.standin.conformance.conftest import ALICE, BOB, user_token

ROOT = Path(__file__).resolve().parents[3]
DENO = ROOT / "tools" / "node_modules" / ".bin" / "deno"
JS_CLIENT = Path(__file__).with_name("realtime_client.ts")

POLICIES = """
create policy conformance_read on realtime.messages for select to authenticated using (
    realtime.messages.extension = 'broadcast' and (
        (select realtime.topic()) = 'conformance:' || (select auth.uid())::text
        or (select realtime.topic()) = 'conformance:room'
    )
);
create policy conformance_write on realtime.messages for insert to authenticated with check (
    realtime.messages.extension = 'broadcast'
    and (select realtime.topic()) = 'conformance:room'
    and (select auth.uid()) = 'a11ce000-0000-4000-8000-000000000001'::uuid
);
"""


@pytest.fixture(scope="module")
def realtime_policies(target) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        conn.execute("drop policy if exists conformance_read on realtime.messages")
        conn.execute("drop policy if exists conformance_write on realtime.messages")
        conn.execute(POLICIES)
    deadline = time.monotonic() + 20
    while True:  # the local stack says when its Realtime listens; a hosted stack has no such page
        health = httpx.get(f"{target.url}/_wats/health", timeout=5)
        if health.status_code != 200 or health.json().get("realtime"):
            break
        assert time.monotonic() < deadline, "the Realtime service never became ready"
        time.sleep(0.2)
    yield
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        conn.execute("drop policy if exists conformance_read on realtime.messages")
        conn.execute("drop policy if exists conformance_write on realtime.messages")


def send(target, topic: str, payload: dict[str, Any], *, event: str = "note", private: bool = True) -> None:  # type: ignore[no-untyped-def]
    """``realtime.send`` in a committed transaction, as a trigger of the application does."""
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        conn.execute("select realtime.send(%s::jsonb, %s, %s, %s)", [json.dumps(payload), event, topic, private])


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 30.0) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout))


class Listener:
    """A channel of the Python client, recording what it receives and how its join went."""

    def __init__(self, client: AsyncRealtimeClient, topic: str, *, private: bool, **config: Any) -> None:
        self.received: list[dict[str, Any]] = []
        self.states: list[tuple[str, str | None]] = []
        self.system: list[dict[str, Any]] = []
        params: dict[str, Any] = {"config": {"private": private, "broadcast": {"self": False, "ack": False}, **config}}
        self.channel: AsyncRealtimeChannel = client.channel(topic, params)  # type: ignore[arg-type]
        self.channel.on_broadcast("*", lambda m: self.received.append(dict(m)))
        self.channel.on_system(lambda p: self.system.append(p.model_dump()))

    async def join(self) -> RealtimeSubscribeStates:
        await self.channel.subscribe(lambda s, e: self.states.append((s.value, str(e) if e else None)))
        return RealtimeSubscribeStates(self.states[-1][0])

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.received


async def client(target, token: str | None) -> AsyncRealtimeClient:  # type: ignore[no-untyped-def]
    rt = AsyncRealtimeClient(f"{target.url}/realtime/v1", target.anon_key, auto_reconnect=False)
    await rt.connect()
    if token is not None:
        await rt.set_auth(token)
    return rt


def test_a_user_receives_broadcasts_from_the_database_on_their_private_topic(target, realtime_policies):
    async def scenario() -> None:
        rt = await client(target, user_token(target.jwt_secret, ALICE))
        try:
            mine = Listener(rt, f"conformance:{ALICE}", private=True)
            assert await mine.join() == RealtimeSubscribeStates.SUBSCRIBED, mine.states
            send(target, f"conformance:{BOB}", {"for": "bob"})
            send(target, f"conformance:{ALICE}", {"for": "alice", "n": 1})
            got = await mine.wait_for(1)
            await asyncio.sleep(0.3)
            assert len(got) == 1, got
            assert got[0]["event"] == "note"
            assert got[0]["payload"]["for"] == "alice" and got[0]["payload"]["n"] == 1
            # realtime.send adds the message id to the payload and Realtime sends it as meta
            assert got[0]["meta"]["id"] == got[0]["payload"]["id"]
        finally:
            await rt.close()

    run(scenario)


def test_joining_another_users_private_topic_is_refused_with_realtimes_reason(target, realtime_policies):
    async def scenario() -> None:
        rt = await client(target, user_token(target.jwt_secret, ALICE))
        try:
            theirs = Listener(rt, f"conformance:{BOB}", private=True)
            assert await theirs.join() == RealtimeSubscribeStates.CHANNEL_ERROR
            reason = json.loads(theirs.states[-1][1] or "{}")["reason"]
            refused = "Unauthorized: You do not have permissions to read from this Channel topic"
            assert reason == f"{refused}: conformance:{BOB}"
            send(target, f"conformance:{BOB}", {"secret": True})
            await asyncio.sleep(0.5)
            assert theirs.received == []
        finally:
            await rt.close()

    run(scenario)


def test_without_a_user_token_a_private_channel_is_refused(target, realtime_policies):
    """The anon key's claims (role anon) reach no policy."""

    async def scenario() -> None:
        rt = await client(target, None)
        try:
            listener = Listener(rt, f"conformance:{ALICE}", private=True)
            assert await listener.join() == RealtimeSubscribeStates.CHANNEL_ERROR
        finally:
            await rt.close()

    run(scenario)


def test_the_decision_follows_the_policy_in_postgresql(target, realtime_policies, db):
    """Drop the read policy: the same join is refused; restore it: allowed again."""

    async def join_state() -> RealtimeSubscribeStates:
        rt = await client(target, user_token(target.jwt_secret, ALICE))
        try:
            return await Listener(rt, f"conformance:{ALICE}", private=True).join()
        finally:
            await rt.close()

    async def scenario() -> None:
        db.execute("alter policy conformance_read on realtime.messages using (false)")
        try:
            assert await join_state() == RealtimeSubscribeStates.CHANNEL_ERROR
        finally:
            db.execute("drop policy conformance_read on realtime.messages")
            db.execute(POLICIES.split(";")[0])
        assert await join_state() == RealtimeSubscribeStates.SUBSCRIBED

    run(scenario)


def test_private_messages_reach_only_private_channels_and_public_only_public(target, realtime_policies):
    async def scenario() -> None:
        rt = await client(target, user_token(target.jwt_secret, ALICE))
        try:
            private = Listener(rt, f"conformance:{ALICE}", private=True)
            assert await private.join() == RealtimeSubscribeStates.SUBSCRIBED
            rt2 = await client(target, user_token(target.jwt_secret, ALICE))
            try:
                public = Listener(rt2, f"conformance:{ALICE}", private=False)
                assert await public.join() == RealtimeSubscribeStates.SUBSCRIBED
                send(target, f"conformance:{ALICE}", {"kind": "public"}, private=False)
                send(target, f"conformance:{ALICE}", {"kind": "private"}, private=True)
                await private.wait_for(1)
                await public.wait_for(1)
                await asyncio.sleep(0.3)
                assert [m["payload"]["kind"] for m in private.received] == ["private"]
                assert [m["payload"]["kind"] for m in public.received] == ["public"]
            finally:
                await rt2.close()
        finally:
            await rt.close()

    run(scenario)


def test_a_rolled_back_broadcast_is_never_delivered(target, realtime_policies):
    async def scenario() -> None:
        rt = await client(target, user_token(target.jwt_secret, ALICE))
        try:
            mine = Listener(rt, f"conformance:{ALICE}", private=True)
            assert await mine.join() == RealtimeSubscribeStates.SUBSCRIBED
            with psycopg.connect(target.db_url) as conn:  # not autocommit: rolled back on exit
                conn.execute(
                    "select realtime.send('{\"rolled\": \"back\"}'::jsonb, 'note', %s, true)", [f"conformance:{ALICE}"]
                )
                conn.rollback()
            send(target, f"conformance:{ALICE}", {"committed": True})
            got = await mine.wait_for(1)
            await asyncio.sleep(0.3)
            assert [m["payload"].get("committed") for m in got] == [True]
        finally:
            await rt.close()

    run(scenario)


def test_client_broadcasts_on_a_private_channel_need_the_insert_policy(target, realtime_policies):
    """Alice may write to the room (insert policy), Bob may only read it."""

    async def scenario() -> None:
        alice = await client(target, user_token(target.jwt_secret, ALICE))
        bob = await client(target, user_token(target.jwt_secret, BOB))
        try:
            a = Listener(alice, "conformance:room", private=True)
            b = Listener(bob, "conformance:room", private=True)
            assert await a.join() == RealtimeSubscribeStates.SUBSCRIBED
            assert await b.join() == RealtimeSubscribeStates.SUBSCRIBED
            await b.channel.send_broadcast("chat", {"from": "bob"})
            await a.channel.send_broadcast("chat", {"from": "alice"})
            await b.wait_for(1)
            await asyncio.sleep(0.5)
            assert [m["payload"] for m in b.received] == [{"from": "alice"}]
            assert a.received == []  # not to herself without config.broadcast.self
        finally:
            await alice.close()
            await bob.close()

    run(scenario)


def test_an_expired_token_is_refused_at_join(target, realtime_policies):
    async def scenario() -> None:
        rt = await client(target, user_token(target.jwt_secret, ALICE, ttl=-10))
        try:
            listener = Listener(rt, f"conformance:{ALICE}", private=True)
            assert await listener.join() == RealtimeSubscribeStates.CHANNEL_ERROR
            assert "InvalidJWTToken: Token has expired" in (listener.states[-1][1] or "")
        finally:
            await rt.close()

    run(scenario)


def test_postgres_changes_are_reported_as_not_served(target, realtime_policies):
    """Joined (broadcasts still work), then told by a system error as Realtime tells a
    subscription it could not make: never a silent channel."""

    async def scenario() -> None:
        rt = await client(target, user_token(target.jwt_secret, ALICE))
        try:
            listener = Listener(rt, f"conformance:{ALICE}", private=True)
            listener.channel.on_postgres_changes("INSERT", lambda _p: None, table="notifications")
            await listener.channel.subscribe(lambda s, e: listener.states.append((s.value, str(e) if e else None)))
            deadline = time.monotonic() + 5
            while not any(s == "CHANNEL_ERROR" for s, _ in listener.states) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            errors = [e for s, e in listener.states if s == "CHANNEL_ERROR"]
            assert errors and "not served" in (errors[0] or ""), listener.states
        finally:
            await rt.close()

    run(scenario)


@pytest.mark.parametrize(
    ("apikey", "status"), [(None, 401), ("not-a-key", 401)], ids=["missing apikey", "unknown apikey"]
)
def test_the_socket_needs_a_known_apikey(target, apikey: str | None, status: int) -> None:
    """Kong's key-auth in front of /realtime/v1: refused before the upgrade, in JSON."""
    query = f"?apikey={apikey}&vsn=1.0.0" if apikey else "?vsn=1.0.0"
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    response = httpx.get(f"{target.url}/realtime/v1/websocket{query}", headers=upgrade, timeout=5)
    assert response.status_code == status
    assert response.json()["message"] in ("No API key found in request", "Invalid authentication credentials")


def test_heartbeats_are_answered(target, realtime_policies):
    async def scenario() -> None:
        import websockets

        url = f"{target.url.replace('http', 'ws')}/realtime/v1/websocket?apikey={target.anon_key}&vsn=1.0.0"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"topic": "phoenix", "event": "heartbeat", "payload": {}, "ref": "7"}))
            answer = json.loads(await ws.recv())
            assert answer == {"topic": "phoenix", "event": "phx_reply", "payload": {"status": "ok", "response": {}},
                              "ref": "7"}  # fmt: skip

    run(scenario)


def js_client(target, token: str, topic: str, *, wait_ms: int, after_join: Callable[[], None] | None = None):  # type: ignore[no-untyped-def]
    """Run supabase-js (realtime_client.ts) under Deno: it joins ``topic`` privately, prints
    its subscribe status, waits and prints what it received."""
    env = dict(
        os.environ,
        URL=target.url,
        ANON=target.anon_key,
        TOKEN=token,
        TOPIC=topic,
        WAIT=str(wait_ms),
        NO_COLOR="1",
        DENO_NO_UPDATE_CHECK="1",
    )
    env.setdefault("DENO_DIR", str(ROOT / ".wats" / "deno"))
    proc = subprocess.Popen(
        [str(DENO), "run", "--allow-net", "--allow-env", "--no-lock", str(JS_CLIENT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    status = json.loads(proc.stdout.readline() or "{}")
    if after_join is not None:
        after_join()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    received = json.loads(out.strip().splitlines()[-1])["received"]
    return status["status"], received


def test_supabase_js_receives_broadcasts_on_its_own_private_topic(target, realtime_policies):
    topic = f"conformance:{ALICE}"
    status, received = js_client(
        target,
        user_token(target.jwt_secret, ALICE),
        topic,
        wait_ms=2000,
        after_join=lambda: send(target, topic, {"hello": "js"}, event="note"),
    )
    assert status == "SUBSCRIBED"
    assert len(received) == 1 and received[0]["event"] == "note" and received[0]["payload"]["hello"] == "js"
    assert received[0]["type"] == "broadcast" and received[0]["meta"]["id"] == received[0]["payload"]["id"]


def test_supabase_js_is_refused_another_users_topic(target, realtime_policies):
    status, received = js_client(target, user_token(target.jwt_secret, ALICE), f"conformance:{BOB}", wait_ms=0)
    assert status.startswith("CHANNEL_ERROR")
    assert "Unauthorized: You do not have permissions to read from this Channel topic" in status
    assert received == []
