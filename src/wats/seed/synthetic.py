"""``wats seed --scale N``: a large synthetic marketplace for benchmarks, built in SQL.

N thousand products (N=100: 100,000), N x 10,000 order lines (N=100: 1,000,000) in N x
2,500 orders of N x 200 customers over the last year, over max(10, N x 5) approved shops, one
stock row and one image row per product. Orders are in the states a live marketplace has
(paid, processing, shipped, delivered, mostly completed; 1 in 10 cancelled or expired with a
failed or expired payment), every paid one with one succeeded payment of its total and
nothing reserved, so the money invariants hold; lines carry their order's creation time, as
checkout writes them. Going through the APIs would take hours, so this writes
with set-based SQL as the cluster's superuser (tooling only, never API traffic); every
constraint and trigger of the schema still applies, and then the synthetic rows' audit
entries are dated at their rows' creation (``AUDIT_DATES_SQL``). Synthetic rows are recognisable: shop
slugs start with ``bench-``, phones with ``2556``. Running it again for the same N is a
no-op.
"""

from __future__ import annotations

import time

import psycopg

from wats.settings import Settings

#: The audit triggers date each row now(), so a build writes half a million audit rows in
#: one instant, and an admin's newest-first page would sort them all. The synthetic orders'
#: and payments' audit rows take their row's creation time instead. The audit log is
#: append-only by trigger: this update alone runs with triggers off (session_replication_role,
#: the cluster's superuser, tooling only). Rows already dated are left alone.
AUDIT_DATES_SQL = """
    set local session_replication_role = replica;
    update public.audit_logs as a
    set created_at = o.created_at
    from public.orders as o
    where a.entity_type = 'orders' and a.entity_id = o.id and o.idempotency_key like 'bench-order-%%'
        and a.created_at <> o.created_at;
    update public.audit_logs as a
    set created_at = p.created_at
    from public.payments as p
    join public.orders as o on o.id = p.order_id
    where a.entity_type = 'payments' and a.entity_id = p.id and o.idempotency_key like 'bench-order-%%'
        and a.created_at <> p.created_at
"""

STEPS = [
    (
        "customers and shop owners",
        """
        insert into auth.users (instance_id, id, aud, role, phone, phone_confirmed_at,
                                raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
        select '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
               '2556' || lpad(g::text, 8, '0'), now(),
               '{"provider": "phone", "providers": ["phone"]}', '{}', now(), now()
        from generate_series(1, %(people)s) g
        where not exists (select 1 from auth.users u where u.phone = '2556' || lpad(g::text, 8, '0'))
        """,
    ),
    (
        "shops",
        """
        insert into public.vendors (owner_id, name, slug, region, status)
        select p.id, 'Bench shop ' || g, 'bench-' || g, 'Dar es Salaam', 'approved'
        from generate_series(1, %(vendors)s) g
        join public.profiles p on p.phone = '2556' || lpad((%(customers)s + g)::text, 8, '0')
        on conflict (slug) do nothing
        """,
    ),
    (
        "products",
        """
        insert into public.products (vendor_id, category_id, title, description, price, status)
        select v.id,
               (select id from public.categories order by id
                offset (g %% greatest(1, (select count(*) from public.categories))) limit 1),
               'Bench product ' || g, 'Synthetic product for benchmarks', 1000 + (g * 37) %% 200000, 'active'
        from generate_series(
            (select count(*) from public.products p join public.vendors v on v.id = p.vendor_id
             where v.slug like 'bench-%%') + 1,
            %(products)s
        ) g
        join public.vendors v on v.slug = 'bench-' || (1 + g %% %(vendors)s)
        """,
    ),
    (
        "stock",
        """
        insert into public.inventory (product_id, vendor_id, center_id, on_hand)
        select p.id, p.vendor_id,
               (select id from public.fulfillment_centers order by code
                offset (abs(hashtext(p.id::text)) %% 4) limit 1),
               1000
        from public.products p join public.vendors v on v.id = p.vendor_id
        where v.slug like 'bench-%%'
        on conflict (product_id, center_id) do nothing
        """,
    ),
    (
        "images",
        """
        insert into public.product_images (product_id, vendor_id, storage_path, position)
        select p.id, p.vendor_id, p.vendor_id || '/' || p.id || '/cover.png', 0
        from public.products p join public.vendors v on v.id = p.vendor_id
        where v.slug like 'bench-%%'
        on conflict (storage_path) do nothing
        """,
    ),
    (
        "orders",
        """
        create temporary table bench_customers on commit drop as
        select row_number() over (order by p.phone) as n, p.id, p.phone
        from public.profiles p
        where p.phone ~ '^2556[0-9]{8}$' and substring(p.phone from 5)::int <= %(customers)s;
        create temporary table bench_products on commit drop as
        select row_number() over (order by p.id) as n, p.id, p.vendor_id, p.price, p.title, i.center_id
        from public.products p join public.vendors v on v.id = p.vendor_id
        join public.inventory i on i.product_id = p.id
        where v.slug like 'bench-%%';
        create temporary table bench_lines on commit drop as
        select o.g as order_no, l.k as line_no,
               bp.id as product_id, bp.vendor_id, bp.center_id, bp.title, bp.price, 1 + (o.g + l.k) %% 3 as qty
        from generate_series(1, %(orders)s) o(g)
        cross join generate_series(1, 4) l(k)
        join bench_products bp on bp.n = 1 + ((o.g * 7919 + l.k * 104729) %% (select count(*) from bench_products));
        create temporary table bench_orders on commit drop as
        select bl.order_no, gen_random_uuid() as id, bc.id as customer_id, bc.phone,
               sum(bl.price * bl.qty) as subtotal,
               (array['cancelled', 'expired', 'paid', 'paid', 'processing', 'processing', 'shipped', 'shipped',
                      'delivered', 'delivered', 'delivered', 'completed', 'completed', 'completed', 'completed',
                      'completed', 'completed', 'completed', 'completed', 'completed'])[1 + bl.order_no %% 20]
                   as status,
               now() - (bl.order_no %% 365) * interval '1 day' - (bl.order_no %% 1440) * interval '1 minute'
                   as created_at
        from bench_lines bl
        join bench_customers bc on bc.n = 1 + bl.order_no %% (select count(*) from bench_customers)
        group by bl.order_no, bc.id, bc.phone;
        insert into public.orders (id, customer_id, status, subtotal, shipping_fee, total, shipping_address,
                                   phone, idempotency_key, expires_at, paid_at, shipped_at, delivered_at,
                                   completed_at, cancelled_at, expired_at, cancel_reason, created_at)
        select id, customer_id, status, subtotal, 0, subtotal,
               '{"recipient_name": "Bench", "region": "Dar es Salaam", "district": "Ilala", "street": "1"}',
               phone, 'bench-order-' || order_no, created_at + interval '30 minutes',
               case when status not in ('cancelled', 'expired') then created_at + interval '2 minutes' end,
               case when status in ('shipped', 'delivered', 'completed') then created_at + interval '1 day' end,
               case when status in ('delivered', 'completed') then created_at + interval '3 days' end,
               case when status = 'completed' then created_at + interval '10 days' end,
               case when status = 'cancelled' then created_at + interval '5 minutes' end,
               case when status = 'expired' then created_at + interval '31 minutes' end,
               case when status = 'cancelled' then 'payment failed' end,
               created_at
        from bench_orders;
        insert into public.order_items (order_id, customer_id, product_id, vendor_id, center_id, title,
                                        unit_price, quantity, line_total, created_at)
        select bo.id, bo.customer_id, bl.product_id, bl.vendor_id, bl.center_id, bl.title, bl.price, bl.qty,
               bl.price * bl.qty, bo.created_at
        from bench_lines bl join bench_orders bo on bo.order_no = bl.order_no;
        insert into public.payments (order_id, customer_id, provider, msisdn, amount, status, provider_txn_id,
                                     failure_reason, initiated_at, completed_at, created_at)
        select id, customer_id, known.providers[1 + order_no %% cardinality(known.providers)], phone, subtotal,
               case status when 'cancelled' then 'failed' when 'expired' then 'expired' else 'succeeded' end,
               case when status not in ('cancelled', 'expired') then 'BENCH' || order_no end,
               case status when 'cancelled' then 'insufficient_funds' when 'expired' then 'timeout' end,
               created_at + interval '10 seconds', created_at + interval '2 minutes', created_at
        from bench_orders,
            -- every provider in turn, as the domain public.payment_provider lists them
            (select string_to_array(private.payment_providers(), ', ') as providers) as known;
        """,
    ),
    (
        "audit rows dated at the change they record",
        AUDIT_DATES_SQL,
    ),
]


def statements(sql: str) -> list[str]:
    """A step's statements, one per execute: with bound parameters PostgreSQL takes one
    command at a time (extended protocol). The steps' SQL has no semicolons in literals."""
    return [part.strip() for part in sql.split(";") if part.strip()]


def build(settings: Settings, scale: int, *, quiet: bool = False) -> None:
    sizes = {
        "products": scale * 1000,
        "orders": scale * 2500,
        "customers": scale * 200,
        "vendors": max(10, scale * 5),
    }
    sizes["people"] = sizes["customers"] + sizes["vendors"]
    with psycopg.connect(settings.superuser_dsn, autocommit=True) as conn:
        have = conn.execute("select count(*) from public.order_items where title like 'Bench product %'").fetchone()
        if have and have[0] >= sizes["orders"] * 4:
            if not quiet:
                print(f"Synthetic dataset for --scale {scale} is already there.")
            return
        for name, sql in STEPS:
            began = time.monotonic()
            with conn.transaction():
                conn.execute("set local synchronous_commit = off")
                for statement in statements(sql):
                    conn.execute(statement, sizes)
            if not quiet:
                print(f"  {name}: {time.monotonic() - began:.1f}s", flush=True)
        conn.execute("analyze")
    if not quiet:
        print(
            f"Synthetic dataset: {sizes['products']:,} products, {sizes['orders'] * 4:,} order lines in "
            f"{sizes['orders']:,} orders of {sizes['customers']:,} customers, {sizes['vendors']} shops."
        )
