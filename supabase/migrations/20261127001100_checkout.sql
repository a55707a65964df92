-- WATS payments, part 2: checkout. A signed-in customer's cart becomes an order with
-- reserved stock and a pending payment, in one SQL function called through the Data API
-- (by the Edge Function checkout-initiate, as the customer). Also here: the building blocks
-- the whole payment flow shares (refusals, stock moves, the lock helpers) and the payment
-- settings. Next: 20261127001110_payment_events.sql (the push and provider outcomes) and
-- 20261127001120_reconcile_and_expiry.sql.
--
-- Stock: checkout reserves (inventory.reserved), success commits (on_hand and reserved go
-- down), failure, expiry and cancellation release (reserved goes down).
--
-- THE LOCK ORDER. Every function that changes a cart, a payment, an order or stock locks
-- the rows it needs in this one order, so concurrent calls wait for each other and never
-- deadlock:
--
--   1. the customer's cart (carts row)
--   2. the payment (payments row); several payments of one order (an instalment plan's) in
--      id order
--   3. the order (orders row), then its instalment plan (bnpl_orders row, if any: the plan's
--      instalments are written only under it)
--   4. stock rows (inventory), sorted by (product_id, center_id)
--
-- A level may be skipped, never taken after a later one: checkout locks 1 then 4;
-- private.lock_payment() takes 1-4 for a payment before anything changes it (a failed
-- payment puts the items back in the cart, so the cart is locked first even when nothing
-- ends up touching it); private.lock_order_payments() takes 1-4 for every payment of an
-- order (a refund of an instalment plan's order comes from several payments). Lock
-- strengths on the cart: checkout takes FOR UPDATE, which also holds off the customer's own
-- cart_items writes (their foreign key check takes KEY SHARE on the cart) until the order
-- exists; a payment change takes FOR NO KEY UPDATE, which waits for checkout but not for
-- those writes, so a customer editing the cart while a failed payment puts items back into
-- it never closes a cycle.
--
-- Batch jobs (expiry) hold the rows of earlier items while they work on the next one, so
-- they take every lock with NOWAIT and skip an item whose rows are busy (the next run gets
-- it): a job that never waits can never close a cycle.
--
-- Refusals meant for the client raise SQLSTATE PTnnn (the Data API answers HTTP nnn) with a
-- machine-readable reason in DETAIL and JSON in HINT.

-- ---------------------------------------------------------------------------------------
-- Settings
-- ---------------------------------------------------------------------------------------

insert into private.settings (key, value, description)
values
(
    'checkout.max_open_orders', '3',
    'Unpaid orders (pending_payment) one customer may hold at once; checkout refuses the '
    'next with 429 too_many_open_orders.'
),
(
    'checkout.max_lines', '50',
    'Different products one order may hold; a bigger cart is refused with 422 cart_too_large.'
),
(
    'checkout.max_units_per_product', '10',
    'Units of one product one customer may hold across their unpaid orders, the new checkout '
    'included; beyond it checkout refuses with 409 hold_limit_reached.'
),
(
    'payments.window_seconds', '1800',
    'How long a customer has to pay once the push prompt is requested: orders.expires_at '
    'is set this far ahead when checkout-initiate claims the push.'
),
(
    'payments.unpushed_hold_seconds', '300',
    'How long checkout holds stock before a push is requested: an order whose prompt is '
    'never requested (checkout called directly, not through checkout-initiate) expires then.'
),
(
    'payments.unsent_push_seconds', '180',
    'A claimed push with no recorded answer from the provider this long after the claim, that '
    'the provider does not know (or cannot be asked about), fails: the push never reached it.'
);

-- ---------------------------------------------------------------------------------------
-- Building blocks
-- ---------------------------------------------------------------------------------------

create function private.refuse(
    p_status integer, p_reason text, p_message text, p_context jsonb default null
)
returns void
language plpgsql
set search_path = ''
as $$
begin
    if p_context is null then
        raise exception '%', p_message using errcode = 'PT' || p_status::text, detail = p_reason;
    end if;
    raise exception '%', p_message
        using errcode = 'PT' || p_status::text, detail = p_reason, hint = p_context::text;
end;
$$;

comment on function private.refuse(integer, text, text, jsonb) is
'Raises SQLSTATE PT<status>, which the Data API turns into HTTP <status>, with a '
'machine-readable reason (e.g. insufficient_stock) in DETAIL and JSON context in HINT.';

create function private.shipping_fee(p_centers integer)
returns bigint
language plpgsql
immutable
set search_path = ''
as $$
begin
    return (
        select 3000::bigint * greatest(p_centers, 1)
    );
end;
$$;

comment on function private.shipping_fee(integer) is
'Delivery fee in whole TZS: 3,000 per fulfillment center the order ships from.';

create function private.lock_payment(p_payment_id uuid, p_nowait boolean default false)
returns public.payments
language plpgsql
set search_path = ''
as $$
declare
    v_customer uuid;
    v_order uuid;
    v_payment public.payments%rowtype;
begin
    -- customer_id and order_id never change, so reading them unlocked is safe
    select p.customer_id, p.order_id into v_customer, v_order
    from public.payments as p
    where p.id = p_payment_id;
    if v_order is null then
        return null;
    end if;
    if p_nowait then
        perform 1 from public.carts as c where c.customer_id = v_customer for no key update nowait;
        select p.* into v_payment from public.payments as p where p.id = p_payment_id for update nowait;
        perform 1 from public.orders as o where o.id = v_order for update nowait;
        perform 1 from public.bnpl_orders as b where b.order_id = v_order for update nowait;
        perform 1
        from public.inventory as i
        where (i.product_id, i.center_id) in (
            select oi.product_id, oi.center_id from public.order_items as oi where oi.order_id = v_order
        )
        order by i.product_id, i.center_id
        for update of i nowait;
    else
        perform 1 from public.carts as c where c.customer_id = v_customer for no key update;
        select p.* into v_payment from public.payments as p where p.id = p_payment_id for update;
        perform 1 from public.orders as o where o.id = v_order for update;
        perform 1 from public.bnpl_orders as b where b.order_id = v_order for update;
        perform private.lock_order_stock(v_order);
    end if;
    return v_payment;
end;
$$;

comment on function private.lock_payment(uuid, boolean) is
'Locks everything a change to a payment may touch, in THE LOCK ORDER (the customer''s cart '
'FOR NO KEY UPDATE, the payment, its order and the order''s instalment plan, its stock rows) '
'and returns the locked payment (null when there is none). p_nowait: raise '
'lock_not_available (55P03) instead of waiting, for batch jobs.';

create function private.lock_order_payments(p_order_id uuid, p_nowait boolean default false)
returns public.orders
language plpgsql
set search_path = ''
as $$
declare
    v_customer uuid;
    v_order public.orders%rowtype;
begin
    select o.customer_id into v_customer from public.orders as o where o.id = p_order_id;
    if v_customer is null then
        return null;
    end if;
    if p_nowait then
        perform 1 from public.carts as c where c.customer_id = v_customer for no key update nowait;
        perform 1 from public.payments as p where p.order_id = p_order_id order by p.id for update nowait;
        select o.* into v_order from public.orders as o where o.id = p_order_id for update nowait;
        perform 1 from public.bnpl_orders as b where b.order_id = p_order_id for update nowait;
        perform 1
        from public.inventory as i
        where (i.product_id, i.center_id) in (
            select oi.product_id, oi.center_id from public.order_items as oi where oi.order_id = p_order_id
        )
        order by i.product_id, i.center_id
        for update of i nowait;
    else
        perform 1 from public.carts as c where c.customer_id = v_customer for no key update;
        perform 1 from public.payments as p where p.order_id = p_order_id order by p.id for update;
        select o.* into v_order from public.orders as o where o.id = p_order_id for update;
        perform 1 from public.bnpl_orders as b where b.order_id = p_order_id for update;
        perform private.lock_order_stock(p_order_id);
    end if;
    return v_order;
end;
$$;

comment on function private.lock_order_payments(uuid, boolean) is
'Locks, in THE LOCK ORDER, everything a change to an order paid by several payments may touch '
'(an instalment plan, a refund spread over its payments): the customer''s cart, every payment '
'of the order (by id), the order, its plan, its stock rows; returns the locked order (null '
'when there is none). p_nowait: raise lock_not_available (55P03) instead of waiting.';

create function private.lock_order_stock(p_order_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform 1
    from public.inventory as i
    where (i.product_id, i.center_id) in (
        select oi.product_id, oi.center_id from public.order_items as oi where oi.order_id = p_order_id
    )
    order by i.product_id, i.center_id
    for update of i;
end;
$$;

comment on function private.lock_order_stock(uuid) is
'Locks the inventory rows of an order''s lines in (product_id, center_id) order, the one '
'lock order every stock-moving function follows.';

create function private.move_order_stock(
    p_order_id uuid, p_from_on_hand boolean, p_from_reserved boolean
)
returns void
language plpgsql
set search_path = ''
as $$
begin
    -- the caller holds the order's stock rows (private.lock_payment, THE LOCK ORDER)
    perform set_config('wats.stock_move', 'on', true);  -- sold, not stocked out by hand
    update public.inventory as i
    set on_hand = i.on_hand - case when p_from_on_hand then l.quantity else 0 end,
        reserved = i.reserved - case when p_from_reserved then l.quantity else 0 end
    from (
        select oi.product_id, oi.center_id, sum(oi.quantity)::integer as quantity
        from public.order_items as oi
        where oi.order_id = p_order_id
        group by oi.product_id, oi.center_id
    ) as l
    where i.product_id = l.product_id and i.center_id = l.center_id;
end;
$$;

comment on function private.move_order_stock(uuid, boolean, boolean) is
'Takes an order''s units (its lines summed per stock row) off on_hand and/or reserved; the '
'caller holds the rows (private.lock_payment). Release (failure, expiry, cancel): reserved '
'only. Commit (paid): both. Late payment after the reservation was released: on_hand only.';

create function private.take_stock_again(p_order_id uuid)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    -- the caller holds the order's stock rows (private.lock_payment, THE LOCK ORDER)
    if exists (
        select 1
        from (
            select oi.product_id, oi.center_id, sum(oi.quantity) as quantity
            from public.order_items as oi
            where oi.order_id = p_order_id
            group by oi.product_id, oi.center_id
        ) as l
        left join public.inventory as i
            on l.product_id = i.product_id and l.center_id = i.center_id
        where i.id is null or i.available < l.quantity
    ) then
        return false;
    end if;
    perform private.move_order_stock(p_order_id, true, false);
    return true;
end;
$$;

comment on function private.take_stock_again(uuid) is
'For money that arrived after its order expired: takes the order''s units off the shelf '
'again if every line is still available at its center (true), else changes nothing (false). '
'The caller holds the rows (private.lock_payment).';

create function private.restore_cart(p_order_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_customer uuid;
    v_cart uuid;
begin
    select o.customer_id into v_customer from public.orders as o where o.id = p_order_id;
    insert into public.carts (customer_id) values (v_customer)
    on conflict (customer_id) do nothing;
    select c.id into v_cart from public.carts as c where c.customer_id = v_customer;
    insert into public.cart_items (cart_id, customer_id, product_id, quantity)
    select v_cart, v_customer, oi.product_id, least(sum(oi.quantity), 100)::integer
    from public.order_items as oi
    where oi.order_id = p_order_id and private.is_listed_product(oi.product_id)
    group by oi.product_id
    on conflict (cart_id, product_id) do nothing;
end;
$$;

comment on function private.restore_cart(uuid) is
'Puts the products of an unpaid order back into the customer''s cart (those still listed, '
'without touching items already there), so a failed payment can be retried.';

-- ---------------------------------------------------------------------------------------
-- Checkout (as the customer)
-- ---------------------------------------------------------------------------------------

create function private.checkout_result(p_payment_id uuid, p_replayed boolean)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'order_id', o.id,
            'payment_id', p.id,
            'order_status', o.status,
            'payment_status', p.status,
            'subtotal', o.subtotal,
            'shipping_fee', o.shipping_fee,
            'amount', p.amount,
            'currency', p.currency,
            'provider', p.provider,
            'msisdn', p.msisdn,
            'expires_at', o.expires_at,
            'replayed', p_replayed,
            'push_requested', p.push_requested_at is not null,
            'plan', private.plan_summary(o.id)
        )
        from public.payments as p
        inner join public.orders as o on p.order_id = o.id
        where p.id = p_payment_id
    );
end;
$$;

comment on function private.checkout_result(uuid, boolean) is
'What checkout answers: order and payment ids, statuses and amount (the first instalment''s '
'for an instalment plan, whose schedule is in plan; never the provider reference: see '
'private.payment_references).';

create function public.checkout(
    p_idempotency_key text,
    p_provider text,
    p_shipping_address jsonb,
    p_points integer default 0,
    p_plan text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_customer uuid := (select auth.uid());
    v_phone text;
    v_fingerprint text;
    v_existing record;
    v_cart_id uuid;
    v_limits record;
    v_holds record;
    v_line record;
    v_stock record;
    v_needed integer;
    v_take integer;
    v_products uuid [] := '{}'::uuid [];
    v_centers uuid [] := '{}'::uuid [];
    v_vendors uuid [] := '{}'::uuid [];
    v_titles text [] := '{}'::text [];
    v_prices bigint [] := '{}'::bigint [];
    v_quantities integer [] := '{}'::integer [];
    v_commissions integer [] := '{}'::integer [];
    v_sessions uuid [] := '{}'::uuid [];
    v_first public.instalments%rowtype;
    v_subtotal bigint := 0;
    v_discount bigint;
    v_fee bigint;
    v_order_id uuid := gen_random_uuid();
    v_payment_id uuid := gen_random_uuid();
begin
    if v_customer is null then
        perform private.refuse(401, 'sign_in_required', 'sign in to check out');
    end if;
    if not private.is_idempotency_key(p_idempotency_key) then
        perform private.refuse(
            400, 'idempotency_key_invalid', 'the idempotency key must be 8-255 printable characters'
        );
    end if;
    if p_provider is null or not private.is_payment_provider(p_provider) then
        perform private.refuse(
            422, 'unknown_provider', 'provider must be one of ' || private.payment_providers()
        );
    end if;
    if not private.is_valid_shipping_address(p_shipping_address) then
        perform private.refuse(
            422,
            'invalid_address',
            'shipping_address needs recipient_name, region, district and street (ward, landmark, '
            || 'postcode and notes are optional)'
        );
    end if;
    if p_plan is not null and p_plan not in ('pay_in_2', 'pay_in_3', 'pay_in_4') then
        perform private.refuse(
            422, 'unknown_plan', 'plan must be pay_in_2, pay_in_3 or pay_in_4 (or none: pay in full)'
        );
    end if;
    select p.phone into v_phone from public.profiles as p where p.id = v_customer;
    if v_phone is null then
        perform private.refuse(
            422, 'phone_missing', 'your profile has no Tanzanian phone number to pay from'
        );
    end if;

    -- The idempotency key, Stripe style: the first request with a key claims it; a
    -- concurrent one waits here for the first to commit and then replays its result; the
    -- same key with a different request is refused. A request that fails claims nothing:
    -- the record names the order and payment this transaction creates (its foreign keys
    -- are checked at commit), so it exists only if they do.
    v_fingerprint := encode(
        sha256(convert_to(
            (
                jsonb_build_object(
                    'provider', p_provider, 'shipping_address', p_shipping_address,
                    'points', coalesce(p_points, 0)
                )
                -- an instalment plan is part of the request (a request without one keeps the
                -- fingerprint it always had)
                || case when p_plan is null then '{}'::jsonb else jsonb_build_object('plan', p_plan) end
            )::text,
            'UTF8'
        )),
        'hex'
    );
    insert into private.idempotency_records (
        customer_id, scope, idempotency_key, request_fingerprint, order_id, payment_id
    )
    values (v_customer, 'checkout', p_idempotency_key, v_fingerprint, v_order_id, v_payment_id)
    on conflict (customer_id, scope, idempotency_key) do nothing;
    if not found then
        select r.request_fingerprint, r.payment_id into v_existing
        from private.idempotency_records as r
        where r.customer_id = v_customer and r.scope = 'checkout'
            and r.idempotency_key = p_idempotency_key;
        if v_existing.request_fingerprint <> v_fingerprint then
            perform private.refuse(
                422,
                'idempotency_key_reused',
                'this Idempotency-Key was already used for a different checkout request'
            );
        end if;
        return private.checkout_result(v_existing.payment_id, true);
    end if;

    -- The cart, locked for the rest of the transaction (THE LOCK ORDER, level 1).
    select c.id into v_cart_id from public.carts as c where c.customer_id = v_customer for update;

    -- Unpaid holds are bounded per customer, so nobody can sit on a product's whole stock
    -- (or a slice of every product's) by checking out again and again without paying. An
    -- order whose instalment plan is under way (first instalment paid) is not such a hold:
    -- its own limit is instalments.max_open_plans.
    select
        coalesce(
            max((s.value #>> '{}')::bigint) filter (where s.key = 'checkout.max_lines'),
            private.setting_int('checkout.max_lines')
        ) as max_lines,
        coalesce(
            max((s.value #>> '{}')::bigint) filter (where s.key = 'checkout.max_open_orders'),
            private.setting_int('checkout.max_open_orders')
        ) as max_open_orders,
        coalesce(
            max((s.value #>> '{}')::bigint) filter (where s.key = 'checkout.max_units_per_product'),
            private.setting_int('checkout.max_units_per_product')
        ) as max_units,
        coalesce(
            max((s.value #>> '{}')::bigint) filter (where s.key = 'payments.unpushed_hold_seconds'),
            private.setting_int('payments.unpushed_hold_seconds')
        ) as unpushed_seconds
    into v_limits
    from private.settings as s
    where s.key in (
        'checkout.max_lines', 'checkout.max_open_orders', 'checkout.max_units_per_product',
        'payments.unpushed_hold_seconds'
    );
    select
        (select count(*) from public.cart_items as ci where ci.cart_id = v_cart_id) as lines,
        (
            select count(*) from public.orders as o
            where o.customer_id = v_customer and o.status = 'pending_payment'
                and not private.is_plan_under_way(o.id)
        ) as open_orders
    into v_holds;
    if v_cart_id is null or v_holds.lines = 0 then
        perform private.refuse(422, 'cart_empty', 'your cart is empty');
    end if;
    if v_holds.lines > v_limits.max_lines then
        perform private.refuse(
            422,
            'cart_too_large',
            format('an order may hold at most %s different products', v_limits.max_lines),
            jsonb_build_object('limit', v_limits.max_lines)
        );
    end if;
    if v_holds.open_orders >= v_limits.max_open_orders then
        perform private.refuse(
            429,
            'too_many_open_orders',
            format(
                'you already have %s unpaid orders: pay or let one expire before checking out again',
                v_holds.open_orders
            ),
            jsonb_build_object('open_orders', v_holds.open_orders, 'limit', v_limits.max_open_orders)
        );
    end if;

    -- Stock rows of the cart's products, locked in THE LOCK ORDER (level 4).
    perform 1
    from public.inventory as i
    where i.product_id in (select ci.product_id from public.cart_items as ci where ci.cart_id = v_cart_id)
    order by i.product_id, i.center_id
    for update of i;

    -- Every line: still for sale, at today's price, within the customer's hold limit; its
    -- units reserved at the centers with the most available units first.
    -- A line naming a live session that features its product takes the session's live price
    -- (never above the product's own) and remembers the session.
    for v_line in
        select ci.product_id, ci.quantity, p.title, p.status, p.vendor_id,
            least(live.live_price, p.price) as price, live.session_id,
            v.status as vendor_status, private.commission_bps(p.vendor_id, p.category_id) as commission_bps,
            ci.quantity + coalesce((
                select sum(oi.quantity)
                from public.orders as o
                inner join public.order_items as oi on o.id = oi.order_id
                where o.customer_id = v_customer and o.status = 'pending_payment'
                    and oi.product_id = ci.product_id and not private.is_plan_under_way(o.id)
            ), 0) as held
        from public.cart_items as ci
        inner join public.products as p on ci.product_id = p.id
        inner join public.vendors as v on p.vendor_id = v.id
        left join lateral (
            select lp.session_id, lp.live_price
            from public.livestream_products as lp
            inner join public.livestream_sessions as s on lp.session_id = s.id
            where lp.session_id = ci.livestream_session_id and lp.product_id = ci.product_id
                and s.vendor_id = p.vendor_id and s.status = 'live'
        ) as live on true
        where ci.cart_id = v_cart_id
        order by ci.product_id
    loop
        if v_line.status <> 'active' then
            perform private.refuse(
                409,
                'product_unavailable',
                format('%s is no longer for sale', v_line.title),
                jsonb_build_object('product_id', v_line.product_id)
            );
        end if;
        if v_line.vendor_status <> 'approved' then
            perform private.refuse(
                409,
                'vendor_unavailable',
                format('the shop selling %s is not open', v_line.title),
                jsonb_build_object('product_id', v_line.product_id, 'vendor_id', v_line.vendor_id)
            );
        end if;
        if v_line.held > v_limits.max_units then
            perform private.refuse(
                409,
                'hold_limit_reached',
                format(
                    'at most %s of %s can wait for payment at once, counting your unpaid orders',
                    v_limits.max_units, v_line.title
                ),
                jsonb_build_object(
                    'product_id', v_line.product_id,
                    'requested', v_line.held,
                    'limit', v_limits.max_units
                )
            );
        end if;
        v_needed := v_line.quantity;
        for v_stock in
            select i.id, i.center_id, i.available
            from public.inventory as i
            inner join public.fulfillment_centers as fc on i.center_id = fc.id
            where i.product_id = v_line.product_id and fc.active and i.available > 0
            order by i.available desc, fc.code
        loop
            exit when v_needed = 0;
            v_take := least(v_needed, v_stock.available);
            update public.inventory set reserved = reserved + v_take where id = v_stock.id;
            v_products := v_products || v_line.product_id;
            v_centers := v_centers || v_stock.center_id;
            v_vendors := v_vendors || v_line.vendor_id;
            v_titles := v_titles || v_line.title;
            v_prices := v_prices || v_line.price;
            v_quantities := v_quantities || v_take;
            v_commissions := v_commissions || v_line.commission_bps;
            v_sessions := v_sessions || v_line.session_id;
            v_needed := v_needed - v_take;
        end loop;
        if v_needed > 0 then
            perform private.refuse(
                409,
                'insufficient_stock',
                format(
                    'only %s left of %s', v_line.quantity - v_needed, v_line.title
                ),
                jsonb_build_object(
                    'product_id', v_line.product_id,
                    'requested', v_line.quantity,
                    'available', v_line.quantity - v_needed
                )
            );
        end if;
        v_subtotal := v_subtotal + v_line.price * v_line.quantity;
    end loop;

    v_fee := private.shipping_fee(cardinality(array(select distinct unnest(v_centers))));
    -- loyalty points redeemed: their value off the goods, the points held (ledger, level 5)
    v_discount := private.redemption_discount(v_customer, p_points, v_subtotal);
    if p_plan is not null then
        -- lipa kidogo kidogo: may this cart be paid in instalments? (20261127001160_instalments.sql)
        perform private.check_plan_eligibility(
            v_customer, v_subtotal - v_discount + v_fee, array(select distinct unnest(v_products))
        );
    end if;
    insert into public.orders (
        id, customer_id, status, subtotal, discount, shipping_fee, total, points_redeemed, currency,
        shipping_address, phone, idempotency_key, expires_at
    )
    values (
        v_order_id, v_customer, 'pending_payment', v_subtotal, v_discount, v_fee,
        v_subtotal - v_discount + v_fee, coalesce(p_points, 0),
        'TZS', p_shipping_address, v_phone, p_idempotency_key,
        now() + make_interval(secs => v_limits.unpushed_seconds)
    );
    insert into public.order_items (
        order_id, customer_id, product_id, vendor_id, center_id, title, unit_price, quantity,
        line_total, commission_bps, livestream_session_id
    )
    select
        v_order_id, v_customer, l.product_id, l.vendor_id, l.center_id, l.title, l.price,
        l.quantity, l.price * l.quantity, l.commission_bps, l.session_id
    from unnest(
        v_products, v_vendors, v_centers, v_titles, v_prices, v_quantities, v_commissions, v_sessions
    ) as l (product_id, vendor_id, center_id, title, price, quantity, commission_bps, session_id);
    -- the payment: the whole total, or the plan's first instalment
    if p_plan is null then
        insert into public.payments (id, order_id, customer_id, provider, msisdn, amount, currency)
        values (v_payment_id, v_order_id, v_customer, p_provider, v_phone, v_subtotal - v_discount + v_fee, 'TZS');
    else
        v_first := private.create_plan(
            v_order_id, v_customer, p_plan, p_provider, v_subtotal - v_discount + v_fee
        );
        insert into public.payments (
            id, order_id, customer_id, provider, msisdn, amount, currency, instalment_id
        )
        values (v_payment_id, v_order_id, v_customer, p_provider, v_phone, v_first.amount, 'TZS', v_first.id);
    end if;
    perform private.hold_points(v_order_id, v_customer, p_points);
    insert into private.payment_references (payment_id, provider)
    values (v_payment_id, p_provider);
    delete from public.cart_items where cart_id = v_cart_id;
    return private.checkout_result(v_payment_id, false);
end;
$$;

comment on function public.checkout(text, text, jsonb, integer, text) is
'Checkout for the signed-in customer, in one transaction: locks the cart, re-reads prices '
'(a line naming a live session that features its product: the live price), reserves stock '
'per fulfillment center, creates the order (pending_payment; it expires after '
'payments.unpushed_hold_seconds unless a push is requested, which gives it '
'payments.window_seconds), its lines (title and price snapshots, the live session) and a '
'pending payment from the profile''s phone, and empties the cart. p_points loyalty points '
'may pay part of the goods (held until the payment ends; 422 invalid_points / '
'points_over_cap, 409 not_enough_points). p_plan (pay_in_2, pay_in_3, pay_in_4): an '
'instalment plan instead of paying in full: the payment is its first instalment, the stock '
'stays reserved until the last (422 unknown_plan / plan_total_too_low / plan_total_too_high, '
'409 plan_not_offered / too_many_plans). Same Idempotency-Key and request: the same order '
'back (replayed = true); same key, other request: HTTP 422 idempotency_key_reused. Unpaid '
'holds are bounded (settings checkout.max_lines, checkout.max_open_orders, '
'checkout.max_units_per_product). Refusals: 401 sign_in_required, 400 '
'idempotency_key_invalid, 422 unknown_provider / invalid_address / phone_missing / '
'cart_empty / cart_too_large, 429 too_many_open_orders, 409 hold_limit_reached / '
'product_unavailable / vendor_unavailable / insufficient_stock; nothing is created or '
'reserved then.';

-- ---------------------------------------------------------------------------------------
-- Privileges: signed-in users check out
-- ---------------------------------------------------------------------------------------

revoke all on function public.checkout(text, text, jsonb, integer, text)
from public, anon, authenticated, service_role;
grant execute on function public.checkout(text, text, jsonb, integer, text) to authenticated;

revoke execute on all functions in schema private from public;
