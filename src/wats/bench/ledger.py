"""``wats bench ledger``: ledger postings against PostgreSQL's own yardstick.

Measured in one run on the same cluster, at N concurrent clients (default 8), both with the
same driver (``pgbench -c N -j 2 -M prepared``):

1. ledger transfers/s: each transaction posts one sale of a line through
   ``private.post_transfer`` (four legs: unallocated money to one of 64 vendors' pending
   earnings, the commission back to the platform), as the payment flow does for every line:
   the transfer's cause claimed (idempotency), the vendor's account locked and updated, the
   entries written and checked to sum to zero;
2. pgbench's TPC-B-like transactions/s (scale 10, in a scratch database of the cluster);

printed as a ratio (aim ≥ 0.5× TPC-B) per round and as the median of three rounds. A
benchmark, not a test: it asserts no speed. It writes bench vendors (owned by the bench
customers of ``wats bench checkout``) and their ledger lines into the instance it runs on.
"""

from __future__ import annotations

import argparse
import statistics

import psycopg

from wats.bench.checkout import bench_uuid, line, pgbench, prepare, rate_of, tpcb, tpcb_init
from wats.bench.load import Result
from wats.settings import Settings
from wats.stack import control

VENDORS = 64
ROUNDS = 3

POST_SCRIPT = f"""
\\set v random(1, {VENDORS})
begin;
select private.post_transfer(
    'order', gen_random_uuid(), 'sale',
    jsonb_build_array(
        private.ledger_leg(b.unallocated, 10000, 'sale'),
        private.ledger_leg(b.pending, -10000, 'sale'),
        private.ledger_leg(b.pending, 1000, 'commission'),
        private.ledger_leg(b.commission, -1000, 'commission')
    ),
    'bench'
)
from wats_bench.accounts as b
where b.n = :v;
end;
"""


def prepare_vendors(settings: Settings, clients: int) -> None:
    """64 approved bench shops, owned by bench customers, with their pending accounts."""
    prepare(settings, clients)  # 64 bench customers per client: enough owners
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        owners = [bench_uuid("customer", n) for n in range(VENDORS)]
        conn.execute(
            """
            insert into public.vendors (owner_id, name, slug, status)
            select o::uuid, 'Bench shop ' || n, 'bench-ledger-' || n, 'approved'
            from unnest(%s::text[]) with ordinality as x (o, n)
            on conflict do nothing
            """,
            [owners],
        )
        conn.execute("drop schema if exists wats_bench cascade")
        conn.execute("create schema wats_bench")
        conn.execute(
            """
            create table wats_bench.accounts as
            select row_number() over (order by v.id) as n,
                   private.ledger_account('vendor_pending', v.id) as pending,
                   private.ledger_account('unallocated') as unallocated,
                   private.ledger_account('commission') as commission
            from public.vendors as v
            where v.slug like 'bench-ledger-%%'
            """
        )
        conn.execute("create unique index on wats_bench.accounts (n)")
        conn.execute("grant usage on schema wats_bench to postgres")
        conn.execute("grant select on wats_bench.accounts to postgres")


def bench_ledger(settings: Settings, clients: int, seconds: float) -> Result:
    args = ["-c", str(clients), "-j", "2", "-T", str(int(seconds)), "-M", "prepared"]
    # as postgres, the role that owns the SQL functions that post (the payment flow's owner)
    report = pgbench(settings, "postgres", "postgres", args, POST_SCRIPT)
    return rate_of(report, "ledger transfer (4 legs, post_transfer)")


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    clients, seconds = args.clients, args.seconds
    prepare_vendors(settings, clients)
    tpcb_init(settings)
    print(
        f"{clients} concurrent clients (pgbench -j 2 -M prepared), {seconds:.0f}s per measurement, "
        f"{ROUNDS} rounds of TPC-B and ledger postings over {VENDORS} vendors\n"
    )
    ratios: list[float] = []
    failed = 0
    try:
        for round_no in range(1, ROUNDS + 1):
            tpc = tpcb(settings, clients, seconds)
            ledger = bench_ledger(settings, clients, seconds)
            failed += ledger.errors + (0 if ledger.requests else 1)
            ratios.append(ledger.rate / tpc.rate)
            print(f"round {round_no}")
            for result in (tpc, ledger):
                print("  " + line(result))
    finally:
        with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
            conn.execute("drop schema if exists wats_bench cascade")
    print(f"\nratio ledger transfers / TPC-B: {statistics.median(ratios):.2f} (median; aim ≥ 0.5)")
    return 0 if failed == 0 else 1
