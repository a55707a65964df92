"""Outcome of a sandbox payment, chosen by the last two digits of the customer's phone,
and of a refund sent back to that phone.

These tables are the single source of truth; ``docs/payments.md`` shows the same tables.
Payment codes sit in the 90s so that ordinary seeded numbers (…01, …02, …) simply pay;
refund codes sit in the 80s, which pay normally, so a payer whose phone ends in 8x pays and
then plays out a refund scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scenario(StrEnum):
    SUCCESS = "success"
    LOST_CALLBACK = "lost_callback"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    WRONG_PIN = "wrong_pin"
    CANCELLED = "cancelled"
    NO_CALLBACK = "no_callback"
    LATE_CALLBACK = "late_callback"
    DUPLICATE_CALLBACKS = "duplicate_callbacks"
    AMBIGUOUS_THEN_SUCCESS = "ambiguous_then_success"
    BAD_SIGNATURE = "bad_signature"
    REFUSED = "refused"


@dataclass(frozen=True)
class ScenarioInfo:
    digits: str
    scenario: Scenario
    summary: str
    #: What each provider's sandbox does (keys: mpesa, airtel, mixx, halopesa).
    behaviour: dict[str, str]


_DEFAULT = ScenarioInfo(
    "any other",
    Scenario.SUCCESS,
    "customer enters the PIN; payment succeeds",
    {
        "mpesa": "reply held answer_delay_s, then 201 INS-0 with a transaction id",
        "airtel": "push DP00800001006 (in progress); callback TS after answer_delay_s; status TS",
        "mixx": 'push BILLER-18-0000-S; callback Status "true" after answer_delay_s',
        "halopesa": "push PROCESSING; webhook PAYMENT RECEIVED after answer_delay_s; status SUCCESS",
    },
)

TABLE: tuple[ScenarioInfo, ...] = (
    ScenarioInfo(
        "90",
        Scenario.LOST_CALLBACK,
        "customer pays, but the callback never arrives (only a status query tells)",
        {
            "mpesa": "n/a (no callbacks): plain success",
            "airtel": "push accepted; no callback; status TS after answer_delay_s",
            "mixx": "push accepted; no callback; the transaction query (MTPGGetSODetails) says Posted "
            "after answer_delay_s (without MIXX_QUERY_* it stays unresolved until our expiry)",
            "halopesa": "push accepted; no webhook; status SUCCESS after answer_delay_s",
        },
    ),
    ScenarioInfo(
        "91",
        Scenario.INSUFFICIENT_FUNDS,
        "insufficient funds",
        {
            "mpesa": "422 INS-2006 after answer_delay_s; status Failed",
            "airtel": "push accepted; callback TF 'Insufficient funds'; status TF DP00800001007",
            "mixx": "push accepted; callback Status \"false\" 'Insufficient balance'",
            "halopesa": "push accepted; webhook PAYMENT FAILED 'Insufficient balance'; status FAILED",
        },
    ),
    ScenarioInfo(
        "92",
        Scenario.WRONG_PIN,
        "wrong PIN",
        {
            "mpesa": "400 INS-2001 after answer_delay_s; status Failed",
            "airtel": "push accepted; callback TF 'Incorrect PIN'; status TF DP00800001002",
            "mixx": "push accepted; callback Status \"false\" 'Invalid PIN'",
            "halopesa": "push accepted; webhook PAYMENT FAILED 'Invalid PIN'; status FAILED",
        },
    ),
    ScenarioInfo(
        "93",
        Scenario.CANCELLED,
        "customer cancels the prompt",
        {
            "mpesa": "422 INS-5 after answer_delay_s; status Cancelled",
            "airtel": "push accepted; callback TF 'Transaction cancelled by customer'; status TF DP00800001008",
            "mixx": "push accepted; callback Status \"false\" 'Transaction cancelled by customer'",
            "halopesa": "push accepted; webhook PAYMENT FAILED 'Transaction cancelled by customer'",
        },
    ),
    ScenarioInfo(
        "94",
        Scenario.NO_CALLBACK,
        "customer never answers; no callback; the provider finally says expired/failed",
        {
            "mpesa": "reply held prompt_timeout_s then 408 INS-9 (ambiguous; a shorter adapter "
            "timeout also gives ambiguous); status Pending, then Expired after prompt_timeout_s",
            "airtel": "push accepted; no callback; status TIP, then TE after prompt_timeout_s",
            "mixx": "push accepted; no callback; query Pending, then Failed after prompt_timeout_s "
            "(without MIXX_QUERY_*: our expiry resolves it)",
            "halopesa": "push accepted; no webhook; status PROCESSING, then FAILED "
            "'Request timed out' after prompt_timeout_s",
        },
    ),
    ScenarioInfo(
        "95",
        Scenario.LATE_CALLBACK,
        "customer pays late: the success arrives after late_delay_s",
        {
            "mpesa": "reply held late_delay_s then 201 INS-0 (a shorter adapter timeout gives "
            "ambiguous); status Pending, then Completed",
            "airtel": "push accepted; callback TS after late_delay_s; status TIP until then",
            "mixx": 'push accepted; callback Status "true" after late_delay_s',
            "halopesa": "push accepted; webhook PAYMENT RECEIVED after late_delay_s",
        },
    ),
    ScenarioInfo(
        "96",
        Scenario.DUPLICATE_CALLBACKS,
        "success, and the same callback is delivered duplicate_count times",
        {
            "mpesa": "n/a (no callbacks): plain success",
            "airtel": "identical callback TS delivered duplicate_count times",
            "mixx": "identical callback delivered duplicate_count times",
            "halopesa": "identical webhook delivered duplicate_count times",
        },
    ),
    ScenarioInfo(
        "97",
        Scenario.AMBIGUOUS_THEN_SUCCESS,
        "push reply is ambiguous, yet the customer paid",
        {
            "mpesa": "500 INS-1 after answer_delay_s; status Completed",
            "airtel": "push reply DP00800001000 (ambiguous); callback TS; status TS",
            "mixx": 'push reply HTTP 504; callback Status "true" after answer_delay_s',
            "halopesa": "push reply HTTP 502; webhook PAYMENT RECEIVED; status SUCCESS",
        },
    ),
    ScenarioInfo(
        "98",
        Scenario.BAD_SIGNATURE,
        "a forged success callback (wrong key / wrong URL token); the customer never paid",
        {
            "mpesa": "n/a (no callbacks): plain success",
            "airtel": "callback TS whose hash uses a wrong key; status TIP, then TE",
            "mixx": 'callback Status "true" sent to the webhook with a wrong ?token=',
            "halopesa": "webhook PAYMENT RECEIVED with a checksum made with a wrong key; "
            "status PROCESSING, then FAILED",
        },
    ),
    ScenarioInfo(
        "99",
        Scenario.REFUSED,
        "push refused at once (number not registered for mobile money)",
        {
            "mpesa": "400 INS-2051 'Invalid MSISDN' at once",
            "airtel": "400 'Invalid MSISDN' at once",
            "mixx": "200 ResponseStatus false 'Invalid customer MSISDN' at once",
            "halopesa": "400 'Invalid phone number' at once",
        },
    ),
)

_BY_DIGITS = {info.digits: info for info in TABLE}


def scenario_for(msisdn: str) -> Scenario:
    """The scenario for a phone number: by its last two digits, success otherwise."""
    info = _BY_DIGITS.get(msisdn[-2:])
    return info.scenario if info else Scenario.SUCCESS


def describe() -> list[dict[str, object]]:
    """The table as JSON-able rows (served at ``/_sandbox/scenarios``)."""
    return [
        {
            "digits": info.digits,
            "scenario": info.scenario.value,
            "summary": info.summary,
            "behaviour": info.behaviour,
        }
        for info in (*TABLE, _DEFAULT)
    ]


#: Failure reason (our normalized vocabulary) and the message each provider sends for it.
FAILURE_TEXT: dict[Scenario, tuple[str, str]] = {
    Scenario.INSUFFICIENT_FUNDS: ("insufficient_funds", "Insufficient balance"),
    Scenario.WRONG_PIN: ("wrong_pin", "Invalid PIN"),
    Scenario.CANCELLED: ("cancelled", "Transaction cancelled by customer"),
}


# -- refunds ------------------------------------------------------------------------------


class RefundScenario(StrEnum):
    SUCCESS = "refund_success"
    FAILS_ONCE = "refund_fails_once"
    REFUSED = "refund_refused"
    ANSWER_LOST = "refund_answer_lost"
    NOT_RECEIVED = "refund_not_received"
    DUPLICATE_CALLBACKS = "refund_duplicate_callbacks"


@dataclass(frozen=True)
class RefundScenarioInfo:
    digits: str
    scenario: RefundScenario
    summary: str
    #: What each provider's refund, reversal or payout API does (keys: the providers).
    behaviour: dict[str, str]


_REFUND_DEFAULT = RefundScenarioInfo(
    "any other",
    RefundScenario.SUCCESS,
    "the money goes back",
    {
        "mpesa": "reversal 201 INS-0 with a new transaction id; status Completed",
        "airtel": "refund 200 transaction.status SUCCESS (status.success false, as documented); "
        "disbursement DP00900001001 TS; enquiry TS",
        "mixx": "B2C TXNSTATUS error000 with a TXNID",
        "halopesa": "preview 200; create AUTHORIZED; webhook PAYOUT INITIATED (SUCCESS) after "
        "answer_delay_s; status PROCESSING, then SUCCESS",
    },
)

REFUND_TABLE: tuple[RefundScenarioInfo, ...] = (
    RefundScenarioInfo(
        "81",
        RefundScenario.FAILS_ONCE,
        "the first attempt is refused (our float is short), a retry with the same reference pays",
        {
            "mpesa": "422 INS-2006 'Insufficient balance'; then as success",
            "airtel": "refund 400 'Insufficient balance in the merchant account'; disbursement "
            "DP00900001007; then as success",
            "mixx": "TXNSTATUS error013 'Insufficient funds'; then as success",
            "halopesa": "preview 400 'Insufficient balance'; then as success",
        },
    ),
    RefundScenarioInfo(
        "82",
        RefundScenario.REFUSED,
        "always refused: the payer's wallet cannot receive (an operator pays by hand)",
        {
            "mpesa": "422 INS-6 'Transaction Failed'",
            "airtel": "refund 400 'Transaction is not eligible for refund'; disbursement DP00900001012",
            "mixx": "TXNSTATUS error010 'Invalid customer: wallet barred'",
            "halopesa": "preview 400 'Receiver account cannot receive payouts'",
        },
    ),
    RefundScenarioInfo(
        "83",
        RefundScenario.ANSWER_LOST,
        "the money goes out but our answer is lost; only a status query tells",
        {
            "mpesa": "reversal done, reply 500 INS-1; status Completed; a resend is 409 INS-10",
            "airtel": "refund done, reply 500 (no query exists); disbursement done, reply DP00900001000; enquiry TS",
            "mixx": "paid, TXNSTATUS error111 'No response' (no query exists: an operator settles it)",
            "halopesa": "payout created, reply 502, no webhook; status SUCCESS after answer_delay_s",
        },
    ),
    RefundScenarioInfo(
        "84",
        RefundScenario.NOT_RECEIVED,
        "the first attempt never reaches the provider (gateway timeout); the status query does "
        "not know it; a retry with the same reference pays",
        {
            "mpesa": "503 (nothing recorded); status INS-18; then as success",
            "airtel": "refund and disbursement 504 (nothing recorded); enquiry DP00900001015; then as success",
            "mixx": "504 (nothing recorded); then as success",
            "halopesa": "create 504 (nothing recorded); status 404; then as success",
        },
    ),
    RefundScenarioInfo(
        "86",
        RefundScenario.DUPLICATE_CALLBACKS,
        "success, and the payout webhook is delivered duplicate_count times",
        {
            "mpesa": "n/a (no callbacks): plain success",
            "airtel": "n/a (no refund callbacks): plain success",
            "mixx": "n/a (no callbacks): plain success",
            "halopesa": "identical PAYOUT INITIATED webhook delivered duplicate_count times",
        },
    ),
)

_REFUND_BY_DIGITS = {info.digits: info for info in REFUND_TABLE}


def refund_scenario_for(msisdn: str) -> RefundScenario:
    """The refund scenario for the payer's phone: by its last two digits, success otherwise."""
    info = _REFUND_BY_DIGITS.get(msisdn[-2:])
    return info.scenario if info else RefundScenario.SUCCESS


def describe_refunds() -> list[dict[str, object]]:
    """The refund table as JSON-able rows (served at ``/_sandbox/scenarios``)."""
    return [
        {"digits": info.digits, "scenario": info.scenario.value, "summary": info.summary, "behaviour": info.behaviour}
        for info in (*REFUND_TABLE, _REFUND_DEFAULT)
    ]


# -- vendor payouts -------------------------------------------------------------------------
#
# A vendor's payout goes to the vendor's own wallet by the same B2C products that carry
# refunds sent as payouts (M-Pesa B2C, Airtel disbursement, Mixx B2C, ClickPesa payout), so
# the payee's last two digits play out the money-out scenarios of REFUND_TABLE (81-84, 86).
# Before a wallet's first payout its holder's name is looked up (M-Pesa Query Beneficiary
# Name, Airtel KYC user enquiry, ClickPesa's payout preview); the lookup answers the name
# registered at /_sandbox/wallets, else DEFAULT_HOLDER, except for two wallet scenarios.


class WalletScenario(StrEnum):
    REGISTERED = "wallet_registered"
    NAME_MISMATCH = "wallet_name_mismatch"
    NOT_REGISTERED = "wallet_not_registered"


#: The name a lookup answers for a wallet nobody registered at /_sandbox/wallets.
DEFAULT_HOLDER = "Sandbox Customer"
#: The name a lookup answers in the name-mismatch scenario, whatever was registered.
MISMATCH_HOLDER = "Mwajuma Selemani Kiwelu"

_WALLETS = {"85": WalletScenario.NAME_MISMATCH, "87": WalletScenario.NOT_REGISTERED}


def wallet_scenario_for(msisdn: str) -> WalletScenario:
    """What a name lookup of ``msisdn`` answers: by its last two digits."""
    return _WALLETS.get(msisdn[-2:], WalletScenario.REGISTERED)


@dataclass(frozen=True)
class PayoutScenarioInfo:
    digits: str
    scenario: str
    summary: str
    #: What each provider's sandbox does (keys: the providers).
    behaviour: dict[str, str]


PAYOUT_TABLE: tuple[PayoutScenarioInfo, ...] = (
    PayoutScenarioInfo(
        "81",
        RefundScenario.FAILS_ONCE.value,
        "refused once (our float is short); a payout with the same reference pays",
        _REFUND_BY_DIGITS["81"].behaviour,
    ),
    PayoutScenarioInfo(
        "82",
        RefundScenario.REFUSED.value,
        "always refused: the wallet cannot receive (the money goes back to the vendor's balance)",
        {
            "mpesa": "B2C 400 INS-2002 'Receiver invalid'",
            "airtel": "disbursement DP00900001012",
            "mixx": "TXNSTATUS error010 'Invalid customer: wallet barred'",
            "halopesa": "preview 400 'Receiver account cannot receive payouts'",
        },
    ),
    PayoutScenarioInfo(
        "83",
        RefundScenario.ANSWER_LOST.value,
        "ambiguous, then paid: the money goes out but the answer is lost; the status query (a later run) says paid",
        {
            "mpesa": "B2C done, reply 500 INS-1; status Completed",
            "airtel": "disbursement done, reply DP00900001000; enquiry TS",
            "mixx": "paid, TXNSTATUS error111 (no query: an operator settles it)",
            "halopesa": "payout created, reply 502, no webhook; status SUCCESS",
        },
    ),
    PayoutScenarioInfo(
        "84",
        RefundScenario.NOT_RECEIVED.value,
        "the payout never reaches the provider; the status query does not know it (a later run fails it)",
        {
            "mpesa": "B2C 503 INS-16 (nothing recorded); status INS-18",
            "airtel": "disbursement 504 (nothing recorded); enquiry DP00900001015",
            "mixx": "504 (nothing recorded)",
            "halopesa": "create 504 (nothing recorded); status 404",
        },
    ),
    PayoutScenarioInfo(
        "85",
        WalletScenario.NAME_MISMATCH.value,
        f"the name lookup answers another person's name ({MISMATCH_HOLDER}): nothing is sent",
        {
            "mpesa": "queryBeneficiaryName INS-0 with that first and last name",
            "airtel": "users/{msisdn} 200 with that first_name and last_name",
            "mixx": "n/a (no lookup)",
            "halopesa": "preview 200 with that receiver.accountName",
        },
    ),
    PayoutScenarioInfo(
        "86",
        RefundScenario.DUPLICATE_CALLBACKS.value,
        "paid, and the payout webhook is delivered duplicate_count times",
        _REFUND_BY_DIGITS["86"].behaviour,
    ),
    PayoutScenarioInfo(
        "87",
        WalletScenario.NOT_REGISTERED.value,
        "the name lookup says there is no such wallet: nothing is sent",
        {
            "mpesa": "queryBeneficiaryName 400 INS-2051 'MSISDN invalid'",
            "airtel": "users/{msisdn} 404 'User not found'",
            "mixx": "n/a (no lookup)",
            "halopesa": "preview 400 'phoneNumber is not registered for mobile money'",
        },
    ),
    PayoutScenarioInfo(
        "any other",
        "paid",
        "the lookup answers the registered name (else Sandbox Customer); the payout is paid",
        {
            "mpesa": "B2C 201 INS-0 with a transaction id; status Completed",
            "airtel": "disbursement DP00900001001 TS; enquiry TS",
            "mixx": "B2C TXNSTATUS error000 with a TXNID (no lookup: an admin confirms the wallet)",
            "halopesa": "preview 200 (receiver.accountName); create AUTHORIZED; PAYOUT INITIATED "
            "(SUCCESS) after answer_delay_s; status SUCCESS",
        },
    ),
)


def describe_payouts() -> list[dict[str, object]]:
    """The payout table as JSON-able rows (served at ``/_sandbox/payout-scenarios``)."""
    return [
        {"digits": info.digits, "scenario": info.scenario, "summary": info.summary, "behaviour": info.behaviour}
        for info in PAYOUT_TABLE
    ]
