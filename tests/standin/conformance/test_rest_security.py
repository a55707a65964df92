"""Who is asking decides what the Data API shows: JWT handling, RLS, privileges, and the
status codes PostgREST gives for each refusal."""

from __future__ import annotations

import time

import httpx
import pytest
from postgrest.exceptions import APIError

from tests.standin.conformance.conftest import ALICE, BOB, user_token


def test_rls_hides_drafts_from_anon_and_shows_each_owner_only_theirs(as_anon, as_alice, as_bob):
    def drafts(client) -> set[str]:  # type: ignore[no-untyped-def]
        rows = client.table("books").select("title").is_("published", "null").execute().data
        return {r["title"] for r in rows if r["title"].startswith("Draft of")}

    assert drafts(as_anon) == set()
    assert drafts(as_alice) == {"Draft of Alice"}
    assert drafts(as_bob) == {"Draft of Bob"}


def test_service_role_bypasses_rls(as_service):
    titles = {r["title"] for r in as_service.table("books").select("title").execute().data}
    assert {"Draft of Alice", "Draft of Bob"} <= titles


def test_insufficient_privilege_is_401_for_anon_and_403_for_a_user(http, target):
    anon = http.post("/notes", json={"body": "x"})
    assert anon.status_code == 401
    assert anon.json()["code"] == "42501"
    assert anon.headers["www-authenticate"].startswith("Bearer")
    token = user_token(target.jwt_secret, ALICE)
    forged_owner = http.post("/notes", json={"body": "x", "owner": BOB}, headers={"Authorization": f"Bearer {token}"})
    assert forged_owner.status_code == 403
    assert forged_owner.json()["code"] == "42501"


def test_expired_jwt_is_401_pgrst303(http, target):
    token = user_token(target.jwt_secret, ALICE, ttl=-10)
    r = http.get("/books", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "PGRST303"
    assert body["message"] == "JWT expired"
    assert set(body) == {"code", "details", "hint", "message"}
    assert "invalid_token" in r.headers["www-authenticate"]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b",
        "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.forged-signature",
    ],
)
def test_malformed_or_forged_jwt_is_401_pgrst301(http, token):
    r = http.get("/authors", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["code"] == "PGRST301"


def test_a_token_signed_with_another_secret_cannot_become_service_role(http):
    from supabase_standin import keys

    forged = keys.sign(
        "another-secret-that-is-at-least-32-chars", {"role": "service_role", "exp": int(time.time()) + 60}
    )
    r = http.get("/books", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_a_jwt_claiming_a_role_the_api_cannot_take_is_refused(http, target):
    from supabase_standin import keys

    token = keys.sign(target.jwt_secret, {"role": "postgres", "exp": int(time.time()) + 60})
    r = http.get("/books", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (401, 403)
    assert r.json()["code"] == "42501"


def test_writes_rejected_by_rls_leave_nothing_behind(as_bob, db):
    before = db.execute("select count(*) from conformance.books").fetchone()
    with pytest.raises(APIError) as err:
        as_bob.table("books").insert({"author_id": 1, "title": "as alice", "owner": ALICE}).execute()
    assert err.value.code == "42501"
    assert db.execute("select count(*) from conformance.books").fetchone() == before


def test_the_api_connects_as_authenticator_never_as_a_privileged_role(db, target):
    rows = db.execute(
        """
        select distinct a.usename, r.rolsuper, r.rolbypassrls
        from pg_stat_activity a join pg_roles r on r.rolname = a.usename
        where a.datname = current_database() and a.application_name <> 'psql'
          and a.usename in ('authenticator', 'supabase_auth_admin', 'supabase_storage_admin')
        """
    ).fetchall()
    assert rows, "the API holds no database connections?"
    assert all(not su and not bypass for _name, su, bypass in rows)
    anon_flags = db.execute("select rolsuper, rolbypassrls from pg_roles where rolname = 'authenticator'").fetchone()
    assert anon_flags == (False, False)


def test_service_role_key_is_the_cli_default(target):
    # apps' local settings carry the Supabase CLI's well-known local keys
    if target.settings.jwt_secret != "super-secret-jwt-token-with-at-least-32-characters-long":
        pytest.fail("the local stack must use the Supabase CLI's default local JWT secret")
    assert target.anon_key.endswith(".CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0")
    assert target.service_role_key.endswith(".EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU")


def test_anon_key_alone_reads_as_anon(target, conformance_schema):
    r = httpx.get(
        f"{target.url}/rest/v1/books?select=title",
        headers={"apikey": target.anon_key, "Accept-Profile": "conformance"},
    )
    assert r.status_code == 200
    assert all(not t["title"].startswith("Draft") for t in r.json())


def test_a_jwt_with_a_role_that_does_not_exist_is_401(http, target):
    """PostgREST answers 401 when the JWT's role is not a database role (22023)."""
    from supabase_standin import keys

    token = keys.sign(target.jwt_secret, {"role": "no_such_role_here", "exp": int(time.time()) + 60})
    r = http.get("/books", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "22023"
    assert r.headers["www-authenticate"] == "Bearer"
