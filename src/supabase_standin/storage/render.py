"""Serving an object's bytes and info with the headers Storage's renderers set."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from supabase_standin.storage import errors
from supabase_standin.storage.errors import JSON_TYPE
from supabase_standin.storage.web import http_date, iso, json_response

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _last_modified(metadata: dict[str, Any]) -> str | None:
    value = metadata.get("lastModified")
    if not isinstance(value, str):
        return None
    try:
        return http_date(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _header_safe(value: Any) -> str | None:
    if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
        return None
    return value


def content_type(metadata: dict[str, Any]) -> str:
    mimetype = _header_safe(metadata.get("mimetype")) or "application/octet-stream"
    # Storage never serves HTML from a bucket.
    return "text/plain" if "text/html" in mimetype else mimetype


def asset(
    obj: dict[str, Any],
    data: bytes,
    *,
    range_header: str | None,
    if_none_match: str | None,
    download: str | None,
    expires: str | None,
    head: bool,
) -> Response:
    metadata = _metadata(obj)
    etag = _header_safe(metadata.get("eTag"))
    size = len(data)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": content_type(metadata),
        "X-Robots-Tag": _header_safe(metadata.get("xRobotsTag")) or "none",
    }
    if etag:
        headers["ETag"] = etag
    last_modified = _last_modified(metadata)
    if last_modified:
        headers["Last-Modified"] = last_modified
    if expires:
        headers["Expires"] = expires
    else:
        cache_control = _header_safe(metadata.get("cacheControl"))
        if cache_control:
            headers["Cache-Control"] = cache_control
    if download is not None:
        if download == "":
            headers["Content-Disposition"] = "attachment;"
        else:
            name = quote(download, safe="!~*'()")  # as encodeURIComponent
            headers["Content-Disposition"] = f"attachment; filename={name}; filename*=UTF-8''{name}"
    if etag and if_none_match and if_none_match == etag:
        return Response(status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    status = 200
    body = data
    if range_header:
        match = RANGE.match(range_header.strip())
        if match and (match.group(1) or match.group(2)):
            first, last = match.group(1), match.group(2)
            if first:
                start = int(first)
                end = min(int(last), size - 1) if last else size - 1
            else:
                start = max(size - int(last), 0)
                end = size - 1
            if start >= size or start > end:
                err = errors.range_not_satisfiable()
                return Response(
                    err.body(), status_code=416, headers={"Content-Range": f"bytes */{size}", "Content-Type": JSON_TYPE}
                )
            status = 206
            body = data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(len(body))
    return Response(b"" if head else body, status_code=status, headers=headers)


def info(obj: dict[str, Any]) -> Response:
    """``GET /object/info/…``: the object's row and metadata as JSON."""
    metadata = _metadata(obj)
    body = {
        "id": str(obj["id"]) if obj.get("id") is not None else None,
        "name": obj.get("name"),
        "version": obj.get("version"),
        "bucket_id": obj.get("bucket_id"),
        "size": metadata.get("size"),
        "content_type": metadata.get("mimetype"),
        "cache_control": metadata.get("cacheControl"),
        "etag": metadata.get("eTag"),
        "metadata": obj.get("user_metadata"),
        "last_modified": iso(obj.get("updated_at")),
        "created_at": iso(obj.get("created_at")),
    }
    headers: dict[str, str] = {}
    etag = _header_safe(metadata.get("eTag"))
    if etag:
        headers["ETag"] = etag
    last_modified = _last_modified(metadata)
    if last_modified:
        headers["Last-Modified"] = last_modified
    cache_control = _header_safe(metadata.get("cacheControl"))
    if cache_control:
        headers["Cache-Control"] = cache_control
    return json_response(body, headers=headers)
