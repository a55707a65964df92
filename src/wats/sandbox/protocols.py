"""Which provider API the sandbox imitates for each payment provider.

The provider names are the contract's (the SQL domain ``public.payment_provider``, mirrored
by ``supabase/functions/_shared/payments/contract.ts``); ``tests/payments/test_contract.py``
fails when this table and the database differ. The provider is what the customer chooses
and the webhook path segment; the protocol is the module speaking that provider's API:
HaloPesa is reached through the ClickPesa aggregator, as on the Deno side
(``_shared/payments/clickpesa.ts``).
"""

from __future__ import annotations

from types import ModuleType

from wats.sandbox import airtel, clickpesa, mixx, mpesa

#: provider → the module imitating its API, in the contract's order.
PROTOCOLS: dict[str, ModuleType] = {module.PROVIDER: module for module in (mpesa, airtel, mixx, clickpesa)}

#: Every provider WATS takes payments with: the one Python list of them.
PROVIDERS: tuple[str, ...] = tuple(PROTOCOLS)

#: The providers that call our webhook back (M-Pesa's single-stage C2B answers the push).
CALLBACK_PROVIDERS: tuple[str, ...] = tuple(p for p, module in PROTOCOLS.items() if module.CALLBACKS)
