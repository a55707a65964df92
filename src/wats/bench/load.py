"""A small closed-loop load generator: N workers repeat one call for a fixed time."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]

    def line(self) -> str:
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0.0
        return (
            f"{self.name:<44} {self.rate:10.1f} /s   p50 {p50:7.2f} ms   p99 {self.percentile(99) * 1000:7.2f} ms"
            f"   ({self.requests} ok, {self.errors} errors)"
        )


async def closed_loop(
    name: str,
    workers: int,
    seconds: float,
    make_worker: Callable[[int], Awaitable[Callable[[], Awaitable[bool]]]],
    *,
    warmup: float = 1.0,
) -> Result:
    """Run ``workers`` loops of the call each ``make_worker(i)`` returns; count what
    completes inside the measured window (after ``warmup``)."""
    calls = [await make_worker(i) for i in range(workers)]
    latencies: list[float] = []
    errors = 0
    start = time.monotonic()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def loop(call: Callable[[], Awaitable[bool]]) -> None:
        nonlocal errors
        while True:
            t0 = time.monotonic()
            if t0 >= stop_at:
                return
            ok = await call()
            t1 = time.monotonic()
            if t0 >= measure_from and t1 <= stop_at:
                if ok:
                    latencies.append(t1 - t0)
                else:
                    errors += 1

    await asyncio.gather(*(loop(c) for c in calls))
    return Result(name, len(latencies), errors, seconds, latencies)


class RawHttpClient:
    """A minimal HTTP/1.1 keep-alive client, so the load generator spends as little CPU
    as possible (it shares the machine with the server it measures)."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    @staticmethod
    def build(method: str, target: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.connect()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        body = await self.reader.readexactly(length) if length else b""
        return status, body
