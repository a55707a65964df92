"""Fixtures of the policy suite: the arranged world (once per session), the coverage check
and the summary line.

The harness keeps one ``postgres`` connection for the whole session (arranging, expected
row sets, before/after snapshots): a connection per test would cost more than the tests.

Coverage does not depend on file order or on which tests are selected: every cell test
item names its cell (``cell_of``); when the session ends, each selected cell that ran must
have been checked on every side it has (allowed and denied), else the run fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.policies.matrix import COVERAGE
from tests.policies.world import World

STATE: dict[str, object] = {"started": 0.0, "arranged_in": 0.0, "collected": False, "cells": set()}


def cell_of(item: pytest.Item) -> tuple[str, str, str] | None:
    """The matrix cell a policy test item checks (None for other tests)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    name = getattr(item, "originalname", item.name)
    if name == "test_cell":
        return (params["label"], params["role"], params["op"])
    if name == "test_function_cell":
        return (f"fn:{params['name']}", params["role"], "execute")
    if name == "test_storage_cell":
        return ("storage.objects", params["role"], params["op"])
    if name == "test_realtime_cell":
        return ("realtime.messages", params["role"], params["op"])
    return None


@pytest.fixture(scope="session")
def world(target) -> Iterator[World]:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        w = World(target, conn)
        w.arrange()
        STATE["arranged_in"] = time.monotonic() - began
        try:
            yield w
            try:
                w.db.execute("select 1")
            except psycopg.OperationalError:
                # the stack suite restarts the database while this session-wide world lives
                w.db = psycopg.connect(target.db_url, autocommit=True)
            # whatever ran, the money of the suite's own orders must still add up
            found = w.q(
                "select invariant, entity_id::text, detail from private.money_invariant_violations() "
                "where entity_id in (select o.id from public.orders o where o.customer_id = any(%(users)s)) "
                "or entity_id in (select p.id from public.payments p where p.customer_id = any(%(users)s)) "
                "or entity_id in (select i.id from public.inventory i join public.vendors v on v.id = i.vendor_id "
                "where v.owner_id = any(%(users)s))",
                w.params(),
            )
            assert found == [], f"money invariants broken by the policy suite: {found}"
        finally:
            w.close()
            if w.db is not conn:
                w.db.close()


def pytest_collection_modifyitems(session, config, items) -> None:  # type: ignore[no-untyped-def]
    STATE["collected"] = any("tests/policies/" in item.nodeid for item in items)
    STATE["cells"] = {cell for item in items if (cell := cell_of(item)) is not None}
    STATE["started"] = time.monotonic()


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    """Every selected cell was checked on all its sides; a cell test that passed without
    marking what it checked fails the run here."""
    cells = STATE["cells"]
    assert isinstance(cells, set)
    if not cells or session.shouldfail or session.shouldstop or exitstatus != pytest.ExitCode.OK:
        return
    lacking = [f"{'/'.join(k)} (missing {', '.join(sorted(COVERAGE.lacking(k)))})" for k in sorted(cells)
               if COVERAGE.lacking(k)]  # fmt: skip
    if lacking:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"policy matrix: {len(lacking)} selected cells not fully checked:", red=True)
            for line in lacking[:40]:
                reporter.write_line("  " + line, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not STATE["collected"]:
        return
    covered = len(COVERAGE.covered())
    selected = len(STATE["cells"])  # type: ignore[arg-type]
    terminalreporter.write_line(
        f"policy matrix: {covered} of {COVERAGE.total} cells covered ({selected} selected), "
        f"{COVERAGE.escalations} escalation attempts (arranged in {STATE['arranged_in']:.1f}s)"
    )
