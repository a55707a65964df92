"""``POST /otp`` (and ``POST /resend`` for phone codes): GoTrue's ``Otp`` → ``SmsOtp`` →
``Signup`` path for phones. An unknown or unconfirmed phone is signed up (user, phone
identity, hashed confirmation code); a confirmed phone gets a new sign-in code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from supabase_standin.auth import store
from supabase_standin.auth.context import Deps, db_errors, get_str, request_aud, validate_email, validate_pkce
from supabase_standin.auth.errors import AuthError, bad_request, unprocessable, validation
from supabase_standin.auth.models import User
from supabase_standin.auth.params import Field, decode
from supabase_standin.auth.sms import CONFIRMATION, PHONE_CHANGE, validate_channel, validate_phone

OTP_FIELDS = [
    Field("email", "string"),
    Field("phone", "string"),
    Field("create_user", "bool"),
    Field("data", "map"),
    Field("channel", "string"),
    Field("code_challenge_method", "string"),
    Field("code_challenge", "string"),
]
RESEND_FIELDS = [
    Field("type", "string"),
    Field("email", "string"),
    Field("phone", "string"),
    Field("code_challenge", "string"),
    Field("code_challenge_method", "string"),
]


def _email_disabled() -> AuthError:
    # The local stack has no mailer; supabase/config.toml turns e-mail sign-in off.
    return unprocessable("email_provider_disabled", "Email logins are disabled")


async def otp(deps: Deps, request: Request) -> dict[str, Any]:
    deps.limit(deps.limiters.otp, request)
    params = decode(await request.body(), "OtpParams", OTP_FIELDS)
    email, phone, channel = get_str(params, "email"), get_str(params, "phone"), get_str(params, "channel")
    create_user = params.get("create_user", True)
    data: dict[str, Any] = params.get("data") or {}
    if email and phone:
        raise validation("Only an email address or phone number should be provided")
    if email and channel:
        raise validation("Channel should only be specified with Phone OTP")
    validate_pkce(get_str(params, "code_challenge_method"), get_str(params, "code_challenge"))
    aud = request_aud(request, deps.config)
    async with deps.pool.connection() as conn:
        if not create_user and not await _exists(conn, email, phone, aud):
            raise unprocessable("otp_disabled", "Signups not allowed for otp")
        if email:
            raise _email_disabled()
        if not phone:
            raise validation("One of email or phone must be set")
        return await sms_otp(deps, conn, phone, channel, data, aud)


async def _exists(conn: store.Conn, email: str, phone: str, aud: str) -> bool:
    """``shouldCreateUser`` with ``create_user: false``: an invalid address counts as unknown."""
    try:
        if email:
            return await store.user_by_email(conn, validate_email(email), aud) is not None
        if phone:
            return await store.user_by_phone(conn, validate_phone(phone), aud) is not None
    except AuthError:
        return False
    return True


async def sms_otp(
    deps: Deps, conn: store.Conn, phone: str, channel: str, data: dict[str, Any], aud: str
) -> dict[str, Any]:
    config = deps.config
    if not config.phone_enabled:
        raise bad_request("phone_provider_disabled", "Unsupported phone provider")
    phone = validate_phone(phone)
    channel = validate_channel(channel, config)
    now = datetime.now(UTC)
    async with conn.transaction():
        user = await store.user_by_phone(conn, phone, aud)
        if user is None or not user.phone_confirmed:
            user = await signup_phone(deps, conn, user, phone, channel, data, aud, now)
            if not config.sms_autoconfirm:
                return {}
        await store.audit(conn, user.audit_actor(), "user_recovery_requested", now, {"channel": channel})
        message_id = await deps.sender.send(conn, user, phone, CONFIRMATION, channel, now)
    return {"message_id": message_id} if message_id else {}


async def signup_phone(
    deps: Deps,
    conn: store.Conn,
    user: User | None,
    phone: str,
    channel: str,
    data: dict[str, Any],
    aud: str,
    now: datetime,
) -> User:
    """``Signup`` for a phone that is new or not yet confirmed."""
    config = deps.config
    if config.disable_signup:
        raise unprocessable("signup_disabled", "Signups not allowed for this instance")
    if user is None:
        with db_errors("Database error saving new user"):
            user = await _new_phone_user(conn, phone, data, aud, now, config.jwt_default_group)
    identity = await store.identity_by_provider(conn, user.id, "phone")
    if identity is None:
        identity_data = store.provider_claims(user.id)
        for key, value in data.items():
            identity_data.setdefault(key, value)
        identity = await store.insert_identity(conn, user, "phone", identity_data, now)
        # RemoveUnconfirmedIdentities: the unconfirmed user takes this identity's metadata.
        await store.update_user(conn, user, now, raw_user_meta_data=store.merge_metadata({}, identity.data))
        await store.delete_other_identities(conn, user, identity)
        await store.update_app_metadata_providers(conn, user, now)
    user.identities = await store.load_identities(conn, user.id)
    if config.sms_autoconfirm:
        await store.audit(conn, user.audit_actor(), "user_signedup", now, {"channel": channel, "provider": "phone"})
        await store.confirm_phone(conn, user, now)
        return user
    await store.audit(conn, user.audit_actor(), "user_confirmation_requested", now, {"provider": "phone"})
    await deps.sender.send(conn, user, phone, CONFIRMATION, channel, now)
    return user


async def _new_phone_user(
    conn: store.Conn, phone: str, data: dict[str, Any], aud: str, now: datetime, role: str
) -> User:
    """``signupNewUser``: insert the user, then set its role (two statements, as GoTrue)."""
    user_id = store.new_id()
    await store.insert_user(
        conn,
        user_id=user_id,
        aud=aud,
        phone=phone,
        email="",
        # GoTrue stores a bcrypt hash of a random password here; passwords are not part
        # of the local stand-in, so the user simply has none.
        encrypted_password="",
        user_metadata=data,
        app_metadata={"provider": "phone", "providers": ["phone"]},
        now=now,
    )
    user = await store.user_by_id(conn, user_id)
    assert user is not None
    await store.update_user(conn, user, now, role=role)
    return await store.reload(conn, user)


async def resend(deps: Deps, request: Request) -> dict[str, Any]:
    """``POST /resend`` for ``sms`` and ``phone_change`` codes."""
    deps.limit(deps.limiters.otp, request)
    params = decode(await request.body(), "ResendConfirmationParams", RESEND_FIELDS)
    kind, email, phone = get_str(params, "type"), get_str(params, "email"), get_str(params, "phone")
    config = deps.config
    if kind in ("signup", "email_change"):
        validate_pkce(get_str(params, "code_challenge_method"), get_str(params, "code_challenge"))
    elif kind not in ("sms", "phone_change"):
        raise validation("Missing one of these types: signup, email_change, sms, phone_change")
    if not email and kind == "signup":
        raise validation("Type provided requires an email address")
    if not phone and kind == "sms":
        raise validation("Type provided requires a phone number")
    if email and phone:
        raise validation("Only an email address or phone number should be provided.")
    if email:
        if not config.email_enabled:
            raise bad_request("email_provider_disabled", "Email logins are disabled")
        raise _email_disabled()
    if not phone:
        raise validation("Missing email address or phone number")
    if not config.phone_enabled:
        raise bad_request("phone_provider_disabled", "Phone logins are disabled")
    phone = validate_phone(phone)
    aud = request_aud(request, config)
    now = datetime.now(UTC)
    async with deps.pool.connection() as conn:
        user = await store.user_by_phone(conn, phone, aud)
        if user is None:
            return {}
        if kind == "sms" and user.phone_confirmed:
            return {}
        if kind == "phone_change" and not user.row.get("phone_change"):
            return {}
        async with conn.transaction():
            if kind == "sms":
                await store.audit(conn, user.audit_actor(), "user_recovery_requested", now)
                message_id = await deps.sender.send(conn, user, phone, CONFIRMATION, "sms", now)
            else:
                message_id = await deps.sender.send(conn, user, user.row["phone_change"], PHONE_CHANGE, "sms", now)
    return {"message_id": message_id} if message_id else {}
