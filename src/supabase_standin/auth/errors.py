"""GoTrue's error responses.

GoTrue picks the body by the ``X-Supabase-Api-Version`` request header: from
``2024-01-01`` on it answers ``{"code": "<error_code>", "message": …}`` and echoes the
(normalised) version header; before that (or without the header) it answers
``{"code": <http status>, "error_code": …, "msg": …}``. ``x-sb-error-code`` carries the
error code whenever the error has one.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from supabase_standin.database import RETRY_AFTER, is_unavailable

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = date(2024, 1, 1)
JSON_TYPE = "application/json"


class AuthError(Exception):
    """An error answered the way GoTrue's ``HTTPError`` is answered."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        pg: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.pg = pg  # the PostgreSQL error behind a 500 (sqlstate, message, detail, hint)


#: SQLSTATEs GoTrue shows to legacy clients (``utilities.NewPostgresError``), all as 500.
PUBLIC_SQLSTATES = {"P0001", "23000", "23001", "23502", "23503", "23505", "23514", "23P01"}


def public_pg_status(sqlstate: str) -> int:
    """The status GoTrue answers a PostgreSQL error with, 0 when it keeps it private."""
    if sqlstate in PUBLIC_SQLSTATES:
        return 500
    if len(sqlstate) == 5 and sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    return 0


def database_unavailable() -> AuthError:
    """The database is down, restarting or out of connections: 503 with ``Retry-After``, so
    clients (supabase-js/-py treat 502–504 as retryable) try again, never a 500."""
    return AuthError(
        503,
        "unexpected_failure",
        "The database is not reachable, try again later",
        headers={"Retry-After": str(RETRY_AFTER)},
    )


def database_error(message: str, exc: Exception) -> AuthError:
    """GoTrue's ``NewInternalServerError(message).WithInternalError(pgErr)``, or 503 when
    the error is the database being unreachable rather than the statement failing."""
    if isinstance(exc, PoolTimeout) or is_unavailable(exc):
        return database_unavailable()
    sqlstate = getattr(exc, "sqlstate", None)
    if (sqlstate is None and isinstance(exc, psycopg.DataError)) or sqlstate in ("22021", "22P05"):
        # a value PostgreSQL cannot store (a NUL character in a query parameter): the
        # request is at fault, not the server
        return AuthError(400, "validation_failed", "Request contains characters that cannot be stored (NUL)")
    diag = getattr(exc, "diag", None)
    pg = None
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate and diag is not None:
        pg = {
            "code": sqlstate,
            "message": diag.message_primary or "",
            "detail": diag.message_detail or "",
            "hint": diag.message_hint or "",
        }
    return AuthError(500, "unexpected_failure", message, pg=pg)


def bad_request(code: str, message: str) -> AuthError:
    return AuthError(400, code, message)


def validation(message: str) -> AuthError:
    return AuthError(400, "validation_failed", message)


def forbidden(code: str, message: str) -> AuthError:
    return AuthError(403, code, message)


def unprocessable(code: str, message: str) -> AuthError:
    return AuthError(422, code, message)


def too_many(code: str, message: str) -> AuthError:
    return AuthError(429, code, message)


def internal(message: str) -> AuthError:
    return AuthError(500, "unexpected_failure", message)


def api_version(request: Request) -> date | None:
    """The closest API version GoTrue knows for the request header (None = initial)."""
    raw = request.headers.get(API_VERSION_HEADER)
    if not raw:
        return None
    try:
        parsed = date.fromisoformat(raw.strip()) if len(raw.strip()) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None or parsed < API_VERSION_2024_01_01:
        return None
    return API_VERSION_2024_01_01


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type=JSON_TYPE, headers=headers)


def error_response(request: Request, err: AuthError) -> Response:
    headers = dict(err.headers)
    if err.code:
        headers["x-sb-error-code"] = err.code
    code = err.code or ("unexpected_failure" if err.status == 500 else "unknown")
    version = api_version(request)
    if version is not None:
        headers[API_VERSION_HEADER] = version.isoformat()
        body: dict[str, Any] = {"code": code, "message": err.message}
        return json_response(err.status, body, headers)
    status = public_pg_status(err.pg["code"]) if err.pg else 0
    if err.pg and 100 <= status <= 599:
        pg_body = {"code": err.pg["code"], "message": err.pg["message"]}
        for key in ("hint", "detail"):
            if err.pg.get(key):
                pg_body[key] = err.pg[key]
        return json_response(status, pg_body, headers)
    body = {"code": err.status, "error_code": code, "msg": err.message}
    return json_response(err.status, body, headers)
