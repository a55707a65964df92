"""The local PostgreSQL cluster: find the binaries, initdb, start, stop, apply the baseline.

PostgreSQL refuses to run as root, so when the stack is started by root the cluster runs
as an unprivileged system user (``postgres`` when it exists, else
``StackConfig.cluster_user``, made on first use). That user may not be able to enter the
project folder (a clone under /root, or in a ``mktemp -d`` folder, is 0700), so the caller
then puts the cluster's files outside it (``StackConfig.cluster_dir``, under
``StackConfig.cluster_root``); PostgreSQL reads nothing from the project.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg

from supabase_standin.hosted.modules import prepare
from supabase_standin.stack import StackConfig

MIN_MAJOR = 15
INSTALL_HINT = (
    "PostgreSQL {min}+ server binaries (initdb, pg_ctl, postgres) were not found. Install them "
    "(Debian/Ubuntu: `sudo apt-get install postgresql-15`; Fedora: `sudo dnf install "
    "postgresql15-server`; macOS: `brew install postgresql@15`) or name their folder as the "
    "stack's pg_bindir."
)


class PostgresMissing(RuntimeError):
    """No usable PostgreSQL server installation on this machine."""


class ClusterError(RuntimeError):
    """The cluster could not be created, started or stopped (the reason is in the message)."""


def _major(bindir: Path) -> int:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else 0


def find_bindir(override: Path | None = None) -> Path:
    """The folder of the newest PostgreSQL (≥ 15) server binaries on this machine
    (``override`` first)."""
    candidates: list[Path] = []
    if override is not None:
        candidates.append(override)
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(p) for p in glob.glob("/usr/pgsql-*/bin")]
    which = shutil.which("postgres")
    if which:
        candidates.append(Path(which).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out:
            candidates.append(Path(out))
    for bindir in candidates:
        installed = (bindir / "postgres").is_file() and (bindir / "initdb").is_file()
        if installed and _major(bindir) >= MIN_MAJOR:
            return bindir
    raise PostgresMissing(INSTALL_HINT.format(min=MIN_MAJOR))


@dataclass(frozen=True)
class RunAs:
    """The system user the cluster runs as (``None`` fields: the current user)."""

    name: str | None = None
    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_current_process(cls, fallback: str = "pg-standin") -> RunAs:
        """The current user, or as root ``postgres`` (else ``fallback``, made if missing)."""
        if os.geteuid() != 0:
            return cls()
        for name in ("postgres", fallback):
            try:
                entry = pwd.getpwnam(name)
                return cls(name, entry.pw_uid, entry.pw_gid)
            except KeyError:
                continue
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", fallback],
            check=True,
        )
        entry = pwd.getpwnam(fallback)
        return cls(fallback, entry.pw_uid, entry.pw_gid)

    def chown(self, path: Path) -> None:
        if self.uid is None or self.gid is None:
            return
        for dirpath, _dirs, files in os.walk(path):
            os.chown(dirpath, self.uid, self.gid)
            for f in files:
                os.chown(os.path.join(dirpath, f), self.uid, self.gid)

    def chown_one(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        if self.uid is None:
            return subprocess.run(args, env=env, text=True, capture_output=True)
        env["HOME"] = "/tmp"
        # cwd: not the caller's folder, which the cluster's user may not be allowed to enter
        return subprocess.run(
            args, env=env, text=True, capture_output=True, cwd="/", user=self.uid, group=self.gid, extra_groups=[]
        )


def _check_traversable(path: Path, run_as: RunAs) -> None:
    """A cluster an earlier version made inside the project: its user must reach it."""
    if run_as.uid is None:
        return
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            raise ClusterError(
                f"{parent} is not searchable by other users, so the PostgreSQL user '{run_as.name}' cannot "
                f"reach the cluster in {path}. Stop the stack and delete {path / 'pgdata'}: the next start "
                f"makes a new one outside the project."
            )


def _link(link: Path, target: Path) -> None:
    """``link`` → ``target`` (replacing whatever ``link`` was)."""
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def prune_orphans(root: Path, pg_bindir: Path | None = None) -> list[Path]:
    """Remove the clusters under ``root`` of projects whose folder is gone, e.g. a
    ``mktemp -d`` clone deleted without stopping its stack; a cluster still running there
    is stopped first. Only as root, the only case they live there."""
    if os.geteuid() != 0 or not root.is_dir():
        return []
    removed: list[Path] = []
    for project in root.iterdir():
        marker = project / "project"
        try:
            recorded = Path(marker.read_text().strip())
        except OSError:
            continue
        if not recorded.is_absolute() or recorded.exists():
            continue
        for instance in project.iterdir():
            if (instance / "pgdata" / "postmaster.pid").is_file():
                with contextlib.suppress(PostgresMissing, OSError):
                    RunAs.for_current_process().run(
                        [
                            str(find_bindir(pg_bindir) / "pg_ctl"),
                            "-D",
                            str(instance / "pgdata"),
                            "-m",
                            "immediate",
                            "stop",
                        ]
                    )
        shutil.rmtree(project, ignore_errors=True)
        removed.append(project)
    return removed


class Cluster:
    """One instance's PostgreSQL cluster."""

    def __init__(self, config: StackConfig):
        self.settings = config
        self.run_as = RunAs.for_current_process(config.cluster_user)
        self._bindir: Path | None = None

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir(self.settings.pg_bindir)
        return self._bindir

    @property
    def logfile(self) -> Path:
        return self.settings.postgres_log

    @property
    def outside_project(self) -> bool:
        return self.settings.cluster_dir != self.settings.home

    def _prepare_dirs(self) -> None:
        """The cluster's folders, owned by its user; outside the project, the project's
        record (for pruning) and the pointers ``<home>/cluster`` and
        ``<home>/logs/postgres.log``."""
        s = self.settings
        if self.outside_project:
            project = s.cluster_dir.parent
            project.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            project.mkdir(mode=0o755, exist_ok=True)
            (project / "project").write_text(f"{s.project_dir.resolve()}\n")
            s.cluster_dir.mkdir(mode=0o700, exist_ok=True)
            self.run_as.chown_one(s.cluster_dir)
            s.home.mkdir(parents=True, exist_ok=True)
            _link(s.home / "cluster", s.cluster_dir)
            _link(s.log_dir / "postgres.log", s.postgres_log)
        else:
            _check_traversable(s.home, self.run_as)
        s.log_dir.mkdir(parents=True, exist_ok=True)
        s.socket_dir.mkdir(parents=True, exist_ok=True)
        self.run_as.chown_one(s.socket_dir)
        if not self.logfile.exists():
            self.logfile.touch()
        self.run_as.chown_one(self.logfile)

    def exists(self) -> bool:
        return (self.settings.pgdata / "PG_VERSION").is_file()

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.run_as.run([str(self.bindir / "pg_ctl"), "-D", str(self.settings.pgdata), *args])
        if check and proc.returncode != 0:
            raise ClusterError(f"pg_ctl {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc

    def init(self) -> None:
        """Create the cluster (superuser ``supabase_admin``) and write its configuration."""
        s = self.settings
        self._prepare_dirs()
        if s.pgdata.exists():
            shutil.rmtree(s.pgdata)
        s.pgdata.mkdir(mode=0o700)
        self.run_as.chown_one(s.pgdata)
        pwfile = s.cluster_dir / "pwfile"
        pwfile.write_text("postgres\n")
        self.run_as.chown_one(pwfile)
        proc = self.run_as.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(s.pgdata),
                "-U",
                "supabase_admin",
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ]
        )
        pwfile.unlink()
        if proc.returncode != 0:
            raise ClusterError(f"initdb failed:\n{proc.stdout}{proc.stderr}")
        conf = [
            "# written by the local Supabase stand-in",
            f"port = {s.db_port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{s.socket_dir}'",
            "max_connections = 200",
            "max_worker_processes = 16",
            "shared_buffers = 256MB",
            "work_mem = 16MB",
            "maintenance_work_mem = 256MB",
            "log_min_messages = warning",
            "log_line_prefix = '%m [%p] %q%u@%d '",
            "timezone = 'UTC'",
        ]
        with (s.pgdata / "postgresql.conf").open("a") as fh:
            fh.write("\n" + "\n".join(conf) + "\n")
        self.configure_modules()

    def configure_modules(self) -> None:
        """Write ``standin.conf``: the server modules hosted Supabase loads, as emulated
        here (:mod:`supabase_standin.hosted.modules`), built or copied afresh; and make
        ``postgresql.conf`` include it (last, so it wins over older lines)."""
        modules = prepare(self.bindir, self.settings.cluster_dir, self.run_as.chown)
        pgdata = self.settings.pgdata
        extra = pgdata / "standin.conf"
        extra.write_text(
            "# written by the local Supabase stand-in at every start: hosted Supabase's modules\n"
            + "\n".join(modules.settings)
            + "\n"
        )
        self.run_as.chown_one(extra)
        main = pgdata / "postgresql.conf"
        include = "include_if_exists = 'standin.conf'"
        if include not in main.read_text():
            with main.open("a") as fh:
                fh.write(f"\n{include}\n")

    def is_running(self) -> bool:
        if not self.exists():
            return False
        return self._pg_ctl("status", check=False).returncode == 0

    def start(self) -> None:
        self._prepare_dirs()
        if self.is_running():
            return
        self.configure_modules()
        self._pg_ctl("-l", str(self.logfile), "-w", "-t", "60", "start")
        self.wait_ready()

    def stop(self) -> None:
        if self.is_running():
            self._pg_ctl("-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """``pg_ctl restart`` (fast shutdown): every client connection is cut, as when the
        server restarts under a running stack."""
        self._pg_ctl("-l", str(self.logfile), "-m", "fast", "-w", "-t", "60", "restart")
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.settings.superuser_dsn, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # -- database -----------------------------------------------------------------------
    def apply_baseline(self) -> None:
        """Run the Supabase baseline SQL files, in order, as the superuser."""
        folder = resources.files("supabase_standin") / "baseline"
        files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
        with psycopg.connect(self.settings.superuser_dsn, autocommit=True) as conn:
            for f in files:
                conn.execute(f.read_text())

    def recreate_database(self) -> None:
        """Drop and recreate the ``postgres`` database, then apply the baseline."""
        with psycopg.connect(
            f"host={self.settings.socket_dir} port={self.settings.db_port} dbname=template1 user=supabase_admin",
            autocommit=True,
        ) as conn:
            conn.execute("drop database if exists postgres with (force)")
            conn.execute("create database postgres")
            roles = conn.execute(
                "select rolname from pg_roles where rolname in "
                "('anon','authenticated','service_role','authenticator','postgres',"
                "'supabase_auth_admin','supabase_storage_admin')"
            ).fetchall()
            # Roles are cluster-wide: drop them so the baseline recreates them cleanly.
            for (role,) in roles:
                conn.execute(f'drop owned by "{role}" cascade')
            for (role,) in roles:
                conn.execute(f'drop role "{role}"')
        self.apply_baseline()
