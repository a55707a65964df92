"""The background process of a running stack: the API gateway, the mobile-money sandbox,
the Edge Functions and the scheduler, in one asyncio loop. Started by ``wats start``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

import uvicorn

from wats.gateway.app import create_app
from wats.settings import Settings
from wats.stack import extensions, ports

log = logging.getLogger("wats.daemon")


async def serve(settings: Settings) -> None:
    busy = ports.taken(ports.service_ports(settings))
    if busy:  # taken since `wats start` looked: say so in one line, which start shows
        count = len(ports.service_ports(settings)) - 2
        print("error: " + ports.busy_message(settings, busy, "start", count), flush=True)
        sys.exit(3)
    functions_env = extensions.functions_env(settings)
    servers: list[uvicorn.Server] = []
    gateway = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, functions_env),
            host="127.0.0.1",
            port=settings.api_port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            # The gateway is the edge: nothing in front of it may rewrite the peer address
            # (uvicorn would otherwise believe X-Forwarded-For sent from 127.0.0.1).
            proxy_headers=False,
            timeout_graceful_shutdown=5,
            limit_concurrency=1000,
        )
    )
    servers.append(gateway)
    servers.append(
        uvicorn.Server(
            uvicorn.Config(
                extensions.sandbox_app(settings),
                host="127.0.0.1",
                port=settings.sandbox_port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                proxy_headers=False,
                timeout_graceful_shutdown=2,
            )
        )
    )
    for server in servers:
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    background = [asyncio.create_task(extensions.scheduler(settings))]

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    done_task = asyncio.create_task(stop.wait())
    finished, _ = await asyncio.wait([done_task, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in finished:
        if task is not done_task and task.exception():
            log.error("a service of the stack failed", exc_info=task.exception())
    for task in background:
        task.cancel()
    for server in servers:
        server.should_exit = True
    for task in tasks:
        if not task.done() and task not in [asyncio.current_task()]:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 15)


def main() -> None:
    parser = argparse.ArgumentParser(description="WATS local stack daemon")
    parser.add_argument("--instance", default=os.environ.get("WATS_INSTANCE", "dev"))
    args = parser.parse_args()
    settings = Settings.load(args.instance)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
