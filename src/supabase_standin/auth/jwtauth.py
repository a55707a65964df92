"""Who is calling: GoTrue's ``requireAuthentication`` and ``requireAdminCredentials``.

The bearer token is parsed as GoTrue's golang-jwt parser does (HS256 with the project's
JWT secret only, ``exp``/``nbf`` checked without leeway) and a failure is a ``403
bad_jwt`` with golang-jwt's wording; then the user named by ``sub`` and the session named
by ``session_id`` must exist, and a banned user is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supabase_standin.auth import store
from supabase_standin.auth.config import AuthConfig
from supabase_standin.auth.errors import AuthError, forbidden
from supabase_standin.auth.models import NIL_INSTANCE, User
from supabase_standin.auth.params import json_kind, parse_uuid

BEARER = re.compile(r"^bearer (\S+)$", re.IGNORECASE)

_STRING_CLAIMS = ("iss", "sub", "jti", "email", "phone", "role", "aal", "session_id", "client_id", "scope")
_NUMBER_CLAIMS = ("exp", "iat", "nbf")


@dataclass
class Caller:
    claims: dict[str, Any]
    user: User | None = None
    session: dict[str, Any] | None = None

    @property
    def role(self) -> str:
        role = self.claims.get("role")
        return role if isinstance(role, str) else ""

    @property
    def audience(self) -> str:
        aud = self.claims.get("aud")
        if isinstance(aud, list):
            return aud[0] if aud and isinstance(aud[0], str) else ""
        return aud if isinstance(aud, str) else ""


def bearer_token(authorization: str | None) -> str:
    match = BEARER.match(authorization or "")
    if not match:
        raise AuthError(401, "no_authorization", "This endpoint requires a valid Bearer token")
    return match.group(1)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _bad_jwt(detail: str) -> AuthError:
    return forbidden("bad_jwt", f"invalid JWT: unable to parse or verify signature, {detail}")


def _check_claim_types(claims: dict[str, Any]) -> None:
    """What decoding into GoTrue's ``AccessTokenClaims`` struct rejects."""

    def fail(name: str, value: Any, go_type: str) -> AuthError:
        return _bad_jwt(
            f"token is malformed: could not JSON decode claim: json: cannot unmarshal {json_kind(value)} into Go "
            f"struct field AccessTokenClaims.{name} of type {go_type}"
        )

    for name in _STRING_CLAIMS:
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise fail(name, value, "string")
    for name in _NUMBER_CLAIMS:
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise fail(name, value, "jwt.NumericDate")
    for name in ("app_metadata", "user_metadata"):
        value = claims.get(name)
        if value is not None and not isinstance(value, dict):
            raise fail(name, value, "map[string]interface {}")
    value = claims.get("is_anonymous")
    if value is not None and not isinstance(value, bool):
        raise fail("is_anonymous", value, "bool")
    aud = claims.get("aud")
    if (
        aud is not None
        and not isinstance(aud, str)
        and not (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
    ):
        raise _bad_jwt("token is malformed: could not JSON decode claim: invalid type for claim: aud")
    amr = claims.get("amr")
    if amr is not None and not (isinstance(amr, list) and all(isinstance(a, str | dict) for a in amr)):
        raise fail("amr", amr, "tokens.AMRClaim")


def parse_jwt(token: str, secret: str, now: datetime) -> dict[str, Any]:
    """``parseJWTClaims``: signature, algorithm, time claims and claim types."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _bad_jwt("token is malformed: token contains an invalid number of segments")
    try:
        header = json.loads(_b64(parts[0]))
    except (binascii.Error, ValueError, RecursionError):
        raise _bad_jwt("token is malformed: could not JSON decode header") from None
    if not isinstance(header, dict):
        raise _bad_jwt("token is malformed: could not JSON decode header")
    try:
        payload = json.loads(_b64(parts[1]))
    except (binascii.Error, ValueError, RecursionError):
        raise _bad_jwt("token is malformed: could not JSON decode claim") from None
    if not isinstance(payload, dict):
        raise _bad_jwt("token is malformed: could not JSON decode claim")
    alg = header.get("alg")
    if alg != "HS256":
        if isinstance(alg, str) and alg:
            raise _bad_jwt(f"token signature is invalid: signing method {alg} is invalid")
        raise _bad_jwt("token is unverifiable: signing method (alg) is unavailable")
    try:
        signature = _b64(parts[2])
    except (binascii.Error, ValueError, RecursionError):
        raise _bad_jwt("token is malformed: could not base64 decode signature") from None
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise _bad_jwt("token signature is invalid: signature is invalid")
    _check_claim_types(payload)
    stamp = now.timestamp()
    exp = payload.get("exp")
    if exp is not None and not stamp < float(exp):
        raise _bad_jwt("token has invalid claims: token is expired")
    nbf = payload.get("nbf")
    if nbf is not None and stamp < float(nbf):
        raise _bad_jwt("token has invalid claims: token is not valid yet")
    return payload


async def load_user_and_session(conn: store.Conn, caller: Caller) -> None:
    """``maybeLoadUserOrSession``."""
    sub = caller.claims.get("sub")
    if not sub:
        raise forbidden("bad_jwt", "invalid claim: missing sub claim")
    user_id = parse_uuid(sub)
    if user_id is None:
        raise AuthError(400, "bad_jwt", "invalid claim: sub claim must be a UUID")
    caller.user = await store.user_by_id(conn, user_id)
    if caller.user is None:
        raise forbidden("user_not_found", "User from sub claim in JWT does not exist")
    session_claim = caller.claims.get("session_id")
    if session_claim and session_claim != NIL_INSTANCE:
        session_id = parse_uuid(session_claim)
        if session_id is None:
            raise forbidden("bad_jwt", "invalid claim: session_id claim must be a UUID")
        caller.session = await store.session_by_id(conn, session_id)
        if caller.session is None:
            raise forbidden("session_not_found", "Session from session_id claim in JWT does not exist")


async def require_authentication(
    conn: store.Conn, config: AuthConfig, authorization: str | None, now: datetime
) -> Caller:
    caller = Caller(parse_jwt(bearer_token(authorization), config.jwt_secret, now))
    await load_user_and_session(conn, caller)
    assert caller.user is not None
    if caller.user.is_banned(now):
        raise forbidden("user_banned", "User is banned")
    return caller


async def require_admin(conn: store.Conn, config: AuthConfig, authorization: str | None, now: datetime) -> Caller:
    """``requireAdminCredentials``: a token whose role is one of the admin roles
    (``service_role``); a token naming a session must still have that session."""
    caller = Caller(parse_jwt(bearer_token(authorization), config.jwt_secret, now))
    session_claim = caller.claims.get("session_id")
    if session_claim and session_claim != NIL_INSTANCE:
        await load_user_and_session(conn, caller)
        session = caller.session
        if session is not None and session.get("not_after") is not None and now > session["not_after"]:
            raise forbidden("session_expired", "Session is no longer valid")
    if caller.role not in config.jwt_admin_roles:
        raise forbidden("not_admin", "User not allowed")
    return caller
