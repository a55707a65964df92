"""Stage 3 of a Data API request (PostgREST's ``Query``), for reads: the SQL of a read
plan — a select tree with lateral joins for embedded resources.

Identifiers are always quoted; every value from the request is a bind parameter sent with
an unknown type (psycopg's default for ``str``), so PostgreSQL casts it to the column's
type exactly as it casts PostgREST's literals.
"""

from __future__ import annotations

from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.grammar import (
    FTS_OPS,
    SIMPLE_OPS,
    Column,
    Condition,
    Field,
    Filter,
    Logic,
    Star,
)
from supabase_standin.rest.plan import Child, ReadNode
from supabase_standin.rest.relationships import Relationship
from supabase_standin.rest.schema_cache import quote_ident


def ident(name: str) -> str:
    """A quoted identifier, safe inside a psycopg query string."""
    return quote_ident(name).replace("%", "%%")


class Params:
    """Collects bind parameters while SQL text is built."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def add(self, value: object) -> str:
        self.values.append(value)
        return "%s"


def array_literal(items: list[str]) -> str:
    """A PostgreSQL array literal with every element quoted."""
    quoted = ['"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items]
    return "{" + ",".join(quoted) + "}"


def field_sql(alias: str, f: Field) -> str:
    expr = f"{ident(alias)}.{ident(f.name)}"
    for arrow, key in f.json_path:
        if key.lstrip("-").isdigit():
            expr += f"{arrow}{int(key)}"
        else:
            expr += f"{arrow}'{key.replace(chr(39), chr(39) * 2).replace('%', '%%')}'"
    return expr


# -- rendering --------------------------------------------------------------------------------


def render_condition(cond: Condition, node: ReadNode, params: Params) -> str:
    if isinstance(cond, Logic):
        joiner = " AND " if cond.op == "and" else " OR "
        if not cond.children:
            inner = "TRUE" if cond.op == "and" else "FALSE"
        else:
            inner = joiner.join(render_condition(c, node, params) for c in cond.children)
        return f"NOT ({inner})" if cond.negate else f"({inner})"
    return render_filter(cond, node, params)


def render_filter(flt: Filter, node: ReadNode, params: Params) -> str:
    embedded = node.child(flt.field.name) if not flt.field.json_path else None
    if embedded is not None:
        if flt.op != "is" or flt.value not in ("null", "not_null"):
            raise ApiError(
                400,
                "PGRST120",
                f"Bad operator on the '{flt.field.name}' embedded resource",
                "Only is null or not is null filters are allowed on embedded resources",
            )
        is_null = (flt.value == "null") != flt.negate
        return f'{ident(embedded.lateral)}."body" IS {"" if is_null else "NOT "}NULL'
    column = field_sql(node.alias, flt.field)
    expr = _filter_expression(flt, column, node, params)
    return f"NOT ({expr})" if flt.negate else expr


def _filter_expression(flt: Filter, column: str, node: ReadNode, params: Params) -> str:
    op = flt.op
    if op == "in":
        assert isinstance(flt.value, list)
        return f"{column} = ANY({params.add(array_literal(flt.value))})"
    if op == "is":
        keyword = {"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
        return f"{column} IS {keyword[str(flt.value)]}"
    if op in FTS_OPS:
        fn = FTS_OPS[op]
        query_arg = (
            f"{params.add(flt.modifier)}::regconfig, {params.add(flt.value)}" if flt.modifier else params.add(flt.value)
        )
        vector = column
        if node.column_types.get(flt.field.name) != "tsvector" or flt.field.json_path:
            vector = (
                f"to_tsvector({params.add(flt.modifier)}::regconfig, {column})"
                if flt.modifier
                else f"to_tsvector({column})"
            )
        return f"{vector} @@ {fn}({query_arg})"
    sql_op = SIMPLE_OPS[op]
    if flt.modifier in ("any", "all"):
        assert isinstance(flt.value, list)
        values = [v.replace("*", "%") for v in flt.value] if op in ("like", "ilike") else flt.value
        return f"{column} {sql_op} {flt.modifier.upper()}({params.add(array_literal(values))})"
    value = str(flt.value)
    if op in ("like", "ilike"):
        value = value.replace("*", "%")
    return f"{column} {sql_op} {params.add(value)}"


def join_condition(rel: Relationship, child_alias: str, parent_alias: str) -> str:
    if rel.kind == "m2m":
        assert rel.junction is not None and rel.junction_fk is not None
        junction = rel.junction.qualified.replace("%", "%%")
        j = "pgrst_junction"
        to_target = " AND ".join(
            f"{ident(j)}.{ident(jc)} = {ident(child_alias)}.{ident(tc)}"
            for jc, tc in zip(rel.junction_fk.columns, rel.junction_fk.ref_columns, strict=True)
        )
        to_origin = " AND ".join(
            f"{ident(j)}.{ident(jc)} = {ident(parent_alias)}.{ident(oc)}"
            for jc, oc in zip(rel.fk.columns, rel.fk.ref_columns, strict=True)
        )
        return f"EXISTS (SELECT 1 FROM {junction} AS {ident(j)} WHERE {to_target} AND {to_origin})"
    return " AND ".join(
        f"{ident(child_alias)}.{ident(tc)} = {ident(parent_alias)}.{ident(oc)}"
        for tc, oc in zip(rel.target_columns, rel.origin_columns, strict=True)
    )


def render_order(node: ReadNode, params: Params) -> str:
    terms: list[str] = []
    for term in node.order:
        if term.relation:
            child = node.child(term.relation)
            if child is None:
                raise ApiError(
                    400,
                    "PGRST108",
                    f"'{term.relation}' is not an embedded resource in this request",
                    None,
                    f"Verify that '{term.relation}' is included in the 'select' query parameter.",
                )
            if not child.rel.to_one:
                raise ApiError(
                    400,
                    "PGRST118",
                    f"A related order on '{term.relation}' is not possible",
                    f"'{node.alias}' and '{term.relation}' do not form a many-to-one or one-to-one relationship",
                )
            target = child.rel.target
            sub_alias = "pgrst_order"
            expr = (
                f"(SELECT {field_sql(sub_alias, term.field)} FROM {target.qualified.replace('%', '%%')} "
                f"AS {ident(sub_alias)} WHERE {join_condition(child.rel, sub_alias, node.alias)})"
            )
        else:
            expr = field_sql(node.alias, term.field)
        text = expr + (" DESC" if term.descending else " ASC")
        if term.nulls:
            text += " NULLS FIRST" if term.nulls == "first" else " NULLS LAST"
        terms.append(text)
    return ", ".join(terms)


def render_items(node: ReadNode) -> list[str]:
    out: list[str] = []
    for item in node.items:
        if isinstance(item, Star):
            if node.star_columns is not None:
                out.extend(f"{ident(node.alias)}.{ident(c)}" for c in node.star_columns)
            else:
                out.append(f"{ident(node.alias)}.*")
        elif isinstance(item, Column):
            expr = field_sql(node.alias, item.field)
            if item.cast:
                expr = f"({expr})::{item.cast}"
            out.append(f"{expr} AS {ident(item.alias or item.field.output_name)}")
    for child in node.children:
        lat = ident(child.lateral)
        if not child.embed.items:
            continue  # `rel()`: embedded only to filter the parent, nothing selected
        if child.embed.spread:
            out.append(f"{lat}.*")
        elif child.rel.to_one:
            out.append(f'{lat}."body" AS {ident(child.embed.key)}')
        else:
            out.append(f"COALESCE({lat}.\"body\", '[]') AS {ident(child.embed.key)}")
    return out


def render_select(
    node: ReadNode,
    source: str,
    params: Params,
    *,
    max_rows: int | None = None,
    join: str | None = None,
    count_only: bool = False,
) -> str:
    """``SELECT … FROM source AS alias <laterals> WHERE … ORDER BY … LIMIT …``."""
    laterals: list[str] = []
    where: list[str] = []
    if join:
        where.append(join)
    for child in node.children:
        needed = not count_only or child.embed.inner or _filters_on_embed(node, child)
        if not needed:
            continue
        laterals.append(f"LEFT JOIN LATERAL ({render_embed(child, node, params)}) AS {ident(child.lateral)} ON TRUE")
        if child.embed.inner:
            where.append(f'{ident(child.lateral)}."body" IS NOT NULL')
    for cond in node.conditions:
        where.append(render_condition(cond, node, params))
    # an empty list happens for `select=rel()`: rows with no keys, as PostgREST gives
    columns = "1" if count_only else ", ".join(render_items(node))
    sql = f"SELECT {columns} FROM {source} AS {ident(node.alias)}"
    if laterals:
        sql += " " + " ".join(laterals)
    if where:
        sql += " WHERE " + " AND ".join(where)
    if count_only:
        return sql
    if node.order:
        sql += " ORDER BY " + render_order(node, params)
    limit = node.limit
    if max_rows is not None:
        limit = max_rows if limit is None else min(limit, max_rows)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if node.offset:
        sql += f" OFFSET {int(node.offset)}"
    return sql


def _filters_on_embed(node: ReadNode, child: Child) -> bool:
    def mentions(cond: Condition) -> bool:
        if isinstance(cond, Logic):
            return any(mentions(c) for c in cond.children)
        return not cond.field.json_path and cond.field.name == child.embed.key

    return any(mentions(c) for c in node.conditions)


def render_embed(child: Child, parent: ReadNode, params: Params) -> str:
    target = child.rel.target.qualified.replace("%", "%%")
    join = join_condition(child.rel, child.node.alias, parent.alias)
    inner = render_select(child.node, target, params, join=join)
    if child.embed.spread:
        return inner
    if child.rel.to_one:
        return f'SELECT row_to_json("pgrst_sub") AS "body" FROM ({inner}) AS "pgrst_sub"'
    return f'SELECT json_agg("pgrst_sub") AS "body" FROM ({inner}) AS "pgrst_sub"'
