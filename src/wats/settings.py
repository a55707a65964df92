"""Settings of one local stack instance: where it lives, its ports and its keys.

Instances live side by side: ``dev`` (the one ``wats start`` runs, on the Supabase CLI's
ports) and ``test`` (the one ``wats test`` runs, ports shifted by 1000) so the test suite
never touches a developer's data; any other name shifts ports by ``WATS_PORT_OFFSET``
(default 2000). Every value can be overridden from the
environment; ``.env.example`` lists the variables.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from supabase_standin import keys
from supabase_standin.config import ProjectConfig, load_project_config, project_config
from supabase_standin.places import InstancePlaces
from supabase_standin.stack import StackConfig

#: The Supabase CLI's well-known local JWT secret (public, local development only).
DEFAULT_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"

PORT_OFFSETS = {"dev": 0, "test": 1000}
#: A folder of extra functions the stack serves besides supabase/functions: only ever set by
#: ``wats test`` for its test instance (tests/standin/functions/fixtures), never deployed.
TEST_FUNCTIONS_ENV = "WATS_TEST_FUNCTIONS_DIR"
#: Where the running stack answers whether it is ready.
HEALTH_PATH = "/_wats/health"


def project_dir() -> Path:
    """The repository root: the folder holding ``supabase/config.toml``."""
    override = os.environ.get("WATS_PROJECT_DIR")
    if override:
        return Path(override).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "supabase" / "config.toml").is_file():
                return candidate
    raise RuntimeError("cannot find the WATS project (a folder with supabase/config.toml)")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def cluster_root() -> Path:
    """The folder of the clusters that live outside their project (see ``cluster_dir``)."""
    return Path(os.environ.get("WATS_CLUSTER_ROOT") or "/var/lib/wats")


def project_key(root: Path) -> str:
    """A short, stable name for a project folder."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def _studio_port(raw: Any) -> int:
    studio = raw.get("studio", {}) if isinstance(raw, Mapping) else {}
    port = studio.get("port", 54323) if isinstance(studio, Mapping) else 54323
    return int(port)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class Settings(InstancePlaces):
    """Everything a component of the local stack needs to know about its instance."""

    instance: str
    root: Path
    config: dict[str, Any] = field(repr=False)
    api_port: int
    db_port: int
    sandbox_port: int
    functions_port: int
    jwt_secret: str
    #: Where the built admin dashboard (dashboard/dist) is served: Studio's port of
    #: supabase/config.toml (54323; Studio is not part of the local stack), clear of the
    #: functions' ports (54340 and up, one per function).
    dashboard_port: int = 54323

    @classmethod
    def load(cls, instance: str | None = None) -> Settings:
        instance = instance or os.environ.get("WATS_INSTANCE", "dev")
        offset = _env_int("WATS_PORT_OFFSET", PORT_OFFSETS.get(instance, 2000))
        root = project_dir()
        project = load_project_config(root)
        api_port = _env_int("WATS_API_PORT", project.api.port + offset)
        db_port = _env_int("WATS_DB_PORT", project.db.port + offset)
        return cls(
            instance=instance,
            root=root,
            config=dict(project.raw),
            api_port=api_port,
            db_port=db_port,
            sandbox_port=_env_int("WATS_SANDBOX_PORT", 54330 + offset),
            functions_port=_env_int("WATS_FUNCTIONS_PORT", 54340 + offset),
            jwt_secret=os.environ.get("WATS_JWT_SECRET", DEFAULT_JWT_SECRET),
            dashboard_port=_env_int("WATS_DASHBOARD_PORT", _studio_port(project.raw) + offset),
        )

    # -- places -------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        """Git-ignored folder with this instance's state."""
        return self.root / ".wats" / self.instance

    @property
    def cluster_dir(self) -> Path:
        """Where PostgreSQL's own files (data, socket, its log) live.

        Run by root, the cluster runs as the ``postgres`` user, which may not be able to
        enter the project folder (a clone under /root or in a ``mktemp -d`` folder is 0700).
        Its files then live in ``$WATS_CLUSTER_ROOT`` (default ``/var/lib/wats``), one folder
        per project (a hash of its path) and instance, so projects and instances never share
        one; ``.wats/<instance>/cluster`` points there. A cluster made in the project by an
        earlier version stays where it is. Otherwise, the instance's own folder."""
        if not _is_root() or (self.home / "pgdata" / "PG_VERSION").is_file():
            return self.home
        return cluster_root() / project_key(self.root) / self.instance

    @property
    def bin_dir(self) -> Path:
        return self.root / "tools" / "node_modules" / ".bin"

    # -- addresses ----------------------------------------------------------------------
    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def dashboard_dist(self) -> Path:
        """The dashboard's production build (``npm run build`` in dashboard/)."""
        return self.root / "dashboard" / "dist"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    # -- keys ---------------------------------------------------------------------------
    @cached_property
    def anon_key(self) -> str:
        return os.environ.get("WATS_ANON_KEY") or keys.api_key(self.jwt_secret, "anon")

    @cached_property
    def service_role_key(self) -> str:
        return os.environ.get("WATS_SERVICE_ROLE_KEY") or keys.api_key(self.jwt_secret, "service_role")

    # -- supabase/config.toml ----------------------------------------------------------
    @cached_property
    def project(self) -> ProjectConfig:
        """supabase/config.toml, typed (the stand-in's one reader of the file)."""
        return project_config(self.config)

    @property
    def api_config(self) -> dict[str, Any]:
        """The raw ``[api]`` table, for tools that read it directly."""
        api = self.config.get("api", {})
        return api if isinstance(api, dict) else {}

    # -- the stand-in -------------------------------------------------------------------
    def functions_dirs(self, test_functions: str | None = None) -> tuple[Path, ...]:
        """supabase/functions, then the test-only folder when ``wats test`` gave one
        (``test_functions``, else ``WATS_TEST_FUNCTIONS_DIR``)."""
        extra = test_functions or os.environ.get(TEST_FUNCTIONS_ENV)
        folders = [self.root / "supabase" / "functions"]
        if extra:
            folders.append(Path(extra))
        return tuple(folders)

    def standin(self, test_functions: str | None = None) -> StackConfig:
        """The stand-in's configuration for this instance, from these settings and the
        WATS_* variables (``.env.example``)."""
        from wats.test_otp import local_test_otps  # the seed's people; wats.seed imports this module

        otp_exp = os.environ.get("WATS_AUTH_SMS_OTP_EXP")
        pg_bindir = os.environ.get("WATS_PG_BINDIR")
        return StackConfig(
            instance=self.instance,
            project_dir=self.root,
            home=self.home,
            project=self.project,
            api_port=self.api_port,
            db_port=self.db_port,
            functions_port=self.functions_port,
            jwt_secret=self.jwt_secret,
            anon_key=self.anon_key,
            service_role_key=self.service_role_key,
            cluster_dir=self.cluster_dir,
            tools_dir=self.bin_dir,
            deno_dir=self.root / ".wats" / "deno",
            functions_dirs=self.functions_dirs(test_functions),
            cluster_root=cluster_root(),
            pg_bindir=Path(pg_bindir) if pg_bindir else None,
            cluster_user="wats-postgres",
            skip_migrations=os.environ.get("WATS_SKIP_MIGRATIONS") == "1",
            sms_otp_exp=int(otp_exp) if otp_exp else None,
            sms_test_otp=local_test_otps(),
            rate_limit_header=os.environ.get("WATS_AUTH_RATE_LIMIT_HEADER", "X-Forwarded-For"),
            health_path=HEALTH_PATH,
            api_title="WATS Data API (PostgREST-compatible)",
        )

    def client_env(self) -> dict[str, str]:
        """Variables that point a client (tests, seed, demo) at this instance."""
        return {
            "SUPABASE_URL": self.api_url,
            "SUPABASE_ANON_KEY": self.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": self.service_role_key,
            "SUPABASE_DB_URL": self.db_url(),
            "WATS_SANDBOX_URL": self.sandbox_url,
            "WATS_INSTANCE": self.instance,
        }
