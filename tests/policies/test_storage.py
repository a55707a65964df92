"""The cells of ``policies/storage.objects.toml`` through the Storage API (supabase-py's
``storage``), which runs every request as the caller: list = select, upload = insert,
update (PUT, an upsert) = update, remove = delete.

Arranged objects: one in each arranged shop's folder of product-images (two approved shops,
one pending), one in a folder that is no shop's, one in a private bucket of this run, and a
photo in each shopper's folder of return-photos, named by that shopper's arranged return.
A refusal by the policies is Storage's 403 (``statusCode: "403"``, for anon too, as Supabase
Storage answers); a remove of objects one may not delete removes nothing.
"""

from __future__ import annotations

import pytest

from tests.policies.actors import Outcome
from tests.policies.harness import check_sets
from tests.policies.matrix import COVERAGE, MATRIX, OPS, ROLES
from tests.policies.world import BUCKET, PNG, RETURN_PHOTOS, SHOPPERS, World, rand

SPEC = MATRIX.table("storage.objects")
CELLS = [(role, op) for role in ROLES for op in OPS]


def objects(world: World, where: str = "true") -> dict[str, str]:
    """key (object id) -> "bucket/name" of the arranged objects matching ``where``."""
    rows = world.q(
        f"select id::text, bucket_id || '/' || name from storage.objects where ({where}) and "
        f"({'(bucket_id = %(b)s or bucket_id = %(o)s or bucket_id = %(r)s)'}) and id::text = any(%(keys)s)",
        {"b": BUCKET, "o": world.other_bucket, "r": RETURN_PHOTOS, "keys": list(world.keys(SPEC))},
    )
    return dict(rows)


def split(path: str) -> tuple[str, str]:
    bucket, _, name = path.partition("/")
    return bucket, name


def folders(world: World) -> list[tuple[str, str]]:
    return (
        [(BUCKET, f) for f in (*world.vendors.values(), world.misc_folder)]
        + [(world.other_bucket, "")]
        + [(RETURN_PHOTOS, world.users[s]) for s in SHOPPERS]
    )


def assert_refused(out: Outcome, what: str) -> None:
    assert not out.ok and out.code == "storage:403", f"{what}: expected Storage's 403, got {out}"


def check_select(world: World, role: str) -> set[str]:
    actor, cell = world.actors[role], SPEC.cell(role, "select")
    universe = world.keys(SPEC)
    check_sets(world, SPEC, role, "select", cell, universe)
    expected = set(objects(world, cell.predicate(SPEC.sets, actor.uid)).values())
    seen: set[str] = set()
    for bucket, folder in folders(world):
        out = actor.run(lambda c, b=bucket, f=folder: c.storage.from_(b).list(f, {"limit": 1000}))
        assert out.ok, f"storage list {bucket}/{folder} as {role}: {out}"
        prefix = f"{bucket}/{folder}/" if folder else f"{bucket}/"
        seen |= {prefix + entry["name"] for entry in out.data if entry.get("id")}
    arranged = set(objects(world).values())
    assert seen & arranged == expected, (
        f"storage select as {role}: saw {sorted(seen & arranged)}, cell {sorted(expected)}"
    )
    return ({"allowed"} if expected else set()) | ({"denied"} if arranged - expected else set())


def check_insert(world: World, role: str) -> set[str]:
    actor, cell = world.actors[role], SPEC.cell(role, "insert")
    predicate = cell.predicate(SPEC.sets, actor.uid)
    sides = set()
    candidates = [(b, f"{f}/cand-{rand()}.png" if f else f"cand-{rand()}.png") for b, f in folders(world)]
    candidates.append((BUCKET, f"cand-{rand()}.png"))  # no folder at all
    for bucket, name in candidates:
        payload = {"bucket_id": bucket, "name": name}
        in_cell = cell.all or (not cell.none and world.classify_candidate(SPEC, payload, predicate))
        out = actor.run(lambda c, b=bucket, n=name: c.storage.from_(b).upload(n, PNG, {"content-type": "image/png"}))
        stored = world.count_like(SPEC, payload)
        what = f"storage upload {bucket}/{name} as {role} [{cell}]"
        if in_cell:
            assert out.ok and stored == 1, f"{what}: allowed, got {out}"
            world.service.run(lambda c, b=bucket, n=name: c.storage.from_(b).remove([n]))
            sides.add("allowed")
        else:
            assert_refused(out, what)
            assert stored == 0, f"{what}: refused, but the object exists"
            sides.add("denied")
    return sides


def check_update(world: World, role: str) -> set[str]:
    actor, cell = world.actors[role], SPEC.cell(role, "update")
    expected = objects(world, cell.predicate(SPEC.sets, actor.uid))
    sides = set()
    for key, path in sorted(objects(world).items()):
        bucket, name = split(path)
        before = world.snapshot(SPEC, key)
        out = actor.run(lambda c, b=bucket, n=name: c.storage.from_(b).update(n, PNG, {"content-type": "image/png"}))
        after = world.snapshot(SPEC, key)
        what = f"storage update {path} as {role} [{cell}]"
        if key in expected:
            assert out.ok and after != before, f"{what}: allowed, got {out}"
            sides.add("allowed")
        else:
            assert_refused(out, what)
            assert after == before, f"{what}: refused, but the object changed"
            sides.add("denied")
    return sides


def check_delete(world: World, role: str) -> set[str]:
    actor, cell = world.actors[role], SPEC.cell(role, "delete")
    predicate = cell.predicate(SPEC.sets, actor.uid)
    expected = objects(world, predicate)
    sides = set()
    for key, path in sorted(objects(world).items()):
        bucket, name = split(path)
        what = f"storage remove {path} as {role} [{cell}]"
        if key not in expected:
            before = world.snapshot(SPEC, key)
            out = actor.run(lambda c, b=bucket, n=name: c.storage.from_(b).remove([n]))
            assert out.ok and out.data == [], f"{what}: must remove nothing, got {out}"
            assert world.snapshot(SPEC, key) == before, f"{what}: refused, but the object changed"
            sides.add("denied")
            continue
        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        victim = f"{folder}victim-{rand()}.png"
        made = world.service.run(
            lambda c, b=bucket, n=victim: c.storage.from_(b).upload(n, PNG, {"content-type": "image/png"})
        )
        assert made.ok, f"could not upload a copy to delete: {made}"
        payload = {"bucket_id": bucket, "name": victim}
        assert world.q(
            f"select 1 from storage.objects where bucket_id = %s and name = %s and ({predicate})", [bucket, victim]
        ), f"{what}: the copy is not in the cell"
        out = actor.run(lambda c, b=bucket, n=victim: c.storage.from_(b).remove([n]))
        assert out.ok and [o.get("name") for o in out.data] == [victim], f"{what} (copy): allowed, got {out}"
        assert world.count_like(SPEC, payload) == 0, f"{what} (copy): answered removed, but the row is there"
        sides.add("allowed")
    return sides


@pytest.mark.parametrize(("role", "op"), CELLS, ids=["-".join(c) for c in CELLS])
def test_storage_cell(world: World, role: str, op: str) -> None:
    check = {"select": check_select, "insert": check_insert, "update": check_update, "delete": check_delete}[op]
    cell = SPEC.cell(role, op)
    sides = check(world, role)
    if not cell.none:
        assert "allowed" in sides, f"arrangement gap: no arranged object in {role}'s {op} cell"
    if not cell.all:
        assert "denied" in sides, f"arrangement gap: every arranged object is in {role}'s {op} cell"
    COVERAGE.mark(SPEC.label, role, op, *sides)
