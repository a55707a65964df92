"""``GET /user``, ``PUT /user`` and ``POST /logout`` for the signed-in user."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from supabase_standin.auth import store
from supabase_standin.auth.context import Deps, db_errors, feature_unavailable, get_str, request_aud, validate_email
from supabase_standin.auth.errors import forbidden, unprocessable, validation
from supabase_standin.auth.jwtauth import Caller, require_authentication
from supabase_standin.auth.models import User
from supabase_standin.auth.params import Field, decode
from supabase_standin.auth.sms import PHONE_CHANGE, validate_channel, validate_phone
from supabase_standin.auth.verify import sms_verify

USER_UPDATE_FIELDS = [
    Field("email", "string"),
    Field("password", "*string"),
    Field("current_password", "*string"),
    Field("nonce", "string"),
    Field("data", "map"),
    Field("app_metadata", "map"),
    Field("phone", "string"),
    Field("channel", "string"),
    Field("code_challenge", "string"),
    Field("code_challenge_method", "string"),
]


async def _authenticate(deps: Deps, conn: store.Conn, request: Request) -> Caller:
    return await require_authentication(conn, deps.config, request.headers.get("authorization"), datetime.now(UTC))


async def get_user(deps: Deps, request: Request) -> dict[str, Any]:
    async with deps.pool.connection() as conn:
        caller = await _authenticate(deps, conn, request)
    aud = request_aud(request, deps.config, caller)
    if not caller.audience or aud != caller.audience:
        raise validation("Token audience doesn't match request audience")
    assert caller.user is not None
    return caller.user.to_json()


async def update_user(deps: Deps, request: Request) -> dict[str, Any]:
    config = deps.config
    async with deps.pool.connection() as conn:
        caller = await _authenticate(deps, conn, request)
        deps.limit(deps.limiters.user, request)
        params = decode(await request.body(), "UserUpdateParams", USER_UPDATE_FIELDS)
        user = caller.user
        assert user is not None
        aud = request_aud(request, config, caller)
        email, phone = get_str(params, "email"), get_str(params, "phone")
        if email:
            email = validate_email(email)
        channel = ""
        if phone:
            phone = validate_phone(phone)
            channel = validate_channel(get_str(params, "channel"), config)
        if "password" in params:
            raise feature_unavailable("Password sign-in")
        if params.get("app_metadata") is not None and not (
            user.aud == config.jwt_aud and user.role == config.admin_group_name
        ):
            raise forbidden("not_admin", "Updating app_metadata requires admin privileges")
        if email and email != user.email:
            if await store.user_by_email(conn, email, aud) is not None:
                raise unprocessable("email_exists", "A user with this email address has already been registered")
            raise unprocessable("email_provider_disabled", "Email logins are disabled")
        if phone and phone != user.phone and await store.user_by_phone(conn, phone, aud) is not None:
            raise unprocessable("phone_exists", "A user with this phone number has already been registered")
        now = datetime.now(UTC)
        with db_errors("Error updating user"):
            await _apply_update(deps, conn, user, params, phone, channel, now)
        return user.to_json()


async def _apply_update(
    deps: Deps, conn: store.Conn, user: User, params: dict[str, Any], phone: str, channel: str, now: datetime
) -> None:
    config = deps.config
    async with conn.transaction():
        if params.get("data") is not None:
            await store.update_user_metadata(conn, user, params["data"], now)
        if params.get("app_metadata") is not None:
            await store.update_app_metadata(conn, user, params["app_metadata"], now)
        if phone and phone != user.phone:
            if config.sms_autoconfirm:
                await store.update_user(conn, user, now, phone_change=phone)
                await sms_verify(conn, user, PHONE_CHANGE, phone, now)
            else:
                await deps.sender.send(conn, user, phone, PHONE_CHANGE, channel, now)
        await store.audit(conn, user.audit_actor(), "user_modified", now)


async def logout(deps: Deps, request: Request) -> None:
    async with deps.pool.connection() as conn:
        caller = await _authenticate(deps, conn, request)
        scope = request.query_params.get("scope", "")
        if scope not in ("", "global", "local", "others"):
            raise validation(f"Unsupported logout scope {json.dumps(scope)}")
        user = caller.user
        assert user is not None
        now = datetime.now(UTC)
        async with conn.transaction():
            await store.audit(conn, user.audit_actor(), "logout", now)
            session = caller.session
            if session is not None and scope == "local":
                await store.logout_session(conn, str(session["id"]))
            elif session is not None and scope == "others":
                await store.logout_others(conn, str(session["id"]), user.id)
            else:
                await store.logout_user(conn, user.id)
