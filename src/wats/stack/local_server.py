"""One local ASGI app on its own port, as the stack's plug-ins serve them (the mobile-money
sandbox, the dashboard): started in the daemon's event loop, stopped with it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


class LocalServer:
    """uvicorn serving ``app`` on 127.0.0.1:``port`` inside the running event loop."""

    def __init__(self) -> None:
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, app: ASGIApp, port: int, *, lifespan: Literal["on", "off"] = "off") -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                access_log=False,
                lifespan=lifespan,
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
