"""The Auth service's configuration: the ``[auth]`` section of supabase/config.toml (typed
once by :mod:`supabase_standin.config`, with GoTrue's defaults) plus what the stack
decides — the JWT secret, the issuer URL, where SMS go, the rate-limit header."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from supabase_standin.config import AuthSection

if TYPE_CHECKING:
    from supabase_standin.stack import StackConfig

#: The version string /health reports: the GoTrue release whose contract this follows.
GOTRUE_VERSION = "v2.196.0"


@dataclass(frozen=True)
class AuthConfig(AuthSection):
    jwt_secret: str = ""
    jwt_issuer: str = ""
    #: The local SMS provider's file (one JSON line per message).
    sms_log: str = ""
    #: Header GoTrue keys per-client rate limits on ("" disables them).
    rate_limit_header: str = "X-Forwarded-For"

    @classmethod
    def for_stack(cls, config: StackConfig) -> AuthConfig:
        section = config.project.auth
        values = {f.name: getattr(section, f.name) for f in fields(section)}
        if config.sms_otp_exp is not None:
            values["sms_otp_exp"] = config.sms_otp_exp
        if config.sms_test_otp:
            values["sms_test_otp"] = {**section.sms_test_otp, **config.sms_test_otp}
        return cls(
            **values,
            jwt_secret=config.jwt_secret,
            jwt_issuer=f"{config.api_url}/auth/v1",
            sms_log=str(config.log_dir / "sms.log"),
            rate_limit_header=config.rate_limit_header,
        )
