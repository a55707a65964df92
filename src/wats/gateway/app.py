"""The local stack's API gateway on one port, as ``supabase start`` serves it:
``/rest/v1`` (Data API), ``/auth/v1`` (Auth), ``/storage/v1`` (Storage) and
``/functions/v1`` (Edge Functions), behind the checks Kong makes."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wats.auth.service import AuthService
from wats.database import Pool
from wats.functions.manager import FunctionsHost
from wats.gateway.guards import Gateway, internal_error
from wats.rest.service import RestConfig, RestService
from wats.settings import Settings
from wats.storage.service import StorageService

log = logging.getLogger("wats.gateway")

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
DEFAULT_MAX_BODY = 10 * 1024 * 1024


def parse_size(text: str | int | None, default: int) -> int:
    """``"50MiB"`` / ``"5MB"`` / ``"500KB"`` → bytes."""
    if text is None:
        return default
    if isinstance(text, int):
        return text
    units = {"kib": 1024, "kb": 1000, "mib": 1024**2, "mb": 1000**2, "gib": 1024**3, "gb": 1000**3, "b": 1}
    lowered = text.strip().lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            return int(float(lowered[: -len(unit)].strip()) * factor)
    return int(lowered)


def pool(settings: Settings, user: str, *, min_size: int, max_size: int) -> Pool:
    """Connections of one role; each is checked before use, so a database restart costs no
    request once it is back, and a database that is down is answered 503 at once."""
    return Pool(
        settings.db_url(user=user),
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 3},
        name=user,
    )


class Stack:
    """The services behind the gateway and the database pools they share."""

    def __init__(self, settings: Settings, functions_env: dict[str, str]):
        self.settings = settings
        api = settings.api_config
        self.api_pool = pool(settings, "authenticator", min_size=2, max_size=20)
        self.auth_pool = pool(settings, "supabase_auth_admin", min_size=1, max_size=8)
        self.storage_admin_pool = pool(settings, "supabase_storage_admin", min_size=1, max_size=4)
        self.rest = RestService(
            RestConfig(
                schemas=list(api.get("schemas", ["public"])),
                extra_search_path=list(api.get("extra_search_path", ["public", "extensions"])),
                max_rows=api.get("max_rows"),
                jwt_secret=settings.jwt_secret,
            ),
            self.api_pool,
        )
        self.functions = FunctionsHost(settings, functions_env)
        self.auth = AuthService(settings, self.auth_pool)
        self.storage = StorageService(settings, self.api_pool, self.storage_admin_pool)

    async def start(self) -> None:
        for p in (self.api_pool, self.auth_pool, self.storage_admin_pool):
            await p.open(timeout=30)
        await self.rest.start()
        await self.storage.start()
        await self.functions.start()

    async def stop(self) -> None:
        await self.functions.stop()
        await self.storage.stop()
        await self.rest.stop()
        for p in (self.api_pool, self.auth_pool, self.storage_admin_pool):
            await p.close()


def create_app(settings: Settings, functions_env: dict[str, str] | None = None) -> Gateway:
    stack = Stack(settings, functions_env or {})

    async def rest(request: Request) -> Response:
        return await stack.rest.handle(request, request.path_params.get("path", ""))

    async def auth(request: Request) -> Response:
        return await stack.auth.handle(request, request.path_params.get("path", ""))

    async def storage(request: Request) -> Response:
        return await stack.storage.handle(request, request.path_params.get("path", ""))

    async def functions(request: Request) -> Response:
        return await stack.functions.handle(request, request.path_params.get("path", ""))

    async def health(_request: Request) -> Response:
        fns = stack.functions.functions.values()
        body = {
            "rest": stack.rest.cache is not None,
            "functions": all(f.ready.is_set() for f in fns),
            "function_processes": {
                f.name: {
                    "pid": f.process.pid if f.process else None,
                    "ready": f.ready.is_set(),
                    "restarts": f.restarts,
                }
                for f in fns
            },
        }
        return Response(json.dumps(body).encode(), media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await stack.start()
        try:
            yield
        finally:
            await stack.stop()

    routes = [
        Route("/rest/v1/{path:path}", rest, methods=ALL_METHODS),
        Route("/rest/v1", rest, methods=ALL_METHODS),
        Route("/auth/v1/{path:path}", auth, methods=ALL_METHODS),
        Route("/storage/v1/{path:path}", storage, methods=ALL_METHODS),
        Route("/functions/v1/{path:path}", functions, methods=ALL_METHODS),
        Route("/_wats/health", health, methods=["GET"]),
    ]

    async def unhandled(request: Request, _exc: Exception) -> Response:
        # Starlette answers an unhandled exception itself (plain text) before the gateway
        # sees it; answer JSON in the service's shape instead. The gateway logs it.
        return Response(internal_error(request.url.path), status_code=500, media_type="application/json")

    async def no_route(_request: Request, exc: Exception) -> Response:
        # what Kong answers for a path or method no service is mounted on
        status = getattr(exc, "status_code", 404)
        message = "no Route matched with those values" if status == 404 else "Method Not Allowed"
        return Response(json.dumps({"message": message}).encode(), status_code=status, media_type="application/json")

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: no_route, 405: no_route, Exception: unhandled},
    )
    app.state.stack = stack
    storage_limit = parse_size(settings.config.get("storage", {}).get("file_size_limit"), 50 * 1024**2)
    return Gateway(
        app,
        api_keys={settings.anon_key, settings.service_role_key},
        max_body=DEFAULT_MAX_BODY,
        storage_max_body=storage_limit + 1024 * 1024,
    )
