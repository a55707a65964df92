"""Content-Type headers, read as the servers the stand-in imitates read them."""

from __future__ import annotations

from email.message import Message


def media_type(content_type: str | None) -> str:
    """``type/subtype`` of a Content-Type header, lower-cased, without parameters ("" when
    the header is absent or blank)."""
    if not content_type or not content_type.strip():
        return ""
    msg = Message()
    msg["content-type"] = content_type
    return msg.get_content_type()
