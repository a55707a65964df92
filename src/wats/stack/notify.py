"""The local stand-in for what wakes ``notify-dispatch`` on a hosted project.

Hosted, a new notification's trigger calls the function through pg_net, and pg_cron calls
it every minute as a backstop (``20261127001400_notification_delivery.sql``). Locally there
is no pg_net, so this loop LISTENs to ``wats_notify_dispatch`` — the trigger NOTIFYs it
when the transaction that queued a push or an SMS commits, and so does the local pg_cron
job every minute — and calls ``notify-dispatch`` with the service role key, exactly as
pg_net would; it also calls it every ``WATS_NOTIFY_INTERVAL`` seconds (default 60; ``0``
turns the loop off) in case a wake-up was missed. Wake-ups that arrive while a call runs
are folded into one more call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import httpx
import psycopg

from wats.settings import Settings

log = logging.getLogger("wats.notify")

CHANNEL = "wats_notify_dispatch"


class Waker:
    """Calls notify-dispatch when woken, one call at a time, never dropping a wake-up."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.wanted = asyncio.Event()

    def wake(self) -> None:
        self.wanted.set()

    async def run(self) -> None:
        url = f"{self.settings.api_url}/functions/v1/notify-dispatch"
        headers = {"Authorization": f"Bearer {self.settings.service_role_key}", "Content-Type": "application/json"}
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            try:
                response = await self.client.post(url, headers=headers, content=b"{}")
                if response.status_code != 200:
                    log.warning("notify-dispatch answered %s: %s", response.status_code, response.text[:300])
                else:
                    summary = response.json()
                    if summary.get("claimed") or summary.get("receipts", {}).get("checked"):
                        log.info(
                            "notify-dispatch: %s sent or tried %s, receipts %s",
                            summary.get("claimed"),
                            summary.get("counts"),
                            summary.get("receipts"),
                        )
            except httpx.TransportError:
                # the functions are not up yet (the stack is starting): try again shortly
                await asyncio.sleep(3)
                self.wake()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("notify-dispatch call failed: %s", type(exc).__name__)


async def listen(settings: Settings, waker: Waker) -> None:
    delay = 1.0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(settings.db_url(), autocommit=True) as conn:
                await conn.execute(f"listen {CHANNEL}")
                delay = 1.0
                waker.wake()  # whatever was queued while nobody listened
                async for _notify in conn.notifies():
                    waker.wake()
        except psycopg.Error as exc:
            log.warning("notify listener lost the database (%s); listening again", type(exc).__name__)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def every(seconds: float, waker: Waker) -> None:
    while True:
        await asyncio.sleep(seconds)
        waker.wake()


async def run(settings: Settings) -> None:
    interval = float(os.environ.get("WATS_NOTIFY_INTERVAL", "60"))
    if interval <= 0:
        return
    async with httpx.AsyncClient(timeout=httpx.Timeout(90.0, connect=5.0)) as client:
        waker = Waker(settings, client)
        tasks = [
            asyncio.create_task(waker.run()),
            asyncio.create_task(listen(settings, waker)),
            asyncio.create_task(every(interval, waker)),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
