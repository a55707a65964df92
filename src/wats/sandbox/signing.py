"""The providers' signing schemes, as the sandbox applies them (mirrors of the adapters')."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def compact_json(value: Any) -> str:
    """JSON as JavaScript's ``JSON.stringify`` writes it (compact, non-ASCII kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact JSON with object keys sorted at every level (ClickPesa's canonical form)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def airtel_hash(key: str, body: dict[str, Any]) -> str:
    """Airtel's callback ``hash``: base64 HMAC-SHA256 over the whole callback body without
    ``hash`` (``{"transaction": {…}}``), serialised with 2-space indentation, as Airtel's
    published sample reproduces (tests/sandbox/test_airtel.py)."""
    signed = {k: v for k, v in body.items() if k != "hash"}
    text = json.dumps(signed, indent=2, ensure_ascii=False)
    digest = hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def airtel_aes_decrypt(key: bytes, iv: bytes, signature: str) -> bytes | None:
    """The plaintext of an Airtel ``x-signature`` (base64 AES-256-CBC, PKCS#7); None when it
    is not one."""
    try:
        ciphertext = base64.b64decode(signature, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (ValueError, binascii.Error):
        return None


def airtel_signed_body_ok(key: rsa.RSAPrivateKey, x_key: str, x_signature: str, body: bytes) -> bool:
    """Airtel's message signing, checked: ``x-key`` is ``base64(key):base64(iv)`` RSA-encrypted
    with the portal key, ``x-signature`` the body AES-256-CBC-encrypted with them."""
    key_iv = rsa_decrypt_bearer(key, x_key)
    if key_iv is None or key_iv.count(":") != 1:
        return False
    try:
        aes_key = base64.b64decode(key_iv.split(":")[0], validate=True)
        iv = base64.b64decode(key_iv.split(":")[1], validate=True)
    except (ValueError, binascii.Error):
        return False
    if len(aes_key) != 32 or len(iv) != 16:
        return False
    plain = airtel_aes_decrypt(aes_key, iv, x_signature)
    return plain is not None and hmac.compare_digest(plain, body)


def clickpesa_checksum(key: str, payload: dict[str, Any]) -> str:
    """ClickPesa's checksum: hex HMAC-SHA256 over the canonical JSON, checksum fields left out."""
    rest = {k: v for k, v in payload.items() if k not in ("checksum", "checksumMethod")}
    return hmac.new(key.encode(), canonical_json(rest).encode(), hashlib.sha256).hexdigest()


def _js_join_value(value: Any) -> str:
    """A value as JavaScript's ``Array.prototype.join`` writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join(_js_join_value(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def clickpesa_legacy_checksum(key: str, payload: dict[str, Any]) -> str:
    """ClickPesa's earlier ("legacy") checksum: values of the sorted top-level keys joined as
    JavaScript joins them (a nested object is "[object Object]"), hex HMAC-SHA256."""
    rest = {k: v for k, v in payload.items() if k not in ("checksum", "checksumMethod")}
    text = "".join(_js_join_value(rest[k]) for k in sorted(rest))
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


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
