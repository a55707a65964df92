"""Database access for Storage requests.

``as_caller``: a connection of ``authenticator`` (never a superuser or BYPASSRLS login),
one transaction whose first statement sets — with ``set_config(…, true)``, as Storage's
``setScope`` does — ``role`` (the JWT's role), ``request.jwt.claims``,
``request.jwt.claim.role``/``sub``, ``request.jwt``, ``request.headers``, ``request.method``,
``request.path`` and ``storage.operation``. PostgreSQL's policies on ``storage.objects`` and
``storage.buckets`` then decide every read and write.

``as_admin``: a connection of ``supabase_storage_admin`` (owner of the storage tables, so
RLS does not apply), used only where Supabase Storage itself bypasses RLS; each call site
says why.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout

from supabase_standin.database import Pool, is_unavailable
from supabase_standin.storage import errors
from supabase_standin.storage.identity import Caller

SCOPE_SQL = (
    "select set_config('role', %s, true), set_config('request.jwt.claim.role', %s, true), "
    "set_config('request.jwt', %s, true), set_config('request.jwt.claim.sub', %s, true), "
    "set_config('request.jwt.claims', %s, true), set_config('request.headers', %s, true), "
    "set_config('request.method', %s, true), set_config('request.path', %s, true), "
    "set_config('storage.operation', %s, true), set_config('storage.allow_delete_query', 'true', true), "
    "set_config('search_path', 'storage', true)"
)


@dataclass(frozen=True)
class Scope:
    """What a request tells PostgreSQL about itself."""

    caller: Caller
    method: str
    path: str
    headers: dict[str, str]
    operation: str

    def params(self) -> list[str]:
        role = self.caller.role
        return [
            role,
            role,
            self.caller.token,
            self.caller.owner or "",
            json.dumps(self.caller.claims),
            json.dumps(self.headers),
            self.method,
            self.path,
            self.operation,
        ]


class Tx:
    """One open transaction."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.done = False

    async def one(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchone()

    async def all(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchall()

    async def run(self, sql: str, params: Any = None) -> int:
        cur = await self.conn.execute(sql, params)
        return cur.rowcount

    async def commit(self) -> None:
        self.done = True
        await self.conn.execute("COMMIT")

    async def rollback(self) -> None:
        self.done = True
        await self.conn.execute("ROLLBACK")


class Database:
    def __init__(self, api_pool: Pool, admin_pool: Pool) -> None:
        self.api_pool = api_pool
        self.admin_pool = admin_pool

    @contextlib.asynccontextmanager
    async def as_caller(self, scope: Scope, *, read_only: bool = False) -> AsyncIterator[Tx]:
        async with self._transaction(self.api_pool, read_only) as tx:
            try:
                await tx.conn.execute(SCOPE_SQL, scope.params())
            except psycopg.Error as exc:
                # set_config('role', …) refuses a role authenticator may not become
                # (42501) or one that does not exist (22023).
                if exc.sqlstate in ("42501", "22023"):
                    raise errors.access_denied(f"Access denied: {exc.diag.message_primary or exc}") from None
                raise
            yield tx

    @contextlib.asynccontextmanager
    async def as_admin(self, *, read_only: bool = False) -> AsyncIterator[Tx]:
        async with self._transaction(self.admin_pool, read_only) as tx:
            yield tx

    @contextlib.asynccontextmanager
    async def _transaction(self, pool: Pool, read_only: bool) -> AsyncIterator[Tx]:
        try:
            async with pool.connection() as conn:
                tx = Tx(conn)
                await conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED" + (" READ ONLY" if read_only else ""))
                try:
                    yield tx
                    if not tx.done:
                        await tx.commit()
                except BaseException:
                    if not tx.done and not conn.closed:
                        with contextlib.suppress(psycopg.Error):
                            await tx.rollback()
                    raise
        except psycopg.Error as exc:
            # down, restarting, connection lost, or no connection free in time: 503, retry
            if isinstance(exc, PoolTimeout) or is_unavailable(exc):
                raise errors.database_unavailable() from None
            raise errors.from_database(exc) from None
