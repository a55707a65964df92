"""Who is calling: Storage verifies the ``Authorization: Bearer`` JWT itself (Kong does not
check an apikey on ``/storage/v1``). The role comes from the JWT's ``role`` claim
(``anon`` when missing) and the object owner from ``sub``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.jwt import authenticate
from supabase_standin.storage import errors

BEARER = re.compile(r"^Bearer\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Caller:
    role: str
    claims: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    #: True when a valid JWT was sent (the anon key counts), as Storage's ``isAuthenticated``.
    authenticated: bool = False

    @property
    def owner(self) -> str | None:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) and sub else None


ANONYMOUS = Caller("anon", {"role": "anon"})


def resolve(authorization: str | None, secret: str, *, allow_invalid: bool) -> Caller:
    """The caller of a request. Routes that serve public objects accept a missing or bad
    token as ``anon`` (``allow_invalid``); every other route answers Storage's 403."""
    token = BEARER.sub("", authorization or "").strip()
    if not token:
        if allow_invalid:
            return ANONYMOUS
        raise errors.access_denied("Invalid Compact JWS")
    try:
        identity = authenticate(f"Bearer {token}", secret, "anon")
    except ApiError as err:
        if allow_invalid:
            return ANONYMOUS
        raise errors.access_denied(_jose_message(err, token)) from None
    return Caller(identity.role, dict(identity.claims), token, True)


def _jose_message(err: ApiError, token: str) -> str:
    """The message Storage's JWT library gives for the same failure."""
    if err.message == "JWT expired":
        return '"exp" claim timestamp check failed'
    if token.count(".") != 2:
        return "Invalid Compact JWS"
    if err.code == "PGRST303":
        return "JWT claims validation failed"
    return "signature verification failed"
