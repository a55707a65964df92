"""The Data API (``/rest/v1``): PostgREST's HTTP contract over a real PostgreSQL.

A request goes through PostgREST's stages, one module each:

1. ``request``  — parse: identity (``jwt``), schema, preferences, query string, payload;
2. ``plan``     — resolve it against the schema cache (``schema_cache``, ``relationships``);
3. ``query``/``mutations``/``rpc`` and ``statements`` — render the one SQL statement;
4. ``execute``  — run it as PostgREST does: one transaction as the JWT's role, so
   PostgreSQL's RLS decides; nothing here decides access;
5. ``response`` — the HTTP answer.

This module holds the route table and the schema cache's lifecycle (loaded at start and
again on ``NOTIFY pgrst``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from supabase_standin.database import Pool, is_unavailable
from supabase_standin.rest import plan as planning
from supabase_standin.rest import response, statements
from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.execute import Outcome, database_unreachable, execute, pool_timeout
from supabase_standin.rest.openapi import openapi
from supabase_standin.rest.request import ApiRequest, parse_request
from supabase_standin.rest.schema_cache import Relation, SchemaCache
from supabase_standin.rest.statements import Statement
from supabase_standin.routing import ANY, Router, route

log = logging.getLogger(__name__)

ROLE_SETTINGS_SQL = """
select r.rolname, s.setconfig
from pg_db_role_setting s
join pg_roles r on r.oid = s.setrole
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
order by s.setdatabase
"""
DB_CONFIG_SQL = """
select unnest(s.setconfig)
from pg_db_role_setting s
where s.setrole = (select oid from pg_roles where rolname = current_user)
"""
ALLOW = "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"


@dataclass
class RestConfig:
    schemas: list[str]
    extra_search_path: list[str]
    max_rows: int | None
    jwt_secret: str
    anon_role: str = "anon"
    title: str = "Data API (PostgREST-compatible)"


class RestService:
    """One PostgREST-compatible endpoint over a pool of ``authenticator`` connections."""

    def __init__(self, config: RestConfig, pool: Pool):
        self.config = config
        self.pool = pool
        self.cache: SchemaCache | None = None
        self.role_settings: dict[str, list[tuple[str, str]]] = {}
        self.schemas = list(config.schemas)
        self._listener: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        # PostgREST's routes: the root, /rpc/<function>, /<relation>
        self.router: Router[ApiRequest] = Router(
            [
                route(("GET", "HEAD"), "", self.root),
                route(("GET", "HEAD", "POST"), "rpc/{function}", self.call),
                route(ANY, "rpc/{function}", self.rpc_method_not_allowed),
                route(("GET", "HEAD"), "{relation}", self.read),
                route("POST", "{relation}", self.insert),
                route("PUT", "{relation}", self.put),
                route("PATCH", "{relation}", self.update),
                route("DELETE", "{relation}", self.delete),
                route("OPTIONS", "{relation}", self.options),
                route(ANY, "{relation}", self.unsupported_method),
            ],
            not_found=self.invalid_path,
        )

    # -- schema cache -------------------------------------------------------------------
    async def reload(self) -> None:
        async with self._reload_lock, self.pool.connection() as conn:
            await conn.execute("set search_path = ''")
            schemas = await self._db_schemas(conn)
            cache = await SchemaCache.load(conn, schemas)
            settings: dict[str, list[tuple[str, str]]] = {}
            for role, config in await (await conn.execute(ROLE_SETTINGS_SQL)).fetchall():
                for item in config or []:
                    name, _, value = item.partition("=")
                    if "." not in name and name != "search_path":
                        settings.setdefault(role, []).append((name, value))
            await conn.execute("reset search_path")
            self.schemas = schemas
            self.cache = cache
            self.role_settings = settings

    async def _db_schemas(self, conn: psycopg.AsyncConnection[Any]) -> list[str]:
        """Exposed schemas: ``pgrst.db_schemas`` set on the authenticator role (PostgREST's
        in-database configuration) wins over supabase/config.toml's ``[api] schemas``."""
        for (item,) in await (await conn.execute(DB_CONFIG_SQL)).fetchall():
            name, _, value = item.partition("=")
            if name == "pgrst.db_schemas" and value.strip():
                return [s.strip() for s in value.split(",") if s.strip()]
        return list(self.config.schemas)

    async def start(self) -> None:
        await self.reload()
        self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        """Reload on ``NOTIFY pgrst, 'reload schema'`` / ``'reload config'``."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.pool.conninfo, autocommit=True)
                async with conn:
                    await conn.execute("listen pgrst")
                    await self.reload()
                    async for _notify in conn.notifies():
                        await asyncio.sleep(0.05)  # let a burst of DDL settle
                        await self.reload()
            except asyncio.CancelledError:
                raise
            except psycopg.OperationalError as exc:
                if is_unavailable(exc):  # the database restarts or is down: listen again once back
                    log.warning("schema cache listener lost the database; retrying")
                else:
                    log.exception("schema cache listener failed; retrying")
                await asyncio.sleep(1)
            except Exception:
                log.exception("schema cache listener failed; retrying")
                await asyncio.sleep(1)

    @property
    def ready(self) -> bool:
        return self.cache is not None

    # -- HTTP ---------------------------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        try:
            try:
                if self.cache is None:
                    await self.reload()
                req = parse_request(
                    request,
                    path,
                    schemas=self.schemas,
                    jwt_secret=self.config.jwt_secret,
                    anon_role=self.config.anon_role,
                )
                return await self.router.dispatch(req, req.method, "/".join(req.segments))
            except RecursionError:
                raise ApiError(400, "PGRST100", "failed to parse the request", "nesting is too deep") from None
            except psycopg.Error as exc:  # outside a request's transaction: loading the schema cache
                if isinstance(exc, PoolTimeout):
                    raise pool_timeout() from None
                if is_unavailable(exc):
                    raise database_unreachable() from None
                raise
        except ApiError as err:
            return response.error_response(err)

    @property
    def _cache(self) -> SchemaCache:
        if self.cache is None:
            raise database_unreachable()
        return self.cache

    def _relation(self, req: ApiRequest, params: dict[str, str]) -> Relation:
        return self._cache.relation(req.schema, params["relation"])

    async def _run(self, req: ApiRequest, statement: Statement) -> Outcome:
        return await execute(
            self.pool,
            req,
            statement,
            extra_search_path=self.config.extra_search_path,
            role_settings=self.role_settings.get(req.identity.role, []),
        )

    # -- the handlers: plan → statement → execute → response ---------------------------------
    async def root(self, req: ApiRequest, _params: dict[str, str]) -> Response:
        return openapi(self._cache, req.schema, self.config.title)

    async def invalid_path(self, _req: ApiRequest, _params: dict[str, str]) -> Response:
        raise ApiError(404, "PGRST125", "Invalid path specified in request URL")

    async def read(self, req: ApiRequest, params: dict[str, str]) -> Response:
        plan = planning.plan_read(self._cache, self._relation(req, params), req)
        statement = statements.read_statement(plan, count=bool(req.preferences.count), max_rows=self.config.max_rows)
        outcome = await self._run(req, statement)
        return response.read_response(req, plan.query, outcome, single=plan.single)

    async def insert(self, req: ApiRequest, params: dict[str, str]) -> Response:
        return await self._mutate(req, await planning.plan_insert(self._cache, self._relation(req, params), req))

    async def put(self, req: ApiRequest, params: dict[str, str]) -> Response:
        return await self._mutate(req, await planning.plan_put(self._cache, self._relation(req, params), req))

    async def update(self, req: ApiRequest, params: dict[str, str]) -> Response:
        return await self._mutate(req, await planning.plan_update(self._cache, self._relation(req, params), req))

    async def delete(self, req: ApiRequest, params: dict[str, str]) -> Response:
        return await self._mutate(req, planning.plan_delete(self._cache, self._relation(req, params), req))

    async def _mutate(self, req: ApiRequest, plan: planning.MutatePlan) -> Response:
        outcome = await self._run(req, statements.mutate_statement(plan))
        if plan.spec is not None:
            return response.insert_response(req, plan, outcome)
        return response.write_response(req, plan, outcome)

    async def options(self, req: ApiRequest, params: dict[str, str]) -> Response:
        self._relation(req, params)
        return Response(status_code=200, headers={"Allow": ALLOW})

    async def unsupported_method(self, req: ApiRequest, params: dict[str, str]) -> Response:
        self._relation(req, params)
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {req.method}")

    async def rpc_method_not_allowed(self, req: ApiRequest, _params: dict[str, str]) -> Response:
        raise ApiError(405, "PGRST101", f"Cannot use the {req.method} method on RPC")

    async def call(self, req: ApiRequest, params: dict[str, str]) -> Response:
        plan = await planning.plan_call(self._cache, req, params["function"])
        fn = plan.function
        count, max_rows = bool(req.preferences.count), self.config.max_rows
        outcome = await self._run(req, statements.call_statement(plan, count=count, max_rows=max_rows))
        if plan.node is not None:
            if not fn.returns_set:
                body = response.single_body(outcome.body) if outcome.page_total else "null"
                return response.read_response(req, plan.query, outcome, single=False, body_override=body)
            return response.read_response(req, plan.query, outcome, single=plan.single)
        return response.read_response(req, plan.query, outcome, single=False, void=fn.returns_void)
