"""The signed-in user: ``GET /user``, ``PUT /user`` (metadata, phone change) and
``POST /logout`` with its scopes; tokens that are expired, forged or name a banned user."""

from __future__ import annotations

import time

import pytest
from supabase_auth.errors import AuthApiError

from supabase_standin import keys
from tests.standin.conformance.test_auth_support import (
    auth_admin_db,
    auth_http,
    claims_of,
    installed_test_hook,
    new_phone,
    sign_in,
    sms_code,
)


@pytest.fixture(scope="module", autouse=True)
def token_hook(target):
    with installed_test_hook(target) as name:
        yield name


@pytest.fixture(scope="module")
def member(target, token_hook):
    """One signed-in customer for the stories that only read."""
    client = target.client()
    session = sign_in(client, target, new_phone(), {"name": "Zawadi"}).session
    return client, session


def _allow_another_code(target, phone: str) -> None:
    """Move the last code's send time back so a new code may be asked at once."""
    with auth_admin_db(target) as owner:
        owner.execute(
            "update auth.users set confirmation_sent_at = confirmation_sent_at - interval '1 hour' where phone = %s",
            (phone,),
        )


def test_a_signed_in_user_reads_their_profile(member):
    client, session = member
    user = client.auth.get_user(session.access_token).user
    assert user.id == claims_of(session.access_token)["sub"]
    assert user.user_metadata["name"] == "Zawadi"
    assert [i.provider for i in user.identities] == ["phone"]


def test_an_expired_or_forged_token_is_refused(target, member):
    client, session = member
    claims = claims_of(session.access_token)

    expired = keys.sign(target.jwt_secret, {**claims, "iat": claims["iat"] - 7200, "exp": int(time.time()) - 60})
    with pytest.raises(AuthApiError) as refused:
        client.auth.get_user(expired)
    assert (refused.value.status, refused.value.code) == (403, "bad_jwt")
    assert (
        refused.value.message
        == "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired"
    )

    forged = keys.sign("not-the-project-secret-but-32-characters-long", claims)
    with pytest.raises(AuthApiError) as refused:
        client.auth.get_user(forged)
    assert (refused.value.status, refused.value.code) == (403, "bad_jwt")
    assert refused.value.message.endswith("token signature is invalid: signature is invalid")

    with auth_http(target) as http:
        missing = http.get("/user", headers={"Authorization": ""})
        anon_key = http.get("/user")
    assert (missing.status_code, missing.json()["error_code"]) == (401, "no_authorization")
    assert (anon_key.status_code, anon_key.json()["msg"]) == (403, "invalid claim: missing sub claim")


def test_a_user_updates_their_metadata(target, member):
    client, _ = member
    client.auth.update_user({"data": {"city": "Arusha", "language": "sw"}})
    updated = client.auth.update_user({"data": {"language": None}}).user

    assert updated.user_metadata["city"] == "Arusha"
    assert updated.user_metadata["name"] == "Zawadi", "other keys are kept"
    assert "language" not in updated.user_metadata, "a null value removes the key"
    refreshed = client.auth.refresh_session().session
    assert claims_of(refreshed.access_token)["user_metadata"]["city"] == "Arusha"


def test_a_user_changes_their_phone_with_a_code_sent_to_the_new_phone(target, anon, db):
    old_phone, new = new_phone(), new_phone()
    sign_in(anon, target, old_phone)

    pending = anon.auth.update_user({"phone": "+" + new}).user
    assert pending.phone == old_phone and pending.new_phone == new

    changed = anon.auth.verify_otp({"phone": new, "token": sms_code(target, new), "type": "phone_change"})
    assert changed.user.phone == new and changed.user.new_phone is None
    identity = changed.user.identities[0]
    assert identity.identity_data["phone"] == new and identity.identity_data["phone_verified"] is True
    assert claims_of(changed.session.access_token)["phone"] == new
    assert db.execute("select count(*) from auth.users where phone = %s", (old_phone,)).fetchone() == (0,)


def test_a_phone_already_taken_cannot_be_claimed(target, member):
    client, _ = member
    other = new_phone()
    target.client(target.service_role_key).auth.admin.create_user({"phone": other})
    with pytest.raises(AuthApiError) as refused:
        client.auth.update_user({"phone": other})
    assert (refused.value.status, refused.value.code) == (422, "phone_exists")


def test_sign_out_scopes_end_this_session_other_sessions_or_all(target, db):
    phone = new_phone()
    laptop, phone_app, tablet = target.client(), target.client(), target.client()
    sign_in(laptop, target, phone)
    _allow_another_code(target, phone)
    sign_in(phone_app, target, phone)
    user_id = claims_of(laptop.auth.get_session().access_token)["sub"]

    def sessions() -> int:
        return db.execute("select count(*) from auth.sessions where user_id = %s", (user_id,)).fetchone()[0]

    assert sessions() == 2
    laptop.auth.sign_out({"scope": "others"})
    assert sessions() == 1
    assert laptop.auth.get_user() is not None
    with pytest.raises(AuthApiError) as gone:
        phone_app.auth.refresh_session()
    assert gone.value.code == "refresh_token_not_found"

    _allow_another_code(target, phone)
    sign_in(tablet, target, phone)
    laptop.auth.sign_out({"scope": "local"})
    assert sessions() == 1
    assert tablet.auth.get_user() is not None

    tablet.auth.sign_out()
    assert sessions() == 0


def test_an_unknown_sign_out_scope_is_refused(target, member):
    _, session = member
    with auth_http(target, Authorization=f"Bearer {session.access_token}") as http:
        response = http.post("/logout", params={"scope": "everywhere"})
    assert response.status_code == 400
    assert response.json()["msg"] == 'Unsupported logout scope "everywhere"'


def test_a_banned_user_is_refused_until_the_ban_is_lifted(target, anon, service):
    phone = new_phone()
    session = sign_in(anon, target, phone).session
    user_id = claims_of(session.access_token)["sub"]

    service.auth.admin.update_user_by_id(user_id, {"ban_duration": "1h"})

    with pytest.raises(AuthApiError) as refused:
        anon.auth.get_user(session.access_token)
    assert (refused.value.status, refused.value.code) == (403, "user_banned")
    with pytest.raises(AuthApiError) as refused:
        anon.auth.refresh_session(session.refresh_token)
    assert (refused.value.status, refused.value.code) == (400, "user_banned")
    _allow_another_code(target, phone)
    anon.auth.sign_in_with_otp({"phone": phone})
    with pytest.raises(AuthApiError) as refused:
        anon.auth.verify_otp({"phone": phone, "token": sms_code(target, phone), "type": "sms"})
    assert (refused.value.status, refused.value.code) == (403, "user_banned")

    service.auth.admin.update_user_by_id(user_id, {"ban_duration": "none"})
    assert anon.auth.get_user(session.access_token).user.id == user_id
