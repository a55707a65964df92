"""Storage's naming, size and MIME rules (src/storage/limits.ts, uploader.ts, storage.ts)."""

from __future__ import annotations

import re

from supabase_standin.storage import errors

#: Object keys: S3-safe characters only (Storage's ``VALID_OBJECT_KEY``); no NUL, no
#: control characters, no backslash, nothing outside ASCII.
VALID_OBJECT_KEY = re.compile(r"^[A-Za-z0-9_/!.*'() &$=@;:+,?-]*$")
#: Bucket names: the same set without ``/``.
VALID_BUCKET_NAME = re.compile(r"^[A-Za-z0-9_!.*'() &$=@;:+,?-]*$")
VALID_MIME_TYPE = re.compile(r"^([a-zA-Z0-9\-+.]+)/([a-zA-Z0-9\-+.]+)(;\s*charset=[a-zA-Z0-9\-]+)?$|\*$")
FILE_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(gb|mb|kb|b)$", re.IGNORECASE)
EMPTY_FOLDER_PLACEHOLDER = ".emptyFolderPlaceholder"


def is_valid_key(key: str) -> bool:
    """Storage's key rule, plus the file backend's path rules (``secure-path.ts``): no
    ``.``/``..`` segment and no leading ``/``, so a key is always a relative path."""
    if not key or not VALID_OBJECT_KEY.match(key):
        return False
    if key.startswith("/"):
        return False
    return not any(segment in (".", "..") for segment in key.split("/"))


def must_be_valid_key(key: str | None) -> str:
    if key is None or not is_valid_key(key):
        raise errors.invalid_key(key or "")
    return key


def must_be_valid_bucket_name(name: str | None) -> str:
    if not name or len(name) > 100 or not VALID_BUCKET_NAME.match(name):
        raise errors.invalid_bucket_name(name or "")
    return name


def is_empty_folder(name: str) -> bool:
    return name.endswith(EMPTY_FOLDER_PLACEHOLDER)


def parse_file_size_to_bytes(value: str) -> int:
    """``"20MB"`` → 20000000, as Storage parses a bucket's ``file_size_limit`` string
    (decimal units, three significant digits)."""
    match = FILE_SIZE.match(value.strip())
    if not match:
        raise errors.invalid_file_size_limit()
    number = float(f"{float(match.group(1)):.3g}")
    factor = {"gb": 10**9, "mb": 10**6, "kb": 10**3, "b": 1}[match.group(2).lower()]
    return int(number * factor)


def validate_mime_type(mime: str, allowed: list[str]) -> None:
    """Raise 415 unless ``mime`` matches one of the bucket's allowed types (``type/*``
    wildcards allowed), comparing type and subtype as Storage does."""
    requested = mime.split("/")
    if len(requested) < 2:
        raise errors.invalid_mime_type(mime)
    kind, ext = requested[0], requested[1]
    for candidate in allowed:
        parts = candidate.split("/")
        if len(parts) < 2:
            continue
        if parts[0] == kind and parts[1] in ("*", ext):
            return
    raise errors.invalid_mime_type(mime)


def validate_allowed_mime_types(types: list[str]) -> None:
    for mime in types:
        # Storage tests with JS `match`: the `\*$` alternative is not anchored at the start.
        if len(mime) > 1000 or not VALID_MIME_TYPE.search(mime):
            raise errors.invalid_mime_type(mime)
