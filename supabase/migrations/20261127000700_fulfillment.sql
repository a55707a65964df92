-- WATS schema, part 7: fulfilment. A paid order gets one shipment per fulfillment center
-- it ships from (with its lines); the center's staff (admins today) pack and dispatch it
-- with carrier and tracking number; delivery is confirmed by staff or by the customer; a
-- failed delivery is tried again or the parcel goes back to its center. The order's status
-- follows its shipments. A customer cancels before packing, an admin before dispatch.
-- Delivered lines can be returned within the return window; admins decide, the center
-- receives and restocks or writes off. Money goes back through refunds
-- (20261127000750_refunds.sql). Every step is audited and tells the customer (and the
-- vendor where it concerns them), in their language (private.notification_texts).
--
-- Locks: functions that move stock or money lock in THE LOCK ORDER
-- (20261127001100_checkout.sql) through private.lock_order_payments() (every payment of the
-- order: an instalment plan's has several); shipment and return rows
-- are locked after those, so a shipment change never waits on a payment change holding it.

-- ---------------------------------------------------------------------------------------
-- Settings
-- ---------------------------------------------------------------------------------------

insert into private.settings (key, value, description)
values
(
    'returns.window_days', '7',
    'Days after delivery a customer may ask to return a line; after them (with no return '
    'open) the order is completed.'
),
(
    'returns.refund_on', '"receipt"',
    'When a return''s refund is granted: "receipt" (the parcel is back at the center, the '
    'default) or "approval" (an admin approved the request).'
);

-- ---------------------------------------------------------------------------------------
-- Shipments and their lines
-- ---------------------------------------------------------------------------------------

create domain public.shipment_status as text
constraint shipment_status_known check (
    value in (
        'pending', 'packed', 'dispatched', 'in_transit', 'delivered', 'failed', 'returned',
        'cancelled'
    )
);

comment on domain public.shipment_status is
'The states of a shipment (machine shipment in private.status_transitions).';

create table public.shipments (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null,
    customer_id uuid not null,
    center_id uuid not null references public.fulfillment_centers (id) on delete restrict,
    vendor_ids uuid[] not null default '{}',
    carrier text constraint shipments_carrier_length check (char_length(carrier) <= 80),
    tracking_number text constraint shipments_tracking_number_length check (
        char_length(tracking_number) <= 80
    ),
    status public.shipment_status not null default 'pending',
    failure_reason text constraint shipments_failure_reason_length check (
        char_length(failure_reason) <= 500
    ),
    delivery_attempts integer not null default 0 constraint shipments_attempts_non_negative check (
        delivery_attempts >= 0
    ),
    paid_at timestamptz not null default now(),
    packed_at timestamptz,
    dispatched_at timestamptz,
    delivered_at timestamptz,
    failed_at timestamptz,
    returned_at timestamptz,
    cancelled_at timestamptz,
    seconds_to_dispatch integer generated always as (
        (extract(epoch from dispatched_at - paid_at))::integer
    ) stored,
    seconds_to_deliver integer generated always as (
        (extract(epoch from delivered_at - paid_at))::integer
    ) stored,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint shipments_order_center_key unique (order_id, center_id),
    constraint shipments_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete restrict
);

comment on table public.shipments is
'A parcel of a paid order leaving one fulfillment center (one per center the order ships '
'from), created when the payment settles. The customer, the vendors with lines in it and '
'admins read it; it moves only through the fulfilment functions (pack_shipment, '
'dispatch_shipment, mark_shipment_in_transit, confirm_delivery, report_delivery_failed, '
'return_shipment_to_center, cancel_order). Machine shipment.';
comment on column public.shipments.customer_id is
'The order''s customer (filled from the order; composite foreign key), so policies need no '
'join.';
comment on column public.shipments.vendor_ids is
'The vendors with lines in this parcel, so a vendor''s policy needs no join.';
comment on column public.shipments.status is
'pending -> packed -> dispatched -> in_transit -> delivered | failed; dispatched -> delivered '
'| failed; failed -> dispatched (tried again) | returned (back at the center); pending | '
'packed -> cancelled (the order was cancelled).';
comment on column public.shipments.paid_at is
'When the order was paid: with dispatched_at and delivered_at, the fulfilment times of this '
'parcel (seconds_to_dispatch, seconds_to_deliver).';
comment on column public.shipments.delivery_attempts is 'How often it was dispatched.';

create index shipments_customer_id_order_id_idx on public.shipments (customer_id, order_id);
create index shipments_center_id_status_idx on public.shipments (center_id, status);
create index shipments_vendor_ids_idx on public.shipments using gin (vendor_ids);

create table public.shipment_lines (
    id uuid primary key default gen_random_uuid(),
    shipment_id uuid not null references public.shipments (id) on delete cascade,
    order_item_id uuid not null references public.order_items (id) on delete restrict,
    customer_id uuid not null,
    vendor_id uuid not null,
    quantity integer not null constraint shipment_lines_quantity_positive check (quantity > 0),
    created_at timestamptz not null default now(),
    constraint shipment_lines_shipment_item_key unique (shipment_id, order_item_id)
);

comment on table public.shipment_lines is
'The order lines (and quantities) a shipment carries. Written with the shipment; the '
'customer, the line''s vendor and admins read it.';

create index shipment_lines_order_item_id_idx on public.shipment_lines (order_item_id);
create index shipment_lines_customer_id_idx on public.shipment_lines (customer_id);
create index shipment_lines_vendor_id_idx on public.shipment_lines (vendor_id);

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
    if v_order.status not in ('paid', 'processing', 'partially_shipped', 'shipped') then
        raise exception 'order % is %, not ready to ship', new.order_id, v_order.status
            using errcode = 'WT001';
    end if;
    new.customer_id := v_order.customer_id;
    new.paid_at := coalesce(v_order.paid_at, new.paid_at);
    return new;
end;
$$;

comment on function private.prepare_shipment() is
'BEFORE INSERT trigger on shipments: fills customer_id and paid_at from the order and '
'refuses orders that are not paid (or further along).';

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
    'returned:returned_at',
    'cancelled:cancelled_at'
);

create trigger shipments_touch_updated_at
before update on public.shipments
for each row execute function private.touch_updated_at();

create function private.create_shipments(p_order_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
    -- one parcel per center the order's lines ship from (checkout split each line by center)
    with parcels as (
        insert into public.shipments (order_id, customer_id, center_id, vendor_ids)
        select oi.order_id, oi.customer_id, oi.center_id, array_agg(distinct oi.vendor_id)
        from public.order_items as oi
        where oi.order_id = p_order_id
        group by oi.order_id, oi.customer_id, oi.center_id
        on conflict (order_id, center_id) do nothing
        returning id, center_id
    )
    insert into public.shipment_lines (shipment_id, order_item_id, customer_id, vendor_id, quantity)
    select s.id, oi.id, oi.customer_id, oi.vendor_id, oi.quantity
    from parcels as s
    inner join public.order_items as oi on oi.order_id = p_order_id and s.center_id = oi.center_id;
end;
$$;

comment on function private.create_shipments(uuid) is
'A just-paid order''s parcels: one shipment per fulfillment center its lines ship from, '
'with the lines. Idempotent (an order paid again after review gets no second set).';

-- ---------------------------------------------------------------------------------------
-- The order follows its shipments
-- ---------------------------------------------------------------------------------------

create function private.sync_order_status(p_order_id uuid)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_status text;
    v_next text;
    v_total integer;
    v_packed integer;
    v_moving integer;
    v_delivered integer;
begin
    select o.status into v_status from public.orders as o where o.id = p_order_id;
    if v_status not in ('paid', 'processing', 'partially_shipped', 'shipped') then
        return v_status;  -- not in fulfilment (cancelled, delivered and after ...)
    end if;
    -- parcels still on their way to the customer (returned and cancelled ones count out)
    select
        count(*),
        count(*) filter (where s.status <> 'pending'),
        count(*) filter (where s.status in ('dispatched', 'in_transit', 'failed', 'delivered')),
        count(*) filter (where s.status = 'delivered')
    into v_total, v_packed, v_moving, v_delivered
    from public.shipments as s
    where s.order_id = p_order_id and s.status not in ('returned', 'cancelled');
    if v_total = 0 and exists (
        select 1 from public.shipments as s where s.order_id = p_order_id and s.status = 'returned'
    ) then
        -- every parcel came back undelivered (each one refunded as it came back)
        update public.orders
        set status = 'cancelled', cancel_reason = 'could not be delivered'
        where id = p_order_id;
        return 'cancelled';
    end if;
    v_next := case
        when v_total = 0 then v_status
        when v_delivered = v_total then 'delivered'
        when v_moving = v_total then 'shipped'
        when v_moving > 0 then 'partially_shipped'
        when v_packed > 0 then 'processing'
        else v_status
    end;
    -- forward only: paid < processing < partially_shipped < shipped < delivered
    if array_position(array['paid', 'processing', 'partially_shipped', 'shipped', 'delivered'], v_next)
        > array_position(array['paid', 'processing', 'partially_shipped', 'shipped', 'delivered'], v_status)
    then
        update public.orders set status = v_next where id = p_order_id;
        return v_next;
    end if;
    return v_status;
end;
$$;

comment on function private.sync_order_status(uuid) is
'Derives a paid order''s fulfilment status from its parcels (returned and cancelled ones '
'left out): some packed -> processing, some dispatched -> partially_shipped, all dispatched '
'-> shipped, all delivered -> delivered; every parcel back undelivered -> cancelled. Only '
'ever moves the order forward.';

create function private.is_fulfilment_staff()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return private.is_admin() or private.is_service_role();
end;
$$;

comment on function private.is_fulfilment_staff() is
'Who may move parcels: the staff of the fulfillment centers. Today that is admins (and the '
'service role); a center-scoped staff role can narrow this one function later.';

create function private.shipment_for_change(p_shipment_id uuid)
returns public.shipments
language plpgsql
set search_path = ''
as $$
declare
    v_shipment public.shipments%rowtype;
begin
    select * into v_shipment from public.shipments where id = p_shipment_id for update;
    if not found then
        perform private.refuse(404, 'shipment_not_found', 'no such shipment');
    end if;
    return v_shipment;
end;
$$;

comment on function private.shipment_for_change(uuid) is
'The shipment row, locked for a change (404 shipment_not_found when there is none).';

create function private.shipment_params(p_shipment public.shipments)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'center', c.name,
            'carrier', coalesce(p_shipment.carrier, ''),
            'tracking', coalesce(p_shipment.tracking_number, ''),
            'order', left(p_shipment.order_id::text, 8),
            'status', p_shipment.status,
            'reason', coalesce(p_shipment.failure_reason, '')
        )
        from public.fulfillment_centers as c
        where c.id = p_shipment.center_id
    );
end;
$$;

comment on function private.shipment_params(public.shipments) is
'The placeholders shipment notifications fill: center, carrier, tracking, order, status, '
'reason.';

create function private.tell_about_shipment(
    p_shipment public.shipments, p_customer_type text, p_tell_vendors boolean,
    p_params jsonb default '{}'::jsonb
)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_params jsonb := private.shipment_params(p_shipment);
    v_data jsonb := jsonb_build_object('order_id', p_shipment.order_id, 'shipment_id', p_shipment.id);
begin
    perform private.notify_all(
        jsonb_build_array(jsonb_build_object(
            'user_id', p_shipment.customer_id, 'type', p_customer_type,
            'params', v_params || jsonb_build_object(
                'days', private.setting_int('returns.window_days')
            ) || p_params,
            'data', v_data
        ))
        || case when p_tell_vendors then coalesce((
            select jsonb_agg(jsonb_build_object(
                'user_id', v.owner_id, 'type', 'vendor_shipment_update', 'params', v_params,
                'data', v_data || jsonb_build_object('vendor_id', v.id)
            ))
            from public.vendors as v
            where v.id = any(p_shipment.vendor_ids)
        ), '[]'::jsonb) else '[]'::jsonb end
    );
end;
$$;

comment on function private.tell_about_shipment(public.shipments, text, boolean, jsonb) is
'Tells the customer what happened to a parcel (notification p_customer_type, with p_params '
'added to the parcel''s placeholders) and, when p_tell_vendors, each vendor with lines in it.';

-- ---------------------------------------------------------------------------------------
-- Moving parcels (fulfilment staff; the customer may confirm delivery)
-- ---------------------------------------------------------------------------------------

create function public.pack_shipment(p_shipment_id uuid)
returns public.shipments
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_shipment public.shipments%rowtype;
begin
    if not private.is_fulfilment_staff() then
        raise exception 'only fulfilment staff pack parcels' using errcode = '42501';
    end if;
    v_shipment := private.shipment_for_change(p_shipment_id);
    if v_shipment.status <> 'pending' then
        perform private.refuse(409, 'shipment_not_pending', format('the parcel is %s', v_shipment.status));
    end if;
    update public.shipments set status = 'packed' where id = p_shipment_id returning * into v_shipment;
    perform private.sync_order_status(v_shipment.order_id);
    perform private.tell_about_shipment(v_shipment, 'order_packed', false);
    return v_shipment;
end;
$$;

comment on function public.pack_shipment(uuid) is
'Fulfilment staff: a pending parcel is packed (the order becomes processing; the customer '
'can no longer cancel it). 409 shipment_not_pending otherwise.';

create function public.dispatch_shipment(p_shipment_id uuid, p_carrier text, p_tracking_number text)
returns public.shipments
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_shipment public.shipments%rowtype;
begin
    if not private.is_fulfilment_staff() then
        raise exception 'only fulfilment staff dispatch parcels' using errcode = '42501';
    end if;
    if coalesce(btrim(p_carrier), '') = '' or coalesce(btrim(p_tracking_number), '') = '' then
        perform private.refuse(422, 'carrier_required', 'a dispatch needs the carrier and a tracking number');
    end if;
    v_shipment := private.shipment_for_change(p_shipment_id);
    if v_shipment.status not in ('packed', 'failed') then
        perform private.refuse(
            409, 'shipment_not_ready', format('a %s parcel cannot be dispatched', v_shipment.status)
        );
    end if;
    update public.shipments
    set status = 'dispatched',
        carrier = left(btrim(p_carrier), 80),
        tracking_number = left(btrim(p_tracking_number), 80),
        failure_reason = null,
        delivery_attempts = delivery_attempts + 1,
        -- a second attempt keeps the first dispatch time: the fulfilment time is to the first
        dispatched_at = coalesce(dispatched_at, now())
    where id = p_shipment_id
    returning * into v_shipment;
    perform private.sync_order_status(v_shipment.order_id);
    perform private.tell_about_shipment(v_shipment, 'order_shipped', true);
    return v_shipment;
end;
$$;

comment on function public.dispatch_shipment(uuid, text, text) is
'Fulfilment staff: a packed parcel (or one whose delivery failed, tried again) leaves with '
'a carrier and tracking number. The order becomes partially_shipped or shipped; the '
'customer and the vendors are told.';

create function public.mark_shipment_in_transit(p_shipment_id uuid)
returns public.shipments
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_shipment public.shipments%rowtype;
begin
    if not private.is_fulfilment_staff() then
        raise exception 'only fulfilment staff track parcels' using errcode = '42501';
    end if;
    v_shipment := private.shipment_for_change(p_shipment_id);
    if v_shipment.status <> 'dispatched' then
        perform private.refuse(409, 'shipment_not_dispatched', format('the parcel is %s', v_shipment.status));
    end if;
    update public.shipments set status = 'in_transit' where id = p_shipment_id returning * into v_shipment;
    return v_shipment;
end;
$$;

comment on function public.mark_shipment_in_transit(uuid) is
'Fulfilment staff: a dispatched parcel is with the carrier on the road (optional step).';

create function public.confirm_delivery(p_shipment_id uuid)
returns public.shipments
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_shipment public.shipments%rowtype;
begin
    v_shipment := private.shipment_for_change(p_shipment_id);
    if not (
        private.is_fulfilment_staff()
        or v_shipment.customer_id is not distinct from (select auth.uid())
    ) then
        raise exception 'only the customer or fulfilment staff confirm a delivery'
            using errcode = '42501';
    end if;
    if v_shipment.status not in ('dispatched', 'in_transit') then
        perform private.refuse(
            409, 'shipment_not_on_its_way', format('a %s parcel cannot be delivered', v_shipment.status)
        );
    end if;
    update public.shipments set status = 'delivered' where id = p_shipment_id returning * into v_shipment;
    perform private.sync_order_status(v_shipment.order_id);
    perform private.tell_about_shipment(v_shipment, 'order_delivered', true);
    return v_shipment;
end;
$$;

comment on function public.confirm_delivery(uuid) is
'The customer (their own parcel) or fulfilment staff: the parcel arrived. When every parcel '
'has, the order is delivered and its return window starts.';

create function public.report_delivery_failed(p_shipment_id uuid, p_reason text)
returns public.shipments
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_shipment public.shipments%rowtype;
begin
    if not private.is_fulfilment_staff() then
        raise exception 'only fulfilment staff report failed deliveries' using errcode = '42501';
    end if;
    v_shipment := private.shipment_for_change(p_shipment_id);
    if v_shipment.status not in ('dispatched', 'in_transit') then
        perform private.refuse(
            409, 'shipment_not_on_its_way', format('a %s parcel cannot fail delivery', v_shipment.status)
        );
    end if;
    update public.shipments
    set status = 'failed', failure_reason = left(coalesce(nullif(btrim(p_reason), ''), 'not delivered'), 500)
    where id = p_shipment_id
    returning * into v_shipment;
    perform private.tell_about_shipment(v_shipment, 'delivery_failed', false);
    return v_shipment;
end;
$$;

comment on function public.report_delivery_failed(uuid, text) is
'Fulfilment staff: the carrier could not deliver (reason told to the customer). The parcel '
'is dispatched again later (dispatch_shipment) or goes back to its center '
'(return_shipment_to_center).';

create function public.return_shipment_to_center(p_shipment_id uuid)
returns public.shipments
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_shipment public.shipments%rowtype;
    v_refunds uuid [];
begin
    if not private.is_fulfilment_staff() then
        raise exception 'only fulfilment staff take parcels back' using errcode = '42501';
    end if;
    -- THE LOCK ORDER (every payment of the order: an instalment plan's has several), then
    -- the parcel
    perform private.lock_order_payments((select s.order_id from public.shipments as s where s.id = p_shipment_id));
    v_shipment := private.shipment_for_change(p_shipment_id);
    if v_shipment.status <> 'failed' then
        perform private.refuse(
            409, 'shipment_not_failed', 'only a parcel whose delivery failed goes back to its center'
        );
    end if;
    update public.shipments set status = 'returned' where id = p_shipment_id returning * into v_shipment;
    -- its units go back on the shelf they came from
    perform set_config('wats.stock_move', 'on', true);
    update public.inventory as i
    set on_hand = i.on_hand + l.quantity
    from (
        select oi.product_id, oi.center_id, sum(sl.quantity)::integer as quantity
        from public.shipment_lines as sl
        inner join public.order_items as oi on sl.order_item_id = oi.id
        where sl.shipment_id = p_shipment_id
        group by oi.product_id, oi.center_id
    ) as l
    where i.product_id = l.product_id and i.center_id = l.center_id;
    -- the customer gets back what they paid for this parcel: its goods and its delivery fee
    -- (less the parcel's share of a loyalty discount; never more than is left of what was paid)
    v_refunds := private.grant_order_refund(
        v_shipment.order_id, null, 'cancellation', 'parcel could not be delivered', null,
        (
            select jsonb_agg(jsonb_build_object('order_item_id', sl.order_item_id, 'quantity', sl.quantity))
            from public.shipment_lines as sl
            where sl.shipment_id = p_shipment_id
        ),
        private.shipping_fee(1)
    );
    perform private.sync_order_status(v_shipment.order_id);
    perform private.tell_about_shipment(
        v_shipment, 'shipment_returned', true,
        jsonb_build_object(
            'amount', coalesce((select sum(r.amount) from public.refunds as r where r.id = any(v_refunds)), 0)
        )
    );
    return v_shipment;
end;
$$;

comment on function public.return_shipment_to_center(uuid) is
'Fulfilment staff: a parcel that could not be delivered is back at its center. Its units are '
'restocked there and the customer is refunded its goods and delivery fee.';

-- ---------------------------------------------------------------------------------------
-- Cancelling a paid order
-- ---------------------------------------------------------------------------------------

create function public.cancel_order(p_order_id uuid, p_reason text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
    v_admin boolean := private.is_admin() or private.is_service_role();
    v_refunds uuid [];
    v_left bigint;
begin
    select * into v_order from public.orders where id = p_order_id;
    if not found or not (v_admin or v_order.customer_id = (select auth.uid())) then
        perform private.refuse(404, 'order_not_found', 'no such order');
    end if;
    if v_order.paid_at is null then
        perform private.refuse(
            409, 'order_not_paid', 'only a paid order can be cancelled (an unpaid one simply expires)'
        );
    end if;
    -- THE LOCK ORDER: every payment of the order (an instalment plan's has several)
    v_order := private.lock_order_payments(p_order_id);
    if v_order.status not in ('paid', 'processing') then
        perform private.refuse(
            409, 'order_not_cancellable', format('a %s order can no longer be cancelled', v_order.status)
        );
    end if;
    -- a customer until packing starts, an admin until a parcel leaves
    if exists (
        select 1 from public.shipments as s
        where s.order_id = p_order_id
            and s.status not in ('pending', 'cancelled')
            and (not v_admin or s.status <> 'packed')
    ) then
        perform private.refuse(
            409,
            'order_not_cancellable',
            case when v_admin then 'a parcel of this order has left its center'
                else 'your order is already being packed: ask us to cancel it' end
        );
    end if;
    perform 1 from public.shipments as s where s.order_id = p_order_id order by s.id for update;
    update public.shipments set status = 'cancelled'
    where order_id = p_order_id and status in ('pending', 'packed');
    update public.orders
    set status = 'cancelled',
        cancel_reason = left(coalesce(nullif(btrim(p_reason), ''), 'cancelled'), 500)
    where id = p_order_id;
    -- the units go back to the centers they were taken from
    perform set_config('wats.stock_move', 'on', true);
    update public.inventory as i
    set on_hand = i.on_hand + l.quantity
    from (
        select oi.product_id, oi.center_id, sum(oi.quantity)::integer as quantity
        from public.order_items as oi
        where oi.order_id = p_order_id
        group by oi.product_id, oi.center_id
    ) as l
    where i.product_id = l.product_id and i.center_id = l.center_id;
    -- what is left of the money that paid for it (its payment, or its plan's instalments)
    select coalesce(sum(p.amount - private.refund_commitments(p.id)), 0) into v_left
    from public.payments as p
    where p.order_id = p_order_id and p.status in ('succeeded', 'partially_refunded')
        and private.payment_paid_for_order(p.id);
    if v_left > 0 then
        v_refunds := private.grant_order_refund(
            p_order_id, v_left, 'cancellation',
            left(coalesce(nullif(btrim(p_reason), ''), 'order cancelled'), 500), null
        );
    end if;
    perform private.notify_all(
        jsonb_build_array(jsonb_build_object(
            'user_id', v_order.customer_id, 'type', 'order_cancelled',
            'params', jsonb_build_object('amount', v_left),
            'data', jsonb_build_object('order_id', p_order_id, 'refund_id', v_refunds[1])
        ))
        || coalesce((
            select jsonb_agg(jsonb_build_object(
                'user_id', v.owner_id, 'type', 'vendor_order_cancelled',
                'params', jsonb_build_object('order', left(p_order_id::text, 8)),
                'data', jsonb_build_object('order_id', p_order_id, 'vendor_id', v.id)
            ))
            from public.vendors as v
            where v.id in (select oi.vendor_id from public.order_items as oi where oi.order_id = p_order_id)
        ), '[]'::jsonb)
    );
    return jsonb_build_object(
        'order_id', p_order_id, 'order_status', 'cancelled', 'refund_id', v_refunds[1],
        'refund_ids', to_jsonb(coalesce(v_refunds, '{}'::uuid []))
    );
end;
$$;

comment on function public.cancel_order(uuid, text) is
'Cancels a paid order: by its customer before any parcel is packed, by an admin before any '
'leaves its center. Parcels cancelled, units back at their centers, a refund of what is '
'left of the payment granted (and sent by refund-execute), the customer and vendors told. '
'404 order_not_found (not yours), 409 order_not_paid / order_not_cancellable.';

-- ---------------------------------------------------------------------------------------
-- Completing delivered orders (pg_cron)
-- ---------------------------------------------------------------------------------------

create function public.complete_orders()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_window interval := make_interval(days => private.setting_int('returns.window_days')::integer);
    v_count integer;
begin
    with done as (
        update public.orders as o
        set status = 'completed'
        where o.status in ('delivered', 'returned')
            and o.delivered_at < now() - v_window
            and not exists (
                select 1 from public.shipments as s
                where s.order_id = o.id and s.delivered_at >= now() - v_window
            )
            and not exists (
                select 1 from public.returns as r
                where r.order_id = o.id and r.status in ('requested', 'approved', 'received')
            )
        returning o.id
    )
    select count(*) into v_count from done;
    return jsonb_build_object('completed', v_count);
end;
$$;

comment on function public.complete_orders() is
'Completes delivered (or partly returned) orders whose return window (returns.window_days '
'after the last delivery) passed with no return open. Service role; scheduled with pg_cron.';

-- ---------------------------------------------------------------------------------------
-- Returns
-- ---------------------------------------------------------------------------------------

create domain public.return_status as text
constraint return_status_known check (
    value in ('requested', 'approved', 'rejected', 'received', 'refunded')
);

comment on domain public.return_status is
'The states of a return (machine return in private.status_transitions).';

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
    photo_paths text[] not null default '{}' constraint returns_photo_count check (
        cardinality(photo_paths) <= 5
    ),
    status public.return_status not null default 'requested',
    refund_amount bigint not null default 0,
    restocked_quantity integer not null default 0,
    damaged_quantity integer not null default 0,
    currency text not null default 'TZS' constraint returns_currency_tzs check (currency = 'TZS'),
    resolution_note text constraint returns_resolution_note_length check (
        char_length(resolution_note) <= 1000
    ),
    decided_by uuid references public.profiles (id) on delete set null,
    decided_at timestamptz,
    received_at timestamptz,
    refunded_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint returns_refund_within_value check (
        refund_amount between 0 and unit_price * quantity
    ),
    constraint returns_received_adds_up check (
        restocked_quantity >= 0 and damaged_quantity >= 0
        and restocked_quantity + damaged_quantity in (0, quantity)
    )
);

comment on table public.returns is
'A customer''s request to return (part of) a delivered order line within the return window. '
'The customer creates it; admins decide (decide_return); the center receives it and '
'restocks or writes off each unit (receive_return); its refund goes through '
'public.refunds. The line''s vendor and admins read it too. Machine return.';
comment on column public.returns.order_id is 'Filled from the order line.';
comment on column public.returns.customer_id is 'Filled from the order line (must be the caller).';
comment on column public.returns.vendor_id is 'Filled from the order line: the vendor affected.';
comment on column public.returns.unit_price is 'Filled from the order line; caps refund_amount.';
comment on column public.returns.photo_paths is
'Photos of the item, at most 5: names of objects in the private bucket return-photos under '
'the customer''s own folder (<customer_id>/...), uploaded before the request.';
comment on column public.returns.status is
'requested -> approved | rejected; approved -> received -> refunded (or approved -> '
'refunded with returns.refund_on = approval).';
comment on column public.returns.refund_amount is
'Whole TZS refunded for it: unit_price * quantity, granted at receipt (or approval).';
comment on column public.returns.restocked_quantity is
'Units back on the shelf at the line''s center after receipt; damaged_quantity were written off.';

create index returns_order_item_id_idx on public.returns (order_item_id);
create index returns_order_id_idx on public.returns (order_id);
create index returns_customer_id_idx on public.returns (customer_id);
create index returns_vendor_id_idx on public.returns (vendor_id);
create index returns_decided_by_idx on public.returns (decided_by);
create index returns_open_idx on public.returns (created_at)
where status in ('requested', 'approved', 'received');

create function private.prepare_return()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_item public.order_items%rowtype;
    v_delivered timestamptz;
    v_already integer;
    v_path text;
begin
    -- Lock the line so two concurrent requests cannot both pass the quantity check.
    select * into v_item from public.order_items as oi where oi.id = new.order_item_id for update;
    if not found
        or ((select auth.uid()) is not null and v_item.customer_id <> (select auth.uid())) then
        raise exception 'order line % is not yours', new.order_item_id using errcode = '42501';
    end if;
    select s.delivered_at into v_delivered
    from public.shipment_lines as sl
    inner join public.shipments as s on sl.shipment_id = s.id
    where sl.order_item_id = new.order_item_id and s.status = 'delivered';
    if v_delivered is null then
        raise exception 'this line was not delivered: returns are possible once it is'
            using errcode = 'WT001';
    end if;
    if v_delivered < now() - make_interval(days => private.setting_int('returns.window_days')::integer) then
        raise exception 'the return window of % days after delivery has passed',
            private.setting_int('returns.window_days')
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
    foreach v_path in array coalesce(new.photo_paths, '{}') loop
        if (storage.foldername(v_path))[1] is distinct from v_item.customer_id::text
            or v_path !~ '^[0-9a-f-]{36}/[A-Za-z0-9._-]{1,200}$' then
            raise exception 'photos must be in your own folder of bucket return-photos'
                using errcode = '23514';
        end if;
    end loop;
    new.order_id := v_item.order_id;
    new.customer_id := v_item.customer_id;
    new.vendor_id := v_item.vendor_id;
    new.unit_price := v_item.unit_price;
    new.currency := v_item.currency;
    return new;
end;
$$;

comment on function private.prepare_return() is
'BEFORE INSERT trigger on returns: the line must be the caller''s and delivered, within '
'returns.window_days of its delivery, the quantity not more than what is left to return, and '
'photos in the caller''s own folder; fills order, customer, vendor and price from the line.';

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

create function private.return_params(p_return public.returns)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'quantity', p_return.quantity,
            'title', oi.title,
            'order', left(p_return.order_id::text, 8),
            'reason', p_return.reason,
            'note', coalesce(p_return.resolution_note, ''),
            'restocked', p_return.restocked_quantity,
            'damaged', p_return.damaged_quantity
        )
        from public.order_items as oi
        where oi.id = p_return.order_item_id
    );
end;
$$;

comment on function private.return_params(public.returns) is
'The placeholders return notifications fill: quantity, title, order, reason, note, '
'restocked, damaged.';

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
        perform private.notify_all(jsonb_build_array(
            jsonb_build_object(
                'user_id', new.customer_id, 'type', 'return_requested',
                'params', private.return_params(new),
                'data', jsonb_build_object('order_id', new.order_id, 'return_id', new.id)
            ),
            jsonb_build_object(
                'user_id', (select v.owner_id from public.vendors as v where v.id = new.vendor_id),
                'type', 'vendor_return_requested',
                'params', private.return_params(new),
                'data', jsonb_build_object(
                    'order_id', new.order_id, 'return_id', new.id, 'vendor_id', new.vendor_id
                )
            )
        ));
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
'return_requested and tells the customer and the vendor; once no request is open the order '
'becomes returned (something was refunded) or delivered again (all rejected).';

create trigger returns_sync_order
after insert or update of status on public.returns
for each row execute function private.sync_order_with_returns();

create function private.return_for_change(p_return_id uuid)
returns public.returns
language plpgsql
set search_path = ''
as $$
declare
    v_return public.returns%rowtype;
begin
    -- THE LOCK ORDER (every payment of the order), then the return
    perform private.lock_order_payments((select r.order_id from public.returns as r where r.id = p_return_id));
    select * into v_return from public.returns where id = p_return_id for update;
    if not found then
        perform private.refuse(404, 'return_not_found', 'no such return');
    end if;
    return v_return;
end;
$$;

comment on function private.return_for_change(uuid) is
'The return row, locked for a change after its payment''s locks (THE LOCK ORDER): 404 '
'return_not_found when there is none.';

create function private.grant_return_refund(p_return public.returns)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    v_refunds uuid [];
begin
    v_refunds := private.grant_order_refund(
        p_return.order_id, null, 'return', 'return of ' || p_return.quantity || ' unit(s)', p_return.id,
        jsonb_build_array(jsonb_build_object('order_item_id', p_return.order_item_id, 'quantity', p_return.quantity))
    );
    update public.returns
    set refund_amount = (select sum(r.amount) from public.refunds as r where r.id = any(v_refunds))
    where id = p_return.id;
    return v_refunds[1];
end;
$$;

comment on function private.grant_return_refund(public.returns) is
'Grants the refund of a return: its units at the price paid (the delivery fee stays, the '
'parcel did arrive), from the order''s payment (an instalment plan''s order: from its '
'instalments'' payments, private.grant_order_refund). Returns the (first) refund id.';

create function public.decide_return(p_return_id uuid, p_approve boolean, p_note text default null)
returns public.returns
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_return public.returns%rowtype;
begin
    if not private.is_admin() then
        raise exception 'only an admin decides returns' using errcode = '42501';
    end if;
    if p_approve is null then
        perform private.refuse(422, 'decision_required', 'p_approve must be true or false');
    end if;
    v_return := private.return_for_change(p_return_id);
    if v_return.status <> 'requested' then
        perform private.refuse(409, 'return_decided', format('this return is already %s', v_return.status));
    end if;
    update public.returns
    set status = case when p_approve then 'approved' else 'rejected' end,
        resolution_note = left(nullif(btrim(p_note), ''), 1000),
        decided_by = (select auth.uid())
    where id = p_return_id
    returning * into v_return;
    if p_approve and private.setting_text('returns.refund_on') = 'approval' then
        perform private.grant_return_refund(v_return);
    end if;
    perform private.notify(
        v_return.customer_id,
        case when p_approve then 'return_approved' else 'return_rejected' end,
        private.return_params(v_return),
        jsonb_build_object('order_id', v_return.order_id, 'return_id', v_return.id)
    );
    return v_return;
end;
$$;

comment on function public.decide_return(uuid, boolean, text) is
'Admins: approve or reject a requested return, with a note the customer reads. With '
'returns.refund_on = approval the refund is granted at once. 409 return_decided.';

create function public.receive_return(p_return_id uuid, p_restocked integer, p_damaged integer)
returns public.returns
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_return public.returns%rowtype;
begin
    if not private.is_fulfilment_staff() then
        raise exception 'only fulfilment staff receive returns' using errcode = '42501';
    end if;
    v_return := private.return_for_change(p_return_id);
    if v_return.received_at is not null or v_return.status not in ('approved', 'refunded') then
        perform private.refuse(
            409, 'return_not_expected', format('a %s return cannot be received', v_return.status)
        );
    end if;
    if p_restocked is null or p_damaged is null or p_restocked < 0 or p_damaged < 0
        or p_restocked + p_damaged <> v_return.quantity then
        perform private.refuse(
            422,
            'units_do_not_add_up',
            format('restocked and damaged units must add up to the %s returned', v_return.quantity)
        );
    end if;
    update public.returns
    set status = case when status = 'approved' then 'received' else status end,
        received_at = now(),
        restocked_quantity = p_restocked,
        damaged_quantity = p_damaged
    where id = p_return_id
    returning * into v_return;
    perform set_config('wats.stock_move', 'on', true);
    update public.inventory as i
    set on_hand = i.on_hand + p_restocked
    from public.order_items as oi
    where oi.id = v_return.order_item_id and i.product_id = oi.product_id and i.center_id = oi.center_id
        and p_restocked > 0;
    if private.setting_text('returns.refund_on') <> 'approval' then
        perform private.grant_return_refund(v_return);
    end if;
    perform private.notify_all(jsonb_build_array(
        jsonb_build_object(
            'user_id', v_return.customer_id, 'type', 'return_received',
            'params', private.return_params(v_return),
            'data', jsonb_build_object('order_id', v_return.order_id, 'return_id', v_return.id)
        ),
        jsonb_build_object(
            'user_id', (select v.owner_id from public.vendors as v where v.id = v_return.vendor_id),
            'type', 'vendor_return_received',
            'params', private.return_params(v_return),
            'data', jsonb_build_object(
                'order_id', v_return.order_id, 'return_id', v_return.id, 'vendor_id', v_return.vendor_id
            )
        )
    ));
    return v_return;
end;
$$;

comment on function public.receive_return(uuid, integer, integer) is
'Fulfilment staff: an approved return is back at the center; each unit is restocked there '
'or written off as damaged (they must add up). The refund is granted now (returns.refund_on '
'= receipt, the default). 409 return_not_expected, 422 units_do_not_add_up.';

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.shipments enable row level security;
alter table public.shipment_lines enable row level security;
alter table public.returns enable row level security;

revoke all on table public.shipments, public.shipment_lines, public.returns
from anon, authenticated, service_role;

-- Parcels and returns move only through the functions above.
grant select on table public.shipments, public.shipment_lines to authenticated, service_role;
grant select on table public.returns to authenticated, service_role;
grant insert (order_item_id, quantity, reason, details, photo_paths)
on table public.returns to authenticated;

create policy "customers and their vendors read shipments"
on public.shipments
for select
to authenticated
using (
    customer_id = (select private.uid()) or vendor_ids && array[(select private.own_vendor_id())]
);

create policy "wats admins read every shipment"
on public.shipments
for select
to wats_admin
using ((select private.is_admin()));

create policy "customers and vendors of the line read shipment lines"
on public.shipment_lines
for select
to authenticated
using (
    customer_id = (select private.uid()) or vendor_id = (select private.own_vendor_id())
);

create policy "wats admins read every shipment line"
on public.shipment_lines
for select
to wats_admin
using ((select private.is_admin()));

create policy "customers and vendors read their returns"
on public.returns
for select
to authenticated
using (
    customer_id = (select private.uid()) or vendor_id = (select private.own_vendor_id())
);

create policy "wats admins read every return"
on public.returns
for select
to wats_admin
using ((select private.is_admin()));

create policy "customers request returns of their own order lines"
on public.returns
for insert
to authenticated
with check (customer_id = (select auth.uid()));

revoke all on function
public.pack_shipment(uuid),
public.dispatch_shipment(uuid, text, text),
public.mark_shipment_in_transit(uuid),
public.confirm_delivery(uuid),
public.report_delivery_failed(uuid, text),
public.return_shipment_to_center(uuid),
public.cancel_order(uuid, text),
public.decide_return(uuid, boolean, text),
public.receive_return(uuid, integer, integer),
public.complete_orders()
from public, anon, authenticated, service_role;

grant execute on function
public.pack_shipment(uuid),
public.dispatch_shipment(uuid, text, text),
public.mark_shipment_in_transit(uuid),
public.confirm_delivery(uuid),
public.report_delivery_failed(uuid, text),
public.return_shipment_to_center(uuid),
public.cancel_order(uuid, text),
public.receive_return(uuid, integer, integer)
to authenticated, service_role;
grant execute on function public.decide_return(uuid, boolean, text) to authenticated;
grant execute on function public.complete_orders() to service_role;

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
