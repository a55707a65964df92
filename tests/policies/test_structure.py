"""The matrix against the database's catalog: a file for every table, the GRANTs exactly as
``[privileges]`` says, an entry for every RPC, and files the harness can read."""

from __future__ import annotations

import psycopg
import pytest

from tests.policies.matrix import COVERAGE, MATRIX, OPS, ROLES, ROOT, Cell, parse_privileges

API_ROLES = ("anon", "authenticated", "service_role")
PRIVILEGES = ("select", "insert", "update", "delete")
RELATION_KINDS = ("r", "p", "v", "m", "f")  # tables, partitioned tables, views, matviews, foreign tables


def exposed_schemas(target) -> list[str]:  # type: ignore[no-untyped-def]
    return list(target.settings.api_config.get("schemas", ["public"]))


def test_every_table_has_a_matrix_file(target, db: psycopg.Connection) -> None:  # type: ignore[no-untyped-def]
    """Tables (and views) of the exposed schemas, of private, storage.objects, and
    realtime.messages (its policies are ours: who may join a private Realtime topic)."""
    schemas = [*exposed_schemas(target), "private"]
    rows = db.execute(
        "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where c.relkind = any(%s) and n.nspname = any(%s)",
        [list(RELATION_KINDS), schemas],
    ).fetchall()
    tables = {r[0] for r in rows} | {"storage.objects", "realtime.messages"}
    files = {spec.table for spec in MATRIX.tables.values()}
    assert tables - files == set(), f"tables without a file in policies/: {sorted(tables - files)}"
    assert files - tables == set(), f"files in policies/ for tables that do not exist: {sorted(files - tables)}"


def test_every_rpc_has_a_matrix_entry(db: psycopg.Connection) -> None:
    rows = db.execute(
        "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname = 'public' and p.prokind = 'f'"
    ).fetchall()
    functions = {r[0] for r in rows}
    unlisted = sorted(functions - set(MATRIX.functions))
    assert unlisted == [], f"functions of schema public without an entry in policies/functions.toml: {unlisted}"
    assert set(MATRIX.functions) - functions == set(), (
        f"entries for missing functions: {set(MATRIX.functions) - functions}"
    )


@pytest.mark.parametrize("label", sorted(MATRIX.tables))
def test_file_names_the_migration_that_implements_it(label: str) -> None:
    """One hop from an access rule to its SQL: the file names the migration that creates
    the table (for storage.objects: the one with our policies on it)."""
    spec = MATRIX.tables[label]
    path = ROOT / spec.migration
    assert spec.migration.startswith("supabase/migrations/") and path.is_file(), (
        f"{label}: migration = {spec.migration!r} is not a file of supabase/migrations"
    )
    sql = path.read_text().lower()
    on_theirs = spec.table in ("storage.objects", "realtime.messages")
    wanted = f"on {spec.table}" if on_theirs else f"create table {spec.table} ("
    assert wanted in sql, f"{label}: {spec.migration} does not implement {spec.table} ({wanted!r} not found)"


def test_every_matrix_cell_has_a_test() -> None:
    """Every cell of every file (and every function entry) is one parametrized test."""
    from tests.policies import test_functions, test_realtime, test_storage, test_tables

    tested = (
        {(label, role, op) for label, role, op in test_tables.CELLS}
        | {(f"fn:{name}", role, "execute") for name, role in test_functions.CELLS}
        | {("storage.objects", role, op) for role, op in test_storage.CELLS}
        | {("realtime.messages", role, op) for role, op in test_realtime.CELLS}
    )
    assert tested == set(COVERAGE.required), (
        f"cells without a test: {sorted(set(COVERAGE.required) - tested)[:20]}; "
        f"tests without a cell: {sorted(tested - set(COVERAGE.required))[:20]}"
    )


@pytest.mark.parametrize("label", sorted(MATRIX.tables))
def test_file_is_complete_and_consistent(target, label: str) -> None:  # type: ignore[no-untyped-def]
    spec = MATRIX.tables[label]
    assert spec.table == f"{spec.schema}.{spec.name}" and spec.key
    served = spec.schema in exposed_schemas(target) or spec.table == "storage.objects"
    assert spec.exposed == served, f"{label}: exposed = {spec.exposed}, but the Data API serves it: {served}"
    for role in ROLES:
        assert role in spec.roles, f"{label}: no [{role}] section"
        for op in OPS:
            assert op in spec.roles[role], f"{label}: [{role}] has no {op}"
            cell = spec.cell(role, op)
            for name in cell.names:
                assert name in ("all", "none") or name in spec.sets, f"{label}: [{role}] {op} names unknown set {name}"
            cols = spec.columns(role, op) if op in ("insert", "update") else None
            if cols is not None:
                assert not cell.none, f"{label}: [{role}] {op}_columns on a cell that allows nothing"
                for col in cols:
                    assert spec.has_privilege(role, op, col), (
                        f"{label}: [{role}] {op}_columns has {col}, which the role has no {op} privilege on"
                    )
            if op in ("insert", "update", "delete") and not cell.none:
                assert spec.has_privilege(role, op), f"{label}: [{role}] {op} allows rows without the privilege"
        assert spec.has_privilege(role, "select") or spec.cell(role, "select").none, (
            f"{label}: [{role}] reads rows without the SELECT privilege"
        )


def granted(db: psycopg.Connection, table: str, role: str) -> dict[str, set[str] | bool]:
    schema, name = table.split(".")
    out: dict[str, set[str] | bool] = {}
    for priv in PRIVILEGES:
        whole = db.execute("select has_table_privilege(%s, %s, %s)", [role, table, priv]).fetchone()
        if whole and whole[0]:
            out[priv] = True
            continue
        if priv == "delete":  # no column privileges for DELETE
            continue
        cols = db.execute(
            """select a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid
               join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
                 and has_column_privilege(%s, c.oid, a.attnum, %s)""",
            [schema, name, role, priv],
        ).fetchall()
        if cols:
            out[priv] = {r[0] for r in cols}
    return out


@pytest.mark.parametrize("label", sorted(MATRIX.tables))
def test_privileges_equal_the_grants(db: psycopg.Connection, label: str) -> None:
    spec = MATRIX.tables[label]
    for role in API_ROLES:
        want = parse_privileges([]) | spec.privileges.get(role, {})
        got = granted(db, spec.table, role)
        assert want == got, f"{spec.table}: [privileges] {role} = {want}, the database grants {got}"


@pytest.mark.parametrize("name", sorted(MATRIX.functions))
def test_function_entry_is_complete(name: str) -> None:
    f = MATRIX.functions[name]
    for role in ROLES:
        value = f.execute.get(role)
        assert value is not None, f"{name}: no execute.{role}"
        assert value in ("none", "empty", "own", "all") or value in f.sets, f"{name}: unknown value {value}"
        if value in f.sets or (value == "all" and f.rows):
            assert f.rows and f.key, f"{name}: a set or all over rows needs `rows` and `key`"
    assert Cell.of("none").none
