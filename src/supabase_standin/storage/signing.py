"""Signed URLs: HS256 JWTs signed with the project's JWT secret, as Storage issues them.

A download token carries ``{url: "<bucket>/<name>", scope: "download", iat, exp}``; an
upload token ``{owner, url, upsert, scope: "upload", iat, exp}``. Verification checks the
signature with the project secret, the scope (tokens from before scoping existed are told
apart by the ``upsert`` claim only upload tokens carry), that ``url`` is exactly the
requested object, and expiry.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from supabase_standin import keys
from supabase_standin.storage import errors

Scope = Literal["download", "upload"]
#: Storage's default lifetime of a signed upload URL (UPLOAD_SIGNED_URL_EXPIRATION_TIME).
UPLOAD_URL_TTL = 60
#: The largest ``expiresIn`` Storage accepts (it must fit a JS safe integer of ms).
MAX_EXPIRES_IN = 2**53 // 1000


def check_expires_in(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value + int(time.time()) > MAX_EXPIRES_IN:
        raise errors.invalid_parameter("expiresIn")
    return value


def sign_download(secret: str, url: str, expires_in: int) -> str:
    now = int(time.time())
    return keys.sign(secret, {"url": url, "scope": "download", "iat": now, "exp": now + expires_in})


def sign_upload(secret: str, url: str, owner: str | None, upsert: bool, expires_in: int = UPLOAD_URL_TTL) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"url": url, "upsert": upsert, "scope": "upload", "iat": now, "exp": now + expires_in}
    if owner is not None:
        claims["owner"] = owner
    return keys.sign(secret, claims)


def verify(secret: str, token: str, bucket: str, name: str, scope: Scope) -> dict[str, Any]:
    try:
        payload = keys.verify(secret, token)
    except keys.ExpiredToken:
        raise errors.invalid_jwt('"exp" claim timestamp check failed') from None
    except keys.InvalidToken:
        message = "Invalid Compact JWS" if token.count(".") != 2 else "signature verification failed"
        raise errors.invalid_jwt(message) from None
    token_scope = payload.get("scope")
    if scope == "upload":
        scoped = token_scope == "upload" or (token_scope is None and "upsert" in payload)
    else:
        scoped = token_scope == "download" or (token_scope is None and "upsert" not in payload)
    if not scoped:
        raise errors.invalid_signature(f"Token is not scoped for {scope}")
    if payload.get("url") != f"{bucket}/{name}":
        raise errors.invalid_signature()
    exp = payload.get("exp")
    if isinstance(exp, int | float) and exp < time.time():
        raise errors.expired_signature()
    return payload
