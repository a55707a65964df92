"""Helpers shared by the ``test_auth_*`` stories (this module holds no tests).

- Phones: each story signs up its own fresh phone (``255 76x xxx xxx``), reads the code the
  local SMS stand-in wrote to ``<log_dir>/sms.log``, and never touches the seeded demo users
  except in the one story about test OTPs.
- SMS budget: GoTrue allows ``[auth.rate_limit] sms_sent`` (30) SMS per hour per server,
  test phones excepted. The auth stories send about 20, so run them on a freshly started
  stack (``wats test`` always does); a second run against the same server within the hour
  meets ``over_sms_send_rate_limit``, exactly as it would against the Supabase CLI's stack.
- The custom access token hook: ``supabase/config.toml`` points GoTrue at
  ``public.custom_access_token_hook`` (the real one comes from ``supabase/migrations``). So
  that the stories are self-contained and can make the hook refuse or fail, each auth
  module installs a *test hook* under that name for its duration: a real hook present is
  renamed aside and renamed back afterwards. The test hook adds ``user_role`` like the
  real one, plus what it received (``hook_input``), and obeys ``user_metadata.hook_test``:
  ``refuse`` → ``{"error": …}``, ``raise`` → an exception, ``drop_role`` → claims without
  ``role``.
- Arranging the past (an expired OTP, an old revoked refresh token) needs writes to
  ``auth`` tables, which only their owner may do: those go through a connection as
  ``supabase_auth_admin``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from supabase import Client

TEST_PHONE = "255711000003"  # a local test phone (wats.test_otp; seeded customer)
TEST_PHONE_OTP = "123456"

TEST_HOOK_SQL = """
create function public.{name}(event jsonb) returns jsonb
language plpgsql
as $$
declare
  claims jsonb := event -> 'claims';
begin
  case coalesce(claims -> 'user_metadata' ->> 'hook_test', '')
    when 'refuse' then
      return jsonb_build_object(
        'error', jsonb_build_object('http_code', 403, 'message', 'Sign-in refused by the hook')
      );
    when 'raise' then
      raise exception 'the hook failed';
    when 'drop_role' then
      return jsonb_build_object('claims', claims - 'role');
    else
      null;
  end case;
  return jsonb_build_object('claims', claims || jsonb_build_object(
    'user_role', 'customer',
    'hook_input', jsonb_build_object(
      'user_id', event ->> 'user_id',
      'authentication_method', event ->> 'authentication_method',
      'metadata_name', event -> 'metadata' ->> 'name',
      'invoker', current_user
    )
  ));
end
$$;
revoke execute on function public.{name}(jsonb) from public, anon, authenticated;
grant execute on function public.{name}(jsonb) to supabase_auth_admin;
"""


def new_phone() -> str:
    """A phone no one has used: 255 76x xxx xxx."""
    return "25576" + f"{secrets.randbelow(10**7):07d}"


def sms_log(target: Any) -> Path:
    return Path(target.settings.log_dir) / "sms.log"


def sms_code(target: Any, phone: str) -> str:
    """The last code the local SMS stand-in sent to ``phone``."""
    path = sms_log(target)
    deadline = time.monotonic() + 5
    while True:
        if path.exists():
            for line in reversed(path.read_text().splitlines()):
                entry = json.loads(line)
                if entry["phone"] == phone:
                    return str(entry["otp"])
        if time.monotonic() > deadline:
            raise AssertionError(f"no SMS to {phone} in {path}")
        time.sleep(0.05)


def sms_count(target: Any, phone: str) -> int:
    path = sms_log(target)
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if json.loads(line)["phone"] == phone)


def sign_in(client: Client, target: Any, phone: str, data: dict[str, Any] | None = None) -> Any:
    """Phone sign-in as an app does it: request a code, read it, verify it."""
    options = {"data": data} if data else {}
    client.auth.sign_in_with_otp({"phone": "+" + phone, "options": options})
    return client.auth.verify_otp({"phone": phone, "token": sms_code(target, phone), "type": "sms"})


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def auth_http(target: Any, **headers: str) -> httpx.Client:
    """Raw HTTP on ``/auth/v1`` with the anon key, for details supabase-py hides."""
    return httpx.Client(
        base_url=f"{target.url}/auth/v1",
        headers={"apikey": target.anon_key, "Authorization": f"Bearer {target.anon_key}", **headers},
        timeout=10,
    )


@contextlib.contextmanager
def auth_admin_db(target: Any) -> Iterator[psycopg.Connection]:
    """A connection as the owner of the ``auth`` tables, to arrange the past."""
    with psycopg.connect(target.db_url, user="supabase_auth_admin", autocommit=True) as conn:
        yield conn


def hook_function(target: Any) -> str:
    """The function name in ``[auth.hook.custom_access_token] uri``."""
    uri = target.settings.project.auth.custom_access_token.uri
    schema, name = uri.removeprefix("pg-functions://").split("/")[1:3]
    assert schema == "public", uri
    return name


@contextlib.contextmanager
def renamed_aside(db: psycopg.Connection, name: str, suffix: str) -> Iterator[None]:
    """Move ``public.<name>`` (if any) out of the way, and back afterwards."""
    row = db.execute(
        "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname = 'public' and p.proname = %s",
        (name,),
    ).fetchone()
    aside = f"{name}__{suffix}"
    args = row[0][row[0].index("(") :] if row else ""
    if row:
        db.execute(f"alter function public.{name}{args} rename to {aside}")
    try:
        yield
    finally:
        if row:
            db.execute(f"drop function if exists public.{name}{args}")
            db.execute(f"alter function public.{aside}{args} rename to {name}")


@contextlib.contextmanager
def installed_test_hook(target: Any) -> Iterator[str]:
    """The test hook under the configured name for the duration of the block."""
    name = hook_function(target)
    with psycopg.connect(target.db_url, autocommit=True) as db, renamed_aside(db, name, "saved_by_auth_tests"):
        db.execute(TEST_HOOK_SQL.format(name=name))
        try:
            yield name
        finally:
            db.execute(f"drop function if exists public.{name}(jsonb)")
