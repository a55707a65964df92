"""Fixtures for the sandbox tests: credentials, a fast sandbox, and a webhook receiver.

These tests need no running stack: the sandbox runs in-process (Starlette TestClient) and
its callbacks go to a small HTTP server on 127.0.0.1 that records them.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

with warnings.catch_warnings():
    # Starlette 1.x warns that its TestClient will move from httpx to httpx2.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from wats.sandbox import SandboxConfig, Settings, create_app, ensure_credentials

FAST = Settings(
    answer_delay_s=0.05,
    late_delay_s=0.6,
    prompt_timeout_s=0.5,
    duplicate_count=3,
    duplicate_interval_s=0.01,
    callback_timeout_s=2.0,
    callback_retries=2,
    callback_retry_delay_s=0.05,
    token_ttl_s=3600,
)


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records POSTs; answers with ``status_for(path)`` (200 by default)."""

    base: str
    requests: list[Received] = field(default_factory=list)
    status_for: Callable[[str], int] = lambda _path: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_provider(self, provider: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(f"/payment-webhook/{provider}")]

    def wait_for(self, provider: str, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.for_provider(provider)
            if len(got) >= count:
                return got
            time.sleep(0.01)
        return self.for_provider(provider)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    holder: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = holder["r"]
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            path, _, query = self.path.partition("?")
            with receiver.lock:
                receiver.requests.append(Received(path, query, dict(self.headers.items()), body))
            status = receiver.status_for(path)
            payload = b'{"ok":true}'
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    holder["r"] = WebhookReceiver(base=f"http://127.0.0.1:{port}/functions/v1/payment-webhook")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def sandbox_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-home")


@pytest.fixture
def env(sandbox_home: Path, webhook: WebhookReceiver) -> dict[str, str]:
    return ensure_credentials(sandbox_home, "http://testserver", webhook.base)


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(SandboxConfig.from_env(env, settings=FAST))
    with TestClient(app) as test_client:
        yield test_client


def public_key(env: dict[str, str]) -> rsa.RSAPublicKey:
    key = serialization.load_der_public_key(base64.b64decode(env["MPESA_PUBLIC_KEY"]))
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def encrypt_bearer(env: dict[str, str], plaintext: str) -> str:
    return base64.b64encode(public_key(env).encrypt(plaintext.encode(), padding.PKCS1v15())).decode()


def wait_idle(client: TestClient, timeout: float = 5.0) -> None:
    response = client.post(f"/_sandbox/idle?timeout={timeout}")
    assert response.status_code == 200, response.text


def msisdn(last_two: str, prefix: str = "25574") -> str:
    """A canonical phone number ending in ``last_two`` (the scenario digits)."""
    return f"{prefix}00001{last_two}"
