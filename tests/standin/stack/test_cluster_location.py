"""Where an instance's PostgreSQL keeps its files. Started by root, the cluster runs as the
``postgres`` user, which may not enter the project folder (a clone in a ``mktemp -d`` folder
or under /root is 0700): its files then live under the cluster root, one folder per project
and instance, so neither two projects nor two instances share one, and the clusters of
projects that were deleted are pruned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wats.settings import Settings, cluster_root, project_key
from wats.stack.postgres import prune_orphans

ROOT = os.geteuid() == 0


def settings_for(root: Path, instance: str) -> Settings:
    return Settings(
        instance=instance,
        root=root,
        config={},
        api_port=1,
        db_port=2,
        sandbox_port=3,
        functions_port=4,
        jwt_secret="x" * 32,
    )


def test_each_project_and_instance_has_its_own_cluster_folder(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    folders = {
        settings_for(a, "dev").cluster_dir,
        settings_for(a, "test").cluster_dir,
        settings_for(b, "dev").cluster_dir,
    }
    assert len(folders) == 3
    for settings in (settings_for(a, "dev"), settings_for(b, "test")):
        if ROOT:
            assert settings.cluster_dir == cluster_root() / project_key(settings.root) / settings.instance
            assert settings.root not in settings.pgdata.parents  # the postgres user never enters the project
            assert settings.socket_dir.parent == settings.cluster_dir
        else:
            assert settings.cluster_dir == settings.home


def test_the_running_cluster_of_the_instance_under_test_lives_where_its_user_can_reach(target):
    settings = target.settings
    if target.url != settings.api_url:
        pytest.skip("looks at the WATS local stack's own cluster")
    assert (settings.pgdata / "PG_VERSION").is_file()
    if ROOT and settings.cluster_dir != settings.home:
        assert (settings.home / "cluster").resolve() == settings.cluster_dir
        assert (settings.log_dir / "postgres.log").resolve() == settings.postgres_log
        owner = settings.pgdata.stat().st_uid
        assert owner != 0, "PostgreSQL refuses to run as root: its files belong to its own user"
        for folder in (settings.cluster_dir, *settings.cluster_dir.parents):
            if folder == Path("/"):
                break
            assert folder.stat().st_mode & 0o001 or folder.stat().st_uid == owner, f"{folder} is closed to it"


@pytest.mark.skipif(not ROOT, reason="clusters live outside their project only when started by root")
def test_the_clusters_of_deleted_projects_are_pruned_and_others_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("WATS_CLUSTER_ROOT", str(tmp_path / "clusters"))
    alive, gone = tmp_path / "alive", tmp_path / "gone"
    alive.mkdir()
    for project in (alive, gone):
        folder = cluster_root() / project_key(project) / "dev"
        folder.mkdir(parents=True)
        (folder.parent / "project").write_text(f"{project}\n")
    removed = prune_orphans()
    assert removed == [cluster_root() / project_key(gone)]
    assert (cluster_root() / project_key(alive) / "dev").is_dir()
    assert not (cluster_root() / project_key(gone)).exists()
