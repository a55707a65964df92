"""Reads and writes of the ``auth`` tables, statement by statement as GoTrue's models do
them (``models.User``, ``Identity``, ``Session``, ``RefreshToken``, ``AMRClaim``,
``OneTimeToken``, ``AuditLogEntry``). Every function takes the connection of the caller's
transaction."""

from __future__ import annotations

import json
import secrets
import uuid
from base64 import b32encode
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Json

from supabase_standin.auth.models import NIL_INSTANCE, Identity, User

Conn = AsyncConnection[Any]

#: ``models.ActionLogTypeMap``: the log type of each audit action.
AUDIT_LOG_TYPES = {
    "login": "account",
    "logout": "account",
    "user_signedup": "team",
    "user_deleted": "team",
    "token_revoked": "token",
    "token_refreshed": "token",
    "user_modified": "user",
    "user_recovery_requested": "user",
    "user_confirmation_requested": "user",
    "user_repeated_signup": "user",
}


async def fetch_one(conn: Conn, sql: str, params: Any = None) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def fetch_all(conn: Conn, sql: str, params: Any = None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


def new_id() -> str:
    return str(uuid.uuid4())


def secure_alphanumeric(length: int) -> str:
    """``crypto.SecureAlphanumeric``: lower-case base32 (``a-z2-7``) of random bytes."""
    length = max(length, 8)
    raw = secrets.token_bytes((length * 5 + 7) // 8)
    return b32encode(raw).decode().rstrip("=").lower()[:length]


# -- users ------------------------------------------------------------------------------
async def _user(conn: Conn, where: str, params: tuple[Any, ...], *, identities: bool = True) -> User | None:
    row = await fetch_one(
        conn, f"select * from auth.users where instance_id = %s and {where} limit 1", (NIL_INSTANCE, *params)
    )
    if row is None:
        return None
    user = User(row)
    if identities:
        user.identities = await load_identities(conn, user.id)
    return user


async def user_by_id(conn: Conn, user_id: str, *, identities: bool = True) -> User | None:
    return await _user(conn, "id = %s", (user_id,), identities=identities)


async def user_by_phone(conn: Conn, phone: str, aud: str) -> User | None:
    return await _user(conn, "phone = %s and aud = %s and is_sso_user = false", (phone, aud))


async def user_by_phone_change(conn: Conn, phone: str, aud: str) -> User | None:
    return await _user(conn, "phone_change = %s and aud = %s and is_sso_user = false", (phone, aud))


async def user_by_email(conn: Conn, email: str, aud: str) -> User | None:
    return await _user(conn, "lower(email) = %s and aud = %s and is_sso_user = false", (email.lower(), aud))


async def reload(conn: Conn, user: User) -> User:
    """Re-read the row (generated columns, triggers), keeping the loaded identities."""
    row = await fetch_one(conn, "select * from auth.users where id = %s", (user.id,))
    if row is not None:
        user.row = row
    return user


async def insert_user(
    conn: Conn,
    *,
    user_id: str,
    aud: str,
    phone: str,
    email: str,
    encrypted_password: str,
    user_metadata: dict[str, Any],
    app_metadata: dict[str, Any],
    now: datetime,
) -> None:
    """``tx.Create(user)``: every column of the model, empty tokens as empty strings."""
    await conn.execute(
        """
        insert into auth.users (
            instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, invited_at,
            confirmation_token, confirmation_sent_at, recovery_token, recovery_sent_at,
            email_change_token_new, email_change, email_change_sent_at, last_sign_in_at,
            raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
            phone, phone_confirmed_at, phone_change, phone_change_token, phone_change_sent_at,
            email_change_token_current, email_change_confirm_status, banned_until,
            reauthentication_token, reauthentication_sent_at, is_sso_user, deleted_at, is_anonymous
        ) values (
            %s, %s, %s, '', %s, %s, null, null, '', null, '', null, '', '', null, null,
            %s, %s, null, %s, %s, %s, null, '', '', null, '', 0, null, '', null, false, null, false
        )
        """,
        (
            NIL_INSTANCE,
            user_id,
            aud,
            email or None,
            encrypted_password,
            Json(app_metadata),
            Json(user_metadata),
            now,
            now,
            phone or None,
        ),
    )


async def update_user(conn: Conn, user: User, now: datetime, **columns: Any) -> None:
    """``tx.UpdateOnly(user, …)``: the named columns and ``updated_at``."""
    columns["updated_at"] = now
    names = list(columns)
    values = [Json(v) if isinstance(v, dict) else v for v in columns.values()]
    assignments = ", ".join(f"{name} = %s" for name in names)
    await conn.execute(f"update auth.users set {assignments} where id = %s", (*values, user.id))
    user.row.update(columns)


def merge_metadata(current: dict[str, Any] | None, updates: dict[str, Any]) -> dict[str, Any]:
    """``UpdateUserMetaData`` / ``UpdateAppMetaData``: set keys, delete keys set to null."""
    merged = dict(current or {})
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


async def update_user_metadata(conn: Conn, user: User, updates: dict[str, Any], now: datetime) -> None:
    await update_user(conn, user, now, raw_user_meta_data=merge_metadata(user.row.get("raw_user_meta_data"), updates))


async def update_app_metadata(conn: Conn, user: User, updates: dict[str, Any], now: datetime) -> None:
    await update_user(conn, user, now, raw_app_meta_data=merge_metadata(user.row.get("raw_app_meta_data"), updates))


async def update_app_metadata_providers(conn: Conn, user: User, now: datetime) -> None:
    """``UpdateAppMetaDataProviders``: ``providers`` from the identities, oldest first."""
    rows = await fetch_all(
        conn, "select provider from auth.identities where user_id = %s order by created_at asc", (user.id,)
    )
    providers: list[str] = []
    for row in rows:
        if row["provider"] not in providers:
            providers.append(row["provider"])
    payload: dict[str, Any] = {"providers": providers}
    if providers:
        payload["provider"] = providers[0]
    await update_app_metadata(conn, user, payload, now)


async def confirm_phone(conn: Conn, user: User, now: datetime) -> None:
    """``ConfirmPhone``: clear the confirmation token, stamp ``phone_confirmed_at``."""
    await update_user(conn, user, now, confirmation_token="", phone_confirmed_at=now)
    await clear_one_time_tokens(conn, user.id)


async def confirm_phone_change(conn: Conn, user: User, now: datetime) -> None:
    """``ConfirmPhoneChange``: the pending phone becomes the phone."""
    phone = user.row.get("phone_change") or ""
    await update_user(
        conn, user, now, phone=phone or None, phone_change="", phone_change_token="", phone_confirmed_at=now
    )
    await clear_one_time_tokens(conn, user.id)
    identity = await identity_by_provider(conn, user.id, "phone")
    if identity is not None:
        data = identity.data
        if "phone" in data:
            data["phone"] = phone
        await conn.execute(
            "update auth.identities set identity_data = %s, updated_at = %s where id = %s",
            (Json(data), now, identity.row["id"]),
        )


async def delete_user(conn: Conn, user_id: str) -> None:
    await conn.execute("delete from auth.users where id = %s", (user_id,))


# -- identities -------------------------------------------------------------------------
async def load_identities(conn: Conn, user_id: str) -> list[Identity]:
    rows = await fetch_all(
        conn, "select * from auth.identities where user_id = %s order by created_at asc, id asc", (user_id,)
    )
    return [Identity(r) for r in rows]


async def identity_by_provider(conn: Conn, user_id: str, provider: str) -> Identity | None:
    """``FindIdentityByIdAndProvider``: GoTrue keys email and phone identities by the user id."""
    row = await fetch_one(
        conn, "select * from auth.identities where provider_id = %s and provider = %s", (user_id, provider)
    )
    return Identity(row) if row else None


def provider_claims(
    sub: str, *, email: str = "", phone: str = "", email_verified: bool = False, phone_verified: bool = False
) -> dict[str, Any]:
    """``structs.Map(provider.Claims{…})``: empty strings dropped, the two flags always kept."""
    data: dict[str, Any] = {"sub": sub}
    if email:
        data["email"] = email
    data["email_verified"] = email_verified
    if phone:
        data["phone"] = phone
    data["phone_verified"] = phone_verified
    return data


async def insert_identity(
    conn: Conn, user: User, provider: str, identity_data: dict[str, Any], now: datetime
) -> Identity:
    """``NewIdentity`` + ``tx.Create``: ``provider_id`` is the ``sub`` of the identity data."""
    if isinstance(identity_data.get("email"), str):
        identity_data["email"] = identity_data["email"].lower()
    row = await fetch_one(
        conn,
        """
        insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at,
                                     created_at, updated_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        returning *
        """,
        (new_id(), str(identity_data["sub"]), user.id, Json(identity_data), provider, now, now, now),
    )
    assert row is not None
    return Identity(row)


async def update_identity_data(conn: Conn, identity: Identity, updates: dict[str, Any], now: datetime) -> None:
    data = merge_metadata(identity.data, updates)
    await conn.execute(
        "update auth.identities set identity_data = %s, updated_at = %s where id = %s",
        (Json(data), now, identity.row["id"]),
    )
    identity.row["identity_data"] = data


async def delete_other_identities(conn: Conn, user: User, keep: Identity) -> None:
    await conn.execute("delete from auth.identities where user_id = %s and id <> %s", (user.id, keep.row["id"]))


# -- one-time tokens --------------------------------------------------------------------
async def clear_one_time_tokens(conn: Conn, user_id: str, token_type: str | None = None) -> None:
    if token_type is None:
        await conn.execute("delete from auth.one_time_tokens where user_id = %s", (user_id,))
    else:
        await conn.execute(
            "delete from auth.one_time_tokens where user_id = %s and token_type = %s", (user_id, token_type)
        )


async def create_one_time_token(conn: Conn, user_id: str, relates_to: str, token_hash: str, token_type: str) -> None:
    await clear_one_time_tokens(conn, user_id, token_type)
    await conn.execute(
        """
        insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to)
        values (%s, %s, %s, %s, %s)
        """,
        (new_id(), user_id, token_type, token_hash, relates_to.lower()),
    )


# -- audit log --------------------------------------------------------------------------
async def audit(
    conn: Conn, actor: dict[str, Any], action: str, now: datetime, traits: dict[str, Any] | None = None
) -> None:
    """``NewAuditLogEntry``: the payload GoTrue writes (its map keys sorted, as Go marshals them)."""
    payload = {**actor, "action": action, "log_type": AUDIT_LOG_TYPES.get(action, "")}
    if traits is not None:
        payload["traits"] = traits
    await conn.execute(
        "insert into auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) "
        "values (%s, %s, %s::json, %s, '')",
        (NIL_INSTANCE, new_id(), json.dumps(payload, sort_keys=True, separators=(",", ":")), now),
    )


# -- sessions and refresh tokens --------------------------------------------------------
async def insert_session(conn: Conn, user_id: str, now: datetime, user_agent: str, ip: str) -> str:
    session_id = new_id()
    await conn.execute(
        """
        insert into auth.sessions (id, user_id, created_at, updated_at, factor_id, aal, not_after,
                                   refreshed_at, user_agent, ip, tag)
        values (%s, %s, %s, %s, null, 'aal1', null, null, %s, %s, null)
        """,
        (session_id, user_id, now, now, user_agent or None, ip or None),
    )
    return session_id


async def session_by_id(conn: Conn, session_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    lock = " for update" if for_update else ""
    return await fetch_one(conn, f"select * from auth.sessions where id = %s{lock}", (session_id,))


async def insert_refresh_token(
    conn: Conn, user_id: str, session_id: str, parent: str | None, now: datetime
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        """
        insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent,
                                         session_id)
        values (%s, %s, %s, false, %s, %s, %s, %s)
        returning *
        """,
        (NIL_INSTANCE, secure_alphanumeric(12), user_id, now, now, parent, session_id),
    )
    assert row is not None
    return row


async def add_amr_claim(conn: Conn, session_id: str, method: str, now: datetime) -> None:
    """``AddClaimToSession``: one row per session and method, refreshed on reuse."""
    await conn.execute(
        """
        insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
        values (%s, %s, %s, %s, %s)
        on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey
        do update set updated_at = excluded.updated_at
        """,
        (new_id(), session_id, now, now, method),
    )


async def amr_claims(conn: Conn, session_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        conn, "select authentication_method, updated_at from auth.mfa_amr_claims where session_id = %s", (session_id,)
    )


async def logout_user(conn: Conn, user_id: str) -> None:
    await conn.execute("delete from auth.sessions where user_id = %s", (user_id,))


async def logout_session(conn: Conn, session_id: str) -> None:
    await conn.execute("delete from auth.sessions where id = %s", (session_id,))


async def logout_others(conn: Conn, session_id: str, user_id: str) -> None:
    await conn.execute("delete from auth.sessions where id <> %s and user_id = %s", (session_id, user_id))
