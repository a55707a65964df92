"""The linters are part of the suite: Python (ruff, mypy), SQL (sqlfluff), TypeScript (deno fmt
and deno lint), and the Supabase CLI's own database checks (`supabase db lint` and
`supabase db advisors`) against the migrated database of the stack under test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "tools" / "node_modules" / ".bin"


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_COLOR="1", DENO_NO_UPDATE_CHECK="1", SUPABASE_TELEMETRY_DISABLED="1")
    env.setdefault("DENO_DIR", str(ROOT / ".wats" / "deno"))
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"


def cli_db_url(target) -> str:  # type: ignore[no-untyped-def]
    url = target.db_url
    return url + ("&" if "?" in url else "?") + "sslmode=disable"


def test_python_is_ruff_clean():
    proc = run(str(ROOT / ".venv" / "bin" / "ruff"), "check", "src", "tests", "scripts")
    assert proc.returncode == 0, explain(proc)


def test_python_is_ruff_formatted():
    proc = run(str(ROOT / ".venv" / "bin" / "ruff"), "format", "--check", "src", "tests", "scripts")
    assert proc.returncode == 0, explain(proc)


def test_python_is_mypy_clean():
    """``mypy --strict`` over src/wats and src/supabase_standin (configured in pyproject.toml)."""
    proc = run(str(ROOT / ".venv" / "bin" / "mypy"), timeout=900)
    assert proc.returncode == 0, explain(proc)


def test_migrations_are_sqlfluff_clean():
    proc = run(str(ROOT / ".venv" / "bin" / "sqlfluff"), "lint", "supabase/migrations", "--disable-progress-bar")
    assert proc.returncode == 0, explain(proc)


def test_edge_functions_are_deno_formatted():
    proc = run(
        str(BIN / "deno"),
        "fmt",
        "--check",
        "supabase/functions",
        "src/supabase_standin/functions",
        "tests/standin/functions/fixtures",
    )
    assert proc.returncode == 0, explain(proc)


def test_edge_functions_are_deno_lint_clean():
    proc = run(
        str(BIN / "deno"),
        "lint",
        "supabase/functions",
        "src/supabase_standin/functions",
        "tests/standin/functions/fixtures",
    )
    assert proc.returncode == 0, explain(proc)


def test_deno_unit_tests_pass():
    proc = run(
        str(BIN / "deno"),
        "test",
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-read",
        "supabase/functions",
    )
    assert proc.returncode == 0, explain(proc)
    assert " passed" in proc.stdout and "0 failed" in proc.stdout, explain(proc)


def test_supabase_db_lint_finds_no_errors(target):
    if not _has_plpgsql_check(target):
        pytest.fail(
            "the database has no plpgsql_check extension, which `supabase db lint` needs: "
            "install Debian's postgresql-15-plpgsql-check (./scripts/wats does it when run as root)"
        )
    proc = run(
        str(BIN / "supabase"),
        "db",
        "lint",
        "--db-url",
        cli_db_url(target),
        "--level",
        "warning",
        "--fail-on",
        "warning",
    )
    assert proc.returncode == 0, explain(proc)
    assert "No schema errors found" in proc.stdout + proc.stderr, explain(proc)


def test_supabase_advisors_find_nothing_at_warn_or_above(target):
    proc = run(
        str(BIN / "supabase"),
        "db",
        "advisors",
        "--db-url",
        cli_db_url(target),
        "--type",
        "all",
        "--level",
        "warn",
        "--fail-on",
        "warn",
    )
    assert proc.returncode == 0, explain(proc)


def _has_plpgsql_check(target) -> bool:  # type: ignore[no-untyped-def]
    import psycopg

    with psycopg.connect(target.db_url) as conn:
        row = conn.execute("select count(*) from pg_available_extensions where name = 'plpgsql_check'").fetchone()
        return bool(row and row[0])
