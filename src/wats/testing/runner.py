"""``wats test``: the whole suite on an isolated ``test`` instance of the local stack.

Resets the test instance's database (baseline, migrations through the Supabase CLI, seed),
starts its services, runs pytest over ``tests/`` (which includes the linters and the Deno
tests) with the client variables pointing at it, then stops it. The developer's ``dev``
instance is never touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from wats.cli import build_dashboard, run_seed
from wats.settings import TEST_FUNCTIONS_ENV, Settings
from wats.stack import control


def test_functions(settings: Settings) -> dict[str, str]:
    """The test instance also serves the test-only functions of tests/standin/functions/fixtures;
    pytest is told so, and expects them."""
    return {TEST_FUNCTIONS_ENV: str(settings.root / "tests" / "standin" / "functions" / "fixtures")}


#: Scheduled jobs the suites run by hand and assert on; the test instance pauses them so a
#: run of the clock cannot take a refund or payout from under a test.
PAUSED_JOBS = (
    "instalment-push",
    "refund-execute",
    "payout-execute",
    "complete-orders",
    "run-payouts",
    "expire-points",
    "evaluate-alerts",
    "apply-retention",
)


def test_services_env(settings: Settings) -> dict[str, str]:
    return {**test_functions(settings), "WATS_PAUSED_JOBS": ",".join(PAUSED_JOBS)}


def prepare(settings: Settings) -> None:
    began = time.monotonic()
    control.stop_services(settings)
    control.check_ports(settings, "test", extra_env=test_services_env(settings))
    control.reset_database(settings)
    build_dashboard(settings)
    control.start_services(settings, extra_env=test_services_env(settings))
    run_seed(settings)
    print(f"[wats test] test instance ready in {time.monotonic() - began:.1f}s", flush=True)


def main(args: argparse.Namespace) -> int:
    settings = Settings.load(os.environ.get("WATS_TEST_INSTANCE", "test"))
    began = time.monotonic()
    try:
        prepare(settings)
        env = dict(os.environ, **settings.client_env(), **test_functions(settings))
        pytest_args = [a for a in (args.pytest_args or []) if a != "--"]
        code = subprocess.call(
            [sys.executable, "-m", "pytest", *pytest_args],
            env=env,
            cwd=str(settings.root),
        )
    finally:
        control.stop(settings)
    if code == 5:
        print("[wats test] pytest collected no tests: that is a failure", file=sys.stderr)
        code = 1
    print(f"[wats test] finished in {time.monotonic() - began:.1f}s with exit code {code}", flush=True)
    return code


def lint(args: argparse.Namespace) -> int:
    """``wats lint``: the suite's linters only (tests/lint), on the same test instance (the
    Supabase CLI's database lints need a migrated database)."""
    args.pytest_args = ["tests/lint", *(a for a in (args.pytest_args or []) if a != "--")]
    return main(args)
