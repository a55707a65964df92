"""The providers' signing schemes, as the sandbox applies them (mirrors of the adapters')."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def compact_json(value: Any) -> str:
    """JSON as JavaScript's ``JSON.stringify`` writes it (compact, non-ASCII kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact JSON with object keys sorted at every level (ClickPesa's canonical form)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def airtel_hash(key: str, transaction: dict[str, Any]) -> str:
    """Airtel's callback ``hash``: base64 HMAC-SHA256 over the JSON of ``transaction``."""
    digest = hmac.new(key.encode(), compact_json(transaction).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def clickpesa_checksum(key: str, payload: dict[str, Any]) -> str:
    """ClickPesa's checksum: hex HMAC-SHA256 over the canonical JSON, checksum fields left out."""
    rest = {k: v for k, v in payload.items() if k not in ("checksum", "checksumMethod")}
    return hmac.new(key.encode(), canonical_json(rest).encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the M-Pesa sandbox key must be an RSA private key")
    return key


def rsa_decrypt_bearer(key: rsa.RSAPrivateKey, bearer: str) -> str | None:
    """Decrypts an M-Pesa Bearer (base64 RSA PKCS#1 v1.5); None when it is not one."""
    try:
        ciphertext = base64.b64decode(bearer, validate=True)
        return key.decrypt(ciphertext, padding.PKCS1v15()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
