"""The admin API (``/admin/users``): GoTrue's ``adminUsers``, ``adminUserCreate``,
``adminUserGet``, ``adminUserUpdate`` and ``adminUserDelete``, for tokens whose role is one
of the admin roles (``service_role``)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
from starlette.requests import Request

from supabase_standin.auth import store
from supabase_standin.auth.context import Deps, db_errors, feature_unavailable, get_str, request_aud, validate_email
from supabase_standin.auth.errors import AuthError, database_error, unprocessable, validation
from supabase_standin.auth.jwtauth import Caller, require_admin
from supabase_standin.auth.models import NIL_INSTANCE, User
from supabase_standin.auth.params import Field, decode, parse_uuid
from supabase_standin.auth.sms import validate_phone
from supabase_standin.config import parse_duration

ADMIN_USER_FIELDS = [
    Field("id", "string"),
    Field("aud", "string"),
    Field("role", "string"),
    Field("email", "string"),
    Field("phone", "string"),
    Field("password", "*string"),
    Field("password_hash", "string"),
    Field("email_confirm", "bool"),
    Field("phone_confirm", "bool"),
    Field("user_metadata", "map"),
    Field("app_metadata", "map"),
    Field("ban_duration", "string"),
]
DEFAULT_PER_PAGE = 50
#: A Go ``time.Duration`` holds at most 2^63 ns (about 292 years).
MAX_GO_DURATION = (2**63 - 1) / 1e9


def admin_actor(caller: Caller) -> dict[str, Any]:
    """GoTrue audits admin actions as ``User{Role: <role>, Email: <role>}`` (nil id)."""
    return {"actor_id": NIL_INSTANCE, "actor_via_sso": False, "actor_username": caller.role}


def _ban_duration(text: str) -> timedelta | None:
    if not text:
        return None
    if text == "none":
        return timedelta(0)
    try:
        seconds = parse_duration(text, 0.0)
        if abs(seconds) > MAX_GO_DURATION:
            raise ValueError(text)
        return timedelta(seconds=seconds)
    except (ValueError, OverflowError):
        raise validation(f'invalid format for ban duration: time: invalid duration "{text}"') from None


def _password_params(params: dict[str, Any]) -> None:
    if params.get("password") or params.get("password_hash"):
        raise feature_unavailable("Password sign-in")


async def _caller(deps: Deps, conn: store.Conn, request: Request) -> Caller:
    return await require_admin(conn, deps.config, request.headers.get("authorization"), datetime.now(UTC))


async def load_user(conn: store.Conn, user_id: str) -> User:
    parsed = parse_uuid(user_id)
    if parsed is None:
        raise AuthError(404, "validation_failed", "user_id must be an UUID")
    user = await store.user_by_id(conn, parsed)
    if user is None:
        raise AuthError(404, "user_not_found", "User not found")
    return user


# -- list -------------------------------------------------------------------------------
async def list_users(deps: Deps, request: Request, headers: dict[str, str]) -> dict[str, Any]:
    async with deps.pool.connection() as conn:
        caller = await _caller(deps, conn, request)
        aud = request_aud(request, deps.config, caller)
        direction = _sort_direction(request.query_params.getlist("sort"))
        page, per_page = _pagination(request)
        where = "instance_id = %s and aud = %s"
        args: list[Any] = [NIL_INSTANCE, aud]
        search = request.query_params.get("filter", "")
        if search:
            where += " and (email like %s or raw_user_meta_data->>'full_name' ilike %s)"
            args += [f"%{search}%", f"%{search}%"]
        total_row = await store.fetch_one(conn, f"select count(*) as n from auth.users where {where}", args)
        total = int(total_row["n"]) if total_row else 0
        offset = (page - 1) * per_page if page > 0 else 0
        rows = await store.fetch_all(
            conn,
            f"select * from auth.users where {where} order by created_at {direction} limit %s offset %s",
            [*args, per_page, offset],
        )
    headers["Link"] = _link_header(request, page, per_page, total)
    headers["X-Total-Count"] = str(total)
    # GoTrue lists users without loading their identities.
    return {"users": [User(row).to_json() for row in rows], "aud": aud}


def _sort_direction(values: list[str]) -> str:
    """GoTrue's ``sort``: only ``created_at``, ``asc`` or ``desc`` (default ``desc``)."""
    direction = "desc"
    for value in values:
        field, _, rest = value.partition(" ")
        if field != "created_at":
            raise validation(f"Bad Sort Parameters: bad field for sort '{field}'")
        direction = "desc"
        if rest:
            if rest.upper() not in ("ASC", "DESC"):
                raise validation(f"Bad Sort Parameters: bad direction for sort '{rest}', only 'asc' and 'desc' allowed")
            direction = rest.lower()
    return direction


def _pagination(request: Request) -> tuple[int, int]:
    page, per_page = 1, DEFAULT_PER_PAGE
    for name in ("page", "per_page"):
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            continue
        if not raw.isdigit():
            raise validation(f'Bad Pagination Parameters: strconv.ParseUint: parsing "{raw}": invalid syntax')
        # Large enough for any real listing, small enough for PostgreSQL's bigint offset.
        value = min(int(raw), 1_000_000_000)
        if name == "page":
            page = value
        else:
            per_page = value
    if per_page == 0:
        raise validation("Bad Pagination Parameters: per_page must be greater than 0")
    return page, per_page


def _link_header(request: Request, page: int, per_page: int, total: int) -> str:
    pages = -(-total // per_page)
    query = dict(request.query_params)
    base = str(request.url.replace(query=""))
    parts = []
    if pages > page:
        parts.append(f'<{base}?{urlencode({**query, "page": page + 1})}>; rel="next"')
    parts.append(f'<{base}?{urlencode({**query, "page": pages})}>; rel="last"')
    return ", ".join(parts)


# -- create -----------------------------------------------------------------------------
async def create_user(deps: Deps, request: Request) -> dict[str, Any]:
    config = deps.config
    async with deps.pool.connection() as conn:
        caller = await _caller(deps, conn, request)
        params = decode(await request.body(), "AdminUserParams", ADMIN_USER_FIELDS)
        aud = get_str(params, "aud") or request_aud(request, config, caller)
        email, phone = get_str(params, "email"), get_str(params, "phone")
        if not email and not phone:
            raise validation("Cannot create a user without either an email or phone")
        providers: list[str] = []
        if email:
            email = validate_email(email)
            if await store.user_by_email(conn, email, aud) is not None or await _email_identity_taken(conn, email):
                raise unprocessable("email_exists", "A user with this email address has already been registered")
            providers.append("email")
        if phone:
            phone = validate_phone(phone)
            if await store.user_by_phone(conn, phone, aud) is not None:
                raise unprocessable("phone_exists", "Phone number already registered by another user")
            providers.append("phone")
        if params.get("password") is not None and params.get("password_hash"):
            raise validation("Only a password or a password hash should be provided")
        _password_params(params)
        user_id = store.new_id()
        if get_str(params, "id"):
            parsed = parse_uuid(params["id"])
            if parsed is None:
                raise validation("ID must conform to the uuid v4 format")
            if parsed == NIL_INSTANCE:
                raise validation("ID cannot be a nil uuid")
            user_id = parsed
        ban = _ban_duration(get_str(params, "ban_duration"))
        now = datetime.now(UTC)
        try:
            async with conn.transaction():
                await store.insert_user(
                    conn,
                    user_id=user_id,
                    aud=aud,
                    phone=phone,
                    email=email,
                    encrypted_password="",
                    user_metadata=params.get("user_metadata") or {},
                    app_metadata={"provider": providers[0], "providers": providers},
                    now=now,
                )
                user = await store.user_by_id(conn, user_id, identities=False)
                assert user is not None
                identities = []
                if email:
                    claims = store.provider_claims(user_id, email=email)
                    identities.append(await store.insert_identity(conn, user, "email", claims, now))
                if phone:
                    claims = store.provider_claims(user_id, phone=phone)
                    identities.append(await store.insert_identity(conn, user, "phone", claims, now))
                user.identities = identities
                await store.audit(
                    conn,
                    admin_actor(caller),
                    "user_signedup",
                    now,
                    {"provider": providers[0], "user_email": email, "user_id": user_id, "user_phone": phone},
                )
                await store.update_user(conn, user, now, role=get_str(params, "role") or config.jwt_default_group)
                if params.get("app_metadata") is not None:
                    await store.update_app_metadata(conn, user, params["app_metadata"], now)
                if params.get("email_confirm"):
                    await store.update_user(conn, user, now, confirmation_token="", email_confirmed_at=now)
                    await store.update_user_metadata(conn, user, {"email_verified": True}, now)
                    await store.clear_one_time_tokens(conn, user_id)
                if params.get("phone_confirm"):
                    await store.confirm_phone(conn, user, now)
                if ban is not None:
                    await store.update_user(conn, user, now, banned_until=now + ban if ban else None)
                await store.reload(conn, user)
        except psycopg.Error as exc:
            raise database_error("Database error creating new user", exc) from None
        return user.to_json()


async def _email_identity_taken(conn: store.Conn, email: str) -> bool:
    row = await store.fetch_one(conn, "select 1 from auth.identities where email = %s limit 1", (email.lower(),))
    return row is not None


# -- get / update / delete ----------------------------------------------------------------
async def get_user(deps: Deps, request: Request, user_id: str) -> dict[str, Any]:
    async with deps.pool.connection() as conn:
        await _caller(deps, conn, request)
        return (await load_user(conn, user_id)).to_json()


async def update_user(deps: Deps, request: Request, user_id: str) -> dict[str, Any]:
    async with deps.pool.connection() as conn:
        caller = await _caller(deps, conn, request)
        user = await load_user(conn, user_id)
        params = decode(await request.body(), "AdminUserParams", ADMIN_USER_FIELDS)
        email, phone = get_str(params, "email"), get_str(params, "phone")
        if email:
            email = validate_email(email)
        if phone:
            phone = validate_phone(phone)
        ban = _ban_duration(get_str(params, "ban_duration"))
        _password_params(params)
        now = datetime.now(UTC)
        try:
            async with conn.transaction():
                await _apply_update(conn, user, params, email, phone, ban, now)
                await store.audit(
                    conn,
                    admin_actor(caller),
                    "user_modified",
                    now,
                    {"user_email": user.email, "user_id": user.id, "user_phone": user.phone},
                )
        except psycopg.Error as exc:
            raise database_error("Error updating user", exc) from None
        return user.to_json()


async def _apply_update(
    conn: store.Conn,
    user: User,
    params: dict[str, Any],
    email: str,
    phone: str,
    ban: timedelta | None,
    now: datetime,
) -> None:
    """``adminUserUpdate``'s transaction, step by step."""
    if get_str(params, "role"):
        await store.update_user(conn, user, now, role=params["role"].strip())
    if params.get("email_confirm"):
        await store.update_user(conn, user, now, confirmation_token="", email_confirmed_at=now)
        await store.update_user_metadata(conn, user, {"email_verified": True}, now)
        await store.clear_one_time_tokens(conn, user.id)
    if params.get("phone_confirm"):
        await store.confirm_phone(conn, user, now)
    if email:
        identity = await store.identity_by_provider(conn, user.id, "email")
        if identity is None:
            await store.insert_identity(
                conn,
                user,
                "email",
                store.provider_claims(user.id, email=email, email_verified=bool(params.get("email_confirm"))),
                now,
            )
        else:
            await store.update_identity_data(
                conn, identity, {"email": email, "email_verified": bool(params.get("email_confirm"))}, now
            )
        if user.is_anonymous and params.get("email_confirm"):
            await store.update_user(conn, user, now, is_anonymous=False)
        await store.update_user(conn, user, now, email=email)
    if phone:
        identity = await store.identity_by_provider(conn, user.id, "phone")
        if identity is None:
            await store.insert_identity(
                conn,
                user,
                "phone",
                store.provider_claims(user.id, phone=phone, phone_verified=bool(params.get("phone_confirm"))),
                now,
            )
        else:
            await store.update_identity_data(
                conn, identity, {"phone": phone, "phone_verified": bool(params.get("phone_confirm"))}, now
            )
        if user.is_anonymous and params.get("phone_confirm"):
            await store.update_user(conn, user, now, is_anonymous=False)
        await store.update_user(conn, user, now, phone=phone)
    if params.get("app_metadata") is not None:
        await store.update_app_metadata(conn, user, params["app_metadata"], now)
    if params.get("user_metadata") is not None:
        await store.update_user_metadata(conn, user, params["user_metadata"], now)
    if ban is not None:
        await store.update_user(conn, user, now, banned_until=now + ban if ban else None)
    await store.reload(conn, user)
    user.identities = await store.load_identities(conn, user.id)


async def delete_user(deps: Deps, request: Request, user_id: str) -> dict[str, Any]:
    async with deps.pool.connection() as conn:
        caller = await _caller(deps, conn, request)
        user = await load_user(conn, user_id)
        body = await request.body()
        # GoTrue only parses a non-empty body.
        params = decode(body, "adminUserDeleteParams", [Field("should_soft_delete", "bool")]) if body else {}
        soft = bool(params.get("should_soft_delete"))
        now = datetime.now(UTC)
        with db_errors("Database error deleting user"):
            await _delete(conn, caller, user, soft, now)
    return {}


async def _delete(conn: store.Conn, caller: Caller, user: User, soft: bool, now: datetime) -> None:
    async with conn.transaction():
        traits = {"user_email": user.email, "user_id": user.id, "user_phone": user.phone}
        await store.audit(conn, admin_actor(caller), "user_deleted", now, traits)
        if not soft:
            await store.delete_user(conn, user.id)
        elif user.row.get("deleted_at") is None:
            await _soft_delete(conn, user, now)


async def _soft_delete(conn: store.Conn, user: User, now: datetime) -> None:
    """``SoftDeleteUser`` + ``SoftDeleteUserIdentities``: obfuscate, clear, log out."""

    def obfuscate(value: str) -> str:
        return base64.urlsafe_b64encode(hashlib.sha256((user.id + value).encode()).digest()).decode().rstrip("=")

    await store.update_user(
        conn,
        user,
        now,
        email=obfuscate(user.email),
        phone=obfuscate(user.phone)[:15],
        encrypted_password=None,
        email_change=obfuscate(user.row.get("email_change") or ""),
        phone_change=obfuscate(user.row.get("phone_change") or "")[:15],
        confirmation_token="",
        recovery_token="",
        email_change_token_current="",
        email_change_token_new="",
        phone_change_token="",
        deleted_at=now,
        raw_user_meta_data={},
        raw_app_meta_data={},
    )
    await store.clear_one_time_tokens(conn, user.id)
    await store.logout_user(conn, user.id)
    for identity in await store.load_identities(conn, user.id):
        provider_id = obfuscate(f"{identity.provider}:{identity.row['provider_id']}")
        await conn.execute(
            "update auth.identities set identity_data = %s::jsonb, provider_id = %s, updated_at = %s where id = %s",
            (json.dumps({}), provider_id, now, identity.row["id"]),
        )
