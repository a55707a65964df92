"""The migrations are meant for PostgreSQL 15 (the local stack) and 17 (new hosted
projects): nothing that 16 or 17 removed or changed may creep in (``docs/database.md``,
"PostgreSQL versions")."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).parents[2]
MIGRATIONS = sorted((ROOT / "supabase" / "migrations").glob("*.sql"))

#: Settings, objects and columns PostgreSQL 16 or 17 removed or renamed.
REMOVED = {
    r"\bvacuum_defer_cleanup_age\b": "setting removed in 16",
    r"\bpromote_trigger_file\b": "setting removed in 16",
    r"\bold_snapshot_threshold\b": "setting removed in 17",
    r"\bdb_user_namespace\b": "setting removed in 17",
    r"\btrace_recovery_messages\b": "setting removed in 17",
    r"\badminpack\b": "extension removed in 17",
    r"\bpg_stat_bgwriter\b": "checkpoint and backend columns moved to pg_stat_checkpointer/pg_stat_io in 17",
    r"\bblk_(read|write)_time\b": "pg_stat_statements columns renamed shared_blk_*_time in 17",
    r"\bon\s+select\s+do\s+instead\b": "views made by hand with an ON SELECT rule are refused from 16",
    r"\bpg_stat_get_backend_(pid|dbid|userid)\b": "backend ids are no longer positions from 17",
}


def sql_without_comments_and_strings(path: Path) -> str:
    text = path.read_text().lower()
    text = re.sub(r"--[^\n]*", " ", text)
    return re.sub(r"'(?:[^']|'')*'", "''", text)


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda p: p.name)
def test_nothing_16_or_17_removed(path):
    sql = sql_without_comments_and_strings(path)
    found = [f"{m.group(0)!r}: {why}" for pattern, why in REMOVED.items() for m in re.finditer(pattern, sql)]
    assert found == []


#: Roles hosted `postgres` holds WITH ADMIN OPTION (a hosted dump: ``GRANT anon|authenticated|
#: authenticator TO postgres WITH ADMIN OPTION``); it also administers every role it creates.
HOSTED_ADMIN_OF = {"anon", "authenticated", "authenticator"}


def created_roles() -> set[str]:
    return {
        name
        for path in MIGRATIONS
        for name in re.findall(r"\bcreate role (\w+)", sql_without_comments_and_strings(path))
    }


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda p: p.name)
def test_role_membership_grants_only_of_roles_postgres_administers(path):
    """``GRANT role TO role`` needs ADMIN OPTION on the granted role from 16 on: hosted
    `postgres` has it only for the roles of HOSTED_ADMIN_OF and the roles it creates."""
    sql = sql_without_comments_and_strings(path)
    grants = [g for g in re.findall(r"\bgrant\b[^;]*?\bto\b", sql) if not re.search(r"\bon\b", g)]
    allowed = HOSTED_ADMIN_OF | created_roles()
    granted = [(g, re.findall(r"\w+", g)[1:-1]) for g in grants]
    assert [g for g, roles in granted if not set(roles) <= allowed] == []


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda p: p.name)
def test_no_literal_16_reads_differently(path):
    """``1_000`` and ``0x1f`` are numbers from 16 on, a number and a column alias before."""
    sql = sql_without_comments_and_strings(path)
    sql = re.sub(r"\$[a-z_]*\$", " ", sql)
    assert re.findall(r"(?<![\w.$])(?:\d+_\d|0[xob][0-9a-f])", sql) == []


def test_maintenance_runs_no_function_that_needs_the_search_path(db: psycopg.Connection):
    """From 17, VACUUM, ANALYZE, CREATE INDEX, REINDEX, CLUSTER and REFRESH MATERIALIZED VIEW
    run with ``search_path = pg_catalog, pg_temp``: a function of ours in an index
    expression, a partial-index predicate or a materialized view must set its own."""
    rows = db.execute(
        """
        select distinct p.oid::regprocedure::text
        from pg_depend as d
        join pg_class as c on d.classid = 'pg_class'::regclass and c.oid = d.objid and c.relkind in ('i', 'I', 'm')
        join pg_proc as p on d.refclassid = 'pg_proc'::regclass and p.oid = d.refobjid
        join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname not in ('pg_catalog', 'information_schema')
          and not exists (
              select 1 from pg_depend as e
              where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e'
          )
          and not exists (select 1 from unnest(p.proconfig) as s where s like 'search_path=%')
        """
    ).fetchall()
    assert rows == []


def test_config_names_the_major_version_of_hosted_projects():
    with (ROOT / "supabase" / "config.toml").open("rb") as fh:
        config = tomllib.load(fh)
    assert config["db"]["major_version"] == 17
