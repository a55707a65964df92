"""Hosted Supabase's server modules, as the local cluster emulates them.

A hosted project's PostgreSQL loads modules a plain Debian PostgreSQL does not have:

- **supautils** lets the non-superuser ``postgres`` create the "privileged" extensions
  (running their scripts as ``supabase_admin``, then a custom script that grants
  ``postgres`` what it may use) and create policies on some tables it does not own.
  Locally Debian's **pgextwlist** does the first (same idea, same custom-script layout,
  the bootstrap superuser is ``supabase_admin``); the baseline's event triggers
  (``06_hosted_modules.sql``) do the second.
- **pg-safeupdate**, preloaded by ``authenticator``, refuses UPDATE and DELETE without a
  WHERE clause. Debian does not package it, so the stand-in builds its own
  (``safeupdate.c``) into the cluster's folder and points ``dynamic_library_path`` there.

:func:`prepare` builds and copies what is needed and returns the server settings; the
cluster writes them to ``standin.conf`` (included by ``postgresql.conf``) at every start,
so an older cluster picks them up at its next start. ``standin.server_modules`` names the
modules that are really there: the baseline turns each on only when it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerModules:
    """What this cluster loads, and the ``postgresql.conf`` lines that say so."""

    preload: tuple[str, ...]
    present: tuple[str, ...]
    settings: tuple[str, ...]


def _package() -> Traversable:
    return resources.files("supabase_standin") / "hosted"


def _pg_config(bindir: Path, flag: str) -> str:
    tool = bindir / "pg_config"
    if not tool.exists():
        return ""
    return subprocess.run([str(tool), flag], capture_output=True, text=True).stdout.strip()


def _has_library(bindir: Path, name: str) -> bool:
    libdirs = [Path(p) for p in (_pg_config(bindir, "--pkglibdir"),) if p] + [bindir.parent / "lib"]
    return any((d / f"{name}.so").exists() for d in libdirs)


def build_safeupdate(bindir: Path, libdir: Path) -> Path | None:
    """``libdir/safeupdate.so`` built from ``safeupdate.c`` for this PostgreSQL (again only
    when the source or the server changed); ``None`` with a warning when this machine
    lacks the server headers (Debian: ``postgresql-server-dev-<major>``) or a C compiler."""
    source = (_package() / "safeupdate.c").read_bytes()
    include = _pg_config(bindir, "--includedir-server")
    version = _pg_config(bindir, "--version")
    target = libdir / "safeupdate.so"
    stamp = libdir / "safeupdate.stamp"
    digest = hashlib.sha256(source + version.encode()).hexdigest()
    if target.exists() and stamp.exists() and stamp.read_text() == digest:
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not include or not (Path(include) / "postgres.h").exists() or compiler is None:
        log.warning(
            "cannot build safeupdate (needs a C compiler and PostgreSQL's server headers, Debian: "
            "postgresql-server-dev-%s): the Data API will carry out unfiltered UPDATE and DELETE, "
            "which hosted Supabase refuses",
            version.split()[-1].split(".")[0] if version else "<major>",
        )
        return None
    libdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "safeupdate.c"
        src.write_bytes(source)
        built = Path(tmp) / "safeupdate.so"
        proc = subprocess.run(
            [compiler, "-O2", "-Wall", "-fPIC", "-shared", f"-I{include}", "-o", str(built), str(src)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            log.warning("building safeupdate failed:\n%s%s", proc.stdout, proc.stderr)
            return None
        partial = libdir / "safeupdate.so.new"
        shutil.copyfile(built, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, target)  # a running backend keeps the file it mapped
    stamp.write_text(digest)
    return target


def copy_extension_scripts(folder: Path) -> None:
    """The custom scripts run around privileged ``create extension`` (``<ext>/after-create.sql``)."""
    shutil.rmtree(folder, ignore_errors=True)
    scripts = _package() / "extension-scripts"
    for extension in scripts.iterdir():
        if not extension.is_dir():
            continue
        (folder / extension.name).mkdir(parents=True, exist_ok=True)
        for script in extension.iterdir():
            if script.name.endswith(".sql"):
                (folder / extension.name / script.name).write_text(script.read_text())


def prepare(bindir: Path, cluster_dir: Path, chown: Callable[[Path], None]) -> ServerModules:
    """Build and copy the emulated modules into ``cluster_dir`` (owned through ``chown``
    by the cluster's user) and return the server settings that load them."""
    preload = ["pg_stat_statements"]
    present: list[str] = []
    settings: list[str] = []
    if _has_library(bindir, "pg_cron"):
        preload.append("pg_cron")
        present.append("pg_cron")
        settings += ["cron.database_name = 'postgres'", "cron.use_background_workers = on"]
    if _has_library(bindir, "pgextwlist"):
        scripts = cluster_dir / "extension-scripts"
        copy_extension_scripts(scripts)
        chown(scripts)
        preload.append("pgextwlist")
        present.append("pgextwlist")
        settings.append(f"extwlist.custom_path = '{scripts}'")
    else:
        log.warning(
            "pgextwlist is not installed (Debian: postgresql-<major>-pgextwlist): `postgres` cannot "
            "create pg_cron and the other extensions hosted Supabase lets it create"
        )
    libdir = cluster_dir / "lib"
    if build_safeupdate(bindir, libdir) is not None:
        chown(libdir)
        present.append("safeupdate")
        settings.append(f"dynamic_library_path = '$libdir:{libdir}'")
    settings.insert(0, f"shared_preload_libraries = '{','.join(preload)}'")
    settings.append(f"standin.server_modules = '{','.join(present)}'")
    return ServerModules(tuple(preload), tuple(present), tuple(settings))
