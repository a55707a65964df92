"""What every sandbox handler needs: config, state, the callback dispatcher."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse

from wats.sandbox.callbacks import Dispatcher
from wats.sandbox.config import SandboxConfig
from wats.sandbox.messages import Messages
from wats.sandbox.store import Store


@dataclass
class Sandbox:
    config: SandboxConfig
    store: Store
    dispatcher: Dispatcher
    mpesa_key: rsa.RSAPrivateKey
    #: Decrypts Airtel disbursement PINs.
    airtel_key: rsa.RSAPrivateKey
    #: What the messaging providers (Beem SMS, Expo push) received.
    messages: Messages


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


class BadJson(Exception):
    """The body is not a JSON object."""


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        value = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadJson("invalid JSON") from exc
    if not isinstance(value, dict):
        raise BadJson("expected a JSON object")
    return value


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def positive_whole(value: Any, *, allow_string: bool) -> int | None:
    """A positive whole amount; numeric strings only when ``allow_string``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value > 0 else None
    if allow_string and isinstance(value, str):
        text = value.strip()
        if text.endswith(".00"):
            text = text[:-3]
        if text.isdigit() and int(text) > 0:
            return int(text)
    return None
