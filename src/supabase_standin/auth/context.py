"""What every Auth handler needs: the configuration, the database pool, the token service,
the SMS sender and the rate limiters, plus small request helpers GoTrue shares between
its handlers."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from starlette.requests import Request

from supabase_standin.auth.config import AuthConfig
from supabase_standin.auth.errors import AuthError, database_error, too_many, validation
from supabase_standin.auth.jwtauth import Caller
from supabase_standin.auth.ratelimit import TokenBucket, client_key, per_five_minutes
from supabase_standin.auth.sms import PhoneSender
from supabase_standin.auth.tokens import Client, TokenService
from supabase_standin.database import Pool

AUD_HEADER = "x-jwt-aud"
_EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
_CODE_CHALLENGE = re.compile(r"^[a-zA-Z._~0-9-]+$")


@dataclass
class Limiters:
    otp: TokenBucket
    verify: TokenBucket
    token: TokenBucket
    user: TokenBucket

    @classmethod
    def from_config(cls, config: AuthConfig) -> Limiters:
        rates = config.rate_limits
        return cls(
            otp=per_five_minutes(rates.otp),
            verify=per_five_minutes(rates.verify),
            token=per_five_minutes(rates.token_refresh),
            user=per_five_minutes(rates.otp),
        )


@dataclass
class Deps:
    config: AuthConfig
    pool: Pool
    tokens: TokenService
    sender: PhoneSender
    limiters: Limiters

    def limit(self, limiter: TokenBucket, request: Request) -> None:
        """GoTrue's per-client limit, keyed by the rate-limit header (no header: no limit)."""
        header = self.config.rate_limit_header
        key = client_key(request.headers.get(header)) if header else None
        if key is not None and not limiter.allow(key):
            raise too_many("over_request_rate_limit", "Request rate limit reached")


def client_of(request: Request) -> Client:
    """``GrantParams.FillGrantParams``: the user agent and the first valid X-Forwarded-For IP."""
    ip = ""
    for part in (request.headers.get("x-forwarded-for") or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ip = str(ipaddress.ip_address(part))
            break
        except ValueError:
            continue
    if not ip and request.client is not None:
        ip = request.client.host
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        ip = ""
    return Client(user_agent=request.headers.get("user-agent", ""), ip=ip)


def request_aud(request: Request, config: AuthConfig, caller: Caller | None = None) -> str:
    """``requestAud``: the X-JWT-AUD header, else a non-admin token's audience, else the default."""
    header = request.headers.get(AUD_HEADER)
    if header:
        return header
    if caller is not None and caller.role not in config.jwt_admin_roles and caller.audience:
        return caller.audience
    return config.jwt_aud


def validate_email(email: str) -> str:
    if not email:
        raise validation("An email address is required")
    if len(email) > 255:
        raise validation("An email address is too long")
    if not _EMAIL.match(email):
        raise validation("Unable to validate email address: invalid format")
    return email.lower()


def validate_pkce(method: str, challenge: str) -> None:
    if (challenge == "") != (method == ""):
        raise validation("PKCE flow requires code_challenge_method and code_challenge")
    if challenge:
        if not 43 <= len(challenge) <= 128:
            raise validation("code challenge has to be between 43 and 128 characters")
        if not _CODE_CHALLENGE.match(challenge):
            raise validation(
                "code challenge can only contain alphanumeric characters, hyphens, periods, underscores and tildes"
            )


@contextlib.contextmanager
def db_errors(message: str) -> Iterator[None]:
    """Turn a PostgreSQL failure into GoTrue's 500 with ``message`` (and the error itself,
    which legacy clients see when it was raised on purpose, e.g. by a trigger)."""
    try:
        yield
    except psycopg.Error as exc:
        raise database_error(message, exc) from None


def feature_unavailable(what: str) -> AuthError:
    """The answer for a GoTrue feature the local stand-in does not provide."""
    return AuthError(404, "feature_disabled", f"{what} is not available in the local stack")


def get_str(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    return value if isinstance(value, str) else ""
