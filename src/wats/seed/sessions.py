"""Signing the seeded people in the way the apps do: phone OTP through the Auth API."""

from __future__ import annotations

import time

from supabase import Client, create_client
from supabase_auth.errors import AuthApiError

from wats.seed.catalog import TEST_OTP


def sign_in(url: str, anon_key: str, phone: str, otp: str = TEST_OTP, *, attempts: int = 4) -> Client:
    """A supabase-py client signed in as the owner of ``phone`` (created on first use).

    A repeated OTP request inside the resend window is refused with 429; wait it out."""
    client = create_client(url, anon_key)
    for attempt in range(attempts):
        try:
            client.auth.sign_in_with_otp({"phone": phone})
            break
        except AuthApiError as exc:
            if exc.status != 429 or attempt == attempts - 1:
                raise
            time.sleep(2.5)
    client.auth.verify_otp({"phone": phone, "token": otp, "type": "sms"})
    return client
