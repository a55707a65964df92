"""The custom access token hook (``[auth.hook.custom_access_token]``): called by the Auth
service as ``supabase_auth_admin`` with ``{user_id, claims, authentication_method, …}``
whenever it issues an access token; its ``{"claims"}`` are signed, its ``{"error"}``
refuses the token, and a failing or missing hook fails the sign-in as GoTrue fails it.

The module runs with the test hook of ``test_auth_support`` in place of the configured one
(any real hook is renamed aside meanwhile); see that module for why."""

from __future__ import annotations

import psycopg
import pytest
from supabase_auth.errors import AuthApiError

from tests.standin.conformance.test_auth_support import (
    auth_http,
    claims_of,
    installed_test_hook,
    new_phone,
    renamed_aside,
    sign_in,
    sms_code,
)

HOOK_URI_ERROR = "Error running hook URI: pg-functions://postgres/public/{name}"


@pytest.fixture(scope="module", autouse=True)
def token_hook(target):
    with installed_test_hook(target) as name:
        yield name


def test_the_hook_claims_are_in_every_access_token(target, anon):
    signed_in = sign_in(anon, target, new_phone())
    claims = claims_of(signed_in.session.access_token)

    assert claims["user_role"] == "customer"
    assert claims["hook_input"] == {
        "user_id": signed_in.user.id,
        "authentication_method": "otp",
        "metadata_name": "customize-access-token",
        "invoker": "supabase_auth_admin",
    }
    assert claims["role"] == "authenticated" and claims["sub"] == signed_in.user.id

    refreshed = anon.auth.refresh_session().session
    assert claims_of(refreshed.access_token)["hook_input"]["authentication_method"] == "token_refresh"
    assert claims_of(refreshed.access_token)["user_role"] == "customer"


def test_the_hook_refuses_or_fails_a_sign_in_and_nothing_is_kept(target, anon, service, db, token_hook):
    """One code, tried while the hook fails in each way; the failed attempts roll back, so
    the code still works once the hook lets the user in."""
    phone = new_phone()
    anon.auth.sign_in_with_otp({"phone": phone, "options": {"data": {"hook_test": "refuse"}}})
    code = sms_code(target, phone)
    user_id = db.execute("select id::text from auth.users where phone = %s", (phone,)).fetchone()[0]

    def attempt() -> AuthApiError:
        with pytest.raises(AuthApiError) as failed:
            anon.auth.verify_otp({"phone": phone, "token": code, "type": "sms"})
        return failed.value

    refused = attempt()
    assert (refused.status, refused.message) == (403, "Sign-in refused by the hook")
    assert refused.code == "unknown", "a hook error carries no error code"
    with auth_http(target) as http:
        legacy = http.post("/verify", json={"type": "sms", "phone": phone, "token": code})
    assert legacy.status_code == 403
    assert legacy.json() == {"code": 403, "error_code": "unknown", "msg": "Sign-in refused by the hook"}
    assert "x-sb-error-code" not in legacy.headers

    service.auth.admin.update_user_by_id(user_id, {"user_metadata": {"hook_test": "raise"}})
    failed = attempt()
    assert (failed.status, failed.code) == (500, "unexpected_failure")
    assert failed.message == HOOK_URI_ERROR.format(name=token_hook)

    service.auth.admin.update_user_by_id(user_id, {"user_metadata": {"hook_test": "drop_role"}})
    invalid = attempt()
    assert invalid.status == 500
    assert invalid.message.startswith("output claims do not conform to the expected schema")
    assert "role is required" in invalid.message

    assert db.execute("select count(*) from auth.sessions where user_id = %s", (user_id,)).fetchone() == (0,)
    assert db.execute("select phone_confirmed_at from auth.users where id = %s", (user_id,)).fetchone() == (None,)

    service.auth.admin.update_user_by_id(user_id, {"user_metadata": {"hook_test": None}})
    signed_in = anon.auth.verify_otp({"phone": phone, "token": code, "type": "sms"})
    assert claims_of(signed_in.session.access_token)["user_role"] == "customer"


def test_a_missing_hook_fails_sign_in(target, anon, token_hook):
    phone = new_phone()
    anon.auth.sign_in_with_otp({"phone": phone})
    code = sms_code(target, phone)
    with (
        psycopg.connect(target.db_url, autocommit=True) as db,
        renamed_aside(db, token_hook, "hidden_by_test"),
        pytest.raises(AuthApiError) as failed,
    ):
        anon.auth.verify_otp({"phone": phone, "token": code, "type": "sms"})
    assert (failed.value.status, failed.value.code) == (500, "unexpected_failure")
    assert failed.value.message == HOOK_URI_ERROR.format(name=token_hook)
    assert anon.auth.verify_otp({"phone": phone, "token": code, "type": "sms"}).session is not None
