"""GoTrue's rate limiters: per-client token buckets (tollbooth, keyed by the value of the
configured rate-limit header) and the server-wide interval limiter for sent SMS."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class TokenBucket:
    """``tollbooth.NewLimiter(rate, …).SetBurst(burst)``: ``rate`` events per second per key,
    ``burst`` at once; idle keys are forgotten after ``ttl`` seconds."""

    rate: float
    burst: int
    ttl: float = 3600.0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _swept: float = field(default_factory=time.monotonic)

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._sweep(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        return False

    def _sweep(self, now: float) -> None:
        if now - self._swept < 60:
            return
        self._swept = now
        for key in [k for k, b in self._buckets.items() if now - b.stamp > self.ttl]:
            del self._buckets[key]


@dataclass
class IntervalLimiter:
    """``ratelimit.IntervalLimiter``: at most ``events`` per ``interval`` seconds, the count
    reset at each interval boundary since the limiter started."""

    events: int
    interval: float = 3600.0
    _start: float = field(default_factory=time.monotonic)
    _count: int = 0

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        elapsed = int((now - self._start) // self.interval)
        if elapsed > 0:
            self._start += elapsed * self.interval
            self._count = 0
        if self._count < self.events:
            self._count += 1
            return True
        return False


def per_five_minutes(events: float, burst: int = 30) -> TokenBucket:
    """GoTrue's verify / token / otp limiters: ``events`` per 5 minutes, burst 30."""
    return TokenBucket(rate=events / 300.0, burst=burst)


def client_key(header_value: str | None) -> str | None:
    """The first value of the rate-limit header, or None (GoTrue then does not limit)."""
    if not header_value:
        return None
    key = header_value.split(",", 1)[0].strip()
    return key or None
