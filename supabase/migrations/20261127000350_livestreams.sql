-- WATS schema, part 3b: livestreams. A vendor schedules a live video session (on an
-- external video service) featuring some of their own products. The public sees scheduled
-- and live sessions of approved vendors and the products they feature.

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

-- ---------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------

alter table public.livestream_sessions enable row level security;
alter table public.livestream_products enable row level security;

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

grant insert (session_id, product_id, vendor_id, position)
on table public.livestream_products to authenticated;
grant update (position) on table public.livestream_products to authenticated;
grant delete on table public.livestream_products to authenticated;

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

create policy "users read public streams, vendors their own, admins all"
on public.livestream_sessions
for select
to authenticated
using (
    (
        status in ('scheduled', 'live')
        and vendor_id <> all((select private.unlisted_vendor_ids())::uuid[])
    )
    or vendor_id between (select private.managed_from()) and (select private.managed_to())
);

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

create policy "users read featured products, vendors their own, admins all"
on public.livestream_products
for select
to authenticated
using (
    exists (
        select 1
        from public.livestream_sessions as s
        where s.id = livestream_products.session_id
        offset 0  -- noqa: AM09
    )
);

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

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
