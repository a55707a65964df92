"""Refresh-token rotation (``POST /token?grant_type=refresh_token``): each refresh revokes the
token used and issues its child; a client that lost an answer may replay; anything else
is refused, and a replay after the reuse interval revokes the whole token family."""

from __future__ import annotations

import secrets

import pytest
from supabase_auth.errors import AuthApiError

from tests.standin.conformance.test_auth_support import (
    auth_admin_db,
    auth_http,
    claims_of,
    installed_test_hook,
    new_phone,
    sign_in,
)


@pytest.fixture(scope="module", autouse=True)
def token_hook(target):
    with installed_test_hook(target) as name:
        yield name


@pytest.fixture
def session(target, anon):
    return sign_in(anon, target, new_phone()).session


def _tokens(db, session_id: str) -> list[tuple[str, bool, str | None]]:
    return db.execute(
        "select token, revoked, parent from auth.refresh_tokens where session_id = %s order by id", (session_id,)
    ).fetchall()


def test_each_refresh_revokes_the_token_used_and_issues_its_child(anon, db, session):
    session_id = claims_of(session.access_token)["session_id"]

    refreshed = anon.auth.refresh_session(session.refresh_token).session

    assert refreshed.refresh_token != session.refresh_token
    assert claims_of(refreshed.access_token)["session_id"] == session_id
    assert [m["method"] for m in claims_of(refreshed.access_token)["amr"]] == ["otp"]
    assert _tokens(db, session_id) == [
        (session.refresh_token, True, None),
        (refreshed.refresh_token, False, session.refresh_token),
    ]
    assert anon.auth.get_user(refreshed.access_token).user.id == claims_of(session.access_token)["sub"]

    # The client lost that answer and replays: the parent of the active token gets the
    # active token back, never a new one.
    replayed = anon.auth.refresh_session(session.refresh_token).session
    assert replayed.refresh_token == refreshed.refresh_token
    assert len(_tokens(db, session_id)) == 2, "no new token was issued"
    assert anon.auth.get_user(replayed.access_token) is not None

    # One more refresh, then the original token again: no longer the parent of the active
    # token, but revoked less than the reuse interval ago, so it is tolerated.
    latest = anon.auth.refresh_session(refreshed.refresh_token).session.refresh_token
    tolerated = anon.auth.refresh_session(session.refresh_token).session
    assert tolerated.refresh_token not in (session.refresh_token, refreshed.refresh_token, latest)
    assert (tolerated.refresh_token, False, session.refresh_token) in _tokens(db, session_id)


def test_replaying_an_older_token_after_the_reuse_interval_revokes_the_family(target, anon, db, session):
    session_id = claims_of(session.access_token)["session_id"]
    first_child = anon.auth.refresh_session(session.refresh_token).session.refresh_token
    anon.auth.refresh_session(first_child)
    interval = target.settings.project.auth.refresh_token_reuse_interval
    with auth_admin_db(target) as owner:
        owner.execute(
            "update auth.refresh_tokens set updated_at = updated_at - make_interval(secs => %s) where token = %s",
            (interval + 1, session.refresh_token),
        )

    with pytest.raises(AuthApiError) as refused:
        anon.auth.refresh_session(session.refresh_token)

    assert (refused.value.status, refused.value.code) == (400, "refresh_token_already_used")
    assert refused.value.message == "Invalid Refresh Token: Already Used"
    assert [revoked for _, revoked, _ in _tokens(db, session_id)] == [True, True, True]


def test_an_unknown_refresh_token_is_not_found_and_a_malformed_one_is_invalid(target, anon):
    unknown = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(12))
    with pytest.raises(AuthApiError) as not_found:
        anon.auth.refresh_session(unknown)
    assert (not_found.value.status, not_found.value.code) == (400, "refresh_token_not_found")
    assert not_found.value.message == "Invalid Refresh Token: Refresh Token Not Found"

    with auth_http(target) as http:
        response = http.post("/token", params={"grant_type": "refresh_token"}, json={"refresh_token": "not a token"})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "validation_failed", "msg": "Refresh token is not valid"}


def test_an_unsupported_grant_type_is_refused(target):
    with auth_http(target) as http:
        response = http.post("/token", params={"grant_type": "magic"}, json={})
    assert response.status_code == 400
    assert response.json()["error_code"] == "invalid_credentials"
    assert response.json()["msg"] == "unsupported_grant_type"


# -- form bodies -----------------------------------------------------------------------------
# GoTrue reads `grant_type` with Go's `Request.FormValue` (URL-encoded body, then query, then
# multipart body), which consumes a form body; the grant's parameters are then parsed as JSON
# from what is left (nothing). So a form-encoded refresh token is refused with 400 bad_json
# on hosted Supabase, never a 500, and the token stays usable with a JSON body.

EMPTY_BODY = "Could not parse request body as JSON: unexpected end of JSON input"


def _multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "wats-" + secrets.token_hex(8)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("where", ["query", "form"])
def test_a_form_encoded_refresh_is_bad_json_and_leaves_the_token_usable(target, anon, db, session, where):
    session_id = claims_of(session.access_token)["session_id"]
    form = {"refresh_token": session.refresh_token}
    path = "/token?grant_type=refresh_token" if where == "query" else "/token"
    if where == "form":
        form["grant_type"] = "refresh_token"  # found in the form body: the refresh grant runs
    with auth_http(target) as http:
        legacy = http.post(path, data=form)
        current = http.post(path, data=form, headers={"X-Supabase-Api-Version": "2024-01-01"})
    assert legacy.status_code == current.status_code == 400
    assert legacy.json() == {"code": 400, "error_code": "bad_json", "msg": EMPTY_BODY}
    assert current.json() == {"code": "bad_json", "message": EMPTY_BODY}
    assert current.headers["x-sb-error-code"] == "bad_json"
    assert _tokens(db, session_id) == [(session.refresh_token, False, None)], "nothing was rotated"
    refreshed = anon.auth.refresh_session(session.refresh_token).session  # JSON, as supabase-py sends it
    assert refreshed.refresh_token != session.refresh_token


def test_a_multipart_refresh_reads_the_grant_type_and_is_bad_json(target, session):
    body, content_type = _multipart({"grant_type": "refresh_token", "refresh_token": session.refresh_token})
    with auth_http(target) as http:
        response = http.post("/token", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "bad_json", "msg": EMPTY_BODY}


def test_a_form_body_without_a_grant_type_is_an_unsupported_grant(target):
    with auth_http(target) as http:
        response = http.post("/token", data={"refresh_token": "x"})
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error_code": "invalid_credentials", "msg": "unsupported_grant_type"}


def test_a_refresh_with_a_json_body_of_another_content_type_works(target, session):
    """Content types other than forms do not matter to GoTrue: the body is parsed as JSON."""
    with auth_http(target) as http:
        response = http.post(
            "/token?grant_type=refresh_token",
            content=f'{{"refresh_token": "{session.refresh_token}"}}'.encode(),
            headers={"Content-Type": "text/plain"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"] != session.refresh_token
