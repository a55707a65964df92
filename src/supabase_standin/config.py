"""The project's ``supabase/config.toml``, read once into typed sections.

The Supabase CLI reads this file and hands each service its part (PostgREST, GoTrue,
Storage, the edge runtime); the stand-in does the same: :func:`load_project_config` is the
only reader of the file, and each service gets its own frozen section with the defaults
the real service would use where the file says nothing.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

# -- units ------------------------------------------------------------------------------

_SIZE_UNITS = {"kib": 1024, "kb": 1000, "mib": 1024**2, "mb": 1000**2, "gib": 1024**3, "gb": 1000**3, "b": 1}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_size(text: object, default: int) -> int:
    """A size as config.toml writes one (``"50MiB"``, ``"5MB"``, ``"500KB"``, a number of
    bytes) → bytes; ``default`` when absent."""
    if text is None:
        return default
    if isinstance(text, int):
        return text
    lowered = str(text).strip().lower()
    for unit, factor in _SIZE_UNITS.items():
        if lowered.endswith(unit):
            return int(float(lowered[: -len(unit)].strip()) * factor)
    return int(lowered)


def parse_duration(value: object, default: float) -> float:
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
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


# -- sections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiSection:
    """``[api]``: what PostgREST is configured with."""

    port: int = 54321
    schemas: tuple[str, ...] = ("public",)
    extra_search_path: tuple[str, ...] = ("public", "extensions")
    max_rows: int | None = None


@dataclass(frozen=True)
class DbSection:
    """``[db]``."""

    port: int = 54322


@dataclass(frozen=True)
class BucketSection:
    """One ``[storage.buckets.<name>]``."""

    public: bool = False
    file_size_limit: int | None = None
    allowed_mime_types: tuple[str, ...] | None = None


@dataclass(frozen=True)
class StorageSection:
    """``[storage]``: the global upload limit and the buckets ``supabase start`` creates."""

    file_size_limit: int = 50 * 1024**2
    buckets: Mapping[str, BucketSection] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionSection:
    """One ``[functions.<name>]``."""

    verify_jwt: bool = True


@dataclass(frozen=True)
class RateLimits:
    """``[auth.rate_limit]``: GoTrue's GOTRUE_RATE_LIMIT_* values."""

    sms_sent: float = 30  # per hour, all SMS the server sends (GOTRUE_RATE_LIMIT_SMS_SENT)
    token_refresh: float = 150  # per 5 minutes and client (GOTRUE_RATE_LIMIT_TOKEN_REFRESH)
    verify: float = 30  # per 5 minutes and client (GOTRUE_RATE_LIMIT_VERIFY)
    otp: float = 30  # per 5 minutes and client (GOTRUE_RATE_LIMIT_OTP)


def _go_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class HookConfig:
    """One ``[auth.hook.<name>]`` extensibility point."""

    enabled: bool = False
    uri: str = ""

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


#: GoTrue's default SMS OTP lifetime (``GOTRUE_SMS_OTP_EXP`` unset), in seconds.
DEFAULT_SMS_OTP_EXP = 60
#: GoTrue's default SMS resend interval (``GOTRUE_SMS_MAX_FREQUENCY`` unset), in seconds.
DEFAULT_SMS_MAX_FREQUENCY = 60.0


@dataclass(frozen=True)
class AuthSection:
    """``[auth]`` as the Supabase CLI turns it into GoTrue's ``GOTRUE_*`` environment, with
    GoTrue's own defaults where the file says nothing."""

    jwt_exp: int = 3600
    jwt_aud: str = "authenticated"
    jwt_default_group: str = "authenticated"
    jwt_admin_roles: tuple[str, ...] = ("service_role",)
    admin_group_name: str = "admin"
    site_url: str = "http://127.0.0.1:3000"
    uri_allow_list: tuple[str, ...] = ()
    disable_signup: bool = False
    phone_enabled: bool = False
    email_enabled: bool = True
    anonymous_enabled: bool = False
    mailer_autoconfirm: bool = True
    sms_autoconfirm: bool = True
    sms_max_frequency: float = DEFAULT_SMS_MAX_FREQUENCY
    sms_otp_exp: int = DEFAULT_SMS_OTP_EXP
    sms_otp_length: int = 6
    sms_template: str = "Your code is {{ .Code }}"
    sms_provider: str = ""
    sms_test_otp: Mapping[str, str] = field(default_factory=dict)
    refresh_token_rotation: bool = True
    refresh_token_reuse_interval: int = 0
    rate_limits: RateLimits = field(default_factory=RateLimits)
    custom_access_token: HookConfig = field(default_factory=HookConfig)
    hook_timeout_ms: int = 2000

    def test_otp(self, phone: str) -> str | None:
        return self.sms_test_otp.get(phone)


@dataclass(frozen=True)
class ProjectConfig:
    """The whole file: one typed section per service (``raw`` keeps the parsed TOML for
    tools that read a key no service needs)."""

    project_id: str = ""
    api: ApiSection = field(default_factory=ApiSection)
    db: DbSection = field(default_factory=DbSection)
    storage: StorageSection = field(default_factory=StorageSection)
    auth: AuthSection = field(default_factory=AuthSection)
    functions: Mapping[str, FunctionSection] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def function(self, name: str) -> FunctionSection:
        return self.functions.get(name) or FunctionSection()


# -- the loader ---------------------------------------------------------------------------


def load_project_config(project_dir: Path) -> ProjectConfig:
    """Read ``<project_dir>/supabase/config.toml``, the file the Supabase CLI reads."""
    with (project_dir / "supabase" / "config.toml").open("rb") as fh:
        return project_config(tomllib.load(fh))


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _strings(value: object, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return default


def project_config(data: Mapping[str, Any]) -> ProjectConfig:
    """Typed sections from a parsed config.toml."""
    api = _table(data, "api")
    max_rows = api.get("max_rows")
    storage = _table(data, "storage")
    functions = _table(data, "functions")
    return ProjectConfig(
        project_id=str(data.get("project_id") or ""),
        api=ApiSection(
            port=int(api.get("port", ApiSection.port)),
            schemas=_strings(api.get("schemas"), ApiSection.schemas),
            extra_search_path=_strings(api.get("extra_search_path"), ApiSection.extra_search_path),
            max_rows=int(max_rows) if max_rows is not None else None,
        ),
        db=DbSection(port=int(_table(data, "db").get("port", DbSection.port))),
        storage=StorageSection(
            file_size_limit=parse_size(storage.get("file_size_limit"), StorageSection.file_size_limit),
            buckets={str(name): _bucket(options) for name, options in _table(storage, "buckets").items()},
        ),
        auth=_auth(_table(data, "auth")),
        functions={
            str(name): FunctionSection(verify_jwt=bool(options.get("verify_jwt", True)))
            for name, options in functions.items()
            if isinstance(options, Mapping)
        },
        raw=data,
    )


def _bucket(options: object) -> BucketSection:
    table = options if isinstance(options, Mapping) else {}
    size = table.get("file_size_limit")
    mime_types = table.get("allowed_mime_types")
    return BucketSection(
        public=bool(table.get("public", False)),
        file_size_limit=parse_size(size, 0) if size not in (None, "", 0) else None,
        allowed_mime_types=tuple(str(m) for m in mime_types) if mime_types else None,
    )


def _sms_provider(sms: Mapping[str, Any]) -> str:
    for name in ("twilio", "twilio_verify", "messagebird", "textlocal", "vonage"):
        if _table(sms, name).get("enabled"):
            return name
    return ""


def _auth(auth: Mapping[str, Any]) -> AuthSection:
    sms = _table(auth, "sms")
    email = _table(auth, "email")
    rate = _table(auth, "rate_limit")
    token_hook = _table(_table(auth, "hook"), "custom_access_token")
    otp_length = int(sms.get("otp_length") or 6)
    if otp_length < 6 or otp_length > 10:
        otp_length = 6
    return AuthSection(
        jwt_exp=int(auth.get("jwt_expiry") or 3600),
        site_url=str(auth.get("site_url") or AuthSection.site_url),
        uri_allow_list=_strings(auth.get("additional_redirect_urls"), ()),
        disable_signup=not auth.get("enable_signup", True),
        phone_enabled=bool(sms.get("enable_signup", False)),
        email_enabled=bool(email.get("enable_signup", True)),
        anonymous_enabled=bool(auth.get("enable_anonymous_sign_ins", False)),
        mailer_autoconfirm=not email.get("enable_confirmations", False),
        sms_autoconfirm=not sms.get("enable_confirmations", False),
        sms_max_frequency=parse_duration(sms.get("max_frequency"), DEFAULT_SMS_MAX_FREQUENCY),
        sms_otp_exp=int(sms.get("otp_expiry") or DEFAULT_SMS_OTP_EXP),
        sms_otp_length=otp_length,
        sms_template=str(sms.get("template") or AuthSection.sms_template),
        sms_provider=_sms_provider(sms),
        sms_test_otp={str(k): str(v) for k, v in _table(sms, "test_otp").items()},
        refresh_token_rotation=bool(auth.get("enable_refresh_token_rotation", True)),
        refresh_token_reuse_interval=int(auth.get("refresh_token_reuse_interval") or 0),
        rate_limits=RateLimits(
            sms_sent=float(rate.get("sms_sent", 30)),
            token_refresh=float(rate.get("token_refresh", 150)),
            verify=float(rate.get("token_verifications", 30)),
            otp=float(rate.get("sign_in_sign_ups", 30)),
        ),
        custom_access_token=HookConfig(
            enabled=bool(token_hook.get("enabled", False)), uri=str(token_hook.get("uri") or "")
        ),
    )
