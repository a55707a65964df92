"""``wats bench rls``: what row level security costs on the ``wats seed --scale N`` dataset.

Two measurements in one run, each role against the service role with the explicit filter
that names the same rows, measured side by side:

1. **At the database** (``rls_db``), where hosted Supabase pays for RLS: for every table the
   Data API serves and every matrix role that may read it (``rls_reads``: a page without a
   filter and, for each set about the person, the page with that filter as well), the
   statement PostgREST runs, in PostgREST's transaction, timed with pgbench. Printed per
   read: mean latency of both sides, the ratio role/service (target ≤ 1.2), whether the role's
   plan reads the same way as the service role's (same scans, same indexes, in the same
   order) and what the policy helpers cost as init plans; then the plans that differ, and
   each helper's own cost per statement and role.
2. **Through the Data API** (``rls_api``): three everyday requests over HTTP, labelled as
   what they are (the API's own time per request dominates them).

The instance's scheduled jobs are paused while it measures (and active again afterwards):
at this scale one alerts evaluation takes seconds and would land in someone's timing.

A benchmark, not a test: it asserts nothing about speed. The exit status is not zero when a
read's two sides return different rows, or requests fail.
"""

from __future__ import annotations

import argparse
import statistics

import psycopg

from wats.bench import rls_api
from wats.bench.rls_db import (
    Measured,
    Renderer,
    check_same,
    helper_costs,
    key_claims,
    measure,
    pick_people,
    policy_helpers,
    statements,
)
from wats.bench.rls_reads import Read, reads_of, unmeasured
from wats.seed import synthetic
from wats.settings import Settings
from wats.stack import control
from wats.stack.scheduler import every_job_paused

TARGET = 1.2


def selected(reads: list[Read], only: str | None) -> list[Read]:
    """``--only orders,order_items:vendor``: tables, optionally one role each."""
    if not only:
        return reads
    wanted = [w.strip() for w in only.split(",") if w.strip()]

    def keep(read: Read) -> bool:
        return any(w in (read.table, f"{read.table}:{read.role}") for w in wanted)

    return [r for r in reads if keep(r)]


def path_text(steps: list[str]) -> str:
    return " > ".join(steps) if steps else "(no scan)"


def report(results: list[Measured]) -> None:
    print(
        f"\n{'table':<20} {'role':<9} {'read':<17} {'rows':>4} {'role ms':>8} {'svc ms':>8} "
        f"{'role/svc':>8}  {'plan':<9} {'helpers (init plans)':<22}"
    )
    for m in results:
        verdict = "" if m.ratio <= TARGET else f"  over {TARGET}x"
        plan = "same" if m.same_path else "DIFFERENT"
        helpers = (
            f"{m.role_plan.initplan_ms:.3f} ms, {m.role_plan.initplan_buffers} buf ({m.role_plan.initplans})"
            if m.role_plan.initplans
            else "-"
        )
        if m.role_plan.probes:
            helpers += f" +{m.role_plan.probes} probes"
        if m.role.timed_out or m.service.timed_out:
            verdict += "  (timed out: statement_timeout)"
        print(
            f"{m.read.table:<20} {m.read.role:<9} {m.read.name:<17} {m.rows:>4} {m.role.latency_ms:>8.3f} "
            f"{m.service.latency_ms:>8.3f} {m.ratio:>7.2f}x  {plan:<9} {helpers:<22}{verdict}"
        )
    over = [m for m in results if m.ratio > TARGET]
    ratios = [m.ratio for m in results]
    if ratios:
        print(
            f"\n{len(results)} reads: role/service median {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x; "
            f"{len(over)} over {TARGET}x; {sum(not m.same_path for m in results)} with a different plan"
        )
    different = [m for m in results if not m.same_path]
    if different:
        print("\nPlans that differ (access paths outside the init plans, outermost first):")
        for m in different:
            role, service = m.paths()
            print(f"  {m.read.label}")
            print(f"    role:    {path_text(role)}   ({m.role_plan.buffers} buffers)")
            print(f"    service: {path_text(service)}   ({m.service_plan.buffers} buffers)")


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    if args.scale:
        synthetic.build(settings, args.scale)
    with every_job_paused(settings.db_url()) as paused:
        if paused:
            print(f"Scheduled jobs paused while measuring: {len(paused)} (active again afterwards)")
        return measure_all(settings, args)


def measure_all(settings: Settings, args: argparse.Namespace) -> int:
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        counts = conn.execute(
            "select (select count(*) from public.products), (select count(*) from public.order_items)"
        ).fetchone() or (0, 0)
        try:
            people = pick_people(conn, settings, args.clients)
        except LookupError as exc:
            print(f"{exc}")
            return 1
        print(
            f"Dataset: {counts[0]:,} products, {counts[1]:,} order lines; {len(people['customer'])} customers, "
            f"{len(people['vendor'])} shops' owners, an admin, anon"
        )
        renderer = Renderer(settings)
        service = key_claims(settings, settings.service_role_key)
        reads = selected(reads_of(settings.root), args.only)
        if skipped := unmeasured(settings.root):
            print(
                f"Not measured (the service role reads them only through functions: no baseline): {', '.join(skipped)}"
            )
        prepared = []
        for read in reads:
            role, svc = statements(conn, renderer, read, people[read.role], service)
            prepared.append((read, role, svc, check_same(conn, read, role, svc)))
        print(
            f"\nAt the database: {len(prepared)} reads, each as PostgREST runs it (authenticator, one transaction, "
            f"the request's settings, the statement),\nrole and service role in one pgbench run "
            f"(-M prepared, {args.clients} clients, {args.db_seconds:.0f}s); same rows on both sides checked first."
        )
        results: list[Measured] = []
        for read, role, svc, rows in prepared:
            m = measure(settings, conn, read, role, svc, rows, args.clients, args.db_seconds)
            results.append(m)
            print(f"  {read.label}: {m.ratio:.2f}x", flush=True)
        report(results)
        helpers = policy_helpers(conn)
        print("\nThe policy helpers' own cost per statement (one client; select (select helper()) minus select 1):")
        print(f"  {'helper':<28}" + "".join(f"{r:>20}" for r in ("customer", "vendor", "admin")))
        costs: dict[str, dict[str, tuple[float, int]]] = {}
        for role_name in ("customer", "vendor", "admin"):
            costs[role_name] = helper_costs(settings, conn, renderer, helpers, people[role_name][0], 2.0)
        for name in helpers:
            cells = "".join(
                f"{costs[r][name][0]:>11.1f} µs {costs[r][name][1]:>2} buf" for r in ("customer", "vendor", "admin")
            )
            print(f"  {name:<28}{cells}")
        failed = sum(m.role.failed + m.service.failed for m in results)
        paged_rpc = bool(
            conn.execute(
                "select 1 from pg_proc where proname = 'vendor_order_lines' and 'p_limit' = any(proargnames)"
            ).fetchone()
        )
    if args.api:
        failed += rls_api.run(settings, people["customer"], people["vendor"], paged_rpc, args)
    return 0 if failed == 0 else 1
