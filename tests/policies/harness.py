"""How one cell of a table file is checked through supabase-py, both sides.

- select: the role reads the arranged rows (``in`` on the key) and must see exactly the
  cell's rows among them; its ``count=exact`` over the whole table must equal the database's
  count of the cell's rows (read before and after, so rows other suites add meanwhile do not
  make it flaky). Without the SELECT privilege the read must fail with 42501.
- insert: every candidate row (one per arranged owner) is tried; the ones the cell's
  predicate accepts must be created (or hit a constraint: class 23 / WT001), all others
  must fail with 42501 and create nothing. With ``insert_columns``, adding any other column
  to an accepted row must fail with 42501.
- update: every arranged row gets a harmless change of a probe column; rows in the cell
  must change (or hit a constraint), every other row must stay byte-for-byte the same,
  answered by 0 rows (RLS hides it) or 42501. With ``update_columns``, each allowed column
  is changed on a row in the cell, and each other column must fail with 42501.
- delete: every arranged row outside the cell is tried and must stay; for rows in the cell
  a fresh copy is deleted (or the row itself, put back afterwards).

Expected rows always come from the cell's SQL predicate evaluated over the database as
``postgres``: nothing here hard-codes who sees what.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

from supabase import Client

from tests.policies.actors import Actor, Outcome
from tests.policies.matrix import COVERAGE, Cell, TableSpec
from tests.policies.world import DELETE_RESTORE, DELETE_VICTIM, PROBE_COLUMN, Column, World, new_phone


def table(client: Client, spec: TableSpec):  # type: ignore[no-untyped-def]
    if spec.schema == "public":
        return client.table(spec.name)
    return client.schema(spec.schema).table(spec.name)


def key_filter(spec: TableSpec, key: str) -> dict[str, str]:
    return dict(zip(spec.key, key.split("|"), strict=True))


def chunks(values: list[str], size: int = 80) -> Iterator[list[str]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def describe(spec: TableSpec, role: str, op: str, cell: Cell) -> str:
    return f"{spec.table} {role} {op} [{cell}]"


# -- judging outcomes ------------------------------------------------------------------------


def assert_allowed(out: Outcome, what: str) -> None:
    """The policy let the statement reach the row: it returned the row, or a constraint or
    trigger refused the change (class 23, WT001). Never 42501, never 0 rows."""
    if out.ok:
        assert len(out.rows()) == 1, f"{what}: allowed, but the write affected {len(out.rows())} rows ({out})"
        return
    assert out.integrity, f"{what}: allowed, but refused: {out}"


def assert_denied(out: Outcome, actor: Actor, what: str, *, silent_ok: bool) -> None:
    """Nothing reached the row: 0 rows (only when the role holds the privilege and RLS hides
    or refuses the row), or 42501 with HTTP 401 for anon and 403 for everyone else."""
    if out.ok:
        assert silent_ok, f"{what}: must be refused with 42501 (no privilege, or an insert), got {out}"
        assert out.rows() == [], f"{what}: denied, but the write affected rows: {out}"
        return
    assert out.code == "42501", f"{what}: denied with the wrong error: {out}"
    assert out.status == actor.denied_status, f"{what}: 42501 must be HTTP {actor.denied_status}, got {out.status}"


# -- values ----------------------------------------------------------------------------------


def mutate(spec: TableSpec, column: Column, row: dict[str, Any]) -> Any:
    """A different, well-typed value for a column: a real change when the table accepts it,
    else a constraint refusal (which still shows the policy let the write through)."""
    current = row.get(column.name)
    if (spec.label, column.name) == ("vendor_accounts", "payout_msisdn"):
        return new_phone()
    t = column.type
    if t in ("text", "character varying"):
        return (current or "p") + " *"
    if t in ("integer", "bigint", "smallint"):
        return (current or 0) + 1
    if t == "boolean":
        return not current
    if t == "uuid":
        return str(uuid.uuid4())
    if t.startswith("timestamp"):
        base = dt.datetime.fromisoformat(current) if current else dt.datetime.now(dt.UTC)
        return (base + dt.timedelta(days=1)).isoformat()
    if t == "jsonb":
        return {"policy": "suite"} if current != {"policy": "suite"} else {"policy": "suite 2"}
    if t == "inet":
        return "10.1.2.3"
    raise AssertionError(f"no mutation for {spec.table}.{column.name} ({t})")


def probe_column(world: World, spec: TableSpec, role: str, op: str) -> Column:
    """The column an update writes: the preferred harmless one when the role may write it,
    else the first column the cell or the role's privilege allows."""
    cols = {c.name: c for c in world.columns(spec)}
    allowed = spec.columns(role, op)
    preferred = PROBE_COLUMN[spec.label]
    if allowed is not None:
        return cols[preferred] if preferred in allowed else cols[allowed[0]]
    granted = spec.privilege(role, op)
    if isinstance(granted, set) and granted and preferred not in granted:
        return cols[sorted(granted)[0]]
    return cols[preferred]


# -- arrangement guards ----------------------------------------------------------------------


@contextlib.contextmanager
def extras(world: World, spec: TableSpec, role: str, cell: Cell) -> Iterator[None]:
    """Rows a shop-less persona lacks for a set about shops they own: a pending shop while
    the test runs (a customer who applied to sell)."""
    if spec.label in ("vendors", "vendor_accounts") and "own" in cell.names:
        with world.temporary_shop(role):
            yield
        return
    yield


def check_sets(world: World, spec: TableSpec, role: str, op: str, cell: Cell, universe: set[str]) -> None:
    """Every set the cell names has a row of this run in it, and (unless the cell is all)
    a row outside the cell: otherwise a side would go unchecked."""
    uid = world.uid(role)
    for name in cell.names:
        if name in ("all", "none"):
            continue
        inside = world.keys(spec, Cell.of(name).predicate(spec.sets, uid))
        assert inside, f"arrangement gap: no arranged row of {spec.table} in set {name} for {role} ({op})"
    assert universe, f"arrangement gap: no arranged row of {spec.table}"
    if not cell.all:
        outside = universe - world.keys(spec, cell.predicate(spec.sets, uid))
        assert outside, f"arrangement gap: every arranged row of {spec.table} is in {role}'s {op} cell"


# -- the four operations ---------------------------------------------------------------------


def check_select(world: World, spec: TableSpec, role: str) -> None:
    actor, cell = world.actors[role], spec.cell(role, "select")
    what = describe(spec, role, "select", cell)
    predicate = cell.predicate(spec.sets, actor.uid)
    with extras(world, spec, role, cell):
        universe = world.keys(spec)
        check_sets(world, spec, role, "select", cell, universe)
        expected = world.keys(spec, predicate)
        first = spec.key[0]
        seen: set[str] = set()
        refused: Outcome | None = None
        for values in chunks(sorted({k.split("|")[0] for k in universe})):
            out = actor.run(lambda c, v=values: table(c, spec).select(",".join(spec.key)).in_(first, v).execute())
            if not out.ok:
                refused = out
                break
            seen |= {World.key_of(spec, r) for r in out.rows()} & universe
        if refused is not None:
            assert not spec.has_privilege(role, "select"), f"{what}: read refused despite the privilege: {refused}"
            assert cell.none, f"{what}: no SELECT privilege, so the cell must be none"
            assert_denied(refused, actor, what, silent_ok=False)
        else:
            assert spec.has_privilege(role, "select"), f"{what}: read worked without the SELECT privilege"
            assert seen == expected, (
                f"{what}: saw {len(seen)} of the arranged rows, the cell has {len(expected)}; "
                f"unexpected {sorted(seen - expected)[:5]}, missing {sorted(expected - seen)[:5]}"
            )
            whole = f"({predicate})"
            before = world.count(spec, whole)
            counted = actor.run(lambda c: table(c, spec).select(first, count="exact").limit(1).execute())
            after = world.count(spec, whole)
            assert counted.ok and counted.count is not None, f"{what}: count failed: {counted}"
            assert min(before, after) <= counted.count <= max(before, after), (
                f"{what}: the role counts {counted.count} rows in the whole table, the cell has {before}"
            )
    sides = []
    if expected:
        sides.append("allowed")
    if universe - expected:
        sides.append("denied")
    COVERAGE.mark(spec.label, role, "select", *sides)


def check_insert(world: World, spec: TableSpec, role: str) -> None:
    actor, cell = world.actors[role], spec.cell(role, "insert")
    what = describe(spec, role, "insert", cell)
    predicate = cell.predicate(spec.sets, actor.uid)
    allowed_cols = spec.columns(role, "insert")
    sides: set[str] = set()
    accepted: dict[str, Any] | None = None
    for payload in world.candidates(spec):
        if allowed_cols is not None:
            assert set(payload) <= set(allowed_cols), f"{what}: candidate uses columns outside insert_columns"
        in_cell = cell.all or (not cell.none and world.classify_candidate(spec, payload, predicate))
        label = f"{what} {json.dumps(payload)[:160]}"
        with world.prepared_insert(spec, role, payload):
            before = world.count_like(spec, payload)
            out = actor.run(lambda c, p=payload: table(c, spec).insert(p).execute())
            after = world.count_like(spec, payload)
            if in_cell:
                assert_allowed(out, label)
                if out.ok:
                    assert after == before + 1, f"{label}: the API answered a row but the database has no new row"
                    world.remove_inserted(spec, payload, out.rows()[0])
                    accepted = accepted or payload
                sides.add("allowed")
            else:
                assert_denied(out, actor, label, silent_ok=False)
                assert after == before, f"{label}: denied, but a row appeared"
                sides.add("denied")
    if not cell.none:
        assert "allowed" in sides, f"arrangement gap: no candidate row of {spec.table} in {role}'s insert cell"
    if not cell.all:
        assert "denied" in sides, f"arrangement gap: every candidate row of {spec.table} is in {role}'s insert cell"
    if allowed_cols is not None and not cell.none:
        payload = accepted or next(p for p in world.candidates(spec) if world.classify_candidate(spec, p, predicate))
        for column in world.columns(spec):
            if column.name in allowed_cols:
                continue
            extra = {**payload, column.name: None}
            with world.prepared_insert(spec, role, payload):
                before = world.count_like(spec, payload)
                out = actor.run(lambda c, p=extra: table(c, spec).insert(p).execute())
                after = world.count_like(spec, payload)
            if column.generated:
                assert not out.ok and out.code in ("42501", "428C9"), f"{what} +{column.name}: {out}"
            else:
                assert_denied(out, actor, f"{what} with column {column.name}", silent_ok=False)
            assert after == before, f"{what} with column {column.name}: a row appeared"
        sides.add("columns")
    COVERAGE.mark(spec.label, role, "insert", *sides)


def check_update(world: World, spec: TableSpec, role: str) -> None:
    actor, cell = world.actors[role], spec.cell(role, "update")
    what = describe(spec, role, "update", cell)
    predicate = cell.predicate(spec.sets, actor.uid)
    allowed_cols = spec.columns(role, "update")
    sides: set[str] = set()
    with extras(world, spec, role, cell):
        universe = world.keys(spec)
        check_sets(world, spec, role, "update", cell, universe)
        expected = world.keys(spec, predicate)
        probe = probe_column(world, spec, role, "update")
        for key in sorted(world.sample(spec)):
            before = world.snapshot(spec, key)
            assert before is not None
            value = mutate(spec, probe, json.loads(before))
            label = f"{what} {probe.name} of {key}"
            out = actor.run(
                lambda c, k=key, v=value: table(c, spec).update({probe.name: v}).match(key_filter(spec, k)).execute()
            )
            after = world.snapshot(spec, key)
            if key in expected:
                assert_allowed(out, label)
                if out.ok:
                    assert after != before, f"{label}: answered 200 but the row did not change"
                    world.restore_column(spec, key, probe.name, before)
                sides.add("allowed")
            else:
                assert_denied(out, actor, label, silent_ok=spec.has_privilege(role, "update", probe.name))
                assert after == before, f"{label}: denied, but the row changed"
                sides.add("denied")
        if allowed_cols is not None and not cell.none:
            key = sorted(expected)[0]
            for column in world.columns(spec):
                before = world.snapshot(spec, key)
                assert before is not None
                label = f"{what} column {column.name} of {key}"
                if column.name in allowed_cols:
                    value = mutate(spec, column, json.loads(before))
                    out = actor.run(
                        lambda c, n=column.name, v=value: (
                            table(c, spec).update({n: v}).match(key_filter(spec, key)).execute()
                        )
                    )
                    assert_allowed(out, label)
                    after = world.snapshot(spec, key)
                    if out.ok and after != before:
                        world.restore_column(spec, key, column.name, before)
                    continue
                # null, or (for a column that is null already) a real change: a no-op would pass
                current = json.loads(before).get(column.name)
                denied_value = None if current is not None or column.generated else mutate(spec, column, {})
                out = actor.run(
                    lambda c, n=column.name, v=denied_value: (
                        table(c, spec).update({n: v}).match(key_filter(spec, key)).execute()
                    )
                )
                if column.generated:
                    assert not out.ok and out.code in ("42501", "428C9"), f"{label}: {out}"
                else:
                    assert_denied(out, actor, label, silent_ok=False)
                assert world.snapshot(spec, key) == before, f"{label}: denied, but the row changed"
            sides.add("columns")
    COVERAGE.mark(spec.label, role, "update", *sides)


def check_delete(world: World, spec: TableSpec, role: str) -> None:
    actor, cell = world.actors[role], spec.cell(role, "delete")
    what = describe(spec, role, "delete", cell)
    predicate = cell.predicate(spec.sets, actor.uid)
    sides: set[str] = set()
    with extras(world, spec, role, cell):
        universe = world.keys(spec)
        check_sets(world, spec, role, "delete", cell, universe)
        expected = world.keys(spec, predicate)
        tried = world.sample(spec)
        for key in sorted(tried - expected):
            before = world.snapshot(spec, key)
            out = actor.run(lambda c, k=key: table(c, spec).delete().match(key_filter(spec, k)).execute())
            assert_denied(out, actor, f"{what} {key}", silent_ok=spec.has_privilege(role, "delete"))
            assert world.snapshot(spec, key) == before, f"{what} {key}: denied, but the row changed or went"
            sides.add("denied")
        for key in sorted(tried & expected):
            if spec.label in DELETE_VICTIM:
                target = world.victim(spec, world.row(spec, key))
                assert world.q(
                    f"select 1 from {spec.table} where {world.key_expr(spec)} = %s and ({predicate})", [target]
                ), f"{what}: the copy of {key} is not in the cell"
                out = actor.run(lambda c, k=target: table(c, spec).delete().match(key_filter(spec, k)).execute())
                assert_allowed(out, f"{what} copy of {key}")
                gone = world.snapshot(spec, target) is None
                assert gone == out.ok, f"{what} copy of {key}: API and database disagree ({out})"
                if not gone:
                    world.q(f"delete from {spec.table} where {world.key_expr(spec)} = %s", [target])
            elif spec.label in DELETE_RESTORE:
                snapshot = world.snapshot(spec, key)
                assert snapshot is not None
                dependents = world.dependents(spec, key)
                out = actor.run(lambda c, k=key: table(c, spec).delete().match(key_filter(spec, k)).execute())
                assert_allowed(out, f"{what} {key}")
                gone = world.snapshot(spec, key) is None
                assert gone == out.ok, f"{what} {key}: API and database disagree ({out})"
                if gone:
                    world.reinsert(spec, snapshot)
                    for dep_spec, dep in dependents:
                        world.reinsert(dep_spec, dep)
                    assert world.snapshot(spec, key) is not None
            else:
                raise AssertionError(f"{what}: the cell allows deleting {key}, and the suite has no copy to delete")
            sides.add("allowed")
    COVERAGE.mark(spec.label, role, "delete", *sides)


def check_unexposed(world: World, spec: TableSpec, role: str, op: str) -> None:
    """A table in a schema the Data API does not serve: every request, whatever the role,
    is refused before it reaches PostgreSQL (406 PGRST106), and nothing changes."""
    actor, cell = world.actors[role], spec.cell(role, op)
    what = describe(spec, role, op, cell)
    assert cell.none, f"{what}: a table the Data API does not serve cannot have rows for an API role"
    universe = world.keys(spec)
    assert universe, f"arrangement gap: no arranged row of {spec.table}"

    def refused(out: Outcome) -> None:
        assert out.status == 406 and out.code == "PGRST106", f"{what}: expected 406 PGRST106, got {out}"

    if op == "select":
        refused(actor.run(lambda c: table(c, spec).select("*").execute()))
    elif op == "insert":
        for payload in world.candidates(spec):
            before = world.count_like(spec, payload)
            refused(actor.run(lambda c, p=payload: table(c, spec).insert(p).execute()))
            assert world.count_like(spec, payload) == before, f"{what}: a row appeared"
    else:
        column = probe_column(world, spec, role, "update")
        for key in sorted(world.sample(spec)):
            before = world.snapshot(spec, key)
            assert before is not None
            if op == "update":
                value = mutate(spec, column, json.loads(before))
                call = lambda c, k=key, v=value: (  # noqa: E731
                    table(c, spec).update({column.name: v}).match(key_filter(spec, k)).execute()
                )
            else:
                call = lambda c, k=key: table(c, spec).delete().match(key_filter(spec, k)).execute()  # noqa: E731
            refused(actor.run(call))
            assert world.snapshot(spec, key) == before, f"{what} {key}: the row changed"
    COVERAGE.mark(spec.label, role, op, "denied")
