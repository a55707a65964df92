-- WATS schema: business metrics (issue 12). Read-only functions over the live tables, for
-- admins and the service role only: payment success rate by provider and hour/day with the
-- time from push to outcome, orders and GMV per day with checkout abandonment and refunds,
-- fulfilment times per center, webhook authentication failures per provider, and the
-- current state (stock-outs, review queues, open payments). Each is a SECURITY DEFINER
-- function that refuses (42501) anyone but an admin, the service role, or a direct
-- database session of postgres (pg_cron, the SQL editor, `wats metrics`). Days and hours
-- are East Africa Time (Africa/Dar_es_Salaam), the business's calendar.

-- ---------------------------------------------------------------------------------------
-- Who may read them
-- ---------------------------------------------------------------------------------------

create function private.assert_metrics_reader()
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if private.is_admin() or private.is_service_role() then
        return;
    end if;
    -- a direct session (pg_cron, the SQL editor, tooling), never a Data API request: those
    -- come through PostgREST's authenticator
    if session_user::text in ('postgres', 'supabase_admin') and auth.uid() is null then
        return;
    end if;
    raise exception 'metrics are for admins' using errcode = '42501';
end;
$$;

comment on function private.assert_metrics_reader() is
'Raises 42501 unless the caller is an admin, the service role, or a direct postgres session '
'(pg_cron, SQL editor) without a user: the guard of every public.metrics_* function.';

create function private.metrics_window(p_from timestamptz, p_to timestamptz)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
    if p_from is null or p_to is null or p_from >= p_to then
        raise exception 'metrics window: p_from must be before p_to'
            using errcode = '22023';
    end if;
    if p_to - p_from > interval '400 days' then
        raise exception 'metrics window: at most 400 days' using errcode = '22023';
    end if;
end;
$$;

comment on function private.metrics_window(timestamptz, timestamptz) is
'Checks a metrics window: p_from before p_to, at most 400 days (22023 otherwise).';

-- ---------------------------------------------------------------------------------------
-- Indexes the metrics read by time
-- ---------------------------------------------------------------------------------------

create index payments_completed_at_idx on public.payments (completed_at, provider)
where completed_at is not null;
create index orders_created_at_idx on public.orders (created_at);
create index shipments_paid_at_idx on public.shipments (paid_at);
create index refunds_created_at_idx on public.refunds (created_at);
create index payment_events_received_at_idx on private.payment_events (received_at, provider);

-- ---------------------------------------------------------------------------------------
-- Payments: success rate and time from push to outcome, by provider and hour or day
-- ---------------------------------------------------------------------------------------

create function public.metrics_payments(
    p_from timestamptz default now() - interval '14 days',
    p_to timestamptz default now(),
    p_bucket text default 'day'
)
returns table (
    bucket timestamptz,
    provider text,
    finished bigint,
    succeeded bigint,
    failed bigint,
    expired bigint,
    success_rate numeric,
    outcome_p50_s numeric,
    outcome_p90_s numeric
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform private.assert_metrics_reader();
    perform private.metrics_window(p_from, p_to);
    if p_bucket is null or p_bucket not in ('hour', 'day') then
        raise exception 'p_bucket must be hour or day' using errcode = '22023';
    end if;
    return query
    select
        date_trunc(p_bucket, p.completed_at, 'Africa/Dar_es_Salaam') as bucket,
        p.provider::text as provider,
        count(*) as finished,
        count(*) filter (
            where p.status in ('succeeded', 'refunded', 'partially_refunded')
        ) as succeeded,
        count(*) filter (where p.status = 'failed') as failed,
        count(*) filter (where p.status = 'expired') as expired,
        round(
            (count(*) filter (
                where p.status in ('succeeded', 'refunded', 'partially_refunded')
            ))::numeric / count(*),
            4
        ) as success_rate,
        round((percentile_cont(0.5) within group (
            order by extract(epoch from p.completed_at - coalesce(p.push_requested_at, p.created_at))
        ))::numeric, 1) as outcome_p50_s,
        round((percentile_cont(0.9) within group (
            order by extract(epoch from p.completed_at - coalesce(p.push_requested_at, p.created_at))
        ))::numeric, 1) as outcome_p90_s
    from public.payments as p
    where p.completed_at >= p_from and p.completed_at < p_to
    group by 1, 2
    order by 1, 2;
end;
$$;

comment on function public.metrics_payments(timestamptz, timestamptz, text) is
'Admins and the service role: payments that reached a final state in [p_from, p_to), by EAT '
'hour or day (p_bucket) and provider: finished, succeeded (refunded ones included), failed, '
'expired, success_rate = succeeded / finished, and seconds from the push (or creation) to '
'the outcome, p50 and p90.';

-- ---------------------------------------------------------------------------------------
-- Orders: checkouts, paid orders, GMV, abandonment and refunds per day
-- ---------------------------------------------------------------------------------------

create function public.metrics_orders(
    p_from timestamptz default now() - interval '14 days',
    p_to timestamptz default now()
)
returns table (
    day date,
    checkouts bigint,
    paid bigint,
    gmv bigint,
    abandoned bigint,
    abandonment_rate numeric,
    refunds bigint,
    refunded_amount bigint,
    refund_rate numeric
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform private.assert_metrics_reader();
    perform private.metrics_window(p_from, p_to);
    return query
    with o as (
        select
            (o.created_at at time zone 'Africa/Dar_es_Salaam')::date as day,
            count(*) as checkouts,
            count(*) filter (where o.paid_at is not null) as paid,
            coalesce(sum(o.total) filter (where o.paid_at is not null), 0)::bigint as gmv,
            count(*) filter (where o.expired_at is not null and o.paid_at is null) as abandoned
        from public.orders as o
        where o.created_at >= p_from and o.created_at < p_to
        group by 1
    ),

    r as (
        select
            (r.created_at at time zone 'Africa/Dar_es_Salaam')::date as day,
            count(*) as refunds,
            coalesce(sum(r.amount) filter (where r.status in ('succeeded', 'manual')), 0)::bigint
            as refunded_amount
        from public.refunds as r
        where r.created_at >= p_from and r.created_at < p_to
        group by 1
    )

    select
        coalesce(o.day, r.day) as day,
        coalesce(o.checkouts, 0) as checkouts,
        coalesce(o.paid, 0) as paid,
        coalesce(o.gmv, 0) as gmv,
        coalesce(o.abandoned, 0) as abandoned,
        round(coalesce(o.abandoned, 0)::numeric / nullif(o.checkouts, 0), 4) as abandonment_rate,
        coalesce(r.refunds, 0) as refunds,
        coalesce(r.refunded_amount, 0) as refunded_amount,
        round(coalesce(r.refunded_amount, 0)::numeric / nullif(o.gmv, 0), 4) as refund_rate
    from o
    full join r on o.day = r.day
    order by 1;
end;
$$;

comment on function public.metrics_orders(timestamptz, timestamptz) is
'Admins and the service role: per EAT day of creation in [p_from, p_to): checkouts (orders '
'created), paid, GMV (total of paid orders, TZS), abandoned (expired without payment) and '
'its rate; refunds created that day, the amount refunded (succeeded or manual) and '
'refund_rate = refunded / GMV of the day.';

-- ---------------------------------------------------------------------------------------
-- Fulfilment: paid -> dispatched and paid -> delivered per center
-- ---------------------------------------------------------------------------------------

create function public.metrics_fulfilment(
    p_from timestamptz default now() - interval '30 days',
    p_to timestamptz default now()
)
returns table (
    center_code text,
    center_name text,
    shipments bigint,
    dispatched bigint,
    delivered bigint,
    dispatch_p50_s numeric,
    dispatch_p90_s numeric,
    deliver_p50_s numeric,
    deliver_p90_s numeric
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform private.assert_metrics_reader();
    perform private.metrics_window(p_from, p_to);
    return query
    select
        c.code::text as center_code,
        c.name::text as center_name,
        count(*) as shipments,
        count(s.seconds_to_dispatch) as dispatched,
        count(s.seconds_to_deliver) as delivered,
        (percentile_cont(0.5) within group (order by s.seconds_to_dispatch))::numeric
        as dispatch_p50_s,
        (percentile_cont(0.9) within group (order by s.seconds_to_dispatch))::numeric
        as dispatch_p90_s,
        (percentile_cont(0.5) within group (order by s.seconds_to_deliver))::numeric
        as deliver_p50_s,
        (percentile_cont(0.9) within group (order by s.seconds_to_deliver))::numeric
        as deliver_p90_s
    from public.shipments as s
    inner join public.fulfillment_centers as c on s.center_id = c.id
    where s.paid_at >= p_from and s.paid_at < p_to
    group by c.code, c.name
    order by c.code;
end;
$$;

comment on function public.metrics_fulfilment(timestamptz, timestamptz) is
'Admins and the service role: shipments paid in [p_from, p_to) per fulfilment center: how '
'many, dispatched, delivered, and seconds paid -> dispatched and paid -> delivered (p50, p90).';

-- ---------------------------------------------------------------------------------------
-- Webhooks: callbacks received and authentication failures per provider and day
-- ---------------------------------------------------------------------------------------

create function public.metrics_webhooks(
    p_from timestamptz default now() - interval '14 days',
    p_to timestamptz default now()
)
returns table (
    day date,
    provider text,
    callbacks bigint,
    auth_failures bigint
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform private.assert_metrics_reader();
    perform private.metrics_window(p_from, p_to);
    return query
    select
        (e.received_at at time zone 'Africa/Dar_es_Salaam')::date as day,
        e.provider::text as provider,
        count(*) as callbacks,
        count(*) filter (where e.authenticated is false) as auth_failures
    from private.payment_events as e
    where e.received_at >= p_from and e.received_at < p_to and e.source = 'callback'
    group by 1, 2
    order by 1, 2;
end;
$$;

comment on function public.metrics_webhooks(timestamptz, timestamptz) is
'Admins and the service role: provider callbacks received in [p_from, p_to) per EAT day and '
'provider, and how many failed authentication (signature, checksum, token or address).';

-- ---------------------------------------------------------------------------------------
-- Now: what needs attention at this moment
-- ---------------------------------------------------------------------------------------

create function public.metrics_now()
returns table (metric text, provider text, value bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform private.assert_metrics_reader();
    return query
    select 'stock_outs'::text, null::text, count(*)
    from public.products as p
    inner join public.vendors as v on p.vendor_id = v.id
    where
        p.status = 'active'
        and v.status = 'approved'
        and not exists (
            select 1
            from public.inventory as i
            inner join public.fulfillment_centers as c on i.center_id = c.id
            where i.product_id = p.id and c.active and i.available > 0
        )
    union all
    select 'payments_to_review', null, count(*)
    from public.payments as p
    where p.needs_review and p.reviewed_at is null
    union all
    select 'refunds_open', null, count(*)
    from public.refunds as r
    where r.status in ('requested', 'processing', 'failed')
    union all
    select 'returns_open', null, count(*)
    from public.returns as r
    where r.status in ('requested', 'approved')
    union all
    (
        select 'payments_open', p.provider::text, count(*)
        from public.payments as p
        where p.status in ('pending', 'initiated', 'ambiguous')
        group by p.provider
        order by p.provider
    );
end;
$$;

comment on function public.metrics_now() is
'Admins and the service role: counts that need attention now: stock_outs (listed products '
'with nothing available at any active center), payments_to_review (flagged, not resolved), '
'refunds_open, returns_open, and payments_open per provider.';

-- ---------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------

revoke all on function
public.metrics_payments(timestamptz, timestamptz, text),
public.metrics_orders(timestamptz, timestamptz),
public.metrics_fulfilment(timestamptz, timestamptz),
public.metrics_webhooks(timestamptz, timestamptz),
public.metrics_now()
from public, anon, authenticated, service_role;

grant execute on function
public.metrics_payments(timestamptz, timestamptz, text),
public.metrics_orders(timestamptz, timestamptz),
public.metrics_fulfilment(timestamptz, timestamptz),
public.metrics_webhooks(timestamptz, timestamptz),
public.metrics_now()
to authenticated, service_role;

revoke execute on all functions in schema private from public;
