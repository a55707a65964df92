"""Nothing unsafe in what can be deployed (issue 12, item 7).

``supabase/config.toml`` travels: ``supabase config push`` sends it to the linked hosted
project, and a copy of the file configures any project. So it holds no test phone with a
fixed OTP (the local stack takes them from ``WATS_AUTH_SMS_TEST_OTP``, ``wats.test_otp``),
and nothing else under ``supabase/`` (migrations, functions) names a local test phone, so no
phone with a fixed OTP can be an admin on a hosted project.

:data:`LOCAL_VS_PRODUCTION` lists every setting of the file whose local value differs from
production's; the test checks the file still has each one and docs/deploying.md's table
("Local-only settings") lists the same keys.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from wats.seed.catalog import PEOPLE
from wats.test_otp import as_toml, local_test_otps, parse

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "supabase" / "config.toml"

#: key -> (local value in config.toml, what production uses instead)
LOCAL_VS_PRODUCTION: dict[str, tuple[Any, str]] = {
    "auth.site_url": ("http://127.0.0.1:3000", "the customer app's https URL (Auth → URL Configuration)"),
    "auth.additional_redirect_urls": (["https://127.0.0.1:3000"], "the apps' https URLs"),
    "auth.sms.twilio.enabled": (False, "true: a real SMS provider sends the OTPs"),
    "auth.sms.twilio.account_sid": ("", "the provider's account id"),
    "auth.sms.twilio.message_service_sid": ("", "the provider's messaging service id"),
    "auth.sms.twilio.auth_token": (
        "env(SUPABASE_AUTH_SMS_TWILIO_AUTH_TOKEN)",
        "the same env(), set where `supabase config push` runs",
    ),
    "auth.sms.max_frequency": ("5s", "60s (GoTrue's default) or more"),
    "auth.rate_limit.sms_sent": (30, "what the SMS budget allows per hour"),
    "api.tls.enabled": (False, "hosted APIs are always https"),
    "db.pooler.enabled": (False, "Supavisor is always on (transaction mode, port 6543)"),
    "db.seed.enabled": (False, "false: production is never seeded"),
    "studio.enabled": (False, "the Dashboard"),
    "local_smtp.enabled": (False, "no local mail catcher; e-mail sign-up is off anyway"),
    "analytics.enabled": (False, "Logs Explorer"),
    "api.port": (54321, "https://<ref>.supabase.co"),
    "db.port": (54322, "5432 direct, 6543 pooled"),
    "db.shadow_port": (54320, "local only (`db diff`)"),
    "db.pooler.port": (54329, "6543"),
    "studio.port": (54323, "local only"),
    "local_smtp.port": (54324, "local only"),
    "analytics.port": (54327, "local only"),
    "edge_runtime.inspector_port": (8083, "local only"),
}


def config() -> dict[str, Any]:
    with CONFIG.open("rb") as fh:
        return tomllib.load(fh)


def leaves(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from leaves(value, path + ".")
        else:
            yield path, value


def lookup(table: Mapping[str, Any], dotted: str) -> Any:
    value: Any = table
    for part in dotted.split("."):
        assert isinstance(value, Mapping) and part in value, f"{dotted} is not in supabase/config.toml"
        value = value[part]
    return value


def deployable_files() -> list[Path]:
    """Everything under supabase/ but the CLI's own state and Deno unit tests (``*_test.ts``,
    which ``supabase functions deploy`` does not bundle: it follows the entrypoint's imports)."""
    supabase = ROOT / "supabase"
    return [
        p
        for p in supabase.rglob("*")
        if p.is_file() and ".temp" not in p.parts and ".branches" not in p.parts and not p.name.endswith("_test.ts")
    ]


def test_config_gives_no_phone_a_fixed_otp():
    data = config()
    sections = [("", data)] + [(f"remotes.{name}.", remote) for name, remote in data.get("remotes", {}).items()]
    for prefix, section in sections:
        sms = section.get("auth", {}).get("sms", {})
        assert not sms.get("test_otp"), f"{prefix}auth.sms.test_otp gives phones a fixed OTP in config.toml"
    phone_keys = [key for key, _ in leaves(data) if re.fullmatch(r".*\.\d{9,15}", key)]
    assert not phone_keys, f"phone numbers as config.toml keys: {phone_keys}"


def test_no_local_test_phone_in_anything_deployable():
    """No migration, function or config under supabase/ names a phone that signs in with a
    fixed OTP locally (so none can be made an admin on a hosted project), the seeded admin's
    included."""
    phones = set(local_test_otps()) | {person.phone for person in PEOPLE}
    admin = next(p.phone for p in PEOPLE if p.role == "admin")
    assert admin in phones
    found = []
    for path in deployable_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(ROOT)}: {phone}" for phone in phones if phone in text]
    assert not found, "local test phones in deployable files:\n" + "\n".join(found)


def test_admin_role_is_never_granted_by_a_migration():
    """Admins are made by hand on a hosted project (docs/deploying.md); no migration sets a
    profile's role to admin for some phone or user."""
    pattern = re.compile(r"insert\s+into\s+(public\.)?profiles[^;]*'admin'", re.IGNORECASE | re.DOTALL)
    for path in sorted((ROOT / "supabase" / "migrations").glob("*.sql")):
        assert not pattern.search(path.read_text()), f"{path.name} inserts an admin profile"


def test_local_test_otps_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("WATS_AUTH_SMS_TEST_OTP", raising=False)
    default = local_test_otps()
    assert default == {person.phone: "123456" for person in PEOPLE}
    monkeypatch.setenv("WATS_AUTH_SMS_TEST_OTP", "")
    assert local_test_otps() == {}
    monkeypatch.setenv("WATS_AUTH_SMS_TEST_OTP", "255700000009=111222, 255700000008:333444")
    assert local_test_otps() == {"255700000009": "111222", "255700000008": "333444"}
    assert tomllib.loads(as_toml(default))["auth"]["sms"]["test_otp"] == default
    try:
        parse("admin=123456")
    except ValueError:
        pass
    else:
        raise AssertionError("a malformed pair was accepted")


def test_local_vs_production_settings_are_listed():
    data = config()
    for key, (local, _production) in LOCAL_VS_PRODUCTION.items():
        assert lookup(data, key) == local, f"{key}: config.toml has {lookup(data, key)!r}, the list says {local!r}"
    ports = {key for key, _ in leaves(data) if key.endswith("port") and "pooler.pool" not in key}
    assert ports <= set(LOCAL_VS_PRODUCTION), f"ports missing from the list: {sorted(ports - set(LOCAL_VS_PRODUCTION))}"
    enabled_off = {key for key, value in leaves(data) if key.endswith(".enabled") and value is False}
    enabled_off -= {k for k in enabled_off if k.startswith(("auth.mfa", "functions."))}
    missing = enabled_off - set(LOCAL_VS_PRODUCTION)
    assert not missing, f"switched-off services missing from the list: {sorted(missing)}"
    guide = (ROOT / "docs" / "deploying.md").read_text()
    section = guide.split("## Local-only settings", 1)
    assert len(section) == 2, "docs/deploying.md has no 'Local-only settings' section"
    body = section[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_.]+)` \|", body, re.MULTILINE))
    assert listed == set(LOCAL_VS_PRODUCTION), (
        f"docs/deploying.md lists {sorted(listed - set(LOCAL_VS_PRODUCTION))} extra, "
        f"misses {sorted(set(LOCAL_VS_PRODUCTION) - listed)}"
    )
