"""Signed URLs: creating them as the caller (who must be able to read, or write, the
object under the policies), and serving them to anyone holding a valid token — the token
is the authorisation, so the object is then read or written through the admin pool, as
Supabase Storage does with its superuser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from supabase_standin.storage import errors, rules, signing, uploads
from supabase_standin.storage.access import ObjectAccess
from supabase_standin.storage.context import Ctx
from supabase_standin.storage.web import Fields, http_date, json_body, json_response


class SignedRoutes(ObjectAccess):
    # -- POST /object/sign/{bucket}/{name} ------------------------------------------------
    async def sign(self, ctx: Ctx, bucket: str, name: str) -> Response:
        ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        expires_in = signing.check_expires_in(body.integer("expiresIn", required=True, minimum=1))
        rules.must_be_valid_bucket_name(bucket)
        rules.must_be_valid_key(name)
        async with self.db.as_caller(ctx.scope("storage.object.sign"), read_only=True) as tx:
            await self._find(tx, bucket, name, "id")
        url = f"{bucket}/{name}"
        token = signing.sign_download(self.secret, url, expires_in)
        return json_response({"signedURL": f"/object/sign/{url}?token={token}"})

    # -- POST /object/sign/{bucket} {paths} -----------------------------------------------
    async def sign_many(self, ctx: Ctx, bucket: str) -> Response:
        ctx.authenticate()
        body = Fields(await json_body(ctx.request))
        expires_in = signing.check_expires_in(body.integer("expiresIn", required=True, minimum=1))
        paths = body.strings("paths", required=True, min_items=1)
        assert paths is not None
        if len(paths) > 1000:
            raise errors.validation("body/paths must NOT have more than 1000 items")
        rules.must_be_valid_bucket_name(bucket)
        async with self.db.as_caller(ctx.scope("storage.object.sign_many"), read_only=True) as tx:
            rows = await tx.all(
                "select name from storage.objects where bucket_id = %s and name = any(%s::text[])", [bucket, paths]
            )
        visible = {r["name"] for r in rows}
        out = []
        for path in paths:
            if path in visible:
                url = f"{bucket}/{path}"
                token = signing.sign_download(self.secret, url, expires_in)
                out.append({"error": None, "path": path, "signedURL": f"/object/sign/{url}?token={token}"})
            else:
                out.append(
                    {
                        "error": "Either the object does not exist or you do not have access to it",
                        "path": path,
                        "signedURL": None,
                    }
                )
        return json_response(out)

    # -- GET /object/sign/{bucket}/{name}?token= ------------------------------------------
    async def signed_download(self, ctx: Ctx, bucket: str, name: str) -> Response:
        token = ctx.query("token")
        if token is None:
            raise errors.validation("querystring must have required property 'token'")
        rules.must_be_valid_bucket_name(bucket)
        payload = signing.verify(self.secret, token, bucket, name, "download")
        rules.must_be_valid_key(name)
        # The token is the authorisation: Storage reads the object as its superuser.
        obj = await self._admin_object(bucket, name)
        if obj is None:
            raise errors.no_such_key()
        exp = payload.get("exp")
        expires = http_date(datetime.fromtimestamp(exp, UTC)) if isinstance(exp, int | float) else None
        return self._asset(ctx, obj, await self._bytes(obj), expires=expires)

    # -- POST /object/upload/sign/{bucket}/{name} -----------------------------------------
    async def sign_upload(self, ctx: Ctx, bucket: str, name: str) -> Response:
        caller = ctx.authenticate()
        rules.must_be_valid_bucket_name(bucket)
        rules.must_be_valid_key(name)
        upsert = ctx.headers.get("x-upsert") == "true"
        metadata: dict[str, Any] = {}
        if ctx.headers.get("content-type"):
            metadata["mimetype"] = ctx.headers["content-type"]
        length = ctx.headers.get("content-length")
        if length and length.isdigit():
            metadata["contentLength"] = int(length)
        # Storage's canUpload: the write is tried as the caller and rolled back.
        async with self.db.as_caller(ctx.scope("storage.object.sign_upload_url")) as tx:
            await uploads.test_permission(
                tx, bucket=bucket, name=name, owner=caller.owner, upsert=upsert, metadata=metadata
            )
        url = f"{bucket}/{name}"
        token = signing.sign_upload(self.secret, url, caller.owner, upsert)
        return json_response({"url": f"/object/upload/sign/{url}?token={token}", "token": token})

    # -- PUT /object/upload/sign/{bucket}/{name}?token= -----------------------------------
    async def signed_upload(self, ctx: Ctx, bucket: str, name: str) -> Response:
        token = ctx.query("token")
        if token is None:
            raise errors.validation("querystring must have required property 'token'")
        rules.must_be_valid_bucket_name(bucket)
        payload = signing.verify(self.secret, token, bucket, name, "upload")
        owner = payload.get("owner") if isinstance(payload.get("owner"), str) else None
        bucket_row = await self._admin_bucket(bucket)
        if bucket_row is None:
            raise errors.no_such_bucket()
        incoming = await uploads.read_file(ctx.request, name, bucket_row, self.service.max_file_size)
        rules.must_be_valid_key(name)
        # The token is the authorisation: Storage writes as its superuser (admin_pool).
        await uploads.store(
            lambda: self.db.as_admin(),
            self.blobs,
            bucket=bucket,
            name=name,
            owner=owner,
            incoming=incoming,
            upsert=payload.get("upsert") is True,
        )
        return json_response({"Key": f"{bucket}/{name}"})
