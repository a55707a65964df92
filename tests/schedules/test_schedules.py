"""The schedule (``private.scheduled_jobs``) as hosted projects run it: pg_cron created by the
migration as ``postgres``, a cron job per row, Edge Function jobs that wait harmlessly for
their Vault secrets and then call the function through pg_net; and the local scheduler
reading the same rows."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from wats.stack.scheduler import ALTER_JOBS_SQL, Schedule, every_job_paused

MIGRATION = Path(__file__).parents[2] / "supabase" / "migrations" / "20261127001200_payment_schedules.sql"


@pytest.fixture
def tx(db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """``db`` (``postgres``) in a transaction that is rolled back."""
    db.autocommit = False
    try:
        yield db
    finally:
        db.rollback()
        db.autocommit = True


def cron_jobs(db: psycopg.Connection) -> dict[str, tuple[str, str, str]]:
    rows = db.execute("select jobname, schedule, command, username from cron.job where jobname like 'wats-%'")
    return {name: (schedule, command, user) for name, schedule, command, user in rows.fetchall()}


def expected_jobs(db: psycopg.Connection) -> dict[str, tuple[str, str, str]]:
    rows = db.execute(
        "select 'wats-' || j.name, j.schedule, private.scheduled_job_command(j), 'postgres' "
        "from private.scheduled_jobs as j"
    )
    return {name: (schedule, command, user) for name, schedule, command, user in rows.fetchall()}


def test_every_scheduled_job_is_a_cron_job_of_postgres(db):
    jobs = expected_jobs(db)
    assert {"wats-expire-overdue-payments", "wats-payment-reconcile"} <= set(jobs)
    assert cron_jobs(db) == jobs


def test_the_migration_creates_pg_cron_as_postgres_the_way_hosted_runs_it(tx):
    """The migration's own create step, run again as `postgres` on a database without
    pg_cron: supautils (here pgextwlist) lets it through, the custom script grants what
    hosted grants, and the jobs come back from the table."""
    block = re.search(r"^do \$migration\$.*?^\$migration\$;", MIGRATION.read_text(), re.S | re.M)
    assert block is not None
    tx.execute("drop extension pg_cron")
    tx.execute(block.group(0))
    owner = tx.execute(
        "select r.rolname from pg_extension e join pg_roles r on r.oid = e.extowner where e.extname = 'pg_cron'"
    ).fetchone()
    assert owner == ("supabase_admin",)
    assert tx.execute("select has_table_privilege('cron.job', 'insert')").fetchone() == (False,)
    assert cron_jobs(tx) == {}
    assert tx.execute("select private.schedule_jobs()").fetchone() == (len(expected_jobs(tx)),)
    assert cron_jobs(tx) == expected_jobs(tx)


def test_a_new_row_is_scheduled_and_a_removed_one_unscheduled(tx):
    tx.execute(
        "insert into private.scheduled_jobs (name, schedule, sql_command, description) "
        "values ('probe-job', '0 3 * * *', 'select 1', 'probe')"
    )
    assert cron_jobs(tx)["wats-probe-job"] == ("0 3 * * *", "select 1", "postgres")
    tx.execute("update private.scheduled_jobs set schedule = '*/5 * * * *' where name = 'probe-job'")
    assert cron_jobs(tx)["wats-probe-job"][0] == "*/5 * * * *"
    tx.execute("delete from private.scheduled_jobs where name = 'probe-job'")
    assert "wats-probe-job" not in cron_jobs(tx)


@pytest.mark.parametrize(
    "row",
    [
        "('Bad Name', '* * * * *', 'select 1', null)",
        "('no-action', '* * * * *', null, null)",
        "('two-actions', '* * * * *', 'select 1', 'payment-reconcile')",
        "('bad-schedule', 'every minute', 'select 1', null)",
    ],
)
def test_a_job_row_is_checked(tx, row):
    with pytest.raises(psycopg.errors.CheckViolation):
        tx.execute(
            f"insert into private.scheduled_jobs (name, schedule, sql_command, edge_function, description) "
            f"select *, 'x' from (values {row}) as v"
        )


def test_an_edge_function_job_skips_where_pg_net_or_vault_is_missing(db):
    """This machine has neither: the job does nothing and says so in the log."""
    if db.execute("select to_regnamespace('net') is not null or to_regnamespace('vault') is not null").fetchone() == (
        True,
    ):
        pytest.fail("this test expects a database without pg_net and Vault (the local stack)")
    assert db.execute("select private.invoke_edge_function('payment-reconcile')").fetchone() == (None,)


FAKE_PG_NET_AND_VAULT = """
create schema vault;
create table vault.secrets_for_test (name text, decrypted_secret text);
create view vault.decrypted_secrets as select name, decrypted_secret from vault.secrets_for_test;
create schema net;
create table net.calls_for_test (id bigint generated always as identity, url text, body jsonb, headers jsonb,
    timeout_milliseconds integer);
create function net.http_post(
    url text, body jsonb default '{}', params jsonb default '{}',
    headers jsonb default '{"Content-Type": "application/json"}', timeout_milliseconds integer default 5000
) returns bigint language sql as $$
    insert into net.calls_for_test (url, body, headers, timeout_milliseconds)
    values (url, body, headers, timeout_milliseconds) returning id
$$;
"""


def test_an_edge_function_job_waits_for_both_vault_secrets_then_posts_through_pg_net(tx):
    """pg_net and Vault stand-ins with their hosted signatures (the real ones cannot be
    installed here), in a transaction that is rolled back."""
    tx.execute(FAKE_PG_NET_AND_VAULT)
    call = "select private.invoke_edge_function('payment-reconcile')"
    assert tx.execute(call).fetchone() == (None,)
    tx.execute("insert into vault.secrets_for_test values ('wats_project_url', 'https://ref.supabase.co/')")
    assert tx.execute(call).fetchone() == (None,)
    tx.execute("insert into vault.secrets_for_test values ('wats_service_role_key', 'service-key')")
    request = tx.execute(call).fetchone()
    assert request is not None and request[0] is not None
    row = tx.execute("select url, body, headers, timeout_milliseconds from net.calls_for_test").fetchone()
    assert row == (
        "https://ref.supabase.co/functions/v1/payment-reconcile",
        {},
        {"Content-Type": "application/json", "Authorization": "Bearer service-key"},
        60000,
    )


def test_the_work_after_payment_runs_on_the_clock(db):
    jobs = {
        name: (schedule, sql, function)
        for name, schedule, sql, function in db.execute(
            "select name, schedule, sql_command, edge_function from private.scheduled_jobs"
        ).fetchall()
    }
    assert jobs["instalment-push"] == ("*/15 * * * *", None, "instalment-push")
    assert jobs["refund-execute"] == ("* * * * *", None, "refund-execute")
    assert jobs["payout-execute"] == ("* * * * *", None, "payout-execute")
    assert jobs["complete-orders"][1:] == ("select public.complete_orders()", None)
    assert jobs["run-payouts"] == ("0 3 * * 1", "select public.run_payouts()", None)  # Monday 06:00 EAT
    assert jobs["expire-points"][1:] == ("select public.expire_points()", None)
    assert Schedule.parse(jobs["complete-orders"][0]).matches(at(5, 14))
    assert Schedule.parse(jobs["expire-points"][0]).matches(at(30, 0))


def test_every_sql_job_runs_as_postgres(tx):
    for name, sql in tx.execute(
        "select name, sql_command from private.scheduled_jobs where sql_command is not null order by name"
    ).fetchall():
        tx.execute("savepoint job")
        try:
            tx.execute(sql)
        except psycopg.Error as exc:
            pytest.fail(f"job {name} fails: {exc}")
        tx.execute("rollback to savepoint job")


def test_the_local_scheduler_can_run_every_job(db):
    for (schedule,) in db.execute("select schedule from private.scheduled_jobs").fetchall():
        Schedule.parse(schedule)


# -- the local scheduler's reading of pg_cron schedules ---------------------------------
def at(minute: int, hour: int = 12, day: int = 3) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC)  # 2026-12-03 is a Thursday


@pytest.mark.parametrize(
    ("text", "fires", "silent"),
    [
        ("* * * * *", [at(0), at(37)], []),
        ("*/15 * * * *", [at(0), at(45)], [at(7)]),
        ("5 3 * * *", [at(5, 3)], [at(5, 4), at(6, 3)]),
        ("0 9-17 * * 1-5", [at(0, 9), at(0, 17)], [at(0, 8), at(0, 12, day=6)]),
        ("0 0 * * 0", [at(0, 0, day=6)], [at(0, 0), at(0, 0, day=7)]),
        ("0 0 * * 7", [at(0, 0, day=6)], [at(0, 0)]),
    ],
)
def test_cron_schedules_fire_in_the_minutes_pg_cron_would(text, fires, silent):
    schedule = Schedule.parse(text)
    assert all(schedule.matches(m) for m in fires)
    assert not any(schedule.matches(m) for m in silent)


def test_second_schedules_are_intervals():
    assert Schedule.parse("30 seconds").seconds == 30


@pytest.mark.parametrize("text", ["every minute", "* * * *", "60 * * * *", "0 24 * * *", "90 seconds"])
def test_schedules_pg_cron_would_refuse_are_refused(text):
    with pytest.raises(ValueError):
        Schedule.parse(text)


# -- pausing jobs -----------------------------------------------------------------------


def active_flags(db: psycopg.Connection) -> dict[str, bool]:
    rows = db.execute("select substr(jobname, 6), active from cron.job where jobname like 'wats-%'").fetchall()
    return {name: bool(active) for name, active in rows}


def test_postgres_pauses_exactly_the_jobs_named_through_cron_alter_job(db):
    """As on a hosted project, ``postgres`` has no UPDATE on ``cron.job``: the local scheduler
    switches jobs with ``cron.alter_job``, and an instance's paused jobs are the inactive ones."""
    before = active_flags(db)
    try:
        db.execute(ALTER_JOBS_SQL, {"paused": ["evaluate-alerts", "refund-execute"]})
        assert {name for name, on in active_flags(db).items() if not on} == {"evaluate-alerts", "refund-execute"}
    finally:
        db.execute(ALTER_JOBS_SQL, {"paused": [name for name, on in before.items() if not on]})
    assert active_flags(db) == before


def test_a_benchmark_pauses_every_active_job_and_resumes_only_those(target, db):
    before = active_flags(db)
    paused_before = [name for name, on in before.items() if not on]
    try:
        db.execute(ALTER_JOBS_SQL, {"paused": [*paused_before, "evaluate-alerts"]})  # one more paused
        arranged = active_flags(db)
        with every_job_paused(target.db_url, settle_seconds=0) as paused:
            assert active_flags(db) == dict.fromkeys(before, False)
            assert sorted(paused) == sorted(f"wats-{name}" for name, on in arranged.items() if on)
        assert active_flags(db) == arranged
        assert arranged["evaluate-alerts"] is False and any(arranged.values())
    finally:
        db.execute(ALTER_JOBS_SQL, {"paused": paused_before})
    assert active_flags(db) == before
