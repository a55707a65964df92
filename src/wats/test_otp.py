"""Test phones with fixed OTPs: local stacks only, never in supabase/config.toml.

A ``[auth.sms.test_otp]`` table in ``supabase/config.toml`` would travel with the file to any
hosted project (``supabase config push``, or a copy of the file) and let anyone sign in as
those phones with a fixed code, the seeded admin's included. So the local stack takes its
test phones from the environment instead:

- ``WATS_AUTH_SMS_TEST_OTP`` unset: the seeded demo users (:data:`wats.seed.catalog.PEOPLE`),
  each with :data:`wats.seed.catalog.TEST_OTP`;
- set: ``phone=otp`` pairs separated by commas (GoTrue's ``GOTRUE_SMS_TEST_OTP`` uses the
  same pairs with ``:``, accepted too); empty: no test phones at all.

``python -m wats.test_otp`` prints the table as TOML for a throwaway checkout that runs the
Supabase CLI's own local stack (CI's ``supabase start`` job appends it to its config.toml).
"""

from __future__ import annotations

import os
import sys

from wats.seed.catalog import PEOPLE, TEST_OTP

ENV = "WATS_AUTH_SMS_TEST_OTP"


def parse(value: str) -> dict[str, str]:
    """``phone=otp,phone=otp`` (or ``phone:otp``) as a mapping."""
    pairs: dict[str, str] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        phone, sep, otp = item.replace(":", "=", 1).partition("=")
        if not sep or not phone.strip().isdigit() or not otp.strip().isdigit():
            raise ValueError(f"{ENV}: expected phone=otp pairs, got {item!r}")
        pairs[phone.strip()] = otp.strip()
    return pairs


def local_test_otps() -> dict[str, str]:
    """The test phones of a local stack (see the module's note)."""
    value = os.environ.get(ENV)
    if value is None:
        return {person.phone: TEST_OTP for person in PEOPLE}
    return parse(value)


def as_toml(otps: dict[str, str]) -> str:
    header = "# Appended for a local stack only (python -m wats.test_otp); never deploy this."
    lines = ["", header, "[auth.sms.test_otp]"]
    lines += [f'{phone} = "{otp}"' for phone, otp in otps.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(as_toml(local_test_otps()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
