-- WATS schema, part 5: carts and orders. A customer fills one cart; checkout (an SQL
-- function, 20261127001100_checkout.sql) turns it into an order with price and title
-- snapshots. Orders and order items are written only by SQL functions.

-- ---------------------------------------------------------------------------------------
-- Carts
-- ---------------------------------------------------------------------------------------

create table public.carts (
    id uuid primary key default gen_random_uuid(),
    customer_id uuid not null default auth.uid() unique
    references public.profiles (id) on delete cascade,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- Target of cart_items' (customer_id, cart_id) foreign key.
    constraint carts_customer_id_id_key unique (customer_id, id)
);

comment on table public.carts is
'The customer''s one open cart (one per customer). Checkout empties it.';

create trigger carts_touch_updated_at
before update on public.carts
for each row execute function private.touch_updated_at();

create table public.cart_items (
    id uuid primary key default gen_random_uuid(),
    cart_id uuid not null,
    customer_id uuid not null default auth.uid(),
    product_id uuid not null references public.products (id) on delete cascade,
    quantity integer not null constraint cart_items_quantity_range check (
        quantity between 1 and 100
    ),
    livestream_session_id uuid references public.livestream_sessions (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint cart_items_cart_product_key unique (cart_id, product_id),
    constraint cart_items_cart_fkey foreign key (customer_id, cart_id)
    references public.carts (customer_id, id) on delete cascade
);

comment on table public.cart_items is
'A product and quantity in a cart. Only listed products can be added; checkout re-reads '
'prices and stock.';
comment on column public.cart_items.customer_id is
'The cart''s owner (defaults to the signed-in user; the composite foreign key keeps it equal '
'to the cart''s). Kept here so policies need no join.';

comment on column public.cart_items.livestream_session_id is
'The live session the customer added the product from (optional): while that session is live '
'and features the product, checkout sells it at the session''s live price and the order line '
'remembers the session.';

create index cart_items_customer_id_cart_id_idx on public.cart_items (customer_id, cart_id);
create index cart_items_product_id_idx on public.cart_items (product_id);
create index cart_items_livestream_session_id_idx on public.cart_items (livestream_session_id);

create trigger cart_items_touch_updated_at
before update on public.cart_items
for each row execute function private.touch_updated_at();

create function private.check_cart_livestream()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if new.livestream_session_id is not null and not exists (
        select 1
        from public.livestream_products as lp
        inner join public.livestream_sessions as s on lp.session_id = s.id
        inner join public.vendors as v on s.vendor_id = v.id
        where lp.session_id = new.livestream_session_id and lp.product_id = new.product_id
            and s.status in ('scheduled', 'live') and v.status = 'approved'
    ) then
        raise exception 'that livestream does not feature this product (or is not on)'
            using errcode = '23514';
    end if;
    return new;
end;
$$;

comment on function private.check_cart_livestream() is
'BEFORE INSERT/UPDATE trigger on cart_items: a line naming a livestream names a scheduled or '
'live session of an approved vendor that features its product (23514 otherwise).';

create trigger cart_items_livestream_featured
before insert or update of livestream_session_id, product_id on public.cart_items
for each row execute function private.check_cart_livestream();

-- ---------------------------------------------------------------------------------------
-- Orders
-- ---------------------------------------------------------------------------------------

create domain public.order_status as text
constraint order_status_known check (
    value in (
        'pending_payment', 'paid', 'processing', 'partially_shipped', 'shipped', 'delivered',
        'completed', 'cancelled', 'expired', 'return_requested', 'returned'
    )
);

comment on domain public.order_status is
'The states of an order (machine order in private.status_transitions). Mirrored by the Edge '
'Functions'' _shared/payments/contract.ts.';

create table public.orders (
    id uuid primary key default gen_random_uuid(),
    customer_id uuid not null references public.profiles (id) on delete restrict,
    status public.order_status not null default 'pending_payment',
    subtotal bigint not null constraint orders_subtotal_non_negative check (subtotal >= 0),
    discount bigint not null default 0 constraint orders_discount_non_negative check (
        discount >= 0
    ),
    shipping_fee bigint not null default 0 constraint orders_shipping_fee_non_negative check (
        shipping_fee >= 0
    ),
    total bigint not null,
    points_redeemed integer not null default 0
    constraint orders_points_redeemed_non_negative check (points_redeemed >= 0),
    currency text not null default 'TZS' constraint orders_currency_tzs check (currency = 'TZS'),
    shipping_address jsonb not null constraint orders_shipping_address_shape check (
        private.is_valid_shipping_address(shipping_address)
    ),
    phone public.msisdn not null,
    idempotency_key public.idempotency_key not null,
    expires_at timestamptz not null default now() + interval '30 minutes',
    paid_at timestamptz,
    shipped_at timestamptz,
    delivered_at timestamptz,
    completed_at timestamptz,
    cancelled_at timestamptz,
    expired_at timestamptz,
    cancel_reason text constraint orders_cancel_reason_length check (
        char_length(cancel_reason) <= 500
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint orders_discount_within_subtotal check (discount <= subtotal),
    constraint orders_total_adds_up check (total = subtotal - discount + shipping_fee),
    constraint orders_customer_idempotency_key_key unique (customer_id, idempotency_key),
    -- Target of the (customer_id, order_id) foreign keys of order_items, payments,
    -- shipments and bnpl_orders.
    constraint orders_customer_id_id_key unique (customer_id, id)
);

comment on table public.orders is
'One checkout of one customer (possibly many vendors). Read by the customer and admins; '
'written only by SQL functions (checkout, payment apply, expiry, fulfilment). Status '
'transitions are checked against private.status_transitions (machine order).';
comment on column public.orders.status is
'pending_payment -> paid, then as its shipments move: processing -> partially_shipped -> '
'shipped -> delivered -> completed (return window over); pending_payment -> cancelled | '
'expired; expired -> paid (late payment, stock re-reserved); paid | processing -> cancelled '
'(before dispatch); delivered -> return_requested -> returned | delivered. Machine order in '
'private.status_transitions.';
comment on column public.orders.subtotal is 'Sum of order_items.line_total, whole TZS.';
comment on column public.orders.discount is
'Whole TZS taken off the subtotal (loyalty points redeemed); the platform funds it, vendors '
'are credited the undiscounted price.';
comment on column public.orders.points_redeemed is
'Loyalty points spent on this order (held while its payment is open); discount is their value.';
comment on column public.orders.total is
'Amount to pay: subtotal - discount + shipping_fee (checked).';
comment on column public.orders.shipping_address is
'Delivery address, shape checked by private.is_valid_shipping_address(): recipient_name, '
'region, district, street required; ward, landmark, postcode, notes optional.';
comment on column public.orders.phone is
'Customer phone at checkout (from the profile); the default payment msisdn. Shown masked to '
'vendors (public.vendor_order_lines).';
comment on column public.orders.idempotency_key is
'The Idempotency-Key of the checkout request; unique per customer.';
comment on column public.orders.expires_at is
'When an unpaid (pending_payment) order expires and its reserved stock is released: '
'payments.unpushed_hold_seconds after checkout, moved to payments.window_seconds after the '
'push prompt is requested (settings in private.settings).';

create index orders_pending_expires_at_idx on public.orders (expires_at)
where status = 'pending_payment';
-- Checkout counts a customer's unpaid holds (settings checkout.max_*) from these rows only.
create index orders_pending_customer_id_idx on public.orders (customer_id)
where status = 'pending_payment';

create trigger orders_status_transition
before update of status on public.orders
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'order',
    'paid:paid_at',
    'shipped:shipped_at',
    'delivered:delivered_at',
    'completed:completed_at',
    'cancelled:cancelled_at',
    'expired:expired_at'
);

create trigger orders_touch_updated_at
before update on public.orders
for each row execute function private.touch_updated_at();

create table public.order_items (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null,
    customer_id uuid not null,
    product_id uuid not null,
    vendor_id uuid not null,
    center_id uuid not null references public.fulfillment_centers (id) on delete restrict,
    title text not null constraint order_items_title_length check (
        char_length(title) between 1 and 200
    ),
    unit_price bigint not null constraint order_items_unit_price_positive check (unit_price > 0),
    quantity integer not null constraint order_items_quantity_positive check (quantity > 0),
    line_total bigint not null,
    currency text not null default 'TZS' constraint order_items_currency_tzs check (
        currency = 'TZS'
    ),
    commission_bps integer not null default 0 constraint order_items_commission_range check (
        commission_bps between 0 and 5000
    ),
    livestream_session_id uuid,
    created_at timestamptz not null default now(),
    constraint order_items_line_total_adds_up check (line_total = unit_price * quantity),
    constraint order_items_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete cascade,
    constraint order_items_product_fkey foreign key (vendor_id, product_id)
    references public.products (vendor_id, id) on delete restrict,
    -- a session of the line's own vendor
    constraint order_items_livestream_fkey foreign key (vendor_id, livestream_session_id)
    references public.livestream_sessions (vendor_id, id) on delete restrict
);

comment on table public.order_items is
'One line of an order: a snapshot of the product (title, unit price) as sold, its vendor and '
'the center it ships from. Read by the order''s customer, the line''s vendor and admins; '
'written only by SQL functions. Rows never change (no updated_at).';
comment on column public.order_items.customer_id is
'The order''s customer (composite foreign key), kept here so policies need no join.';
comment on column public.order_items.vendor_id is
'The product''s vendor (composite foreign key): the vendor who fulfils this line.';
comment on column public.order_items.center_id is
'Fulfillment center whose stock was reserved for this line.';
comment on column public.order_items.title is 'Product title at checkout.';
comment on column public.order_items.unit_price is 'Product price at checkout, whole TZS.';
comment on column public.order_items.line_total is 'unit_price * quantity (checked).';
comment on column public.order_items.commission_bps is
'Vendor commission at checkout (vendor_accounts.commission_bps), for payouts.';
comment on column public.order_items.livestream_session_id is
'The live session the line was bought through (its live price, while the session was live); '
'null for an ordinary sale. public.livestream_sales sums them per session.';

create index order_items_customer_id_order_id_idx on public.order_items (customer_id, order_id);
create index order_items_order_id_idx on public.order_items (order_id);
create index order_items_vendor_id_product_id_idx on public.order_items (vendor_id, product_id);
-- A vendor's lines newest first (rpc vendor_order_lines pages, the vendor's order screens).
create index order_items_vendor_id_created_at_idx on public.order_items (
    vendor_id, created_at desc, id
);
create index order_items_center_id_idx on public.order_items (center_id);
create index order_items_vendor_id_livestream_session_id_idx on public.order_items (
    vendor_id, livestream_session_id
);

-- ---------------------------------------------------------------------------------------
-- What vendors see of the orders they fulfil (phone masked)
-- ---------------------------------------------------------------------------------------

create function private.vendor_view_of_address(p_address jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
    -- what a vendor needs to know where their goods go: region and district (the town)
    return jsonb_build_object('region', p_address -> 'region', 'district', p_address -> 'district');
end;
$$;

comment on function private.vendor_view_of_address(jsonb) is
'A shipping address as a vendor sees it: region and district only, never the recipient, '
'street, landmark or notes (the customer and admins see it whole).';

grant execute on function private.vendor_view_of_address(jsonb) to authenticated, service_role;

create function public.vendor_order_lines(
    p_vendor_id uuid default null,
    p_limit integer default null,
    p_offset integer default 0
)
returns table (
    order_item_id uuid,
    order_id uuid,
    vendor_id uuid,
    product_id uuid,
    center_id uuid,
    title text,
    unit_price bigint,
    quantity integer,
    line_total bigint,
    currency text,
    order_status public.order_status,
    ordered_at timestamptz,
    paid_at timestamptz,
    shipping_address jsonb,
    customer_phone text
)
language plpgsql
stable
security definer
set search_path = ''
-- plan each call with the caller's vendor ids known (one shop, or all of them for an admin)
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
declare
    v_vendors uuid [] := private.managed_vendor_ids();
    v_unmasked boolean := private.is_admin();
    v_caller uuid := auth.uid();
begin
    if p_limit is not null and p_limit not between 1 and 1000 then
        raise exception 'p_limit must be between 1 and 1000' using errcode = '22023';
    end if;
    if p_offset is null or p_offset < 0 then
        raise exception 'p_offset must be 0 or more' using errcode = '22023';
    end if;
    if p_vendor_id is not null then
        v_vendors := case
            when p_vendor_id = any(v_vendors) then array[p_vendor_id] else '{}'::uuid []
        end;
    end if;
    if p_limit is null then
        -- every line: one join over the vendors' lines
        return query
        select
            oi.id,
            oi.order_id,
            oi.vendor_id,
            oi.product_id,
            oi.center_id,
            oi.title,
            oi.unit_price,
            oi.quantity,
            oi.line_total,
            oi.currency,
            o.status,
            o.created_at,
            o.paid_at,
            case
                when v_unmasked or o.customer_id = v_caller then o.shipping_address
                else private.vendor_view_of_address(o.shipping_address)
            end,
            case
                when v_unmasked or o.customer_id = v_caller then o.phone::text
                else private.mask_phone(o.phone)
            end
        from public.order_items as oi
        inner join public.orders as o on oi.order_id = o.id
        where
            oi.vendor_id = any(v_vendors)
            and o.status not in ('pending_payment', 'cancelled', 'expired')
        order by oi.created_at desc, oi.id
        offset p_offset;
        return;
    end if;
    -- a page: each vendor's newest lines straight from order_items_vendor_id_created_at_idx,
    -- merged; only the page's phones are masked
    return query
    select
        l.id,
        l.order_id,
        l.vendor_id,
        l.product_id,
        l.center_id,
        l.title,
        l.unit_price,
        l.quantity,
        l.line_total,
        l.currency,
        l.status,
        l.ordered_at,
        l.paid_at,
        case
            when v_unmasked or l.customer_id = v_caller then l.shipping_address
            else private.vendor_view_of_address(l.shipping_address)
        end,
        case
            when v_unmasked or l.customer_id = v_caller then l.phone::text
            else private.mask_phone(l.phone)
        end
    from unnest(v_vendors) as mv (id)
    cross join lateral (
        select
            oi.id,
            oi.order_id,
            oi.vendor_id,
            oi.product_id,
            oi.center_id,
            oi.title,
            oi.unit_price,
            oi.quantity,
            oi.line_total,
            oi.currency,
            oi.created_at,
            o.status,
            o.created_at as ordered_at,
            o.paid_at,
            o.shipping_address,
            o.phone,
            o.customer_id
        from public.order_items as oi
        inner join public.orders as o on oi.order_id = o.id
        where
            oi.vendor_id = mv.id
            and o.status not in ('pending_payment', 'cancelled', 'expired')
        order by oi.created_at desc, oi.id
        limit p_limit + p_offset
    ) as l
    order by l.created_at desc, l.id
    limit p_limit offset p_offset;
end;
$$;

comment on function public.vendor_order_lines(uuid, integer, integer) is
'Order lines a vendor fulfils, with the order fields needed to ship them: status, times, '
'the shipping address to region and district and the customer phone masked (255****5678); '
'admins and the order''s own customer see both whole. Only paid (and later) '
'orders, newest first (a line is created with its order). A vendor gets the lines of their '
'own shops (p_vendor_id narrows to one), an admin those of every vendor with the phone '
'unmasked, anyone else nothing. Page with p_limit (1-1000) and p_offset: a page is read '
'from an index, so its cost does not grow with the vendor''s history; without p_limit every '
'line is returned (Data API filters, ordering and paging then apply on top).';

revoke all on function public.vendor_order_lines(uuid, integer, integer)
from public, anon, authenticated, service_role;
grant execute on function public.vendor_order_lines(uuid, integer, integer) to authenticated;

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.carts enable row level security;
alter table public.cart_items enable row level security;
alter table public.orders enable row level security;
alter table public.order_items enable row level security;

revoke all on table public.carts, public.cart_items, public.orders, public.order_items
from anon, authenticated, service_role;

grant select, delete on table public.carts to authenticated;
grant insert (customer_id) on table public.carts to authenticated;
grant select, delete on table public.cart_items to authenticated;
grant insert (cart_id, customer_id, product_id, quantity, livestream_session_id)
on table public.cart_items to authenticated;
grant update (quantity, livestream_session_id) on table public.cart_items to authenticated;
grant select, insert, update, delete on table public.carts, public.cart_items to service_role;

-- Orders and order items: read-only for every API role; SQL functions write them.
grant select on table public.orders, public.order_items to authenticated, service_role;

-- carts
create policy "customers read their own cart"
on public.carts
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every cart"
on public.carts
for select
to wats_admin
using ((select private.is_admin()));

create policy "customers create their own cart"
on public.carts
for insert
to authenticated
with check (customer_id = (select auth.uid()));

create policy "customers delete their own cart"
on public.carts
for delete
to authenticated
using (customer_id = (select auth.uid()));

-- cart_items
create policy "customers read their own cart items"
on public.cart_items
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every cart item"
on public.cart_items
for select
to wats_admin
using ((select private.is_admin()));

create policy "customers add listed products to their own cart"
on public.cart_items
for insert
to authenticated
with check (customer_id = (select auth.uid()) and private.is_listed_product(product_id));

create policy "customers change quantities in their own cart"
on public.cart_items
for update
to authenticated
using (customer_id = (select auth.uid()))
with check (customer_id = (select auth.uid()));

create policy "customers remove items from their own cart"
on public.cart_items
for delete
to authenticated
using (customer_id = (select auth.uid()));

-- orders
create policy "customers read their own orders"
on public.orders
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every order"
on public.orders
for select
to wats_admin
using ((select private.is_admin()));

-- order_items
create policy "customers and vendors read their order lines"
on public.order_items
for select
to authenticated
using (
    customer_id = (select private.uid()) or vendor_id = (select private.own_vendor_id())
);

create policy "wats admins read every order line"
on public.order_items
for select
to wats_admin
using ((select private.is_admin()));
