from __future__ import annotations

import base64
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import padding

from wats.sandbox import PROVIDERS, SandboxConfig, Scenario, adapter_env, ensure_credentials, scenario_for
from wats.sandbox.credentials import CREDENTIALS_FILE
from wats.sandbox.scenarios import TABLE, describe
from wats.sandbox.signing import load_private_key

from .conftest import encrypt_bearer


def test_credentials_are_created_once_private_and_reused(tmp_path: Path) -> None:
    first = ensure_credentials(tmp_path, "http://127.0.0.1:54330")
    file = tmp_path / CREDENTIALS_FILE
    assert file.is_file()
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    second = ensure_credentials(
        tmp_path, "http://127.0.0.1:55330", "http://127.0.0.1:55321/functions/v1/payment-webhook"
    )
    for key in ("MPESA_API_KEY", "AIRTEL_CLIENT_SECRET", "MIXX_CALLBACK_TOKEN", "CLICKPESA_CHECKSUM_KEY"):
        assert first[key] == second[key]
    # URLs follow the parameters; secrets do not.
    assert first["AIRTEL_BASE_URL"] == "http://127.0.0.1:54330/airtel"
    assert second["AIRTEL_BASE_URL"] == "http://127.0.0.1:55330/airtel"
    assert second["SANDBOX_WEBHOOK_BASE"] == "http://127.0.0.1:55321/functions/v1/payment-webhook"
    assert first["MPESA_BASE_URL"] == "http://127.0.0.1:54330/mpesa"
    assert first["MPESA_MARKET_PATH"] == "/sandbox/ipg/v2/vodacomTZN"
    assert first["CLICKPESA_BASE_URL"] == "http://127.0.0.1:54330/clickpesa/third-parties"
    assert first["MIXX_TOKEN_URL"].endswith("/mixx/token")
    other = ensure_credentials(tmp_path / "other")
    assert other["MPESA_API_KEY"] != first["MPESA_API_KEY"]


def test_both_sides_share_the_secrets_and_the_rsa_pair_matches(tmp_path: Path) -> None:
    env = ensure_credentials(tmp_path)
    pairs = {
        "MPESA_API_KEY": "SANDBOX_MPESA_API_KEY",
        "AIRTEL_CLIENT_ID": "SANDBOX_AIRTEL_CLIENT_ID",
        "AIRTEL_CLIENT_SECRET": "SANDBOX_AIRTEL_CLIENT_SECRET",
        "AIRTEL_CALLBACK_HASH_KEY": "SANDBOX_AIRTEL_CALLBACK_HASH_KEY",
        "MIXX_PASSWORD": "SANDBOX_MIXX_PASSWORD",
        "MIXX_CALLBACK_TOKEN": "SANDBOX_MIXX_CALLBACK_TOKEN",
        "CLICKPESA_API_KEY": "SANDBOX_CLICKPESA_API_KEY",
        "CLICKPESA_CHECKSUM_KEY": "SANDBOX_CLICKPESA_CHECKSUM_KEY",
    }
    for adapter_side, sandbox_side in pairs.items():
        assert env[adapter_side] == env[sandbox_side]
    assert len(env["MIXX_CALLBACK_TOKEN"]) >= 32
    private = load_private_key(env["SANDBOX_MPESA_PRIVATE_KEY"])
    ciphertext = base64.b64decode(encrypt_bearer(env, "hello"))
    assert private.decrypt(ciphertext, padding.PKCS1v15()) == b"hello"
    assert not any(k.startswith("SANDBOX_") for k in adapter_env(env))
    config = SandboxConfig.from_env(env)
    assert config.webhook_url("airtel") == "http://127.0.0.1:54321/functions/v1/payment-webhook/airtel"


def test_scenarios_by_last_two_digits() -> None:
    assert scenario_for("255754000001") is Scenario.SUCCESS
    assert scenario_for("255754000089") is Scenario.SUCCESS
    expected = {
        "90": Scenario.LOST_CALLBACK,
        "91": Scenario.INSUFFICIENT_FUNDS,
        "92": Scenario.WRONG_PIN,
        "93": Scenario.CANCELLED,
        "94": Scenario.NO_CALLBACK,
        "95": Scenario.LATE_CALLBACK,
        "96": Scenario.DUPLICATE_CALLBACKS,
        "97": Scenario.AMBIGUOUS_THEN_SUCCESS,
        "98": Scenario.BAD_SIGNATURE,
        "99": Scenario.REFUSED,
    }
    for digits, scenario in expected.items():
        assert scenario_for("2557540000" + digits) is scenario
    assert {info.digits for info in TABLE} == set(expected)
    rows = describe()
    assert rows[-1]["scenario"] == "success"
    for row in rows:
        assert set(row["behaviour"]) == set(PROVIDERS)  # type: ignore[arg-type]


def test_docs_list_every_scenario() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "payments.md"
    text = docs.read_text()
    for info in TABLE:
        assert f"| {info.digits} |" in text, f"docs/payments.md misses scenario {info.digits}"
