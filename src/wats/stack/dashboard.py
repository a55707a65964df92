"""The admin dashboard on its own port: the files of its production build (dashboard/dist,
built by ``wats start`` through npm), and a ``/config.js`` that points it at this instance's
API with the anon key. The service role key never reaches it: the dashboard signs in by phone
OTP and every rule is RLS and the SQL functions."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from supabase_standin.ports import Port
from supabase_standin.stack import StackConfig
from wats.settings import Settings


class DashboardNotBuilt(RuntimeError):
    pass


def config_js(settings: Settings) -> str:
    """The runtime settings the built dashboard reads before its bundle (public values only)."""
    values = {"supabaseUrl": settings.api_url, "anonKey": settings.anon_key}
    return f"window.__WATS_CONFIG__ = {json.dumps(values)};\n"


def create_app(settings: Settings, dist: Path | None = None) -> Starlette:
    root = (dist or settings.dashboard_dist).resolve()
    script = config_js(settings)

    async def config(_: Request) -> Response:
        return Response(script, media_type="text/javascript", headers={"cache-control": "no-store"})

    async def files(request: Request) -> Response:
        rel = request.path_params.get("path", "")
        target = (root / rel).resolve()
        if rel and target.is_file() and target.is_relative_to(root):
            cache = "public, max-age=31536000, immutable" if rel.startswith("assets/") else "no-cache"
            return FileResponse(target, headers={"cache-control": cache})
        if rel.startswith("assets/"):
            return Response("not found", status_code=404)
        index = root / "index.html"
        if not index.is_file():
            return Response(
                "The dashboard is not built: run ./scripts/wats start (or npm run build in dashboard/).",
                status_code=503,
            )
        return FileResponse(index, headers={"cache-control": "no-cache"})

    return Starlette(routes=[Route("/config.js", config), Route("/{path:path}", files)])


#: What the build depends on besides src/ (hashed to tell whether dist/ is current).
BUILD_INPUTS = ("index.html", "package-lock.json", "vite.config.ts", "tsconfig.json", "public/config.js")
STAMP = ".wats-build-stamp"


def source_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    files = [folder / name for name in BUILD_INPUTS] + sorted((folder / "src").rglob("*"))
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_built(settings: Settings, announce: Callable[[], None] | None = None) -> bool:
    """Build dashboard/dist unless it was built from these very sources; True when it built."""
    folder = settings.root / "dashboard"
    stamp = settings.dashboard_dist / STAMP
    digest = source_digest(folder)
    if stamp.is_file() and stamp.read_text().strip() == digest and (settings.dashboard_dist / "index.html").is_file():
        return False
    if announce is not None:
        announce()
    build(settings)
    stamp.write_text(digest + "\n")
    return True


def build(settings: Settings, *, quiet: bool = True) -> None:
    """``npm run build`` in dashboard/ (its dependencies come from ./scripts/wats, npm ci)."""
    folder = settings.root / "dashboard"
    if not (folder / "node_modules").is_dir():
        raise DashboardNotBuilt("dashboard/node_modules is missing: run ./scripts/wats (it runs npm ci in dashboard/)")
    result = subprocess.run(
        ["npm", "run", "build", "--silent"],
        cwd=folder,
        capture_output=quiet,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DashboardNotBuilt(f"the dashboard build failed:\n{result.stdout or ''}{result.stderr or ''}")


class Dashboard:
    """The built admin dashboard, served on ``settings.dashboard_port``."""

    name = "dashboard"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def ports(self) -> list[Port]:
        return [Port(self.settings.dashboard_port, "dashboard")]

    def functions_env(self) -> dict[str, str]:
        return {}

    async def start(self, config: StackConfig) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.settings),
                host="127.0.0.1",
                port=self.settings.dashboard_port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                proxy_headers=False,
                timeout_graceful_shutdown=2,
            )
        )
        self._task = asyncio.create_task(self._server.serve())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 15)

    def ready(self) -> bool:
        return self._server is not None and self._server.started
