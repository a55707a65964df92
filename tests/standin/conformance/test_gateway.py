"""The API gateway in front of every service behaves as Supabase's: API keys, CORS, body
limits, JSON errors — and no input makes it answer 500 or fall over."""

from __future__ import annotations

import httpx
import pytest


def test_the_data_api_requires_an_apikey(target):
    missing = httpx.get(f"{target.url}/rest/v1/")
    assert missing.status_code == 401
    assert missing.json() == {"message": "No API key found in request"}
    wrong = httpx.get(f"{target.url}/rest/v1/", headers={"apikey": "sb-not-a-key"})
    assert wrong.status_code == 401
    assert wrong.json() == {"message": "Invalid authentication credentials"}


def test_a_user_token_is_not_an_api_key(target):
    from tests.standin.conformance.conftest import ALICE, user_token

    token = user_token(target.jwt_secret, ALICE)
    r = httpx.get(f"{target.url}/rest/v1/", headers={"apikey": token})
    assert r.status_code == 401


def test_the_auth_api_requires_an_apikey_except_for_links(target):
    assert httpx.get(f"{target.url}/auth/v1/settings").status_code == 401
    assert httpx.get(f"{target.url}/auth/v1/settings", headers={"apikey": target.anon_key}).status_code == 200


def test_a_path_no_service_is_mounted_on_is_kongs_json_404(target):
    r = httpx.get(f"{target.url}/no/such/service", headers={"apikey": target.anon_key})
    assert r.status_code == 404
    assert r.json() == {"message": "no Route matched with those values"}


def test_cors_preflight_and_headers(target):
    pre = httpx.options(
        f"{target.url}/rest/v1/authors",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "apikey, authorization, content-type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    r = httpx.get(f"{target.url}/rest/v1/", headers={"apikey": target.anon_key, "Origin": "http://localhost:3000"})
    assert r.headers["access-control-allow-origin"] == "*"


def test_an_oversized_body_is_413_with_a_json_error(target, conformance_schema):
    big = b"[" + b",".join([b'{"name":"' + b"x" * 1000 + b'"}'] * 11000) + b"]"
    r = httpx.post(
        f"{target.url}/rest/v1/authors",
        content=big,
        headers={"apikey": target.anon_key, "Content-Type": "application/json", "Content-Profile": "conformance"},
        timeout=30,
    )
    assert r.status_code == 413
    assert "too large" in r.json()["message"]


def test_an_oversized_chunked_body_is_413(target, conformance_schema):
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(12):
            yield b"x" * (1024 * 1024)

    r = httpx.post(
        f"{target.url}/rest/v1/authors",
        content=chunks(),
        headers={"apikey": target.anon_key, "Content-Type": "application/json", "Content-Profile": "conformance"},
        timeout=30,
    )
    assert r.status_code == 413


HOSTILE_QUERIES = [
    "select=*,*,*",
    "select=(((",
    "select=name::text;drop table x",
    'select="',
    "select=a:b:c",
    "select=books!!!(*)",
    "select=...name",
    "select=count()",
    "id=eq.1&id=eq.2&id=in.()",
    "id=in.(((1)))",
    "or=(((",
    "or=()",
    "and=(id.eq.1,or(id.eq.2,and(id.eq.3)))",
    "order=id.sideways",
    "order=",
    "order=authors(name",
    "order=x)(y",
    "limit=-1",
    "limit=abc",
    "offset=99999999999999999999999",
    "name=like.%00",
    "name=eq.%00",
    "name=in.(%00)",
    "meta->>'; drop table x;--=eq.1",
    'meta->>"=eq.1',
    "tags=cs.{unterminated",
    "born=gt.not-a-date",
    "id=eq.99999999999999999999999999",
    "search=fts(nolanguage).x",
    "select=name,books(title,authors!inner(books(title)))",
    "books.limit=1",
    "not.or=(id.eq.1)",
    "x" * 5000 + "=eq.1",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_query_strings_get_a_json_4xx_never_a_500(target, conformance_schema, query):
    r = httpx.get(
        f"{target.url}/rest/v1/authors?{query}",
        headers={"apikey": target.anon_key, "Accept-Profile": "conformance"},
        timeout=10,
    )
    assert r.status_code < 500, (query, r.status_code, r.text)
    if r.status_code >= 400:
        body = r.json()
        assert {"code", "message", "details", "hint"} <= set(body), body


HOSTILE_BODIES = [
    b"",
    b"null",
    b"42",
    b'"text"',
    b"[1,2,3]",
    b'[{"name":"a"},{"title":"b"}]',
    b'{"id": "not-a-number", "name": "x"}',
    b"\xff\xfe\x00",
    b'{"name": "x", "tags": "not-an-array"}',
    b'{"name": "x", "born": "31/31/2020"}',
    b'{"' + b"k" * 10000 + b'": 1}',
    b"[" * 5000 + b"]" * 5000,
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_bodies_get_a_json_4xx_never_a_500(target, conformance_schema, body):
    from tests.standin.conformance.conftest import ALICE, user_token

    r = httpx.post(
        f"{target.url}/rest/v1/authors",
        content=body,
        headers={
            "apikey": target.anon_key,
            "Authorization": f"Bearer {user_token(target.jwt_secret, ALICE)}",
            "Content-Type": "application/json",
            "Content-Profile": "conformance",
        },
        timeout=10,
    )
    assert r.status_code < 500, (body[:60], r.status_code, r.text)
    assert r.status_code >= 400, (body[:60], r.status_code, r.text)
    assert set(r.json()) >= {"code", "message"}


def test_the_server_survives_a_burst_of_bad_requests(target):
    with httpx.Client(timeout=10) as client:
        for i in range(200):
            client.get(f"{target.url}/rest/v1/nope{i}?select=((", headers={"apikey": target.anon_key})
        ok = client.get(f"{target.url}/rest/v1/", headers={"apikey": target.anon_key})
    assert ok.status_code == 200


def _segment(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: JWTs a parser can choke on: JSON nested deeper than Python's recursion limit in the
#: header or the claims, a segment that is not base64 of UTF-8 at all.
DEEP = b"[" * 8000
CHOKING_TOKENS = [
    ".".join([_segment(DEEP), _segment(b"{}"), "sig"]),
    ".".join([_segment(b'{"alg":"HS256"}'), _segment(DEEP), "sig"]),
    ".".join([_segment(bytes([0xFF, 0xFE])), _segment(bytes([0xFF])), "sig"]),
]


@pytest.mark.parametrize("token", CHOKING_TOKENS, ids=["deep-header", "deep-claims", "not-utf8"])
def test_a_token_the_parser_chokes_on_is_refused_as_invalid_by_every_api(target, token):
    auth = {"apikey": target.anon_key, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=target.url, headers=auth, timeout=10) as client:
        rest = client.get("/rest/v1/products", params={"select": "id", "limit": "1"})
        user = client.get("/auth/v1/user")
        storage = client.get("/storage/v1/object/authenticated/product-images/none.png")
        function = client.post("/functions/v1/checkout-initiate", json={})
    assert rest.status_code == 401 and rest.json()["code"] == "PGRST301", rest.text
    assert user.status_code == 403 and user.json()["error_code"] == "bad_jwt", user.text
    assert 400 <= storage.status_code < 500 and storage.json()["statusCode"] in ("400", "403"), storage.text
    assert function.status_code == 401 and function.json()["msg"] == "Invalid JWT", function.text
