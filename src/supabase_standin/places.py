"""Where an instance keeps its files and how it is reached, derived from its home folder,
its cluster folder and its two ports: shared by the stand-in's ``StackConfig`` and by a
caller's own settings that name the same instance."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class _Instance(Protocol):
    @property
    def home(self) -> Path: ...
    @property
    def cluster_dir(self) -> Path: ...
    @property
    def api_port(self) -> int: ...
    @property
    def db_port(self) -> int: ...


class InstancePlaces:
    """Mixin: the places and addresses of an instance with ``home``, ``cluster_dir``,
    ``api_port`` and ``db_port``."""

    @property
    def log_dir(self: _Instance) -> Path:
        return self.home / "logs"

    @property
    def storage_dir(self: _Instance) -> Path:
        return self.home / "storage"

    @property
    def pgdata(self: _Instance) -> Path:
        return self.cluster_dir / "pgdata"

    @property
    def socket_dir(self: _Instance) -> Path:
        return self.cluster_dir / "run"

    @property
    def postgres_log(self: _Instance) -> Path:
        """PostgreSQL's log (``logs/postgres.log`` links to it when it lives elsewhere)."""
        if self.cluster_dir == self.home:
            return self.home / "logs" / "postgres.log"
        return self.cluster_dir / "postgres.log"

    @property
    def api_url(self: _Instance) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def superuser_dsn(self: _Instance) -> str:
        """Unix-socket connection as the cluster's superuser (tooling only, never API traffic)."""
        return f"host={self.cluster_dir / 'run'} port={self.db_port} dbname=postgres user=supabase_admin"

    def db_url(self: _Instance, user: str = "postgres", password: str = "postgres", database: str = "postgres") -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.db_port}/{database}"
