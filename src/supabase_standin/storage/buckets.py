"""``/bucket`` routes. Every statement runs as the caller (their policies on
``storage.buckets`` decide; service_role bypasses RLS), except the existence and emptiness
checks before a delete, which Storage makes as its superuser."""

from __future__ import annotations

import asyncio
import builtins
import re
from typing import TYPE_CHECKING, Any

import psycopg
from starlette.responses import Response

from supabase_standin.storage import errors, rules
from supabase_standin.storage.context import Ctx
from supabase_standin.storage.uploads import owner_columns
from supabase_standin.storage.web import Fields, iso, json_body, json_response

if TYPE_CHECKING:
    from supabase_standin.storage.service import StorageService

BUCKET_COLUMNS = "id, name, owner, public, created_at, updated_at, file_size_limit, allowed_mime_types"
SORT_COLUMNS = ("id", "name", "created_at", "updated_at")
CLIENT_VERSION = {
    "supabase-py": re.compile(r"supabase-py/(\d+)\.(\d+)\.(\d+)", re.IGNORECASE),
    "storage3": re.compile(r"supabase-py/storage3 v(\d+)\.(\d+)\.(\d+)", re.IGNORECASE),
}

__all__ = ["BucketRoutes", "bucket_json"]


def bucket_json(row: dict[str, Any], *, with_type: bool = False) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "name": row["name"],
        # Storage's response schema types owner as a string: a NULL owner serialises as "".
        "owner": str(row["owner"]) if row.get("owner") is not None else "",
        "public": bool(row.get("public")),
        "created_at": iso(row.get("created_at")),
        "updated_at": iso(row.get("updated_at")),
        "file_size_limit": row.get("file_size_limit"),
        "allowed_mime_types": row.get("allowed_mime_types"),
    }
    if with_type:
        out["type"] = "STANDARD"
    return out


def _older_than(header: str, client: str, version: tuple[int, int, int]) -> bool:
    match = CLIENT_VERSION[client].search(header)
    return match is not None and tuple(int(x) for x in match.groups()) < version


class BucketRoutes:
    def __init__(self, service: StorageService) -> None:
        self.service = service
        self.db = service.db

    # -- GET /bucket ---------------------------------------------------------------------
    async def list(self, ctx: Ctx) -> Response:
        ctx.authenticate()
        query = Fields(dict(ctx.request.query_params), "querystring")
        limit = query.integer("limit", minimum=1)
        offset = query.integer("offset", minimum=0)
        column = query.string("sortColumn", enum=SORT_COLUMNS)
        order = query.string("sortOrder", enum=("asc", "desc"))
        search = query.string("search")
        sql = f"select {BUCKET_COLUMNS} from storage.buckets"
        params: list[Any] = []
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += " where name ilike %s"
            params.append(f"%{escaped}%")
        if column:
            sql += f" order by {column} {order or 'asc'}"
        if limit is not None:
            sql += " limit %s"
            params.append(limit)
        if offset is not None:
            sql += " offset %s"
            params.append(offset)
        async with self.db.as_caller(ctx.scope("storage.bucket.list"), read_only=True) as tx:
            rows = await tx.all(sql, params)
        # Storage leaves out `type` for clients too old to accept it.
        old = _older_than(ctx.headers.get("x-client-info", ""), "supabase-py", (2, 18, 0)) or _older_than(
            ctx.headers.get("user-agent", ""), "storage3", (0, 12, 1)
        )
        return json_response([bucket_json(r, with_type=not old) for r in rows])

    # -- GET /bucket/{id} ----------------------------------------------------------------
    async def get(self, ctx: Ctx, bucket_id: str) -> Response:
        ctx.authenticate()
        async with self.db.as_caller(ctx.scope("storage.bucket.get"), read_only=True) as tx:
            row = await tx.one(f"select {BUCKET_COLUMNS} from storage.buckets where id = %s limit 1", [bucket_id])
        if row is None:
            raise errors.no_such_bucket()
        return json_response(bucket_json(row))

    # -- POST /bucket --------------------------------------------------------------------
    async def create(self, ctx: Ctx) -> Response:
        ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        name = body.string("name", required=True)
        assert name is not None
        bucket_id = body.string("id") or name
        public = body.boolean("public") or False
        kind = body.string("type", enum=("STANDARD", "ANALYTICS"))
        size_limit = self._size_limit(body)
        mime_types = self._mime_types(body)
        if name.strip() != name:
            raise errors.invalid_bucket_name(name)
        rules.must_be_valid_bucket_name(name)
        rules.must_be_valid_bucket_name(bucket_id)
        if kind == "ANALYTICS":
            raise errors.StorageError(
                409, "FeatureNotEnabled", "The feature iceberg_catalog is not enabled for this resource"
            )
        owner_uuid, owner_id = owner_columns(ctx.caller.owner)
        async with self.db.as_caller(ctx.scope("storage.bucket.create")) as tx:
            try:
                # No RETURNING: like Storage, creating a bucket needs only an INSERT policy.
                await tx.run(
                    "insert into storage.buckets "
                    "(id, name, owner, owner_id, public, allowed_mime_types, file_size_limit) "
                    "values (%s, %s, %s, %s, %s, %s, %s)",
                    [bucket_id, name, owner_uuid, owner_id, public, mime_types, size_limit],
                )
            except psycopg.errors.UniqueViolation:
                raise errors.bucket_already_exists() from None
        return json_response({"name": name})

    def _size_limit(self, body: Fields) -> int | None:
        if not body.has("file_size_limit") or body.data["file_size_limit"] is None:
            return None
        value = body.data["file_size_limit"]
        limit: int | None
        if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
            limit = rules.parse_file_size_to_bytes(value)
        else:
            limit = body.integer("file_size_limit", minimum=0)
        if limit is None:
            return None
        if limit > self.service.max_file_size:
            raise errors.entity_too_large()
        return limit

    @staticmethod
    def _mime_types(body: Fields) -> builtins.list[str] | None:
        types = body.strings("allowed_mime_types")
        if types is None:
            return None
        types = [t for t in types if t]
        rules.validate_allowed_mime_types(types)
        return types

    # -- PUT /bucket/{id} ----------------------------------------------------------------
    async def update(self, ctx: Ctx, bucket_id: str) -> Response:
        ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        if not any(body.has(k) for k in ("public", "file_size_limit", "allowed_mime_types")):
            raise errors.validation("body must match a schema in anyOf")
        changes: dict[str, Any] = {}
        if body.has("public"):
            changes["public"] = body.boolean("public")
        if body.has("file_size_limit"):
            changes["file_size_limit"] = self._size_limit(body)
        if body.has("allowed_mime_types"):
            changes["allowed_mime_types"] = self._mime_types(body)
        rules.must_be_valid_bucket_name(bucket_id)
        assignments = ", ".join(f"{column} = %({column})s" for column in changes)
        async with self.db.as_caller(ctx.scope("storage.bucket.update")) as tx:
            row = await tx.one(
                "with previous_bucket as (select public from storage.buckets where id = %(id)s) "
                f"update storage.buckets set {assignments} where id = %(id)s "
                "returning (select public from previous_bucket) as public",
                {**changes, "id": bucket_id},
            )
        if row is None:
            raise errors.no_such_bucket()
        return json_response({"message": "Successfully updated"})

    # -- DELETE /bucket/{id} -------------------------------------------------------------
    async def delete(self, ctx: Ctx, bucket_id: str) -> Response:
        ctx.authenticate()
        await json_body(ctx.request, allow_empty=True)
        # Storage checks existence and emptiness as its superuser (admin_pool), then
        # deletes as the caller.
        async with self.db.as_admin(read_only=True) as admin:
            exists = await admin.one("select id from storage.buckets where id = %s", [bucket_id])
            if exists is None:
                raise errors.no_such_bucket()
            if await admin.one("select 1 as one from storage.objects where bucket_id = %s limit 1", [bucket_id]):
                raise errors.bucket_not_empty()
        try:
            async with self.db.as_caller(ctx.scope("storage.bucket.delete")) as tx:
                deleted = await tx.run("delete from storage.buckets where id = %s", [bucket_id])
                if not deleted:
                    raise errors.no_such_bucket()
        except errors.StorageError as err:
            if err.code == "ResourceReferenced":  # an object arrived in the meantime
                raise errors.bucket_not_empty() from None
            raise
        return json_response({"message": "Successfully deleted"})

    # -- POST /bucket/{id}/empty ---------------------------------------------------------
    async def empty(self, ctx: Ctx, bucket_id: str) -> Response:
        caller = ctx.authenticate()
        await json_body(ctx.request, allow_empty=True)
        if caller.role != "service_role":  # a service-role-only route in Storage
            raise errors.access_denied("Access denied: Invalid role", http_status=403)
        rules.must_be_valid_bucket_name(bucket_id)
        async with self.db.as_caller(ctx.scope("storage.bucket.empty")) as tx:
            if await tx.one("select id from storage.buckets where id = %s", [bucket_id]) is None:
                raise errors.no_such_bucket()
            rows = await tx.all("delete from storage.objects where bucket_id = %s returning version", [bucket_id])
        for row in rows:
            await asyncio.to_thread(self.service.blobs.delete, row["version"])
        return json_response({"message": "Successfully emptied"})

    # -- buckets of supabase/config.toml -------------------------------------------------
    async def ensure_config_buckets(self) -> None:
        """Create (or align) the buckets listed under ``[storage.buckets.*]``, as
        ``supabase start`` does. Runs as supabase_storage_admin (admin_pool): there is no
        caller at start-up."""
        buckets = self.service.section.buckets
        if not buckets:
            return
        async with self.db.as_admin() as admin:
            for name, options in buckets.items():
                await admin.run(
                    "insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) "
                    "values (%s, %s, %s, %s, %s) on conflict (id) do update set public = excluded.public, "
                    "file_size_limit = excluded.file_size_limit, allowed_mime_types = excluded.allowed_mime_types",
                    [
                        name,
                        name,
                        options.public,
                        options.file_size_limit,
                        list(options.allowed_mime_types) if options.allowed_mime_types else None,
                    ],
                )
