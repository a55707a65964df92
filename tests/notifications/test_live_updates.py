"""Live updates in the open app: Realtime Broadcast on the person's private topic
``user:<id>``, sent from the database (triggers calling realtime.send) and authorized by
the migration's policy on realtime.messages, through supabase-py's realtime client."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from realtime import AsyncRealtimeClient, RealtimeSubscribeStates

from tests.notifications.notices import Notices, Person


@pytest.fixture(scope="module", autouse=True)
def realtime_ready(target) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while True:  # the local stack says when its Realtime listens; a hosted stack has no such page
        health = httpx.get(f"{target.url}/_wats/health", timeout=5)
        if health.status_code != 200 or health.json().get("realtime"):
            break
        assert time.monotonic() < deadline, "the Realtime service never became ready"
        time.sleep(0.2)


class App:
    """The customer app while it is open: joined to one private topic with a person's token."""

    def __init__(self, notices: Notices, person: Person, topic: str | None = None) -> None:
        self.notices = notices
        self.person = person
        self.topic = topic or f"user:{person.id}"
        self.received: list[dict[str, Any]] = []
        self.state: tuple[str, str | None] | None = None
        self.client: AsyncRealtimeClient | None = None

    async def open(self) -> RealtimeSubscribeStates:
        target = self.notices.target
        self.client = AsyncRealtimeClient(f"{target.url}/realtime/v1", target.anon_key, auto_reconnect=False)
        await self.client.connect()
        await self.client.set_auth(self.person.customer.token)
        channel = self.client.channel(self.topic, {"config": {"private": True}})  # type: ignore[typeddict-item]
        channel.on_broadcast("*", lambda m: self.received.append(dict(m)))

        def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
            self.state = (state.value, str(error) if error else None)

        await channel.subscribe(on_state)
        assert self.state is not None
        return RealtimeSubscribeStates(self.state[0])

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def until(self, what: str, check: Any, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not check(self.received):
            assert time.monotonic() < deadline, f"{what}: received {json.dumps(self.received)[:2000]}"
            await asyncio.sleep(0.1)


def events(received: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [m["payload"] for m in received if m["event"] == event]


def test_a_payment_reaches_the_open_app_as_it_happens(notices: Notices) -> None:
    amina = notices.person(language="en", devices=0)

    async def scenario() -> None:
        app = App(notices, amina)
        try:
            assert await app.open() == RealtimeSubscribeStates.SUBSCRIBED, app.state
            checkout = await asyncio.to_thread(notices.market.buy, amina.customer, "airtel")

            def paid(received: list[dict[str, Any]]) -> bool:
                return (
                    any(p["status"] == "succeeded" for p in events(received, "payment_status"))
                    and any(p["status"] == "paid" for p in events(received, "order_status"))
                    and any(p["type"] == "order_paid" for p in events(received, "notification"))
                )

            await app.until("payment, order and notification updates", paid)
            payments = events(app.received, "payment_status")
            assert all(p["payment_id"] == checkout["payment_id"] for p in payments)
            assert [p["status"] for p in payments][-1] == "succeeded"
            [order] = [p for p in events(app.received, "order_status") if p["status"] == "paid"]
            assert order == {**order, "order_id": checkout["order_id"], "previous_status": "pending_payment"}
            [note] = [p for p in events(app.received, "notification") if p["type"] == "order_paid"]
            assert note["title"] == "Payment received" and note["language"] == "en"
            inbox = notices.db.execute(
                "select id::text from public.notifications where user_id = %s and type = 'order_paid'", [amina.id]
            ).fetchone()
            assert inbox == (note["id"],)
        finally:
            await app.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_person_cannot_join_another_persons_topic(notices: Notices) -> None:
    amina, baraka = notices.person(devices=0), notices.person(devices=0)

    async def scenario() -> None:
        spy = App(notices, baraka, topic=f"user:{amina.id}")
        try:
            assert await spy.open() == RealtimeSubscribeStates.CHANNEL_ERROR
            assert spy.state is not None and "Unauthorized" in (spy.state[1] or "")
            await asyncio.to_thread(notices.notify, amina, "order_packed", {"center": "DAR"})
            await asyncio.sleep(1.0)
            assert spy.received == []
        finally:
            await spy.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_only_the_persons_own_updates_arrive_on_their_topic(notices: Notices) -> None:
    amina, baraka = notices.person(devices=0), notices.person(devices=0)

    async def scenario() -> None:
        app = App(notices, amina)
        try:
            assert await app.open() == RealtimeSubscribeStates.SUBSCRIBED
            await asyncio.to_thread(notices.notify, baraka, "order_packed", {"center": "DAR"})
            await asyncio.to_thread(notices.notify, amina, "order_delivered", {"days": 7})
            await app.until("her notification", lambda r: bool(events(r, "notification")))
            await asyncio.sleep(0.5)
            assert [p["type"] for p in events(app.received, "notification")] == ["order_delivered"]
        finally:
            await app.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
