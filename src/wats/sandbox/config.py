"""Configuration of the mobile-money sandbox: the providers' secrets and the timing knobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

DEFAULT_WEBHOOK_BASE = "http://127.0.0.1:54321/functions/v1/payment-webhook"


@dataclass
class Settings:
    """Timing of the simulated customers and callbacks (changeable at ``/_sandbox/settings``)."""

    #: Seconds between the push and the customer's answer (PIN, cancel …).
    answer_delay_s: float = 0.3
    #: Seconds until the answer in the "late callback" scenario.
    late_delay_s: float = 5.0
    #: Life of the USSD prompt: a never-answered push expires after this many seconds
    #: (M-Pesa holds its synchronous reply this long, then answers 408 INS-9).
    prompt_timeout_s: float = 20.0
    #: Copies of the callback in the "duplicate callbacks" scenario.
    duplicate_count: int = 3
    #: Seconds between duplicate copies.
    duplicate_interval_s: float = 0.1
    #: Timeout of one callback delivery.
    callback_timeout_s: float = 10.0
    #: Extra attempts after a 5xx or a connection failure (none after a 2xx-4xx).
    callback_retries: int = 2
    #: Seconds between attempts.
    callback_retry_delay_s: float = 1.0
    #: Lifetime of Airtel/Mixx access tokens and M-Pesa sessions.
    token_ttl_s: int = 3600
    #: Seconds Beem or Expo keep a scripted ``hang`` request before answering.
    message_hang_s: float = 20.0
    #: 1: Mixx posts callbacks to ``…/mixx/<token>`` (a registered URL whose query string
    #: the provider dropped, or that was registered in the path form); 0: ``…/mixx?token=``.
    mixx_callback_path_token: int = 0
    #: ClickPesa's collection fee in percent, charged as ceil(amount × percent / 100) and
    #: deducted from ``collectedAmount`` (an account that nets fees); 0: gross amounts.
    clickpesa_fee_percent: float = 0.0
    #: 1: the payment reports carry that fee as ``fee``; 0: only the net amount.
    clickpesa_report_fee: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with ``changes`` applied; raises ValueError on unknown keys or bad values."""
        known = {f.name: f for f in fields(self)}
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown setting: {key}")
            current = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key} must be a number")
            if value < 0:
                raise ValueError(f"{key} must not be negative")
            if isinstance(current, int) and not isinstance(current, bool):
                if int(value) != value:
                    raise ValueError(f"{key} must be a whole number")
                value = int(value)
            else:
                value = float(value)
            values[key] = value
        return replace(self, **values)


@dataclass(frozen=True)
class SandboxConfig:
    """Secrets the sandbox shares with the adapters, and where it calls our webhook."""

    mpesa_api_key: str
    mpesa_private_key_pem: str
    mpesa_service_provider_code: str
    airtel_client_id: str
    airtel_client_secret: str
    airtel_callback_hash_key: str
    #: The disbursement PIN, and the private half of the key the adapter encrypts it with.
    airtel_disbursement_pin: str
    airtel_private_key_pem: str
    mixx_username: str
    mixx_password: str
    mixx_biller_msisdn: str
    mixx_biller_code: str
    mixx_callback_token: str
    #: B2C (Account to Wallet): our disbursement account and its PIN, the brand id.
    mixx_b2c_msisdn: str
    mixx_b2c_pin: str
    mixx_b2c_brand_id: str
    #: The transaction query (MTPGGetSODetails): the PIN of the biller MSISDN.
    mixx_query_pin: str
    clickpesa_client_id: str
    clickpesa_api_key: str
    clickpesa_checksum_key: str
    #: ``…/functions/v1/payment-webhook``; the provider name is appended.
    webhook_base: str = DEFAULT_WEBHOOK_BASE
    settings: Settings = field(default_factory=Settings)
    #: Expo push: the project's access token (enhanced push security; empty: not required).
    expo_access_token: str = ""
    #: Beem SMS: API key and secret (Basic authentication).
    beem_api_key: str = ""
    beem_secret_key: str = ""
    #: Folder of sms-gateway.log and push.log (None: not written).
    message_log_dir: str | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        webhook_base: str | None = None,
        settings: Settings | None = None,
    ) -> SandboxConfig:
        """Build from the ``SANDBOX_*`` variables ``ensure_credentials`` returns."""

        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise KeyError(f"missing sandbox variable {name}")
            return value

        return cls(
            mpesa_api_key=need("SANDBOX_MPESA_API_KEY"),
            mpesa_private_key_pem=need("SANDBOX_MPESA_PRIVATE_KEY"),
            mpesa_service_provider_code=need("SANDBOX_MPESA_SERVICE_PROVIDER_CODE"),
            airtel_client_id=need("SANDBOX_AIRTEL_CLIENT_ID"),
            airtel_client_secret=need("SANDBOX_AIRTEL_CLIENT_SECRET"),
            airtel_callback_hash_key=need("SANDBOX_AIRTEL_CALLBACK_HASH_KEY"),
            airtel_disbursement_pin=need("SANDBOX_AIRTEL_DISBURSEMENT_PIN"),
            airtel_private_key_pem=need("SANDBOX_AIRTEL_PRIVATE_KEY"),
            mixx_username=need("SANDBOX_MIXX_USERNAME"),
            mixx_password=need("SANDBOX_MIXX_PASSWORD"),
            mixx_biller_msisdn=need("SANDBOX_MIXX_BILLER_MSISDN"),
            mixx_biller_code=need("SANDBOX_MIXX_BILLER_CODE"),
            mixx_callback_token=need("SANDBOX_MIXX_CALLBACK_TOKEN"),
            mixx_b2c_msisdn=need("SANDBOX_MIXX_B2C_MSISDN"),
            mixx_b2c_pin=need("SANDBOX_MIXX_B2C_PIN"),
            mixx_b2c_brand_id=need("SANDBOX_MIXX_B2C_BRAND_ID"),
            mixx_query_pin=need("SANDBOX_MIXX_QUERY_PIN"),
            clickpesa_client_id=need("SANDBOX_CLICKPESA_CLIENT_ID"),
            clickpesa_api_key=need("SANDBOX_CLICKPESA_API_KEY"),
            clickpesa_checksum_key=need("SANDBOX_CLICKPESA_CHECKSUM_KEY"),
            webhook_base=(webhook_base or env.get("SANDBOX_WEBHOOK_BASE") or DEFAULT_WEBHOOK_BASE).rstrip("/"),
            settings=settings or Settings(),
            expo_access_token=env.get("SANDBOX_EXPO_ACCESS_TOKEN", ""),
            beem_api_key=env.get("SANDBOX_BEEM_API_KEY", ""),
            beem_secret_key=env.get("SANDBOX_BEEM_SECRET_KEY", ""),
            message_log_dir=env.get("SANDBOX_MESSAGE_LOG_DIR") or None,
        )

    def webhook_url(self, provider: str) -> str:
        return f"{self.webhook_base}/{provider}"
