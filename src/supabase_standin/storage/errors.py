"""Supabase Storage's error bodies and the HTTP statuses it answers them with.

Storage renders every error as ``{"statusCode": "<status>", "code", "error", "message"}``.
The HTTP status of the response is *not* ``statusCode``: Storage's error handler answers
400 for every error of its own whose status is not 500 (a missing object is HTTP 400 with
``"statusCode": "404"``), except where it sets the response status explicitly (a JWT with
the wrong role on a service-role-only route is HTTP 403). Clients (storage3, supabase-js)
read ``statusCode`` and ``error`` from the body, so both must be right.
"""

from __future__ import annotations

import json

import psycopg

JSON_TYPE = "application/json; charset=utf-8"


class StorageError(Exception):
    """An error answered the way Supabase Storage answers it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        error: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.error = error or code
        self._http_status = http_status

    @property
    def http_status(self) -> int:
        if self._http_status is not None:
            return self._http_status
        return 500 if self.status == 500 else 400

    def body(self) -> bytes:
        return json.dumps(
            {"statusCode": str(self.status), "code": self.code, "error": self.error, "message": self.message}
        ).encode()


# -- the errors Storage's routes raise (src/internal/errors/codes.ts) ----------------------


def no_such_bucket() -> StorageError:
    return StorageError(404, "NoSuchBucket", "Bucket not found", error="Bucket not found")


def no_such_key() -> StorageError:
    return StorageError(404, "NoSuchKey", "Object not found", error="not_found")


def resource_not_found() -> StorageError:
    """The row exists but its bytes do not (what Storage's renderer answers for a 404 from
    the backend)."""
    return StorageError(404, "NoSuchKey", "The resource was not found", error="Not found")


def invalid_key(key: str) -> StorageError:
    return StorageError(400, "InvalidKey", f"Invalid key: {key}")


def invalid_bucket_name(name: str) -> StorageError:
    return StorageError(400, "InvalidBucketName", "Bucket name invalid", error="Invalid Input")


def access_denied(message: str = "Access denied", *, http_status: int | None = None) -> StorageError:
    return StorageError(403, "AccessDenied", message, error="Unauthorized", http_status=http_status)


def key_already_exists() -> StorageError:
    return StorageError(409, "KeyAlreadyExists", "The resource already exists", error="Duplicate")


def bucket_already_exists() -> StorageError:
    return StorageError(409, "BucketAlreadyExists", "The resource already exists", error="Duplicate")


def resource_already_exists() -> StorageError:
    return StorageError(409, "ResourceAlreadyExists", "The resource already exists", error="Duplicate")


def bucket_not_empty() -> StorageError:
    return StorageError(409, "ResourceNotEmpty", "The bucket you tried to delete is not empty")


def entity_too_large(entity: str = "object", limit: str = "the maximum allowed size") -> StorageError:
    return StorageError(413, "EntityTooLarge", f"The {entity} exceeded {limit}", error="Payload too large")


def invalid_mime_type(mime: str) -> StorageError:
    return StorageError(415, "InvalidMimeType", f"mime type {mime} is not supported", error="invalid_mime_type")


def invalid_jwt(message: str = "Invalid JWT") -> StorageError:
    return StorageError(400, "InvalidJWT", message)


def invalid_signature(message: str = "Invalid signature") -> StorageError:
    return StorageError(400, "InvalidSignature", message)


def expired_signature() -> StorageError:
    return StorageError(400, "ExpiredToken", "The provided token has expired.")


def invalid_request(message: str = "Invalid Request") -> StorageError:
    return StorageError(400, "InvalidRequest", message)


def invalid_parameter(parameter: str, message: str | None = None) -> StorageError:
    return StorageError(400, "InvalidParameter", message or f"Invalid Parameter {parameter}")


def invalid_file_size_limit() -> StorageError:
    return StorageError(400, "InvalidRequest", "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B")


def no_content_provided(message: str = "No content provided") -> StorageError:
    return StorageError(400, "InvalidRequest", message)


def related_resource_not_found() -> StorageError:
    return StorageError(404, "InvalidRequest", "The related resource does not exist")


def resource_referenced() -> StorageError:
    return StorageError(
        409, "ResourceReferenced", "The resource could not be updated or removed due to a foreign key constraint"
    )


def validation(message: str) -> StorageError:
    """A request that fails the route's JSON schema (Fastify's validation error)."""
    return StorageError(400, "InvalidRequest", message, error="Bad Request", http_status=400)


def route_not_found(method: str, url: str) -> StorageError:
    return StorageError(404, "InvalidRequest", f"Route {method}:{url} not found", error="Not Found", http_status=404)


def range_not_satisfiable() -> StorageError:
    return StorageError(416, "InvalidRange", "invalid range provided", error="invalid_range", http_status=416)


def database_unavailable() -> StorageError:
    return StorageError(503, "DatabaseError", "The database is not reachable, try again later", http_status=503)


def internal_error() -> StorageError:
    return StorageError(500, "InternalError", "Internal server error", error="Internal")


# -- PostgreSQL errors (src/storage/database/errors.ts) -------------------------------------


def from_database(exc: psycopg.Error) -> StorageError:
    """Map a PostgreSQL error raised while serving a request, as Storage's ``DBError`` does.

    Deviation: Storage answers 500 for SQLSTATEs it does not know; here data and constraint
    errors a client can provoke (classes 22, 23, 54, P0) answer 400, so no client input can
    produce a 500."""
    sqlstate = exc.sqlstate or ""
    if not sqlstate and isinstance(exc, psycopg.DataError):  # refused client-side, e.g. a NUL byte
        nul = "NUL" in str(exc)
        return invalid_parameter("value", 'invalid byte sequence for encoding "UTF8": 0x00' if nul else None)
    message = str(getattr(exc.diag, "message_primary", None) or exc).strip()
    if sqlstate == "42501":
        return access_denied(
            "new row violates row-level security policy" if "row-level security" in message else message
        )
    if sqlstate == "23505":
        return resource_already_exists()
    if sqlstate == "23503":
        detail = getattr(exc.diag, "message_detail", None) or ""
        if "is still referenced from table" in detail:
            return resource_referenced()
        return related_resource_not_found()
    if sqlstate == "55P03":
        return StorageError(423, "ResourceLocked", "The resource is locked")
    if sqlstate == "57014":
        return StorageError(544, "DatabaseTimeout", "The connection to the database timed out", http_status=544)
    if sqlstate == "25006":
        return StorageError(
            503, "DatabaseReadOnly", "The database is currently in read-only mode. Please try again later."
        )
    if sqlstate == "22P02":
        return invalid_parameter("value", message or "Invalid value format or type conversion failed")
    if sqlstate in ("42703", "42P01"):
        return StorageError(
            503,
            "DatabaseSchemaMismatch",
            "The database schema is out of sync. Please run migrations or contact support.",
        )
    if sqlstate[:2] in ("22", "23", "54") or sqlstate.startswith("P0"):
        return StorageError(400, "DatabaseError", f"database error, code: {sqlstate}")
    return StorageError(500, "DatabaseError", f"database error, code: {sqlstate or 'unknown'}")
