"""Starting, stopping and resetting one instance of the local stack."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from wats.functions.manager import TEST_FUNCTIONS_ENV, function_folders
from wats.settings import Settings
from wats.stack import ports
from wats.stack.postgres import Cluster, prune_orphans


class StackError(RuntimeError):
    pass


def pid_file(settings: Settings) -> Path:
    return settings.home / "stack.pid"


def daemon_pid(settings: Settings) -> int | None:
    path = pid_file(settings)
    if not path.is_file():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, PermissionError):
        return None


def supabase_cli(settings: Settings) -> Path:
    cli = settings.bin_dir / "supabase"
    if not cli.exists():
        raise StackError(f"{cli} is missing: run `npm ci` in {settings.root} (./scripts/wats does it for you)")
    return cli


def db_url_for_cli(settings: Settings) -> str:
    return settings.db_url() + "?sslmode=disable"


def push_migrations(settings: Settings, *, quiet: bool = False) -> None:
    """Apply ``supabase/migrations`` with the real Supabase CLI, as production deploys do.

    ``WATS_SKIP_MIGRATIONS=1`` leaves the database at the baseline (for working on the
    stack itself while migrations are being edited)."""
    if os.environ.get("WATS_SKIP_MIGRATIONS") == "1":
        return
    proc = subprocess.run(
        [
            str(supabase_cli(settings)),
            "db",
            "push",
            "--db-url",
            db_url_for_cli(settings),
            "--include-all",
            "--yes",
            "--workdir",
            str(settings.root),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, SUPABASE_TELEMETRY_DISABLED="1", DO_NOT_TRACK="1"),
    )
    if proc.returncode != 0:
        raise StackError(f"supabase db push failed:\n{proc.stdout}\n{proc.stderr}")
    if not quiet:
        for line in proc.stdout.splitlines():
            if line.startswith("Applying migration"):
                print(line)


def database_ready(settings: Settings) -> bool:
    """True once the baseline has been applied (the auth schema exists)."""
    try:
        with psycopg.connect(settings.superuser_dsn, connect_timeout=3) as conn:
            row = conn.execute("select to_regnamespace('auth') is not null").fetchone()
            return bool(row and row[0])
    except psycopg.OperationalError:
        return False


def check_ports(settings: Settings, command: str = "start", extra_env: dict[str, str] | None = None) -> None:
    """Refuse to start when a port this instance needs (and does not hold already) is taken,
    before anything is started, in one line (see :mod:`wats.stack.ports`)."""
    test_functions = (extra_env or {}).get(TEST_FUNCTIONS_ENV)
    wanted: list[ports.Port] = []
    if not Cluster(settings).is_running():
        wanted.append(ports.database_port(settings))
    if not daemon_pid(settings):
        wanted += ports.service_ports(settings, test_functions)
    busy = ports.taken(wanted)
    if busy:
        count = len(function_folders(settings, test_functions))
        raise StackError(ports.busy_message(settings, busy, command, count))


def start_database(settings: Settings) -> Cluster:
    prune_orphans()
    cluster = Cluster(settings)
    if not cluster.is_running():
        busy = ports.taken([ports.database_port(settings)])
        if busy:
            raise StackError(ports.busy_message(settings, busy, "start", len(function_folders(settings))))
    if not cluster.exists():
        cluster.init()
    cluster.start()
    return cluster


def start_services(settings: Settings, *, timeout: float = 120.0, extra_env: dict[str, str] | None = None) -> None:
    if daemon_pid(settings):
        return
    check_ports(settings, extra_env=extra_env)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.log_dir / "stack.log"
    log_start = log_path.stat().st_size if log_path.exists() else 0
    log = log_path.open("ab")
    env = dict(os.environ, WATS_INSTANCE=settings.instance, PYTHONUNBUFFERED="1", **(extra_env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wats.stack.daemon", "--instance", settings.instance],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
        cwd=str(settings.root),
    )
    pid_file(settings).write_text(str(proc.pid))
    try:
        wait_healthy(settings, proc, timeout, log_start)
    except StackError:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
        pid_file(settings).unlink(missing_ok=True)
        raise


def daemon_error(settings: Settings, since: int) -> str | None:
    """The daemon's own one-line reason for exiting (an ``error: …`` line it logged)."""
    try:
        with (settings.log_dir / "stack.log").open("rb") as fh:
            fh.seek(since)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return errors[-1] if errors else None


def wait_healthy(settings: Settings, proc: subprocess.Popen[bytes] | None, timeout: float, log_start: int = 0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            reason = daemon_error(settings, log_start)
            if reason:
                raise StackError(reason)
            raise StackError(f"the stack exited with {proc.returncode}; see {settings.log_dir / 'stack.log'}")
        try:
            r = httpx.get(f"{settings.api_url}/_wats/health", timeout=2)
            body = r.json()
            last = str(body)
            if r.status_code == 200 and body.get("rest") and body.get("functions"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise StackError(f"the stack did not become ready in {timeout:.0f}s (last health: {last or 'no answer'})")


def stop_services(settings: Settings) -> None:
    pid = daemon_pid(settings)
    if pid is None:
        pid_file(settings).unlink(missing_ok=True)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file(settings).unlink(missing_ok=True)


def reset_database(settings: Settings) -> None:
    """Recreate the database: Supabase baseline, then our migrations with the Supabase CLI."""
    cluster = start_database(settings)
    cluster.recreate_database()
    push_migrations(settings)


def stop(settings: Settings) -> None:
    stop_services(settings)
    cluster = Cluster(settings)
    if cluster.exists():
        cluster.stop()
    prune_orphans()
