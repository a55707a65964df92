-- WATS schema, part 3b: livestream shopping. A vendor schedules a live video session (on an
-- external video service) featuring some of their own active products, each with an optional
-- live price; starts it (status live), ends it or cancels it through the Data API. The public
-- sees scheduled and live sessions of approved vendors and the products they feature.
-- Customers ask to be reminded (livestream_reminders) and are notified when it starts.
-- Checkout (20261127001100_checkout.sql) sells a featured product at its live price while its
-- session is live, when the cart line names the session, and the order line remembers the
-- session: vendors read their sales per session (livestream_sales).

create table public.livestream_sessions (
    id uuid primary key default gen_random_uuid(),
    vendor_id uuid not null references public.vendors (id) on delete cascade,
    title text not null constraint livestream_sessions_title_length check (
        char_length(btrim(title)) between 1 and 140
    ),
    description text constraint livestream_sessions_description_length check (
        char_length(description) <= 2000
    ),
    scheduled_start timestamptz not null,
    scheduled_end timestamptz,
    stream_url text constraint livestream_sessions_stream_url_https check (
        stream_url ~ '^https://'
    ),
    status text not null default 'scheduled' constraint livestream_sessions_status_allowed check (
        status in ('scheduled', 'live', 'ended', 'cancelled')
    ),
    started_at timestamptz,
    ended_at timestamptz,
    cancelled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint livestream_sessions_vendor_id_id_key unique (vendor_id, id),
    constraint livestream_sessions_schedule_order check (
        scheduled_end is null or scheduled_end > scheduled_start
    )
);

comment on table public.livestream_sessions is
'A vendor''s live shopping session. Public while scheduled or live (vendor approved); the '
'vendor writes.';
comment on column public.livestream_sessions.status is
'scheduled -> live -> ended, or scheduled -> cancelled (machine livestream).';
comment on column public.livestream_sessions.stream_url is 'Player URL (https) for the apps.';

create index livestream_sessions_status_scheduled_start_idx on public.livestream_sessions (
    status, scheduled_start
);

create trigger livestream_sessions_status_transition
before update of status on public.livestream_sessions
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'livestream', 'live:started_at', 'ended:ended_at', 'cancelled:cancelled_at'
);

create trigger livestream_sessions_touch_updated_at
before update on public.livestream_sessions
for each row execute function private.touch_updated_at();

create table public.livestream_products (
    session_id uuid not null,
    product_id uuid not null,
    vendor_id uuid not null,
    position integer not null default 0 constraint livestream_products_position_range check (
        position between 0 and 100
    ),
    live_price bigint constraint livestream_products_live_price_positive check (live_price > 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (session_id, product_id),
    constraint livestream_products_session_fkey foreign key (vendor_id, session_id)
    references public.livestream_sessions (vendor_id, id) on delete cascade,
    constraint livestream_products_product_fkey foreign key (vendor_id, product_id)
    references public.products (vendor_id, id) on delete cascade
);

comment on table public.livestream_products is
'Products featured in a livestream; both must belong to the same vendor (composite foreign '
'keys). Public with a public session; the vendor writes.';
comment on column public.livestream_products.live_price is
'Whole TZS a customer pays for the product while the session is live, when the cart line names '
'the session (checkout enforces it; a live price above the product''s price is ignored). Null: '
'featured at the normal price.';

create index livestream_products_vendor_id_session_id_idx on public.livestream_products (
    vendor_id, session_id
);
create index livestream_products_vendor_id_product_id_idx on public.livestream_products (
    vendor_id, product_id
);

create trigger livestream_products_fill_vendor_id
before insert on public.livestream_products
for each row execute function private.fill_vendor_id_from_product();

create trigger livestream_products_touch_updated_at
before update on public.livestream_products
for each row execute function private.touch_updated_at();

create function private.check_featured_product()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if not exists (
        select 1 from public.products as p where p.id = new.product_id and p.status = 'active'
    ) then
        raise exception 'only active products can be featured in a livestream'
            using errcode = '23514';
    end if;
    return new;
end;
$$;

comment on function private.check_featured_product() is
'BEFORE INSERT trigger on livestream_products: a featured product is active (23514 otherwise). '
'That it is the session vendor''s own is the composite foreign keys'' and the policies'' rule.';

create trigger livestream_products_active_product
before insert on public.livestream_products
for each row execute function private.check_featured_product();

-- ---------------------------------------------------------------------------------------
-- Reminders: customers ask to be told when a session starts
-- ---------------------------------------------------------------------------------------

create function private.is_upcoming_livestream(p_session_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select exists (
            select 1
            from public.livestream_sessions as s
            inner join public.vendors as v on s.vendor_id = v.id
            where s.id = p_session_id and s.status = 'scheduled' and v.status = 'approved'
        )
    );
end;
$$;

comment on function private.is_upcoming_livestream(uuid) is
'True when livestream session p_session_id is scheduled (not started yet) and its vendor '
'approved: one can ask to be reminded of it.';

grant execute on function private.is_upcoming_livestream(uuid) to authenticated, service_role;

create table public.livestream_reminders (
    session_id uuid not null references public.livestream_sessions (id) on delete cascade,
    user_id uuid not null default auth.uid() references public.profiles (id) on delete cascade,
    notified_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (session_id, user_id)
);

comment on table public.livestream_reminders is
'Who asked to be told when a scheduled livestream starts: the user inserts (and deletes) their '
'own row for a scheduled session of an approved vendor; starting the session notifies each '
'(livestream_started) and stamps notified_at. Users read their own, admins all; vendors see '
'no one''s.';
comment on column public.livestream_reminders.notified_at is
'When the session''s start was told to the user (null: not started yet).';

create index livestream_reminders_user_id_idx on public.livestream_reminders (user_id);

create function private.notify_livestream_started()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_items jsonb;
begin
    -- everyone who asked, once, each in their own language
    with told as (
        update public.livestream_reminders as r
        set notified_at = now()
        where r.session_id = new.id and r.notified_at is null
        returning r.user_id
    )
    select coalesce(jsonb_agg(jsonb_build_object(
        'user_id', told.user_id,
        'type', 'livestream_started',
        'params', jsonb_build_object('vendor', v.name, 'title', new.title),
        'data', jsonb_build_object(
            'session_id', new.id, 'vendor_id', new.vendor_id, 'stream_url', new.stream_url
        )
    )), '[]'::jsonb)
    into v_items
    from told
    cross join public.vendors as v
    where v.id = new.vendor_id;
    perform private.notify_all(v_items);
    return null;
end;
$$;

comment on function private.notify_livestream_started() is
'AFTER UPDATE OF status trigger on livestream_sessions (becomes live): every user who asked '
'to be reminded is notified once (livestream_started, with the stream URL).';

create trigger livestream_sessions_notify_start
after update of status on public.livestream_sessions
for each row
when (new.status = 'live' and old.status is distinct from 'live')
execute function private.notify_livestream_started();

-- ---------------------------------------------------------------------------------------
-- Sales per session (order lines bought through a live session)
-- ---------------------------------------------------------------------------------------

create function public.livestream_sales(p_session_id uuid default null)
returns table (
    session_id uuid,
    vendor_id uuid,
    title text,
    status text,
    started_at timestamptz,
    ended_at timestamptz,
    orders bigint,
    units bigint,
    revenue bigint
)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_vendors uuid [] := private.managed_vendor_ids();
begin
    return query
    select
        s.id,
        s.vendor_id,
        s.title,
        s.status,
        s.started_at,
        s.ended_at,
        count(distinct oi.order_id),
        coalesce(sum(oi.quantity), 0)::bigint,
        coalesce(sum(oi.line_total), 0)::bigint
    from public.livestream_sessions as s
    left join (
        public.order_items as oi
        inner join public.orders as o
            on oi.order_id = o.id and o.status not in ('pending_payment', 'cancelled', 'expired')
    ) on oi.vendor_id = s.vendor_id and oi.livestream_session_id = s.id
    where s.vendor_id = any(v_vendors) and (p_session_id is null or s.id = p_session_id)
    group by s.id
    order by s.scheduled_start desc, s.id;
end;
$$;

comment on function public.livestream_sales(uuid) is
'A vendor''s sales per livestream session (one row per session of their shops, or only '
'p_session_id): orders, units and revenue (whole TZS) of the order lines bought through the '
'session while it was live, counting orders that were paid (and not cancelled). Admins get '
'every vendor''s sessions, anyone else nothing.';

revoke all on function public.livestream_sales(uuid) from public, anon, authenticated, service_role;
grant execute on function public.livestream_sales(uuid) to authenticated;

-- ---------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------

alter table public.livestream_sessions enable row level security;
alter table public.livestream_products enable row level security;
alter table public.livestream_reminders enable row level security;

revoke all on table public.livestream_sessions, public.livestream_products
from anon, authenticated, service_role;
grant select on table public.livestream_sessions, public.livestream_products
to anon, authenticated;
grant select, insert, update, delete on table public.livestream_sessions, public.livestream_products
to service_role;

grant insert (vendor_id, title, description, scheduled_start, scheduled_end, stream_url)
on table public.livestream_sessions to authenticated;
grant update (title, description, scheduled_start, scheduled_end, stream_url, status)
on table public.livestream_sessions to authenticated;
grant delete on table public.livestream_sessions to authenticated;

grant insert (session_id, product_id, vendor_id, position, live_price)
on table public.livestream_products to authenticated;
grant update (position, live_price) on table public.livestream_products to authenticated;
grant delete on table public.livestream_products to authenticated;

revoke all on table public.livestream_reminders from anon, authenticated, service_role;
grant select, delete on table public.livestream_reminders to authenticated;
grant insert (session_id, user_id) on table public.livestream_reminders to authenticated;
grant select, insert, update, delete on table public.livestream_reminders to service_role;

-- ---------------------------------------------------------------------------------------
-- Policies (one per role and action)
-- ---------------------------------------------------------------------------------------

-- livestream_sessions
create policy "anyone reads scheduled and live streams"
on public.livestream_sessions
for select
to anon
using (
    status in ('scheduled', 'live')
    and vendor_id <> all((select private.unlisted_vendor_ids())::uuid[])
);

create policy "users read public streams, vendors their own"
on public.livestream_sessions
for select
to authenticated
using (
    (
        status in ('scheduled', 'live')
        and vendor_id <> all((select private.unlisted_vendor_ids())::uuid[])
    )
    or vendor_id = (select private.own_vendor_id())
);

create policy "wats admins read every stream"
on public.livestream_sessions
for select
to wats_admin
using ((select private.is_admin()));

create policy "vendors schedule their own streams"
on public.livestream_sessions
for insert
to authenticated
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors update their own streams"
on public.livestream_sessions
for update
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()))
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors delete their own streams"
on public.livestream_sessions
for delete
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()));

-- livestream_products
-- A featured product is visible exactly when its session is (same vendor, by the composite
-- key): the policy probes livestream_sessions by primary key under the reader's own policy
-- there. `offset 0` keeps the probe per row rather than a hash of every visible session.
create policy "anyone reads products featured in public streams"
on public.livestream_products
for select
to anon
using (
    exists (
        select 1
        from public.livestream_sessions as s
        where s.id = livestream_products.session_id
        offset 0  -- noqa: AM09
    )
);

create policy "users read featured products, vendors their own"
on public.livestream_products
for select
to authenticated
using (
    -- a vendor's own stream's products are theirs without the probe
    vendor_id = (select private.own_vendor_id())
    or exists (
        select 1
        from public.livestream_sessions as s
        where s.id = livestream_products.session_id
        offset 0  -- noqa: AM09
    )
);

create policy "wats admins read every featured product"
on public.livestream_products
for select
to wats_admin
using ((select private.is_admin()));

create policy "vendors feature their own products"
on public.livestream_products
for insert
to authenticated
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors reorder their featured products"
on public.livestream_products
for update
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()))
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors remove their featured products"
on public.livestream_products
for delete
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()));

-- livestream_reminders
create policy "users read their own livestream reminders"
on public.livestream_reminders
for select
to authenticated
using (user_id = (select private.uid()));

create policy "wats admins read every livestream reminder"
on public.livestream_reminders
for select
to wats_admin
using ((select private.is_admin()));

create policy "users ask to be reminded of scheduled streams"
on public.livestream_reminders
for insert
to authenticated
with check (
    user_id = (select auth.uid()) and private.is_upcoming_livestream(session_id)
);

create policy "users drop their own livestream reminders"
on public.livestream_reminders
for delete
to authenticated
using (user_id = (select auth.uid()));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
