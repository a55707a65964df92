"""How the demo talks: a numbered story of steps, each with a few facts, and a clear stop."""

from __future__ import annotations

from typing import Any


class DemoFailed(Exception):
    """A step did not do what the story says: the demo stops with a non-zero exit."""


def step(text: str) -> None:
    print(f"\n▶ {text}", flush=True)


def show(label: str, value: Any) -> None:
    print(f"    {label:<14} {value}", flush=True)


def expect(condition: bool, failure: str) -> None:
    if not condition:
        raise DemoFailed(failure)


def tzs(amount: int) -> str:
    return f"{amount:,} TZS"
