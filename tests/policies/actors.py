"""supabase-py clients acting as each role, and what a request came back with.

Every client gets its own ``httpx.Client`` whose response hook remembers the last HTTP
status: postgrest-py raises ``APIError`` with the body's SQLSTATE but not the status, and a
denied write must be 401 for anon and 403 for everyone else.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase import Client, create_client
from supabase.lib.client_options import SyncClientOptions

from supabase_standin import keys

INTEGRITY_CODES = ("WT001",)


@dataclass
class Outcome:
    """One request's result: HTTP status, parsed rows (on success) or the error's code."""

    status: int
    data: Any = None
    code: str | None = None
    message: str = ""
    count: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def integrity(self) -> bool:
        """Refused by a constraint or trigger after the policy let the statement reach the row:
        SQLSTATE class 23 or WT001 (illegal state transition)."""
        return not self.ok and self.code is not None and (self.code.startswith("23") or self.code in INTEGRITY_CODES)

    def rows(self) -> list[dict[str, Any]]:
        assert self.ok, f"HTTP {self.status} {self.code}: {self.message}"
        if self.data is None:
            return []
        return self.data if isinstance(self.data, list) else [self.data]

    def __str__(self) -> str:
        if self.ok:
            body = self.data if not isinstance(self.data, list) or len(self.data) < 4 else f"{len(self.data)} rows"
            return f"HTTP {self.status} {body!r}"
        return f"HTTP {self.status} {self.code}: {self.message}"


@dataclass
class Actor:
    """A matrix role: its user (if any), its supabase-py client and how it got its token."""

    role: str
    uid: str | None
    client: Client
    how: str
    phone: str | None = None
    last: dict[str, int] = field(default_factory=dict)

    @property
    def denied_status(self) -> int:
        return 401 if self.role == "anon" else 403

    def run(self, call: Callable[[Client], Any]) -> Outcome:
        """Run one supabase-py call (``lambda c: c.table(...)....execute()``)."""
        self.last.clear()
        try:
            response = call(self.client)
        except APIError as exc:
            return Outcome(self.last.get("status", 0), code=exc.code, message=exc.message or str(exc))
        except StorageApiError as exc:
            # Storage answers in its own shape: statusCode "403" for a policy refusal.
            return Outcome(self.last.get("status", 0), code=f"storage:{exc.status}", message=exc.message)
        status = self.last.get("status", 0)
        data = getattr(response, "data", response)
        return Outcome(status, data=data, count=getattr(response, "count", None))


def _http_client(last: dict[str, int]) -> httpx.Client:
    def remember(response: httpx.Response) -> None:
        last["status"] = response.status_code

    return httpx.Client(timeout=30, event_hooks={"response": [remember]})


def client_for(url: str, key: str, last: dict[str, int], token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    options = SyncClientOptions(
        headers=headers, httpx_client=_http_client(last), auto_refresh_token=False, persist_session=False
    )
    return create_client(url, key, options)


def mint_token(secret: str, uid: str, phone: str | None, **extra: Any) -> str:
    """An access token as GoTrue issues them, signed with the project's JWT secret."""
    now = int(time.time())
    claims = {
        "sub": uid,
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
        "phone": phone or "",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        "app_metadata": {"provider": "phone", "providers": ["phone"]},
        **extra,
    }
    return keys.sign(secret, claims)


def anon_actor(url: str, anon_key: str) -> Actor:
    last: dict[str, int] = {}
    return Actor("anon", None, client_for(url, anon_key, last), "anon key", last=last)


def service_actor(url: str, service_key: str) -> Actor:
    last: dict[str, int] = {}
    return Actor("service_role", None, client_for(url, service_key, last), "service_role key", last=last)


def minted_actor(role: str, url: str, anon_key: str, secret: str, uid: str, phone: str) -> Actor:
    last: dict[str, int] = {}
    token = mint_token(secret, uid, phone)
    return Actor(role, uid, client_for(url, anon_key, last, token), "JWT minted with the project secret", phone, last)


def otp_actor(role: str, url: str, anon_key: str, phone: str, otp: str) -> tuple[Actor, str]:
    """Signs in by phone OTP through supabase-py (request the code, verify it); returns the
    actor and the access token the Auth API issued."""
    last: dict[str, int] = {}
    client = client_for(url, anon_key, last)
    for attempt in range(5):
        try:
            client.auth.sign_in_with_otp({"phone": phone})
            break
        except Exception as exc:  # AuthApiError 429 inside the resend window
            if getattr(exc, "status", None) != 429 or attempt == 4:
                raise
            time.sleep(1.5)
    session = client.auth.verify_otp({"phone": phone, "token": otp, "type": "sms"})
    assert session.user is not None and session.session is not None
    return Actor(role, session.user.id, client, "phone OTP through supabase-py", phone, last), (
        session.session.access_token
    )
