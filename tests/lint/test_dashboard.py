"""The admin dashboard's own tools in the suite: ESLint, the TypeScript compiler's checks
(`tsc --noEmit`) and its Vitest unit tests, from dashboard/node_modules (./scripts/wats runs
`npm ci` there from dashboard/package-lock.json)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
BIN = DASHBOARD / "node_modules" / ".bin"


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0", CI="1")
    return subprocess.run(args, cwd=DASHBOARD, capture_output=True, text=True, timeout=timeout, env=env)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"


def test_dashboard_is_eslint_clean():
    proc = run(str(BIN / "eslint"), ".", "--max-warnings=0")
    assert proc.returncode == 0, explain(proc)


def test_dashboard_typechecks():
    proc = run(str(BIN / "tsc"), "--noEmit", "-p", "tsconfig.json")
    assert proc.returncode == 0, explain(proc)


def test_dashboard_unit_tests_pass():
    proc = run(str(BIN / "vitest"), "run")
    assert proc.returncode == 0, explain(proc)
    assert " passed" in proc.stdout and "failed" not in proc.stdout, explain(proc)
