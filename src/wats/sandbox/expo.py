"""Expo's push API (``https://exp.host/--/api/v2/push/…``), as the sandbox imitates it under
``/expo``.

``POST /--/api/v2/push/send``: one message or an array of them (at most 100 recipients;
``to`` a token or an array of tokens), JSON, optionally gzip-compressed; with enhanced
push security the project's access token as ``Authorization: Bearer``. The answer is
``{"data": [ticket, …]}``, one ticket per recipient in order: ``{"status": "ok", "id"}``
or ``{"status": "error", "message", "details": {"error": "DeviceNotRegistered" | …}}``.
Request-level errors are ``{"errors": [{"code", "message"}]}`` (401 UNAUTHORIZED, 400
VALIDATION_ERROR or PUSH_TOO_MANY_NOTIFICATIONS, 429 TOO_MANY_REQUESTS, 500
INTERNAL_SERVER_ERROR). ``POST /--/api/v2/push/getReceipts {"ids": […]}`` answers
``{"data": {id: receipt}}`` for the tickets it knows. Outcomes are scripted per token
(:mod:`.messages`).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from wats.sandbox.beem import GATEWAY_TIMEOUT_PAGE
from wats.sandbox.context import bearer, reply, sandbox_of
from wats.sandbox.messages import REQUEST_LEVEL
from wats.sandbox.signing import constant_time_equal

PREFIX = "/expo/--/api/v2/push"
MAX_RECIPIENTS = 100
_TOKEN = re.compile(r"^Expo(nent)?PushToken\[[A-Za-z0-9_-]+\]$")


def _errors(status: int, code: str, message: str) -> Response:
    return reply(status, {"errors": [{"code": code, "message": message, "isTransient": status >= 500}]})


async def _body(request: Request) -> Any:
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def _authorized(request: Request, access_token: str) -> bool:
    if not access_token:
        return True  # enhanced security off
    token = bearer(request)
    return token is not None and constant_time_equal(token, access_token)


async def send(request: Request) -> Response:
    sb = sandbox_of(request)
    if not _authorized(request, sb.config.expo_access_token):
        return _errors(401, "UNAUTHORIZED", "The bearer token is invalid; push security is enabled for this project.")
    try:
        body = await _body(request)
    except (ValueError, OSError, EOFError):
        return _errors(400, "VALIDATION_ERROR", "The request body must be JSON.")
    messages = body if isinstance(body, list) else [body]
    recipients: list[tuple[dict[str, Any], str]] = []
    for message in messages:
        if not isinstance(message, dict):
            return _errors(400, "VALIDATION_ERROR", "Each message must be an object.")
        targets = message.get("to")
        for token in targets if isinstance(targets, list) else [targets]:
            if not isinstance(token, str) or not _TOKEN.match(token):
                return _errors(400, "VALIDATION_ERROR", f'"to" must be an Expo push token, got {str(token)[:40]!r}.')
            recipients.append((message, token))
    if not recipients:
        return _errors(400, "VALIDATION_ERROR", '"to" is required.')
    if len(recipients) > MAX_RECIPIENTS:
        return _errors(
            400, "PUSH_TOO_MANY_NOTIFICATIONS", f"You are trying to send more than {MAX_RECIPIENTS} push notifications."
        )
    request_level = next((o for o in (sb.messages.peek("push", t) for _, t in recipients) if o in REQUEST_LEVEL), None)
    if request_level in ("too_many_requests", "server_error"):
        for _, token in recipients:
            sb.messages.next_outcome("push", token)
        if request_level == "too_many_requests":
            return _errors(429, "TOO_MANY_REQUESTS", "The project is sending too many notifications.")
        return _errors(500, "INTERNAL_SERVER_ERROR", "An unknown error occurred.")
    tickets: list[dict[str, Any]] = []
    for message, token in recipients:
        outcome = sb.messages.next_outcome("push", token)
        if outcome == "device_not_registered":
            tickets.append(
                {
                    "status": "error",
                    "message": f'"{token}" is not a registered push notification recipient',
                    "details": {"error": "DeviceNotRegistered", "expoPushToken": token},
                }
            )
        elif outcome == "message_rate_exceeded":
            tickets.append(
                {
                    "status": "error",
                    "message": "Too many messages are being sent to this device.",
                    "details": {"error": "MessageRateExceeded"},
                }
            )
        else:
            push = sb.messages.record_push(token, message, outcome)
            tickets.append({"status": "ok", "id": push.ticket})
    if request_level == "hang":
        await asyncio.sleep(sb.store.settings.message_hang_s)
    if request_level == "proxy_timeout":
        return Response(GATEWAY_TIMEOUT_PAGE, status_code=504, media_type="text/html")
    return reply(200, {"data": tickets})


async def get_receipts(request: Request) -> Response:
    sb = sandbox_of(request)
    if not _authorized(request, sb.config.expo_access_token):
        return _errors(401, "UNAUTHORIZED", "The bearer token is invalid; push security is enabled for this project.")
    try:
        body = await _body(request)
    except (ValueError, OSError, EOFError):
        return _errors(400, "VALIDATION_ERROR", "The request body must be JSON.")
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 1000:
        return _errors(400, "VALIDATION_ERROR", '"ids" must be an array of at most 1000 receipt ids.')
    receipts: dict[str, Any] = {}
    for ticket in ids:
        push = sb.messages.by_ticket(ticket)
        if push is None:
            continue
        if push.delivered:
            receipts[ticket] = {"status": "ok"}
        else:
            receipts[ticket] = {
                "status": "error",
                "message": f'"{push.to}" is not a registered push notification recipient',
                "details": {"error": "DeviceNotRegistered"},
            }
    return reply(200, {"data": receipts})


routes: list[BaseRoute] = [
    Route(f"{PREFIX}/send", send, methods=["POST"]),
    Route(f"{PREFIX}/getReceipts", get_receipts, methods=["POST"]),
]
