"""The seam between the stand-in and the product that runs it.

A product builds one :class:`StackConfig` (ports, folders, keys, its ``supabase/config.toml``
read by :func:`~supabase_standin.config.load_project_config`) from its own settings, and
plugs what it runs beside the Supabase services in as :class:`Extension` objects. The
stand-in reads no environment variable of the product and knows none of its folders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import uvicorn

from supabase_standin.config import ProjectConfig
from supabase_standin.places import InstancePlaces
from supabase_standin.ports import Port, PortsBusy, taken

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackConfig(InstancePlaces):
    """Everything the stand-in needs to know about one instance, decided by its caller."""

    #: The instance's name (in messages and the health answer).
    instance: str
    #: The project folder: ``supabase/config.toml``, ``supabase/migrations``, ``supabase/functions``.
    project_dir: Path
    #: The instance's own folder: logs, stored objects, the daemon's pid file.
    home: Path
    #: ``supabase/config.toml``, typed.
    project: ProjectConfig
    api_port: int
    db_port: int
    #: First port of the function processes (one port each, in ``functions_dirs`` order).
    functions_port: int
    jwt_secret: str
    anon_key: str
    service_role_key: str
    #: Where PostgreSQL's files live (``home`` unless the cluster must live elsewhere).
    cluster_dir: Path
    #: Folder holding the ``deno`` and ``supabase`` executables.
    tools_dir: Path
    #: Deno's module cache.
    deno_dir: Path
    #: Folders of Edge Functions (one sub-folder with an ``index.ts`` per function); the
    #: first folder wins when two hold the same name.
    functions_dirs: tuple[Path, ...] = ()
    #: Folder of the clusters that live outside their project (pruned when their project is gone).
    cluster_root: Path | None = None
    #: PostgreSQL server binaries, when not found in the usual places.
    pg_bindir: Path | None = None
    #: System user made for the cluster when started by root and there is no ``postgres`` user.
    cluster_user: str = "pg-standin"
    #: Leave the database at the Supabase baseline (no ``supabase db push``).
    skip_migrations: bool = False
    #: GoTrue's ``GOTRUE_SMS_OTP_EXP`` when set apart from config.toml.
    sms_otp_exp: int | None = None
    #: Test phones and their fixed OTPs besides config.toml's ``[auth.sms.test_otp]`` (the
    #: caller's local-only list, so the file itself never needs one).
    sms_test_otp: Mapping[str, str] = field(default_factory=dict)
    #: Header GoTrue keys its per-client rate limits on ("" disables them).
    rate_limit_header: str = "X-Forwarded-For"
    #: The gateway's readiness endpoint.
    health_path: str = "/_standin/health"
    #: ``info.title`` of the Data API's OpenAPI document.
    api_title: str = "Data API (PostgREST-compatible)"

    # -- places (the rest, and the addresses: InstancePlaces) ---------------------------
    @property
    def pid_file(self) -> Path:
        return self.home / "stack.pid"

    # -- functions ----------------------------------------------------------------------
    def function_folders(self) -> list[tuple[str, Path]]:
        """(name, folder) of every function served, in port order."""
        found: dict[str, Path] = {}
        for folder in self.functions_dirs:
            for name in discover_functions(folder):
                found.setdefault(name, folder / name)
        return list(found.items())

    def service_ports(self, extensions: Sequence[Extension] = ()) -> list[Port]:
        """The ports the running stack binds: the gateway, one per function, and the
        extensions' own."""
        ports = [Port(self.api_port, "API")]
        for extension in extensions:
            ports += extension.ports()
        for i, (name, _folder) in enumerate(self.function_folders()):
            ports.append(Port(self.functions_port + i, f"function {name}"))
        return ports

    def database_port(self) -> Port:
        return Port(self.db_port, "database")


def discover_functions(functions_dir: Path) -> list[str]:
    """Function names: sub-folders with an ``index.ts``, not ``_shared`` or hidden ones."""
    if not functions_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in functions_dir.iterdir()
        if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "index.ts").is_file()
    )


@runtime_checkable
class Extension(Protocol):
    """Something the product runs in the stack's process beside the Supabase services (a
    provider sandbox, a scheduler …). The stand-in asks it for its ports before starting
    anything, for the variables its functions need, starts it once the gateway serves and
    stops it first; its readiness is part of the health answer."""

    name: str

    def ports(self) -> list[Port]:
        """Ports it will bind, checked with the stack's own before anything starts."""
        ...

    def functions_env(self) -> Mapping[str, str]:
        """Variables every Edge Function process gets besides Supabase's own."""
        ...

    async def start(self, config: StackConfig) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool: ...


@dataclass
class Stack:
    """The running stand-in: the gateway and its services, and the extensions."""

    config: StackConfig
    extensions: Sequence[Extension] = field(default_factory=tuple)

    async def serve(self) -> None:
        """Serve until SIGTERM/SIGINT; raise :class:`PortsBusy` when a port is taken."""
        from supabase_standin.gateway.app import create_app

        busy = taken(self.config.service_ports(self.extensions))
        if busy:
            raise PortsBusy(busy)
        functions_env: dict[str, str] = {}
        for extension in self.extensions:
            functions_env.update(extension.functions_env())
        gateway = uvicorn.Server(
            uvicorn.Config(
                create_app(self.config, functions_env, self.extensions),
                host="127.0.0.1",
                port=self.config.api_port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                # The gateway is the edge: nothing in front of it may rewrite the peer address
                # (uvicorn would otherwise believe X-Forwarded-For sent from 127.0.0.1).
                proxy_headers=False,
                timeout_graceful_shutdown=5,
                limit_concurrency=1000,
                # Realtime's WebSocket (the sans-I/O protocol of the websockets package).
                ws="websockets-sansio",
            )
        )
        serving = asyncio.create_task(gateway.serve())
        started: list[Extension] = []
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        stopping = asyncio.create_task(stop.wait())
        try:
            for extension in self.extensions:
                await extension.start(self.config)
                started.append(extension)
            await asyncio.wait([stopping, serving], return_when=asyncio.FIRST_COMPLETED)
            if serving.done() and not serving.cancelled() and serving.exception():
                log.error("the gateway failed", exc_info=serving.exception())
        finally:
            for extension in reversed(started):
                try:
                    await extension.stop()
                except Exception:
                    log.exception("extension %s failed to stop", extension.name)
            stopping.cancel()
            gateway.should_exit = True
            if not serving.done():
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(serving, 15)
