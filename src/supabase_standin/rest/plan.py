"""Stage 2 of a Data API request (PostgREST's ``Plan``): the parsed request resolved
against the schema cache — which relation or function, which foreign key joins each
embedded resource, which columns an insert names, which overload an RPC calls — before
any SQL is written. Every error PostgREST raises from its plan is raised here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from supabase_standin.rest import grammar
from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.grammar import Condition, Embed, OrderTerm, Query, SelectItem
from supabase_standin.rest.relationships import Relationship, find_relationship
from supabase_standin.rest.request import ApiRequest, apply_range_header
from supabase_standin.rest.schema_cache import Function, Relation, SchemaCache

# -- the read tree ----------------------------------------------------------------------


@dataclass
class Child:
    embed: Embed
    rel: Relationship
    node: ReadNode
    lateral: str  # alias of the lateral subquery


@dataclass
class ReadNode:
    relation: Relation | None  # None for scalar/record function results without a relation
    alias: str
    items: list[SelectItem]
    conditions: list[Condition] = field(default_factory=list)
    order: list[OrderTerm] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    children: list[Child] = field(default_factory=list)
    column_types: dict[str, str] = field(default_factory=dict)
    star_columns: list[str] | None = None  # expand `*` to these (mutation results)

    def child(self, key: str) -> Child | None:
        for c in self.children:
            if c.embed.key == key or (c.embed.alias is None and c.embed.relation == key):
                return c
        return None

    def without_conditions(self) -> ReadNode:
        """The mutation's filters belong to the UPDATE/DELETE, not to the response select."""
        return ReadNode(
            self.relation,
            self.alias,
            self.items,
            [],
            self.order,
            self.limit,
            self.offset,
            self.children,
            self.column_types,
            self.star_columns,
        )


class Planner:
    """Turns a parsed query into a tree of ReadNodes, resolving every embed."""

    def __init__(self, cache: SchemaCache):
        self.cache = cache
        self.counter = 0

    def alias_for(self, name: str, taken: set[str]) -> str:
        if name not in taken:
            return name
        self.counter += 1
        return f"{name}_{self.counter}"

    def plan(
        self,
        relation: Relation | None,
        alias: str,
        query: Query,
        column_types: dict[str, str] | None = None,
    ) -> ReadNode:
        node = self._build(relation, alias, query.select, query, (), {alias}, column_types)
        self._check_paths(node, query)
        return node

    def _build(
        self,
        relation: Relation | None,
        alias: str,
        items: list[SelectItem],
        query: Query,
        path: tuple[str, ...],
        taken: set[str],
        column_types: dict[str, str] | None = None,
    ) -> ReadNode:
        types = (
            column_types
            if column_types is not None
            else ({c.name: c.type for c in relation.columns.values()} if relation else {})
        )
        node = ReadNode(
            relation,
            alias,
            items,
            conditions=query.filters.get(path, []),
            order=query.order.get(path, []),
            limit=query.limit.get(path),
            offset=query.offset.get(path),
            column_types=types,
        )
        for item in items:
            if not isinstance(item, Embed):
                continue
            if relation is None:
                raise ApiError(
                    400,
                    "PGRST200",
                    f"Could not find a relationship for '{item.relation}'",
                    "Embedding needs a result that is a table or view row",
                )
            rel = find_relationship(self.cache, relation, item.relation, item.hint)
            if item.spread and not rel.to_one:
                raise ApiError(
                    400,
                    "PGRST127",
                    "Feature not implemented",
                    "Spreading a to-many embedded resource is not supported by this server",
                )
            child_alias = self.alias_for(rel.target.name, taken)
            self.counter += 1
            lateral = f"{item.key}_{self.counter}"
            child_node = self._build(
                rel.target, child_alias, item.items, query, (*path, item.key), taken | {child_alias}
            )
            node.children.append(Child(item, rel, child_node, lateral))
        return node

    def _check_paths(self, root: ReadNode, query: Query) -> None:
        paths = set(query.filters) | set(query.order) | set(query.limit) | set(query.offset)
        for path in paths:
            node: ReadNode | None = root
            for key in path:
                child = node.child(key) if node else None
                if child is None:
                    raise ApiError(
                        400,
                        "PGRST108",
                        f"'{key}' is not an embedded resource in this request",
                        None,
                        f"Verify that '{key}' is included in the 'select' query parameter.",
                    )
                node = child.node


# -- reads --------------------------------------------------------------------------------


@dataclass
class ReadPlan:
    relation: Relation
    query: Query
    node: ReadNode
    single: bool


def plan_read(cache: SchemaCache, relation: Relation, req: ApiRequest) -> ReadPlan:
    query = grammar.parse_query(req.query_pairs)
    apply_range_header(query, req.range_header)
    single = req.single
    node = Planner(cache).plan(relation, relation.name, query)
    return ReadPlan(relation, query, node, single)


# -- writes -------------------------------------------------------------------------------


def column_not_found(relation: Relation, column: str) -> ApiError:
    return ApiError(
        400,
        "PGRST204",
        f"Could not find the '{column}' column of '{relation.name}' in the schema cache",
    )


def parse_payload(raw: bytes, *, allow_array: bool = True) -> list[dict[str, Any]] | dict[str, Any]:
    try:
        payload = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "PGRST102", "Empty or invalid json") from None
    if isinstance(payload, dict):
        return payload
    if allow_array and isinstance(payload, list) and all(isinstance(p, dict) for p in payload):
        return payload
    raise ApiError(400, "PGRST102", "Empty or invalid json")


def _object(payload: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    if not isinstance(payload, dict):  # parse_payload(allow_array=False) returns objects only
        raise ApiError(400, "PGRST102", "Empty or invalid json")
    return payload


def insert_columns(relation: Relation, rows: list[dict[str, Any]], columns: list[str] | None) -> list[str]:
    """The insert's column list: ``columns=`` if given, else the payload's (uniform) keys."""
    if columns is not None:
        cols = columns
    elif not rows:
        cols = []
    else:
        cols = list(rows[0].keys())
        first = set(cols)
        if any(set(r.keys()) != first for r in rows[1:]):
            raise ApiError(400, "PGRST102", "All object keys must match")
    for col in cols:
        if col not in relation.columns:
            raise column_not_found(relation, col)
    return cols


@dataclass
class InsertSpec:
    relation: Relation
    rows: list[dict[str, Any]]
    columns: list[str]
    missing_default: bool
    on_conflict: list[str] | None
    resolution: str | None  # "merge-duplicates" | "ignore-duplicates" | None
    returning: bool
    conflict_filters: str | None = None  # PUT: the URL's primary-key filters

    @property
    def conflict_keys(self) -> list[str]:
        return self.on_conflict or list(self.relation.primary_key)

    def check_conflict_keys(self) -> None:
        if self.resolution is None and self.conflict_filters is None:
            return
        if not self.conflict_keys:
            raise ApiError(400, "PGRST100", "on_conflict needs a primary key or the on_conflict query parameter")
        for key in self.conflict_keys:
            if key not in self.relation.columns:
                raise column_not_found(self.relation, key)


@dataclass
class MutatePlan:
    """An insert/upsert (``spec``), an update (``payload``) or a delete, and the select of
    its response (``node``, over the affected rows)."""

    kind: str  # "insert" | "put" | "update" | "delete"
    relation: Relation
    query: Query
    node: ReadNode
    returning: bool
    single: bool
    spec: InsertSpec | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    max_affected: int | None = None

    @property
    def ok_status(self) -> int:
        return 200 if self.kind == "put" else 201


def _mutation_node(cache: SchemaCache, relation: Relation, query: Query) -> ReadNode:
    node = Planner(cache).plan(relation, relation.name, query)
    node.star_columns = list(relation.columns)
    return node


async def plan_insert(cache: SchemaCache, relation: Relation, req: ApiRequest) -> MutatePlan:
    prefs = req.preferences
    query = grammar.parse_query(req.query_pairs)
    payload = parse_payload(await req.payload())
    rows = payload if isinstance(payload, list) else [payload]
    columns = insert_columns(relation, rows, query.columns)
    spec = InsertSpec(
        relation, rows, columns, prefs.missing == "default", query.on_conflict, prefs.resolution, returning=True
    )
    spec.check_conflict_keys()
    returning = prefs.ret in ("representation", "headers-only")
    node = _mutation_node(cache, relation, query)
    return MutatePlan("insert", relation, query, node, returning, req.single and returning, spec=spec)


async def plan_put(cache: SchemaCache, relation: Relation, req: ApiRequest) -> MutatePlan:
    """PUT: an upsert of one row named by all and only its primary key in the URL."""
    query = grammar.parse_query(req.query_pairs)
    if query.limit or query.offset:
        raise ApiError(400, "PGRST114", "limit/offset querystring parameters are not allowed for PUT")
    payload = _object(parse_payload(await req.payload(), allow_array=False))
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
    spec.check_conflict_keys()
    returning = req.preferences.ret == "representation"
    node = _mutation_node(cache, relation, query)
    return MutatePlan("put", relation, query, node, returning, req.single and returning, spec=spec)


async def plan_update(cache: SchemaCache, relation: Relation, req: ApiRequest) -> MutatePlan:
    query = grammar.parse_query(req.query_pairs)
    payload = _object(parse_payload(await req.payload(), allow_array=False))
    node = _mutation_node(cache, relation, query)
    for col in payload:
        if col not in relation.columns:
            raise column_not_found(relation, col)
    returning = req.preferences.ret == "representation"
    return MutatePlan(
        "update",
        relation,
        query,
        node,
        returning,
        req.single and returning,
        payload=payload,
        max_affected=req.preferences.strict_max_affected,
    )


def plan_delete(cache: SchemaCache, relation: Relation, req: ApiRequest) -> MutatePlan:
    query = grammar.parse_query(req.query_pairs)
    node = _mutation_node(cache, relation, query)
    returning = req.preferences.ret == "representation"
    return MutatePlan(
        "delete",
        relation,
        query,
        node,
        returning,
        req.single and returning,
        max_affected=req.preferences.strict_max_affected,
    )


# -- functions ------------------------------------------------------------------------------


def choose_function(
    cache: SchemaCache,
    schema: str,
    name: str,
    provided: set[str],
    *,
    whole_body: bool,
) -> Function:
    """The overload whose argument names fit the request (PGRST202/PGRST203 otherwise).

    ``whole_body``: a POST whose body may go to a single unnamed json/jsonb parameter.
    """
    candidates = cache.function_candidates(schema, name)
    fitting: list[Function] = []
    for fn in candidates:
        if whole_body and fn.single_unnamed_json:
            fitting.append(fn)
            continue
        names = {a.name for a in fn.args}
        required = {a.name for a in fn.args if not a.has_default}
        if "" in names:
            continue  # unnamed parameters can only be called with a whole body
        if provided <= names and required <= provided:
            fitting.append(fn)
    if not fitting:
        keys = ", ".join(sorted(provided))
        signature = f"({keys})" if provided else " without parameters"
        detail_params = (
            f" with parameter{'s' if len(provided) > 1 else ''} {keys}" if provided else " without parameters"
        )
        if whole_body:
            detail_params += " or with a single unnamed json/jsonb parameter"
        hint = None
        if candidates:
            options = ", ".join(f"{fn.schema}.{fn.name}({', '.join(a.name for a in fn.args)})" for fn in candidates)
            hint = f"Perhaps you meant to call the function {options}"
        raise ApiError(
            404,
            "PGRST202",
            f"Could not find the function {schema}.{name}{signature} in the schema cache",
            f"Searched for the function {schema}.{name}{detail_params}, but no matches were found in the schema cache.",
            hint,
        )
    if len(fitting) > 1:
        # prefer the overload that uses the most of the provided names exactly
        exact = [fn for fn in fitting if {a.name for a in fn.args} == provided]
        if len(exact) == 1:
            return exact[0]
        options = ", ".join(
            f"{fn.schema}.{fn.name}({', '.join(f'{a.name} => {a.type}' for a in fn.args)})" for fn in fitting
        )
        raise ApiError(
            300,
            "PGRST203",
            f"Could not choose the best candidate function between: {options}",
            None,
            "Try renaming the parameters or the function itself in the database so function overloading "
            "can be resolved",
        )
    return fitting[0]


def _choose_json_or_named(cache: SchemaCache, schema: str, name: str, payload: Any, single_param: bool) -> Function:
    candidates = cache.function_candidates(schema, name)
    json_fns = [fn for fn in candidates if fn.single_unnamed_json]
    if single_param:
        one_arg = [fn for fn in candidates if len(fn.args) == 1 and fn.args[0].type in ("json", "jsonb")]
        if len(one_arg) == 1:
            return one_arg[0]
    if isinstance(payload, dict):
        try:
            return choose_function(cache, schema, name, set(payload), whole_body=False)
        except ApiError:
            if len(json_fns) == 1:
                return json_fns[0]
            raise
    if len(json_fns) == 1:
        return json_fns[0]
    return choose_function(cache, schema, name, set(), whole_body=True)


@dataclass
class CallPlan:
    """An RPC: the overload, its arguments (named, or the whole body for one json
    parameter) and, for results with columns, the select over them (``node``)."""

    function: Function
    query: Query
    args: dict[str, Any] | None
    whole_body: str | None
    read_only: bool
    single: bool
    node: ReadNode | None = None


async def plan_call(cache: SchemaCache, req: ApiRequest, name: str) -> CallPlan:
    method, schema, prefs = req.method, req.schema, req.preferences
    if method not in ("GET", "HEAD", "POST"):
        raise ApiError(405, "PGRST101", f"Cannot use the {method} method on RPC")
    candidates = cache.function_candidates(schema, name)
    arg_names = frozenset(a.name for fn in candidates for a in fn.args if a.name)
    whole_body: str | None = None
    args: dict[str, Any] | None
    if method == "POST":
        query = grammar.parse_query(req.query_pairs)
        raw = await req.payload()
        payload = parse_payload(raw, allow_array=True) if raw.strip() else {}
        single_param = prefs.params == "single-object" or isinstance(payload, list)
        if single_param or any(fn.single_unnamed_json for fn in candidates):
            fn = _choose_json_or_named(cache, schema, name, payload, single_param)
        else:
            fn = choose_function(cache, schema, name, set(_object(payload)), whole_body=False)
        if fn.single_unnamed_json or (single_param and len(fn.args) == 1):
            whole_body = raw.decode() if raw.strip() else "{}"
            args = None
        else:
            args = _object(payload)
    else:
        query = grammar.parse_query(req.query_pairs, arg_names)
        args = dict(query.raw_args)
        fn = choose_function(cache, schema, name, set(args), whole_body=False)
    read_only = method in ("GET", "HEAD") or fn.read_only
    plan = CallPlan(fn, query, args, whole_body, read_only, req.single)
    if fn.return_columns is not None:
        relation = cache.relations.get(fn.return_relation) if fn.return_relation else None
        types = {c.name: c.type for c in fn.return_columns}
        plan.node = Planner(cache).plan(relation, fn.name, query, types)
    return plan
