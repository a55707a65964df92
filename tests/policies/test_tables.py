"""Every cell of every table file in ``policies/`` (but storage.objects, see test_storage.py,
and realtime.messages, see test_realtime.py),
as each role through supabase-py: one test per (file, role, operation)."""

from __future__ import annotations

import pytest

from tests.policies import harness
from tests.policies.matrix import MATRIX, OPS, ROLES

CELLS = [
    (label, role, op)
    for label, spec in MATRIX.tables.items()
    if spec.table not in ("storage.objects", "realtime.messages")
    for role in ROLES
    for op in OPS
]


@pytest.mark.parametrize(("label", "role", "op"), CELLS, ids=["-".join(c) for c in CELLS])
def test_cell(world, label: str, role: str, op: str) -> None:  # type: ignore[no-untyped-def]
    spec = MATRIX.tables[label]
    if not spec.exposed:
        harness.check_unexposed(world, spec, role, op)
        return
    {
        "select": harness.check_select,
        "insert": harness.check_insert,
        "update": harness.check_update,
        "delete": harness.check_delete,
    }[op](world, spec, role)
