"""The wire of Supabase Realtime: Phoenix channel messages over one WebSocket, in the two
serializers the clients speak (``vsn`` in the socket's query string).

- ``1.0.0`` (supabase-py's realtime client): every frame is a JSON object
  ``{"topic", "event", "payload", "ref", "join_ref"}`` (Phoenix's V1 JSON serializer).
- ``2.0.0`` (supabase-js's default): text frames are JSON arrays
  ``[join_ref, ref, topic, event, payload]``; broadcasts of user events are binary frames
  (Realtime's ``V2Serializer``): a client pushes kind 3 (``user_broadcast_push``), the
  server delivers kind 4 (``user_broadcast``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

VSN_1 = "1.0.0"
VSN_2 = "2.0.0"
SERIALIZERS = (VSN_1, VSN_2)

USER_BROADCAST_PUSH = 3
USER_BROADCAST = 4
JSON_ENCODING = 1
BINARY_ENCODING = 0


class ProtocolError(ValueError):
    """A frame that is not a Phoenix message of the socket's serializer."""


@dataclass
class Frame:
    """One Phoenix message, whichever serializer carried it."""

    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None
    #: A user broadcast pushed as a binary frame: (event, payload bytes, encoding).
    binary: tuple[str, bytes, int] | None = field(default=None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int):
        return str(value)
    raise ProtocolError("ref and join_ref must be strings")


def decode_text(vsn: str, text: str) -> Frame:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("invalid JSON") from exc
    if vsn == VSN_1:
        if not isinstance(data, dict):
            raise ProtocolError("a message must be a JSON object")
        topic, event = data.get("topic"), data.get("event")
        payload = data.get("payload")
        ref, join_ref = data.get("ref"), data.get("join_ref")
    else:
        if not isinstance(data, list) or len(data) != 5:
            raise ProtocolError("a message must be a JSON array of 5 elements")
        join_ref, ref, topic, event, payload = data
    if not isinstance(topic, str) or not isinstance(event, str):
        raise ProtocolError("topic and event must be strings")
    return Frame(topic, event, payload, _text(ref), _text(join_ref))


def decode_binary(vsn: str, data: bytes) -> Frame:
    """A ``user_broadcast_push`` (kind 3) of the V2 serializer."""
    if vsn != VSN_2 or len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
        raise ProtocolError("unexpected binary frame")
    join_ref_len, ref_len, topic_len, event_len, meta_len, encoding = data[1:7]
    offset = 7
    parts: list[bytes] = []
    for size in (join_ref_len, ref_len, topic_len, event_len, meta_len):
        parts.append(data[offset : offset + size])
        offset += size
    if offset > len(data):
        raise ProtocolError("truncated binary frame")
    try:
        join_ref, ref, topic, event, _meta = (p.decode() for p in parts)
    except UnicodeDecodeError as exc:
        raise ProtocolError("binary frame header is not UTF-8") from exc
    body = data[offset:]
    return Frame(
        topic,
        "broadcast",
        None,
        ref or None,
        join_ref or None,
        binary=(event, body, encoding),
    )


def encode(vsn: str, frame: Frame) -> str:
    """A text frame for ``frame`` (replies, pushes, JSON broadcasts of the V1 serializer)."""
    if vsn == VSN_1:
        return json.dumps(
            {"topic": frame.topic, "event": frame.event, "payload": frame.payload, "ref": frame.ref},
            separators=(",", ":"),
        )
    return json.dumps([frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload], separators=(",", ":"))


def reply(vsn: str, request: Frame, status: str, response: Any) -> str:
    """``phx_reply`` to a client's message (``response`` {} for a bare ok)."""
    return encode(
        vsn,
        Frame(
            request.topic,
            "phx_reply",
            {"status": status, "response": response},
            ref=request.ref,
            join_ref=request.join_ref,
        ),
    )


def push(vsn: str, topic: str, event: str, payload: Any, join_ref: str | None = None) -> str:
    """A server push on a channel (``system``, ``phx_close`` …)."""
    return encode(vsn, Frame(topic, event, payload, ref=join_ref if event == "phx_close" else None, join_ref=join_ref))


def user_broadcast(
    vsn: str, topic: str, event: str, payload: bytes, encoding: int, meta: dict[str, Any] | None
) -> str | bytes:
    """A broadcast to subscribers: JSON for V1 (Realtime converts user broadcasts for it),
    the binary ``user_broadcast`` frame for V2. ``payload`` is the user payload's bytes:
    JSON text when ``encoding`` is JSON."""
    if vsn == VSN_1:
        if encoding != JSON_ENCODING:
            raise ProtocolError("binary payloads cannot be sent to a 1.0.0 client")
        body: dict[str, Any] = {"event": event, "payload": json.loads(payload), "type": "broadcast"}
        if meta:
            body["meta"] = meta
        return encode(vsn, Frame(topic, "broadcast", body))
    topic_b, event_b = topic.encode(), event.encode()
    meta_b = json.dumps(meta, separators=(",", ":")).encode() if meta else b""
    for part in (topic_b, event_b, meta_b):
        if len(part) > 255:
            raise ProtocolError("topic, event and metadata must fit in 255 bytes")
    header = bytes([USER_BROADCAST, len(topic_b), len(event_b), len(meta_b), encoding])
    return header + topic_b + event_b + meta_b + payload
