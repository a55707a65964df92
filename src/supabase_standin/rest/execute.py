"""Stage 4 of a Data API request (PostgREST's transaction): run the statement exactly as
PostgREST runs it — on a connection of ``authenticator``, in one transaction that first
sets ``role``, ``request.jwt.claims``, ``request.method``, ``request.path``,
``request.headers``, ``request.cookies`` (and the role's own settings) with
``set_config(…, true)`` and then runs the one statement. PostgreSQL's RLS decides what the
role sees; nothing here decides access. Database errors become PostgREST's answers."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from supabase_standin.database import RETRY_AFTER, DatabaseUnavailable, Pool, is_unavailable
from supabase_standin.rest.errors import ApiError, from_database
from supabase_standin.rest.request import ApiRequest
from supabase_standin.rest.statements import Statement

SETUP_SQL = (
    "select set_config('search_path', %s, true), set_config('role', %s, true), "
    "set_config('request.jwt.claims', %s, true), set_config('request.method', %s, true), "
    "set_config('request.path', %s, true), set_config('request.headers', %s, true), "
    "set_config('request.cookies', %s, true)"
)


@dataclass
class Outcome:
    """What the statement answered: counts, the JSON body, the ``response.headers`` and
    ``response.status`` SQL set, and how many rows an insert created."""

    total: int | None
    page_total: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    inserted: int = 0


def database_unreachable() -> ApiError:
    """PostgREST's answer when it cannot get a connection (PGRST000), with ``Retry-After``
    as PostgREST sets on every 503; no libpq text in the body."""
    return ApiError(503, "PGRST000", "Database connection error.", headers={"Retry-After": str(RETRY_AFTER)})


def connection_lost() -> ApiError:
    """PostgREST's answer when the connection broke during the request (PGRST001)."""
    return ApiError(
        503, "PGRST001", "Database client error. Retrying the connection.", headers={"Retry-After": str(RETRY_AFTER)}
    )


def pool_timeout() -> ApiError:
    return ApiError(504, "PGRST003", "Timed out acquiring connection from connection pool.")


def client_side_data_error(exc: Exception) -> str:
    """PostgreSQL's words for a value psycopg refused to send (a NUL character is the one a
    client can put in JSON), rather than psycopg's own text."""
    if "NUL" in str(exc):
        return 'invalid byte sequence for encoding "UTF8": 0x00'
    return "invalid input value"


async def execute(
    pool: Pool,
    req: ApiRequest,
    statement: Statement,
    *,
    extra_search_path: list[str],
    role_settings: list[tuple[str, str]],
) -> Outcome:
    """Run ``statement`` for ``req`` in one transaction (see the module)."""
    identity = req.identity
    search_path = ", ".join(f'"{s}"' for s in [req.schema, *extra_search_path])
    setup: list[Any] = [
        search_path,
        identity.role,
        json.dumps(identity.claims),
        req.method,
        req.path,
        json.dumps(req.headers),
        json.dumps(req.cookies),
    ]
    begin = "BEGIN ISOLATION LEVEL READ COMMITTED" + (" READ ONLY" if statement.read_only else "")
    setup_sql = SETUP_SQL + "".join(", set_config(%s, %s, true)" for _ in role_settings)
    for name, value in role_settings:
        setup += [name, value]
    single, max_affected = statement.single, statement.max_affected
    checked = single or max_affected is not None
    try:
        async with pool.connection() as conn:
            try:
                # One round trip: BEGIN, the request settings, the statement and (unless
                # the result must be checked first) COMMIT go out in one pipeline.
                async with conn.pipeline() as pipeline:
                    await conn.execute(begin, prepare=True)
                    await conn.execute(setup_sql, setup, prepare=True)
                    cur = await conn.execute(statement.sql, statement.params.values)
                    if not checked:
                        await conn.execute("COMMIT", prepare=True)
                    await pipeline.sync()
                    row = await cur.fetchone()
                if row is None:
                    raise ApiError(500, "PGRST000", "the statement returned no row")
                outcome = _outcome(row)
                if not checked:
                    return outcome
                if single and outcome.page_total != 1:
                    await conn.execute("ROLLBACK")
                    raise ApiError(
                        406,
                        "PGRST116",
                        "Cannot coerce the result to a single JSON object",
                        f"The result contains {outcome.page_total} rows",
                    )
                if max_affected is not None and outcome.page_total > max_affected:
                    await conn.execute("ROLLBACK")
                    raise ApiError(
                        400,
                        "PGRST124",
                        "Query result exceeds max-affected preference constraint",
                        f"The query affects {outcome.page_total} rows",
                    )
                await conn.execute("COMMIT")
                return outcome
            except psycopg.Error as exc:
                if not conn.closed:
                    with contextlib.suppress(psycopg.Error):
                        await conn.execute("ROLLBACK")
                if is_unavailable(exc):
                    raise connection_lost() from None
                if exc.sqlstate is None:
                    if isinstance(exc, psycopg.DataError):
                        # rejected before reaching the server (e.g. a NUL byte in text)
                        raise ApiError(400, "22021", client_side_data_error(exc)) from None
                    raise
                raise from_database(exc, identity.authenticated) from None
    except (PoolTimeout, TimeoutError):
        raise pool_timeout() from None
    except psycopg.OperationalError as exc:
        if isinstance(exc, DatabaseUnavailable):
            raise database_unreachable() from None
        raise connection_lost() from None


def _outcome(row: tuple[Any, ...]) -> Outcome:
    total, page_total, body, resp_headers, resp_status, inserted = row
    headers: dict[str, str] = {}
    if resp_headers:
        try:
            parsed = json.loads(resp_headers)
            for item in parsed:
                for k, v in item.items():
                    headers[str(k)] = str(v)
        except (ValueError, AttributeError, TypeError):
            raise ApiError(
                500,
                "PGRST111",
                "response.headers guc must be a JSON array composed of objects with a single key and a string value",
            ) from None
    status = None
    if resp_status:
        try:
            status = int(resp_status)
        except ValueError:
            raise ApiError(500, "PGRST112", "response.status guc must be a valid status code") from None
    return Outcome(
        total=int(total) if total is not None else None,
        page_total=int(page_total),
        body=body,
        headers=headers,
        status=status,
        inserted=int(inserted or 0),
    )
