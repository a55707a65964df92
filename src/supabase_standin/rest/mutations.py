"""Stage 3 of a Data API request (PostgREST's ``Query``), for writes: the SQL of inserts,
upserts, updates and deletes, each a data-modifying CTE named ``pgrst_source`` whose rows
the response selects from (with embeds), as PostgREST does. The plan has checked every
column and conflict key already."""

from __future__ import annotations

import json
from typing import Any

from supabase_standin.rest.plan import InsertSpec, ReadNode
from supabase_standin.rest.query import Params, ident, render_condition
from supabase_standin.rest.schema_cache import Relation


def _default_sql(relation: Relation, column: str) -> str:
    info = relation.columns[column]
    if info.default is not None:
        return info.default.replace("%", "%%")
    if info.identity == "d":
        rel = relation.qualified.replace("'", "''").replace("%", "%%")
        col = column.replace("'", "''").replace("%", "%%")
        return f"nextval(pg_get_serial_sequence('{rel}', '{col}'))"
    return "NULL"


def render_insert(spec: InsertSpec, params: Params) -> str:
    rel = spec.relation
    target = rel.qualified.replace("%", "%%")
    alias = ident(rel.name)
    exprs: list[str] = []
    for col in spec.columns:
        value = f"pgrst_row.{ident(col)}"
        if spec.missing_default and any(col not in row for row in spec.rows):
            key = params.add(col)
            value = f"CASE WHEN pgrst_body.doc ? {key} THEN {value} ELSE {_default_sql(rel, col)} END"
        exprs.append(value)
    body = params.add(json.dumps(spec.rows))
    if spec.columns:
        cols = ", ".join(ident(c) for c in spec.columns)
        sql = (
            f"INSERT INTO {target} AS {alias} ({cols}) SELECT {', '.join(exprs)} "
            f"FROM jsonb_array_elements({body}::jsonb) AS pgrst_body(doc), "
            f"LATERAL jsonb_populate_record(NULL::{target}, pgrst_body.doc) AS pgrst_row"
        )
    else:
        # `{}`, `[{}, …]` or `[]`: as PostgREST, no column list and a select of no columns,
        # so every column of each row (one per object, none for `[]`) takes its default.
        sql = f"INSERT INTO {target} AS {alias} SELECT FROM jsonb_array_elements({body}::jsonb) AS pgrst_body(doc)"
    if spec.resolution is not None or spec.conflict_filters is not None:
        keys = spec.conflict_keys
        conflict = ", ".join(ident(k) for k in keys)
        if spec.resolution == "ignore-duplicates":
            sql += f" ON CONFLICT ({conflict}) DO NOTHING"
        else:
            if spec.columns:
                sets = ", ".join(f"{ident(c)} = EXCLUDED.{ident(c)}" for c in spec.columns)
                sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {sets}"
            else:
                sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    sql += (
        f" RETURNING {alias}.*, ({alias}.xmax = 0) AS pgrst_inserted"
        if spec.returning
        else (f" RETURNING ({alias}.xmax = 0) AS pgrst_inserted")
    )
    return sql


def render_update(
    relation: Relation,
    payload: dict[str, Any],
    node: ReadNode,
    params: Params,
    *,
    returning: bool,
) -> str:
    target = relation.qualified.replace("%", "%%")
    alias = ident(node.alias)
    sets = ", ".join(f"{ident(c)} = pgrst_row.{ident(c)}" for c in payload)
    body = params.add(json.dumps(payload))
    where = [render_condition(c, node, params) for c in node.conditions]
    sql = (
        f"UPDATE {target} AS {alias} SET {sets} "
        f"FROM (SELECT * FROM jsonb_populate_record(NULL::{target}, {body}::jsonb)) AS pgrst_row"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" RETURNING {alias}.*" if returning else " RETURNING 1"
    return sql


def render_delete(relation: Relation, node: ReadNode, params: Params, *, returning: bool) -> str:
    target = relation.qualified.replace("%", "%%")
    alias = ident(node.alias)
    where = [render_condition(c, node, params) for c in node.conditions]
    sql = f"DELETE FROM {target} AS {alias}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" RETURNING {alias}.*" if returning else " RETURNING 1"
    return sql
