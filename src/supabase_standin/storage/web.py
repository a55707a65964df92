"""HTTP plumbing shared by the Storage routes: JSON bodies validated the way Storage's
Fastify schemas validate them (Ajv with type coercion: storage3 sends ``expiresIn`` as a
string and it is accepted as an integer), JSON responses, timestamps."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from supabase_standin.database import RETRY_AFTER
from supabase_standin.storage import errors
from supabase_standin.storage.errors import JSON_TYPE, StorageError

INTEGER = re.compile(r"^-?[0-9]+(\.0+)?$")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data).encode(), status_code=status, headers={"Content-Type": JSON_TYPE, **(headers or {})}
    )


def error_response(err: StorageError) -> Response:
    headers = {"Content-Type": JSON_TYPE}
    if err.status == 404:
        headers["Cache-Control"] = "no-store"
    if err.http_status == 503:
        headers["Retry-After"] = str(RETRY_AFTER)
    return Response(err.body(), status_code=err.http_status, headers=headers)


def iso(value: datetime | None) -> str | None:
    """A timestamp as Storage serialises one (JavaScript's ``toISOString``)."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def http_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


async def json_body(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return {}
        raise errors.validation("body must be object")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise errors.StorageError(
            400, "InvalidRequest", "Body is not valid JSON", error="Bad Request", http_status=400
        ) from None
    if not isinstance(data, dict):
        raise errors.validation("body must be object")
    return data


class Fields:
    """Typed reads of one JSON object (``body``, ``body/sortBy`` …) with Ajv's messages."""

    def __init__(self, data: dict[str, Any], where: str = "body") -> None:
        self.data = data
        self.where = where

    def _missing(self, key: str) -> StorageError:
        return errors.validation(f"{self.where} must have required property '{key}'")

    def _bad(self, key: str, what: str) -> StorageError:
        return errors.validation(f"{self.where}/{key} must be {what}")

    def has(self, key: str) -> bool:
        return key in self.data

    def string(self, key: str, *, required: bool = False, enum: tuple[str, ...] | None = None) -> str | None:
        if key not in self.data:
            if required:
                raise self._missing(key)
            return None
        value = self.data[key]
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = json.dumps(value)
        elif value is None:
            value = ""
        if not isinstance(value, str):
            raise self._bad(key, "string")
        if enum is not None and value not in enum:
            raise self._bad(key, "equal to one of the allowed values")
        return value

    def integer(self, key: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        if key not in self.data:
            if required:
                raise self._missing(key)
            return None
        value = self.data[key]
        if isinstance(value, bool) or (isinstance(value, float) and value.is_integer()):
            value = int(value)
        elif isinstance(value, str) and INTEGER.match(value.strip()):
            value = int(float(value.strip())) if "." in value else int(value.strip())
        elif value is None:
            value = 0
        if not isinstance(value, int):
            raise self._bad(key, "integer")
        if minimum is not None and value < minimum:
            raise self._bad(key, f">= {minimum}")
        return value

    def boolean(self, key: str) -> bool | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, bool):
            return value
        if value == "true" or (isinstance(value, int) and value == 1):
            return True
        if value is None or value == "false" or (isinstance(value, int) and value == 0):
            return False
        raise self._bad(key, "boolean")

    def strings(self, key: str, *, required: bool = False, min_items: int = 0) -> list[str] | None:
        if key not in self.data:
            if required:
                raise self._missing(key)
            return None
        value = self.data[key]
        if value is None:
            return None
        if not isinstance(value, list):
            value = [value]  # Ajv's coerceTypes: "array"
        out = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise errors.validation(f"{self.where}/{key}/{index} must be string")
            out.append(item if isinstance(item, str) else json.dumps(item))
        if len(out) < min_items:
            raise errors.validation(f"{self.where}/{key} must NOT have fewer than {min_items} items")
        return out

    def object(self, key: str) -> Fields | None:
        if key not in self.data or self.data[key] is None:
            return None
        value = self.data[key]
        if not isinstance(value, dict):
            raise self._bad(key, "object")
        return Fields(value, f"{self.where}/{key}")
