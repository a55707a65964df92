"""Listing objects as the caller (RLS decides which rows exist for them).

``list`` (v1) follows ``storage.search``: the immediate children of ``prefix`` whose name
(relative to the prefix) starts with ``search``, matched case-insensitively; every deeper
path collapses into one folder entry ``{name, id: null, …: null}``; names are relative to
the prefix; ordered by lower-cased name (or by a timestamp column with folders first);
``limit`` (capped at 1500) and ``offset`` count folders and files alike.

``list-v2`` follows ``listObjectsV2``: a flat, case-sensitive prefix listing with a cursor,
or with ``with_delimiter`` folders and objects of one level.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from supabase_standin.storage import errors
from supabase_standin.storage.db import Tx
from supabase_standin.storage.web import iso

SORT_COLUMNS = ("name", "updated_at", "created_at", "last_accessed_at")
V2_SORT_COLUMNS = ("name", "updated_at", "created_at")
MAX_LIMIT = 1500

SEARCH_SQL = """
with matched as (
    select o.name as full_name, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata,
           strpos(substr(o.name, %(flen)s + 1), '/') as slash
    from storage.objects o
    where o.bucket_id = %(bucket)s
      and left(lower(o.name), %(flen)s) = %(full_lower)s
),
folders as (
    select distinct on (lower(f.name) collate "C") f.name
    from (
        select substr(full_name, %(plen)s + 1, %(slen)s + slash - 1) as name, full_name
        from matched
        where slash > 0
    ) f
    order by lower(f.name) collate "C", f.full_name collate "C"
),
entries as (
    select name, null::uuid as id, null::timestamptz as updated_at, null::timestamptz as created_at,
           null::timestamptz as last_accessed_at, null::jsonb as metadata, 0 as kind
    from folders
    union all
    select substr(full_name, %(plen)s + 1), id, updated_at, created_at, last_accessed_at, metadata, 1
    from matched
    where slash = 0
)
select name, id, updated_at, created_at, last_accessed_at, metadata
from entries
order by {order}
limit %(limit)s offset %(offset)s
"""


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "id": str(row["id"]) if row.get("id") is not None else None,
        "updated_at": iso(row.get("updated_at")),
        "created_at": iso(row.get("created_at")),
        "last_accessed_at": iso(row.get("last_accessed_at")),
        "metadata": row.get("metadata"),
    }


async def search(
    tx: Tx,
    bucket: str,
    prefix: str,
    *,
    limit: int | None,
    offset: int | None,
    search_text: str | None,
    column: str | None,
    order: str | None,
) -> list[dict[str, Any]]:
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # the prefix is always a folder
    search_text = search_text or ""
    full = prefix + search_text
    column = column if column in SORT_COLUMNS else "name"
    direction = "desc" if (order or "asc").lower() == "desc" else "asc"
    if column == "name":
        order_by = f'lower(name) collate "C" {direction}, name collate "C" {direction}'
    else:
        order_by = (
            f'kind, (case when kind = 0 then lower(name) end) collate "C" {direction}, '
            f'{column} {direction}, lower(name) collate "C" {direction}'
        )
    rows = await tx.all(
        SEARCH_SQL.format(order=order_by),
        {
            "bucket": bucket,
            "flen": len(full),
            "full_lower": full.lower(),
            "plen": len(prefix),
            "slen": len(search_text),
            "limit": min(limit or 100, MAX_LIMIT),
            "offset": offset or 0,
        },
    )
    return [_row(r) for r in rows]


# -- list-v2 ---------------------------------------------------------------------------------

CURSOR_KEYS = {"l": "start_after", "o": "order", "c": "column", "a": "after"}


def encode_cursor(values: dict[str, str | None]) -> str:
    lines = [f"{k}:{values[v]}" for k, v in CURSOR_KEYS.items() if values.get(v)]
    return base64.b64encode("\n".join(lines).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, str]:
    try:
        text = base64.b64decode(cursor, validate=False).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.invalid_parameter("continuation token") from None
    out = {"start_after": "", "order": "asc"}
    for line in text.split("\n"):
        key, colon, value = line.partition(":")
        if not colon or key not in CURSOR_KEYS:
            raise errors.invalid_parameter("continuation token")
        out[CURSOR_KEYS[key]] = value
    return out


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_v2(
    tx: Tx,
    bucket: str,
    *,
    prefix: str,
    limit: int | None,
    cursor: str | None,
    with_delimiter: bool,
    column: str | None,
    order: str | None,
) -> dict[str, Any]:
    limit = min(limit or 1000, 1000)
    state = decode_cursor(cursor) if cursor else {}
    direction = (state.get("order") or order or "asc").lower()
    direction = "desc" if direction == "desc" else "asc"
    column = state.get("column") or column or "name"
    if column not in V2_SORT_COLUMNS or with_delimiter:
        column = "name"
    start_after = state.get("start_after") or ""
    params: dict[str, Any] = {"bucket": bucket, "like": _like_prefix(prefix), "limit": limit + 1}
    compare = ">" if direction == "asc" else "<"
    if not with_delimiter:
        conditions = ["bucket_id = %(bucket)s", "name like %(like)s"]
        if start_after:
            params["after_name"] = start_after
            if column != "name" and state.get("after"):
                params["after_value"] = state["after"]
                conditions.append(
                    f"(date_trunc('milliseconds', {column}), name collate \"C\") {compare} "
                    f'(%(after_value)s::timestamptz, %(after_name)s collate "C")'
                )
            else:
                conditions.append(f'name collate "C" {compare} %(after_name)s')
        order_by = (f"{column} {direction}, " if column != "name" else "") + f'name collate "C" {direction}'
        rows = await tx.all(
            "select id, name, metadata, updated_at, created_at, last_accessed_at from storage.objects "
            f"where {' and '.join(conditions)} order by {order_by} limit %(limit)s",
            params,
        )
        has_next = len(rows) > limit
        rows = rows[:limit]
        objects = [{**_row(r), "key": r["name"]} for r in rows]
        result: dict[str, Any] = {"hasNext": has_next, "folders": [], "objects": objects}
        if has_next and rows:
            last = rows[-1]
            after = iso(last.get(column)) if column != "name" else None
            result["nextCursor"] = encode_cursor(
                {"start_after": last["name"], "order": direction, "column": column, "after": after}
            )
        return result
    base = prefix[: prefix.rfind("/") + 1]
    params.update({"plen": len(prefix), "after_key": start_after})
    rows = await tx.all(
        f"""
        with matched as (
            select id, name, metadata, updated_at, created_at, last_accessed_at,
                   strpos(substr(name, %(plen)s + 1), '/') as slash
            from storage.objects
            where bucket_id = %(bucket)s and name like %(like)s
        ),
        entries as (
            select distinct left(name, %(plen)s + slash) as key, null::uuid as id, null::jsonb as metadata,
                   null::timestamptz as updated_at, null::timestamptz as created_at,
                   null::timestamptz as last_accessed_at
            from matched where slash > 0
            union all
            select name, id, metadata, updated_at, created_at, last_accessed_at from matched where slash = 0
        )
        select * from entries
        where %(after_key)s = '' or key collate "C" {compare} %(after_key)s
        order by key collate "C" {direction}
        limit %(limit)s
        """,
        params,
    )
    has_next = len(rows) > limit
    rows = rows[:limit]
    folders, objects = [], []
    for r in rows:
        name = r["key"][len(base) :]
        if r["id"] is None:
            folders.append({"key": r["key"], "name": name})
        else:
            objects.append({**_row({**r, "name": name}), "key": r["key"]})
    result = {"hasNext": has_next, "folders": folders, "objects": objects}
    if has_next and rows:
        result["nextCursor"] = encode_cursor({"start_after": rows[-1]["key"], "order": direction, "column": "name"})
    return result
