"""SQL for inserts, upserts, updates and deletes, each a data-modifying CTE named
``pgrst_source`` whose rows the response selects from (with embeds), as PostgREST does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wats.rest.errors import ApiError
from wats.rest.schema_cache import Relation
from wats.rest.sql import Params, ReadNode, ident, render_condition


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
        keys = spec.on_conflict or list(rel.primary_key)
        if not keys:
            raise ApiError(
                400,
                "PGRST100",
                "on_conflict needs a primary key or the on_conflict query parameter",
            )
        for k in keys:
            if k not in rel.columns:
                raise column_not_found(rel, k)
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
    for col in payload:
        if col not in relation.columns:
            raise column_not_found(relation, col)
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
