"""The Data API (``/rest/v1``): PostgREST's HTTP contract over a real PostgreSQL.

Every request runs as PostgREST runs it: on a connection of ``authenticator``, in one
transaction that first sets ``role``, ``request.jwt.claims``, ``request.method``,
``request.path``, ``request.headers`` and ``request.cookies`` with ``set_config(…, true)``
and then runs one statement. PostgreSQL's RLS decides what each role sees; nothing here
decides access.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from wats import keys
from wats.database import RETRY_AFTER, DatabaseUnavailable, Pool, is_unavailable
from wats.mediatype import media_type
from wats.rest import grammar
from wats.rest.errors import ApiError, from_database
from wats.rest.mutations import (
    InsertSpec,
    insert_columns,
    parse_payload,
    render_delete,
    render_insert,
    render_update,
)
from wats.rest.rpc import choose_function, render_call
from wats.rest.schema_cache import Function, Relation, SchemaCache
from wats.rest.sql import Params, Planner, ReadNode, render_select, wrap_response

log = logging.getLogger("wats.rest")

JSON_TYPE = "application/json; charset=utf-8"
OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8"
SETUP_SQL = (
    "select set_config('search_path', %s, true), set_config('role', %s, true), "
    "set_config('request.jwt.claims', %s, true), set_config('request.method', %s, true), "
    "set_config('request.path', %s, true), set_config('request.headers', %s, true), "
    "set_config('request.cookies', %s, true)"
)
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
RANGE_RE = re.compile(r"^\s*(?:items=)?(\d+)-(\d*)\s*$")
PREFERENCES = {
    "return": {"minimal", "headers-only", "representation"},
    "count": {"exact", "planned", "estimated"},
    "resolution": {"merge-duplicates", "ignore-duplicates"},
    "missing": {"default", "null"},
    "handling": {"strict", "lenient"},
    "params": {"single-object"},
}


@dataclass
class RestConfig:
    schemas: list[str]
    extra_search_path: list[str]
    max_rows: int | None
    jwt_secret: str
    anon_role: str = "anon"


@dataclass
class Identity:
    role: str
    claims: dict[str, Any]

    @property
    def authenticated(self) -> bool:
        return self.role != "anon"


@dataclass
class Outcome:
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


def client_side_data_error(exc: Exception) -> str:
    """PostgreSQL's words for a value psycopg refused to send (a NUL character is the one a
    client can put in JSON), rather than psycopg's own text."""
    if "NUL" in str(exc):
        return 'invalid byte sequence for encoding "UTF8": 0x00'
    return "invalid input value"


def jwt_error(code: str, message: str) -> ApiError:
    return ApiError(
        401,
        code,
        message,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'},
    )


_verified: dict[str, dict[str, Any]] = {}
_VERIFIED_MAX = 4096


def _verify_cached(secret: str, token: str) -> dict[str, Any]:
    """Verify a JWT, remembering good signatures (PostgREST caches them too); expiry is
    checked on every use."""
    claims = _verified.get(token)
    if claims is None:
        claims = keys.verify(secret, token)
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[token] = claims
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp <= time.time():
        _verified.pop(token, None)
        raise keys.ExpiredToken("token expired")
    return claims


def authenticate(authorization: str | None, secret: str, anon_role: str) -> Identity:
    """The role and claims of a request, from its ``Authorization: Bearer`` JWT."""
    if authorization is None:
        return Identity(anon_role, {"role": anon_role})
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return Identity(anon_role, {"role": anon_role})
    token = token.strip()
    if not token:
        raise jwt_error("PGRST301", "Empty JWT is sent in Authorization header")
    parts = token.count(".") + 1
    if parts != 3:
        raise jwt_error("PGRST301", f"Expected 3 parts in JWT; got {parts}")
    try:
        claims = _verify_cached(secret, token)
    except keys.ExpiredToken:
        raise jwt_error("PGRST303", "JWT expired") from None
    except keys.InvalidToken:
        raise jwt_error("PGRST301", "No suitable key or wrong key type") from None
    role = claims.get("role")
    if role is None:
        role = anon_role
    if not isinstance(role, str) or not role:
        raise jwt_error("PGRST303", "JWT claims validation or parsing failed")
    return Identity(role, claims)


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

    # -- HTTP ---------------------------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        try:
            try:
                return await self._handle(request, path)
            except RecursionError:
                raise ApiError(400, "PGRST100", "failed to parse the request", "nesting is too deep") from None
            except psycopg.Error as exc:  # outside a request's transaction: loading the schema cache
                if isinstance(exc, PoolTimeout):
                    raise ApiError(504, "PGRST003", "Timed out acquiring connection from connection pool.") from None
                if is_unavailable(exc):
                    raise database_unreachable() from None
                raise
        except ApiError as err:
            headers = {"Content-Type": JSON_TYPE, **err.headers}
            return Response(err.body(), status_code=err.status, headers=headers)

    async def _handle(self, request: Request, path: str) -> Response:
        if self.cache is None:
            await self.reload()
        assert self.cache is not None
        method = request.method.upper()
        identity = authenticate(request.headers.get("authorization"), self.config.jwt_secret, self.config.anon_role)
        schema = self._schema_for(request, method)
        prefs = parse_preferences(request.headers.getlist("prefer"))
        segments = [s for s in path.strip("/").split("/") if s]
        if not segments:
            if method in ("GET", "HEAD"):
                return self._openapi(schema)
            raise ApiError(404, "PGRST125", "Invalid path specified in request URL")
        if segments[0] == "rpc" and len(segments) == 2:
            return await self._rpc(request, identity, schema, segments[1], prefs, method)
        if len(segments) != 1:
            raise ApiError(404, "PGRST125", "Invalid path specified in request URL")
        relation = self.cache.relation(schema, segments[0])
        if method in ("GET", "HEAD"):
            return await self._read(request, identity, relation, prefs, method)
        if method == "POST":
            return await self._insert(request, identity, relation, prefs)
        if method == "PATCH":
            return await self._update(request, identity, relation, prefs)
        if method == "DELETE":
            return await self._delete(request, identity, relation, prefs)
        if method == "PUT":
            return await self._put(request, identity, relation, prefs)
        if method == "OPTIONS":
            return Response(status_code=200, headers={"Allow": "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"})
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")

    def _schema_for(self, request: Request, method: str) -> str:
        header = "accept-profile" if method in ("GET", "HEAD") else "content-profile"
        schema = request.headers.get(header)
        if schema is None:
            return self.schemas[0]
        if schema not in self.schemas:
            raise ApiError(
                406,
                "PGRST106",
                f"Invalid schema: {schema}",
                None,
                f"Only the following schemas are exposed: {', '.join(self.schemas)}",
            )
        return schema

    # -- reads --------------------------------------------------------------------------
    async def _read(
        self, request: Request, identity: Identity, relation: Relation, prefs: Preferences, method: str
    ) -> Response:
        assert self.cache is not None
        query = grammar.parse_query(list(request.query_params.multi_items()))
        apply_range_header(query, request.headers.get("range") if method == "GET" else None)
        single = wants_single_object(request)
        node = Planner(self.cache).plan(relation, relation.name, query)
        params = Params()
        source = render_select(node, relation.qualified.replace("%", "%%"), params, max_rows=self.config.max_rows)
        total_sql = None
        if prefs.count:
            total_sql = (
                "SELECT pg_catalog.count(*) FROM ("
                + render_select(node, relation.qualified.replace("%", "%%"), params, count_only=True)
                + ") pgrst_count"
            )
        sql = wrap_response(source, "SELECT * FROM pgrst_source", total_sql)
        outcome = await self._execute(request, identity, sql, params, read_only=True, single=single)
        return self._read_response(outcome, query, prefs, single, method, relation.name)

    def _read_response(
        self,
        outcome: Outcome,
        query: grammar.Query,
        prefs: Preferences,
        single: bool,
        method: str,
        name: str,
        *,
        body_override: str | None = None,
        void: bool = False,
    ) -> Response:
        lower = query.offset.get((), 0)
        status, content_range = range_status(lower, outcome.page_total, outcome.total)
        headers = {"Content-Range": content_range}
        applied = prefs.applied(count=True)
        if applied:
            headers["Preference-Applied"] = applied
        if status == 416:
            err = ApiError(
                416,
                "PGRST103",
                "Requested range not satisfiable",
                f"An offset of {lower} was requested, but there are only {outcome.total} rows.",
            )
            return Response(err.body(), status_code=416, headers={"Content-Type": JSON_TYPE, **headers})
        if void:
            return self._finish(Response(status_code=204, headers=headers), outcome)
        body = body_override if body_override is not None else outcome.body
        if single:
            body = single_body(body)
        headers["Content-Type"] = OBJECT_TYPE if single else JSON_TYPE
        content = b"" if method == "HEAD" else body.encode()
        return self._finish(Response(content, status_code=status, headers=headers), outcome)

    def _finish(self, response: Response, outcome: Outcome) -> Response:
        """Apply ``response.status`` / ``response.headers`` set by SQL (PostgREST GUCs)."""
        if outcome.status is not None:
            response.status_code = outcome.status
        for name, value in outcome.headers.items():
            response.headers[name] = value
        return response

    # -- writes -------------------------------------------------------------------------
    def _mutation_node(self, relation: Relation, query: grammar.Query, alias: str) -> ReadNode:
        assert self.cache is not None
        node = Planner(self.cache).plan(relation, alias, query)
        node.star_columns = list(relation.columns)
        return node

    async def _insert(self, request: Request, identity: Identity, relation: Relation, prefs: Preferences) -> Response:
        assert self.cache is not None
        query = grammar.parse_query(list(request.query_params.multi_items()))
        payload = parse_payload(await json_body(request))
        rows = payload if isinstance(payload, list) else [payload]
        columns = insert_columns(relation, rows, query.columns)
        returning = prefs.ret in ("representation", "headers-only")
        spec = InsertSpec(
            relation,
            rows,
            columns,
            prefs.missing == "default",
            query.on_conflict,
            prefs.resolution,
            returning=True,
        )
        return await self._mutate(request, identity, relation, query, prefs, render_insert, spec, 201, returning)

    async def _put(self, request: Request, identity: Identity, relation: Relation, prefs: Preferences) -> Response:
        query = grammar.parse_query(list(request.query_params.multi_items()))
        if query.limit or query.offset:
            raise ApiError(400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT")
        payload = parse_payload(await json_body(request), allow_array=False)
        assert isinstance(payload, dict)
        pk = list(relation.primary_key)
        filters = query.filters.get((), [])
        eq = {
            f.field.name: f.value
            for f in filters
            if isinstance(f, grammar.Filter) and f.op == "eq" and not f.negate and not f.field.json_path
        }
        if not pk or set(eq) != set(pk) or len(filters) != len(pk):
            raise ApiError(405, "PGRST105", "Filters must include all and only primary key columns with 'eq' operators")
        if any(str(payload.get(k)) != str(v) for k, v in eq.items()):
            raise ApiError(400, "PGRST115", "Payload values do not match URL in primary key column(s)")
        columns = insert_columns(relation, [payload], None)
        query.filters.pop((), None)
        spec = InsertSpec(relation, [payload], columns, False, pk, "merge-duplicates", returning=True)
        returning = prefs.ret == "representation"
        return await self._mutate(request, identity, relation, query, prefs, render_insert, spec, 200, returning)

    async def _mutate(
        self,
        request: Request,
        identity: Identity,
        relation: Relation,
        query: grammar.Query,
        prefs: Preferences,
        renderer: Any,
        spec: InsertSpec,
        ok_status: int,
        returning: bool,
    ) -> Response:
        single = wants_single_object(request)
        params = Params()
        source = renderer(spec, params)
        node = self._mutation_node(relation, query, relation.name)
        body_select = render_select(node, "pgrst_source", params)
        sql = wrap_response(source, body_select, None, inserted=True)
        outcome = await self._execute(request, identity, sql, params, read_only=False, single=single and returning)
        status = ok_status
        if spec.resolution == "merge-duplicates" and outcome.inserted == 0 and outcome.page_total > 0:
            status = 200
        if ok_status == 200 and outcome.inserted > 0:  # PUT created the row
            status = 201
        headers = {"Content-Range": f"*/{outcome.page_total}" if prefs.count else "*/*"}
        applied = prefs.applied(
            returning=True,
            count=True,
            resolution=spec.resolution is not None and ok_status == 201,
            missing=True,
        )
        if applied:
            headers["Preference-Applied"] = applied
        if prefs.ret == "headers-only" and relation.primary_key and outcome.page_total > 0:
            location = location_header(relation, outcome.body)
            if location:
                headers["Location"] = location
        if not returning:
            if ok_status == 200:
                status = 204
            return self._finish(Response(status_code=status, headers=headers), outcome)
        body = single_body(outcome.body) if single else outcome.body
        headers["Content-Type"] = OBJECT_TYPE if single else JSON_TYPE
        return self._finish(Response(body.encode(), status_code=status, headers=headers), outcome)

    async def _update(self, request: Request, identity: Identity, relation: Relation, prefs: Preferences) -> Response:
        query = grammar.parse_query(list(request.query_params.multi_items()))
        payload = parse_payload(await json_body(request), allow_array=False)
        assert isinstance(payload, dict)
        node = self._mutation_node(relation, query, relation.name)
        returning = prefs.ret == "representation"
        single = wants_single_object(request)
        params = Params()
        if not payload:
            # nothing to change: PostgREST answers as if no row matched
            source = "SELECT NULL WHERE FALSE"
            body_select = "SELECT NULL WHERE FALSE"
        else:
            source = render_update(relation, payload, node, params, returning=True)
            body_select = render_select(_without_conditions(node), "pgrst_source", params)
        sql = wrap_response(source, body_select, None)
        outcome = await self._execute(
            request,
            identity,
            sql,
            params,
            read_only=False,
            single=single and returning,
            max_affected=prefs.max_affected if prefs.handling == "strict" else None,
        )
        return self._write_response(outcome, prefs, returning, single, lower_upper=True)

    async def _delete(self, request: Request, identity: Identity, relation: Relation, prefs: Preferences) -> Response:
        query = grammar.parse_query(list(request.query_params.multi_items()))
        node = self._mutation_node(relation, query, relation.name)
        returning = prefs.ret == "representation"
        single = wants_single_object(request)
        params = Params()
        source = render_delete(relation, node, params, returning=True)
        body_select = render_select(_without_conditions(node), "pgrst_source", params)
        sql = wrap_response(source, body_select, None)
        outcome = await self._execute(
            request,
            identity,
            sql,
            params,
            read_only=False,
            single=single and returning,
            max_affected=prefs.max_affected if prefs.handling == "strict" else None,
        )
        return self._write_response(outcome, prefs, returning, single, lower_upper=False)

    def _write_response(
        self, outcome: Outcome, prefs: Preferences, returning: bool, single: bool, *, lower_upper: bool
    ) -> Response:
        total = str(outcome.page_total) if prefs.count else "*"
        if lower_upper and outcome.page_total > 0:
            content_range = f"0-{outcome.page_total - 1}/{total}"
        else:
            content_range = f"*/{total}"
        headers = {"Content-Range": content_range}
        applied = prefs.applied(returning=True, count=True, missing=True, max_affected=True)
        if applied:
            headers["Preference-Applied"] = applied
        if not returning:
            return self._finish(Response(status_code=204, headers=headers), outcome)
        body = single_body(outcome.body) if single else outcome.body
        headers["Content-Type"] = OBJECT_TYPE if single else JSON_TYPE
        return self._finish(Response(body.encode(), status_code=200, headers=headers), outcome)

    # -- functions ----------------------------------------------------------------------
    async def _rpc(
        self, request: Request, identity: Identity, schema: str, name: str, prefs: Preferences, method: str
    ) -> Response:
        assert self.cache is not None
        if method not in ("GET", "HEAD", "POST"):
            raise ApiError(405, "PGRST101", f"Cannot use the {method} method on RPC")
        candidates = self.cache.function_candidates(schema, name)
        arg_names = frozenset(a.name for fn in candidates for a in fn.args if a.name)
        pairs = list(request.query_params.multi_items())
        whole_body: str | None = None
        if method == "POST":
            query = grammar.parse_query(pairs)
            raw = await json_body(request)
            payload = parse_payload(raw, allow_array=True) if raw.strip() else {}
            single_param = prefs.params == "single-object" or isinstance(payload, list)
            if single_param or any(fn.single_unnamed_json for fn in candidates):
                fn = self._choose_json_or_named(schema, name, payload, single_param)
            else:
                assert isinstance(payload, dict)
                fn = choose_function(self.cache, schema, name, set(payload), whole_body=False)
            if fn.single_unnamed_json or (single_param and len(fn.args) == 1):
                whole_body = raw.decode() if raw.strip() else "{}"
                args = None
            else:
                assert isinstance(payload, dict)
                args = payload
        else:
            query = grammar.parse_query(pairs, arg_names)
            args = dict(query.raw_args)
            fn = choose_function(self.cache, schema, name, set(args), whole_body=False)
        read_only = method in ("GET", "HEAD") or fn.read_only
        params = Params()
        source = render_call(fn, args, whole_body, params)
        single = wants_single_object(request)
        return await self._rpc_result(request, identity, fn, query, prefs, params, source, read_only, single, method)

    def _choose_json_or_named(self, schema: str, name: str, payload: Any, single_param: bool) -> Function:
        assert self.cache is not None
        candidates = self.cache.function_candidates(schema, name)
        json_fns = [fn for fn in candidates if fn.single_unnamed_json]
        if single_param:
            one_arg = [fn for fn in candidates if len(fn.args) == 1 and fn.args[0].type in ("json", "jsonb")]
            if len(one_arg) == 1:
                return one_arg[0]
        if isinstance(payload, dict):
            try:
                return choose_function(self.cache, schema, name, set(payload), whole_body=False)
            except ApiError:
                if len(json_fns) == 1:
                    return json_fns[0]
                raise
        if len(json_fns) == 1:
            return json_fns[0]
        return choose_function(self.cache, schema, name, set(), whole_body=True)

    async def _rpc_result(
        self,
        request: Request,
        identity: Identity,
        fn: Function,
        query: grammar.Query,
        prefs: Preferences,
        params: Params,
        source: str,
        read_only: bool,
        single: bool,
        method: str,
    ) -> Response:
        assert self.cache is not None
        total_sql = None
        if fn.return_columns is not None:
            relation = self.cache.relations.get(fn.return_relation) if fn.return_relation else None
            types = {c.name: c.type for c in fn.return_columns}
            node = Planner(self.cache).plan(relation, fn.name, query, types)
            body_select = render_select(node, "pgrst_source", params, max_rows=self.config.max_rows)
            if prefs.count:
                total_sql = (
                    "SELECT pg_catalog.count(*) FROM ("
                    + render_select(node, "pgrst_source", params, count_only=True)
                    + ") pgrst_count"
                )
            sql = wrap_response(source, body_select, total_sql)
            outcome = await self._execute(request, identity, sql, params, read_only=read_only, single=single)
            body = outcome.body
            if not fn.returns_set:
                body = single_body(body) if outcome.page_total else "null"
                return self._read_response(
                    outcome, query, prefs, False, method, fn.name, body_override=body, void=False
                )
            return self._read_response(outcome, query, prefs, single, method, fn.name)
        body_select = "SELECT * FROM pgrst_source"
        sql = wrap_response(source, body_select, None, scalar=True, scalar_set=fn.returns_set)
        outcome = await self._execute(request, identity, sql, params, read_only=read_only, single=False)
        if fn.returns_void:
            return self._read_response(outcome, query, prefs, False, method, fn.name, void=True)
        return self._read_response(outcome, query, prefs, False, method, fn.name)

    # -- execution ----------------------------------------------------------------------
    async def _execute(
        self,
        request: Request,
        identity: Identity,
        sql: str,
        params: Params,
        *,
        read_only: bool,
        single: bool,
        max_affected: int | None = None,
    ) -> Outcome:
        headers = {k.lower(): v for k, v in request.headers.items()}
        cookies = {}
        if "cookie" in headers:
            jar: SimpleCookie = SimpleCookie()
            with contextlib.suppress(Exception):
                jar.load(headers["cookie"])
            cookies = {k: m.value for k, m in jar.items()}
        search_path = ", ".join(f'"{s}"' for s in [self._current_schema(request), *self.config.extra_search_path])
        setup = [
            search_path,
            identity.role,
            json.dumps(identity.claims),
            request.method.upper(),
            "/" + request.path_params.get("path", "").lstrip("/"),
            json.dumps(headers),
            json.dumps(cookies),
        ]
        begin = "BEGIN ISOLATION LEVEL READ COMMITTED" + (" READ ONLY" if read_only else "")
        role_settings = self.role_settings.get(identity.role, [])
        setup_sql = SETUP_SQL + "".join(", set_config(%s, %s, true)" for _ in role_settings)
        for name, value in role_settings:
            setup += [name, value]
        checked = single or max_affected is not None
        try:
            async with self.pool.connection() as conn:
                try:
                    # One round trip: BEGIN, the request settings, the statement and (unless
                    # the result must be checked first) COMMIT go out in one pipeline.
                    async with conn.pipeline() as pipeline:
                        await conn.execute(begin, prepare=True)
                        await conn.execute(setup_sql, setup, prepare=True)
                        cur = await conn.execute(sql, params.values)
                        if not checked:
                            await conn.execute("COMMIT", prepare=True)
                        await pipeline.sync()
                        row = await cur.fetchone()
                    assert row is not None
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
            raise ApiError(504, "PGRST003", "Timed out acquiring connection from connection pool.") from None
        except psycopg.OperationalError as exc:
            if isinstance(exc, DatabaseUnavailable):
                raise database_unreachable() from None
            raise connection_lost() from None

    def _current_schema(self, request: Request) -> str:
        method = request.method.upper()
        header = "accept-profile" if method in ("GET", "HEAD") else "content-profile"
        return request.headers.get(header) or self.schemas[0]

    def _openapi(self, schema: str) -> Response:
        assert self.cache is not None
        paths: dict[str, Any] = {"/": {"get": {"responses": {"200": {"description": "OK"}}}}}
        definitions: dict[str, Any] = {}
        for (s, name), rel in sorted(self.cache.relations.items()):
            if s != schema:
                continue
            paths[f"/{name}"] = {
                m: {"responses": {"200": {"description": "OK"}}} for m in ("get", "post", "patch", "delete")
            }
            definitions[name] = {
                "type": "object",
                "properties": {c.name: {"format": c.type} for c in rel.columns.values()},
            }
        for (s, name), _fns in sorted(self.cache.functions.items()):
            if s == schema:
                paths[f"/rpc/{name}"] = {"post": {"responses": {"200": {"description": "OK"}}}}
        doc = {
            "swagger": "2.0",
            "info": {"title": "WATS Data API (PostgREST-compatible)", "version": "14"},
            "basePath": "/",
            "paths": paths,
            "definitions": definitions,
        }
        return Response(json.dumps(doc).encode(), headers={"Content-Type": "application/openapi+json; charset=utf-8"})


def _without_conditions(node: ReadNode) -> ReadNode:
    """The mutation's filters belong to the UPDATE/DELETE, not to the response select."""
    copy = ReadNode(
        node.relation,
        node.alias,
        node.items,
        [],
        node.order,
        node.limit,
        node.offset,
        node.children,
        node.column_types,
        node.star_columns,
    )
    return copy


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


# -- small protocol helpers --------------------------------------------------------------


@dataclass
class Preferences:
    ret: str | None = None
    count: str | None = None
    resolution: str | None = None
    missing: str | None = None
    handling: str | None = None
    params: str | None = None
    max_affected: int | None = None

    def applied(
        self,
        *,
        returning: bool = False,
        count: bool = False,
        resolution: bool = False,
        missing: bool = False,
        max_affected: bool = False,
    ) -> str:
        parts: list[str] = []
        if resolution and self.resolution:
            parts.append(f"resolution={self.resolution}")
        if missing and self.missing:
            parts.append(f"missing={self.missing}")
        if returning and self.ret:
            parts.append(f"return={self.ret}")
        if count and self.count:
            parts.append(f"count={self.count}")
        if self.handling:
            parts.append(f"handling={self.handling}")
        if max_affected and self.max_affected is not None:
            parts.append(f"max-affected={self.max_affected}")
        return ", ".join(parts)


def parse_preferences(values: list[str]) -> Preferences:
    prefs = Preferences()
    invalid: list[str] = []
    for header in values:
        for part in header.split(","):
            part = part.strip()
            if not part:
                continue
            key, _, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if key == "max-affected" and value.isdigit():
                prefs.max_affected = int(value)
            elif key in PREFERENCES and value in PREFERENCES[key]:
                setattr(prefs, "ret" if key == "return" else key, value)
            elif key not in ("tx", "timezone"):
                invalid.append(part)
    if prefs.handling == "strict" and invalid:
        raise ApiError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            "Invalid preferences: " + ", ".join(invalid),
        )
    return prefs


async def json_body(request: Request) -> bytes:
    """The request body as JSON, whatever payload type PostgREST accepts: JSON (also when
    no Content-Type is given), a URL-encoded form (one object of strings) or CSV (an array
    of objects; ``NULL`` is null). Any other type is refused as PostgREST refuses it."""
    raw = await request.body()
    kind = media_type(request.headers.get("content-type"))
    if kind in ("", "application/json"):
        return raw
    if kind == "application/x-www-form-urlencoded":
        fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return json.dumps(fields).encode()
    if kind == "text/csv":
        return json.dumps(csv_rows(raw)).encode()
    raise ApiError(400, "PGRST102", f"Content-Type not acceptable: {kind}")


def csv_rows(raw: bytes) -> list[dict[str, str | None]]:
    """CSV with a header line → objects, as PostgREST reads a CSV payload."""
    try:
        reader = csv.reader(io.StringIO(raw.decode("utf-8")))
        lines = [line for line in reader if line]
    except (UnicodeDecodeError, csv.Error):
        raise ApiError(400, "PGRST102", "Empty or invalid CSV") from None
    if not lines:
        return []
    header, rows = lines[0], lines[1:]
    if any(len(row) != len(header) for row in rows):
        raise ApiError(400, "PGRST102", "All lines must have same number of fields")
    return [{k: (None if v == "NULL" else v) for k, v in zip(header, row, strict=True)} for row in rows]


def wants_single_object(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/vnd.pgrst.object" in accept


def single_body(body: str) -> str:
    """``[{…}]`` → ``{…}`` (json_agg's output always starts with ``[`` and ends with ``]``)."""
    text = body.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return inner if inner else "null"
    return text


def apply_range_header(query: grammar.Query, header: str | None) -> None:
    if not header:
        return
    match = RANGE_RE.match(header)
    if not match:
        return
    lower = int(match.group(1))
    upper = int(match.group(2)) if match.group(2) else None
    if upper is not None and lower > upper:
        raise ApiError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
        )
    query.offset.setdefault((), lower)
    if upper is not None:
        query.limit.setdefault((), upper - lower + 1)


def range_status(lower: int, page_total: int, total: int | None) -> tuple[int, str]:
    upper = lower + page_total - 1
    total_text = "*" if total is None else str(total)
    content_range = f"*/{total_text}" if upper < lower else f"{lower}-{upper}/{total_text}"
    if total is None:
        return 200, content_range
    if lower > total:
        return 416, content_range
    if (1 + upper - lower) < total:
        return 206, content_range
    return 200, content_range


def location_header(relation: Relation, body: str) -> str | None:
    try:
        rows = json.loads(body)
    except ValueError:
        return None
    if not rows:
        return None
    first = rows[0]
    parts = [f"{k}=eq.{first.get(k)}" for k in relation.primary_key]
    return f"/{relation.name}?" + "&".join(parts)
