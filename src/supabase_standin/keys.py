"""JWTs as Supabase signs them: HS256 with the project's JWT secret."""

from __future__ import annotations

from typing import Any

import jwt

#: Expiry the Supabase CLI gives its default local API keys (2032-11-11).
LOCAL_KEY_EXPIRY = 1983812996


def api_key(secret: str, role: str) -> str:
    """The anon / service_role key the Supabase CLI prints for a local project.

    Signing ``{"iss": "supabase-demo", "role": role, "exp": 1983812996}`` with the CLI's
    default secret reproduces the CLI's well-known keys byte for byte, so apps' local
    settings work unchanged.
    """
    return sign(secret, {"iss": "supabase-demo", "role": role, "exp": LOCAL_KEY_EXPIRY})


def sign(secret: str, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


class InvalidToken(Exception):
    """The token is malformed or its signature does not verify."""


class ExpiredToken(InvalidToken):
    """The token verified but its ``exp`` is in the past."""


def verify(secret: str, token: str, *, audience: str | None = None) -> dict[str, Any]:
    """Decode and verify an HS256 token; raise ``ExpiredToken`` / ``InvalidToken``."""
    try:
        return jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=audience,
            options={"verify_aud": audience is not None, "require": []},
            leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredToken(str(exc)) from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. absurdly nested JSON in a segment
        raise InvalidToken("malformed token") from exc
