"""What the notification tests act on and look at: people with devices and phones, the
outbox, the dispatcher (notify-dispatch, called as pg_net / the scheduler call it) and what
the sandbox's Beem and Expo received.

Arranging goes to the database as `postgres` (a notification written as the SQL functions
write them, a send made due now instead of in a minute); acting goes through the real
callers: people register devices and give consent through the Data API with their own
JWT, payments go through checkout-initiate and the sandbox, notify-dispatch is the
deployed Edge Function, its adapters talk to the sandbox over HTTP.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.payments.market import Customer, Market

#: The sends of a notification are final in one of these states.
FINAL = ("sent", "failed", "skipped")


def new_token() -> str:
    return f"ExponentPushToken[test-{secrets.token_hex(8)}]"


@dataclass
class Person:
    customer: Customer
    tokens: list[str]

    @property
    def id(self) -> str:
        return self.customer.id

    @property
    def phone(self) -> str:
        return self.customer.phone


class Notices:
    def __init__(self, market: Market) -> None:
        self.market = market
        self.db = market.db
        self.http = market.http
        self.target = market.target

    # -- people -------------------------------------------------------------------------------
    def person(self, *, language: str = "sw", devices: int = 1, suffix: str = "00") -> Person:
        customer = self.market.customer(suffix)
        self.db.execute("update public.profiles set language = %s where id = %s", [language, customer.id])
        person = Person(customer, [])
        for _ in range(devices):
            person.tokens.append(self.register(person))
        return person

    def register(self, person: Person, token: str | None = None, platform: str = "android") -> str:
        """The app registers its Expo push token (rpc register_push_device, as the person)."""
        token = token or new_token()
        r = self.market.rpc(person.customer, "register_push_device", {"p_token": token, "p_platform": platform})
        assert r.status_code == 200, r.text
        return token

    def consent(self, person: Person, granted: bool) -> dict[str, Any]:
        r = self.market.rpc(person.customer, "set_marketing_consent", {"p_granted": granted})
        assert r.status_code == 200, r.text
        return dict(r.json())

    # -- notifications ------------------------------------------------------------------------
    def notify(self, person: Person, type_: str, params: dict[str, Any] | None = None) -> str:
        """A notification written as the SQL functions write them (private.notify)."""
        self.db.execute(
            "select private.notify(%s, %s, %s::jsonb, %s::jsonb)",
            [person.id, type_, json.dumps(params or {}), json.dumps({"test": True})],
        )
        row = self.db.execute(
            "select id::text from public.notifications where user_id = %s and type = %s "
            "order by created_at desc limit 1",
            [person.id, type_],
        ).fetchone()
        assert row is not None
        return str(row[0])

    def deliveries(self, notification_id: str) -> dict[str, dict[str, Any]]:
        """The outbox rows of a notification, by channel."""
        rows = self.db.execute(
            "select channel, status, attempts, last_error, next_attempt_at, push_tickets, provider_message_id, "
            "claimed_at from private.notification_deliveries where notification_id = %s",
            [notification_id],
        ).fetchall()
        names = [
            "status",
            "attempts",
            "last_error",
            "next_attempt_at",
            "push_tickets",
            "provider_message_id",
            "claimed_at",
        ]
        return {r[0]: dict(zip(names, r[1:], strict=True)) for r in rows}

    def due_now(self, notification_id: str) -> None:
        """The backoff has passed (moved, not waited for)."""
        self.db.execute(
            "update private.notification_deliveries set next_attempt_at = now() "
            "where notification_id = %s and status = 'pending'",
            [notification_id],
        )

    def dispatch(self, **options: Any) -> dict[str, Any]:
        """notify-dispatch, as the schedule calls it (service role)."""
        r = self.http.post(
            f"{self.target.url}/functions/v1/notify-dispatch",
            json=options,
            headers={"Authorization": f"Bearer {self.target.service_role_key}"},
            timeout=90,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def settle(
        self, notification_id: str, channels: tuple[str, ...], timeout: float = 20.0, attempts: int = 1
    ) -> dict[str, Any]:
        """Dispatch until every channel's send is final, or pending a retry after at least
        ``attempts`` attempts."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.deliveries(notification_id)
            done = all(
                c in rows
                and (rows[c]["status"] in FINAL or (rows[c]["status"] == "pending" and rows[c]["attempts"] >= attempts))
                for c in channels
            )
            if done:
                return rows
            assert time.monotonic() < deadline, f"sends not settled: {rows}"
            self.dispatch()

    # -- the sandbox --------------------------------------------------------------------------
    def sandbox(self, path: str, **params: str) -> Any:
        r = self.http.get(f"{self.target.sandbox_url}{path}", params=params)
        r.raise_for_status()
        return r.json()

    def sms(self, person: Person) -> list[dict[str, Any]]:
        return list(self.sandbox("/_sandbox/sms", to=person.phone))

    def pushes(self, token: str) -> list[dict[str, Any]]:
        return list(self.sandbox("/_sandbox/push", to=token))

    def script(self, channel: str, recipient: str, outcomes: list[str]) -> None:
        r = self.http.post(
            f"{self.target.sandbox_url}/_sandbox/{channel}/script", json={"to": recipient, "outcomes": outcomes}
        )
        assert r.status_code == 200, r.text

    def attempts(self, channel: str, recipient: str) -> list[str]:
        return [a["outcome"] for a in self.sandbox("/_sandbox/messages/attempts", channel=channel, to=recipient)]

    def wait_for(self, what: str, check: Any, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            assert time.monotonic() < deadline, f"{what}: nothing after {timeout:.0f} s"
            time.sleep(0.1)

    def function_pid(self, name: str) -> int:
        health = httpx.get(f"{self.target.url}/_wats/health", timeout=5).json()
        pid = health["function_processes"][name]["pid"]
        assert isinstance(pid, int), health
        return pid
