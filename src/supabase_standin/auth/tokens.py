"""Sessions, access tokens and refresh tokens as GoTrue's token service issues them.

Refresh tokens are GoTrue's 12-character tokens kept in ``auth.refresh_tokens``
(algorithm version 1, the one the Supabase CLI runs): each refresh revokes the token used
and issues a child in the same session; replaying the parent of the session's active
token returns the active token; replaying another revoked token is tolerated within
``refresh_token_reuse_interval``, after which the whole family (the session's tokens) is
revoked and the request refused with ``refresh_token_already_used``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from supabase_standin import keys
from supabase_standin.auth import hooks, store
from supabase_standin.auth.config import AuthConfig
from supabase_standin.auth.errors import AuthError, bad_request, internal, validation
from supabase_standin.auth.models import User, go_map

LEGACY_REFRESH_TOKEN = re.compile(r"^[a-z0-9]{12}$")


@dataclass(frozen=True)
class Client:
    """What GoTrue records about the caller (``GrantParams.FillGrantParams``)."""

    user_agent: str
    ip: str


def _unix(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def is_valid_v2_refresh_token(token: str) -> bool:
    """``crypto.ParseRefreshToken`` succeeds (version 0, session id, counter, signature, checksum)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return False
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        return False
    if len(raw) < 1 + 16 + 1 + 16 + 4 or raw[0] != 0:
        return False
    if hashlib.sha256(raw[:-4]).digest()[:4] != raw[-4:]:
        return False
    rest = raw[17:-4]
    # uvarint counter, then exactly 16 bytes of signature
    for i, byte in enumerate(rest[:10]):
        if byte < 0x80:
            return len(rest) - (i + 1) == 16
    return False


def validate_refresh_token_param(token: str) -> None:
    """``RefreshTokenGrantParams.Validate``."""
    if len(token) < 12:
        raise validation("Refresh token is not valid")
    if len(token) == 12:
        if not LEGACY_REFRESH_TOKEN.match(token):
            raise validation("Refresh token is not valid")
        return
    if not is_valid_v2_refresh_token(token):
        raise validation("Refresh token is not valid")


class TokenService:
    def __init__(self, config: AuthConfig):
        self.config = config

    # -- access tokens ------------------------------------------------------------------
    async def access_token(
        self, conn: store.Conn, user: User, session_id: str, method: str, client: Client, now: datetime
    ) -> tuple[str, int]:
        """``GenerateAccessToken``: GoTrue's claims, through the hook when it is enabled."""
        config = self.config
        session = await store.session_by_id(conn, session_id)
        if session is None:
            raise internal("Session is required to issue access token")
        amr = [
            {"method": row["authentication_method"], "timestamp": _unix(row["updated_at"])}
            for row in await store.amr_claims(conn, session_id)
        ]
        amr.sort(key=lambda entry: entry["timestamp"], reverse=True)
        issued_at = int(now.timestamp())
        expires_at = issued_at + config.jwt_exp
        claims: dict[str, Any] = {
            "iss": config.jwt_issuer,
            "sub": user.id,
            "aud": user.aud,
            "exp": expires_at,
            "iat": issued_at,
            "email": user.email,
            "phone": user.phone,
            "app_metadata": go_map(user.row.get("raw_app_meta_data")),
            "user_metadata": go_map(user.row.get("raw_user_meta_data")),
            "role": user.role,
            "aal": session.get("aal") or "aal1",
        }
        if amr:
            claims["amr"] = amr
        claims["session_id"] = session_id
        claims["is_anonymous"] = user.is_anonymous
        if not user.aud:
            del claims["aud"]
        if config.custom_access_token.enabled:
            claims = await hooks.run_access_token_hook(
                conn,
                config.custom_access_token,
                user_id=user.id,
                claims=claims,
                authentication_method=method,
                ip_address=client.ip,
                now=now,
                timeout_ms=config.hook_timeout_ms,
            )
            # GoTrue signs the hook's output as a Go map: keys in sorted order.
            claims = go_map(claims)
        try:
            return keys.sign(config.jwt_secret, claims), expires_at
        except (TypeError, ValueError) as exc:
            raise internal(f"error generating jwt token: {exc}") from None

    def _response(self, token: str, expires_at: int, refresh_token: str, user: User, now: datetime) -> dict[str, Any]:
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_at - int(now.timestamp()),
            "expires_at": expires_at,
            "refresh_token": refresh_token,
            "user": user.to_json(),
        }

    # -- sign in ------------------------------------------------------------------------
    async def issue_session(
        self, conn: store.Conn, user: User, method: str, client: Client, now: datetime, headers: dict[str, str]
    ) -> dict[str, Any]:
        """``IssueRefreshToken``: a new session, its first refresh token, the AMR claim and
        an access token. Runs inside the caller's transaction."""
        headers["sb-auth-user-id"] = user.id
        session_id = await store.insert_session(conn, user.id, now, client.user_agent, client.ip)
        refresh = await store.insert_refresh_token(conn, user.id, session_id, None, now)
        await store.update_user(conn, user, now, last_sign_in_at=now)
        headers["sb-auth-session-id"] = session_id
        headers["sb-auth-refresh-token-prefix"] = refresh["token"][0:5]
        await store.add_amr_claim(conn, session_id, method, now)
        token, expires_at = await self.access_token(conn, user, session_id, method, client, now)
        return self._response(token, expires_at, refresh["token"], user, now)

    # -- refresh ------------------------------------------------------------------------
    async def refresh(
        self, conn: store.Conn, token_value: str, client: Client, headers: dict[str, str]
    ) -> dict[str, Any]:
        """``RefreshTokenGrant`` for GoTrue's 12-character refresh tokens."""
        now = datetime.now(UTC)
        if len(token_value) != 12:
            # A well-formed token of the newer format names a session that has no signing
            # key here: GoTrue treats that as a session that does not exist.
            raise bad_request("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
        row = await store.fetch_one(conn, "select * from auth.refresh_tokens where token = %s", (token_value,))
        user = await store.user_by_id(conn, str(row["user_id"])) if row and row.get("user_id") else None
        if row is None or user is None:
            raise bad_request("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
        headers["sb-auth-user-id"] = user.id
        if user.is_banned(now):
            raise bad_request("user_banned", "Invalid Refresh Token: User Banned")
        session = await store.session_by_id(conn, str(row["session_id"])) if row.get("session_id") else None
        if session is None:
            await conn.execute("delete from auth.refresh_tokens where id = %s", (row["id"],))
            raise bad_request("session_not_found", "Invalid Refresh Token: No Valid Session Found")
        headers["sb-auth-session-id"] = str(session["id"])
        if session.get("not_after") is not None and now > session["not_after"]:
            raise bad_request("session_expired", "Invalid Refresh Token: Session Expired")

        try:
            async with conn.transaction():
                await conn.execute("set local lock_timeout = '5s'")
                outcome = await self._refresh_locked(conn, token_value, str(session["id"]), client, headers, now)
        except psycopg.errors.LockNotAvailable:
            raise AuthError(
                409, "conflict", "Too many concurrent token refresh requests on the same session or refresh token"
            ) from None
        if isinstance(outcome, AuthError):
            raise outcome  # after the commit, as GoTrue's storage.NewCommitWithError
        return outcome

    async def _refresh_locked(
        self,
        conn: store.Conn,
        token_value: str,
        session_id: str,
        client: Client,
        headers: dict[str, str],
        now: datetime,
    ) -> dict[str, Any] | AuthError:
        """The refresh with the token and session rows locked. Returns the error to answer
        once the transaction has committed (the revoked family must stay revoked)."""
        config = self.config
        token = await store.fetch_one(
            conn, "select * from auth.refresh_tokens where token = %s for update", (token_value,)
        )
        session = await store.session_by_id(conn, session_id, for_update=True)
        user = await store.user_by_id(conn, str(token["user_id"])) if token else None
        if token is None or session is None or user is None:
            raise bad_request("refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
        issued = ""
        if token["revoked"]:
            active = await store.fetch_one(
                conn,
                "select * from auth.refresh_tokens where session_id = %s and revoked is false order by id desc limit 1",
                (session_id,),
            )
            if active is not None and active.get("parent") == token["token"]:
                # The client lost the answer to its last refresh: hand back the active
                # token rather than a new one.
                issued = active["token"]
            else:
                reuse_until = token["updated_at"] + timedelta(seconds=config.refresh_token_reuse_interval)
                if now > reuse_until:
                    if config.refresh_token_rotation:
                        await conn.execute(
                            "update auth.refresh_tokens set revoked = true, updated_at = now() "
                            "where session_id = %s and revoked = false",
                            (session_id,),
                        )
                    return bad_request("refresh_token_already_used", "Invalid Refresh Token: Already Used")
        await store.audit(conn, user.audit_actor(), "token_refreshed", now)
        if not issued:
            await store.audit(conn, user.audit_actor(), "token_revoked", now)
            await conn.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = %s where id = %s", (now, token["id"])
            )
            child = await store.insert_refresh_token(conn, user.id, session_id, token["token"], now)
            await store.update_user(conn, user, now, last_sign_in_at=user.row.get("last_sign_in_at"))
            issued = child["token"]
            headers["sb-auth-refresh-token-reuse"] = "false"
        headers["sb-auth-refresh-token-prefix"] = issued[0:5]
        access, expires_at = await self.access_token(conn, user, session_id, "token_refresh", client, now)
        await conn.execute(
            "update auth.sessions set refreshed_at = %s, user_agent = %s, ip = %s, updated_at = %s where id = %s",
            (now.replace(tzinfo=None), client.user_agent or None, client.ip or None, now, session_id),
        )
        return self._response(access, expires_at, issued, user, now)
