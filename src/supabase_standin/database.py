"""Database connections of the local stack's services (Data API, Auth, Storage).

Each service borrows connections from a :class:`Pool`, which wraps psycopg's
``AsyncConnectionPool`` so that a database restart costs no request once PostgreSQL is
back, and a database that is down is answered at once:

- every connection is checked (an empty query, one round trip) before it is handed out.
  A connection that fails the check belonged to a PostgreSQL that is gone, and so do the
  other idle ones: they are all dropped at once (``pool.check()``) and fresh ones made.
  psycopg_pool's own ``check=`` would find them one by one, sleeping 1 s, 2 s, 4 s … in
  between, which can outlast the request's timeout.
- when a check fails or no connection comes in time, a direct connection attempt tells
  whether PostgreSQL is reachable. If it is not, the request fails with
  :class:`DatabaseUnavailable` (the services answer 503 with ``Retry-After``), and so do
  the requests after it, after one probe each (refused at once), without waiting for a
  connection that cannot come. Once a probe succeeds, a fresh pool replaces the old one, whose
  reconnection attempts may be backing off for a long time.

Nothing here decides access: the services still run every request as PostgREST does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

log = logging.getLogger(__name__)

#: Seconds a client is told to wait before retrying while the database is unavailable.
RETRY_AFTER = 1
#: Longest wait for a connection before giving up (PostgREST's default acquisition timeout).
ACQUIRE_TIMEOUT = 10.0
#: SQLSTATEs meaning "the server is going away, restarting or full", not "your query failed":
#: admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


class DatabaseUnavailable(psycopg.OperationalError):
    """PostgreSQL cannot be reached: down, restarting or refusing connections."""


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that say the database is unreachable or lost the connection (the
    client may retry), false for errors about the request itself and for a pool that is
    merely busy (``PoolTimeout`` while PostgreSQL answers)."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, PoolTimeout) or not isinstance(exc, psycopg.OperationalError):
        return False
    sqlstate = exc.sqlstate
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES


class Pool:
    """A pool of connections of one database role, checked before use (see the module)."""

    def __init__(
        self,
        conninfo: str,
        *,
        name: str,
        min_size: int,
        max_size: int,
        kwargs: dict[str, Any] | None = None,
        timeout: float = ACQUIRE_TIMEOUT,
    ) -> None:
        self.conninfo = conninfo
        self.name = name
        self.min_size = min_size
        self.max_size = max_size
        self.kwargs = dict(kwargs or {})
        self.timeout = timeout
        self._pool = self._new_pool()
        self._down = False
        self._probe_lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()

    def _new_pool(self) -> AsyncConnectionPool:
        return AsyncConnectionPool(
            self.conninfo,
            min_size=self.min_size,
            max_size=self.max_size,
            kwargs=self.kwargs,
            open=False,
            name=self.name,
            timeout=self.timeout,
        )

    async def open(self, timeout: float = 30.0) -> None:
        await self._pool.open(wait=True, timeout=timeout)

    async def close(self) -> None:
        await self._pool.close()
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    @property
    def down(self) -> bool:
        """True while the last look at PostgreSQL found it unreachable."""
        return self._down

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A checked connection, returned to its pool afterwards (rolled back if the caller
        left a transaction open, discarded if it broke)."""
        pool, conn = await self._acquire()
        try:
            yield conn
        finally:
            await pool.putconn(conn)

    async def _acquire(self) -> tuple[AsyncConnectionPool, psycopg.AsyncConnection[Any]]:
        if self._down:
            await self._recover()
        pool = self._pool
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn = await pool.getconn(timeout=max(0.1, deadline - time.monotonic()))
            except PoolTimeout:
                if not await self._reachable():
                    raise self._mark_down() from None
                raise
            try:
                await AsyncConnectionPool.check_connection(conn)
            except Exception:
                await pool.putconn(conn)  # broken: the pool discards it and makes another
                if not await self._reachable():
                    raise self._mark_down() from None
                # PostgreSQL is back from a restart: every idle connection is from before it.
                await pool.check()
                if time.monotonic() >= deadline:
                    raise PoolTimeout(f"no working connection in {self.timeout:.0f}s") from None
                continue
            return pool, conn

    def _mark_down(self) -> DatabaseUnavailable:
        if not self._down:
            log.warning("database unreachable for pool %s; answering 503 until it is back", self.name)
        self._down = True
        return DatabaseUnavailable("the database is not reachable")

    async def _recover(self) -> None:
        async with self._probe_lock:
            if not self._down:
                return
            if not await self._reachable():  # refused at once while PostgreSQL is down
                raise self._mark_down()
            # Back. The old pool's reconnection attempts back off exponentially, so start
            # afresh; connections still lent out go back to the old pool, which closes them.
            old, self._pool = self._pool, self._new_pool()
            await self._pool.open(wait=False)
            self._down = False
            log.warning("database reachable again for pool %s", self.name)
            task = asyncio.create_task(old.close(timeout=5))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _reachable(self) -> bool:
        """One direct connection attempt (not through the pool)."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.conninfo, connect_timeout=2, autocommit=True)
        except psycopg.Error:
            return False
        await conn.close()
        return True
