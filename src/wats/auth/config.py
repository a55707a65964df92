"""The Auth service's configuration, read from ``supabase/config.toml`` the way the Supabase
CLI turns its ``[auth]`` table into GoTrue's environment (``GOTRUE_*`` variables), with
GoTrue's own defaults where the file says nothing."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from wats.settings import Settings

#: GoTrue's default SMS OTP lifetime (``GOTRUE_SMS_OTP_EXP`` unset), in seconds.
DEFAULT_SMS_OTP_EXP = 60
#: GoTrue's default SMS resend interval (``GOTRUE_SMS_MAX_FREQUENCY`` unset), in seconds.
DEFAULT_SMS_MAX_FREQUENCY = 60.0
#: The version string /health reports: the GoTrue release whose contract this follows.
GOTRUE_VERSION = "v2.196.0"

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, default: float) -> float:
    """A Go ``time.Duration`` string (``"5s"``, ``"1m30s"``) or a number of seconds → seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text[1:] if text[:1] in ("+", "-") else text
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f"invalid duration {value!r}")
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match:
            raise ValueError(f"invalid duration {value!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * total


@dataclass(frozen=True)
class RateLimits:
    """``[auth.rate_limit]``: GoTrue's GOTRUE_RATE_LIMIT_* values."""

    sms_sent: float = 30  # per hour, all SMS the server sends (GOTRUE_RATE_LIMIT_SMS_SENT)
    token_refresh: float = 150  # per 5 minutes and client (GOTRUE_RATE_LIMIT_TOKEN_REFRESH)
    verify: float = 30  # per 5 minutes and client (GOTRUE_RATE_LIMIT_VERIFY)
    otp: float = 30  # per 5 minutes and client (GOTRUE_RATE_LIMIT_OTP)


@dataclass(frozen=True)
class HookConfig:
    """One ``[auth.hook.<name>]`` extensibility point."""

    enabled: bool
    uri: str

    @property
    def pg_function(self) -> str | None:
        """``pg-functions://postgres/<schema>/<fn>`` → ``"<schema>"."<fn>"`` as GoTrue quotes it."""
        parsed = urlparse(self.uri)
        if parsed.scheme != "pg-functions":
            return None
        parts = parsed.path.split("/")
        if len(parts) < 3 or not parts[1] or not parts[2]:
            return None
        return f'"{_go_quote(parts[1])}"."{_go_quote(parts[2])}"'


def _go_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class AuthConfig:
    jwt_secret: str
    jwt_exp: int
    jwt_aud: str
    jwt_issuer: str
    jwt_default_group: str
    jwt_admin_roles: tuple[str, ...]
    admin_group_name: str
    site_url: str
    uri_allow_list: tuple[str, ...]
    disable_signup: bool
    phone_enabled: bool
    email_enabled: bool
    anonymous_enabled: bool
    mailer_autoconfirm: bool
    sms_autoconfirm: bool
    sms_max_frequency: float
    sms_otp_exp: int
    sms_otp_length: int
    sms_template: str
    sms_provider: str
    sms_test_otp: dict[str, str]
    refresh_token_rotation: bool
    refresh_token_reuse_interval: int
    rate_limits: RateLimits
    rate_limit_header: str
    custom_access_token: HookConfig
    sms_log: str
    hook_timeout_ms: int = 2000
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthConfig:
        auth = settings.auth_config
        sms = auth.get("sms", {}) or {}
        email = auth.get("email", {}) or {}
        rate = auth.get("rate_limit", {}) or {}
        hooks = auth.get("hook", {}) or {}
        token_hook = hooks.get("custom_access_token", {}) or {}
        otp_exp = os.environ.get("WATS_AUTH_SMS_OTP_EXP") or sms.get("otp_expiry") or DEFAULT_SMS_OTP_EXP
        otp_length = int(sms.get("otp_length") or 6)
        if otp_length < 6 or otp_length > 10:
            otp_length = 6
        return cls(
            jwt_secret=settings.jwt_secret,
            jwt_exp=int(auth.get("jwt_expiry") or 3600),
            jwt_aud="authenticated",
            jwt_issuer=f"{settings.api_url}/auth/v1",
            jwt_default_group="authenticated",
            jwt_admin_roles=("service_role",),
            admin_group_name="admin",
            site_url=str(auth.get("site_url") or "http://127.0.0.1:3000"),
            uri_allow_list=tuple(str(u) for u in auth.get("additional_redirect_urls", []) or []),
            disable_signup=not auth.get("enable_signup", True),
            phone_enabled=bool(sms.get("enable_signup", False)),
            email_enabled=bool(email.get("enable_signup", True)),
            anonymous_enabled=bool(auth.get("enable_anonymous_sign_ins", False)),
            mailer_autoconfirm=not email.get("enable_confirmations", False),
            sms_autoconfirm=not sms.get("enable_confirmations", False),
            sms_max_frequency=parse_duration(sms.get("max_frequency"), DEFAULT_SMS_MAX_FREQUENCY),
            sms_otp_exp=int(otp_exp),
            sms_otp_length=otp_length,
            sms_template=str(sms.get("template") or "Your code is {{ .Code }}"),
            sms_provider=_sms_provider(sms),
            sms_test_otp={str(k): str(v) for k, v in (sms.get("test_otp", {}) or {}).items()},
            refresh_token_rotation=bool(auth.get("enable_refresh_token_rotation", True)),
            refresh_token_reuse_interval=int(auth.get("refresh_token_reuse_interval") or 0),
            rate_limits=RateLimits(
                sms_sent=float(rate.get("sms_sent", 30)),
                token_refresh=float(rate.get("token_refresh", 150)),
                verify=float(rate.get("token_verifications", 30)),
                otp=float(rate.get("sign_in_sign_ups", 30)),
            ),
            rate_limit_header=os.environ.get("WATS_AUTH_RATE_LIMIT_HEADER", "X-Forwarded-For"),
            custom_access_token=HookConfig(
                enabled=bool(token_hook.get("enabled", False)), uri=str(token_hook.get("uri") or "")
            ),
            sms_log=str(settings.log_dir / "sms.log"),
        )

    def test_otp(self, phone: str) -> str | None:
        return self.sms_test_otp.get(phone)


def _sms_provider(sms: dict[str, Any]) -> str:
    for name in ("twilio", "twilio_verify", "messagebird", "textlocal", "vonage"):
        if (sms.get(name) or {}).get("enabled"):
            return name
    return ""
