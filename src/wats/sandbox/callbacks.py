"""Delivers provider callbacks to our webhook in background tasks (httpx, loopback only)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from wats.sandbox.signing import compact_json
from wats.sandbox.store import Delivery, Store

_LOOPBACK_NAMES = {"localhost"}


def with_fields(payload: dict[str, Any], fields: dict[str, Any] | None) -> dict[str, Any]:
    """``payload`` with ``fields`` merged in, objects recursively; a ``None`` value removes
    the key. For hand-made chaos callbacks: malformed amounts, currencies, phones …"""
    out = dict(payload)
    for key, value in (fields or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = with_fields(out[key], value)
        else:
            out[key] = value
    return out


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Dispatcher:
    """Schedules callbacks; every attempt and its HTTP result is kept on the Delivery."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: never route loopback callbacks through a configured proxy.
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        return self._client

    def schedule(
        self,
        *,
        provider: str,
        ref: str,
        url: str,
        payload: dict[str, Any],
        delay_s: float,
        kind: str = "callback",
        copies: int = 1,
        interval_s: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> list[Delivery]:
        """Queue ``copies`` identical POSTs of ``payload`` to ``url`` after ``delay_s``."""
        body = compact_json(payload)
        all_headers = {"content-type": "application/json", **(headers or {})}
        now = time.time()
        deliveries = [
            self.store.new_delivery(provider, ref, kind, url, body, all_headers, now + delay_s + i * interval_s)
            for i in range(max(1, copies))
        ]
        task = asyncio.create_task(self._run(deliveries, delay_s, interval_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return deliveries

    async def _run(self, deliveries: list[Delivery], delay_s: float, interval_s: float) -> None:
        await asyncio.sleep(delay_s)
        for i, delivery in enumerate(deliveries):
            if i:
                await asyncio.sleep(interval_s)
            await self._deliver(delivery)

    async def _deliver(self, delivery: Delivery) -> None:
        if delivery.state == "cancelled":
            return
        if not is_loopback_url(delivery.url):
            delivery.attempts.append(
                {"at": time.time(), "status_code": None, "error": "refused: the sandbox only calls loopback"}
            )
            delivery.state = "failed"
            return
        settings = self.store.settings
        for attempt in range(1 + settings.callback_retries):
            if attempt:
                await asyncio.sleep(settings.callback_retry_delay_s)
            record: dict[str, Any] = {"at": time.time(), "status_code": None, "error": None}
            delivery.attempts.append(record)
            try:
                response = await self._http().post(
                    delivery.url,
                    content=delivery.body.encode(),
                    headers=delivery.headers,
                    timeout=settings.callback_timeout_s,
                )
                record["status_code"] = response.status_code
                record["response_body"] = response.text[:2000]
                if response.status_code < 500:
                    delivery.state = "delivered" if response.status_code < 300 else "failed"
                    return
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
        delivery.state = "failed"

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait (bounded) until no delivery is scheduled or running; True when idle."""
        deadline = time.monotonic() + timeout_s
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def cancel_all(self) -> None:
        for delivery in self.store.deliveries:
            if delivery.state == "scheduled" and not delivery.attempts:
                delivery.state = "cancelled"
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        await self.cancel_all()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
