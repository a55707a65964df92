"""Beem's SMS API (``POST https://apisms.beem.africa/v1/send``), as the sandbox imitates it
under ``/beem``.

Basic authentication with the API key and secret; a JSON body ``{source_addr, encoding,
message, recipients: [{recipient_id, dest_addr}], schedule_time}``. Accepted:
``200 {"successful": true, "request_id", "code": 100, "message": "Message Submitted
Successfully", "valid", "invalid", "duplicates"}``. Refusals carry Beem's error object
``{"data": {"code", "message"}}`` (401 bad credentials, 400 a bad request or an invalid
number, 402 a balance too small, 500 Beem's own failure); nothing was sent. What each
recipient gets is scripted (:mod:`.messages`); a scripted ``proxy_timeout`` or ``hang``
sends the SMS but the answer is lost (a 504 page from a proxy, or no answer in time).
"""

from __future__ import annotations

import asyncio
import base64
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wats.sandbox.context import BadJson, json_object, reply, sandbox_of
from wats.sandbox.signing import constant_time_equal

PREFIX = "/beem"
_MSISDN = re.compile(r"^255[0-9]{9}$")
GATEWAY_TIMEOUT_PAGE = "<html><body><h1>504 Gateway Time-out</h1></body></html>"


def _error(status: int, code: int, message: str) -> JSONResponse:
    return reply(status, {"data": {"code": code, "message": message}})


def _authorized(request: Request, api_key: str, secret_key: str) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    key, _, secret = decoded.partition(":")
    return constant_time_equal(key, api_key) and constant_time_equal(secret, secret_key)


async def send(request: Request) -> Response:
    sb = sandbox_of(request)
    if not _authorized(request, sb.config.beem_api_key, sb.config.beem_secret_key):
        return _error(401, 120, "Invalid Authentication Parameters")
    try:
        body = await json_object(request)
    except BadJson:
        return _error(400, 104, "Invalid request body")
    message = body.get("message")
    sender = body.get("source_addr")
    recipients = body.get("recipients")
    if not isinstance(message, str) or not message:
        return _error(400, 104, "Missing message")
    if not isinstance(sender, str) or not 1 <= len(sender) <= 11:
        return _error(400, 103, "Invalid source address")
    if not isinstance(recipients, list) or not recipients or len(recipients) > 100:
        return _error(400, 105, "Missing recipients")
    numbers: list[str] = []
    for recipient in recipients:
        number = recipient.get("dest_addr") if isinstance(recipient, dict) else None
        if not isinstance(number, str) or not _MSISDN.match(number):
            return _error(400, 101, "Invalid phone number")
        numbers.append(number)
    outcomes = {number: sb.messages.next_outcome("sms", number) for number in numbers}
    refused = [o for o in outcomes.values() if o in ("refuse_balance", "refuse_number", "server_error")]
    if "server_error" in refused:
        return _error(500, 500, "Internal server error")
    if "refuse_balance" in refused:
        return _error(402, 102, "Insufficient balance")
    if "refuse_number" in refused:
        return _error(400, 101, "Invalid phone number")
    request_id = sb.messages.new_request_id()
    for number, outcome in outcomes.items():
        sb.messages.record_sms(request_id, number, sender, message, outcome)
    lost = set(outcomes.values())
    if "hang" in lost:
        await asyncio.sleep(sb.store.settings.message_hang_s)
    if "proxy_timeout" in lost:
        return Response(GATEWAY_TIMEOUT_PAGE, status_code=504, media_type="text/html")
    return reply(
        200,
        {
            "successful": True,
            "request_id": request_id,
            "code": 100,
            "message": "Message Submitted Successfully",
            "valid": len(numbers),
            "invalid": 0,
            "duplicates": 0,
        },
    )


routes: list[BaseRoute] = [Route(f"{PREFIX}/v1/send", send, methods=["POST"])]
