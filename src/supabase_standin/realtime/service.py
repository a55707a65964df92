"""``/realtime/v1``: Supabase Realtime for Broadcast, enough for supabase-js's and
supabase-py's ``channel(…).on('broadcast', …).subscribe()`` on public and private channels.

The socket is ``/realtime/v1/websocket?apikey=…&vsn=1.0.0|2.0.0``; the gateway has checked
the apikey as Kong does. The service checks it again as Realtime's ``UserSocket`` does (a
JWT with ``role`` and ``exp``), then serves the Phoenix channels of :mod:`.socket`.
Private channels are authorized by RLS on ``realtime.messages`` in PostgreSQL
(:mod:`.authorization`); broadcasts from the database arrive through :mod:`.broker`.
Realtime's REST API (``/realtime/v1/api/…``) is not served: it answers 404 in JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from supabase_standin.database import Pool
from supabase_standin.realtime import protocol
from supabase_standin.realtime.authorization import Authorizer
from supabase_standin.realtime.broker import Broker
from supabase_standin.realtime.socket import Socket, TokenRefused, confirm_token, writer

log = logging.getLogger(__name__)

ROLE = "supabase_realtime_admin"


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json")


async def deny(websocket: WebSocket, status: int, body: object) -> None:
    """Refuse the upgrade with an HTTP answer in JSON (or a bare close where the server
    cannot answer a WebSocket request with HTTP)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(_json(status, body))
    else:
        await websocket.close(1008)


class RealtimeService:
    def __init__(self, pool: Pool, conninfo: str, jwt_secret: str) -> None:
        self.pool = pool
        self.jwt_secret = jwt_secret
        self.authorizer = Authorizer(pool)
        self.broker = Broker(pool, conninfo)
        self.sockets: set[Socket] = set()
        #: False when the database has no realtime schema or role (a cluster made before the
        #: baseline had them): joins are then refused as Realtime refuses them without a
        #: database, and the rest of the stack serves as usual.
        self.available = False

    @property
    def ready(self) -> bool:
        return self.available and self.broker.listening.is_set()

    async def start(self) -> None:
        try:
            await self.pool.open(timeout=5)
        except Exception as exc:
            log.warning(
                "realtime is not served: cannot connect as %s (%s); recreate the database from the "
                "baseline (it creates the realtime schema and role)",
                ROLE,
                type(exc).__name__,
            )
            return
        self.available = True
        await self.broker.start()

    async def stop(self) -> None:
        for socket in list(self.sockets):
            socket.release()
        await self.broker.stop()
        if self.available:
            await self.pool.close()

    async def handle_http(self, _request: Request, _path: str) -> Response:
        return _json(404, {"message": "Realtime's REST API is not served by the local stack; use the WebSocket"})

    async def handle_websocket(self, websocket: WebSocket) -> None:
        query = parse_qs(websocket.scope.get("query_string", b"").decode("latin-1"))
        if websocket.url.path.rstrip("/") != "/realtime/v1/websocket":
            await deny(websocket, 404, {"message": "no Route matched with those values"})
            return
        vsn = (query.get("vsn") or [protocol.VSN_1])[0]
        if vsn not in protocol.SERIALIZERS:
            await deny(websocket, 400, {"error": f"unsupported serializer version {vsn}"})
            return
        token = websocket.headers.get("x-api-key") or (query.get("apikey") or [None])[0]
        if not token:
            await deny(websocket, 401, {"error": "API key is missing"})
            return
        try:
            confirm_token(self.jwt_secret, token)
        except TokenRefused as exc:
            message = exc.reason.split(": ", 1)[-1]
            if exc.reason.startswith("InvalidJWTToken: Token has expired"):
                message = "Token has expired"
            await deny(websocket, 401, {"error": message})
            return
        headers = {k: v for k, v in websocket.headers.items() if k.startswith("x-") and k != "x-api-key"}
        await websocket.accept()
        socket = Socket(self, vsn, token, headers)
        self.sockets.add(socket)
        sending = asyncio.create_task(writer(socket, websocket.send_text, websocket.send_bytes))
        try:
            while not socket.closed.is_set():
                receiving = asyncio.create_task(websocket.receive())
                closing = asyncio.create_task(socket.closed.wait())
                done, _ = await asyncio.wait({receiving, closing}, return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    receiving.cancel()
                    break
                closing.cancel()
                incoming = receiving.result()
                if incoming["type"] == "websocket.disconnect":
                    break
                raw = incoming.get("text")
                if raw is None:
                    raw = incoming.get("bytes")
                if raw is not None:
                    await socket.handle(raw)
        except WebSocketDisconnect:
            pass
        finally:
            socket.release()
            self.sockets.discard(socket)
            await sending
            if websocket.client_state.name == "CONNECTED":
                with contextlib.suppress(RuntimeError):
                    await websocket.close(1000)
