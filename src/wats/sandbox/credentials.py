"""Random sandbox credentials, generated once per stack instance into a git-ignored folder.

``ensure_credentials`` returns the environment for both sides of the wire: the adapter
variables (``MPESA_*``, ``AIRTEL_*``, ``MIXX_*``, ``CLICKPESA_*``, with base URLs pointing
at the sandbox) that the Edge Functions read, and the ``SANDBOX_*`` secrets the sandbox
itself is built from (``SandboxConfig.from_env``). Nothing here is ever committed. A file
written by an older version gets the secrets it lacks added; the ones it has are kept.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wats.sandbox.config import DEFAULT_WEBHOOK_BASE

CREDENTIALS_FILE = "sandbox-credentials.json"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:54330"
#: The OpenAPI sandbox path; production uses /openapi/ipg/v2/vodacomTZN.
MPESA_MARKET_PATH = "/sandbox/ipg/v2/vodacomTZN"
_VERSION = 2
_KNOWN_VERSIONS = ("1", "2")


def _rsa_pair() -> tuple[str, str]:
    """(private key PEM, public key as bare base64 DER, as the providers' portals show it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, base64.b64encode(public_der).decode()


def _generate() -> dict[str, str]:
    private_pem, public_b64 = _rsa_pair()
    airtel_private, airtel_public = _rsa_pair()
    return {
        "version": str(_VERSION),
        "mpesa_api_key": secrets.token_hex(16),
        "mpesa_private_key_pem": private_pem,
        # The portal shows the public key as bare base64 DER; the adapters accept that or PEM.
        "mpesa_public_key_b64": public_b64,
        "mpesa_service_provider_code": "000000",
        "airtel_client_id": secrets.token_hex(16),
        "airtel_client_secret": secrets.token_urlsafe(32),
        "airtel_callback_hash_key": secrets.token_urlsafe(32),
        "airtel_disbursement_pin": f"{secrets.randbelow(10**4):04d}",
        "airtel_private_key_pem": airtel_private,
        "airtel_public_key_b64": airtel_public,
        "mixx_username": "WATSBILLER",
        "mixx_password": secrets.token_urlsafe(18),
        "mixx_biller_msisdn": "255650000000",
        "mixx_biller_code": "WATS",
        "mixx_callback_token": secrets.token_urlsafe(32),
        "mixx_b2c_msisdn": "255650000001",
        "mixx_b2c_pin": f"{secrets.randbelow(10**4):04d}",
        "mixx_b2c_brand_id": str(1000 + secrets.randbelow(9000)),
        "mixx_query_pin": f"{secrets.randbelow(10**4):04d}",
        "clickpesa_client_id": "ID" + secrets.token_hex(12),
        "clickpesa_api_key": "SK" + secrets.token_urlsafe(30),
        "clickpesa_checksum_key": secrets.token_urlsafe(32),
        "expo_access_token": secrets.token_urlsafe(30),
        "beem_api_key": secrets.token_hex(8),
        "beem_secret_key": secrets.token_urlsafe(24),
    }


def _load_or_create(home: Path) -> dict[str, str]:
    path = home / CREDENTIALS_FILE
    if path.is_file():
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("version") in _KNOWN_VERSIONS:
            stored = {str(k): str(v) for k, v in data.items()}
            fresh = _generate()
            if stored["version"] == str(_VERSION) and fresh.keys() <= stored.keys():
                return stored
            # an older file, or one without a secret added since: keep its secrets, add the
            # ones it lacks
            _write(path, {**fresh, **stored, "version": str(_VERSION)})
            return _load_or_create(home)
    home.mkdir(parents=True, exist_ok=True)
    data = _generate()
    _write(path, data)
    return data


def _write(path: Path, data: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def ensure_credentials(
    home: Path,
    sandbox_url: str = DEFAULT_SANDBOX_URL,
    webhook_base: str = DEFAULT_WEBHOOK_BASE,
) -> dict[str, str]:
    """Create the sandbox credentials in ``home`` once; return both sides' variables.

    ``sandbox_url`` is where the sandbox listens (adapter base URLs are built from it);
    ``webhook_base`` is our ``…/functions/v1/payment-webhook`` URL the sandbox calls back.
    """
    c = _load_or_create(home)
    base = sandbox_url.rstrip("/")
    webhook = webhook_base.rstrip("/")
    return {
        # -- adapter side (Edge Functions) ------------------------------------------------
        "MPESA_BASE_URL": f"{base}/mpesa",
        "MPESA_MARKET_PATH": MPESA_MARKET_PATH,
        "MPESA_API_KEY": c["mpesa_api_key"],
        "MPESA_PUBLIC_KEY": c["mpesa_public_key_b64"],
        "MPESA_SERVICE_PROVIDER_CODE": c["mpesa_service_provider_code"],
        "AIRTEL_BASE_URL": f"{base}/airtel",
        "AIRTEL_CLIENT_ID": c["airtel_client_id"],
        "AIRTEL_CLIENT_SECRET": c["airtel_client_secret"],
        "AIRTEL_CALLBACK_HASH_KEY": c["airtel_callback_hash_key"],
        "AIRTEL_DISBURSEMENT_PIN": c["airtel_disbursement_pin"],
        "AIRTEL_ENCRYPTION_PUBLIC_KEY": c["airtel_public_key_b64"],
        "MIXX_TOKEN_URL": f"{base}/mixx/token",
        "MIXX_PUSH_URL": f"{base}/mixx/push-billpay",
        "MIXX_USERNAME": c["mixx_username"],
        "MIXX_PASSWORD": c["mixx_password"],
        "MIXX_BILLER_MSISDN": c["mixx_biller_msisdn"],
        "MIXX_BILLER_CODE": c["mixx_biller_code"],
        "MIXX_CALLBACK_TOKEN": c["mixx_callback_token"],
        "MIXX_B2C_URL": f"{base}/mixx/b2c",
        "MIXX_B2C_MSISDN": c["mixx_b2c_msisdn"],
        "MIXX_B2C_PIN": c["mixx_b2c_pin"],
        "MIXX_B2C_SENDER_NAME": "WATS Marketplace",
        "MIXX_B2C_BRAND_ID": c["mixx_b2c_brand_id"],
        "MIXX_QUERY_URL": f"{base}/mixx/query",
        "MIXX_QUERY_PIN": c["mixx_query_pin"],
        "CLICKPESA_BASE_URL": f"{base}/clickpesa/third-parties",
        "CLICKPESA_CLIENT_ID": c["clickpesa_client_id"],
        "CLICKPESA_API_KEY": c["clickpesa_api_key"],
        "CLICKPESA_CHECKSUM_KEY": c["clickpesa_checksum_key"],
        "WATS_SANDBOX_URL": base,
        "EXPO_PUSH_URL": f"{base}/expo/--/api/v2/push",
        "EXPO_ACCESS_TOKEN": c["expo_access_token"],
        "BEEM_SMS_URL": f"{base}/beem/v1/send",
        "BEEM_API_KEY": c["beem_api_key"],
        "BEEM_SECRET_KEY": c["beem_secret_key"],
        "BEEM_SENDER_ID": "WATS",
        # -- sandbox side ------------------------------------------------------------------
        "SANDBOX_WEBHOOK_BASE": webhook,
        "SANDBOX_MPESA_API_KEY": c["mpesa_api_key"],
        "SANDBOX_MPESA_PRIVATE_KEY": c["mpesa_private_key_pem"],
        "SANDBOX_MPESA_SERVICE_PROVIDER_CODE": c["mpesa_service_provider_code"],
        "SANDBOX_AIRTEL_CLIENT_ID": c["airtel_client_id"],
        "SANDBOX_AIRTEL_CLIENT_SECRET": c["airtel_client_secret"],
        "SANDBOX_AIRTEL_CALLBACK_HASH_KEY": c["airtel_callback_hash_key"],
        "SANDBOX_AIRTEL_DISBURSEMENT_PIN": c["airtel_disbursement_pin"],
        "SANDBOX_AIRTEL_PRIVATE_KEY": c["airtel_private_key_pem"],
        "SANDBOX_MIXX_USERNAME": c["mixx_username"],
        "SANDBOX_MIXX_PASSWORD": c["mixx_password"],
        "SANDBOX_MIXX_BILLER_MSISDN": c["mixx_biller_msisdn"],
        "SANDBOX_MIXX_BILLER_CODE": c["mixx_biller_code"],
        "SANDBOX_MIXX_CALLBACK_TOKEN": c["mixx_callback_token"],
        "SANDBOX_MIXX_B2C_MSISDN": c["mixx_b2c_msisdn"],
        "SANDBOX_MIXX_B2C_PIN": c["mixx_b2c_pin"],
        "SANDBOX_MIXX_B2C_BRAND_ID": c["mixx_b2c_brand_id"],
        "SANDBOX_MIXX_QUERY_PIN": c["mixx_query_pin"],
        "SANDBOX_CLICKPESA_CLIENT_ID": c["clickpesa_client_id"],
        "SANDBOX_CLICKPESA_API_KEY": c["clickpesa_api_key"],
        "SANDBOX_CLICKPESA_CHECKSUM_KEY": c["clickpesa_checksum_key"],
        "SANDBOX_EXPO_ACCESS_TOKEN": c["expo_access_token"],
        "SANDBOX_BEEM_API_KEY": c["beem_api_key"],
        "SANDBOX_BEEM_SECRET_KEY": c["beem_secret_key"],
    }


def adapter_env(env: dict[str, str]) -> dict[str, str]:
    """Only the adapter-side variables (what the Edge Functions need)."""
    return {k: v for k, v in env.items() if not k.startswith("SANDBOX_")}
