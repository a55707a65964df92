"""Request bodies decoded the way GoTrue's ``json.Unmarshal`` into a Go struct decodes them:
unknown keys ignored, keys matched case-insensitively, ``null`` leaves the default, a value
of the wrong JSON type fails the whole request with ``400 bad_json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wats.auth.errors import AuthError

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


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


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
            f"Could not parse request body as JSON: json: cannot unmarshal {_json_kind(data)} "
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
                f"Could not parse request body as JSON: json: cannot unmarshal {_json_kind(value)} into Go struct "
                f"field {struct}.{f.name} of type {_GO_TYPES[f.kind]}",
            )
        out[f.name] = value
    return out
