"""What the object routes share: reading buckets and objects as the caller or, where
Supabase Storage uses its superuser, through the admin pool, and serving an object."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from supabase_standin.storage import errors, render
from supabase_standin.storage.context import Ctx
from supabase_standin.storage.db import Tx
from supabase_standin.storage.web import iso

if TYPE_CHECKING:
    from supabase_standin.storage.service import StorageService

OBJECT_COLUMNS = "id, name, bucket_id, version, metadata, user_metadata, created_at, updated_at"


def object_json(row: dict[str, Any]) -> dict[str, Any]:
    """A ``storage.objects`` row the way Storage's response schema renders it."""
    out: dict[str, Any] = {"name": row.get("name")}
    for key in ("bucket_id", "owner", "owner_id", "version"):
        if key in row:
            out[key] = "" if row[key] is None else str(row[key])
    if "id" in row:
        out["id"] = None if row["id"] is None else str(row["id"])
    for key in ("updated_at", "created_at", "last_accessed_at"):
        if key in row:
            out[key] = iso(row[key])
    for key in ("metadata", "user_metadata"):
        if key in row:
            out[key] = row[key]
    return out


class ObjectAccess:
    def __init__(self, service: StorageService) -> None:
        self.service = service
        self.db = service.db
        self.blobs = service.blobs
        self.secret = service.jwt_secret

    # -- helpers -------------------------------------------------------------------------
    async def _admin_bucket(self, bucket: str, *, public_only: bool = False) -> dict[str, Any] | None:
        """A bucket's flags and limits, read as Storage's superuser (admin_pool)."""
        async with self.db.as_admin(read_only=True) as admin:
            row = await admin.one(
                "select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = %s limit 1",
                [bucket],
            )
        if row is not None and public_only and not row["public"]:
            return None
        return row

    async def _admin_object(self, bucket: str, name: str) -> dict[str, Any] | None:
        """An object's row read as Storage's superuser (admin_pool): public buckets and
        signed URLs only."""
        async with self.db.as_admin(read_only=True) as admin:
            return await admin.one(
                f"select {OBJECT_COLUMNS} from storage.objects where name = %s and bucket_id = %s limit 1",
                [name, bucket],
            )

    @staticmethod
    async def _find(tx: Tx, bucket: str, name: str, columns: str = OBJECT_COLUMNS) -> dict[str, Any]:
        row = await tx.one(
            f"select {columns} from storage.objects where name = %s and bucket_id = %s limit 1", [name, bucket]
        )
        if row is None:
            raise errors.no_such_key()
        return row

    async def _bytes(self, obj: dict[str, Any]) -> bytes:
        data = await asyncio.to_thread(self.blobs.read, obj.get("version"))
        if data is None:
            raise errors.resource_not_found()
        return data

    def _asset(self, ctx: Ctx, obj: dict[str, Any], data: bytes, *, expires: str | None = None) -> Response:
        return render.asset(
            obj,
            data,
            range_header=ctx.headers.get("range"),
            if_none_match=ctx.headers.get("if-none-match"),
            download=ctx.query("download"),
            expires=expires,
            head=ctx.method == "HEAD",
        )
