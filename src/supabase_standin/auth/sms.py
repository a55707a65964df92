"""Phone OTPs: generation, hashing at rest, the resend interval, test OTPs and sending.

Sending: the local stack has no SMS provider, so :class:`SmsLog` stands in for one (Twilio,
MessageBird …): each message GoTrue would hand to the provider is appended as one JSON line
to ``<log_dir>/sms.log`` (``{"time", "phone", "channel", "type", "otp", "message",
"message_id"}``), where a developer or a test reads the code. Phones listed under
``[auth.sms.test_otp]`` in ``supabase/config.toml``, or in the caller's local-only list
(``StackConfig.sms_test_otp``), get their fixed code and no message, exactly as GoTrue
treats test OTPs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from supabase_standin.auth import store
from supabase_standin.auth.config import AuthConfig
from supabase_standin.auth.errors import AuthError, too_many, unprocessable, validation
from supabase_standin.auth.models import User
from supabase_standin.auth.ratelimit import IntervalLimiter

E164 = re.compile(r"^[1-9][0-9]{1,14}$")
INVALID_CHANNEL = (
    "Invalid channel, supported values are 'sms' or 'whatsapp'. 'whatsapp' is only supported if Twilio or "
    "Twilio Verify is used as the provider."
)
_CODE = re.compile(r"\{\{\s*\.Code\s*\}\}")

CONFIRMATION = "confirmation"
PHONE_CHANGE = "phone_change"


def validate_phone(phone: str) -> str:
    """``validatePhone``: drop a leading ``+`` and spaces, then require E.164 digits."""
    formatted = phone.removeprefix("+").replace(" ", "")
    if not E164.match(formatted):
        raise validation("Invalid phone number format (E.164 required)")
    return formatted


def validate_channel(channel: str, config: AuthConfig) -> str:
    channel = channel or "sms"
    if channel == "sms" or (channel == "whatsapp" and config.sms_provider in ("twilio", "twilio_verify")):
        return channel
    raise validation(INVALID_CHANNEL)


def token_hash(phone: str, otp: str) -> str:
    """``crypto.GenerateTokenHash``: hex SHA-224 of phone and code — what is stored."""
    return hashlib.sha224((phone + otp).encode()).hexdigest()


def generate_otp(digits: int) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def otp_expired(sent_at: datetime | None, lifetime: int, now: datetime) -> bool:
    return sent_at is None or now > sent_at + timedelta(seconds=lifetime)


class SmsLog:
    """The local SMS provider: one JSON line per message in ``sms.log``."""

    def __init__(self, path: str):
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def send(self, phone: str, message: str, channel: str, otp: str, otp_type: str, now: datetime) -> str:
        message_id = f"sms-{uuid.uuid4()}"
        line = json.dumps(
            {
                "time": now.isoformat(),
                "phone": phone,
                "channel": channel,
                "type": otp_type,
                "otp": otp,
                "message": message,
                "message_id": message_id,
            }
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return message_id

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class PhoneSender:
    """``sendPhoneConfirmation``: the resend interval, test OTPs, the server-wide SMS limit,
    sending, and the hashed token stored on the user and in ``auth.one_time_tokens``."""

    def __init__(self, config: AuthConfig):
        self.config = config
        self.provider = SmsLog(config.sms_log)
        self.limiter = IntervalLimiter(int(config.rate_limits.sms_sent))

    async def send(self, conn: store.Conn, user: User, phone: str, otp_type: str, channel: str, now: datetime) -> str:
        config = self.config
        sent_at = user.row.get("phone_change_sent_at" if otp_type == PHONE_CHANGE else "confirmation_sent_at")
        if sent_at is not None:
            next_allowed = sent_at + timedelta(seconds=config.sms_max_frequency)
            if not next_allowed < now:
                left = int((next_allowed - now).total_seconds())
                raise too_many(
                    "over_sms_send_rate_limit",
                    f"For security purposes, you can only request this after {left} seconds.",
                )
        message_id = ""
        otp = config.test_otp(phone)
        if otp is not None:
            message_id = "test-otp"
        else:
            if not config.sms_autoconfirm and not self.limiter.allow():
                raise too_many("over_sms_send_rate_limit", "SMS rate limit exceeded")
            otp = generate_otp(config.sms_otp_length)
            message = _CODE.sub(otp, config.sms_template)
            try:
                # GoTrue drops the provider's message id (a shadowed variable), so only test
                # OTPs report one; the log line keeps it.
                await self.provider.send(phone, message, channel, otp, otp_type, now)
            except OSError as exc:
                raise unprocessable("sms_send_failed", f"Error sending {otp_type} OTP to provider: {exc}") from None
        hashed = token_hash(phone, otp)
        if otp_type == PHONE_CHANGE:
            await store.update_user(
                conn, user, now, phone_change=phone, phone_change_token=hashed, phone_change_sent_at=now
            )
            await store.create_one_time_token(conn, user.id, phone, hashed, "phone_change_token")
        elif otp_type == CONFIRMATION:
            await store.update_user(conn, user, now, confirmation_token=hashed, confirmation_sent_at=now)
            await store.create_one_time_token(conn, user.id, user.phone, hashed, "confirmation_token")
        else:  # pragma: no cover - programming error
            raise AuthError(500, "unexpected_failure", "invalid otp type")
        return message_id
