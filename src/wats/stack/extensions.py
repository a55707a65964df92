"""What the stack runs besides the Supabase stand-in: the mobile-money sandbox (and the
provider settings it shares with the Edge Functions) and the payment scheduler."""

from __future__ import annotations

import os
from collections.abc import Coroutine
from typing import Any

from dotenv import dotenv_values
from starlette.applications import Starlette

from wats.sandbox.app import create_app as create_sandbox_app
from wats.sandbox.config import SandboxConfig
from wats.sandbox.credentials import adapter_env, ensure_credentials
from wats.settings import Settings
from wats.stack.scheduler import run as run_scheduler

#: Prefixes of the variables the payment adapters read.
PROVIDER_PREFIXES = ("MPESA_", "AIRTEL_", "MIXX_", "CLICKPESA_", "PAYMENTS_", "WATS_PAYMENT")


def project_env(settings: Settings) -> dict[str, str]:
    """Variables from the project's git-ignored ``.env`` (and ``supabase/functions/.env``,
    the file `supabase functions serve` reads)."""
    env: dict[str, str] = {}
    for path in (settings.root / ".env", settings.root / "supabase" / "functions" / ".env"):
        if path.is_file():
            env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    return env


def webhook_base(settings: Settings) -> str:
    return f"{settings.api_url}/functions/v1/payment-webhook"


def sandbox_env(settings: Settings) -> dict[str, str]:
    """Both sides of the sandbox's wire: adapter variables and the sandbox's secrets."""
    return ensure_credentials(settings.home, settings.sandbox_url, webhook_base(settings))


def functions_env(settings: Settings) -> dict[str, str]:
    """What the Edge Functions see besides Supabase's own variables: provider settings
    pointing at the sandbox, unless the developer's .env or environment says otherwise.
    Sandbox-side secrets never reach the functions."""
    env = adapter_env(sandbox_env(settings))
    env.update(project_env(settings))
    for key, value in os.environ.items():
        if key.startswith(PROVIDER_PREFIXES):
            env[key] = value
    return env


def sandbox_app(settings: Settings) -> Starlette:
    return create_sandbox_app(SandboxConfig.from_env(sandbox_env(settings)))


def scheduler(settings: Settings) -> Coroutine[Any, Any, None]:
    """The local stand-in for the pg_net cron job that calls payment-reconcile."""
    return run_scheduler(settings)
