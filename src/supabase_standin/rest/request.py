"""Stage 1 of a Data API request (PostgREST's ``ApiRequest``): what the HTTP request asks
for, read before the schema cache is consulted — the caller's identity, the schema
(``Accept-Profile``/``Content-Profile``), the ``Prefer`` header, the query string, the
``Range`` header and the payload in whatever type PostgREST accepts."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl

from starlette.requests import Request

from supabase_standin.mediatype import media_type
from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.grammar import Query
from supabase_standin.rest.jwt import Identity, authenticate

RANGE_RE = re.compile(r"^\s*(?:items=)?(\d+)-(\d*)\s*$")
PREFERENCES = {
    "return": {"minimal", "headers-only", "representation"},
    "count": {"exact", "planned", "estimated"},
    "resolution": {"merge-duplicates", "ignore-duplicates"},
    "missing": {"default", "null"},
    "handling": {"strict", "lenient"},
    "params": {"single-object"},
}


@dataclass
class Preferences:
    ret: str | None = None
    count: str | None = None
    resolution: str | None = None
    missing: str | None = None
    handling: str | None = None
    params: str | None = None
    max_affected: int | None = None

    def applied(
        self,
        *,
        returning: bool = False,
        count: bool = False,
        resolution: bool = False,
        missing: bool = False,
        max_affected: bool = False,
    ) -> str:
        parts: list[str] = []
        if resolution and self.resolution:
            parts.append(f"resolution={self.resolution}")
        if missing and self.missing:
            parts.append(f"missing={self.missing}")
        if returning and self.ret:
            parts.append(f"return={self.ret}")
        if count and self.count:
            parts.append(f"count={self.count}")
        if self.handling:
            parts.append(f"handling={self.handling}")
        if max_affected and self.max_affected is not None:
            parts.append(f"max-affected={self.max_affected}")
        return ", ".join(parts)

    @property
    def strict_max_affected(self) -> int | None:
        """``max-affected``, which only binds with ``handling=strict``."""
        return self.max_affected if self.handling == "strict" else None


def parse_preferences(values: list[str]) -> Preferences:
    prefs = Preferences()
    invalid: list[str] = []
    for header in values:
        for part in header.split(","):
            part = part.strip()
            if not part:
                continue
            key, _, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if key == "max-affected" and value.isdigit():
                prefs.max_affected = int(value)
            elif key in PREFERENCES and value in PREFERENCES[key]:
                setattr(prefs, "ret" if key == "return" else key, value)
            elif key not in ("tx", "timezone"):
                invalid.append(part)
    if prefs.handling == "strict" and invalid:
        raise ApiError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            "Invalid preferences: " + ", ".join(invalid),
        )
    return prefs


@dataclass
class ApiRequest:
    """One Data API request, parsed."""

    request: Request
    method: str
    #: The path below ``/rest/v1`` as PostgreSQL sees it in ``request.path``.
    path: str
    #: Path segments: ``[]`` (root), ``[relation]`` or ``["rpc", function]``.
    segments: list[str]
    identity: Identity
    schema: str
    preferences: Preferences
    headers: dict[str, str]
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        return list(self.request.query_params.multi_items())

    @property
    def single(self) -> bool:
        """``Accept: application/vnd.pgrst.object+json``: one object, not an array."""
        return "application/vnd.pgrst.object" in self.request.headers.get("accept", "")

    @property
    def range_header(self) -> str | None:
        """``Range`` (GET only, as PostgREST)."""
        return self.request.headers.get("range") if self.method == "GET" else None

    async def payload(self) -> bytes:
        """The request body as JSON, whatever payload type PostgREST accepts: JSON (also
        when no Content-Type is given), a URL-encoded form (one object of strings) or CSV
        (an array of objects; ``NULL`` is null). Any other type is refused as PostgREST
        refuses it."""
        raw = await self.request.body()
        kind = media_type(self.request.headers.get("content-type"))
        if kind in ("", "application/json"):
            return raw
        if kind == "application/x-www-form-urlencoded":
            fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            return json.dumps(fields).encode()
        if kind == "text/csv":
            return json.dumps(csv_rows(raw)).encode()
        raise ApiError(400, "PGRST102", f"Content-Type not acceptable: {kind}")


def parse_request(request: Request, path: str, *, schemas: list[str], jwt_secret: str, anon_role: str) -> ApiRequest:
    """Identity, schema and preferences, in the order PostgREST checks them."""
    method = request.method.upper()
    identity = authenticate(request.headers.get("authorization"), jwt_secret, anon_role)
    schema = choose_schema(request, method, schemas)
    prefs = parse_preferences(request.headers.getlist("prefer"))
    headers = {k.lower(): v for k, v in request.headers.items()}
    return ApiRequest(
        request=request,
        method=method,
        path="/" + path.lstrip("/"),
        segments=[s for s in path.strip("/").split("/") if s],
        identity=identity,
        schema=schema,
        preferences=prefs,
        headers=headers,
        cookies=_cookies(headers.get("cookie")),
    )


def choose_schema(request: Request, method: str, schemas: list[str]) -> str:
    header = "accept-profile" if method in ("GET", "HEAD") else "content-profile"
    schema = request.headers.get(header)
    if schema is None:
        return schemas[0]
    if schema not in schemas:
        raise ApiError(
            406,
            "PGRST106",
            f"Invalid schema: {schema}",
            None,
            f"Only the following schemas are exposed: {', '.join(schemas)}",
        )
    return schema


def _cookies(header: str | None) -> dict[str, str]:
    if header is None:
        return {}
    jar: SimpleCookie = SimpleCookie()
    with contextlib.suppress(Exception):
        jar.load(header)
    return {k: m.value for k, m in jar.items()}


def csv_rows(raw: bytes) -> list[dict[str, str | None]]:
    """CSV with a header line → objects, as PostgREST reads a CSV payload."""
    try:
        reader = csv.reader(io.StringIO(raw.decode("utf-8")))
        lines = [line for line in reader if line]
    except (UnicodeDecodeError, csv.Error):
        raise ApiError(400, "PGRST102", "Empty or invalid CSV") from None
    if not lines:
        return []
    header, rows = lines[0], lines[1:]
    if any(len(row) != len(header) for row in rows):
        raise ApiError(400, "PGRST102", "All lines must have same number of fields")
    return [{k: (None if v == "NULL" else v) for k, v in zip(header, row, strict=True)} for row in rows]


def apply_range_header(query: Query, header: str | None) -> None:
    """``Range: 0-9`` as offset and limit of the top level (unless the query string sets them)."""
    if not header:
        return
    match = RANGE_RE.match(header)
    if not match:
        return
    lower = int(match.group(1))
    upper = int(match.group(2)) if match.group(2) else None
    if upper is not None and lower > upper:
        raise ApiError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
        )
    query.offset.setdefault((), lower)
    if upper is not None:
        query.limit.setdefault((), upper - lower + 1)
