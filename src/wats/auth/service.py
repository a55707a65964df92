"""The Auth API service the gateway mounts at ``/auth/v1``: GoTrue's routes, dispatched to
the handler modules, with GoTrue's error bodies for every failure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from wats.auth import admin, otp, user, verify
from wats.auth.config import GOTRUE_VERSION, AuthConfig
from wats.auth.context import Deps, Limiters, client_of, feature_unavailable, get_str
from wats.auth.errors import AuthError, bad_request, database_error, error_response, json_response
from wats.auth.params import MAX_BODY, Field, decode, form_value, read_form
from wats.auth.sms import PhoneSender
from wats.auth.tokens import TokenService, validate_refresh_token_param
from wats.database import Pool
from wats.settings import Settings

log = logging.getLogger("wats.auth")

#: GoTrue routes the local stand-in does not provide; they answer ``404 feature_disabled``.
UNAVAILABLE = {
    "signup": "Sign-up with a password",
    "recover": "Password recovery",
    "magiclink": "Magic links",
    "reauthenticate": "Reauthentication",
    "invite": "Invitations",
    "authorize": "OAuth sign-in",
    "callback": "OAuth sign-in",
    "factors": "Multi-factor authentication",
    "sso": "Single sign-on",
    "passkeys": "Passkeys",
    "oauth": "The OAuth server",
    "user/identities": "Identity linking",
    "admin/audit": "The audit log API",
    "admin/generate_link": "Link generation",
    "admin/sso": "Single sign-on",
    "admin/oauth": "The OAuth server",
    "admin/custom-providers": "Custom OAuth providers",
    ".well-known/jwks.json": "Asymmetric signing keys",
    ".well-known/openid-configuration": "OpenID Connect discovery",
}
UNEXPECTED = "Unexpected failure, please check server logs for more information"
Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


class AuthService:
    """GoTrue-compatible phone-OTP Auth over the ``supabase_auth_admin`` pool."""

    def __init__(self, settings: Settings, pool: Pool):
        config = AuthConfig.from_settings(settings)
        self.config = config
        self.deps = Deps(
            config=config,
            pool=pool,
            tokens=TokenService(config),
            sender=PhoneSender(config),
            limiters=Limiters.from_config(config),
        )

    async def handle(self, request: Request, path: str) -> Response:
        headers: dict[str, str] = {}
        try:
            response = await self._route(request, path.strip("/"), headers)
        except AuthError as err:
            response = error_response(request, err)
        except psycopg.Error as exc:
            log.warning("auth database error on %s %s: %s", request.method, path, exc)
            response = error_response(request, database_error("Database error", exc))
        except Exception:
            log.exception("auth request failed: %s %s", request.method, path)
            response = error_response(
                request,
                AuthError(500, "unexpected_failure", UNEXPECTED),
            )
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    async def _route(self, request: Request, path: str, headers: dict[str, str]) -> Response:
        method = request.method.upper()
        deps = self.deps
        if method == "HEAD":
            method = "GET"
        routes: dict[tuple[str, str], Callable[[], Awaitable[Any]]] = {
            ("GET", "health"): self._health,
            ("GET", "settings"): self._settings,
            ("POST", "otp"): lambda: otp.otp(deps, request),
            ("POST", "resend"): lambda: otp.resend(deps, request),
            ("POST", "verify"): lambda: verify.verify_post(deps, request, headers),
            ("POST", "token"): lambda: self._token(request, headers),
            ("GET", "user"): lambda: user.get_user(deps, request),
            ("PUT", "user"): lambda: user.update_user(deps, request),
            ("POST", "logout"): lambda: self._logout(request),
            ("GET", "admin/users"): lambda: admin.list_users(deps, request, headers),
            ("POST", "admin/users"): lambda: admin.create_user(deps, request),
        }
        if (method, path) == ("GET", "verify"):
            return await verify.verify_get(deps, request)
        handler = routes.get((method, path))
        if handler is not None:
            result = await handler()
            return result if isinstance(result, Response) else json_response(200, result)
        segments = path.split("/")
        if len(segments) == 3 and segments[:2] == ["admin", "users"] and segments[2]:
            user_id = segments[2]
            if method == "GET":
                return json_response(200, await admin.get_user(deps, request, user_id))
            if method == "PUT":
                return json_response(200, await admin.update_user(deps, request, user_id))
            if method == "DELETE":
                return json_response(200, await admin.delete_user(deps, request, user_id))
            return _method_not_allowed()
        if any(p == path for _, p in routes) or path == "verify":
            return _method_not_allowed()
        for prefix, what in UNAVAILABLE.items():
            if path == prefix or path.startswith(prefix + "/"):
                raise feature_unavailable(what)
        return PlainTextResponse("404 page not found\n", status_code=404)

    async def _health(self) -> dict[str, Any]:
        return {
            "version": GOTRUE_VERSION,
            "name": "GoTrue",
            "description": "GoTrue is a user registration and authentication API",
        }

    async def _settings(self) -> dict[str, Any]:
        config = self.config
        providers = [
            "apple",
            "azure",
            "bitbucket",
            "discord",
            "facebook",
            "snapchat",
            "figma",
            "fly",
            "github",
            "gitlab",
            "google",
            "keycloak",
            "kakao",
            "linkedin",
            "linkedin_oidc",
            "notion",
            "spotify",
            "slack",
            "slack_oidc",
            "workos",
            "twitch",
            "twitter",
        ]
        external: dict[str, bool] = {"anonymous_users": config.anonymous_enabled}
        external.update({name: False for name in providers})
        external["email"] = config.email_enabled
        external["phone"] = config.phone_enabled
        external["zoom"] = False
        return {
            "external": external,
            "disable_signup": config.disable_signup,
            "mailer_autoconfirm": config.mailer_autoconfirm,
            "phone_autoconfirm": config.sms_autoconfirm,
            "sms_provider": config.sms_provider,
            "saml_enabled": False,
            "saml_private_key_next_configured": False,
            "passkeys_enabled": False,
        }

    async def _token(self, request: Request, headers: dict[str, str]) -> Any:
        # GoTrue reads grant_type with Go's FormValue (form body, query, multipart body). A
        # form body is consumed by that read, so the grant's JSON parameters then parse from
        # nothing: 400 bad_json. Only JSON bodies carry the refresh token, on hosted too.
        body = await request.body()
        if len(body) > MAX_BODY:
            raise AuthError(413, "request_entity_too_large", f"Request body too large (max {MAX_BODY} bytes)")
        form = read_form(request.headers.get("content-type"), body)
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        grant_type = form_value("grant_type", form, query)
        if form is not None:
            body = b""
        if grant_type == "refresh_token":
            self.deps.limit(self.deps.limiters.token, request)
            params = decode(body, "RefreshTokenGrantParams", [Field("refresh_token", "string")])
            token = get_str(params, "refresh_token")
            validate_refresh_token_param(token)
            async with self.deps.pool.connection() as conn:
                return await self.deps.tokens.refresh(conn, token, client_of(request), headers)
        if grant_type == "password":
            self.deps.limit(self.deps.limiters.token, request)
            raise feature_unavailable("Password sign-in")
        if grant_type in ("id_token", "pkce", "web3"):
            self.deps.limit(self.deps.limiters.token, request)
            raise feature_unavailable(f"The {grant_type} grant")
        raise bad_request("invalid_credentials", "unsupported_grant_type")

    async def _logout(self, request: Request) -> Response:
        await user.logout(self.deps, request)
        return Response(status_code=204)


def _method_not_allowed() -> Response:
    return Response(status_code=405)
