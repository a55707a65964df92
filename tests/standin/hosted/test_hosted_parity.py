"""The local baseline against the documented facts of a hosted Supabase project.

What passes locally must pass on hosted Supabase, so wherever the stand-in's baseline is
looser than a hosted project a future migration could pass here and fail in production.
Each fact below is what Supabase's published SQL makes of a new project (supabase/postgres
migrations, supautils' configuration, Storage's tenant migrations, GoTrue's migrations;
the source is named beside each). The checks act as ``postgres``, as migrations do, so
they hold on a hosted project too: point SUPABASE_DB_URL and the keys at one to compare.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from postgrest.exceptions import APIError
from supabase import Client

# -- roles ----------------------------------------------------------------------------
#: Role attributes: (can log in, inherits, superuser, bypasses RLS, may create roles).
#: supabase/postgres init scripts; 20230529180330_alter_api_roles_for_inherit (API roles
#: INHERIT); 20260821154147_revoke_createrole_from_auth_admin.
ROLE_ATTRIBUTES = {
    "anon": (False, True, False, False, False),
    "authenticated": (False, True, False, False, False),
    "service_role": (False, True, False, True, False),
    "authenticator": (True, False, False, False, False),
    "postgres": (True, True, False, True, True),
    "supabase_auth_admin": (True, False, False, False, False),
    "supabase_storage_admin": (True, False, False, False, True),
}

#: Roles `postgres` is a member of (20230306081037_grant_pg_monitor_to_postgres,
#: 20240606060239_grant_predefined_roles_to_postgres) ...
POSTGRES_MEMBER_OF = {"anon", "authenticated", "service_role", "pg_monitor", "pg_read_all_data", "pg_signal_backend"}
#: ... and the owners it is no longer a member of (20250421084701_revoke_admin_roles_from_postgres).
POSTGRES_NOT_MEMBER_OF = {"supabase_auth_admin", "supabase_storage_admin", "supabase_admin"}

#: Role settings (init scripts; 20221028101028_set_authenticator_timeout;
#: 20231130133139_set_lock_timeout_to_authenticator_role;
#: 20260413000000_fix-authenticator-session-preload-libraries: `supautils, safeupdate`).
ROLE_SETTINGS = {
    "anon": {"statement_timeout": "3s"},
    "authenticated": {"statement_timeout": "8s"},
    "authenticator": {"statement_timeout": "8s", "lock_timeout": "8s"},
}

#: Columns newer projects have (GoTrue 20250904133000, 20251007112900, 20251111201300;
#: Storage tenant migrations 0038, 0062).
NEWER_COLUMNS = {
    "auth.sessions": {"oauth_client_id", "refresh_token_hmac_key", "refresh_token_counter", "scopes"},
    "storage.buckets": {"type", "versioning_status"},
    "storage.objects": {"archived_at", "is_delete_marker", "is_versioned"},
}

STORAGE_DELETE_REFUSED = "Direct deletion from storage tables is not allowed. Use the Storage API instead."


@pytest.fixture
def tx(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """``db`` inside a transaction that is rolled back: nothing a check does stays."""
    db.autocommit = False
    try:
        yield db
    finally:
        db.rollback()
        db.autocommit = True


def role_settings(db: psycopg.Connection, role: str) -> dict[str, str]:
    row = db.execute(
        "select coalesce(s.setconfig, '{}') from pg_roles r left join pg_db_role_setting s "
        "on s.setrole = r.oid and s.setdatabase = 0 where r.rolname = %s",
        [role],
    ).fetchone()
    assert row is not None, f"role {role} is missing"
    return dict(item.split("=", 1) for item in row[0])


@pytest.mark.parametrize("role", sorted(ROLE_ATTRIBUTES))
def test_role_attributes_are_hosted_s(db, role):
    row = db.execute(
        "select rolcanlogin, rolinherit, rolsuper, rolbypassrls, rolcreaterole from pg_roles where rolname = %s",
        [role],
    ).fetchone()
    assert row == ROLE_ATTRIBUTES[role], f"{role}: (login, inherit, super, bypassrls, createrole) = {row}"


def test_postgres_memberships_are_hosted_s(db):
    rows = db.execute(
        "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid "
        "join pg_roles u on u.oid = m.member where u.rolname = 'postgres'"
    ).fetchall()
    member_of = {r[0] for r in rows}
    assert member_of >= POSTGRES_MEMBER_OF, f"missing: {POSTGRES_MEMBER_OF - member_of}"
    assert member_of & POSTGRES_NOT_MEMBER_OF == set(), f"hosted revoked: {member_of & POSTGRES_NOT_MEMBER_OF}"


def test_postgres_administers_the_roles_a_project_builds_on_as_hosted(db):
    """A hosted dump: ``GRANT anon|authenticated|authenticator TO postgres WITH ADMIN OPTION``;
    on PostgreSQL 16+ that is what lets a migration grant ``authenticated`` to a role of its
    own and that role to ``authenticator``."""
    rows = db.execute(
        "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid "
        "join pg_roles u on u.oid = m.member where u.rolname = 'postgres' and m.admin_option"
    ).fetchall()
    assert {r[0] for r in rows} >= {"anon", "authenticated", "authenticator"}


def test_the_api_roles_are_reached_only_through_authenticator(db):
    rows = db.execute(
        "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid "
        "join pg_roles u on u.oid = m.member where u.rolname = 'authenticator'"
    ).fetchall()
    assert {r[0] for r in rows} >= {"anon", "authenticated", "service_role"}


@pytest.mark.parametrize("role", sorted(ROLE_SETTINGS))
def test_role_settings_are_hosted_s(db, role):
    settings = role_settings(db, role)
    for name, value in ROLE_SETTINGS[role].items():
        assert settings.get(name) == value, f"{role}: {name} = {settings.get(name)!r}, hosted has {value!r}"


def test_authenticator_preloads_safeupdate(db):
    libraries = role_settings(db, "authenticator").get("session_preload_libraries", "")
    assert "safeupdate" in [part.strip().strip('"') for part in libraries.split(",")], libraries


def test_an_unfiltered_delete_through_the_data_api_is_refused_by_safeupdate(service: Client):
    """On a table the service role may only read: without safeupdate this is a 42501."""
    with pytest.raises(APIError) as raised:
        service.table("orders").delete().execute()
    assert (raised.value.code, raised.value.message) == ("21000", "DELETE requires a WHERE clause")


def test_postgres_reads_server_settings_as_pg_monitor_allows(db):
    row = db.execute("select current_setting('shared_preload_libraries')").fetchone()
    assert row is not None and "pg_cron" in row[0]


@pytest.mark.parametrize("table", sorted(NEWER_COLUMNS))
def test_newer_hosted_columns_exist(db, table):
    schema, name = table.split(".")
    rows = db.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        [schema, name],
    ).fetchall()
    missing = NEWER_COLUMNS[table] - {r[0] for r in rows}
    assert missing == set(), f"{table} lacks {missing}"


# -- storage ----------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["storage.objects", "storage.buckets"])
def test_a_plain_sql_delete_of_storage_rows_is_refused(tx, table):
    """Storage 0055-prevent-direct-deletes: a statement trigger raises 42501."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as raised:
        tx.execute(f"delete from {table} where false")
    assert raised.value.diag.message_primary == STORAGE_DELETE_REFUSED


@pytest.mark.parametrize("table", ["storage.objects", "storage.buckets"])
def test_sql_that_sets_allow_delete_query_may_delete_storage_rows(tx, table):
    """What the Storage API does for each request, and what a job deleting rows must do."""
    tx.execute("select set_config('storage.allow_delete_query', 'true', true)")
    tx.execute(f"delete from {table} where false")


def test_postgres_manages_policies_on_storage_objects_and_nothing_else_of_it(tx):
    """supautils.policy_grants: policies yes; an index (like altering or re-owning) no."""
    tx.execute("create policy parity_probe on storage.objects for select to authenticated using (false)")
    tx.execute("alter policy parity_probe on storage.objects using (true)")
    tx.execute("drop policy parity_probe on storage.objects")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        tx.execute("create index parity_probe on storage.objects (owner_id)")


def test_postgres_cannot_alter_storage_tables(tx):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        tx.execute("alter table storage.objects add column parity_probe text")


# -- extensions -----------------------------------------------------------------------
def test_pg_cron_is_the_privileged_extension_hosted_makes_it(db):
    """Created by `postgres` through supautils: owned by supabase_admin; postgres may read
    cron.job but change jobs only through cron.schedule/unschedule."""
    owner = db.execute(
        "select r.rolname from pg_extension e join pg_roles r on r.oid = e.extowner where e.extname = 'pg_cron'"
    ).fetchone()
    assert owner == ("supabase_admin",)
    rights = db.execute(
        "select has_table_privilege('cron.job', 'select'), has_table_privilege('cron.job', 'insert'), "
        "has_table_privilege('cron.job', 'update'), has_table_privilege('cron.job', 'delete'), "
        "has_table_privilege('cron.job_run_details', 'trigger')"
    ).fetchone()
    assert rights == (True, False, False, False, False)


def test_postgres_drops_triggers_it_made_on_storage_objects(tx):
    """supautils.drop_trigger_grants: `postgres` holds TRIGGER on storage.objects and may
    drop triggers there, though it does not own the table."""
    tx.execute("create function pg_temp.parity_probe() returns trigger language plpgsql as $$ begin return new; end $$")
    tx.execute(
        "create trigger parity_probe before insert on storage.objects "
        "for each row execute function pg_temp.parity_probe()"
    )
    tx.execute("drop trigger parity_probe on storage.objects")
