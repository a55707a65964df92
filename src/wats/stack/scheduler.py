"""The local stand-in for the part of Supabase Cron this machine lacks.

The schedule is the table ``private.scheduled_jobs`` (migration
``20261127001200_payment_schedules.sql``). On a hosted project pg_cron runs every row as job
``wats-<name>``: an SQL job as ``postgres``, an Edge Function job through pg_net with the
service role key. Locally pg_cron runs the SQL jobs when the machine has it, but there is
no pg_net, so this loop calls each Edge Function job exactly as the cron job does (POST
``{}`` with the service role key) on the row's schedule, and runs the SQL jobs as well
when pg_cron is missing. The rows are read when the stack starts (``wats restart`` reads
them again).

``WATS_RECONCILE_INTERVAL`` (seconds) replaces every job's schedule by that interval;
``0`` turns the local scheduler off. ``WATS_PAUSED_JOBS`` (names, comma-separated) pauses
jobs on this instance: the loop skips them and their pg_cron jobs are made inactive (the
test instance pauses the jobs its suites run by hand, so the clock never races a test).
Where pg_cron is installed its ``active`` flag is the switch, as on a hosted project: the loop
skips an Edge Function job whose ``wats-<name>`` cron job is inactive when it falls due (so
``wats bench rls`` can pause every job while it measures).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg

from wats.settings import Settings

log = logging.getLogger("wats.scheduler")

FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))  # minute hour day month weekday


@dataclass(frozen=True)
class Schedule:
    """A pg_cron schedule: every ``seconds``, or the minutes matching five cron fields (UTC)."""

    seconds: int | None = None
    fields: tuple[frozenset[int], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``'N seconds'`` or five fields of numbers, ``*``, ``a-b``, ``x/step`` and lists,
        as pg_cron reads them (weekday 7 is Sunday too); ValueError otherwise."""
        match = re.fullmatch(r"\s*(\d{1,2}) seconds?\s*", text)
        if match and 1 <= int(match.group(1)) <= 59:
            return cls(seconds=int(match.group(1)))
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(f"not a pg_cron schedule: {text!r}")
        fields = tuple(_field(part, lo, hi) for part, (lo, hi) in zip(parts, FIELD_RANGES, strict=True))
        return cls(fields=fields)

    def matches(self, moment: dt.datetime) -> bool:
        """True when a cron schedule fires in the minute of ``moment`` (UTC)."""
        minute, hour, day, month, weekday = self.fields
        return (
            moment.minute in minute
            and moment.hour in hour
            and moment.day in day
            and moment.month in month
            and moment.isoweekday() % 7 in weekday
        )


def _field(text: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = int(a), int(b)
        else:
            first = int(base)
            last = hi if step_text else first
        top = 7 if hi == 6 else hi  # weekday 7 is Sunday, as 0
        if not (lo <= first <= last <= top) or step < 1:
            raise ValueError(f"cron field {text!r} out of range {lo}-{hi}")
        values.update(v % 7 if hi == 6 else v for v in range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Job:
    """One row of ``private.scheduled_jobs``."""

    name: str
    schedule: Schedule
    sql_command: str | None
    edge_function: str | None


async def load_jobs(settings: Settings) -> tuple[list[Job], bool]:
    """The scheduled jobs, and whether pg_cron runs the SQL ones itself."""
    async with await psycopg.AsyncConnection.connect(settings.db_url(), autocommit=True) as conn:
        cursor = await conn.execute(
            "select name, schedule, sql_command, edge_function from private.scheduled_jobs order by name"
        )
        rows = await cursor.fetchall()
        cursor = await conn.execute("select exists (select 1 from pg_extension where extname = 'pg_cron')")
        found = await cursor.fetchone()
    jobs = [Job(name, Schedule.parse(schedule), sql, function) for name, schedule, sql, function in rows]
    return jobs, bool(found and found[0])


def paused_jobs() -> list[str]:
    """The job names ``WATS_PAUSED_JOBS`` pauses on this instance."""
    return [name.strip() for name in os.environ.get("WATS_PAUSED_JOBS", "").split(",") if name.strip()]


#: Switches each ``wats-*`` job whose ``active`` flag differs from the one wanted, the way a
#: hosted project's ``postgres`` may: through ``cron.alter_job`` on the jobs it owns (it has no
#: UPDATE on ``cron.job``).
ALTER_JOBS_SQL = (
    "select cron.alter_job(j.jobid, active := not (substr(j.jobname, 6) = any(%(paused)s))) "
    "from cron.job as j where j.jobname like 'wats-%%' "
    "and j.active = (substr(j.jobname, 6) = any(%(paused)s))"
)


async def pause_cron_jobs(settings: Settings, paused: list[str]) -> None:
    """pg_cron runs exactly the ``wats-*`` jobs not paused here."""
    async with await psycopg.AsyncConnection.connect(settings.db_url(), autocommit=True) as conn:
        await conn.execute(ALTER_JOBS_SQL, {"paused": paused})


@contextlib.contextmanager
def every_job_paused(dsn: str, settle_seconds: float = 60.0) -> Iterator[list[str]]:
    """Every active ``wats-*`` pg_cron job made inactive for the block (after the runs already
    under way finish, for at most ``settle_seconds``), then active again; yields their names.
    The local loop follows the same flags, so nothing scheduled runs meanwhile. ``dsn``
    connects as ``postgres``, the jobs' owner."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute("select exists (select 1 from pg_extension where extname = 'pg_cron')").fetchone()
        if not (found and found[0]):
            yield []
            return
        rows = conn.execute(
            "select jobid, substr(jobname, 6), active from cron.job where jobname like 'wats-%'"
        ).fetchall()
        active = [str(name) for _, name, on in rows if on]
        conn.execute(ALTER_JOBS_SQL, {"paused": [str(name) for _, name, _ in rows]})
        deadline = time.monotonic() + settle_seconds
        while time.monotonic() < deadline and conn.execute(
            "select exists (select 1 from cron.job_run_details where jobid = any(%s) "
            "and status in ('starting', 'running'))",
            [[jobid for jobid, _, on in rows if on]],
        ).fetchone() == (True,):
            time.sleep(0.5)
        try:
            yield [f"wats-{name}" for name in active]
        finally:
            conn.execute(ALTER_JOBS_SQL, {"paused": [str(name) for _, name, on in rows if not on]})


async def cron_job_active(settings: Settings, name: str) -> bool:
    """Whether pg_cron's ``wats-<name>`` job is active (a job pg_cron does not list is)."""
    async with await psycopg.AsyncConnection.connect(settings.db_url(), autocommit=True) as conn:
        cursor = await conn.execute("select active from cron.job where jobname = %s", [f"wats-{name}"])
        row = await cursor.fetchone()
    return row is None or bool(row[0])


async def run_job(settings: Settings, job: Job, client: httpx.AsyncClient, pg_cron: bool = False) -> None:
    """Run ``job`` once, as pg_cron (SQL) or pg_net (Edge Function) would; with ``pg_cron``,
    only while its cron job is active."""
    try:
        if pg_cron and not await cron_job_active(settings, job.name):
            return
        if job.edge_function is not None:
            response = await client.post(
                f"{settings.api_url}/functions/v1/{job.edge_function}",
                headers={"Authorization": f"Bearer {settings.service_role_key}", "Content-Type": "application/json"},
                content=b"{}",
            )
            if response.status_code != 200:
                log.warning("%s answered %s: %s", job.name, response.status_code, response.text[:500])
            elif response.text not in ("", "{}"):
                log.info("%s: %s", job.name, response.text[:500])
        elif job.sql_command is not None:
            async with await psycopg.AsyncConnection.connect(settings.db_url(), autocommit=True) as conn:
                await conn.execute(job.sql_command.encode())
    except (httpx.HTTPError, psycopg.Error) as exc:
        log.warning("%s failed: %s", job.name, exc)


async def run_every(settings: Settings, job: Job, seconds: float, client: httpx.AsyncClient, pg_cron: bool) -> None:
    while True:
        await asyncio.sleep(seconds)
        await run_job(settings, job, client, pg_cron)


async def run_on_schedule(settings: Settings, job: Job, client: httpx.AsyncClient, pg_cron: bool) -> None:
    if job.schedule.seconds is not None:
        await run_every(settings, job, job.schedule.seconds, client, pg_cron)
        return
    while True:
        now = dt.datetime.now(dt.UTC)
        await asyncio.sleep(60 - now.second - now.microsecond / 1e6)
        if job.schedule.matches(dt.datetime.now(dt.UTC)):
            await run_job(settings, job, client, pg_cron)


async def run(settings: Settings) -> None:
    override = os.environ.get("WATS_RECONCILE_INTERVAL") or None
    if override is not None and float(override) <= 0:
        return
    try:
        jobs, pg_cron = await load_jobs(settings)
    except (psycopg.Error, ValueError) as exc:
        log.warning("no local schedule: %s", exc)
        return
    paused = paused_jobs()
    if pg_cron:
        try:
            await pause_cron_jobs(settings, paused)
        except psycopg.Error as exc:
            log.warning("pg_cron jobs not paused: %s", exc)
    wanted = [job for job in jobs if (job.edge_function is not None or not pg_cron) and job.name not in paused]
    async with httpx.AsyncClient(timeout=httpx.Timeout(90.0, connect=5.0)) as client, asyncio.TaskGroup() as group:
        for job in wanted:
            if override is not None:
                group.create_task(run_every(settings, job, float(override), client, pg_cron))
            else:
                group.create_task(run_on_schedule(settings, job, client, pg_cron))
