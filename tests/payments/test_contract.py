"""The payment contract is written once, in SQL: the Edge Functions' contract.ts and the
Python tooling's provider list must say the same, or this fails.

From the database: the check constraints of the domains ``public.payment_provider``,
``public.payment_status``, ``public.order_status`` and ``public.msisdn``
(``pg_get_constraintdef``), the check of ``private.payment_references.reference`` and the
idempotency-key regex of the domain ``public.idempotency_key``. From TypeScript: the values
``supabase/functions/_shared/payments/contract.ts`` exports, printed as JSON by Deno. From
Python: ``wats.sandbox.PROVIDERS`` (the demo, the seeds and the tests iterate it). Lists are
compared in order (the order is part of the messages); patterns as text and, on sample
strings, by what PostgreSQL's and JavaScript's regex engines make of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.payments.market import ADDRESS, Market
from wats.sandbox import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
DENO = ROOT / "tools" / "node_modules" / ".bin" / "deno"
CONTRACT_TS = ROOT / "supabase" / "functions" / "_shared" / "payments" / "contract.ts"

#: Strings each pattern is tried on, on both sides.
SAMPLES = {
    "msisdn": ["255712345678", "255612345678", "0712345678", "25571234567", "2557123456789", "255 712345678", ""],
    "idempotency_key": [
        "checkout-key-0001",
        "short",
        "12345678",
        "has space in it",
        "x" * 255,
        "x" * 256,
        "tab\there-ok?",
        "ключ-ключ-ключ",
        "key~!@#$%^&*()",
    ],
    "reference": ["WP0123456789ABCDEF01", "WATS", "WP1", "has-dash", "x" * 20, "x" * 21, "wp0123", ""],
}

PRINT_CONTRACT = """
const c = await import(Deno.args[0]);
const samples = JSON.parse(Deno.args[1]);
const patterns = {
  msisdn: c.MSISDN_PATTERN,
  idempotency_key: c.IDEMPOTENCY_KEY_PATTERN,
  reference: c.REFERENCE_PATTERN,
};
console.log(JSON.stringify({
  providers: c.PROVIDERS,
  payment_states: c.PAYMENT_STATES,
  order_states: c.ORDER_STATES,
  patterns: Object.fromEntries(
    Object.entries(patterns).map(([k, p]) => [k, { source: p.source, flags: p.flags }]),
  ),
  matches: Object.fromEntries(
    Object.entries(patterns).map(([k, p]) => [k, samples[k].map((s) => p.test(s))]),
  ),
}));
"""


@pytest.fixture(scope="module")
def typescript() -> dict[str, Any]:
    """What contract.ts exports, as Deno reads it."""
    assert DENO.exists(), f"no Deno at {DENO}: run ./scripts/wats once to install the tools"
    env = dict(os.environ, NO_COLOR="1", DENO_NO_UPDATE_CHECK="1")
    env.setdefault("DENO_DIR", str(ROOT / ".wats" / "deno"))
    proc = subprocess.run(
        [str(DENO), "eval", PRINT_CONTRACT, CONTRACT_TS.as_uri(), json.dumps(SAMPLES)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def domain_check(db: psycopg.Connection, domain: str) -> str:
    rows = db.execute(
        "select pg_get_constraintdef(c.oid) from pg_constraint c where c.contypid = %s::regtype and c.contype = 'c'",
        [domain],
    ).fetchall()
    assert len(rows) == 1, f"{domain} should have exactly one check constraint, has {rows}"
    return str(rows[0][0])


def listed_values(check: str) -> list[str]:
    """``CHECK ((VALUE = ANY (ARRAY['a'::text, 'b'::text])))`` → ``['a', 'b']``."""
    assert "= ANY (ARRAY[" in check, check
    return re.findall(r"'([^']*)'::text", check)


def regex_of(check: str, subject: str) -> str:
    """``CHECK ((VALUE ~ '^…$'::text))`` → ``^…$``."""
    match = re.fullmatch(rf"CHECK \(\({re.escape(subject)} ~ '(.*)'::text\)\)", check)
    assert match, check
    return match.group(1).replace("''", "'")


def database_contract(db: psycopg.Connection) -> dict[str, Any]:
    references = db.execute(
        "select pg_get_constraintdef(c.oid) from pg_constraint c "
        "where c.conrelid = 'private.payment_references'::regclass and c.contype = 'c' "
        "and pg_get_constraintdef(c.oid) like '%%reference ~%%'"
    ).fetchall()
    assert len(references) == 1, references
    return {
        "providers": listed_values(domain_check(db, "public.payment_provider")),
        "payment_states": listed_values(domain_check(db, "public.payment_status")),
        "order_states": listed_values(domain_check(db, "public.order_status")),
        "patterns": {
            "msisdn": regex_of(domain_check(db, "public.msisdn"), "VALUE"),
            "idempotency_key": regex_of(domain_check(db, "public.idempotency_key"), "VALUE"),
            "reference": regex_of(str(references[0][0]), "reference"),
        },
    }


def test_contract_ts_lists_what_the_database_lists(db: psycopg.Connection, typescript: dict[str, Any]):
    sql = database_contract(db)
    for name in ("providers", "payment_states", "order_states"):
        assert typescript[name] == sql[name], f"contract.ts {name} drifted from the database"
    assert len(sql["payment_states"]) == 8 and "partially_refunded" in sql["payment_states"]


def test_contract_ts_patterns_are_the_databases(db: psycopg.Connection, typescript: dict[str, Any]):
    sql = database_contract(db)
    for name, pattern in sql["patterns"].items():
        ts = typescript["patterns"][name]
        assert (ts["source"], ts["flags"]) == (pattern, ""), f"contract.ts {name} pattern drifted"
        # and both engines agree on what the pattern accepts
        in_sql = [db.execute("select %s ~ %s", [sample, pattern]).fetchone()[0] for sample in SAMPLES[name]]  # type: ignore[index]
        assert typescript["matches"][name] == in_sql, f"{name}: {SAMPLES[name]}"
        assert any(in_sql) and not all(in_sql), f"{name}: the samples must tell accepted from refused"


def test_the_reference_the_database_hands_out_fits_the_pattern(db: psycopg.Connection, typescript: dict[str, Any]):
    default = db.execute(
        "select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d join pg_attribute a "
        "on a.attrelid = d.adrelid and a.attnum = d.adnum "
        "where d.adrelid = 'private.payment_references'::regclass and a.attname = 'reference'"
    ).fetchone()
    assert default is not None
    made = [db.execute(f"select {default[0]}").fetchone()[0] for _ in range(5)]  # type: ignore[index]
    assert len(set(made)) == 5
    for reference in made:
        assert re.fullmatch(typescript["patterns"]["reference"]["source"], reference), reference


def test_the_python_provider_list_is_the_databases(db: psycopg.Connection):
    assert list(PROVIDERS) == listed_values(domain_check(db, "public.payment_provider"))


def test_checkout_names_the_providers_as_the_database_does(market: Market):
    """The 422 of checkout-initiate (contract.ts) and of public.checkout (the domain) read
    the same."""
    customer = market.customer()
    answer = market.http.post(
        f"{market.target.url}/functions/v1/checkout-initiate",
        json={"provider": "paypal", "shipping_address": ADDRESS},
        headers={
            "Authorization": f"Bearer {customer.token}",
            "apikey": market.target.anon_key,
            "Idempotency-Key": f"contract-{uuid.uuid4()}",
        },
    )
    assert answer.status_code == 422, answer.text
    row = market.db.execute("select 'provider must be one of ' || private.payment_providers()").fetchone()
    assert row is not None
    assert answer.json()["error"]["message"] == row[0]
