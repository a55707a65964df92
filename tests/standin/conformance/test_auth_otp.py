"""Phone sign-in with a one-time code, as the customer and vendor apps do it (``/otp``,
``/verify``), and the ``auth`` rows GoTrue leaves behind."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import pytest
from supabase_auth.errors import AuthApiError

from tests.standin.conformance.test_auth_support import (
    TEST_PHONE,
    TEST_PHONE_OTP,
    auth_admin_db,
    auth_http,
    claims_of,
    installed_test_hook,
    new_phone,
    sms_code,
    sms_count,
)


@pytest.fixture(scope="module", autouse=True)
def token_hook(target):
    with installed_test_hook(target) as name:
        yield name


def _wait_for_resend_window(db, phone: str, seconds: float) -> None:
    """Another client may just have asked a code for this (shared) test phone."""
    row = db.execute("select confirmation_sent_at from auth.users where phone = %s", (phone,)).fetchone()
    if row and row[0] is not None:
        remaining = seconds + 0.2 - (datetime.now(UTC) - row[0]).total_seconds()
        if remaining > 0:
            time.sleep(remaining)


def test_a_customer_with_a_test_phone_signs_in_refreshes_and_signs_out(target, anon, db):
    _wait_for_resend_window(db, TEST_PHONE, 5)
    sent_before = sms_count(target, TEST_PHONE)

    anon.auth.sign_in_with_otp({"phone": "+" + TEST_PHONE})
    signed_in = anon.auth.verify_otp({"phone": TEST_PHONE, "token": TEST_PHONE_OTP, "type": "sms"})

    assert sms_count(target, TEST_PHONE) == sent_before, "test phones get their fixed code and no SMS"
    assert signed_in.user.phone == TEST_PHONE
    assert signed_in.user.phone_confirmed_at is not None
    first = signed_in.session
    assert claims_of(first.access_token)["phone"] == TEST_PHONE

    refreshed = anon.auth.refresh_session(first.refresh_token).session
    assert refreshed.refresh_token != first.refresh_token
    assert claims_of(refreshed.access_token)["session_id"] == claims_of(first.access_token)["session_id"]

    anon.auth.sign_out({"scope": "local"})  # only this device: the demo user may be signed in elsewhere
    with pytest.raises(AuthApiError) as gone:
        anon.auth.refresh_session(refreshed.refresh_token)
    assert gone.value.code == "refresh_token_not_found"


def test_a_new_customer_signs_up_with_the_code_sent_by_sms(target, anon):
    phone = new_phone()
    spaced = f"+{phone[:3]} {phone[3:6]} {phone[6:]}"

    otp = anon.auth.sign_in_with_otp({"phone": spaced, "options": {"data": {"name": "Neema"}}})
    assert otp.user is None and otp.session is None
    code = sms_code(target, phone)
    assert len(code) == 6 and code.isdigit()

    signed_in = anon.auth.verify_otp({"phone": spaced, "token": code, "type": "sms"})
    user, session = signed_in.user, signed_in.session
    assert user.phone == phone, "phones are stored as digits only"
    assert user.user_metadata["name"] == "Neema"
    assert user.app_metadata == {"provider": "phone", "providers": ["phone"]}
    assert [i.provider for i in user.identities] == ["phone"]
    assert user.role == "authenticated" and user.aud == "authenticated"
    assert session.token_type == "bearer" and session.expires_in == target.settings.project.auth.jwt_exp

    claims = claims_of(session.access_token)
    assert claims["sub"] == user.id
    assert claims["aud"] == "authenticated" and claims["role"] == "authenticated"
    assert claims["iss"] == f"{target.url}/auth/v1"
    assert claims["exp"] - claims["iat"] == target.settings.project.auth.jwt_exp
    assert claims["phone"] == phone and claims["email"] == ""
    assert claims["aal"] == "aal1"
    assert [entry["method"] for entry in claims["amr"]] == ["otp"]
    assert claims["is_anonymous"] is False
    assert claims["app_metadata"]["provider"] == "phone"
    assert claims["user_metadata"]["name"] == "Neema"
    assert claims["session_id"]

    anon.auth.resend({"type": "sms", "phone": phone})
    assert sms_count(target, phone) == 1, "a confirmed phone is sent no new confirmation code"

    assert anon.auth.refresh_session().session.refresh_token != session.refresh_token
    anon.auth.sign_out()
    with pytest.raises(AuthApiError) as gone:
        anon.auth.refresh_session(session.refresh_token)
    assert gone.value.code == "refresh_token_not_found"


def test_sign_in_writes_the_rows_gotrue_writes_and_keeps_the_code_hashed(target, anon, db):
    phone = new_phone()
    anon.auth.sign_in_with_otp({"phone": phone})
    code = sms_code(target, phone)

    user_id, stored, app_meta, instance = db.execute(
        "select id::text, confirmation_token, raw_app_meta_data, instance_id::text from auth.users where phone = %s",
        (phone,),
    ).fetchone()
    assert stored == hashlib.sha224((phone + code).encode()).hexdigest() != code
    assert instance == "00000000-0000-0000-0000-000000000000"
    assert app_meta == {"provider": "phone", "providers": ["phone"]}
    assert db.execute(
        "select token_type::text, token_hash, relates_to from auth.one_time_tokens where user_id = %s", (user_id,)
    ).fetchall() == [("confirmation_token", stored, phone)]

    session = anon.auth.verify_otp({"phone": phone, "token": code, "type": "sms"}).session

    assert db.execute(
        "select confirmation_token, phone_confirmed_at is not null, last_sign_in_at is not null, role "
        "from auth.users where id = %s",
        (user_id,),
    ).fetchone() == ("", True, True, "authenticated")
    assert db.execute("select count(*) from auth.one_time_tokens where user_id = %s", (user_id,)).fetchone() == (0,)
    provider_id, provider, identity = db.execute(
        "select provider_id, provider, identity_data from auth.identities where user_id = %s", (user_id,)
    ).fetchone()
    assert (provider_id, provider) == (user_id, "phone")
    assert identity == {"sub": user_id, "email_verified": False, "phone_verified": False}
    session_id = claims_of(session.access_token)["session_id"]
    assert db.execute("select user_id::text, aal::text from auth.sessions where id = %s", (session_id,)).fetchone() == (
        user_id,
        "aal1",
    )
    assert db.execute(
        "select token, revoked, parent, session_id::text from auth.refresh_tokens where user_id = %s", (user_id,)
    ).fetchall() == [(session.refresh_token, False, None, session_id)]
    assert db.execute(
        "select authentication_method from auth.mfa_amr_claims where session_id = %s", (session_id,)
    ).fetchall() == [("otp",)]
    actions = [
        row[0]
        for row in db.execute(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = %s order by created_at",
            (user_id,),
        ).fetchall()
    ]
    assert actions == ["user_confirmation_requested", "user_signedup"]


def test_a_second_code_inside_the_resend_interval_is_refused(target, anon):
    phone = new_phone()
    anon.auth.sign_in_with_otp({"phone": phone})

    with pytest.raises(AuthApiError) as refused:
        anon.auth.sign_in_with_otp({"phone": phone})

    assert refused.value.status == 429
    assert refused.value.code == "over_sms_send_rate_limit"
    assert refused.value.message.startswith("For security purposes, you can only request this after ")
    assert sms_count(target, phone) == 1


def _age_last_code(target, phone: str, seconds: int) -> None:
    """Pretend the last code was sent ``seconds`` earlier than it was."""
    with auth_admin_db(target) as owner:
        owner.execute(
            "update auth.users set confirmation_sent_at = confirmation_sent_at - make_interval(secs => %s) "
            "where phone = %s",
            (seconds, phone),
        )


def test_a_wrong_code_and_an_expired_code_are_refused(target, anon, db):
    """A code lives 60 seconds, GoTrue's default for SMS codes (config.toml sets none)."""
    phone = new_phone()
    anon.auth.sign_in_with_otp({"phone": phone})
    code = sms_code(target, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    with pytest.raises(AuthApiError) as refused:
        anon.auth.verify_otp({"phone": phone, "token": wrong, "type": "sms"})
    assert (refused.value.status, refused.value.code) == (403, "otp_expired")
    assert refused.value.message == "Token has expired or is invalid"

    _age_last_code(target, phone, 61)
    with pytest.raises(AuthApiError) as expired:
        anon.auth.verify_otp({"phone": phone, "token": code, "type": "sms"})
    assert (expired.value.status, expired.value.code) == (403, "otp_expired")
    assert db.execute("select phone_confirmed_at from auth.users where phone = %s", (phone,)).fetchone() == (None,)

    anon.auth.sign_in_with_otp({"phone": phone})
    fresh = sms_code(target, phone)
    assert fresh != code or sms_count(target, phone) == 2
    _age_last_code(target, phone, 55)
    assert anon.auth.verify_otp({"phone": phone, "token": fresh, "type": "sms"}).session is not None


def test_an_unknown_phone_cannot_get_a_code_when_sign_up_is_not_wanted(anon, db):
    phone = new_phone()
    with pytest.raises(AuthApiError) as refused:
        anon.auth.sign_in_with_otp({"phone": phone, "options": {"should_create_user": False}})
    assert (refused.value.status, refused.value.code) == (422, "otp_disabled")
    assert db.execute("select count(*) from auth.users where phone = %s", (phone,)).fetchone() == (0,)


def test_a_malformed_phone_is_refused(anon):
    with pytest.raises(AuthApiError) as refused:
        anon.auth.sign_in_with_otp({"phone": "+255-abc"})
    assert (refused.value.status, refused.value.code) == (400, "validation_failed")
    assert refused.value.message == "Invalid phone number format (E.164 required)"


def test_phone_codes_cannot_be_verified_through_a_link(target):
    """GoTrue's GET /verify only knows e-mail link tokens: it redirects with the error."""
    with auth_http(target) as http:
        response = http.get("/verify", params={"type": "sms", "token": "123456"}, headers={"apikey": ""})
    assert response.status_code == 303
    site_url = target.settings.project.auth.site_url
    assert response.headers["location"] == (
        f"{site_url}#error=invalid_request&error_code=validation_failed"
        "&error_description=Invalid+email+verification+type&sb="
    )
