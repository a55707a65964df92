"""Starting, stopping and resetting one instance: its cluster, its migrations (with the
real Supabase CLI, as production deploys them) and the background process that serves the
APIs. The caller decides how that process is started (``daemon_argv``): it runs a
:class:`~supabase_standin.stack.Stack` with the caller's extensions."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import psycopg

from supabase_standin.cluster import Cluster, prune_orphans
from supabase_standin.ports import Port, PortsBusy, taken
from supabase_standin.stack import StackConfig


class StackError(RuntimeError):
    """The stack could not be started or prepared (the reason is in the message)."""


def daemon_pid(config: StackConfig) -> int | None:
    path = config.pid_file
    if not path.is_file():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, PermissionError):
        return None


def supabase_cli(config: StackConfig) -> Path:
    cli = config.tools_dir / "supabase"
    if not cli.exists():
        raise StackError(f"{cli} is missing: install the Supabase CLI there (npm package `supabase`)")
    return cli


def push_migrations(config: StackConfig, *, quiet: bool = False) -> None:
    """Apply ``supabase/migrations`` with the real Supabase CLI, as production deploys do
    (nothing when the config says to stay at the baseline)."""
    if config.skip_migrations:
        return
    proc = subprocess.run(
        [
            str(supabase_cli(config)),
            "db",
            "push",
            "--db-url",
            config.db_url() + "?sslmode=disable",
            "--include-all",
            "--yes",
            "--workdir",
            str(config.project_dir),
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


def database_ready(config: StackConfig) -> bool:
    """True once the baseline has been applied (the auth schema exists)."""
    try:
        with psycopg.connect(config.superuser_dsn, connect_timeout=3) as conn:
            row = conn.execute("select to_regnamespace('auth') is not null").fetchone()
            return bool(row and row[0])
    except psycopg.OperationalError:
        return False


def check_ports(config: StackConfig, service_ports: Sequence[Port]) -> None:
    """Raise :class:`PortsBusy` when a port the instance needs (and does not hold already)
    is taken, before anything is started."""
    wanted: list[Port] = []
    if not Cluster(config).is_running():
        wanted.append(config.database_port())
    if not daemon_pid(config):
        wanted += service_ports
    busy = taken(wanted)
    if busy:
        raise PortsBusy(busy)


def start_database(config: StackConfig) -> Cluster:
    if config.cluster_root is not None:
        prune_orphans(config.cluster_root, config.pg_bindir)
    cluster = Cluster(config)
    if not cluster.is_running():
        busy = taken([config.database_port()])
        if busy:
            raise PortsBusy(busy)
    if not cluster.exists():
        cluster.init()
    cluster.start()
    return cluster


def start_daemon(config: StackConfig, argv: Sequence[str], env: Mapping[str, str], *, timeout: float = 120.0) -> None:
    """Start the stack's background process (``argv``) unless it runs, and wait until it
    serves; a process that fails to come up is stopped and its reason raised."""
    if daemon_pid(config):
        return
    config.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = config.log_dir / "stack.log"
    log_start = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env),
            cwd=str(config.project_dir),
        )
    config.pid_file.write_text(str(proc.pid))
    try:
        wait_healthy(config, proc, timeout, log_start)
    except StackError:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
        config.pid_file.unlink(missing_ok=True)
        raise


def daemon_error(config: StackConfig, since: int) -> str | None:
    """The daemon's own one-line reason for exiting (an ``error: …`` line it logged)."""
    try:
        with (config.log_dir / "stack.log").open("rb") as fh:
            fh.seek(since)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return errors[-1] if errors else None


def wait_healthy(config: StackConfig, proc: subprocess.Popen[bytes] | None, timeout: float, log_start: int = 0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            reason = daemon_error(config, log_start)
            if reason:
                raise StackError(reason)
            raise StackError(f"the stack exited with {proc.returncode}; see {config.log_dir / 'stack.log'}")
        try:
            r = httpx.get(f"{config.api_url}{config.health_path}", timeout=2)
            body = r.json()
            last = str(body)
            extensions = body.get("extensions") or {}
            if r.status_code == 200 and body.get("rest") and body.get("functions") and all(extensions.values()):
                return
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
        time.sleep(0.2)
    raise StackError(f"the stack did not become ready in {timeout:.0f}s (last health: {last or 'no answer'})")


def stop_daemon(config: StackConfig) -> None:
    pid = daemon_pid(config)
    if pid is None:
        config.pid_file.unlink(missing_ok=True)
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
    config.pid_file.unlink(missing_ok=True)


def reset_database(config: StackConfig) -> None:
    """Recreate the database: Supabase baseline, then the migrations with the Supabase CLI."""
    cluster = start_database(config)
    cluster.recreate_database()
    push_migrations(config)


def stop(config: StackConfig) -> None:
    stop_daemon(config)
    cluster = Cluster(config)
    if cluster.exists():
        cluster.stop()
    if config.cluster_root is not None:
        prune_orphans(config.cluster_root, config.pg_bindir)
