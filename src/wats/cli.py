"""``wats``: the local stack's command line, mirroring the Supabase CLI where they overlap."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from supabase_standin.cluster import ClusterError, PostgresMissing
from wats.settings import Settings
from wats.stack import control

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


def settings_for(args: argparse.Namespace) -> Settings:
    return Settings.load(getattr(args, "instance", None))


def status_values(settings: Settings) -> dict[str, str]:
    return {
        "API_URL": settings.api_url,
        "REST_URL": f"{settings.api_url}/rest/v1",
        "AUTH_URL": f"{settings.api_url}/auth/v1",
        "STORAGE_URL": f"{settings.api_url}/storage/v1",
        "FUNCTIONS_URL": f"{settings.api_url}/functions/v1",
        "DB_URL": settings.db_url(),
        "JWT_SECRET": settings.jwt_secret,
        "ANON_KEY": settings.anon_key,
        "SERVICE_ROLE_KEY": settings.service_role_key,
        "SANDBOX_URL": settings.sandbox_url,
        "DASHBOARD_URL": settings.dashboard_url,
    }


def print_status(settings: Settings, output: str = "pretty") -> None:
    values = status_values(settings)
    if output == "env":
        for key, value in values.items():
            print(f'{key}="{value}"')
        return
    if output == "json":
        print(json.dumps(values, indent=2))
        return
    labels = {
        "API_URL": "API URL",
        "REST_URL": "REST URL",
        "AUTH_URL": "Auth URL",
        "STORAGE_URL": "Storage URL",
        "FUNCTIONS_URL": "Functions URL",
        "DB_URL": "DB URL",
        "JWT_SECRET": "JWT secret",
        "ANON_KEY": "anon key",
        "SERVICE_ROLE_KEY": "service_role key",
        "SANDBOX_URL": "Mobile-money sandbox URL",
        "DASHBOARD_URL": "Admin dashboard URL",
    }
    width = max(len(v) for v in labels.values())
    for key, label in labels.items():
        print(f"{label:>{width}}: {values[key]}")


def run_seed(settings: Settings, scale: int = 0) -> None:
    from wats.seed import seed

    seed(settings, scale=scale)


def build_dashboard(settings: Settings) -> None:
    """Build the admin dashboard (dashboard/dist) when its sources changed."""
    from wats.stack.dashboard import DashboardNotBuilt, ensure_built

    try:
        ensure_built(settings, announce=lambda: print("Building the admin dashboard (vite build)…", flush=True))
    except DashboardNotBuilt as exc:
        print(f"warning: {exc}", file=sys.stderr)


@command("dashboard")
def cmd_dashboard(args: argparse.Namespace) -> int:
    """Vite's dev server against a running local stack (hot reload)."""
    s = settings_for(args)
    if not control.daemon_pid(s):
        print(f"Start the local stack first: ./scripts/wats start (instance {s.instance})", file=sys.stderr)
        return 1
    env = dict(os.environ, VITE_SUPABASE_URL=s.api_url, VITE_SUPABASE_ANON_KEY=s.anon_key)
    port = str(args.port or s.dashboard_port + 1)
    print(f"Vite dev server for the admin dashboard on http://127.0.0.1:{port} (API {s.api_url})", flush=True)
    return subprocess.call(["npm", "run", "dev", "--", "--port", port], cwd=str(s.root / "dashboard"), env=env)


@command("start")
def cmd_start(args: argparse.Namespace) -> int:
    s = settings_for(args)
    began = time.monotonic()
    fresh = False
    control.check_ports(s, "start")
    cluster = control.start_database(s)
    if not control.database_ready(s):
        print("Setting up the local database (Supabase baseline + supabase/migrations)…")
        cluster.recreate_database()
        fresh = True
    control.push_migrations(s)
    build_dashboard(s)
    control.start_services(s)
    if fresh and not args.no_seed:
        print("Seeding demo data…")
        run_seed(s)
    print(f"WATS local stack ({s.instance}) is running (ready in {time.monotonic() - began:.1f}s).\n")
    print_status(s)
    print(
        "\nTry it: ./scripts/wats demo   (4 providers, delivery, refunds, payouts, instalments, a live sale)"
        f"\nAdmin dashboard: {s.dashboard_url}   (sign in as 255700000001; Vite's dev server: ./scripts/wats dashboard)"
        "\nStop it: ./scripts/wats stop"
    )
    return 0


@command("stop")
def cmd_stop(args: argparse.Namespace) -> int:
    s = settings_for(args)
    control.stop(s)
    print(f"Stopped the WATS local stack ({s.instance}).")
    return 0


@command("restart")
def cmd_restart(args: argparse.Namespace) -> int:
    s = settings_for(args)
    control.stop_services(s)
    control.check_ports(s, "restart")
    control.start_database(s)
    control.push_migrations(s)
    build_dashboard(s)
    control.start_services(s)
    print_status(s)
    return 0


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    s = settings_for(args)
    if not control.daemon_pid(s):
        print(
            f"The WATS local stack ({s.instance}) is not running. Start it with ./scripts/wats start", file=sys.stderr
        )
        return 1
    print_status(s, args.output)
    return 0


@command("db")
def cmd_db(args: argparse.Namespace) -> int:
    s = settings_for(args)
    if args.db_command == "reset":
        control.stop_services(s)
        control.check_ports(s, "db reset")
        control.reset_database(s)
        control.start_services(s)
        if not args.no_seed:
            run_seed(s)
        print("Database reset: baseline, migrations" + ("" if args.no_seed else ", seed") + ".")
        return 0
    if args.db_command == "push":
        control.start_database(s)
        control.push_migrations(s)
        return 0
    return 2


@command("seed")
def cmd_seed(args: argparse.Namespace) -> int:
    s = settings_for(args)
    run_seed(s, scale=args.scale)
    return 0


@command("logs")
def cmd_logs(args: argparse.Namespace) -> int:
    s = settings_for(args)
    files = sorted(s.log_dir.rglob("*.log"))
    if args.service:
        files = [f for f in files if args.service in str(f.relative_to(s.log_dir))]
    if not files:
        print("no logs yet", file=sys.stderr)
        return 1
    cmd = ["tail", "-n", str(args.lines)]
    if args.follow:
        cmd.append("-F")
    return subprocess.call([*cmd, *map(str, files)])


@dataclass(frozen=True)
class Delegate:
    """A command whose code is imported only when it runs (``module.function``)."""

    module: str
    function: str

    def resolve(self) -> Callable[[argparse.Namespace], object]:
        fn: Callable[[argparse.Namespace], object] = getattr(importlib.import_module(self.module), self.function)
        return fn

    def __call__(self, args: argparse.Namespace) -> int:
        result = self.resolve()(args)
        return result if isinstance(result, int) else 0


COMMANDS["demo"] = Delegate("wats.demo", "main")
COMMANDS["bench"] = Delegate("wats.bench", "main")
COMMANDS["metrics"] = Delegate("wats.metrics", "main")
COMMANDS["test"] = Delegate("wats.testing.runner", "main")
COMMANDS["lint"] = Delegate("wats.testing.runner", "lint")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wats", description="WATS local stack and tooling")
    parser.add_argument("--instance", default=os.environ.get("WATS_INSTANCE", "dev"), help="dev (default) or test")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("start", help="start the local stack (database, APIs, functions, sandbox), seed on first run")
    p.add_argument("--no-seed", action="store_true")
    sub.add_parser("stop", help="stop the local stack")
    sub.add_parser("restart", help="restart the APIs, functions and sandbox; apply new migrations")
    p = sub.add_parser("status", help="print URLs and keys, like `supabase status`")
    p.add_argument("-o", "--output", choices=["pretty", "env", "json"], default="pretty")
    p = sub.add_parser("db", help="database commands")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    r = dbsub.add_parser("reset", help="recreate the database: baseline, migrations, seed")
    r.add_argument("--no-seed", action="store_true")
    dbsub.add_parser("push", help="apply new migrations with the Supabase CLI")
    p = sub.add_parser("seed", help="create demo data through the APIs")
    p.add_argument("--scale", type=int, default=0, help="also build a synthetic dataset of this many thousand products")
    p = sub.add_parser("logs", help="show the stack's logs")
    p.add_argument("service", nargs="?", help="stack, postgres, functions/<name> …")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--lines", type=int, default=50)
    p = sub.add_parser("dashboard", help="run the admin dashboard's Vite dev server against the local stack")
    p.add_argument("--port", type=int, default=None, help="default: the served dashboard's port + 1")
    sub.add_parser("demo", help="walk through sign-in, cart and checkout against the sandbox")
    p = sub.add_parser("bench", help="benchmarks that print ratios against a same-run baseline")
    p.add_argument("which", choices=["api", "rls", "checkout", "ledger"])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--scale", type=int, default=0, help="rls: build the synthetic dataset of this size first")
    p.add_argument("--only", help="rls: tables to read at the database, e.g. orders,order_items:vendor")
    p.add_argument("--db-seconds", type=float, default=3.0, help="rls: seconds per read at the database")
    p.add_argument("--no-api", dest="api", action="store_false", help="rls: skip the through-the-API figures")
    p = sub.add_parser("metrics", help="business metrics of the stack as tables with sparklines")
    p.add_argument("--days", type=int, default=14, help="days back, today included (default 14)")
    p.add_argument("--timing", action="store_true", help="also print how long each metrics function took")
    p.add_argument("--db-url", help="another database (default: this instance's)")
    p = sub.add_parser("test", help="run the whole test suite on an isolated test instance")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p = sub.add_parser("lint", help="ruff, mypy, sqlfluff, deno fmt/lint and the Supabase CLI's database lints")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "test":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.pytest_args = [*extra, *(args.pytest_args or [])]
    try:
        return COMMANDS[args.command](args)
    except PostgresMissing as exc:
        print(f"error: {exc} (./scripts/wats reads that folder from WATS_PG_BINDIR)", file=sys.stderr)
        return 3
    except (control.StackError, ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
