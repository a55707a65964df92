"""PostgREST's error bodies and its mapping of SQLSTATEs to HTTP statuses."""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """An error answered as PostgREST answers it: JSON with code/message/details/hint."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        details: str | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def body(self) -> bytes:
        return json.dumps(
            {"code": self.code, "details": self.details, "hint": self.hint, "message": self.message}
        ).encode()


def parse_error(message: str, details: str | None = None) -> ApiError:
    """PGRST100: the query string could not be parsed."""
    return ApiError(400, "PGRST100", message, details)


def status_for_sqlstate(sqlstate: str, authenticated: bool) -> int:
    """PostgREST's SQLSTATE → HTTP status table."""
    if sqlstate == "42501":
        return 403 if authenticated else 401
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "P0001": 400,
        "42883": 404,
        "42P01": 404,
        "42P17": 500,
    }
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    prefixes = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    return prefixes.get(sqlstate[:2], 400)


def from_database(exc: Any, authenticated: bool) -> ApiError:
    """Turn a psycopg error into PostgREST's answer."""
    diag = exc.diag
    sqlstate = exc.sqlstate or "XX000"
    status = status_for_sqlstate(sqlstate, authenticated)
    primary = diag.message_primary or ""
    if sqlstate == "22023" and primary.startswith("role") and primary.endswith("does not exist"):
        status = 401  # the JWT's role does not exist (PostgREST answers 401 too)
    if sqlstate == "21000":
        # pg-safeupdate's refusal of an unfiltered UPDATE/DELETE is the client's fault;
        # any other cardinality violation (a subquery returning two rows …) is the server's.
        status = 400 if primary.endswith("requires a WHERE clause") else 500
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return ApiError(
        status,
        sqlstate,
        diag.message_primary or str(exc),
        diag.message_detail,
        diag.message_hint,
        headers,
    )
