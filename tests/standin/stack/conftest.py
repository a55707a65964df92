"""Fixtures for the local stack's own behaviour (not Supabase's contract): its database
restarting under it, its start refusing busy ports. These act on the instance under test,
so they run only against the WATS local stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wats.stack.postgres import Cluster


@pytest.fixture
def cluster(target) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    """The PostgreSQL cluster of the instance under test; running again afterwards."""
    if target.url != target.settings.api_url:
        pytest.skip("acts on the WATS local stack's own PostgreSQL")
    cluster = Cluster(target.settings)
    try:
        yield cluster
    finally:
        if not cluster.is_running():
            cluster.start()
