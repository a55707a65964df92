"""The TypeScript adapters pay vendors against the Python sandbox, over real sockets.

Starts the sandbox with uvicorn on a free port (the fixture of test_deno_adapters_e2e), then
runs ``supabase/functions/tests/payouts_sandbox_test.ts`` with Deno and the adapter
variables ``ensure_credentials`` returns. The Deno test receives ClickPesa's PAYOUT
webhooks itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from wats.sandbox import adapter_env

from .test_deno_adapters_e2e import DENO, ROOT, running_sandbox

__all__ = ["running_sandbox"]

TEST_FILE = "supabase/functions/tests/payouts_sandbox_test.ts"


@pytest.mark.skipif(not DENO.exists() and shutil.which("deno") is None, reason="deno is not installed")
def test_deno_payout_adapters_against_the_sandbox(running_sandbox: tuple[dict[str, str], int]) -> None:
    env, webhook_port = running_sandbox
    deno = str(DENO) if DENO.exists() else str(shutil.which("deno"))
    child_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "NO_COLOR": "1",
        **adapter_env(env),
        "WATS_E2E_WEBHOOK_PORT": str(webhook_port),
        "PAYMENTS_HTTP_TIMEOUT_MS": "5000",
    }
    if "DENO_DIR" in os.environ:
        child_env["DENO_DIR"] = os.environ["DENO_DIR"]
    result = subprocess.run(
        [deno, "test", "--allow-net=127.0.0.1", "--allow-env", "--allow-read", TEST_FILE],
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
    assert "payout adapters against the sandbox" in output, output
    print(output)
