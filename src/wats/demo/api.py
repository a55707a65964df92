"""The demo's typed view of the local stack: supabase-py answers narrowed to JSON objects,
the Edge Functions and jobs called as the scheduler calls them, and the sandbox's records."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from postgrest import APIResponse
from supabase import Client

from wats.demo.show import DemoFailed
from wats.settings import Settings


def rows(response: APIResponse) -> list[dict[str, Any]]:
    """The rows of a Data API answer."""
    data = response.data
    if not isinstance(data, list):
        raise DemoFailed(f"expected rows, got {data!r}")
    return [dict(r) for r in data if isinstance(r, dict)]


def one(response: APIResponse) -> dict[str, Any]:
    found = rows(response)
    if len(found) != 1:
        raise DemoFailed(f"expected one row, got {len(found)}")
    return found[0]


def rpc(client: Client, fn: str, args: dict[str, Any] | None = None) -> Any:
    """An RPC through the Data API as the signed-in person; its JSON answer."""
    return client.rpc(fn, args or {}).execute().data


def token(client: Client) -> str:
    session = client.auth.get_session()
    if session is None:
        raise DemoFailed("not signed in")
    return session.access_token


class Stack:
    """The local stack as the scheduler and the operator see it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.http = httpx.Client(timeout=60)

    def function(self, name: str, body: dict[str, Any], *, bearer: str | None = None, **headers: str) -> httpx.Response:
        """POST /functions/v1/<name>, as the service role unless a user's token is given."""
        return self.http.post(
            f"{self.settings.api_url}/functions/v1/{name}",
            json=body,
            headers={
                "Authorization": f"Bearer {bearer or self.settings.service_role_key}",
                "apikey": self.settings.anon_key,
                **headers,
            },
        )

    def job(self, name: str) -> dict[str, Any]:
        """A scheduled Edge Function run now (what pg_cron does every minute)."""
        answer = self.function(name, {"limit": 500})
        if answer.status_code != 200:
            raise DemoFailed(f"{name} answered {answer.status_code}: {answer.text}")
        return dict(answer.json())

    def service_rpc(self, fn: str, args: dict[str, Any] | None = None) -> Any:
        """An RPC with the service role key (what the pg_cron jobs call)."""
        answer = self.http.post(
            f"{self.settings.api_url}/rest/v1/rpc/{fn}",
            json=args or {},
            headers={
                "Authorization": f"Bearer {self.settings.service_role_key}",
                "apikey": self.settings.service_role_key,
            },
        )
        if answer.status_code != 200:
            raise DemoFailed(f"rpc {fn} answered {answer.status_code}: {answer.text}")
        return answer.json()

    def sandbox_payouts(self, **filters: str) -> list[dict[str, Any]]:
        """What the mobile-money sandbox sent to phones (refunds, reversals, payouts)."""
        answer = self.http.get(f"{self.settings.sandbox_url}/_sandbox/payouts", params=filters)
        answer.raise_for_status()
        return [dict(p) for p in answer.json()]

    def register_wallet(self, msisdn: str, holder: str) -> None:
        """The wallet's holder as the provider's KYC record holds it (what the sandbox's
        name lookups answer before a vendor's first payout)."""
        answer = self.http.put(f"{self.settings.sandbox_url}/_sandbox/wallets/{msisdn}", json={"name": holder})
        answer.raise_for_status()

    def time_travel(self, sql: str, params: list[Any]) -> None:
        """Move recorded times back (tooling, as the cluster's superuser): the only thing the
        demo does outside the APIs, because it cannot wait a week for a return window."""
        with psycopg.connect(self.settings.superuser_dsn, autocommit=True) as conn:
            conn.execute(sql, params)


def wait_for(
    what: str, check: Callable[[], Any], *, timeout: float = 30.0, poke: Callable[[], Any] | None = None
) -> Any:
    """Poll ``check`` until it returns something truthy; ``poke`` runs between polls (a job)."""
    deadline = time.monotonic() + timeout
    while True:
        if poke is not None:
            poke()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise DemoFailed(f"{what}: nothing after {timeout:.0f} s")
        time.sleep(0.3)
