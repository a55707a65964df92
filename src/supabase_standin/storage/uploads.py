"""Uploads: reading the file from the request (raw body or multipart form), the bucket's
size and MIME limits, and storing row + bytes with nothing half-done.

Order of checks as Storage's ``fileUploadFromRequest`` + ``Uploader``: bucket exists,
MIME type allowed (415), size of a raw body (413), then the row is written in the
caller's transaction — INSERT, or INSERT … ON CONFLICT DO UPDATE for an upsert, so the
policies on ``storage.objects`` decide (an upsert needs INSERT, UPDATE and SELECT). The
bytes are written (to a new version file) only after PostgreSQL accepted the row, and the
file is removed again if the transaction does not commit. A replaced version's file is
deleted only after the commit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb
from starlette.requests import Request

from supabase_standin.storage import errors, multipart, rules
from supabase_standin.storage.blobs import BlobStore
from supabase_standin.storage.db import Tx
from supabase_standin.storage.web import iso

MAX_USER_METADATA = 1024 * 1024
X_ROBOTS_TAG = re.compile(r"^[A-Za-z0-9 ,:_.-]{1,200}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-5][0-9a-f]{3}-[089ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)


class TxFactory(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[Tx]: ...


@dataclass
class Incoming:
    data: bytes
    mimetype: str
    cache_control: str
    user_metadata: Any
    x_robots_tag: str | None
    max_size: int
    #: Multipart bodies are checked against the size limit after the row was accepted,
    #: raw bodies before (Storage checks a raw body's Content-Length up front and notices
    #: a truncated form file only after the upload).
    check_size_late: bool


@dataclass
class Stored:
    id: str
    version: str
    metadata: dict[str, Any]
    created_at: datetime


def is_uuid(value: str | None) -> bool:
    return bool(value) and bool(UUID.match(value or ""))


def owner_columns(owner: str | None) -> tuple[str | None, str | None]:
    """``owner`` (uuid, deprecated) only when the subject is a UUID; ``owner_id`` always."""
    return (owner if is_uuid(owner) else None), owner


async def read_file(request: Request, name: str, bucket: dict[str, Any], global_limit: int) -> Incoming:
    """The file of an upload request, checked against the bucket's limits."""
    max_size = 0
    if not rules.is_empty_folder(name):
        max_size = global_limit
        if isinstance(bucket.get("file_size_limit"), int):
            max_size = min(max_size, bucket["file_size_limit"])
    allowed = [m for m in (bucket.get("allowed_mime_types") or []) if m]
    check_mime = bool(allowed) and not rules.is_empty_folder(name)
    content_type = request.headers.get("content-type") or ""
    x_robots_tag = request.headers.get("x-robots-tag")
    if x_robots_tag is not None and not X_ROBOTS_TAG.match(x_robots_tag):
        raise errors.StorageError(
            400, "InvalidRequest", f"Invalid X-Robots-Tag header: {x_robots_tag[:50]}", error="invalid_x_robots_tag"
        )
    body = await request.body()
    if content_type.lower().startswith("multipart/form-data"):
        try:
            form = multipart.parse(body, content_type)
        except (ValueError, LookupError, TypeError, UnicodeError) as exc:
            raise errors.no_content_provided(f"Malformed multipart body: {exc}") from None
        if form.file is None:
            raise errors.no_content_provided()
        cache_time = form.fields.get("cacheControl")
        mimetype = form.fields.get("contentType") or form.file.content_type or "text/plain"
        if check_mime:
            rules.validate_mime_type(mimetype, allowed)
        user_metadata = None
        custom = form.fields.get("metadata", form.fields.get("userMetadata"))
        if custom is not None:
            if len(custom.encode()) > MAX_USER_METADATA:
                raise errors.entity_too_large("user_metadata")
            try:
                user_metadata = json.loads(custom)
            except (ValueError, RecursionError):
                user_metadata = None
        return Incoming(
            form.file.data,
            mimetype,
            f"max-age={cache_time}" if cache_time else "no-cache",
            user_metadata,
            x_robots_tag,
            max_size,
            check_size_late=True,
        )
    mimetype = content_type or "application/octet-stream"
    if check_mime:
        rules.validate_mime_type(mimetype, allowed)
    user_metadata = None
    header = request.headers.get("x-metadata")
    if header is not None:
        try:
            user_metadata = json.loads(base64.b64decode(header, validate=False).decode())
        except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
            user_metadata = None
    if len(body) > max_size:
        raise errors.entity_too_large()
    cache_control = request.headers.get("cache-control") or "no-cache"
    return Incoming(body, mimetype, cache_control, user_metadata, x_robots_tag, max_size, check_size_late=False)


def object_metadata(incoming: Incoming, now: datetime) -> dict[str, Any]:
    """``storage.objects.metadata`` as Storage's backend reports it after an upload."""
    size = len(incoming.data)
    metadata: dict[str, Any] = {
        "eTag": f'"{hashlib.md5(incoming.data, usedforsecurity=False).hexdigest()}"',
        "size": size,
        "mimetype": incoming.mimetype,
        "cacheControl": incoming.cache_control,
        "lastModified": iso(now),
        "contentLength": size,
        "httpStatusCode": 200,
    }
    if incoming.x_robots_tag:
        metadata["xRobotsTag"] = incoming.x_robots_tag
    return metadata


async def lock_object(tx: Tx, bucket: str, name: str) -> None:
    """Serialise writers of one key (Storage's ``waitObjectLock``)."""
    await tx.run("select pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{bucket}/{name}"])


async def write_row(
    tx: Tx,
    *,
    bucket: str,
    name: str,
    owner: str | None,
    metadata: dict[str, Any],
    user_metadata: Any,
    version: str,
    upsert: bool,
) -> tuple[str, str | None]:
    """Insert (or upsert) the row; returns its id and the version it replaced."""
    owner_uuid, owner_id = owner_columns(owner)
    params: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "bucket": bucket,
        "name": name,
        "owner": owner_uuid,
        "owner_id": owner_id,
        "metadata": Jsonb(metadata),
        "user_metadata": Jsonb(user_metadata) if user_metadata is not None else None,
        "version": version,
    }
    columns = "(id, bucket_id, name, owner, owner_id, metadata, user_metadata, version)"
    values = "(%(id)s, %(bucket)s, %(name)s, %(owner)s, %(owner_id)s, %(metadata)s, %(user_metadata)s, %(version)s)"
    if not upsert:
        # No RETURNING: like Storage, a plain upload needs only an INSERT policy.
        try:
            await tx.run(f"insert into storage.objects {columns} values {values}", params)
        except psycopg.errors.UniqueViolation:
            raise errors.key_already_exists() from None
        return params["id"], None
    previous = await tx.one("select version from storage.objects where bucket_id = %s and name = %s", [bucket, name])
    row = await tx.one(
        f"insert into storage.objects {columns} values {values} "
        "on conflict (name, bucket_id) do update set metadata = excluded.metadata, "
        "user_metadata = excluded.user_metadata, version = excluded.version, owner = excluded.owner, "
        "owner_id = excluded.owner_id, updated_at = now() returning id",
        params,
    )
    assert row is not None
    return str(row["id"]), (previous["version"] if previous else None)


async def store(
    transaction: TxFactory,
    blobs: BlobStore,
    *,
    bucket: str,
    name: str,
    owner: str | None,
    incoming: Incoming,
    upsert: bool,
) -> Stored:
    """Write the row in the given transaction, then the bytes, then commit."""
    version = blobs.new_version()
    async with transaction() as tx:
        await lock_object(tx, bucket, name)
        now_row = await tx.one("select now() as now")
        assert now_row is not None
        metadata = object_metadata(incoming, now_row["now"])
        object_id, replaced = await write_row(
            tx,
            bucket=bucket,
            name=name,
            owner=owner,
            metadata=metadata,
            user_metadata=incoming.user_metadata if isinstance(incoming.user_metadata, dict) else {},
            version=version,
            upsert=upsert,
        )
        if incoming.check_size_late and len(incoming.data) > incoming.max_size:
            raise errors.entity_too_large()
        await commit_with_bytes(tx, blobs, version, incoming.data)
    if replaced and replaced != version:
        await asyncio.to_thread(blobs.delete, replaced)
    return Stored(object_id, version, metadata, now_row["now"])


async def commit_with_bytes(
    tx: Tx, blobs: BlobStore, version: str, data: bytes | None, source: str | None = None
) -> None:
    """Write the version's file (or copy it from ``source``), then COMMIT; if the commit
    fails the file is removed, so no bytes exist without their row."""
    written = False
    try:
        if data is not None:
            await asyncio.to_thread(blobs.write, version, data)
        elif not await asyncio.to_thread(blobs.copy, source, version):
            raise errors.resource_not_found()
        written = True
        await tx.commit()
    except BaseException:
        if written:
            await asyncio.to_thread(blobs.delete, version)
        raise


async def test_permission(
    tx: Tx, *, bucket: str, name: str, owner: str | None, upsert: bool, metadata: dict[str, Any]
) -> None:
    """Storage's ``canUpload``: try the write as the caller, then roll it back."""
    await write_row(
        tx,
        bucket=bucket,
        name=name,
        owner=owner,
        metadata=metadata,
        user_metadata=None,
        version="1",
        upsert=upsert,
    )
    await tx.rollback()
