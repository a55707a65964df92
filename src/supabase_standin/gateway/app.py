"""The API gateway on one port, as ``supabase start`` serves it: ``/rest/v1`` (Data API),
``/auth/v1`` (Auth), ``/storage/v1`` (Storage), ``/functions/v1`` (Edge Functions) and
``/realtime/v1`` (Realtime's WebSocket), behind the checks Kong makes (:mod:`.guards`),
plus the stand-in's health endpoint."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from supabase_standin.auth.service import AuthService
from supabase_standin.database import Pool
from supabase_standin.functions.host import FunctionsHost
from supabase_standin.gateway.guards import ASGIApp, Gateway, Receive, Scope, Send
from supabase_standin.realtime.service import RealtimeService, deny
from supabase_standin.rest.service import RestConfig, RestService
from supabase_standin.routing import Router, route
from supabase_standin.storage.service import StorageService

if TYPE_CHECKING:
    from supabase_standin.stack import Extension, StackConfig

log = logging.getLogger(__name__)

#: The methods Kong routes to the services; any other is its 405.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DEFAULT_MAX_BODY = 10 * 1024 * 1024


def pool(config: StackConfig, user: str, *, min_size: int, max_size: int) -> Pool:
    """Connections of one role; each is checked before use, so a database restart costs no
    request once it is back, and a database that is down is answered 503 at once."""
    return Pool(
        config.db_url(user=user),
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True, "prepare_threshold": 3},
        name=user,
    )


class Services:
    """The services behind the gateway and the database pools they share. API traffic
    runs as ``authenticator`` (Data API, Storage) or ``supabase_auth_admin`` (Auth), never
    as a superuser."""

    def __init__(
        self, config: StackConfig, functions_env: Mapping[str, str], extensions: Sequence[Extension] = ()
    ) -> None:
        self.config = config
        self.extensions = extensions
        api = config.project.api
        self.api_pool = pool(config, "authenticator", min_size=2, max_size=20)
        self.auth_pool = pool(config, "supabase_auth_admin", min_size=1, max_size=8)
        self.storage_admin_pool = pool(config, "supabase_storage_admin", min_size=1, max_size=4)
        # Realtime connects as the owner of realtime.messages (see supabase_standin.realtime).
        self.realtime_pool = pool(config, "supabase_realtime_admin", min_size=1, max_size=6)
        self.rest = RestService(
            RestConfig(
                schemas=list(api.schemas),
                extra_search_path=list(api.extra_search_path),
                max_rows=api.max_rows,
                jwt_secret=config.jwt_secret,
                title=config.api_title,
            ),
            self.api_pool,
        )
        self.functions = FunctionsHost(config, dict(functions_env))
        self.auth = AuthService(config, self.auth_pool)
        self.storage = StorageService(config, self.api_pool, self.storage_admin_pool)
        self.realtime = RealtimeService(
            self.realtime_pool, config.db_url(user="supabase_realtime_admin"), config.jwt_secret
        )

    async def start(self) -> None:
        for p in (self.api_pool, self.auth_pool, self.storage_admin_pool):
            await p.open(timeout=30)
        await self.rest.start()
        await self.storage.start()
        await self.functions.start()
        await self.realtime.start()

    async def stop(self) -> None:
        await self.realtime.stop()
        await self.functions.stop()
        await self.storage.stop()
        await self.rest.stop()
        for p in (self.api_pool, self.auth_pool, self.storage_admin_pool):
            await p.close()

    def health(self) -> dict[str, object]:
        fns = self.functions.functions.values()
        return {
            "rest": self.rest.ready,
            "realtime": self.realtime.ready,
            "functions": all(f.ready.is_set() for f in fns),
            "function_processes": {
                f.name: {
                    "pid": f.process.pid if f.process else None,
                    "ready": f.ready.is_set(),
                    "restarts": f.restarts,
                }
                for f in fns
            },
            "extensions": {e.name: e.ready() for e in self.extensions},
        }


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json")


class ServiceRouter:
    """The ASGI app behind the guards: the gateway's route table, and the services'
    start and stop as the server's lifespan."""

    def __init__(self, services: Services, health_path: str) -> None:
        self.services = services
        s = services

        async def rest(request: Request, params: dict[str, str]) -> Response:
            return await s.rest.handle(request, params.get("path", ""))

        async def auth(request: Request, params: dict[str, str]) -> Response:
            return await s.auth.handle(request, params["path"])

        async def storage(request: Request, params: dict[str, str]) -> Response:
            return await s.storage.handle(request, params["path"])

        async def functions(request: Request, params: dict[str, str]) -> Response:
            return await s.functions.handle(request, params["path"])

        async def realtime(request: Request, params: dict[str, str]) -> Response:
            return await s.realtime.handle_http(request, params["path"])

        async def health(_request: Request, _params: dict[str, str]) -> Response:
            return _json(200, s.health())

        async def no_route(_request: Request, _params: dict[str, str]) -> Response:
            return _json(404, {"message": "no Route matched with those values"})  # Kong's words

        async def method_not_allowed(_request: Request, _params: dict[str, str]) -> Response:
            return _json(405, {"message": "Method Not Allowed"})

        self.router: Router[Request] = Router(
            [
                route(METHODS, "rest/v1", rest),
                route(METHODS, "rest/v1/{path:path}", rest),
                route(METHODS, "auth/v1/{path:path}", auth),
                route(METHODS, "storage/v1/{path:path}", storage),
                route(METHODS, "functions/v1/{path:path}", functions),
                route(METHODS, "realtime/v1/{path:path}", realtime),
                route(("GET", "HEAD"), health_path.lstrip("/"), health),
            ],
            not_found=no_route,
            method_not_allowed=method_not_allowed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            websocket = WebSocket(scope, receive, send)
            if scope.get("path", "").startswith("/realtime/v1/"):
                await self.services.realtime.handle_websocket(websocket)
            else:
                await deny(websocket, 404, {"message": "no Route matched with those values"})
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = scope.get("path", "/").removeprefix("/")
        response = await self.router.dispatch(request, scope.get("method", "GET"), path)
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.services.start()
                except Exception as exc:
                    log.exception("the services failed to start")
                    await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.services.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(
    config: StackConfig, functions_env: Mapping[str, str] | None = None, extensions: Sequence[Extension] = ()
) -> Gateway:
    services = Services(config, functions_env or {}, extensions)
    app: ASGIApp = ServiceRouter(services, config.health_path)
    storage_limit = config.project.storage.file_size_limit
    return Gateway(
        app,
        api_keys={config.anon_key, config.service_role_key},
        max_body=DEFAULT_MAX_BODY,
        storage_max_body=storage_limit + 1024 * 1024,
    )
