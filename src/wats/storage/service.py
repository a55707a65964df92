"""The Storage API (``/storage/v1``): Supabase Storage's HTTP contract over the real
``storage`` schema, with object bytes on local disk.

Routes are matched the way Storage's router matches them (static segments before
parameters, ``*`` taking the rest of the path as the object name); anything else is
Storage's 404 ``Route METHOD:url not found``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from wats.database import Pool
from wats.settings import Settings
from wats.storage import errors, rules
from wats.storage.blobs import BlobStore
from wats.storage.buckets import BucketRoutes
from wats.storage.context import Ctx
from wats.storage.db import Database
from wats.storage.errors import StorageError
from wats.storage.objects import ObjectRoutes
from wats.storage.signed import SignedRoutes
from wats.storage.web import error_response

log = logging.getLogger("wats.storage")

DEFAULT_FILE_SIZE_LIMIT = 50 * 1024 * 1024
B = r"(?P<bucket>[^/]+)"
K = r"(?P<key>.*)"

Handler = Callable[[Ctx, dict[str, str]], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class StorageService:
    def __init__(self, settings: Settings, api_pool: Pool, admin_pool: Pool) -> None:
        self.settings = settings
        self.db = Database(api_pool, admin_pool)
        self.blobs = BlobStore(settings.storage_dir)
        storage = settings.config.get("storage", {})
        self.max_file_size = rules.parse_config_size(storage.get("file_size_limit"), DEFAULT_FILE_SIZE_LIMIT)
        self.buckets = BucketRoutes(self)
        self.objects = ObjectRoutes(self)
        self.signed = SignedRoutes(self)
        self.routes = self._routes()

    async def start(self) -> None:
        self.blobs.ensure()
        await self.buckets.ensure_config_buckets()

    async def stop(self) -> None:
        return None

    # -- HTTP ---------------------------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        ctx = Ctx.of(request, path, self.settings.jwt_secret)
        try:
            for route in self.routes:
                if route.method != ctx.method:
                    continue
                match = route.pattern.fullmatch(path)
                if match:
                    return await route.handler(ctx, match.groupdict())
            raise errors.route_not_found(ctx.method, ctx.url)
        except StorageError as err:
            return error_response(err)
        except ClientDisconnect:
            raise  # nobody is left to answer
        except Exception:
            log.exception("storage request failed: %s %s", ctx.method, ctx.url)
            return error_response(errors.internal_error())

    def _routes(self) -> list[Route]:
        b, o, sg = self.buckets, self.objects, self.signed
        table: list[tuple[str, str, Handler]] = [
            # buckets
            ("GET", r"bucket/?", lambda c, m: b.list(c)),
            ("POST", r"bucket/?", lambda c, m: b.create(c)),
            ("POST", rf"bucket/{B}/empty", lambda c, m: b.empty(c, m["bucket"])),
            ("GET", rf"bucket/{B}", lambda c, m: b.get(c, m["bucket"])),
            ("PUT", rf"bucket/{B}", lambda c, m: b.update(c, m["bucket"])),
            ("DELETE", rf"bucket/{B}", lambda c, m: b.delete(c, m["bucket"])),
            # objects: static prefixes first, as Storage's router prefers them
            ("POST", rf"object/list/{B}", lambda c, m: o.list(c, m["bucket"])),
            ("POST", rf"object/list-v2/{B}", lambda c, m: o.list_v2(c, m["bucket"])),
            ("POST", r"object/move", lambda c, m: o.move(c)),
            ("POST", r"object/copy", lambda c, m: o.copy(c)),
            ("POST", rf"object/sign/{B}", lambda c, m: sg.sign_many(c, m["bucket"])),
            ("POST", rf"object/sign/{B}/{K}", lambda c, m: sg.sign(c, m["bucket"], m["key"])),
            ("POST", rf"object/upload/sign/{B}/{K}", lambda c, m: sg.sign_upload(c, m["bucket"], m["key"])),
            ("POST", rf"object/{B}/{K}", lambda c, m: self._upload(c, m, upsert=None)),
            ("PUT", rf"object/upload/sign/{B}/{K}", lambda c, m: sg.signed_upload(c, m["bucket"], m["key"])),
            ("PUT", rf"object/{B}/{K}", lambda c, m: self._upload(c, m, upsert=True)),
            ("GET", rf"object/sign/{B}/{K}", lambda c, m: sg.signed_download(c, m["bucket"], m["key"])),
            ("GET", rf"object/public/{B}/{K}", lambda c, m: o.public(c, m["bucket"], m["key"])),
            ("GET", rf"object/info/public/{B}/{K}", lambda c, m: o.public(c, m["bucket"], m["key"], info=True)),
            (
                "GET",
                rf"object/info/authenticated/{B}/{K}",
                lambda c, m: o.info(c, m["bucket"], m["key"], allow_invalid_jwt=False),
            ),
            ("GET", rf"object/info/{B}/{K}", lambda c, m: o.info(c, m["bucket"], m["key"], allow_invalid_jwt=True)),
            (
                "GET",
                rf"object/authenticated/{B}/{K}",
                lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=False),
            ),
            ("GET", rf"object/{B}/{K}", lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=True)),
            ("HEAD", rf"object/public/{B}/{K}", lambda c, m: o.public(c, m["bucket"], m["key"])),
            (
                "HEAD",
                rf"object/authenticated/{B}/{K}",
                lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=False),
            ),
            ("HEAD", rf"object/{B}/{K}", lambda c, m: o.download(c, m["bucket"], m["key"], allow_invalid_jwt=True)),
            ("DELETE", rf"object/{B}", lambda c, m: o.remove_many(c, m["bucket"])),
            ("DELETE", rf"object/{B}/{K}", lambda c, m: o.remove_one(c, m["bucket"], m["key"])),
        ]
        return [Route(method, re.compile(pattern, re.DOTALL), handler) for method, pattern, handler in table]

    async def _upload(self, ctx: Ctx, match: dict[str, str], *, upsert: bool | None) -> Response:
        if upsert is None:
            upsert = ctx.headers.get("x-upsert") == "true"
        return await self.objects.upload(ctx, match["bucket"], match["key"], upsert=upsert)
