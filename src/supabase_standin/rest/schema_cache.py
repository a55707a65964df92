"""What the Data API knows about the exposed schemas: relations, columns, keys, functions.

Loaded from the system catalogs at start and again whenever PostgreSQL says
``NOTIFY pgrst, 'reload schema'`` (the baseline's DDL event triggers do), as PostgREST does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from supabase_standin.rest.errors import ApiError


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    type_oid: int
    nullable: bool
    default: str | None
    identity: str  # '' | 'a' (always) | 'd' (by default)
    generated: bool
    is_array: bool


@dataclass
class Relation:
    schema: str
    name: str
    kind: str  # r table, v view, m materialized view, f foreign table, p partitioned table
    columns: dict[str, ColumnInfo] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def is_unique(self, cols: tuple[str, ...]) -> bool:
        wanted = set(cols)
        keys = [self.primary_key, *self.unique_keys] if self.primary_key else self.unique_keys
        return any(key and set(key) <= wanted for key in keys)


@dataclass(frozen=True)
class ForeignKey:
    name: str
    schema: str
    table: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Argument:
    name: str
    type: str
    has_default: bool
    variadic: bool


@dataclass
class Function:
    schema: str
    name: str
    oid: int
    args: list[Argument]
    returns_set: bool
    return_type: str
    return_columns: list[ColumnInfo] | None  # composite results; None for scalar results
    returns_void: bool
    volatility: str  # i, s, v
    return_relation: tuple[str, str] | None  # (schema, name) when it returns rows of a relation

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def read_only(self) -> bool:
        return self.volatility in ("i", "s")

    @property
    def single_unnamed_json(self) -> bool:
        return len(self.args) == 1 and self.args[0].name == "" and self.args[0].type in ("json", "jsonb")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


RELATIONS_SQL = """
select c.oid, n.nspname, c.relname, c.relkind
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'v', 'm', 'f', 'p')
"""

COLUMNS_SQL = """
select a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, not a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated <> '', t.typcategory = 'A'
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_type t on t.oid = a.atttypid
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where n.nspname = any(%(schemas)s) and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""

KEYS_SQL = """
select i.indrelid, i.indisprimary,
       array(select a.attname from unnest(i.indkey) k join pg_attribute a
             on a.attrelid = i.indrelid and a.attnum = k order by a.attname)
from pg_index i
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any(%(schemas)s) and i.indisunique and i.indpred is null and i.indexprs is null
"""

FOREIGN_KEYS_SQL = """
select con.conname, ns.nspname, cs.relname,
       array(select a.attname from unnest(con.conkey) with ordinality k(n, o)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.o),
       nr.nspname, cr.relname,
       array(select a.attname from unnest(con.confkey) with ordinality k(n, o)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.o)
from pg_constraint con
join pg_class cs on cs.oid = con.conrelid
join pg_namespace ns on ns.oid = cs.relnamespace
join pg_class cr on cr.oid = con.confrelid
join pg_namespace nr on nr.oid = cr.relnamespace
where con.contype = 'f' and ns.nspname = any(%(schemas)s) and nr.nspname = any(%(schemas)s)
"""

FUNCTIONS_SQL = """
select p.oid, n.nspname, p.proname, p.proretset, format_type(p.prorettype, null), p.prorettype = 'void'::regtype,
       p.provolatile, p.pronargs, p.pronargdefaults,
       coalesce(p.proargnames, array[]::text[]), coalesce(p.proargmodes::text[], array[]::text[]),
       array(select format_type(t, null) from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) t),
       array(select t from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) t),
       rt.typtype, rt.typrelid, rn.nspname, rc.relname
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_type rt on rt.oid = p.prorettype
left join pg_class rc on rc.oid = rt.typrelid
left join pg_namespace rn on rn.oid = rc.relnamespace
where n.nspname = any(%(schemas)s) and p.prokind = 'f'
"""

COMPOSITE_COLUMNS_SQL = """
select a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, t.typcategory = 'A'
from pg_attribute a join pg_type t on t.oid = a.atttypid
where a.attrelid = any(%(relids)s) and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""

TYPE_NAMES_SQL = "select oid, format_type(oid, null), typcategory = 'A' from pg_type where oid = any(%(oids)s)"


class SchemaCache:
    """Relations, foreign keys and functions of the exposed schemas."""

    def __init__(self, schemas: list[str]):
        self.schemas = schemas
        self.relations: dict[tuple[str, str], Relation] = {}
        self.foreign_keys: list[ForeignKey] = []
        self.functions: dict[tuple[str, str], list[Function]] = {}

    @classmethod
    async def load(cls, conn: psycopg.AsyncConnection[Any], schemas: list[str]) -> SchemaCache:
        cache = cls(schemas)
        params = {"schemas": schemas}
        by_oid: dict[int, Relation] = {}
        async with conn.cursor() as cur:
            await cur.execute(RELATIONS_SQL, params)
            for oid, schema, name, kind in await cur.fetchall():
                rel = Relation(schema, name, kind)
                by_oid[oid] = rel
                cache.relations[(schema, name)] = rel
            await cur.execute(COLUMNS_SQL, params)
            for relid, name, typ, typoid, nullable, default, identity, generated, is_array in await cur.fetchall():
                if relid in by_oid:
                    by_oid[relid].columns[name] = ColumnInfo(
                        name, typ, typoid, nullable, default, identity, generated, is_array
                    )
            await cur.execute(KEYS_SQL, params)
            for relid, primary, cols in await cur.fetchall():
                if relid in by_oid:
                    if primary:
                        by_oid[relid].primary_key = tuple(cols)
                    else:
                        by_oid[relid].unique_keys.append(tuple(cols))
            await cur.execute(FOREIGN_KEYS_SQL, params)
            for name, schema, table, cols, ref_schema, ref_table, ref_cols in await cur.fetchall():
                cache.foreign_keys.append(
                    ForeignKey(name, schema, table, tuple(cols), ref_schema, ref_table, tuple(ref_cols))
                )
            await cur.execute(FUNCTIONS_SQL, params)
            rows = await cur.fetchall()
            composite_relids = {row[14] for row in rows if row[13] == "c"}
            composite_cols: dict[int, list[ColumnInfo]] = {}
            if composite_relids:
                await cur.execute(COMPOSITE_COLUMNS_SQL, {"relids": list(composite_relids)})
                for relid, name, typ, typoid, is_array in await cur.fetchall():
                    composite_cols.setdefault(relid, []).append(
                        ColumnInfo(name, typ, typoid, True, None, "", False, is_array)
                    )
            for row in rows:
                fn = _function_from_row(row, composite_cols)
                cache.functions.setdefault((fn.schema, fn.name), []).append(fn)
        return cache

    # -- lookups ------------------------------------------------------------------------
    def relation(self, schema: str, name: str) -> Relation:
        rel = self.relations.get((schema, name))
        if rel is None:
            raise ApiError(
                404,
                "PGRST205",
                f"Could not find the table '{schema}.{name}' in the schema cache",
                None,
                None,
            )
        return rel

    def function_candidates(self, schema: str, name: str) -> list[Function]:
        return self.functions.get((schema, name), [])


def _function_from_row(row: tuple[Any, ...], composite_cols: dict[int, list[ColumnInfo]]) -> Function:
    (
        oid,
        schema,
        name,
        retset,
        rettype,
        returns_void,
        volatility,
        nargs,
        ndefaults,
        argnames,
        argmodes,
        argtypes,
        argtypeoids,
        typtype,
        typrelid,
        ret_schema,
        ret_rel,
    ) = row
    modes = argmodes or ["i"] * len(argtypes)
    args: list[Argument] = []
    out_cols: list[ColumnInfo] = []
    in_index = 0
    for i, typ in enumerate(argtypes):
        mode = modes[i] if i < len(modes) else "i"
        arg_name = argnames[i] if i < len(argnames) else ""
        if mode in ("i", "b", "v"):
            has_default = in_index >= nargs - ndefaults
            args.append(Argument(arg_name or "", typ, has_default, mode == "v"))
            in_index += 1
        if mode in ("o", "b", "t"):
            out_cols.append(ColumnInfo(arg_name, typ, argtypeoids[i], True, None, "", False, typ.endswith("[]")))
    columns: list[ColumnInfo] | None = None
    return_relation = None
    if typtype == "c":
        columns = composite_cols.get(typrelid, [])
        if ret_rel is not None:
            return_relation = (ret_schema, ret_rel)
    elif rettype == "record" and out_cols:
        columns = out_cols
    return Function(
        schema=schema,
        name=name,
        oid=oid,
        args=args,
        returns_set=retset,
        return_type=rettype,
        return_columns=columns,
        returns_void=returns_void,
        volatility=volatility,
        return_relation=return_relation,
    )
