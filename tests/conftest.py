"""Shared fixtures: where the stack under test is, and clients acting as each role.

The suite talks to a running stack through its public URLs and keys, read from the
environment (``SUPABASE_URL``, ``SUPABASE_ANON_KEY``, ``SUPABASE_SERVICE_ROLE_KEY``,
``SUPABASE_DB_URL``). ``./scripts/wats test`` sets them for its isolated test instance;
point them at another stack (a real Supabase project included) to run the suite there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from supabase import Client, create_client

from wats.settings import Settings


class Target:
    """The stack under test."""

    def __init__(self) -> None:
        fallback = Settings.load(os.environ.get("WATS_INSTANCE", "test"))
        env = fallback.client_env()
        self.url = os.environ.get("SUPABASE_URL", env["SUPABASE_URL"])
        self.anon_key = os.environ.get("SUPABASE_ANON_KEY", env["SUPABASE_ANON_KEY"])
        self.service_role_key = os.environ.get("SUPABASE_SERVICE_ROLE_KEY", env["SUPABASE_SERVICE_ROLE_KEY"])
        self.db_url = os.environ.get("SUPABASE_DB_URL", env["SUPABASE_DB_URL"])
        self.sandbox_url = os.environ.get("WATS_SANDBOX_URL", env["WATS_SANDBOX_URL"])
        self.jwt_secret = os.environ.get("SUPABASE_JWT_SECRET", fallback.jwt_secret)
        self.settings = fallback

    def client(self, key: str | None = None) -> Client:
        return create_client(self.url, key or self.anon_key)


@pytest.fixture(scope="session")
def target() -> Target:
    t = Target()
    try:
        httpx.get(f"{t.url}/rest/v1/", headers={"apikey": t.anon_key}, timeout=5)
    except httpx.HTTPError as exc:  # pragma: no cover - a setup problem, not a test result
        pytest.exit(
            f"no stack answers at {t.url} ({exc}). Run the suite with ./scripts/wats test, "
            "or start an instance and point SUPABASE_URL and the keys at it.",
            returncode=2,
        )
    return t


@pytest.fixture
def anon(target: Target) -> Client:
    """A client with the anon key and no session."""
    return target.client()


@pytest.fixture
def service(target: Target) -> Client:
    """A client with the service_role key (bypasses RLS, as Edge Functions use it)."""
    return target.client(target.service_role_key)


@pytest.fixture
def db(target: Target) -> Iterator[psycopg.Connection]:
    """A direct connection as `postgres` (autocommit) for arranging and checking data."""
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        yield conn
