"""A small ``multipart/form-data`` reader for uploads (storage3 and supabase-js send the
file as a form with ``cacheControl`` / ``metadata`` / ``contentType`` fields).

Limits as Storage's form parser sets them: at most 10 fields and 1 file; anything beyond
is ignored. A part is a file when its ``Content-Disposition`` has a ``filename``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from supabase_standin.storage import errors

MAX_FIELDS = 10


@dataclass
class FilePart:
    name: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    file: FilePart | None = None


def boundary_of(content_type: str) -> str | None:
    msg = Message()
    msg["content-type"] = content_type
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        return None
    return boundary


def _disposition(value: str) -> tuple[str | None, str | None]:
    msg = Message()
    msg["content-disposition"] = value
    if msg.get_content_disposition() != "form-data":
        return None, None
    name = msg.get_param("name", header="content-disposition")
    filename = msg.get_filename()
    return (name if isinstance(name, str) else None), filename


def parse(body: bytes, content_type: str) -> Form:
    boundary = boundary_of(content_type)
    if boundary is None:
        raise errors.no_content_provided("Multipart: Boundary not found")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2:
        raise errors.no_content_provided("Unexpected end of form")
    form = Form()
    closed = False
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            closed = True
            break
        part = chunk.lstrip(b" \t")
        if not part.startswith(b"\r\n"):
            raise errors.no_content_provided("Malformed part header")
        head, sep, content = part[2:].partition(b"\r\n\r\n")
        if not sep:
            if head.endswith(b"\r\n") or not head:  # a part with no headers
                continue
            raise errors.no_content_provided("Malformed part header")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            header, colon, value = line.partition(":")
            if colon:
                headers[header.strip().lower()] = value.strip()
        name, filename = _disposition(headers.get("content-disposition", ""))
        if name is None:
            continue
        if filename is not None:
            if form.file is None:
                form.file = FilePart(name, filename, headers.get("content-type"), content)
            continue
        if len(form.fields) < MAX_FIELDS and name not in form.fields:
            form.fields[name] = content.decode("utf-8", "replace")
    if not closed:
        raise errors.no_content_provided("Unexpected end of form")
    return form
