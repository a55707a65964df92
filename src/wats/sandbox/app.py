"""The sandbox ASGI application: every provider's imitation under its own path prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wats.sandbox import beem, control, expo
from wats.sandbox.callbacks import Dispatcher
from wats.sandbox.config import SandboxConfig
from wats.sandbox.context import Sandbox
from wats.sandbox.messages import Messages
from wats.sandbox.protocols import PROTOCOLS
from wats.sandbox.signing import load_private_key
from wats.sandbox.store import Store


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return JSONResponse({"error": "not found"}, status_code=404)


async def _method_not_allowed(_request: Request, _exc: Exception) -> Response:
    return JSONResponse({"error": "method not allowed"}, status_code=405)


async def _internal(_request: Request, _exc: Exception) -> Response:
    # a bug of the sandbox: JSON, as the adapters expect, never Starlette's plain text
    return JSONResponse({"error": "internal sandbox error"}, status_code=500)


def create_app(config: SandboxConfig) -> Starlette:
    """Build the sandbox for ``config`` (state lives in the returned app, in memory)."""
    store = Store(config.settings)
    sandbox = Sandbox(
        config=config,
        store=store,
        dispatcher=Dispatcher(store),
        mpesa_key=load_private_key(config.mpesa_private_key_pem),
        airtel_key=load_private_key(config.airtel_private_key_pem),
        messages=Messages(Path(config.message_log_dir) if config.message_log_dir else None),
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await sandbox.dispatcher.aclose()

    app = Starlette(
        routes=[
            *(route for module in PROTOCOLS.values() for route in module.routes),
            *beem.routes,
            *expo.routes,
            *control.routes,
        ],
        exception_handlers={404: _not_found, 405: _method_not_allowed, Exception: _internal},
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app
