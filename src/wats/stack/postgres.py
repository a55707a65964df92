"""The PostgreSQL cluster of one WATS instance: the stand-in's :class:`~supabase_standin.cluster.Cluster`
where this instance's settings put it (``.wats/<instance>``, or under ``WATS_CLUSTER_ROOT``
when started by root)."""

from __future__ import annotations

from pathlib import Path

from supabase_standin import cluster
from supabase_standin.cluster import ClusterError, PostgresMissing
from wats.settings import Settings, cluster_root

__all__ = ["Cluster", "ClusterError", "PostgresMissing", "prune_orphans"]


class Cluster(cluster.Cluster):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.standin())


def prune_orphans() -> list[Path]:
    """Remove the clusters of deleted projects under ``WATS_CLUSTER_ROOT``."""
    return cluster.prune_orphans(cluster_root())
