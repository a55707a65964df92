"""Stage 3 of a Data API request, the whole statement (PostgREST's ``Statements``): the
plan's SQL (``pgrst_source``) wrapped in the outer query every request ends with — total
count, page count, JSON body, the ``response.*`` settings SQL made — plus how it must run
(read only, one row expected, at most so many affected)."""

from __future__ import annotations

from dataclasses import dataclass

from supabase_standin.rest.mutations import render_delete, render_insert, render_update
from supabase_standin.rest.plan import CallPlan, MutatePlan, ReadNode, ReadPlan
from supabase_standin.rest.query import Params, render_select
from supabase_standin.rest.rpc import render_call


@dataclass
class Statement:
    sql: str
    params: Params
    read_only: bool
    #: The result must be exactly one row (``Accept: application/vnd.pgrst.object+json``).
    single: bool = False
    #: ``Prefer: max-affected`` with ``handling=strict``.
    max_affected: int | None = None


def count_sql(node: ReadNode, source: str, params: Params) -> str:
    """``Prefer: count=…``: the total the page is cut from."""
    return "SELECT pg_catalog.count(*) FROM (" + render_select(node, source, params, count_only=True) + ") pgrst_count"


def read_statement(plan: ReadPlan, *, count: bool, max_rows: int | None) -> Statement:
    params = Params()
    table = plan.relation.qualified.replace("%", "%%")
    source = render_select(plan.node, table, params, max_rows=max_rows)
    total_sql = count_sql(plan.node, table, params) if count else None
    sql = wrap_response(source, "SELECT * FROM pgrst_source", total_sql)
    return Statement(sql, params, read_only=True, single=plan.single)


def mutate_statement(plan: MutatePlan) -> Statement:
    params = Params()
    inserted = False
    if plan.spec is not None:
        source = render_insert(plan.spec, params)
        body_select = render_select(plan.node, "pgrst_source", params)
        inserted = True
    elif plan.kind == "update" and not plan.payload:
        # nothing to change: PostgREST answers as if no row matched
        source = body_select = "SELECT NULL WHERE FALSE"
    elif plan.kind == "update":
        source = render_update(plan.relation, plan.payload, plan.node, params, returning=True)
        body_select = render_select(plan.node.without_conditions(), "pgrst_source", params)
    else:
        source = render_delete(plan.relation, plan.node, params, returning=True)
        body_select = render_select(plan.node.without_conditions(), "pgrst_source", params)
    sql = wrap_response(source, body_select, None, inserted=inserted)
    return Statement(sql, params, read_only=False, single=plan.single, max_affected=plan.max_affected)


def call_statement(plan: CallPlan, *, count: bool, max_rows: int | None) -> Statement:
    params = Params()
    fn = plan.function
    source = render_call(fn, plan.args, plan.whole_body, params)
    if plan.node is not None:
        body_select = render_select(plan.node, "pgrst_source", params, max_rows=max_rows)
        total_sql = count_sql(plan.node, "pgrst_source", params) if count else None
        sql = wrap_response(source, body_select, total_sql)
        return Statement(sql, params, read_only=plan.read_only, single=plan.single)
    sql = wrap_response(source, "SELECT * FROM pgrst_source", None, scalar=True, scalar_set=fn.returns_set)
    return Statement(sql, params, read_only=plan.read_only, single=False)


def wrap_response(
    source_cte: str,
    body_select: str,
    total_sql: str | None,
    *,
    inserted: bool = False,
    scalar: bool = False,
    scalar_set: bool = False,
) -> str:
    """The outer query every request ends with, as PostgREST's: total count, page count,
    JSON body, the ``response.headers``/``response.status`` settings SQL may have made, and
    for inserts how many rows were new (``xmax = 0``)."""
    total = f"({total_sql})" if total_sql else "NULL::bigint"
    if scalar and scalar_set:
        body = "coalesce(json_agg(_postgrest_t.pgrst_scalar), '[]')::text"
    elif scalar:
        body = "coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, 'null')::text"
    else:
        body = "coalesce(json_agg(_postgrest_t), '[]')::text"
    inserted_sql = "(SELECT pg_catalog.count(*) FROM pgrst_source WHERE pgrst_inserted)" if inserted else "0"
    return (
        f"WITH pgrst_source AS ({source_cte}) "
        f"SELECT {total} AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
        f"{body} AS body, "
        "nullif(current_setting('response.headers', true), '') AS response_headers, "
        "nullif(current_setting('response.status', true), '') AS response_status, "
        f"{inserted_sql} AS response_inserted "
        f"FROM ({body_select}) _postgrest_t"
    )
