"""Runs last in the policy suite (file order): every cell of the matrix must have been
checked on every side it has, by the tests that ran before; and the suite must have left
the money of its own orders consistent."""

from __future__ import annotations

from tests.policies.matrix import COVERAGE
from tests.policies.world import World


def test_every_matrix_cell_was_checked() -> None:
    missing = COVERAGE.missing()
    assert len(COVERAGE.covered()) == COVERAGE.total, (
        f"{len(missing)} of {COVERAGE.total} cells not (fully) checked:\n" + "\n".join(missing[:40])
    )


def test_the_suite_left_its_money_consistent(world: World) -> None:
    """private.payment_invariant_violations() over the orders, payments and stock of this run."""
    found = world.q(
        "select invariant, entity_id::text, detail from private.payment_invariant_violations() "
        "where entity_id in (select o.id from public.orders o where o.customer_id = any(%(users)s)) "
        "or entity_id in (select p.id from public.payments p where p.customer_id = any(%(users)s)) "
        "or entity_id in (select i.id from public.inventory i join public.vendors v on v.id = i.vendor_id "
        "where v.owner_id = any(%(users)s))",
        world.params(),
    )
    assert found == [], f"money invariants broken by the policy suite: {found}"
