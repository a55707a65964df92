"""Pieces of the stack that other packages provide: the mobile-money sandbox (and the
provider credentials it shares with the Edge Functions) and the payment scheduler."""

from __future__ import annotations

import importlib
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from wats.settings import Settings


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def project_env(settings: Settings) -> dict[str, str]:
    """Variables from the project's git-ignored ``.env`` (``supabase/functions/.env`` too)."""
    env: dict[str, str] = {}
    for path in (settings.root / ".env", settings.root / "supabase" / "functions" / ".env"):
        if path.is_file():
            env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    return env


def webhook_base(settings: Settings) -> str:
    return f"{settings.api_url}/functions/v1/payment-webhook"


def provider_env(settings: Settings) -> dict[str, str]:
    """Provider credentials and base URLs pointing at the local sandbox."""
    creds = _module("wats.sandbox.stack")
    if creds is None:
        return {}
    return dict(creds.ensure_credentials(settings.home, settings.sandbox_url, webhook_base(settings)))


def functions_env(settings: Settings) -> dict[str, str]:
    """What the Edge Functions see besides Supabase's own variables: provider settings
    (sandbox locally, unless the developer's .env says otherwise), never sandbox secrets."""
    env = {k: v for k, v in provider_env(settings).items() if not k.startswith("SANDBOX_")}
    env["WATS_WEBHOOK_BASE_URL"] = webhook_base(settings)
    env.update(project_env(settings))
    for key, value in os.environ.items():
        if key.startswith(("MPESA_", "AIRTEL_", "MIXX_", "CLICKPESA_", "WATS_PAYMENT_")):
            env[key] = value
    return env


def sandbox_app(settings: Settings) -> Any | None:
    app_module = _module("wats.sandbox.stack")
    if app_module is None:
        return None
    return app_module.app_for_stack(provider_env(settings), webhook_base(settings))


def scheduler(settings: Settings) -> Coroutine[Any, Any, None] | None:
    module = _module("wats.stack.scheduler")
    if module is None:
        return None
    return module.run(settings)


