"""``/object`` routes.

Reads, writes, moves, copies, deletes and signatures run as the caller in one transaction
with the request GUCs, so the policies on ``storage.objects`` decide: INSERT for an upload,
INSERT + UPDATE + SELECT for an upsert, SELECT for download, info, list and signing,
SELECT + UPDATE for a move, SELECT on the source + INSERT on the destination for a copy,
DELETE (+ SELECT, for the rows returned) for a remove.

The admin pool (supabase_storage_admin, which RLS does not restrict) is used exactly where
Supabase Storage uses its superuser:
- reading a bucket's ``public`` flag and limits (the caller may not see ``storage.buckets``);
- reading objects of public buckets (``/object/public/…`` and, for public buckets, the
  authenticated download and info routes);
- telling "not found" from "not allowed" after a single-object delete removed nothing;
- signed URLs (``signed.py``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any

from starlette.responses import Response

from supabase_standin.storage import errors, listing, render, rules, uploads
from supabase_standin.storage.access import ObjectAccess, object_json
from supabase_standin.storage.context import Ctx
from supabase_standin.storage.web import Fields, iso, json_body, json_response


class ObjectRoutes(ObjectAccess):
    # -- upload: POST / PUT /object/{bucket}/{name} ----------------------------------------
    async def upload(self, ctx: Ctx, bucket: str, name: str, *, upsert: bool) -> Response:
        caller = ctx.authenticate()
        rules.must_be_valid_bucket_name(bucket)
        # Bucket limits are read as Storage's superuser: the caller may not see buckets.
        bucket_row = await self._admin_bucket(bucket)
        if bucket_row is None:
            raise errors.no_such_bucket()
        incoming = await uploads.read_file(ctx.request, name, bucket_row, self.service.max_file_size)
        rules.must_be_valid_key(name)
        operation = "storage.object.upload_update" if ctx.method == "PUT" else "storage.object.upload"
        stored = await uploads.store(
            lambda: self.db.as_caller(ctx.scope(operation)),
            self.blobs,
            bucket=bucket,
            name=name,
            owner=caller.owner,
            incoming=incoming,
            upsert=upsert,
        )
        return json_response({"Id": stored.id, "Key": f"{bucket}/{name}"})

    # -- download: GET/HEAD /object/{bucket}/{name}, /object/authenticated/… ---------------
    async def download(self, ctx: Ctx, bucket: str, name: str, *, allow_invalid_jwt: bool) -> Response:
        obj = await self._readable_object(ctx, bucket, name, allow_invalid_jwt=allow_invalid_jwt, op="get")
        return self._asset(ctx, obj, await self._bytes(obj))

    async def info(self, ctx: Ctx, bucket: str, name: str, *, allow_invalid_jwt: bool) -> Response:
        obj = await self._readable_object(ctx, bucket, name, allow_invalid_jwt=allow_invalid_jwt, op="info")
        path = self.blobs.path_for(obj.get("version"))
        if path is None or not path.is_file():
            raise errors.resource_not_found()
        return render.info(obj)

    async def _readable_object(
        self, ctx: Ctx, bucket: str, name: str, *, allow_invalid_jwt: bool, op: str
    ) -> dict[str, Any]:
        caller = ctx.authenticate(allow_invalid=allow_invalid_jwt)
        rules.must_be_valid_bucket_name(bucket)
        bucket_row = await self._admin_bucket(bucket)
        if bucket_row is None or (not caller.authenticated and not bucket_row["public"]):
            raise errors.no_such_bucket()
        rules.must_be_valid_key(name)
        if bucket_row["public"]:
            # Public bucket: Storage reads the object as its superuser, no RLS.
            obj = await self._admin_object(bucket, name)
            if obj is None:
                raise errors.no_such_key()
            return obj
        operation = "storage.object.get_authenticated" if op == "get" else "object.get_authenticated_info"
        async with self.db.as_caller(ctx.scope(operation), read_only=True) as tx:
            return await self._find(tx, bucket, name)

    # -- GET/HEAD /object/public/{bucket}/{name}, GET /object/info/public/… ---------------
    async def public(self, ctx: Ctx, bucket: str, name: str, *, info: bool = False) -> Response:
        rules.must_be_valid_bucket_name(bucket)
        rules.must_be_valid_key(name)
        if await self._admin_bucket(bucket, public_only=True) is None:
            raise errors.no_such_bucket()
        obj = await self._admin_object(bucket, name)
        if obj is None:
            raise errors.no_such_key()
        if info:
            path = self.blobs.path_for(obj.get("version"))
            if path is None or not path.is_file():
                raise errors.resource_not_found()
            return render.info(obj)
        return self._asset(ctx, obj, await self._bytes(obj))

    # -- POST /object/list/{bucket} -------------------------------------------------------
    async def list(self, ctx: Ctx, bucket: str) -> Response:
        ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        prefix = body.string("prefix", required=True)
        assert prefix is not None
        limit = body.integer("limit", minimum=1)
        offset = body.integer("offset", minimum=0)
        search = body.string("search")
        sort = body.object("sortBy")
        column = order = None
        if sort is not None:
            column = sort.string("column", required=True, enum=listing.SORT_COLUMNS)
            order = sort.string("order", enum=("asc", "desc"))
        rules.must_be_valid_bucket_name(bucket)
        async with self.db.as_caller(ctx.scope("storage.object.list"), read_only=True) as tx:
            rows = await listing.search(
                tx, bucket, prefix, limit=limit, offset=offset, search_text=search, column=column, order=order
            )
        return json_response(rows)

    # -- POST /object/list-v2/{bucket} ----------------------------------------------------
    async def list_v2(self, ctx: Ctx, bucket: str) -> Response:
        ctx.authenticate()
        body = Fields(await json_body(ctx.request, allow_empty=True))
        prefix = body.string("prefix") or ""
        limit = body.integer("limit", minimum=1)
        cursor = body.string("cursor")
        with_delimiter = body.boolean("with_delimiter") or False
        sort = body.object("sortBy")
        column = order = None
        if sort is not None:
            column = sort.string("column", required=True, enum=listing.V2_SORT_COLUMNS)
            order = sort.string("order", enum=("asc", "desc"))
        rules.must_be_valid_bucket_name(bucket)
        async with self.db.as_caller(ctx.scope("storage.object.list_v2"), read_only=True) as tx:
            result = await listing.search_v2(
                tx,
                bucket,
                prefix=prefix,
                limit=limit,
                cursor=cursor,
                with_delimiter=with_delimiter,
                column=column,
                order=order,
            )
        return json_response(result)

    # -- DELETE /object/{bucket} {prefixes} -----------------------------------------------
    async def remove_many(self, ctx: Ctx, bucket: str) -> Response:
        ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        prefixes = body.strings("prefixes", required=True, min_items=1)
        assert prefixes is not None
        rules.must_be_valid_bucket_name(bucket)
        async with self.db.as_caller(ctx.scope("storage.object.delete_many")) as tx:
            rows = await tx.all(
                "delete from storage.objects where bucket_id = %s and name = any(%s::text[]) returning *",
                [bucket, prefixes],
            )
        # The bytes go only after the rows are gone for good.
        for row in rows:
            await asyncio.to_thread(self.blobs.delete, row.get("version"))
        return json_response([object_json(r) for r in rows])

    # -- DELETE /object/{bucket}/{name} ---------------------------------------------------
    async def remove_one(self, ctx: Ctx, bucket: str, name: str) -> Response:
        ctx.authenticate()
        rules.must_be_valid_bucket_name(bucket)
        async with self.db.as_caller(ctx.scope("storage.object.delete")) as tx:
            row = await tx.one(
                "delete from storage.objects where name = %s and bucket_id = %s returning version", [name, bucket]
            )
        if row is None:
            # Storage looks the object up as its superuser first: missing → 404, else 403.
            if await self._admin_object(bucket, name) is None:
                raise errors.no_such_key()
            raise errors.access_denied("Access denied")
        await asyncio.to_thread(self.blobs.delete, row.get("version"))
        return json_response({"message": "Successfully deleted"})

    # -- POST /object/move ----------------------------------------------------------------
    async def move(self, ctx: Ctx) -> Response:
        caller = ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        bucket = body.string("bucketId", required=True)
        source = body.string("sourceKey", required=True)
        destination = body.string("destinationKey", required=True)
        assert bucket is not None and source is not None and destination is not None
        destination_bucket = body.string("destinationBucket") or bucket
        rules.must_be_valid_bucket_name(bucket)
        rules.must_be_valid_bucket_name(destination_bucket)
        rules.must_be_valid_key(destination)
        owner_uuid, owner_id = uploads.owner_columns(caller.owner)
        async with self.db.as_caller(ctx.scope("storage.object.move")) as tx:
            for b, n in sorted({(bucket, source), (destination_bucket, destination)}):
                await uploads.lock_object(tx, b, n)
            await self._find(tx, bucket, source, "id")
            row = await tx.one(
                "update storage.objects set name = %s, bucket_id = %s, owner = %s, owner_id = %s, updated_at = now() "
                "where bucket_id = %s and name = %s returning id",
                [destination, destination_bucket, owner_uuid, owner_id, bucket, source],
            )
            if row is None:
                raise errors.no_such_key()
        # The bytes live under the object's version, which a move keeps: nothing to copy.
        return json_response({"message": "Successfully moved", "Id": str(row["id"]), "Key": destination})

    # -- POST /object/copy ----------------------------------------------------------------
    async def copy(self, ctx: Ctx) -> Response:
        caller = ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        bucket = body.string("bucketId", required=True)
        source = body.string("sourceKey", required=True)
        destination = body.string("destinationKey", required=True)
        destination_bucket = body.string("destinationBucket") or bucket
        metadata_in = body.object("metadata")
        copy_metadata = body.boolean("copyMetadata")
        assert bucket is not None and source is not None and destination is not None
        assert destination_bucket is not None
        overrides = {}
        if metadata_in is not None:
            for key in ("cacheControl", "mimetype"):
                value = metadata_in.string(key)
                if value is not None:
                    overrides[key] = value
        rules.must_be_valid_bucket_name(bucket)
        rules.must_be_valid_bucket_name(destination_bucket)
        rules.must_be_valid_key(destination)
        upsert = ctx.headers.get("x-upsert") == "true"
        user_metadata_header = ctx.headers.get("x-metadata")
        version = self.blobs.new_version()
        async with self.db.as_caller(ctx.scope("storage.object.copy")) as tx:
            await uploads.lock_object(tx, destination_bucket, destination)
            original = await self._find(tx, bucket, source, "bucket_id, metadata, user_metadata, version")
            metadata = dict(original["metadata"]) if isinstance(original["metadata"], dict) else {}
            if copy_metadata is False:
                metadata.update(overrides)
            now_row = await tx.one("select now() as now")
            assert now_row is not None
            metadata["lastModified"] = iso(now_row["now"])
            user_metadata = original["user_metadata"]
            if copy_metadata is False:
                user_metadata = _decode_user_metadata(user_metadata_header)
            object_id, replaced = await uploads.write_row(
                tx,
                bucket=destination_bucket,
                name=destination,
                owner=caller.owner,
                metadata=metadata,
                user_metadata=user_metadata,
                version=version,
                upsert=upsert,
            )
            await uploads.commit_with_bytes(tx, self.blobs, version, None, source=original["version"])
        if replaced and replaced != version:
            await asyncio.to_thread(self.blobs.delete, replaced)
        owner_uuid, owner_id = uploads.owner_columns(caller.owner)
        dest = {
            "name": destination,
            "bucket_id": destination_bucket,
            "owner": owner_uuid,
            "owner_id": owner_id,
            "version": version,
            "id": object_id,
            "updated_at": now_row["now"],
            "created_at": now_row["now"],
            "metadata": metadata,
            "user_metadata": user_metadata,
        }
        return json_response({"Id": object_id, "Key": f"{destination_bucket}/{destination}", **object_json(dest)})


def _decode_user_metadata(header: str | None) -> Any:
    if header is None:
        return None
    try:
        return json.loads(base64.b64decode(header).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        return None
