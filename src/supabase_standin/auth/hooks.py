"""The custom access token hook, called as GoTrue's ``hookspgfunc`` dispatcher calls a
``pg-functions://`` hook: inside the caller's transaction, on the Auth service's own
connection (so the function runs as ``supabase_auth_admin``), with
``set local statement_timeout`` around ``select "<schema>"."<fn>"(<input json>)``.

Output: ``{"claims": {…}}`` replaces the claims (validated against GoTrue's minimum
schema), ``{"error": {"http_code", "message"}}`` refuses the token with that status.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

import psycopg

from supabase_standin.auth import store
from supabase_standin.auth.errors import AuthError, database_unavailable, internal
from supabase_standin.config import HookConfig
from supabase_standin.database import is_unavailable

log = logging.getLogger(__name__)

REQUIRED_CLAIMS = ("aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id", "is_anonymous")
_CLAIM_TYPES: dict[str, tuple[str, ...]] = {
    "aud": ("string", "array"),
    "exp": ("integer",),
    "jti": ("string",),
    "iat": ("integer",),
    "iss": ("string",),
    "nbf": ("integer",),
    "sub": ("string",),
    "email": ("string",),
    "phone": ("string",),
    "app_metadata": ("object",),
    "user_metadata": ("object",),
    "role": ("string",),
    "aal": ("string",),
    "amr": ("array",),
    "session_id": ("string",),
    "client_id": ("string",),
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def validate_claims(claims: Any) -> None:
    """GoTrue's ``MinimumViableTokenSchema`` (JSON schema draft 7), failures as a codeless 500."""
    problems: list[str] = []
    if not isinstance(claims, dict):
        problems.append(f"(root): Invalid type. Expected: object, given: {_json_type(claims)}")
    else:
        for name in REQUIRED_CLAIMS:
            if name not in claims:
                problems.append(f"(root): {name} is required")
        for name, allowed in _CLAIM_TYPES.items():
            given = _json_type(claims.get(name))
            if name in claims and given not in allowed:
                problems.append(f"{name}: Invalid type. Expected: {'/'.join(allowed)}, given: {given}")
        amr = claims.get("amr")
        if isinstance(amr, list):
            for i, item in enumerate(amr):
                if not isinstance(item, str | dict):
                    problems.append(f"amr.{i}: Must validate at least one schema (anyOf)")
    if problems:
        detail = "".join(f"- {p}\n" for p in problems)
        raise AuthError(500, "", f"output claims do not conform to the expected schema: \n{detail}")


async def run_access_token_hook(
    conn: store.Conn,
    hook: HookConfig,
    *,
    user_id: str,
    claims: dict[str, Any],
    authentication_method: str,
    ip_address: str,
    now: datetime,
    timeout_ms: int,
) -> dict[str, Any]:
    """Invoke the hook inside the current transaction and return the claims to sign."""
    function = hook.pg_function
    if function is None:
        log.warning("custom access token hook %s: only pg-functions hooks are supported locally", hook.uri)
        raise internal(f"Error running hook URI: {hook.uri}")
    payload: dict[str, Any] = {
        "metadata": {
            "uuid": str(uuid.uuid4()),
            "time": now.isoformat(),
            "name": "customize-access-token",
            **({"ip_address": ip_address} if ip_address else {}),
        },
        "user_id": user_id,
        "claims": claims,
        "authentication_method": authentication_method,
    }
    try:
        async with conn.transaction():
            await conn.execute(f"set local statement_timeout to '{int(timeout_ms)}'")
            cur = await conn.execute(f"select {function}(%s)", (json.dumps(payload),))
            row = await cur.fetchone()
            await conn.execute("set local statement_timeout to default")
    except psycopg.Error as exc:
        if is_unavailable(exc):
            raise database_unavailable() from None
        log.warning("custom access token hook %s failed: %s", hook.uri, exc)
        raise internal(f"Error running hook URI: {hook.uri}") from None
    raw = row[0] if row else None
    if isinstance(raw, str | bytes):
        try:
            output = json.loads(raw)
        except ValueError:
            raise internal("Error unmarshaling JSON output.") from None
    else:
        output = raw
    if isinstance(output, dict) and isinstance(output.get("error"), dict):
        error = output["error"]
        message = error.get("message")
        if isinstance(message, str) and message:
            code = error.get("http_code")
            valid = isinstance(code, int) and not isinstance(code, bool) and 200 <= code <= 599
            status = code if valid else 500
            raise AuthError(status, "", message)
    if output is None:
        validate_claims(None)
    if not isinstance(output, dict):
        raise internal("Error unmarshaling JSON output.")
    if "claims" not in output:
        raise AuthError(500, "", "output claims field is missing")
    claims_out = output["claims"]
    if not isinstance(claims_out, dict) and claims_out is not None:
        raise internal("Error unmarshaling JSON output.")
    validate_claims(claims_out)
    assert isinstance(claims_out, dict)
    return claims_out
