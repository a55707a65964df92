"""The TypeScript adapters against the Python sandbox, over real sockets on 127.0.0.1.

Starts the sandbox with uvicorn on a free port, then runs
``supabase/functions/tests/payments_sandbox_test.ts`` with Deno and the adapter variables
``ensure_credentials`` returns. The Deno test receives the callbacks itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from wats.sandbox import SandboxConfig, adapter_env, create_app, ensure_credentials

ROOT = Path(__file__).resolve().parents[2]
DENO = ROOT / "tools" / "node_modules" / ".bin" / "deno"
TEST_FILE = "supabase/functions/tests/payments_sandbox_test.ts"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def running_sandbox(tmp_path: Path) -> Iterator[tuple[dict[str, str], int]]:
    port, webhook_port = free_port(), free_port()
    env = ensure_credentials(
        tmp_path, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{webhook_port}/functions/v1/payment-webhook"
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(SandboxConfig.from_env(env)), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "sandbox did not start"
    try:
        yield env, webhook_port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.skipif(not DENO.exists() and shutil.which("deno") is None, reason="deno is not installed")
def test_deno_adapters_against_the_sandbox(running_sandbox: tuple[dict[str, str], int]) -> None:
    env, webhook_port = running_sandbox
    deno = str(DENO) if DENO.exists() else str(shutil.which("deno"))
    child_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "NO_COLOR": "1",
        **adapter_env(env),
        "WATS_E2E_WEBHOOK_PORT": str(webhook_port),
        # Shorter than the sandbox's 1.5 s prompt so "no answer" times out on our side.
        "MPESA_PUSH_TIMEOUT_MS": "1000",
        "PAYMENTS_HTTP_TIMEOUT_MS": "5000",
    }
    if "DENO_DIR" in os.environ:
        child_env["DENO_DIR"] = os.environ["DENO_DIR"]
    result = subprocess.run(
        [
            deno,
            "test",
            "--allow-net=127.0.0.1",
            "--allow-env",
            "--allow-read",
            TEST_FILE,
        ],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "ignored" not in output, output  # the Deno test must have run, not been skipped
    print(output)
