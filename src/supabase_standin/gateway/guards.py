"""What Supabase's API gateway (Kong) does before a request reaches a service: CORS, the
``apikey`` check on the Data and Auth APIs, and a cap on request body size. Also the last
line of defence: no request may produce an unhandled exception."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)

#: Auth routes Kong serves without an apikey (links opened from an SMS or e-mail).
OPEN_AUTH_PATHS = ("/auth/v1/verify", "/auth/v1/callback", "/auth/v1/authorize")
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-credentials", b"true"),
    (
        b"access-control-expose-headers",
        b"Content-Range, Content-Location, Location, Preference-Applied, X-Supabase-Api-Version",
    ),
]


def error_body(status: int, message: str, code: str | None = None) -> bytes:
    """A JSON error that every client library can read (PostgREST's four keys)."""
    return json.dumps({"code": code or str(status), "details": None, "hint": None, "message": message}).encode()


def too_large(path: str, limit: int) -> bytes:
    """413 in the shape of the service behind ``path`` (Storage has its own error shape)."""
    message = f"Request body too large: the limit is {limit} bytes"
    if path.startswith("/storage/v1"):
        return json.dumps(
            {"statusCode": "413", "code": "EntityTooLarge", "error": "Payload too large", "message": message}
        ).encode()
    return error_body(413, message)


def internal_error(path: str) -> bytes:
    """The last-resort 500 (a bug of the stand-in), in the shape of the service behind
    ``path`` so that its client library can read it; never a traceback."""
    message = "Internal server error"
    if path.startswith("/storage/v1"):
        body = {"statusCode": "500", "code": "InternalError", "error": "Internal", "message": message}
        return json.dumps(body).encode()
    if path.startswith("/auth/v1"):
        return json.dumps({"code": 500, "error_code": "unexpected_failure", "msg": message}).encode()
    return error_body(500, message)


async def send_json(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


class Gateway:
    """ASGI middleware in front of every service of the local stack."""

    def __init__(self, app: ASGIApp, *, api_keys: set[str], max_body: int, storage_max_body: int):
        self.app = app
        self.api_keys = api_keys
        self.max_body = max_body
        self.storage_max_body = storage_max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        is_functions = path.startswith("/functions/v1")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        cors = [] if is_functions else CORS_HEADERS
        method = scope.get("method", "GET")

        if method == "OPTIONS" and not is_functions and "access-control-request-method" in headers:
            allow_headers = headers.get("access-control-request-headers", "*").encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        *CORS_HEADERS,
                        (b"access-control-allow-methods", b"GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS"),
                        (b"access-control-allow-headers", allow_headers),
                        (b"access-control-max-age", b"3600"),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        if self._needs_api_key(path):
            key = headers.get("apikey") or _query_apikey(scope)
            if not key:
                await send_json(send, 401, json.dumps({"message": "No API key found in request"}).encode(), cors)
                return
            if key not in self.api_keys:
                await send_json(send, 401, json.dumps({"message": "Invalid authentication credentials"}).encode(), cors)
                return

        limit = self.storage_max_body if path.startswith("/storage/v1") else self.max_body
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_json(send, 400, error_body(400, "Invalid Content-Length header"), cors)
                return
            if int(declared) > limit:
                await send_json(send, 413, too_large(path, limit), cors)
                return

        if declared is None and method in ("POST", "PUT", "PATCH", "DELETE"):
            # A chunked body: read it here, within the limit, then replay it to the service.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await send_json(send, 413, too_large(path, limit), cors)
                    return
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
            buffered: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def replay() -> Message:
                if buffered:
                    return buffered.pop()
                return await receive()

            receive = replay

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if cors:
                    existing = {k.lower() for k, _ in message.get("headers", [])}
                    message = dict(message)
                    message["headers"] = list(message.get("headers", [])) + [h for h in cors if h[0] not in existing]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error serving %s %s", method, path)
            if not started:
                await send_json(send, 500, internal_error(path), cors)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade (Realtime): Kong's apikey check (header or query string),
        refused with an HTTP answer in JSON before the upgrade."""
        path: str = scope.get("path", "")
        if self._needs_api_key(path):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            key = headers.get("apikey") or _query_apikey(scope)
            refusal = None
            if not key:
                refusal = "No API key found in request"
            elif key not in self.api_keys:
                refusal = "Invalid authentication credentials"
            if refusal is not None:
                await self._deny_websocket(scope, send, 401, json.dumps({"message": refusal}).encode())
                return
        try:
            await self.app(scope, receive, send)
        except Exception:
            log.exception("unhandled error serving the WebSocket %s", path)

    @staticmethod
    async def _deny_websocket(scope: Scope, send: Send, status: int, body: bytes) -> None:
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})

    @staticmethod
    def _needs_api_key(path: str) -> bool:
        if path.startswith("/rest/v1") or path.startswith("/graphql/v1") or path.startswith("/realtime/v1"):
            return True
        if path.startswith("/auth/v1"):
            return not any(path == p or path.startswith(p + "/") for p in OPEN_AUTH_PATHS)
        return False


def _query_apikey(scope: Scope) -> str | None:
    from urllib.parse import parse_qs

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("apikey")
    return values[0] if values else None
