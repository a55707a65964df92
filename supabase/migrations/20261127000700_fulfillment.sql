-- WATS schema, part 7: fulfilment. Shipments (admins create them and set carrier and
-- tracking; their status moves only through public.set_shipment_status), the admin
-- function that moves a paid order through fulfilment, and returns (customers request,
-- admins decide).

-- ---------------------------------------------------------------------------------------
-- Shipments
-- ---------------------------------------------------------------------------------------

create table public.shipments (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null,
    customer_id uuid not null,
    center_id uuid not null references public.fulfillment_centers (id) on delete restrict,
    carrier text constraint shipments_carrier_length check (char_length(carrier) <= 80),
    tracking_number text constraint shipments_tracking_number_length check (
        char_length(tracking_number) <= 80
    ),
    status text not null default 'pending' constraint shipments_status_allowed check (
        status in (
            'pending', 'packed', 'dispatched', 'in_transit', 'delivered', 'failed', 'returned'
        )
    ),
    packed_at timestamptz,
    dispatched_at timestamptz,
    delivered_at timestamptz,
    failed_at timestamptz,
    returned_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint shipments_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete restrict
);

comment on table public.shipments is
'A parcel of an order leaving one fulfillment center. The customer and admins read it; '
'admins create it and set carrier/tracking; status changes only through '
'public.set_shipment_status (machine shipment).';
comment on column public.shipments.customer_id is
'The order''s customer (filled from the order; composite foreign key), so policies need no '
'join.';
comment on column public.shipments.status is
'pending -> packed -> dispatched -> in_transit -> delivered | failed; dispatched -> delivered '
'| failed; failed -> returned.';

create index shipments_customer_id_order_id_idx on public.shipments (customer_id, order_id);
create index shipments_order_id_idx on public.shipments (order_id);
create index shipments_center_id_idx on public.shipments (center_id);

create function private.prepare_shipment()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
begin
    select * into v_order from public.orders as o where o.id = new.order_id;
    if not found then
        raise exception 'order % does not exist', new.order_id using errcode = '23503';
    end if;
    if v_order.status not in ('paid', 'processing', 'shipped') then
        raise exception 'order % is %, not ready to ship', new.order_id, v_order.status
            using errcode = 'WT001';
    end if;
    new.customer_id := v_order.customer_id;
    return new;
end;
$$;

comment on function private.prepare_shipment() is
'BEFORE INSERT trigger on shipments: fills customer_id from the order and refuses orders '
'that are not paid, processing or shipped.';

create trigger shipments_prepare
before insert on public.shipments
for each row execute function private.prepare_shipment();

create trigger shipments_status_transition
before update of status on public.shipments
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'shipment',
    'packed:packed_at',
    'dispatched:dispatched_at',
    'delivered:delivered_at',
    'failed:failed_at',
    'returned:returned_at'
);

create function private.forbid_delete_unless_pending()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if old.status <> 'pending' then
        raise exception '%.% % is %: only pending rows can be deleted',
            tg_table_schema, tg_table_name, old.id, old.status
            using errcode = 'WT001';
    end if;
    return old;
end;
$$;

comment on function private.forbid_delete_unless_pending() is
'BEFORE DELETE trigger: only rows still in status pending may be deleted (e.g. a shipment '
'created by mistake); anything that has moved stays as history.';

create trigger shipments_delete_only_pending
before delete on public.shipments
for each row execute function private.forbid_delete_unless_pending();

create trigger shipments_touch_updated_at
before update on public.shipments
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Admin (and service) functions that move fulfilment state
-- ---------------------------------------------------------------------------------------

create function private.is_service_role()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select coalesce((select auth.jwt()) ->> 'role', '') = 'service_role'
    );
end;
$$;

comment on function private.is_service_role() is
'True when the request carries the service_role key (Edge Functions, scheduled jobs).';

grant execute on function private.is_service_role() to authenticated, service_role;

create function public.set_shipment_status(p_shipment_id uuid, p_status text)
returns public.shipments
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_shipment public.shipments;
begin
    if not (private.is_admin() or private.is_service_role()) then
        raise exception 'only an admin may change a shipment status' using errcode = '42501';
    end if;
    update public.shipments as s
    set status = p_status
    where s.id = p_shipment_id
    returning s.* into v_shipment;
    if not found then
        raise exception 'shipment % does not exist', p_shipment_id using errcode = 'P0002';
    end if;
    return v_shipment;
end;
$$;

comment on function public.set_shipment_status(uuid, text) is
'Moves a shipment to p_status (admin or service role). Illegal transitions raise WT001; '
'the change is audited.';

revoke all on function public.set_shipment_status(uuid, text)
from public, anon, authenticated, service_role;
grant execute on function public.set_shipment_status(uuid, text) to authenticated, service_role;

create function public.set_order_fulfillment_status(p_order_id uuid, p_status text)
returns public.orders
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_order public.orders;
begin
    if not (private.is_admin() or private.is_service_role()) then
        raise exception 'only an admin may move an order through fulfilment'
            using errcode = '42501';
    end if;
    if p_status not in ('processing', 'shipped', 'delivered', 'completed') then
        raise exception 'status % is not a fulfilment status', p_status
            using errcode = '22023',
                  hint = 'Use processing, shipped, delivered or completed. Payment states '
                      'belong to the payment functions.';
    end if;
    update public.orders as o
    set status = p_status
    where o.id = p_order_id
    returning o.* into v_order;
    if not found then
        raise exception 'order % does not exist', p_order_id using errcode = 'P0002';
    end if;
    return v_order;
end;
$$;

comment on function public.set_order_fulfillment_status(uuid, text) is
'Moves a paid order through fulfilment: processing, shipped, delivered, completed (admin or '
'service role). Illegal transitions raise WT001; the change is audited.';

revoke all on function public.set_order_fulfillment_status(uuid, text)
from public, anon, authenticated, service_role;
grant execute on function public.set_order_fulfillment_status(uuid, text)
to authenticated, service_role;

-- ---------------------------------------------------------------------------------------
-- Returns
-- ---------------------------------------------------------------------------------------

create table public.returns (
    id uuid primary key default gen_random_uuid(),
    order_item_id uuid not null references public.order_items (id) on delete restrict,
    order_id uuid not null references public.orders (id) on delete restrict,
    customer_id uuid not null references public.profiles (id) on delete restrict,
    vendor_id uuid not null references public.vendors (id) on delete restrict,
    quantity integer not null constraint returns_quantity_positive check (quantity > 0),
    unit_price bigint not null constraint returns_unit_price_positive check (unit_price > 0),
    reason text not null constraint returns_reason_allowed check (
        reason in ('damaged', 'wrong_item', 'not_as_described', 'changed_mind', 'other')
    ),
    details text constraint returns_details_length check (char_length(details) <= 1000),
    status text not null default 'requested' constraint returns_status_allowed check (
        status in ('requested', 'approved', 'rejected', 'received', 'refunded')
    ),
    refund_amount bigint not null default 0,
    currency text not null default 'TZS' constraint returns_currency_tzs check (currency = 'TZS'),
    resolution_note text constraint returns_resolution_note_length check (
        char_length(resolution_note) <= 1000
    ),
    decided_at timestamptz,
    received_at timestamptz,
    refunded_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint returns_refund_within_value check (
        refund_amount between 0 and unit_price * quantity
    )
);

comment on table public.returns is
'A customer''s request to return (part of) an order line. The customer creates it for a '
'delivered order; admins decide and set the refund. The line''s vendor and admins read it '
'too. Status machine return.';
comment on column public.returns.order_id is 'Filled from the order line.';
comment on column public.returns.customer_id is 'Filled from the order line (must be the caller).';
comment on column public.returns.vendor_id is 'Filled from the order line: the vendor affected.';
comment on column public.returns.unit_price is 'Filled from the order line; caps refund_amount.';
comment on column public.returns.status is
'requested -> approved | rejected; approved -> received -> refunded. Set by admins.';
comment on column public.returns.refund_amount is
'Whole TZS to refund, set by an admin (<= unit_price * quantity). The money moves through '
'the payment functions.';

create index returns_order_item_id_idx on public.returns (order_item_id);
create index returns_order_id_idx on public.returns (order_id);
create index returns_customer_id_idx on public.returns (customer_id);
create index returns_vendor_id_idx on public.returns (vendor_id);

create function private.prepare_return()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_item public.order_items%rowtype;
    v_order_status text;
    v_already integer;
begin
    -- Lock the line so two concurrent requests cannot both pass the quantity check.
    select * into v_item from public.order_items as oi where oi.id = new.order_item_id for update;
    if not found
        or ((select auth.uid()) is not null and v_item.customer_id <> (select auth.uid())) then
        raise exception 'order line % is not yours', new.order_item_id using errcode = '42501';
    end if;
    select o.status into v_order_status from public.orders as o where o.id = v_item.order_id;
    if v_order_status not in ('delivered', 'return_requested', 'returned') then
        raise exception 'order is %, returns are possible once it is delivered', v_order_status
            using errcode = 'WT001';
    end if;
    select coalesce(sum(r.quantity), 0) into v_already
    from public.returns as r
    where r.order_item_id = new.order_item_id and r.status <> 'rejected';
    if v_already + new.quantity > v_item.quantity then
        raise exception 'only % of % units can still be returned',
            v_item.quantity - v_already, v_item.quantity
            using errcode = '23514';
    end if;
    new.order_id := v_item.order_id;
    new.customer_id := v_item.customer_id;
    new.vendor_id := v_item.vendor_id;
    new.unit_price := v_item.unit_price;
    new.currency := v_item.currency;
    return new;
end;
$$;

comment on function private.prepare_return() is
'BEFORE INSERT trigger on returns: the line must be the caller''s, its order delivered, and '
'the quantity not more than what is left to return; fills order, customer, vendor and '
'price from the line.';

create trigger returns_prepare
before insert on public.returns
for each row execute function private.prepare_return();

create trigger returns_status_transition
before update of status on public.returns
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'return',
    'approved:decided_at',
    'rejected:decided_at',
    'received:received_at',
    'refunded:refunded_at'
);

create trigger returns_touch_updated_at
before update on public.returns
for each row execute function private.touch_updated_at();

create function private.sync_order_with_returns()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        update public.orders
        set status = 'return_requested'
        where id = new.order_id and status in ('delivered', 'returned');
    elsif new.status in ('rejected', 'refunded') and not exists (
        select 1
        from public.returns as r
        where r.order_id = new.order_id and r.status in ('requested', 'approved', 'received')
    ) then
        update public.orders
        set status = case
            when exists (
                select 1 from public.returns as r
                where r.order_id = new.order_id and r.status = 'refunded'
            ) then 'returned'
            else 'delivered'
        end
        where id = new.order_id and status = 'return_requested';
    end if;
    return null;
end;
$$;

comment on function private.sync_order_with_returns() is
'AFTER INSERT / UPDATE OF status trigger on returns: a new request moves the order to '
'return_requested; once no request is open the order becomes returned (something was '
'refunded) or delivered again (all rejected).';

create trigger returns_sync_order
after insert or update of status on public.returns
for each row execute function private.sync_order_with_returns();

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.shipments enable row level security;
alter table public.returns enable row level security;

revoke all on table public.shipments, public.returns from anon, authenticated, service_role;

-- Shipment status is not writable by any API role: only public.set_shipment_status.
grant select, delete on table public.shipments to authenticated, service_role;
grant insert (order_id, center_id, carrier, tracking_number)
on table public.shipments to authenticated, service_role;
grant update (carrier, tracking_number) on table public.shipments to authenticated, service_role;

grant select on table public.returns to authenticated;
grant insert (order_item_id, quantity, reason, details) on table public.returns to authenticated;
grant update (status, refund_amount, resolution_note) on table public.returns to authenticated;
grant select, insert, update, delete on table public.returns to service_role;

-- shipments
create policy "customers read their own shipments, admins read all"
on public.shipments
for select
to authenticated
using (customer_id = any((select private.visible_user_ids())::uuid[]));

create policy "admins create shipments"
on public.shipments
for insert
to authenticated
with check ((select private.is_admin()));

create policy "admins set carrier and tracking"
on public.shipments
for update
to authenticated
using ((select private.is_admin()))
with check ((select private.is_admin()));

create policy "admins delete shipments"
on public.shipments
for delete
to authenticated
using ((select private.is_admin()));

-- returns
create policy "customers and vendors read their returns, admins read all"
on public.returns
for select
to authenticated
using (
    customer_id = any((select private.visible_user_ids())::uuid[])
    or vendor_id = any((select private.managed_vendor_ids())::uuid[])
);

create policy "customers request returns of their own order lines"
on public.returns
for insert
to authenticated
with check (customer_id = (select auth.uid()));

create policy "admins decide returns"
on public.returns
for update
to authenticated
using ((select private.is_admin()))
with check ((select private.is_admin()));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
