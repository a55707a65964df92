"""Broadcast from the database to the subscribed sockets, and the upkeep of
``realtime.messages``.

Hosted Realtime streams committed inserts of ``realtime.messages`` from a logical
replication slot and publishes each broadcast to the channels of its topic (private
messages to private channels only, public to public). Locally a trigger of the baseline
NOTIFYs ``standin_realtime`` with the message's key when its transaction commits; the
:class:`Broker` LISTENs, reads the message as the table's owner and hands it to every
subscriber of that topic and kind. Whether a subscriber may read the topic was decided by
PostgreSQL when it joined (:mod:`.authorization`).

The janitor does what Realtime's does: it creates the daily partitions from yesterday to
three days ahead and drops those older than three days, at start and every hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg import sql

from supabase_standin.database import Pool

log = logging.getLogger(__name__)

CHANNEL = "standin_realtime"
JANITOR_INTERVAL = 3600.0
RETENTION_DAYS = 3


@dataclass(frozen=True)
class Message:
    """One broadcast, as subscribers receive it."""

    id: str
    topic: str
    event: str
    private: bool
    #: The user payload's bytes: JSON text, or raw bytes (send_binary).
    body: bytes
    json: bool
    #: Sent along to subscribers (``{"id"}`` for messages from the database).
    meta: dict[str, Any] | None = None


class Subscriber(Protocol):
    """A joined channel of a socket."""

    def deliver(self, message: Message) -> None: ...


class Broker:
    def __init__(self, pool: Pool, conninfo: str) -> None:
        self.pool = pool
        self.conninfo = conninfo
        self._subscribers: dict[tuple[str, bool], set[Subscriber]] = defaultdict(set)
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()

    # -- subscriptions ------------------------------------------------------------------------
    def subscribe(self, topic: str, private: bool, subscriber: Subscriber) -> None:
        self._subscribers[(topic, private)].add(subscriber)

    def unsubscribe(self, topic: str, private: bool, subscriber: Subscriber) -> None:
        found = self._subscribers.get((topic, private))
        if found is not None:
            found.discard(subscriber)
            if not found:
                del self._subscribers[(topic, private)]

    def publish(self, message: Message, *, exclude: Subscriber | None = None) -> int:
        """Hand ``message`` to every subscriber of its topic and kind; how many got it."""
        count = 0
        for subscriber in list(self._subscribers.get((message.topic, message.private), ())):
            if subscriber is not exclude:
                subscriber.deliver(message)
                count += 1
        return count

    # -- life ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen_forever()),
            asyncio.create_task(self._janitor_forever()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                self.listening.clear()
                log.warning("realtime: lost the database notifications (%s); listening again", type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
            await conn.execute(f"listen {CHANNEL}")
            self.listening.set()
            async for notify in conn.notifies():
                await self._on_notify(notify.payload)

    async def _on_notify(self, payload: str) -> None:
        try:
            key = json.loads(payload)
            message_id, inserted_at = str(key["id"]), str(key["inserted_at"])
        except (ValueError, KeyError, TypeError):
            return
        try:
            message = await self.fetch(message_id, inserted_at)
        except psycopg.Error as exc:
            log.warning("realtime: could not read message %s (%s)", message_id, exc.sqlstate)
            return
        if message is not None:
            self.publish(message)

    async def fetch(self, message_id: str, inserted_at: str) -> Message | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "select topic, event, coalesce(private, false), payload::text, binary_payload "
                "from realtime.messages where id = %s and inserted_at = %s",
                [message_id, inserted_at],
            )
            row = await cur.fetchone()
        if row is None:
            return None
        topic, event, private, text, binary = row
        if text is not None:
            return Message(message_id, topic, event, bool(private), text.encode(), True, {"id": message_id})
        if binary is not None:
            return Message(message_id, topic, event, bool(private), bytes(binary), False, {"id": message_id})
        return None

    # -- janitor ------------------------------------------------------------------------------
    async def _janitor_forever(self) -> None:
        while True:
            try:
                await self.maintain()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                log.warning("realtime: partition upkeep failed (%s)", exc.sqlstate)
            await asyncio.sleep(JANITOR_INTERVAL)

    async def maintain(self, today: dt.date | None = None) -> None:
        today = today or dt.datetime.now(dt.UTC).date()
        async with self.pool.connection() as conn:
            for offset in range(-1, 4):
                day = today + dt.timedelta(days=offset)
                name = f"messages_{day:%Y_%m_%d}"
                with contextlib.suppress(psycopg.errors.DuplicateTable):
                    await conn.execute(
                        sql.SQL(
                            "create table if not exists realtime.{} partition of realtime.messages "
                            "for values from ({}) to ({})"
                        ).format(
                            sql.Identifier(name),
                            sql.Literal(day.isoformat()),
                            sql.Literal((day + dt.timedelta(days=1)).isoformat()),
                        )
                    )
            cur = await conn.execute(
                "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "join pg_class p on p.oid = i.inhparent join pg_namespace n on n.oid = p.relnamespace "
                "where n.nspname = 'realtime' and p.relname = 'messages'"
            )
            limit = today - dt.timedelta(days=RETENTION_DAYS)
            for (name,) in await cur.fetchall():
                try:
                    day = dt.datetime.strptime(name.removeprefix("messages_"), "%Y_%m_%d").date()
                except ValueError:
                    continue
                if day < limit:
                    await conn.execute(sql.SQL("drop table if exists realtime.{}").format(sql.Identifier(name)))
