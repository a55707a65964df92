"""Request bodies decoded the way GoTrue's ``json.Unmarshal`` into a Go struct decodes them:
unknown keys ignored, keys matched case-insensitively, ``null`` leaves the default, a value
of the wrong JSON type fails the whole request with ``400 bad_json``."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

from supabase_standin.auth.errors import AuthError
from supabase_standin.mediatype import media_type

#: GoTrue reads at most 1 MiB of a request body.
MAX_BODY = 1 << 20
#: Nesting deeper than this is refused (PostgreSQL and the JSON round trips stay safe).
MAX_DEPTH = 256


@dataclass(frozen=True)
class Field:
    """One struct field: its JSON name and Go kind (``string``, ``bool``, ``map``, ``*string``)."""

    name: str
    kind: str


_GO_TYPES = {"string": "string", "*string": "string", "bool": "bool", "map": "map[string]interface {}"}


def json_kind(value: Any) -> str:
    """The JSON kind Go's decoder names in its errors (``cannot unmarshal <kind> …``)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def parse_uuid(text: str) -> str | None:
    """``uuid.Parse``: the canonical form of a UUID, None when ``text`` is not one."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def bad_json(detail: str) -> AuthError:
    return AuthError(400, "bad_json", f"Could not parse request body as JSON: {detail}")


def parse_json(body: bytes) -> Any:
    if len(body) > MAX_BODY:
        raise AuthError(413, "request_entity_too_large", f"Request body too large (max {MAX_BODY} bytes)")
    if not body.strip():
        raise bad_json("unexpected end of JSON input")
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise bad_json("invalid character in string literal") from None
    except json.JSONDecodeError as exc:
        raise bad_json(f"invalid character at offset {exc.pos}: {exc.msg}") from None
    except RecursionError:
        raise bad_json("exceeded max depth") from None
    _check(data)
    return data


def _check(value: Any) -> None:
    """Refuse what PostgreSQL's jsonb cannot store (NUL characters) and absurd nesting, so
    that such input is a client error rather than a database failure."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise bad_json("exceeded max depth")
        if isinstance(item, str):
            if "\x00" in item:
                raise bad_json("unsupported Unicode escape sequence \\u0000")
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    raise bad_json("unsupported Unicode escape sequence \\u0000")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def decode(body: bytes, struct: str, fields: list[Field]) -> dict[str, Any]:
    """Decode ``body`` into a dict holding only ``fields`` that were present and not null."""
    data = parse_json(body)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AuthError(
            400,
            "bad_json",
            f"Could not parse request body as JSON: json: cannot unmarshal {json_kind(data)} "
            f"into Go value of type api.{struct}",
        )
    out: dict[str, Any] = {}
    for f in fields:
        key = f.name if f.name in data else next((k for k in data if k.lower() == f.name.lower()), None)
        if key is None:
            continue
        value = data[key]
        if value is None:
            continue
        ok = (
            (f.kind in ("string", "*string") and isinstance(value, str))
            or (f.kind == "bool" and isinstance(value, bool))
            or (f.kind == "map" and isinstance(value, dict))
        )
        if not ok:
            raise AuthError(
                400,
                "bad_json",
                f"Could not parse request body as JSON: json: cannot unmarshal {json_kind(value)} into Go struct "
                f"field {struct}.{f.name} of type {_GO_TYPES[f.kind]}",
            )
        out[f.name] = value
    return out


@dataclass(frozen=True)
class FormBody:
    """A form body as Go's ``Request.ParseMultipartForm`` reads it: URL-encoded fields and
    multipart fields apart, because ``FormValue`` ranks them differently."""

    urlencoded: dict[str, list[str]] = field(default_factory=dict)
    multipart: dict[str, list[str]] = field(default_factory=dict)


def read_form(content_type: str | None, body: bytes) -> FormBody | None:
    """The form fields of a POST body with a form content type, or None for any other
    content type. Go reads (and so consumes) such a body whenever a handler asks for a form
    value; malformed forms give no fields, never an error, as ``FormValue`` ignores it."""
    kind = media_type(content_type)
    if kind == "application/x-www-form-urlencoded":
        text = body.decode("utf-8", "replace")
        return FormBody(urlencoded=parse_qs(text, keep_blank_values=True))
    if kind == "multipart/form-data":
        return FormBody(multipart=_multipart_fields(content_type or "", body))
    return None


def _multipart_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, list[str]] = {}
    if not msg.is_multipart():
        return fields
    for part in msg.iter_parts():
        if part.get_content_disposition() != "form-data" or part.get_filename() is not None:
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields.setdefault(name, []).append(payload.decode("utf-8", "replace"))
    return fields


def form_value(name: str, form: FormBody | None, query: dict[str, list[str]]) -> str:
    """Go's ``Request.FormValue``: the URL-encoded body first, then the query string, then
    the multipart body; "" when none has the field."""
    for source in (form.urlencoded if form else {}, query, form.multipart if form else {}):
        values = source.get(name)
        if values:
            return values[0]
    return ""
