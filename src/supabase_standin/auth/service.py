"""The Auth API service the gateway mounts at ``/auth/v1``: GoTrue's route table (as
``internal/api/api.go`` declares it), dispatched to the handler modules, with GoTrue's
error bodies for every failure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from supabase_standin.auth import admin, otp, user, verify
from supabase_standin.auth.config import GOTRUE_VERSION, AuthConfig
from supabase_standin.auth.context import Deps, Limiters, client_of, feature_unavailable, get_str
from supabase_standin.auth.errors import AuthError, bad_request, database_error, error_response, json_response
from supabase_standin.auth.params import MAX_BODY, Field, decode, form_value, read_form
from supabase_standin.auth.sms import PhoneSender
from supabase_standin.auth.tokens import TokenService, validate_refresh_token_param
from supabase_standin.database import Pool
from supabase_standin.routing import ANY, Route, Router, route
from supabase_standin.stack import StackConfig

log = logging.getLogger(__name__)

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


@dataclass
class Call:
    """One Auth request as its handler sees it; ``headers`` are added to the answer."""

    request: Request
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call, dict[str, str]], Awaitable[Response]]


def _json(handler: Callable[[Call, dict[str, str]], Awaitable[Any]]) -> Handler:
    """A handler whose result is GoTrue's 200 JSON body (or a ready response)."""

    async def answer(call: Call, params: dict[str, str]) -> Response:
        result = await handler(call, params)
        return result if isinstance(result, Response) else json_response(200, result)

    return answer


def _unavailable(what: str) -> Handler:
    async def answer(_call: Call, _params: dict[str, str]) -> Response:
        raise feature_unavailable(what)

    return answer


class AuthService:
    """GoTrue-compatible phone-OTP Auth over the ``supabase_auth_admin`` pool."""

    def __init__(self, config: StackConfig, pool: Pool):
        auth = AuthConfig.for_stack(config)
        self.config = auth
        self.deps = deps = Deps(
            config=auth,
            pool=pool,
            tokens=TokenService(auth),
            sender=PhoneSender(auth),
            limiters=Limiters.from_config(auth),
        )
        routes: list[Route[Call]] = [
            route("GET", "health", _json(lambda c, p: self._health())),
            route("GET", "settings", _json(lambda c, p: self._settings())),
            route("POST", "otp", _json(lambda c, p: otp.otp(deps, c.request))),
            route("POST", "resend", _json(lambda c, p: otp.resend(deps, c.request))),
            route("GET", "verify", _json(lambda c, p: verify.verify_get(deps, c.request))),
            route("POST", "verify", _json(lambda c, p: verify.verify_post(deps, c.request, c.headers))),
            route("POST", "token", _json(lambda c, p: self._token(c.request, c.headers))),
            route("GET", "user", _json(lambda c, p: user.get_user(deps, c.request))),
            route("PUT", "user", _json(lambda c, p: user.update_user(deps, c.request))),
            route("POST", "logout", _json(lambda c, p: self._logout(c.request))),
            route("GET", "admin/users", _json(lambda c, p: admin.list_users(deps, c.request, c.headers))),
            route("POST", "admin/users", _json(lambda c, p: admin.create_user(deps, c.request))),
            route("GET", "admin/users/{user_id}", _json(lambda c, p: admin.get_user(deps, c.request, p["user_id"]))),
            route("PUT", "admin/users/{user_id}", _json(lambda c, p: admin.update_user(deps, c.request, p["user_id"]))),
            route(
                "DELETE",
                "admin/users/{user_id}",
                _json(lambda c, p: admin.delete_user(deps, c.request, p["user_id"])),
            ),
        ]
        for prefix, what in UNAVAILABLE.items():
            routes += [route(ANY, prefix, _unavailable(what)), route(ANY, prefix + "/{rest:path}", _unavailable(what))]
        self.router: Router[Call] = Router(
            routes, not_found=_not_found, method_not_allowed=_method_not_allowed, middleware=[self._errors]
        )

    async def handle(self, request: Request, path: str) -> Response:
        call = Call(request)
        method = request.method.upper()
        response = await self.router.dispatch(call, "GET" if method == "HEAD" else method, path.strip("/"))
        for name, value in call.headers.items():
            response.headers.setdefault(name, value)
        return response

    async def _errors(self, call: Call, call_next: Callable[[Call], Awaitable[Response]]) -> Response:
        """GoTrue's error bodies for every failure (``recoverer`` and ``handleError``)."""
        request = call.request
        try:
            return await call_next(call)
        except AuthError as err:
            return error_response(request, err)
        except psycopg.Error as exc:
            log.warning("auth database error on %s %s: %s", request.method, request.url.path, exc)
            return error_response(request, database_error("Database error", exc))
        except Exception:
            log.exception("auth request failed: %s %s", request.method, request.url.path)
            return error_response(request, AuthError(500, "unexpected_failure", UNEXPECTED))

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


async def _method_not_allowed(_call: Call, _params: dict[str, str]) -> Response:
    return Response(status_code=405)


async def _not_found(_call: Call, _params: dict[str, str]) -> Response:
    return PlainTextResponse("404 page not found\n", status_code=404)
