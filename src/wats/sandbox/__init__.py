"""Local mobile-money sandbox: M-Pesa, Airtel Money, Mixx by Yas and ClickPesa (HaloPesa).

It speaks each provider's API under a path prefix, decides outcomes by the customer's
phone number (``scenarios.py``) and calls our payment webhook back the way each provider
does. Local development and tests only; see docs/payments.md.
"""

from wats.sandbox.app import create_app
from wats.sandbox.config import SandboxConfig, Settings
from wats.sandbox.credentials import adapter_env, ensure_credentials
from wats.sandbox.protocols import CALLBACK_PROVIDERS, PROTOCOLS, PROVIDERS
from wats.sandbox.scenarios import Scenario, scenario_for

__all__ = [
    "CALLBACK_PROVIDERS",
    "PROTOCOLS",
    "PROVIDERS",
    "SandboxConfig",
    "Scenario",
    "Settings",
    "adapter_env",
    "create_app",
    "ensure_credentials",
    "scenario_for",
]
