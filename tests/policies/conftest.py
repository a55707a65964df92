"""Fixtures of the policy suite: the arranged world (once per session) and the summary line.

The harness keeps one ``postgres`` connection for the whole session (arranging, expected
row sets, before/after snapshots): a connection per test would cost more than the tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.policies.matrix import COVERAGE
from tests.policies.world import World

STATE = {"started": 0.0, "arranged_in": 0.0, "collected": False}


@pytest.fixture(scope="session")
def world(target) -> Iterator[World]:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        w = World(target, conn)
        w.arrange()
        STATE["arranged_in"] = time.monotonic() - began
        try:
            yield w
        finally:
            w.close()


def pytest_collection_modifyitems(session, config, items) -> None:  # type: ignore[no-untyped-def]
    STATE["collected"] = any("tests/policies/" in item.nodeid for item in items)
    STATE["started"] = time.monotonic()


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not STATE["collected"]:
        return
    covered = len(COVERAGE.covered())
    terminalreporter.write_line(
        f"policy matrix: {covered} of {COVERAGE.total} cells covered, {COVERAGE.escalations} escalation attempts"
        f" (arranged in {STATE['arranged_in']:.1f}s)"
    )
