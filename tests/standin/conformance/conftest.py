"""Fixtures for the conformance suite: a throwaway schema ``conformance`` exposed through
the Data API the way PostgREST's in-database configuration does it (``pgrst.db_schemas``
on the authenticator role + ``NOTIFY pgrst, 'reload config'``), and JWTs for test users."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from postgrest import SyncPostgrestClient

from supabase_standin import keys

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
EXPOSED = "public, graphql_public, conformance"

ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"


def user_token(secret: str, sub: str, *, ttl: int = 3600, role: str = "authenticated", **extra: object) -> str:
    now = int(time.time())
    claims = {"sub": sub, "role": role, "aud": "authenticated", "iat": now, "exp": now + ttl, **extra}
    return keys.sign(secret, claims)


@pytest.fixture(scope="package")
def conformance_schema(target) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Create the conformance schema for this package's tests and expose it; drop it (and
    stop exposing it) when they are done, before the database lints look at the schema."""
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        conn.execute("drop schema if exists conformance cascade")
        conn.execute(SCHEMA_SQL.read_text())
        conn.execute(f"alter role authenticator set pgrst.db_schemas = '{EXPOSED}'")
        conn.execute("notify pgrst, 'reload config'")
    deadline = time.monotonic() + 20
    while True:
        r = httpx.get(
            f"{target.url}/rest/v1/authors?select=id&limit=1",
            headers={"apikey": target.anon_key, "Accept-Profile": "conformance"},
            timeout=5,
        )
        if r.status_code == 200:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"conformance schema never became visible: {r.status_code} {r.text}")
        time.sleep(0.1)
    yield "conformance"
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        conn.execute("alter role authenticator reset pgrst.db_schemas")
        conn.execute("drop schema if exists conformance cascade")
        conn.execute("notify pgrst, 'reload config'")


def rest(target, token: str | None) -> SyncPostgrestClient:  # type: ignore[no-untyped-def]
    """A postgrest-py client on the conformance schema, as supabase-py builds it."""
    headers = {"apikey": target.anon_key}
    client = SyncPostgrestClient(f"{target.url}/rest/v1", schema="conformance", headers=headers)
    client.auth(token or target.anon_key)
    return client


@pytest.fixture
def as_anon(target, conformance_schema) -> SyncPostgrestClient:  # type: ignore[no-untyped-def]
    return rest(target, None)


@pytest.fixture
def as_alice(target, conformance_schema) -> SyncPostgrestClient:  # type: ignore[no-untyped-def]
    return rest(target, user_token(target.jwt_secret, ALICE, phone="255711000101"))


@pytest.fixture
def as_bob(target, conformance_schema) -> SyncPostgrestClient:  # type: ignore[no-untyped-def]
    return rest(target, user_token(target.jwt_secret, BOB))


@pytest.fixture
def as_service(target, conformance_schema) -> SyncPostgrestClient:  # type: ignore[no-untyped-def]
    return rest(target, target.service_role_key)


@pytest.fixture
def http(target, conformance_schema) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """Raw HTTP on the Data API, for details the client hides."""
    with httpx.Client(
        base_url=f"{target.url}/rest/v1",
        headers={"apikey": target.anon_key, "Accept-Profile": "conformance", "Content-Profile": "conformance"},
        timeout=10,
    ) as client:
        yield client


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
