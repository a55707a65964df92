"""Who may read and write a private channel: decided by RLS on ``realtime.messages``,
evaluated by PostgreSQL as the user, exactly as Supabase Realtime asks
(``Realtime.Tenants.Authorization``):

- **read** (on join, and when a new access token arrives): in one transaction, insert a
  probe message for the topic per extension (``broadcast``, and ``presence`` when the
  channel wants it) as the table's owner, then switch to the token's role with its claims
  and ``realtime.topic`` set (``set_config(…, true)``), select the probes back — the rows
  RLS lets the user see are the extensions they may read — and roll back;
- **write** (before relaying a client's broadcast): switch to the user first, insert a
  probe in a savepoint; a 42501 refusal means no write. Rolled back as well.

Nothing here decides access: Python only reads which probe rows PostgreSQL returned. The
connection is the owner of realtime.messages (``supabase_realtime_admin``), never a
superuser or a BYPASSRLS role.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from supabase_standin.database import Pool

log = logging.getLogger(__name__)

SET_CONTEXT = (
    "select set_config('role', %s, true), set_config('realtime.topic', %s, true), "
    "set_config('request.jwt.claims', %s, true), set_config('request.jwt.claim.sub', %s, true), "
    "set_config('request.jwt.claim.role', %s, true), set_config('request.headers', %s, true)"
)


class AuthorizationUnavailable(Exception):
    """The database could not be asked (down, restarting): the join fails, nothing is decided."""


@dataclass(frozen=True)
class Context:
    """What an authorization check is about: the channel's topic and the caller's token."""

    topic: str
    role: str
    claims: dict[str, Any]
    headers: dict[str, str]

    def settings(self) -> list[Any]:
        sub = self.claims.get("sub")
        return [
            self.role,
            self.topic,
            json.dumps(self.claims),
            sub if isinstance(sub, str) else "",
            self.role,
            json.dumps(self.headers),
        ]


@dataclass
class Policies:
    """The result of the checks made so far (None: not asked yet)."""

    broadcast_read: bool | None = None
    presence_read: bool | None = None
    broadcast_write: bool | None = None


class Authorizer:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def read(self, context: Context, *, presence: bool) -> Policies:
        extensions = ["broadcast", "presence"] if presence else ["broadcast"]
        probes = {ext: uuid.uuid4() for ext in extensions}
        try:
            async with self.pool.connection() as conn:
                try:
                    await conn.execute("begin")
                    for ext, probe in probes.items():
                        await conn.execute(
                            "insert into realtime.messages (id, topic, extension) values (%s, %s, %s)",
                            [probe, context.topic, ext],
                        )
                    await conn.execute(SET_CONTEXT, context.settings())
                    cur = await conn.execute(
                        "select id from realtime.messages where id = any(%s)", [list(probes.values())]
                    )
                    seen = {row[0] for row in await cur.fetchall()}
                finally:
                    await conn.execute("rollback")
        except psycopg.OperationalError as exc:
            raise AuthorizationUnavailable(str(exc)) from None
        except psycopg.Error as exc:
            # Realtime's RlsPolicyError: a policy that fails (or a role the token may not
            # take) grants nothing.
            log.warning("realtime read authorization failed (%s): treated as no access", exc.sqlstate)
            return Policies(broadcast_read=False, presence_read=False if presence else None)
        return Policies(
            broadcast_read=probes["broadcast"] in seen,
            presence_read=(probes["presence"] in seen) if presence else None,
        )

    async def write(self, context: Context) -> bool:
        try:
            async with self.pool.connection() as conn:
                try:
                    await conn.execute("begin")
                    await conn.execute(SET_CONTEXT, context.settings())
                    await conn.execute("savepoint probe")
                    try:
                        await conn.execute(
                            "insert into realtime.messages (topic, extension) values (%s, 'broadcast')",
                            [context.topic],
                        )
                        allowed = True
                    except psycopg.errors.InsufficientPrivilege:
                        allowed = False
                finally:
                    await conn.execute("rollback")
        except psycopg.OperationalError as exc:
            raise AuthorizationUnavailable(str(exc)) from None
        except psycopg.Error as exc:
            log.warning("realtime write authorization failed (%s): treated as no access", exc.sqlstate)
            return False
        return allowed
