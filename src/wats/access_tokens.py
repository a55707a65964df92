"""Access tokens as Supabase Auth issues them: GoTrue's own claims for a phone sign-in, then
whatever ``public.custom_access_token_hook`` adds or changes (the ``user_role`` and
``vendor_id`` claims, and the database role ``wats_admin`` for an admin), run as Auth runs
it. For benchmarks and tests that act as a user without an OTP round trip."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import psycopg

from supabase_standin import keys


def issued_claims(conn: psycopg.Connection[Any], uid: str, phone: str) -> dict[str, Any]:
    """The claims of an access token Auth issues ``uid`` after a phone sign-in: GoTrue's own
    claims, then whatever ``public.custom_access_token_hook`` adds (run as Auth runs it)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "http://127.0.0.1/auth/v1",
        "sub": uid,
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": "",
        "phone": phone,
        "app_metadata": {"provider": "phone", "providers": ["phone"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "otp", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    event = {"user_id": uid, "claims": claims, "authentication_method": "otp"}
    row = conn.execute("select public.custom_access_token_hook(%s::jsonb)", [json.dumps(event)]).fetchone()
    assert row is not None
    issued: dict[str, Any] = row[0]["claims"]
    return issued


def issued_token(conn: psycopg.Connection[Any], secret: str, uid: str, phone: str) -> str:
    """A signed access token with the claims of ``issued_claims``."""
    return keys.sign(secret, issued_claims(conn, uid, phone))
