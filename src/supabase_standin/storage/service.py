"""The Storage API (``/storage/v1``): Supabase Storage's HTTP contract over the real
``storage`` schema, with object bytes on local disk.

Routes are one table, matched the way Storage's router matches them (static segments
before parameters, ``*`` taking the rest of the path as the object name); anything else,
a known path with another method included, is Storage's 404 ``Route METHOD:url not found``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from supabase_standin.database import Pool
from supabase_standin.routing import Route, Router, route
from supabase_standin.stack import StackConfig
from supabase_standin.storage import errors
from supabase_standin.storage.blobs import BlobStore
from supabase_standin.storage.buckets import BucketRoutes
from supabase_standin.storage.context import Ctx
from supabase_standin.storage.db import Database
from supabase_standin.storage.errors import StorageError
from supabase_standin.storage.objects import ObjectRoutes
from supabase_standin.storage.signed import SignedRoutes
from supabase_standin.storage.web import error_response

log = logging.getLogger(__name__)

Handler = Callable[[Ctx, dict[str, str]], Awaitable[Response]]


class StorageService:
    def __init__(self, config: StackConfig, api_pool: Pool, admin_pool: Pool) -> None:
        self.jwt_secret = config.jwt_secret
        self.section = config.project.storage
        self.db = Database(api_pool, admin_pool)
        self.blobs = BlobStore(config.storage_dir)
        self.max_file_size = self.section.file_size_limit
        self.buckets = BucketRoutes(self)
        self.objects = ObjectRoutes(self)
        self.signed = SignedRoutes(self)
        self.router: Router[Ctx] = Router(self._routes(), not_found=_route_not_found, middleware=[_errors])

    async def start(self) -> None:
        self.blobs.ensure()
        await self.buckets.ensure_config_buckets()

    async def stop(self) -> None:
        return None

    # -- HTTP ---------------------------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        ctx = Ctx.of(request, path, self.jwt_secret)
        return await self.router.dispatch(ctx, ctx.method, path)

    def _routes(self) -> list[Route[Ctx]]:
        b, o, sg = self.buckets, self.objects, self.signed
        return [
            # buckets
            route("GET", "bucket/?", lambda c, m: b.list(c)),
            route("POST", "bucket/?", lambda c, m: b.create(c)),
            route("POST", "bucket/{bucket}/empty", lambda c, m: b.empty(c, m["bucket"])),
            route("GET", "bucket/{bucket}", lambda c, m: b.get(c, m["bucket"])),
            route("PUT", "bucket/{bucket}", lambda c, m: b.update(c, m["bucket"])),
            route("DELETE", "bucket/{bucket}", lambda c, m: b.delete(c, m["bucket"])),
            # objects: static prefixes first, as Storage's router prefers them
            route("POST", "object/list/{bucket}", lambda c, m: o.list(c, m["bucket"])),
            route("POST", "object/list-v2/{bucket}", lambda c, m: o.list_v2(c, m["bucket"])),
            route("POST", "object/move", lambda c, m: o.move(c)),
            route("POST", "object/copy", lambda c, m: o.copy(c)),
            route("POST", "object/sign/{bucket}", lambda c, m: sg.sign_many(c, m["bucket"])),
            route("POST", "object/sign/{bucket}/{key:path}", lambda c, m: sg.sign(c, m["bucket"], m["key"])),
            route(
                "POST", "object/upload/sign/{bucket}/{key:path}", lambda c, m: sg.sign_upload(c, m["bucket"], m["key"])
            ),
            route("POST", "object/{bucket}/{key:path}", lambda c, m: self._upload(c, m, upsert=None)),
            route(
                "PUT", "object/upload/sign/{bucket}/{key:path}", lambda c, m: sg.signed_upload(c, m["bucket"], m["key"])
            ),
            route("PUT", "object/{bucket}/{key:path}", lambda c, m: self._upload(c, m, upsert=True)),
            route("GET", "object/sign/{bucket}/{key:path}", lambda c, m: sg.signed_download(c, m["bucket"], m["key"])),
            route("GET", "object/public/{bucket}/{key:path}", lambda c, m: o.public(c, m["bucket"], m["key"])),
            route(
                "GET",
                "object/info/public/{bucket}/{key:path}",
                lambda c, m: o.public(c, m["bucket"], m["key"], info=True),
            ),
            route(
                "GET",
                "object/info/authenticated/{bucket}/{key:path}",
                lambda c, m: o.info(c, m["bucket"], m["key"], allow_invalid_jwt=False),
            ),
            route(
                "GET",
                "object/info/{bucket}/{key:path}",
                lambda c, m: o.info(c, m["bucket"], m["key"], allow_invalid_jwt=True),
            ),
            route(
                "GET",
                "object/authenticated/{bucket}/{key:path}",
                lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=False),
            ),
            route(
                "GET",
                "object/{bucket}/{key:path}",
                lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=True),
            ),
            route("HEAD", "object/public/{bucket}/{key:path}", lambda c, m: o.public(c, m["bucket"], m["key"])),
            route(
                "HEAD",
                "object/authenticated/{bucket}/{key:path}",
                lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=False),
            ),
            route(
                "HEAD",
                "object/{bucket}/{key:path}",
                lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=True),
            ),
            route("DELETE", "object/{bucket}", lambda c, m: o.remove_many(c, m["bucket"])),
            route("DELETE", "object/{bucket}/{key:path}", lambda c, m: o.remove_one(c, m["bucket"], m["key"])),
        ]

    async def _upload(self, ctx: Ctx, match: dict[str, str], *, upsert: bool | None) -> Response:
        if upsert is None:
            upsert = ctx.headers.get("x-upsert") == "true"
        return await self.objects.upload(ctx, match["bucket"], match["key"], upsert=upsert)


async def _route_not_found(ctx: Ctx, _params: dict[str, str]) -> Response:
    raise errors.route_not_found(ctx.method, ctx.url)


async def _errors(ctx: Ctx, call_next: Callable[[Ctx], Awaitable[Response]]) -> Response:
    """Storage's error bodies for every failure, never a stack trace."""
    try:
        return await call_next(ctx)
    except StorageError as err:
        return error_response(err)
    except ClientDisconnect:
        raise  # nobody is left to answer
    except Exception:
        log.exception("storage request failed: %s %s", ctx.method, ctx.url)
        return error_response(errors.internal_error())
