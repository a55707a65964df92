"""Storage (``/storage/v1``) through supabase-py's storage client, the way apps and Edge
Functions meet it: vendors keep files in their own folder of a bucket, policies on
``storage.objects`` decide who may read and write, public buckets serve by URL, signed URLs
expire, buckets enforce their size and type limits, and no request can escape the bucket or
leave half an object behind. Raw HTTP only where the client hides a detail (statuses,
headers, requests the client refuses to send).

The module creates its own buckets, policies and a commit-time trigger as ``postgres`` and
removes them afterwards. Users are JWTs minted with the project secret (no Auth API
needed)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from storage3 import SyncStorageClient
from storage3.exceptions import StorageApiError
from supabase import ClientOptions, create_client

from supabase_standin import keys

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120
SUFFIX = uuid.uuid4().hex[:8]
PRIVATE = f"t-vault-{SUFFIX}"
PUBLIC = f"t-shop-{SUFFIX}"
PUBLIC_LIMIT = 1024
ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())
POLICY = f"storage test {SUFFIX}"
BOOM_FN = f"storage_test_boom_{SUFFIX}"

OWN_FOLDER = f"bucket_id in ('{PRIVATE}', '{PUBLIC}') and (storage.foldername(name))[1] = (select auth.uid()::text)"
SETUP_SQL = f"""
insert into storage.buckets (id, name, public) values ('{PRIVATE}', '{PRIVATE}', false);
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('{PUBLIC}', '{PUBLIC}', true, {PUBLIC_LIMIT}, array['image/png', 'image/jpeg']);
create policy "{POLICY} read own" on storage.objects for select to authenticated using ({OWN_FOLDER});
create policy "{POLICY} add own" on storage.objects for insert to authenticated with check ({OWN_FOLDER});
create policy "{POLICY} change own" on storage.objects for update to authenticated
    using ({OWN_FOLDER}) with check ({OWN_FOLDER});
create policy "{POLICY} remove own" on storage.objects for delete to authenticated using ({OWN_FOLDER});
-- A rule checked only at COMMIT: lets a test make the transaction fail after the row was
-- accepted and the bytes written.
create function public.{BOOM_FN}() returns trigger language plpgsql as $$
begin
  if new.name like '%boom%' then
    raise exception 'refused at commit';
  end if;
  return new;
end $$;
create constraint trigger {BOOM_FN} after insert or update on storage.objects
    deferrable initially deferred for each row execute function public.{BOOM_FN}();
"""
TEARDOWN_SQL = f"""
drop trigger if exists {BOOM_FN} on storage.objects;
drop function if exists public.{BOOM_FN}();
drop policy if exists "{POLICY} read own" on storage.objects;
drop policy if exists "{POLICY} add own" on storage.objects;
drop policy if exists "{POLICY} change own" on storage.objects;
drop policy if exists "{POLICY} remove own" on storage.objects;
"""


def token(secret: str, sub: str, *, ttl: int = 3600, role: str = "authenticated") -> str:
    now = int(time.time())
    return keys.sign(secret, {"sub": sub, "role": role, "aud": "authenticated", "iat": now, "exp": now + ttl})


@dataclass
class World:
    target: Any
    alice: SyncStorageClient
    bob: SyncStorageClient
    anon: SyncStorageClient
    service: SyncStorageClient
    alice_token: str
    bob_token: str

    @property
    def base(self) -> str:
        return f"{self.target.url}/storage/v1"

    def files(self) -> set[Path]:
        """Files under the local stack's storage folder (empty set against a remote stack)."""
        root = self.target.settings.storage_dir
        if self.target.url.rstrip("/") != self.target.settings.api_url or not root.exists():
            return set()
        return {p for p in root.rglob("*") if p.is_file()}

    def rows(self, bucket: str, name: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.target.db_url, autocommit=True) as conn:
            return conn.execute(
                "select name, owner_id, version, metadata from storage.objects where bucket_id = %s and name = %s",
                [bucket, name],
            ).fetchall()

    def count(self, bucket: str) -> int:
        with psycopg.connect(self.target.db_url, autocommit=True) as conn:
            row = conn.execute("select count(*) from storage.objects where bucket_id = %s", [bucket]).fetchone()
            assert row is not None
            return int(row[0])


def storage_as(target: Any, bearer: str | None) -> SyncStorageClient:
    options = ClientOptions(headers={"Authorization": f"Bearer {bearer}"}) if bearer else None
    return create_client(target.url, target.anon_key, options=options).storage


@pytest.fixture(scope="module")
def world(target: Any) -> Iterator[World]:
    # Module-scoped twin of conftest's `db` fixture: a direct connection as postgres.
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        conn.execute(SETUP_SQL)
    alice_token = token(target.jwt_secret, ALICE)
    bob_token = token(target.jwt_secret, BOB)
    w = World(
        target,
        alice=storage_as(target, alice_token),
        bob=storage_as(target, bob_token),
        anon=storage_as(target, None),
        service=storage_as(target, target.service_role_key),
        alice_token=alice_token,
        bob_token=bob_token,
    )
    try:
        yield w
    finally:
        for bucket in (PRIVATE, PUBLIC):
            try:
                w.service.empty_bucket(bucket)
                w.service.delete_bucket(bucket)
            except StorageApiError:
                pass
        with psycopg.connect(target.db_url, autocommit=True) as conn:
            conn.execute(TEARDOWN_SQL)
            with conn.transaction():
                # Storage refuses plain SQL deletes unless the transaction says it means them.
                conn.execute("select set_config('storage.allow_delete_query', 'true', true)")
                conn.execute("delete from storage.objects where bucket_id in (%s, %s)", [PRIVATE, PUBLIC])
                conn.execute("delete from storage.buckets where id in (%s, %s)", [PRIVATE, PUBLIC])


def refused(call: Callable[[], Any]) -> StorageApiError:
    with pytest.raises(StorageApiError) as info:
        call()
    return info.value


# -- the configured bucket -----------------------------------------------------------------


def test_the_product_images_bucket_from_config_toml_exists_as_configured(world: World):
    bucket = world.service.get_bucket("product-images")
    assert bucket.public is True
    assert bucket.file_size_limit == 5 * 1024 * 1024
    assert bucket.allowed_mime_types == ["image/png", "image/jpeg", "image/webp"]


# -- a user in their own folder --------------------------------------------------------------


def test_a_user_uploads_lists_downloads_and_removes_files_in_their_own_folder(world: World):
    path = f"{ALICE}/photos/cat.png"
    before = world.files()
    world.alice.from_(PRIVATE).upload(path, PNG, {"content-type": "image/png", "cache-control": "120"})

    assert world.alice.from_(PRIVATE).download(path) == PNG
    info = world.alice.from_(PRIVATE).info(path)
    assert (info["content_type"], info["cache_control"], info["size"]) == ("image/png", "max-age=120", len(PNG))
    [(_, owner_id, _, metadata)] = world.rows(PRIVATE, path)
    assert owner_id == ALICE
    assert metadata["mimetype"] == "image/png"
    assert metadata["eTag"] == f'"{hashlib.md5(PNG).hexdigest()}"'
    assert len(world.files() - before) == 1

    top = world.alice.from_(PRIVATE).list(ALICE)
    assert [(e["name"], e["id"]) for e in top] == [("photos", None)]  # a folder entry
    inside = world.alice.from_(PRIVATE).list(f"{ALICE}/photos")
    assert [e["name"] for e in inside] == ["cat.png"]
    assert inside[0]["metadata"]["size"] == len(PNG)
    assert world.alice.from_(PRIVATE).exists(path) is True

    removed = world.alice.from_(PRIVATE).remove([path])
    assert [r["name"] for r in removed] == [path]
    assert world.rows(PRIVATE, path) == []
    assert world.files() == before
    err = refused(lambda: world.alice.from_(PRIVATE).download(path))
    assert (str(err.status), err.code) == ("404", "not_found")
    assert world.alice.from_(PRIVATE).exists(path) is False


def test_a_folder_listing_pages_sorts_and_searches_like_storage(world: World):
    bucket = world.alice.from_(PRIVATE)
    for name in ("b2.png", "A1.png", "b1.png", "sub/deep/x.png", "sub/y.png"):
        bucket.upload(f"{ALICE}/catalog/{name}", PNG, {"content-type": "image/png"})

    def names(**options: Any) -> list[str]:
        return [e["name"] for e in bucket.list(f"{ALICE}/catalog", options or None)]  # type: ignore[arg-type]

    assert names() == ["A1.png", "b1.png", "b2.png", "sub"]  # case-insensitive order, one folder entry
    assert names(limit=2, offset=1) == ["b1.png", "b2.png"]
    assert names(search="B") == ["b1.png", "b2.png"]
    assert names(sortBy={"column": "name", "order": "desc"}) == ["sub", "b2.png", "b1.png", "A1.png"]
    assert names(sortBy={"column": "created_at", "order": "desc"}) == ["sub", "b1.png", "A1.png", "b2.png"]
    assert [e["name"] for e in bucket.list(f"{ALICE}/catalog/sub")] == ["deep", "y.png"]
    assert world.bob.from_(PRIVATE).list(f"{ALICE}/catalog") == []


def test_a_missing_object_is_http_400_with_status_404_in_the_body_as_storage_answers(world: World):
    r = httpx.get(
        f"{world.base}/object/{PRIVATE}/{ALICE}/nothing-here.png",
        headers={"Authorization": f"Bearer {world.alice_token}"},
    )
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": "404",
        "code": "NoSuchKey",
        "error": "not_found",
        "message": "Object not found",
    }


def test_another_user_can_neither_see_nor_change_nor_delete_someone_elses_files(world: World):
    path = f"{ALICE}/private/contract.png"
    world.alice.from_(PRIVATE).upload(path, PNG, {"content-type": "image/png"})
    bucket = world.bob.from_(PRIVATE)

    assert str(refused(lambda: bucket.download(path)).status) == "404"
    assert bucket.list(f"{ALICE}/private") == []
    assert str(refused(lambda: bucket.create_signed_url(path, 60)).status) == "404"
    assert str(refused(lambda: bucket.move(path, f"{BOB}/stolen.png")).status) == "404"
    assert str(refused(lambda: bucket.copy(path, f"{BOB}/stolen.png")).status) == "404"
    assert bucket.remove([path]) == []  # nothing visible to delete

    files, count = world.files(), world.count(PRIVATE)
    overwrite = refused(lambda: bucket.upload(path, b"evil", {"content-type": "image/png", "upsert": "true"}))
    assert (str(overwrite.status), overwrite.code) == ("403", "Unauthorized")
    intrude = refused(lambda: bucket.upload(f"{ALICE}/private/new.png", b"evil", {"content-type": "image/png"}))
    assert str(intrude.status) == "403"
    assert "row-level security" in intrude.message
    assert (world.files(), world.count(PRIVATE)) == (files, count)
    assert world.rows(PRIVATE, f"{ALICE}/private/new.png") == []
    assert world.alice.from_(PRIVATE).download(path) == PNG


def test_anon_cannot_write_or_read_a_private_bucket(world: World):
    path = f"{ALICE}/anon-probe.png"
    world.alice.from_(PRIVATE).upload(path, PNG, {"content-type": "image/png"})
    files, count = world.files(), world.count(PRIVATE)

    denied = refused(lambda: world.anon.from_(PRIVATE).upload(f"{ALICE}/by-anon.png", PNG))
    assert str(denied.status) == "403"
    assert str(refused(lambda: world.anon.from_(PRIVATE).download(path)).status) == "404"
    assert world.anon.from_(PRIVATE).list(ALICE) == []
    assert world.anon.from_(PRIVATE).remove([path]) == []
    # Without any key at all the private bucket does not even exist for the caller.
    bare = httpx.get(f"{world.base}/object/{PRIVATE}/{path}")
    assert (bare.status_code, bare.json()["message"]) == (400, "Bucket not found")
    assert (world.files(), world.count(PRIVATE)) == (files, count)


def test_upsert_replaces_a_file_only_when_asked(world: World):
    path = f"{ALICE}/avatar.png"
    bucket = world.alice.from_(PRIVATE)
    bucket.upload(path, PNG, {"content-type": "image/png"})
    files = world.files()

    duplicate = refused(lambda: bucket.upload(path, b"second", {"content-type": "image/png"}))
    assert (str(duplicate.status), duplicate.code) == ("409", "Duplicate")
    assert bucket.download(path) == PNG

    bucket.upload(path, b"second", {"content-type": "image/png", "upsert": "true"})
    assert bucket.download(path) == b"second"
    bucket.update(path, b"third", {"content-type": "image/png"})  # PUT: always an upsert
    assert bucket.download(path) == b"third"
    [(_, _, _, metadata)] = world.rows(PRIVATE, path)
    assert metadata["size"] == len(b"third")
    assert len(world.files()) == len(files)  # replaced versions leave no bytes behind


def test_move_and_copy_stay_inside_what_the_policies_allow(world: World):
    bucket = world.alice.from_(PRIVATE)
    bucket.upload(f"{ALICE}/drafts/a.png", PNG, {"content-type": "image/png"})

    copied = bucket.copy(f"{ALICE}/drafts/a.png", f"{ALICE}/drafts/b.png")
    assert copied["Key"] == f"{PRIVATE}/{ALICE}/drafts/b.png"
    assert bucket.download(f"{ALICE}/drafts/b.png") == PNG

    moved = bucket.move(f"{ALICE}/drafts/b.png", f"{ALICE}/final/b.png")
    assert moved["message"] == "Successfully moved"
    assert bucket.download(f"{ALICE}/final/b.png") == PNG
    assert world.rows(PRIVATE, f"{ALICE}/drafts/b.png") == []

    escape = refused(lambda: bucket.move(f"{ALICE}/final/b.png", f"{BOB}/gift.png"))
    assert str(escape.status) == "403"
    assert bucket.download(f"{ALICE}/final/b.png") == PNG
    assert world.rows(PRIVATE, f"{BOB}/gift.png") == []
    taken = refused(lambda: bucket.copy(f"{ALICE}/drafts/a.png", f"{ALICE}/final/b.png"))
    assert str(taken.status) == "409"


# -- public and signed URLs -------------------------------------------------------------------


def test_a_public_bucket_serves_files_by_public_url_without_any_key(world: World):
    path = f"{ALICE}/shop/logo.png"
    world.alice.from_(PUBLIC).upload(path, PNG, {"content-type": "image/png", "cache-control": "600"})
    url = world.anon.from_(PUBLIC).get_public_url(path)
    assert url == f"{world.base}/object/public/{PUBLIC}/{path}"

    r = httpx.get(url)
    assert r.status_code == 200
    assert r.content == PNG
    assert r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"] == "max-age=600"
    assert r.headers["etag"] == f'"{hashlib.md5(PNG).hexdigest()}"'
    partial = httpx.get(url, headers={"Range": "bytes=0-7"})
    assert (partial.status_code, partial.content) == (206, PNG[:8])
    assert partial.headers["content-range"] == f"bytes 0-7/{len(PNG)}"
    download = httpx.get(url, params={"download": "logo copy.png"})
    assert download.headers["content-disposition"].startswith("attachment; filename=logo%20copy.png")


def test_a_private_bucket_refuses_its_public_url(world: World):
    path = f"{ALICE}/secret.png"
    world.alice.from_(PRIVATE).upload(path, PNG, {"content-type": "image/png"})
    r = httpx.get(world.alice.from_(PRIVATE).get_public_url(path))
    assert r.status_code == 400
    assert r.json()["statusCode"] == "404"
    assert r.json()["message"] == "Bucket not found"
    assert PNG not in r.content


def test_a_signed_url_works_for_anyone_until_it_expires_and_cannot_be_forged(world: World):
    path = f"{ALICE}/invoice.png"
    world.alice.from_(PRIVATE).upload(path, PNG, {"content-type": "image/png"})
    bucket = world.alice.from_(PRIVATE)

    long_lived = bucket.create_signed_url(path, 600)["signedURL"]
    r = httpx.get(long_lived)
    assert (r.status_code, r.content) == (200, PNG)
    assert "expires" in r.headers

    batch = bucket.create_signed_urls([path, f"{ALICE}/missing.png"], 600)
    assert httpx.get(batch[0]["signedURL"]).content == PNG
    assert batch[1]["signedURL"] is None and batch[1]["error"]

    short = bucket.create_signed_url(path, 1)["signedURL"]
    time.sleep(2.2)
    expired = httpx.get(short)
    assert expired.status_code == 400
    assert expired.json()["error"] == "InvalidJWT"

    url = f"{world.base}/object/sign/{PRIVATE}/{path}"
    claims = {"url": f"{PRIVATE}/{path}", "scope": "download", "exp": int(time.time()) + 600}
    forged = httpx.get(url, params={"token": keys.sign("not-the-project-secret-" + "x" * 32, claims)})
    assert (forged.status_code, forged.json()["error"]) == (400, "InvalidJWT")
    other = keys.sign(world.target.jwt_secret, {**claims, "url": f"{PRIVATE}/{ALICE}/other.png"})
    assert httpx.get(url, params={"token": other}).json()["error"] == "InvalidSignature"
    upload_scoped = keys.sign(world.target.jwt_secret, {**claims, "scope": "upload", "upsert": False})
    assert httpx.get(url, params={"token": upload_scoped}).json()["error"] == "InvalidSignature"
    assert PNG not in httpx.get(url, params={"token": "garbage"}).content


def test_a_signed_upload_url_lets_someone_else_upload_exactly_there(world: World):
    path = f"{ALICE}/inbox/scan.png"
    signed = world.alice.from_(PRIVATE).create_signed_upload_url(path)
    world.anon.from_(PRIVATE).upload_to_signed_url(path, signed["token"], PNG, {"content-type": "image/png"})
    assert world.alice.from_(PRIVATE).download(path) == PNG
    [(_, owner_id, _, _)] = world.rows(PRIVATE, path)
    assert owner_id == ALICE

    other = refused(
        lambda: world.anon.from_(PRIVATE).upload_to_signed_url(f"{ALICE}/inbox/other.png", signed["token"], PNG)
    )
    assert other.code == "InvalidSignature"
    denied = refused(lambda: world.bob.from_(PRIVATE).create_signed_upload_url(f"{ALICE}/inbox/bob.png"))
    assert str(denied.status) == "403"


# -- limits and hostile names ------------------------------------------------------------------


def test_a_bucket_enforces_its_size_limit_and_allowed_types(world: World):
    bucket = world.alice.from_(PUBLIC)
    files, count = world.files(), world.count(PUBLIC)
    too_big = refused(
        lambda: bucket.upload(f"{ALICE}/big.png", b"x" * (PUBLIC_LIMIT + 1), {"content-type": "image/png"})
    )
    assert (str(too_big.status), too_big.code) == ("413", "Payload too large")
    wrong_type = refused(lambda: bucket.upload(f"{ALICE}/notes.txt", b"hello", {"content-type": "text/plain"}))
    assert (str(wrong_type.status), wrong_type.code) == ("415", "invalid_mime_type")
    assert (world.files(), world.count(PUBLIC)) == (files, count)

    bucket.upload(f"{ALICE}/exact.jpg", b"y" * PUBLIC_LIMIT, {"content-type": "image/jpeg"})
    assert bucket.download(f"{ALICE}/exact.jpg") == b"y" * PUBLIC_LIMIT


@pytest.mark.parametrize(
    "raw_name",
    [
        "%2E%2E/%2E%2E/escape.png",  # ../../escape.png
        "{me}/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        "{me}/%2E/dot.png",  # ./dot.png
        "{me}/nul%00byte.png",
        "{me}/back%5Cslash.png",
        "{me}/picha-%C3%B1.png",  # outside Storage's key alphabet
    ],
)
def test_names_that_could_escape_the_bucket_are_rejected(world: World, raw_name: str):
    files, count = world.files(), world.count(PRIVATE)
    r = httpx.post(
        f"{world.base}/object/{PRIVATE}/{raw_name.format(me=ALICE)}",
        content=PNG,
        headers={"Authorization": f"Bearer {world.alice_token}", "Content-Type": "image/png"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] in ("InvalidKey", "InvalidParameter")
    assert (world.files(), world.count(PRIVATE)) == (files, count)


def test_a_move_or_copy_to_a_traversal_name_is_rejected(world: World):
    bucket = world.alice.from_(PRIVATE)
    bucket.upload(f"{ALICE}/keep.png", PNG, {"content-type": "image/png"})
    for call in (bucket.move, bucket.copy):
        err = refused(lambda call=call: call(f"{ALICE}/keep.png", f"{ALICE}/../../../outside.png"))
        assert (str(err.status), err.code) == ("400", "InvalidKey")
    assert bucket.download(f"{ALICE}/keep.png") == PNG


def test_nothing_is_left_behind_when_the_transaction_fails_at_commit(world: World):
    files, count = world.files(), world.count(PRIVATE)
    err = refused(lambda: world.alice.from_(PRIVATE).upload(f"{ALICE}/boom.png", PNG, {"content-type": "image/png"}))
    assert str(err.status) == "400"
    assert world.rows(PRIVATE, f"{ALICE}/boom.png") == []
    assert (world.files(), world.count(PRIVATE)) == (files, count)


# -- roles, buckets and bad input ------------------------------------------------------------


def test_the_service_role_bypasses_the_policies(world: World):
    path = f"{BOB}/from-backend.png"
    world.service.from_(PRIVATE).upload(path, PNG, {"content-type": "image/png"})
    assert world.service.from_(PRIVATE).download(path) == PNG
    assert [e["name"] for e in world.service.from_(PRIVATE).list(BOB)] == ["from-backend.png"]
    assert world.bob.from_(PRIVATE).download(path) == PNG  # and the policy lets Bob read his folder
    assert [r["name"] for r in world.service.from_(PRIVATE).remove([path])] == [path]


def test_buckets_are_managed_by_whoever_the_policies_allow(world: World):
    name = f"t-tmp-{SUFFIX}"
    denied = refused(lambda: world.alice.create_bucket(name))
    assert (str(denied.status), denied.code) == ("403", "Unauthorized")
    assert name not in {b.id for b in world.alice.list_buckets()}

    world.service.create_bucket(name, options={"public": False, "file_size_limit": 2048})
    try:
        assert world.service.get_bucket(name).file_size_limit == 2048
        world.service.update_bucket(name, {"public": True, "allowed_mime_types": ["image/*"]})
        bucket = world.service.get_bucket(name)
        assert (bucket.public, bucket.allowed_mime_types) == (True, ["image/*"])
        assert str(refused(lambda: world.alice.get_bucket(name)).status) == "404"  # no SELECT policy
        duplicate = refused(lambda: world.service.create_bucket(name))
        assert (str(duplicate.status), duplicate.code) == ("409", "Duplicate")

        world.service.from_(name).upload("x.png", PNG, {"content-type": "image/png"})
        assert str(refused(lambda: world.service.delete_bucket(name)).status) == "409"
        r = httpx.post(
            f"{world.base}/bucket/{name}/empty", json={}, headers={"Authorization": f"Bearer {world.alice_token}"}
        )
        assert (r.status_code, r.json()["statusCode"]) == (403, "403")
        world.service.empty_bucket(name)
    finally:
        world.service.empty_bucket(name)
        world.service.delete_bucket(name)
    assert str(refused(lambda: world.service.get_bucket(name)).status) == "404"


def test_a_bad_or_missing_jwt_is_refused_in_storage_shape(world: World):
    forged = storage_as(world.target, token("wrong-secret-" + "y" * 40, ALICE))
    err = refused(lambda: forged.from_(PRIVATE).list(ALICE))
    assert (str(err.status), err.code) == ("403", "Unauthorized")
    expired = storage_as(world.target, token(world.target.jwt_secret, ALICE, ttl=-30))
    assert "exp" in refused(lambda: expired.list_buckets()).message
    r = httpx.post(f"{world.base}/object/list/{PRIVATE}", json={"prefix": ""})
    assert (r.status_code, r.json()["statusCode"]) == (400, "403")
    # A validly signed JWT naming a role the API may not become is refused, not a crash.
    superuser = storage_as(world.target, token(world.target.jwt_secret, ALICE, role="postgres"))
    assert str(refused(lambda: superuser.from_(PRIVATE).list(ALICE)).status) == "403"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "object/list/{bucket}", {"content": b"{not json"}),
        ("POST", "object/list/{bucket}", {"json": [1, 2]}),
        ("POST", "object/list/{bucket}", {"json": {"prefix": "", "limit": "many"}}),
        ("POST", "object/list/{bucket}", {"json": {"prefix": "\u0000"}}),
        ("POST", "object/list/{bucket}", {"json": {"prefix": "", "sortBy": {"column": "size"}}}),
        ("POST", "object/sign/{bucket}/x.png", {"json": {"expiresIn": "soon"}}),
        ("POST", "object/sign/{bucket}", {"json": {"expiresIn": 60, "paths": []}}),
        ("DELETE", "object/{bucket}", {"json": {"prefixes": [{"not": "a name"}]}}),
        ("DELETE", "object/{bucket}", {"json": {}}),
        ("POST", "object/move", {"json": {"bucketId": "{bucket}"}}),
        (
            "POST",
            "object/{bucket}/{me}/form.png",
            {"content": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data"}},
        ),
        ("POST", "bucket", {"json": {"name": "bad/name"}}),
        ("POST", "bucket", {"json": {"name": "ok", "file_size_limit": "huge"}}),
        ("PUT", "bucket/{bucket}", {"json": {"name": "x"}}),
        ("GET", "bucket/{bucket}/nope/deeper", {}),
        ("POST", "object/list-v2/{bucket}", {"json": {"cursor": "%%%"}}),
        ("GET", "object/sign/{bucket}/x.png", {}),
    ],
)
def test_malformed_requests_get_a_storage_error_never_a_500(world: World, method: str, path: str, kwargs: dict):
    headers = {"Authorization": f"Bearer {world.alice_token}", **kwargs.pop("headers", {})}
    if "json" in kwargs:
        kwargs["content"] = json.dumps(kwargs.pop("json")).replace("{bucket}", PRIVATE).encode()
        headers["Content-Type"] = "application/json"
    url = f"{world.base}/{path.format(bucket=PRIVATE, me=ALICE)}"
    r = httpx.request(method, url, headers=headers, **kwargs)
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    assert {"statusCode", "error", "message"} <= set(body)
    assert body["statusCode"].isdigit()


def test_user_metadata_travels_with_the_file(world: World):
    path = f"{ALICE}/meta.png"
    world.alice.from_(PRIVATE).upload(path, PNG, {"content-type": "image/png", "metadata": {"sku": "TZ-1"}})
    assert world.alice.from_(PRIVATE).info(path)["metadata"] == {"sku": "TZ-1"}
    raw = httpx.post(
        f"{world.base}/object/{PRIVATE}/{ALICE}/meta-raw.png",
        content=PNG,
        headers={
            "Authorization": f"Bearer {world.alice_token}",
            "Content-Type": "image/png",
            "x-metadata": base64.b64encode(b'{"color": "red"}').decode(),
        },
    )
    assert raw.status_code == 200
    assert raw.json()["Key"] == f"{PRIVATE}/{ALICE}/meta-raw.png"
    assert world.alice.from_(PRIVATE).info(f"{ALICE}/meta-raw.png")["metadata"] == {"color": "red"}
