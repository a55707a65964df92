"""Fixtures of the payment suite, and the money invariants checked after every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.payments.market import Market

#: Quick customers for the tests: answers in 0.2 s, late callbacks after 3 s, prompts that
#: nobody answers time out after 3 s.
FAST_SANDBOX = {
    "answer_delay_s": 0.2,
    "late_delay_s": 3.0,
    "prompt_timeout_s": 3.0,
    "duplicate_count": 4,
    "duplicate_interval_s": 0.05,
    "callback_retry_delay_s": 0.2,
}

CHECKS = {"invariant_checks": 0, "violations": 0}


@pytest.fixture(scope="session")
def sandbox_timing(target) -> Iterator[None]:  # type: ignore[no-untyped-def]
    before = httpx.get(f"{target.sandbox_url}/_sandbox/settings").json()
    httpx.patch(f"{target.sandbox_url}/_sandbox/settings", json=FAST_SANDBOX).raise_for_status()
    yield
    httpx.patch(f"{target.sandbox_url}/_sandbox/settings", json={k: before[k] for k in FAST_SANDBOX}).raise_for_status()


@pytest.fixture
def market(target, db, service, sandbox_timing) -> Iterator[Market]:  # type: ignore[no-untyped-def]
    m = Market(target, db, service)
    yield m
    m.http.close()


def violations(db: psycopg.Connection) -> list[tuple[str, str, str]]:
    return [
        (str(a), str(b), str(c))
        for a, b, c in db.execute("select * from private.money_invariant_violations()").fetchall()
    ]


@pytest.fixture(autouse=True)
def money_invariants(target) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """After every test: succeeded payments match paid orders, reserved stock equals what
    pending orders hold, stock is never negative, every payment status is audited."""
    yield
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        found = violations(conn)
    CHECKS["invariant_checks"] += 1
    CHECKS["violations"] += len(found)
    assert found == [], f"money invariants broken: {found}"


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if CHECKS["invariant_checks"]:
        terminalreporter.write_line(
            f"payments: money invariants checked after {CHECKS['invariant_checks']} tests, "
            f"{CHECKS['violations']} violations"
        )
