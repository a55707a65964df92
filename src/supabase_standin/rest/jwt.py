"""Who is calling the Data API: the role and claims of the request's JWT, checked as
PostgREST checks them (PGRST301/PGRST303 with ``WWW-Authenticate``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from supabase_standin import keys
from supabase_standin.rest.errors import ApiError


@dataclass
class Identity:
    role: str
    claims: dict[str, Any]

    @property
    def authenticated(self) -> bool:
        return self.role != "anon"


def jwt_error(code: str, message: str) -> ApiError:
    return ApiError(
        401,
        code,
        message,
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'},
    )


_verified: dict[str, dict[str, Any]] = {}
_VERIFIED_MAX = 4096


def _verify_cached(secret: str, token: str) -> dict[str, Any]:
    """Verify a JWT, remembering good signatures (PostgREST caches them too); expiry is
    checked on every use."""
    claims = _verified.get(token)
    if claims is None:
        claims = keys.verify(secret, token)
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[token] = claims
    exp = claims.get("exp")
    if isinstance(exp, int | float) and exp <= time.time():
        _verified.pop(token, None)
        raise keys.ExpiredToken("token expired")
    return claims


def authenticate(authorization: str | None, secret: str, anon_role: str) -> Identity:
    """The role and claims of a request, from its ``Authorization: Bearer`` JWT."""
    if authorization is None:
        return Identity(anon_role, {"role": anon_role})
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return Identity(anon_role, {"role": anon_role})
    token = token.strip()
    if not token:
        raise jwt_error("PGRST301", "Empty JWT is sent in Authorization header")
    parts = token.count(".") + 1
    if parts != 3:
        raise jwt_error("PGRST301", f"Expected 3 parts in JWT; got {parts}")
    try:
        claims = _verify_cached(secret, token)
    except keys.ExpiredToken:
        raise jwt_error("PGRST303", "JWT expired") from None
    except keys.InvalidToken:
        raise jwt_error("PGRST301", "No suitable key or wrong key type") from None
    role = claims.get("role")
    if role is None:
        role = anon_role
    if not isinstance(role, str) or not role:
        raise jwt_error("PGRST303", "JWT claims validation or parsing failed")
    return Identity(role, claims)
