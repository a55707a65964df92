"""``POST /verify`` and ``GET /verify``: GoTrue's ``Verify`` for phone codes.

``POST {type: "sms" | "phone_change", phone, token}`` checks the hashed code (or the test
OTP of a test phone) and its lifetime, confirms the phone (or the phone change) and signs
the user in. ``GET /verify`` is GoTrue's e-mail link endpoint: it only knows token hashes
of e-mail links, so for phone types it redirects with ``validation_failed`` as GoTrue does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse

from supabase_standin.auth import store
from supabase_standin.auth.context import (
    Deps,
    client_of,
    db_errors,
    feature_unavailable,
    get_str,
    request_aud,
    validate_email,
)
from supabase_standin.auth.errors import AuthError, forbidden, unprocessable, validation
from supabase_standin.auth.models import User
from supabase_standin.auth.params import Field, decode
from supabase_standin.auth.sms import otp_expired, token_hash, validate_phone

VERIFY_FIELDS = [
    Field("type", "string"),
    Field("token", "string"),
    Field("token_hash", "string"),
    Field("email", "string"),
    Field("phone", "string"),
    Field("redirect_to", "string"),
]
PHONE_TYPES = ("sms", "phone_change")
EMAIL_TOKEN_TYPES = {
    "email": ("confirmation_token", "recovery_token"),
    "signup": ("confirmation_token",),
    "invite": ("confirmation_token",),
    "recovery": ("recovery_token",),
    "magiclink": ("recovery_token",),
    "email_change": ("email_change_token_new", "email_change_token_current"),
}
OAUTH_ERRORS = {
    400: "invalid_request",
    401: "unauthorized_client",
    403: "access_denied",
    500: "server_error",
    503: "temporarily_unavailable",
}
#: GoTrue's default e-mail OTP lifetime (the Supabase CLI passes ``[auth.email] otp_expiry``).
MAILER_OTP_EXP = 86400


def _expired_or_invalid() -> AuthError:
    return forbidden("otp_expired", "Token has expired or is invalid")


async def verify_post(deps: Deps, request: Request, headers: dict[str, str]) -> dict[str, Any]:
    deps.limit(deps.limiters.verify, request)
    params = decode(await request.body(), "VerifyParams", VERIFY_FIELDS)
    kind, token = get_str(params, "type"), get_str(params, "token")
    hashed, email, phone = get_str(params, "token_hash"), get_str(params, "email"), get_str(params, "phone")
    if not kind:
        raise validation("Verify requires a verification type")
    if (not token and not hashed) or (token and hashed):
        raise validation("Verify requires either a token or a token hash")
    if token:
        if phone and not email:
            phone = validate_phone(phone)
            hashed = token_hash(phone, token)
        elif email and not phone:
            try:
                email = validate_email(email)
            except AuthError:
                raise unprocessable("validation_failed", "Invalid email format") from None
            hashed = token_hash(email, token)
        else:
            raise validation("Only an email address or phone number should be provided on verify")
    elif email or phone or get_str(params, "redirect_to"):
        raise validation("Only the token_hash and type should be provided")
    aud = request_aud(request, deps.config)
    client = client_of(request)
    async with deps.pool.connection() as conn, conn.transaction():
        now = datetime.now(UTC)
        if hashed and not token and not phone and not email:
            await _verify_token_hash(conn, kind, hashed, now)
            raise feature_unavailable("E-mail verification")
        user = await _verify_user_and_token(deps, conn, kind, token, hashed, phone, email, aud, now)
        if kind not in PHONE_TYPES:
            if kind in EMAIL_TOKEN_TYPES:
                raise feature_unavailable("E-mail verification")
            raise validation("Unsupported verification type")
        with db_errors("Error confirming user"):
            await sms_verify(conn, user, kind, phone, now)
        await store.update_app_metadata_providers(conn, user, now)
        await store.reload(conn, user)
        return await deps.tokens.issue_session(conn, user, "otp", client, now, headers)


async def _verify_token_hash(conn: store.Conn, kind: str, hashed: str, now: datetime) -> User:
    """``verifyTokenHash``: e-mail link tokens looked up in ``auth.one_time_tokens``."""
    token_types = EMAIL_TOKEN_TYPES.get(kind)
    if token_types is None:
        raise validation("Invalid email verification type")
    row = await store.fetch_one(
        conn,
        "select user_id from auth.one_time_tokens "
        "where token_hash = %s and token_type = any(%s::auth.one_time_token_type[])",
        (hashed, list(token_types)),
    )
    user = await store.user_by_id(conn, str(row["user_id"])) if row else None
    if user is None:
        raise forbidden("otp_expired", "Email link is invalid or has expired")
    if user.is_banned(now):
        raise forbidden("user_banned", "User is banned")
    return user


async def _verify_user_and_token(
    deps: Deps,
    conn: store.Conn,
    kind: str,
    token: str,
    hashed: str,
    phone: str,
    email: str,
    aud: str,
    now: datetime,
) -> User:
    """``verifyUserAndToken``: find the user the code was sent to and check the code."""
    config = deps.config
    if kind == "phone_change":
        user = await store.user_by_phone_change(conn, phone, aud)
    elif kind == "sms":
        user = await store.user_by_phone(conn, phone, aud)
    elif kind == "email_change":
        user = None  # e-mail changes are never pending in the local stack
    else:
        user = await store.user_by_email(conn, email, aud) if email else None
    if user is None:
        raise _expired_or_invalid()
    if user.is_banned(now):
        raise forbidden("user_banned", "User is banned")
    row = user.row
    if kind in PHONE_TYPES:
        test_otp = config.test_otp(phone)
        if test_otp is not None and token == test_otp:
            return user
        if kind == "phone_change":
            sent_at, expected = row.get("phone_change_sent_at"), row.get("phone_change_token") or ""
        else:
            sent_at, expected = row.get("confirmation_sent_at"), row.get("confirmation_token") or ""
        valid = (
            bool(expected)
            and not otp_expired(sent_at, config.sms_otp_exp, now)
            and (hashed == expected or "pkce_" + hashed == expected)
        )
    else:
        candidates = [("confirmation_token", "confirmation_sent_at"), ("recovery_token", "recovery_sent_at")]
        valid = any(
            (row.get(col) or "") in (hashed, "pkce_" + hashed)
            and bool(row.get(col))
            and not otp_expired(row.get(sent), MAILER_OTP_EXP, now)
            for col, sent in candidates
        )
    if not valid:
        raise _expired_or_invalid()
    return user


async def sms_verify(conn: store.Conn, user: User, kind: str, phone: str, now: datetime) -> None:
    """``smsVerify``: confirm the phone, or apply the pending phone change."""
    if kind == "sms":
        await store.audit(conn, user.audit_actor(), "user_signedup", now, {"provider": "phone"})
        await store.confirm_phone(conn, user, now)
    else:
        await store.audit(conn, user.audit_actor(), "user_modified", now)
        identity = await store.identity_by_provider(conn, user.id, "phone")
        if identity is None:
            await store.insert_identity(
                conn, user, "phone", store.provider_claims(user.id, phone=phone, phone_verified=True), now
            )
        else:
            await store.update_identity_data(conn, identity, {"phone": phone, "phone_verified": True}, now)
        await store.confirm_phone_change(conn, user, now)
    if user.is_anonymous:
        await store.update_user(conn, user, now, is_anonymous=False)
    user.identities = await store.load_identities(conn, user.id)


# -- GET /verify ------------------------------------------------------------------------
async def verify_get(deps: Deps, request: Request) -> RedirectResponse:
    deps.limit(deps.limiters.verify, request)
    token = request.query_params.get("token", "")
    kind = request.query_params.get("type", "")
    redirect_to = referrer(request, deps)
    if not kind:
        raise validation("Verify requires a verification type")
    if not token:
        raise validation("Verify requires a token or a token hash")
    try:
        async with deps.pool.connection() as conn, conn.transaction():
            await _verify_token_hash(conn, kind, token, datetime.now(UTC))
            raise feature_unavailable("E-mail verification")
    except AuthError as err:
        return RedirectResponse(error_redirect_url(err, redirect_to), status_code=303)


def error_redirect_url(err: AuthError, url: str) -> str:
    """``prepErrorRedirectURL`` for the implicit flow: the error in the URL fragment."""
    fragment: dict[str, str] = {}
    if err.status in OAUTH_ERRORS:
        fragment["error"] = OAUTH_ERRORS[err.status]
    fragment["error_code"] = err.code
    fragment["error_description"] = err.message
    fragment["sb"] = ""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, urlencode(sorted(fragment.items()))))


def referrer(request: Request, deps: Deps) -> str:
    """``GetReferrer``: ``redirect_to`` or the Referer when allowed, else the site URL."""
    for candidate in (request.query_params.get("redirect_to", ""), request.headers.get("referer", "")):
        if candidate and redirect_allowed(candidate, deps.config.site_url, deps.config.uri_allow_list):
            return candidate
    return deps.config.site_url


def redirect_allowed(url: str, site_url: str, allow_list: tuple[str, ...]) -> bool:
    try:
        base, ref = urlsplit(site_url), urlsplit(url)
        ref_port, base_port = ref.port, base.port
    except ValueError:
        return False
    loopback = ref.hostname in ("localhost", "127.0.0.1", "::1")
    if ref.hostname == base.hostname and ref.scheme == base.scheme and (ref_port == base_port or loopback):
        return True
    without_fragment = url.split("#", 1)[0]
    return any(without_fragment == pattern or _glob(pattern, without_fragment) for pattern in allow_list)


def _glob(pattern: str, text: str) -> bool:
    import fnmatch

    return "*" in pattern and fnmatch.fnmatchcase(text, pattern)
