"""Starting, stopping and resetting one WATS instance: the stand-in's control
(:mod:`supabase_standin.control`) driven by this instance's settings, with the WATS
extensions (mobile-money sandbox, scheduler) in its daemon and WATS's own words when a
port is taken."""

from __future__ import annotations

import os
import sys

from supabase_standin import control as standin
from supabase_standin.cluster import Cluster
from supabase_standin.control import StackError
from supabase_standin.ports import Port, PortsBusy
from supabase_standin.stack import StackConfig
from wats.settings import TEST_FUNCTIONS_ENV, Settings
from wats.stack import extensions
from wats.stack.ports import busy_message

__all__ = [
    "StackError",
    "check_ports",
    "daemon_pid",
    "database_ready",
    "push_migrations",
    "reset_database",
    "start_database",
    "start_services",
    "stop",
    "stop_services",
]


def config_for(settings: Settings, extra_env: dict[str, str] | None = None) -> StackConfig:
    return settings.standin((extra_env or {}).get(TEST_FUNCTIONS_ENV))


def service_ports(settings: Settings, extra_env: dict[str, str] | None = None) -> list[Port]:
    """The ports the daemon binds: gateway, sandbox, one per function."""
    return config_for(settings, extra_env).service_ports(extensions.for_settings(settings))


def _busy(settings: Settings, exc: PortsBusy, command: str, extra_env: dict[str, str] | None = None) -> StackError:
    count = len(config_for(settings, extra_env).function_folders())
    return StackError(busy_message(settings, exc.busy, command, count))


def daemon_pid(settings: Settings) -> int | None:
    return standin.daemon_pid(config_for(settings))


def push_migrations(settings: Settings, *, quiet: bool = False) -> None:
    """Apply ``supabase/migrations`` with the real Supabase CLI, as production deploys do.

    ``WATS_SKIP_MIGRATIONS=1`` leaves the database at the baseline (for working on the
    stack itself while migrations are being edited)."""
    cli = settings.bin_dir / "supabase"
    if not cli.exists():
        raise StackError(f"{cli} is missing: run `npm ci` in {settings.root} (./scripts/wats does it for you)")
    standin.push_migrations(config_for(settings), quiet=quiet)


def database_ready(settings: Settings) -> bool:
    return standin.database_ready(config_for(settings))


def check_ports(settings: Settings, command: str = "start", extra_env: dict[str, str] | None = None) -> None:
    """Refuse to start when a port this instance needs (and does not hold already) is taken,
    before anything is started, in one line (see :mod:`wats.stack.ports`)."""
    try:
        standin.check_ports(config_for(settings, extra_env), service_ports(settings, extra_env))
    except PortsBusy as exc:
        raise _busy(settings, exc, command, extra_env) from None


def start_database(settings: Settings) -> Cluster:
    try:
        return standin.start_database(config_for(settings))
    except PortsBusy as exc:
        raise _busy(settings, exc, "start") from None


def start_services(settings: Settings, *, timeout: float = 120.0, extra_env: dict[str, str] | None = None) -> None:
    """Start the daemon (``wats.stack.daemon``: the stand-in with the WATS extensions)."""
    config = config_for(settings, extra_env)
    if standin.daemon_pid(config):
        return
    check_ports(settings, extra_env=extra_env)
    env = dict(os.environ, WATS_INSTANCE=settings.instance, PYTHONUNBUFFERED="1", **(extra_env or {}))
    argv = [sys.executable, "-m", "wats.stack.daemon", "--instance", settings.instance]
    standin.start_daemon(config, argv, env, timeout=timeout)


def stop_services(settings: Settings) -> None:
    standin.stop_daemon(config_for(settings))


def reset_database(settings: Settings) -> None:
    """Recreate the database: Supabase baseline, then our migrations with the Supabase CLI."""
    cluster = start_database(settings)
    cluster.recreate_database()
    push_migrations(settings)


def stop(settings: Settings) -> None:
    standin.stop(config_for(settings))
