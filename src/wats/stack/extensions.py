"""What WATS runs in the stand-in's process besides the Supabase services, plugged in as
:class:`supabase_standin.Extension` objects: the mobile-money sandbox (and the provider
settings it shares with the Edge Functions), the payment scheduler, what wakes
notify-dispatch and the admin dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import os

import uvicorn
from dotenv import dotenv_values
from starlette.applications import Starlette

from supabase_standin.ports import Port
from supabase_standin.stack import Extension, StackConfig
from wats.sandbox.app import create_app as create_sandbox_app
from wats.sandbox.config import SandboxConfig
from wats.sandbox.credentials import adapter_env, ensure_credentials
from wats.settings import Settings
from wats.stack.dashboard import Dashboard
from wats.stack.notify import run as run_notify
from wats.stack.scheduler import run as run_scheduler

#: Prefixes of the variables the payment and messaging adapters read.
PROVIDER_PREFIXES = (
    "MPESA_",
    "AIRTEL_",
    "MIXX_",
    "CLICKPESA_",
    "PAYMENTS_",
    "WATS_PAYMENT",
    "EXPO_",
    "BEEM_",
    "NOTIFY_",
)


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
    """Both sides of the sandbox's wire: adapter variables and the sandbox's secrets (and
    where it logs the SMS and pushes it received: the stack's log folder)."""
    env = ensure_credentials(settings.home, settings.sandbox_url, webhook_base(settings))
    env["SANDBOX_MESSAGE_LOG_DIR"] = str(settings.log_dir)
    return env


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


class Sandbox:
    """The mobile-money sandbox on its own port, and the provider settings of the functions."""

    name = "sandbox"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def ports(self) -> list[Port]:
        return [Port(self.settings.sandbox_port, "sandbox")]

    def functions_env(self) -> dict[str, str]:
        return functions_env(self.settings)

    async def start(self, config: StackConfig) -> None:
        self._server = uvicorn.Server(
            uvicorn.Config(
                sandbox_app(self.settings),
                host="127.0.0.1",
                port=self.settings.sandbox_port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                proxy_headers=False,
                timeout_graceful_shutdown=2,
            )
        )
        self._task = asyncio.create_task(self._server.serve())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 15)

    def ready(self) -> bool:
        return self._server is not None and self._server.started


class Scheduler:
    """The local stand-in for the Supabase Cron jobs this machine cannot run (see scheduler)."""

    name = "scheduler"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def ports(self) -> list[Port]:
        return []

    def functions_env(self) -> dict[str, str]:
        return {}

    async def start(self, config: StackConfig) -> None:
        self._task = asyncio.create_task(run_scheduler(self.settings))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def ready(self) -> bool:
        return True


class NotifyWaker:
    """The local stand-in for pg_net waking notify-dispatch (:mod:`wats.stack.notify`)."""

    name = "notify"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def ports(self) -> list[Port]:
        return []

    def functions_env(self) -> dict[str, str]:
        return {}

    async def start(self, config: StackConfig) -> None:
        self._task = asyncio.create_task(run_notify(self.settings))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def ready(self) -> bool:
        return True


def for_settings(settings: Settings) -> list[Extension]:
    """The extensions of one WATS instance, in start order."""
    return [Sandbox(settings), Scheduler(settings), NotifyWaker(settings), Dashboard(settings)]
