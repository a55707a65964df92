"""Run the sandbox on its own: ``python -m wats.sandbox --port 54330 --webhook-base URL``."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

import uvicorn

from wats.sandbox.app import create_app
from wats.sandbox.config import DEFAULT_WEBHOOK_BASE, SandboxConfig
from wats.sandbox.credentials import adapter_env, ensure_credentials


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wats.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("WATS_SANDBOX_PORT", "54330")))
    parser.add_argument(
        "--webhook-base",
        default=os.environ.get("SANDBOX_WEBHOOK_BASE", DEFAULT_WEBHOOK_BASE),
        help="our …/functions/v1/payment-webhook URL (the provider name is appended)",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(".wats") / "dev",
        help="git-ignored folder holding sandbox-credentials.json (created once)",
    )
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print the adapter-side variables (KEY=value, shell-quoted) and exit",
    )
    args = parser.parse_args(argv)
    sandbox_url = f"http://{args.host}:{args.port}"
    env = ensure_credentials(args.home, sandbox_url, args.webhook_base)
    if args.print_env:
        for key, value in adapter_env(env).items():
            print(f"{key}={shlex.quote(value)}")
        return
    app = create_app(SandboxConfig.from_env(env))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
