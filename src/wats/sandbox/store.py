"""In-memory state of the sandbox: transactions, issued tokens, callback deliveries."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wats.sandbox.config import Settings
from wats.sandbox.scenarios import (
    DEFAULT_HOLDER,
    FAILURE_TEXT,
    MISMATCH_HOLDER,
    RefundScenario,
    Scenario,
    WalletScenario,
    refund_scenario_for,
    scenario_for,
    wallet_scenario_for,
)

PENDING = "pending"
SUCCESS = "success"
FAILED = "failed"
EXPIRED = "expired"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def provider_txn_id(prefix: str = "") -> str:
    """A provider-style transaction id: upper-case letters and digits."""
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(10))


@dataclass
class Transaction:
    provider: str
    #: What the merchant calls it: M-Pesa ThirdPartyConversationID, Airtel transaction.id,
    #: Mixx ReferenceID, ClickPesa orderReference.
    ref: str
    #: What the provider calls it (M-Pesa TransactionID, airtel_money_id, MFSTransactionID, id).
    txn_id: str
    msisdn: str
    amount: int
    currency: str
    scenario: Scenario
    created_at: float
    #: When the customer answers; None when they never do.
    answer_at: float | None
    #: When an unanswered prompt expires.
    expires_at: float
    #: The customer's answer once given: SUCCESS or FAILED.
    outcome: str
    #: Normalized failure reason (insufficient_funds, wrong_pin, cancelled, …) when FAILED.
    reason: str | None = None
    #: Provider message for the outcome.
    message: str = ""
    #: Refused at push time (nothing will ever happen).
    refused: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, now: float | None = None) -> str:
        """PENDING, SUCCESS, FAILED or EXPIRED as the provider would report it at ``now``."""
        now = time.time() if now is None else now
        if self.refused:
            return FAILED
        if self.answer_at is None:
            return EXPIRED if now >= self.expires_at else PENDING
        return self.outcome if now >= self.answer_at else PENDING

    @property
    def refunded_amount(self) -> int:
        return sum(int(r["amount"]) for r in self.refunds)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "ref": self.ref,
            "txn_id": self.txn_id,
            "msisdn": self.msisdn,
            "amount": self.amount,
            "currency": self.currency,
            "scenario": self.scenario.value,
            "status": self.status(),
            "outcome": self.outcome,
            "reason": self.reason,
            "message": self.message,
            "refused": self.refused,
            "created_at": iso(self.created_at),
            "answer_at": iso(self.answer_at) if self.answer_at is not None else None,
            "expires_at": iso(self.expires_at),
            "refunds": self.refunds,
            "request": self.request,
        }


@dataclass
class Delivery:
    """One callback (one copy of it) and every attempt to deliver it."""

    id: int
    provider: str
    ref: str
    kind: str
    url: str
    body: str
    headers: dict[str, str]
    due_at: float
    state: str = "scheduled"  # scheduled | delivered | failed | cancelled
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status_code(self) -> int | None:
        return self.attempts[-1].get("status_code") if self.attempts else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "ref": self.ref,
            "kind": self.kind,
            "url": self.url,
            "body": self.body,
            "headers": self.headers,
            "due_at": iso(self.due_at),
            "state": self.state,
            "status_code": self.status_code,
            "attempts": self.attempts,
        }


#: What one attempt to send money back does (decided by the payer's phone, refund_scenario_for).
PAY = "pay"  # the money goes out, the answer says so
PAY_ANSWER_LOST = "pay_answer_lost"  # the money goes out, the answer is lost or unclear
REFUSE_BALANCE = "refuse_balance"  # refused: our float is short
REFUSE_PAYEE = "refuse_payee"  # refused: the payee's wallet cannot receive
LOST = "lost"  # never reaches the provider: nothing recorded but the attempt
DUPLICATE = "duplicate"  # the reference was already paid (or is being paid)

#: Payout statuses.
PAID = "paid"
PAYOUT_PENDING = "pending"
REFUSED = "refused"


@dataclass
class Payout:
    """One attempt to send money back to a payer: a reversal, a refund or a B2C payout.

    ``/_sandbox/payouts`` lists them: what was paid out is the ``paid`` ones.
    """

    provider: str
    #: reversal (M-Pesa), refund (Airtel refund API), disbursement (Airtel B2C), b2c (Mixx),
    #: payout (ClickPesa).
    method: str
    #: The merchant's reference (M-Pesa ThirdPartyConversationID, Airtel transaction.id,
    #: Mixx REFERENCEID, ClickPesa orderReference; the payment's airtel_money_id for the
    #: Airtel refund API, which carries no reference of ours).
    reference: str
    msisdn: str
    amount: int
    scenario: RefundScenario
    #: paid | pending | refused (``lost`` attempts are recorded too, never found by queries).
    outcome: str
    provider_id: str = ""
    reason: str | None = None
    message: str = ""
    #: The payment it gives back money of (reversals and refunds).
    original: str | None = None
    created_at: float = field(default_factory=time.time)
    #: When a pending payout completes (ClickPesa).
    settle_at: float | None = None
    request: dict[str, Any] = field(default_factory=dict)

    def status(self, now: float | None = None) -> str:
        """paid, pending, refused or lost at ``now``."""
        now = time.time() if now is None else now
        if self.outcome == PAYOUT_PENDING and self.settle_at is not None and now >= self.settle_at:
            return PAID
        return self.outcome

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "method": self.method,
            "reference": self.reference,
            "provider_id": self.provider_id,
            "msisdn": self.msisdn,
            "amount": self.amount,
            "scenario": self.scenario.value,
            "status": self.status(),
            "reason": self.reason,
            "message": self.message,
            "original": self.original,
            "created_at": iso(self.created_at),
            "request": self.request,
        }


@dataclass
class IssuedToken:
    provider: str
    expires_at: float


class Store:
    """Everything the sandbox remembers; lost on restart, cleared by ``/_sandbox/reset``."""

    def __init__(self, settings: Settings) -> None:
        self.initial_settings = settings
        self.settings = settings
        self.transactions: dict[tuple[str, str], Transaction] = {}
        self.by_txn_id: dict[tuple[str, str], Transaction] = {}
        self.deliveries: list[Delivery] = []
        self.payouts: list[Payout] = []
        self.tokens: dict[str, IssuedToken] = {}
        #: Wallet holders' names as the providers' KYC records hold them (/_sandbox/wallets).
        self.wallet_names: dict[str, str] = {}
        self._next_delivery = 1

    # -- tokens -------------------------------------------------------------------------
    def issue_token(self, provider: str, ttl_s: float | None = None) -> str:
        token = secrets.token_urlsafe(32)
        ttl = self.settings.token_ttl_s if ttl_s is None else ttl_s
        self.tokens[token] = IssuedToken(provider, time.time() + ttl)
        return token

    def token_valid(self, provider: str, token: str) -> bool:
        issued = self.tokens.get(token)
        return issued is not None and issued.provider == provider and issued.expires_at > time.time()

    # -- transactions -------------------------------------------------------------------
    def get(self, provider: str, ref: str) -> Transaction | None:
        return self.transactions.get((provider, ref))

    def get_by_txn_id(self, provider: str, txn_id: str) -> Transaction | None:
        return self.by_txn_id.get((provider, txn_id))

    def create(
        self,
        provider: str,
        ref: str,
        msisdn: str,
        amount: int,
        currency: str,
        request: dict[str, Any],
        *,
        not_applicable: frozenset[Scenario] = frozenset(),
        txn_prefix: str = "",
    ) -> Transaction:
        """Record a push and decide, from the phone number, what the customer will do.

        Scenarios in ``not_applicable`` (no callbacks to lose, duplicate or forge) behave
        as plain success for this provider.
        """
        now = time.time()
        s = self.settings
        scenario = scenario_for(msisdn)
        effective = Scenario.SUCCESS if scenario in not_applicable else scenario
        answer_at: float | None = now + s.answer_delay_s
        outcome, reason, message = SUCCESS, None, "Transaction processed successfully"
        refused = False
        if effective is Scenario.LATE_CALLBACK:
            answer_at = now + s.late_delay_s
        elif effective in (Scenario.NO_CALLBACK, Scenario.BAD_SIGNATURE):
            answer_at = None
            outcome, reason, message = FAILED, "timeout", "Request timed out"
        elif effective in FAILURE_TEXT:
            reason, message = FAILURE_TEXT[effective]
            outcome = FAILED
        elif effective is Scenario.REFUSED:
            refused, outcome, reason, message = True, FAILED, "invalid_msisdn", "Invalid MSISDN"
        txn = Transaction(
            provider=provider,
            ref=ref,
            txn_id=provider_txn_id(txn_prefix),
            msisdn=msisdn,
            amount=amount,
            currency=currency,
            scenario=effective,
            created_at=now,
            answer_at=answer_at,
            expires_at=now + s.prompt_timeout_s,
            outcome=outcome,
            reason=reason,
            message=message,
            refused=refused,
            request=request,
        )
        self.transactions[(provider, ref)] = txn
        self.by_txn_id[(provider, txn.txn_id)] = txn
        return txn

    # -- money going back ---------------------------------------------------------------
    def payout_attempts(self, provider: str, reference: str) -> list[Payout]:
        return [p for p in self.payouts if p.provider == provider and p.reference == reference]

    def found_payout(self, provider: str, reference: str) -> Payout | None:
        """What a status query finds for ``reference``: the accepted payout, else the last
        refused one; never a lost attempt."""
        attempts = [p for p in self.payout_attempts(provider, reference) if p.outcome != LOST]
        accepted = [p for p in attempts if p.outcome != REFUSED]
        if accepted:
            return accepted[-1]
        return attempts[-1] if attempts else None

    def decide_payout(self, provider: str, reference: str, msisdn: str) -> str:
        """What this attempt to send money back to ``msisdn`` does (PAY, PAY_ANSWER_LOST,
        REFUSE_BALANCE, REFUSE_PAYEE, LOST or DUPLICATE), from the payer's phone and the
        earlier attempts with the same reference."""
        earlier = self.payout_attempts(provider, reference)
        if any(p.outcome in (PAID, PAYOUT_PENDING) for p in earlier):
            return DUPLICATE
        scenario = refund_scenario_for(msisdn)
        if scenario is RefundScenario.FAILS_ONCE:
            return PAY if any(p.outcome == REFUSED for p in earlier) else REFUSE_BALANCE
        if scenario is RefundScenario.REFUSED:
            return REFUSE_PAYEE
        if scenario is RefundScenario.ANSWER_LOST:
            return PAY_ANSWER_LOST
        if scenario is RefundScenario.NOT_RECEIVED:
            return PAY if any(p.outcome == LOST for p in earlier) else LOST
        return PAY

    def record_payout(
        self,
        provider: str,
        method: str,
        reference: str,
        msisdn: str,
        amount: int,
        outcome: str,
        *,
        request: dict[str, Any],
        reason: str | None = None,
        message: str = "",
        original: str | None = None,
        settle_after_s: float | None = None,
        id_prefix: str = "",
    ) -> Payout:
        payout = Payout(
            provider=provider,
            method=method,
            reference=reference,
            msisdn=msisdn,
            amount=amount,
            scenario=refund_scenario_for(msisdn),
            outcome=outcome,
            provider_id=provider_txn_id(id_prefix) if outcome in (PAID, PAYOUT_PENDING) else "",
            reason=reason,
            message=message,
            original=original,
            settle_at=None if settle_after_s is None else time.time() + settle_after_s,
            request=request,
        )
        self.payouts.append(payout)
        return payout

    # -- deliveries ---------------------------------------------------------------------
    def new_delivery(
        self,
        provider: str,
        ref: str,
        kind: str,
        url: str,
        body: str,
        headers: dict[str, str],
        due_at: float,
    ) -> Delivery:
        delivery = Delivery(self._next_delivery, provider, ref, kind, url, body, headers, due_at)
        self._next_delivery += 1
        self.deliveries.append(delivery)
        return delivery

    # -- wallet holders (name lookups before a vendor's first payout) ------------------
    def holder_name(self, msisdn: str) -> str | None:
        """The name a provider's lookup answers for ``msisdn``: the registered one (else
        DEFAULT_HOLDER); another person's in the name-mismatch scenario; None when the
        wallet does not exist (wallet_scenario_for)."""
        scenario = wallet_scenario_for(msisdn)
        if scenario is WalletScenario.NOT_REGISTERED:
            return None
        if scenario is WalletScenario.NAME_MISMATCH:
            return MISMATCH_HOLDER
        return self.wallet_names.get(msisdn, DEFAULT_HOLDER)

    def reset(self) -> None:
        self.transactions.clear()
        self.by_txn_id.clear()
        self.deliveries.clear()
        self.payouts.clear()
        self.wallet_names.clear()
        self.settings = self.initial_settings
