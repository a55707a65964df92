-- WATS payments, part 2: checkout and the payment flow. Each step of the critical path
-- is one SQL function, called through the Data API by an Edge Function:
--
--   checkout                   as the customer: cart -> order, reserved stock, pending payment
--   claim_payment_push         service role: at most one push prompt per payment
--   record_payment_initiation  service role: what the provider said to the push
--   record_webhook_event       service role: store a provider callback before anything else
--   apply_payment_event        service role: a provider outcome (callback, status query, reply)
--   finish_webhook_event       service role: annotate the stored callback
--   payments_to_reconcile      service role: open payments to ask the providers about
--   fail_unsent_push           service role: a claimed push that never reached the provider
--   expire_overdue_payments    service role and cron: expire what stays unpaid
--   payment_reference          admins: the reference a provider knows a payment by
--
-- Stock: checkout reserves (inventory.reserved), success commits (on_hand and reserved go
-- down), failure, expiry and cancellation release (reserved goes down).
--
-- THE LOCK ORDER. Every function that changes a cart, a payment, an order or stock locks
-- the rows it needs in this one order, so concurrent calls wait for each other and never
-- deadlock:
--
--   1. the customer's cart (carts row)
--   2. the payment (payments row)
--   3. the order (orders row)
--   4. stock rows (inventory), sorted by (product_id, center_id)
--
-- A level may be skipped, never taken after a later one: checkout locks 1 then 4;
-- private.lock_payment() takes 1-4 for a payment before anything changes it (a failed
-- payment puts the items back in the cart, so the cart is locked first even when nothing
-- ends up touching it). Lock strengths on the cart: checkout takes FOR UPDATE, which also
-- holds off the customer's own cart_items writes (their foreign key check takes KEY SHARE on
-- the cart) until the order exists; a payment change takes FOR NO KEY UPDATE, which waits
-- for checkout but not for those writes, so a customer editing the cart while a failed
-- payment puts items back into it never closes a cycle.
--
-- Batch jobs (expiry) hold the rows of earlier items while they work on the next one, so
-- they take every lock with NOWAIT and skip an item whose rows are busy (the next run gets
-- it): a job that never waits can never close a cycle.
--
-- Refusals meant for the client raise SQLSTATE PTnnn (the Data API answers HTTP nnn) with a
-- machine-readable reason in DETAIL and JSON in HINT.
-- Payment status changes are audited by the payments_audit trigger; these functions pass
-- the context the trigger cannot see (the provider event or push answer behind a change)
-- in the transaction-local setting wats.audit_context, which private.write_audit adds.

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

create function private.notify(
    p_user_id uuid, p_type text, p_title text, p_body text, p_data jsonb
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.notifications (user_id, type, title, body, data)
    values (p_user_id, p_type, p_title, p_body, coalesce(p_data, '{}'::jsonb));
end;
$$;

comment on function private.notify(uuid, text, text, text, jsonb) is
'Writes one in-app notification.';

create function private.notify_vendors(p_order_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.notifications (user_id, type, title, body, data)
    select
        v.owner_id,
        'new_order',
        'New paid order to fulfil',
        format('%s item(s) worth %s TZS to ship', sum(oi.quantity), sum(oi.line_total)),
        jsonb_build_object('order_id', p_order_id, 'vendor_id', v.id)
    from public.order_items as oi
    inner join public.vendors as v on oi.vendor_id = v.id
    where oi.order_id = p_order_id
    group by v.id, v.owner_id;
end;
$$;

comment on function private.notify_vendors(uuid) is
'Tells each vendor of a just-paid order that they have lines to fulfil (one notification '
'per vendor).';

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
        perform private.lock_order_stock(v_order);
    end if;
    return v_payment;
end;
$$;

comment on function private.lock_payment(uuid, boolean) is
'Locks everything a change to a payment may touch, in THE LOCK ORDER (the customer''s cart '
'FOR NO KEY UPDATE, the payment, its order, its stock rows) and returns the locked payment '
'(null when there is none). p_nowait: raise lock_not_available (55P03) instead of waiting, '
'for batch jobs.';

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

create function private.order_stock_lines(p_order_id uuid)
returns table (product_id uuid, center_id uuid, quantity integer)
language plpgsql
stable
set search_path = ''
as $$
begin
    return query
    select oi.product_id, oi.center_id, sum(oi.quantity)::integer
    from public.order_items as oi
    where oi.order_id = p_order_id
    group by oi.product_id, oi.center_id;
end;
$$;

comment on function private.order_stock_lines(uuid) is
'Units an order takes per (product, center): its lines summed by stock row.';

create function private.move_order_stock(
    p_order_id uuid, p_from_on_hand boolean, p_from_reserved boolean
)
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform private.lock_order_stock(p_order_id);
    update public.inventory as i
    set on_hand = i.on_hand - case when p_from_on_hand then l.quantity else 0 end,
        reserved = i.reserved - case when p_from_reserved then l.quantity else 0 end
    from private.order_stock_lines(p_order_id) as l
    where i.product_id = l.product_id and i.center_id = l.center_id;
end;
$$;

comment on function private.move_order_stock(uuid, boolean, boolean) is
'Takes an order''s units off on_hand and/or reserved, rows locked in the global order. '
'Release (failure, expiry, cancel): reserved only. Commit (paid): both. Late payment after '
'the reservation was released: on_hand only.';

create function private.take_stock_again(p_order_id uuid)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
    perform private.lock_order_stock(p_order_id);
    if exists (
        select 1
        from private.order_stock_lines(p_order_id) as l
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
'again if every line is still available at its center (true), else changes nothing (false).';

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

create function private.payment_status(p_payment_id uuid)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'payment_id', p.id,
            'payment_status', p.status,
            'order_id', o.id,
            'order_status', o.status,
            'needs_review', p.needs_review,
            'failure_reason', p.failure_reason
        )
        from public.payments as p
        inner join public.orders as o on p.order_id = o.id
        where p.id = p_payment_id
    );
end;
$$;

comment on function private.payment_status(uuid) is
'The statuses the payment functions report back after each step.';

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
            'push_requested', p.push_requested_at is not null
        )
        from public.payments as p
        inner join public.orders as o on p.order_id = o.id
        where p.id = p_payment_id
    );
end;
$$;

comment on function private.checkout_result(uuid, boolean) is
'What checkout answers: order and payment ids, statuses and amount (never the provider '
'reference: see private.payment_references).';

create function public.checkout(
    p_idempotency_key text,
    p_provider text,
    p_shipping_address jsonb
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
    v_record_id uuid;
    v_existing record;
    v_cart_id uuid;
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
    v_subtotal bigint := 0;
    v_fee bigint;
    v_order_id uuid := gen_random_uuid();
    v_payment_id uuid;
    v_result jsonb;
    v_open_orders bigint;
    v_limit bigint;
begin
    if v_customer is null then
        perform private.refuse(401, 'sign_in_required', 'sign in to check out');
    end if;
    if p_idempotency_key is null or p_idempotency_key !~ '^[\x21-\x7e]{8,255}$' then
        perform private.refuse(
            400, 'idempotency_key_invalid', 'the idempotency key must be 8-255 printable characters'
        );
    end if;
    if p_provider is null or p_provider not in ('mpesa', 'airtel', 'mixx', 'halopesa') then
        perform private.refuse(
            422, 'unknown_provider', 'provider must be one of mpesa, airtel, mixx, halopesa'
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
    select p.phone into v_phone from public.profiles as p where p.id = v_customer;
    if v_phone is null then
        perform private.refuse(
            422, 'phone_missing', 'your profile has no Tanzanian phone number to pay from'
        );
    end if;

    -- The idempotency key, Stripe style: the first request with a key claims it; a
    -- concurrent one waits here for the first to commit and then replays its result; the
    -- same key with a different request is refused. A request that fails claims nothing.
    v_fingerprint := encode(
        sha256(convert_to(
            jsonb_build_object('provider', p_provider, 'shipping_address', p_shipping_address)::text,
            'UTF8'
        )),
        'hex'
    );
    insert into private.idempotency_records (customer_id, scope, idempotency_key, request_fingerprint)
    values (v_customer, 'checkout', p_idempotency_key, v_fingerprint)
    on conflict (customer_id, scope, idempotency_key) do nothing
    returning id into v_record_id;
    if v_record_id is null then
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

    -- The cart, locked for the rest of the transaction.
    select c.id into v_cart_id from public.carts as c where c.customer_id = v_customer for update;
    if v_cart_id is null or not exists (
        select 1 from public.cart_items as ci where ci.cart_id = v_cart_id
    ) then
        perform private.refuse(422, 'cart_empty', 'your cart is empty');
    end if;

    -- Unpaid holds are bounded per customer, so nobody can sit on a product's whole stock
    -- (or a slice of every product's) by checking out again and again without paying.
    v_limit := private.setting_int('checkout.max_lines');
    if (select count(*) from public.cart_items as ci where ci.cart_id = v_cart_id) > v_limit then
        perform private.refuse(
            422,
            'cart_too_large',
            format('an order may hold at most %s different products', v_limit),
            jsonb_build_object('limit', v_limit)
        );
    end if;
    v_limit := private.setting_int('checkout.max_open_orders');
    select count(*) into v_open_orders
    from public.orders as o
    where o.customer_id = v_customer and o.status = 'pending_payment';
    if v_open_orders >= v_limit then
        perform private.refuse(
            429,
            'too_many_open_orders',
            format(
                'you already have %s unpaid orders: pay or let one expire before checking out again',
                v_open_orders
            ),
            jsonb_build_object('open_orders', v_open_orders, 'limit', v_limit)
        );
    end if;
    v_limit := private.setting_int('checkout.max_units_per_product');
    select ci.product_id, p.title, ci.quantity + coalesce(h.held, 0) as wanted
    into v_line
    from public.cart_items as ci
    inner join public.products as p on ci.product_id = p.id
    left join (
        select oi.product_id, sum(oi.quantity) as held
        from public.order_items as oi
        inner join public.orders as o on oi.order_id = o.id
        where oi.customer_id = v_customer and o.status = 'pending_payment'
        group by oi.product_id
    ) as h on ci.product_id = h.product_id
    where ci.cart_id = v_cart_id and ci.quantity + coalesce(h.held, 0) > v_limit
    order by ci.product_id
    limit 1;
    if found then
        perform private.refuse(
            409,
            'hold_limit_reached',
            format(
                'at most %s of %s can wait for payment at once, counting your unpaid orders',
                v_limit, v_line.title
            ),
            jsonb_build_object(
                'product_id', v_line.product_id, 'requested', v_line.wanted, 'limit', v_limit
            )
        );
    end if;

    -- Every product still for sale, at today's price.
    for v_line in
        select ci.product_id, ci.quantity, p.title, p.price, p.status, v.id as vendor_id,
            v.status as vendor_status, coalesce(a.commission_bps, 0) as commission_bps
        from public.cart_items as ci
        inner join public.products as p on ci.product_id = p.id
        inner join public.vendors as v on p.vendor_id = v.id
        left join public.vendor_accounts as a on v.id = a.vendor_id
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
    end loop;

    -- Lock every stock row of the cart's products in the global order, then reserve,
    -- taking each line from the centers with the most available units first.
    perform 1
    from public.inventory as i
    where i.product_id in (select ci.product_id from public.cart_items as ci where ci.cart_id = v_cart_id)
    order by i.product_id, i.center_id
    for update of i;

    for v_line in
        select ci.product_id, ci.quantity, p.title, p.price, p.vendor_id,
            coalesce(a.commission_bps, 0) as commission_bps
        from public.cart_items as ci
        inner join public.products as p on ci.product_id = p.id
        left join public.vendor_accounts as a on p.vendor_id = a.vendor_id
        where ci.cart_id = v_cart_id
        order by ci.product_id
    loop
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
    insert into public.orders (
        id, customer_id, status, subtotal, discount, shipping_fee, total, currency,
        shipping_address, phone, idempotency_key, expires_at
    )
    values (
        v_order_id, v_customer, 'pending_payment', v_subtotal, 0, v_fee, v_subtotal + v_fee,
        'TZS', p_shipping_address, v_phone, p_idempotency_key,
        now() + make_interval(secs => private.setting_int('payments.unpushed_hold_seconds'))
    );
    insert into public.order_items (
        order_id, customer_id, product_id, vendor_id, center_id, title, unit_price, quantity,
        line_total, commission_bps
    )
    select
        v_order_id, v_customer, l.product_id, l.vendor_id, l.center_id, l.title, l.price,
        l.quantity, l.price * l.quantity, l.commission_bps
    from unnest(v_products, v_vendors, v_centers, v_titles, v_prices, v_quantities, v_commissions)
        as l (product_id, vendor_id, center_id, title, price, quantity, commission_bps);
    insert into public.payments (order_id, customer_id, provider, msisdn, amount, currency)
    values (v_order_id, v_customer, p_provider, v_phone, v_subtotal + v_fee, 'TZS')
    returning id into v_payment_id;
    insert into private.payment_references (payment_id, provider)
    values (v_payment_id, p_provider);

    v_result := private.checkout_result(v_payment_id, false);
    update private.idempotency_records
    set status = 'completed', order_id = v_order_id, payment_id = v_payment_id, response = v_result
    where id = v_record_id;
    delete from public.cart_items where cart_id = v_cart_id;
    return v_result;
end;
$$;

comment on function public.checkout(text, text, jsonb) is
'Checkout for the signed-in customer, in one transaction: locks the cart, re-reads prices, '
'reserves stock per fulfillment center, creates the order (pending_payment; it expires after '
'payments.unpushed_hold_seconds unless a push is requested, which gives it '
'payments.window_seconds), its lines (title and price snapshots) and a pending payment from '
'the profile''s '
'phone, and empties the cart. Same Idempotency-Key and request: the same order back '
'(replayed = true); same key, other request: HTTP 422 idempotency_key_reused. Unpaid holds '
'are bounded (settings checkout.max_lines, checkout.max_open_orders, '
'checkout.max_units_per_product). Refusals: 401 sign_in_required, 400 '
'idempotency_key_invalid, 422 unknown_provider / invalid_address / phone_missing / '
'cart_empty / cart_too_large, 429 too_many_open_orders, 409 hold_limit_reached / '
'product_unavailable / vendor_unavailable / insufficient_stock; nothing is created or '
'reserved then.';

-- ---------------------------------------------------------------------------------------
-- Closing a payment (service role, through the functions below)
-- ---------------------------------------------------------------------------------------

create function private.close_unpaid(
    p_payment_id uuid, p_payment_status text, p_reason text, p_code text
)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
    v_order_status text := case when p_payment_status = 'expired' then 'expired' else 'cancelled' end;
begin
    select o.* into v_order
    from public.orders as o
    inner join public.payments as p on o.id = p.order_id
    where p.id = p_payment_id;
    update public.payments
    set status = p_payment_status,
        failure_reason = coalesce(p_reason, failure_reason),
        failure_code = coalesce(p_code, failure_code)
    where id = p_payment_id;
    if v_order.status = 'pending_payment' then
        update public.orders
        set status = v_order_status,
            cancel_reason = case when v_order_status = 'cancelled' then 'payment failed' end
        where id = v_order.id;
        perform private.move_order_stock(v_order.id, false, true);
        perform private.restore_cart(v_order.id);
        perform private.notify(
            v_order.customer_id,
            case when v_order_status = 'expired' then 'order_expired' else 'payment_failed' end,
            case
                when v_order_status = 'expired' then 'Your order expired before it was paid'
                else 'Your payment did not go through'
            end,
            'Nothing was charged. Your items are back in your cart.',
            jsonb_build_object('order_id', v_order.id, 'payment_id', p_payment_id, 'reason', p_reason)
        );
    end if;
end;
$$;

comment on function private.close_unpaid(uuid, text, text, text) is
'A payment ends without money (failed or expired): its order is cancelled or expired, the '
'reserved stock released, the items put back in the cart and the customer told.';

create function private.settle_paid(p_payment_id uuid, p_txn_id text)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
    v_order public.orders%rowtype;
    v_points integer;
begin
    select * into v_payment from public.payments where id = p_payment_id;
    select * into v_order from public.orders where id = v_payment.order_id;
    if v_payment.status <> 'expired' then
        perform private.move_order_stock(v_order.id, true, true);
    elsif not private.take_stock_again(v_order.id) then
        update public.payments
        set status = 'succeeded', provider_txn_id = coalesce(p_txn_id, provider_txn_id),
            needs_review = true, review_reason = 'success_after_expiry_no_stock'
        where id = p_payment_id;
        perform private.notify(
            v_order.customer_id,
            'payment_review',
            'We received your payment after your order expired',
            'The items are no longer in stock. Our team will refund you.',
            jsonb_build_object('order_id', v_order.id, 'payment_id', p_payment_id)
        );
        return 'review';
    end if;
    update public.payments
    set status = 'succeeded', provider_txn_id = coalesce(p_txn_id, provider_txn_id)
    where id = p_payment_id;
    update public.orders set status = 'paid' where id = v_order.id;
    v_points := (v_order.subtotal / 1000)::integer;
    if v_points > 0 then
        insert into public.loyalty_points (customer_id, order_id, points, reason)
        values (v_order.customer_id, v_order.id, v_points, 'purchase');
    end if;
    perform private.notify(
        v_order.customer_id,
        'order_paid',
        'Payment received',
        format('We received %s TZS. Your order is being prepared.', v_payment.amount),
        jsonb_build_object('order_id', v_order.id, 'payment_id', p_payment_id)
    );
    perform private.notify_vendors(v_order.id);
    return 'applied';
end;
$$;

comment on function private.settle_paid(uuid, text) is
'A payment succeeded: stock committed, order paid, loyalty points earned (1 per 1,000 TZS '
'of goods), customer and vendors told. Money after expiry takes the stock again if it is '
'still there, else the payment is flagged for review and refund (success_after_expiry_no_stock).';

-- ---------------------------------------------------------------------------------------
-- The push
-- ---------------------------------------------------------------------------------------

create function public.claim_payment_push(p_payment_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_claimed boolean;
begin
    update public.payments
    set push_requested_at = now()
    where id = p_payment_id and status = 'pending' and push_requested_at is null;
    v_claimed := found;
    if v_claimed then
        -- the customer gets the whole payment window from the moment the prompt goes out
        update public.orders as o
        set expires_at = greatest(
            o.expires_at, now() + make_interval(secs => private.setting_int('payments.window_seconds'))
        )
        from public.payments as p
        where p.id = p_payment_id and o.id = p.order_id;
    end if;
    if not v_claimed and not exists (select 1 from public.payments where id = p_payment_id) then
        perform private.refuse(404, 'payment_not_found', 'no such payment');
    end if;
    return private.payment_status(p_payment_id) || jsonb_build_object(
        'claimed', v_claimed,
        'expires_at', (
            select o.expires_at from public.orders as o inner join public.payments as p on o.id = p.order_id
            where p.id = p_payment_id
        ),
        'provider_ref', (
            select r.reference from private.payment_references as r
            where v_claimed and r.payment_id = p_payment_id
        )
    );
end;
$$;

comment on function public.claim_payment_push(uuid) is
'Claims the one push prompt of a pending payment: claimed = true for exactly one caller, '
'however often checkout is retried, and only that caller gets provider_ref, the reference to '
'push with. The claim gives the order the full payment window (payments.window_seconds from '
'now; expires_at in the answer). Service role only.';

create function public.record_payment_initiation(
    p_payment_id uuid,
    p_outcome text,
    p_provider_txn_id text default null,
    p_failure_reason text default null,
    p_detail jsonb default '{}'::jsonb
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
begin
    if p_outcome is null or p_outcome not in ('initiated', 'ambiguous', 'failed') then
        perform private.refuse(422, 'unknown_outcome', 'outcome must be initiated, ambiguous or failed');
    end if;
    v_payment := private.lock_payment(p_payment_id);
    if v_payment.id is null then
        perform private.refuse(404, 'payment_not_found', 'no such payment');
    end if;
    -- what the provider said goes into the audit rows of the changes below
    perform set_config(
        'wats.audit_context',
        (jsonb_build_object('push', p_outcome) || coalesce(p_detail, '{}'::jsonb))::text,
        true
    );
    if p_outcome = 'initiated' and v_payment.status = 'pending' then
        update public.payments
        set status = 'initiated', provider_request_id = coalesce(p_provider_txn_id, provider_request_id)
        where id = p_payment_id;
    elsif p_outcome = 'ambiguous' and v_payment.status in ('pending', 'initiated') then
        update public.payments set status = 'ambiguous' where id = p_payment_id;
    elsif p_outcome = 'failed' and v_payment.status in ('pending', 'initiated', 'ambiguous') then
        perform private.close_unpaid(
            p_payment_id, 'failed', coalesce(p_failure_reason, 'provider_error'), p_detail ->> 'code'
        );
    end if;
    -- Anything else: a callback got there first; never move a payment backwards.
    perform set_config('wats.audit_context', '', true);
    return private.payment_status(p_payment_id);
end;
$$;

comment on function public.record_payment_initiation(uuid, text, text, text, jsonb) is
'Records the provider''s answer to the push: initiated (accepted; never means paid), '
'ambiguous (timeout or unclear: reconciliation asks later) or failed (refused: order '
'cancelled, stock released). Ignored when the payment already moved on. Service role only.';

-- ---------------------------------------------------------------------------------------
-- Provider events
-- ---------------------------------------------------------------------------------------

create function public.record_webhook_event(
    p_provider text,
    p_headers jsonb,
    p_body bytea,
    p_source_ip text default null,
    p_path text default null
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_id uuid;
    v_addr inet;
begin
    begin
        v_addr := p_source_ip::inet;
    exception when invalid_text_representation then
        v_addr := null;
    end;
    insert into private.payment_events (provider, source, remote_addr, request_path, headers, body)
    values (
        p_provider, 'callback', v_addr, left(p_path, 2000), coalesce(p_headers, '{}'::jsonb),
        p_body
    )
    returning id into v_id;
    return v_id;
end;
$$;

comment on function public.record_webhook_event(text, jsonb, bytea, text, text) is
'Stores a provider callback exactly as received (the body as bytes, whatever they are), '
'before it is authenticated (status received). Returns the event id. Service role only.';

create function public.finish_webhook_event(
    p_event_id uuid,
    p_authentic boolean,
    p_rejection text default null
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
    update private.payment_events
    set authenticated = p_authentic,
        auth_error = p_rejection,
        status = case when not p_authentic or p_rejection is not null then 'rejected' else status end,
        error = case when p_rejection is not null then p_rejection else error end,
        processed_at = coalesce(processed_at, now())
    where id = p_event_id;
end;
$$;

comment on function public.finish_webhook_event(uuid, boolean, text) is
'Marks a stored callback authenticated or rejected (with why). Service role only.';

create function public.apply_payment_event(
    p_provider text,
    p_provider_ref text,
    p_outcome text,
    p_amount bigint default null,
    p_currency text default null,
    p_msisdn text default null,
    p_provider_txn_id text default null,
    p_failure_reason text default null,
    p_source text default 'callback',
    p_webhook_event_id uuid default null,
    p_unreadable text[] default '{}'::text[]
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
    v_outcome text := case when p_outcome = 'expired' then 'failed' else p_outcome end;
    v_reason text := case when p_outcome = 'expired' then coalesce(p_failure_reason, 'timeout')
        else p_failure_reason end;
    v_key text;
    v_result text;
    v_review text;
    v_event_id uuid := p_webhook_event_id;
    v_unreadable text [] := coalesce(p_unreadable, '{}'::text []);
begin
    if v_outcome is null
        or v_outcome not in ('succeeded', 'failed', 'initiated', 'pending', 'ambiguous') then
        perform private.refuse(422, 'unknown_outcome', 'unknown payment outcome');
    end if;
    if p_source not in ('callback', 'status_query', 'initiate_response') then
        perform private.refuse(422, 'unknown_source', 'unknown event source');
    end if;
    if not v_unreadable <@ array['amount', 'currency', 'msisdn'] then
        perform private.refuse(
            422, 'unknown_field', 'p_unreadable may name amount, currency and msisdn only'
        );
    end if;
    if v_event_id is null then
        insert into private.payment_events (provider, source)
        values (p_provider, p_source)
        returning id into v_event_id;
    end if;

    v_payment := private.lock_payment((
        select r.payment_id from private.payment_references as r
        where r.reference = p_provider_ref and r.provider = p_provider
    ));
    if v_payment.id is null then
        update private.payment_events
        set provider_ref = p_provider_ref, outcome = 'unknown', status = 'ignored',
            error = 'no such payment', processed_at = now()
        where id = v_event_id;
        return jsonb_build_object('result', 'unknown_payment');
    end if;
    v_key := p_provider || ':' || p_provider_ref || ':' || v_outcome;
    -- the provider event behind the changes below goes into their audit rows
    perform set_config(
        'wats.audit_context',
        jsonb_build_object('event_id', v_event_id, 'source', p_source, 'outcome', v_outcome)::text,
        true
    );

    if v_outcome in ('succeeded', 'failed') and exists (
        select 1 from private.payment_events as e where e.dedupe_key = v_key and e.status = 'applied'
    ) then
        v_result := 'duplicate';
    elsif v_outcome = 'succeeded' then
        v_review := case
            -- a report the adapter could not read is never taken as a full payment
            when cardinality(v_unreadable) > 0 then 'report_unreadable'
            when p_amount is not null and p_amount <> v_payment.amount then 'amount_mismatch'
            when p_currency is not null and upper(p_currency) <> v_payment.currency then 'currency_mismatch'
            when p_msisdn is not null and p_msisdn <> v_payment.msisdn then 'msisdn_mismatch'
            when v_payment.status = 'failed' then 'success_after_failure'
        end;
        if v_review is not null then
            -- Not paid: a person looks at it. The status stays where it was.
            update public.payments
            set needs_review = true, review_reason = v_review,
                review_note = case
                    when v_review = 'report_unreadable'
                        then 'unreadable in the provider''s report: ' || array_to_string(v_unreadable, ', ')
                    else review_note
                end,
                provider_txn_id = coalesce(provider_txn_id, p_provider_txn_id)
            where id = v_payment.id;
            v_result := 'review';
        elsif v_payment.status in ('pending', 'initiated', 'ambiguous', 'expired') then
            v_result := private.settle_paid(v_payment.id, p_provider_txn_id);
        else
            v_result := 'ignored';  -- already succeeded or refunded
        end if;
    elsif v_outcome = 'failed' then
        if v_payment.status in ('pending', 'initiated', 'ambiguous') then
            perform private.close_unpaid(v_payment.id, 'failed', coalesce(v_reason, 'provider_error'), null);
            v_result := 'applied';
        else
            v_result := 'ignored';  -- terminal states never go back
        end if;
    elsif v_outcome in ('initiated', 'pending') and v_payment.status = 'pending' then
        update public.payments set status = 'initiated' where id = v_payment.id;
        v_result := 'applied';
    elsif v_outcome = 'ambiguous' and v_payment.status in ('pending', 'initiated') then
        update public.payments set status = 'ambiguous' where id = v_payment.id;
        v_result := 'applied';
    else
        v_result := 'ignored';
    end if;

    update private.payment_events
    set payment_id = v_payment.id,
        provider_ref = p_provider_ref,
        provider_txn_id = left(p_provider_txn_id, 128),
        outcome = case when v_outcome in ('succeeded', 'failed') then v_outcome else 'pending' end,
        amount = p_amount,
        currency = p_currency,
        msisdn = p_msisdn,
        authenticated = case when p_source = 'callback' then true else authenticated end,
        dedupe_key = case when v_result in ('applied', 'review') and v_outcome in ('succeeded', 'failed')
            then v_key end,
        status = case when v_result = 'review' then 'applied' else v_result end,
        error = case when v_result = 'review' then v_review else error end,
        processed_at = now()
    where id = v_event_id;
    perform set_config('wats.audit_context', '', true);
    return private.payment_status(v_payment.id) || jsonb_build_object('result', v_result);
end;
$$;

comment on function public.apply_payment_event(
    text, text, text, bigint, text, text, text, text, text, uuid, text[]
) is
'Applies one provider outcome to the payment it names, under the locks of THE LOCK ORDER: '
'duplicates (same provider, reference and outcome) are no-ops; a success whose amount, '
'currency or msisdn differs, or that the adapter could not fully read (p_unreadable names '
'the fields present but unreadable, or missing where the provider always sends them), or '
'that follows a failure, is flagged for review and not paid; '
'terminal states never go back; success pays the order (stock committed, points, '
'notifications); failure cancels it (stock released); success after expiry takes the stock '
'again or goes to review for a refund. Returns result applied | duplicate | ignored | review '
'| unknown_payment with the statuses. Service role only.';

-- ---------------------------------------------------------------------------------------
-- Reconciliation and expiry
-- ---------------------------------------------------------------------------------------

create function public.payments_to_reconcile(
    p_min_age_seconds integer default 60, p_limit integer default 100
)
returns table (
    payment_id uuid, provider text, provider_ref text, status text, push_recorded boolean
)
language plpgsql
security definer
set search_path = ''
as $$
begin
    return query
    with stale as (
        select p.id
        from public.payments as p
        where (p.status in ('initiated', 'ambiguous')
            or (p.status = 'pending' and p.push_requested_at is not null))
            and coalesce(p.initiated_at, p.push_requested_at, p.created_at)
            < now() - make_interval(secs => greatest(p_min_age_seconds, 0))
        order by p.last_checked_at nulls first, p.created_at
        limit least(greatest(p_limit, 1), 1000)
        for update skip locked
    )
    update public.payments as p
    set status_checks = p.status_checks + 1, last_checked_at = now()
    from stale, private.payment_references as r
    where p.id = stale.id and r.payment_id = p.id
    returning p.id, p.provider, r.reference, p.status, p.status <> 'pending';
end;
$$;

comment on function public.payments_to_reconcile(integer, integer) is
'Open payments nobody has told us about for p_min_age_seconds (initiated, ambiguous, or '
'pushed but never recorded: push_recorded = false), least recently checked first, with the '
'reference to ask about; counts the check. Service role only: payment-reconcile asks each '
'provider about them.';

create function public.fail_unsent_push(p_payment_id uuid, p_finding text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
    v_result text := 'too_early';
begin
    if p_finding is null or p_finding not in ('not_found', 'cannot_ask') then
        perform private.refuse(422, 'unknown_finding', 'p_finding must be not_found or cannot_ask');
    end if;
    v_payment := private.lock_payment(p_payment_id);
    if v_payment.id is null then
        perform private.refuse(404, 'payment_not_found', 'no such payment');
    end if;
    if v_payment.status <> 'pending' or v_payment.push_requested_at is null then
        v_result := 'not_applicable';  -- the push outcome was recorded: the usual path settles it
    elsif v_payment.push_requested_at
        < now() - make_interval(secs => private.setting_int('payments.unsent_push_seconds')) then
        perform set_config(
            'wats.audit_context',
            jsonb_build_object('source', 'reconcile', 'finding', p_finding)::text,
            true
        );
        perform private.close_unpaid(p_payment_id, 'failed', 'push_not_delivered', p_finding);
        perform set_config('wats.audit_context', '', true);
        v_result := 'failed';
    end if;
    return private.payment_status(p_payment_id) || jsonb_build_object('result', v_result);
end;
$$;

comment on function public.fail_unsent_push(uuid, text) is
'For a push that was claimed but whose answer was never recorded (checkout-initiate died '
'between the claim and the provider): once the claim is older than the setting '
'payments.unsent_push_seconds and the provider does not know the payment (p_finding '
'not_found) or cannot be asked (cannot_ask, e.g. Mixx), the payment fails '
'(push_not_delivered): order cancelled, stock released, cart restored, customer told. A '
'success that still arrives later goes to review (success_after_failure). Returns result '
'failed | too_early | not_applicable with the statuses. Service role only.';

create function public.expire_overdue_payments(p_grace_seconds integer default 0)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_candidate uuid;
    v_payment public.payments%rowtype;
    v_count integer := 0;
    v_busy integer := 0;
begin
    for v_candidate in
        select p.id
        from public.payments as p
        inner join public.orders as o on p.order_id = o.id
        where o.status = 'pending_payment'
            and p.status in ('pending', 'initiated', 'ambiguous')
            and o.expires_at < now() - make_interval(secs => greatest(p_grace_seconds, 0))
        order by o.expires_at
        limit 500
    loop
        -- Rows of earlier items stay locked until commit: never wait for the next ones
        -- (THE LOCK ORDER), skip them while someone else is working on them.
        begin
            v_payment := private.lock_payment(v_candidate, true);
            if v_payment.status in ('pending', 'initiated', 'ambiguous') then
                perform private.close_unpaid(
                    v_payment.id,
                    'expired',
                    case when v_payment.push_requested_at is null then 'never_pushed' else 'timeout' end,
                    null
                );
                v_count := v_count + 1;
            end if;
        exception when lock_not_available then
            v_busy := v_busy + 1;
        end;
    end loop;
    return jsonb_build_object('expired', v_count, 'busy', v_busy);
end;
$$;

comment on function public.expire_overdue_payments(integer) is
'Expires unpaid orders whose window (orders.expires_at) passed p_grace_seconds ago: payment '
'and order expired (failure reason timeout, or never_pushed when no push was ever '
'requested), stock released, items back in the cart, customer told. At most 500 per call; '
'rows someone else holds are skipped (busy) for the next run. Service role only; also '
'scheduled with pg_cron.';

create function public.payment_reference(p_payment_id uuid)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if not (select private.is_admin()) then
        raise exception 'only admins may read payment references' using errcode = '42501';
    end if;
    return (
        select r.reference from private.payment_references as r where r.payment_id = p_payment_id
    );
end;
$$;

comment on function public.payment_reference(uuid) is
'The reference a provider knows payment p_payment_id by (what support staff quote to the '
'provider). Admins only: customers never see it, since it helps authenticate unsigned '
'callbacks.';

-- ---------------------------------------------------------------------------------------
-- Money invariants (for tests and operations)
-- ---------------------------------------------------------------------------------------

create function private.payment_invariant_violations()
returns table (invariant text, entity_id uuid, detail text)
language sql
stable
set search_path = ''
as $$
    -- every order in a paid-or-later state has exactly one succeeded payment of its total
    select 'paid order has one succeeded payment of its total', o.id,
        format('%s succeeded payments', count(p.id))
    from public.orders as o
    left join public.payments as p
        on o.id = p.order_id and p.status in ('succeeded', 'refunded', 'partially_refunded')
        and p.amount = o.total
    where o.status in ('paid', 'processing', 'shipped', 'delivered', 'completed',
        'return_requested', 'returned')
    group by o.id
    having count(p.id) <> 1
    union all
    -- money received for an order that is not paid waits for a refund review
    select 'succeeded payment of an unpaid order is in review', p.id, o.status
    from public.payments as p
    inner join public.orders as o on p.order_id = o.id
    where p.status = 'succeeded' and not p.needs_review
        and o.status in ('pending_payment', 'cancelled', 'expired')
    union all
    -- an order awaiting payment has an open payment, and no other state does
    select 'open payment belongs to an order awaiting payment', p.id, o.status
    from public.payments as p
    inner join public.orders as o on p.order_id = o.id
    where (p.status in ('pending', 'initiated', 'ambiguous')) <> (o.status = 'pending_payment')
        and not p.needs_review
    union all
    -- reserved stock is exactly what orders awaiting payment hold
    select 'reserved stock equals pending order quantities', i.id,
        format('reserved %s, pending orders hold %s', i.reserved, coalesce(h.quantity, 0))
    from public.inventory as i
    left join (
        select oi.product_id, oi.center_id, sum(oi.quantity) as quantity
        from public.order_items as oi
        inner join public.orders as o on oi.order_id = o.id
        where o.status = 'pending_payment'
        group by oi.product_id, oi.center_id
    ) as h on i.product_id = h.product_id and i.center_id = h.center_id
    where i.reserved <> coalesce(h.quantity, 0)
    union all
    select 'stock is never negative', i.id, format('on_hand %s reserved %s', i.on_hand, i.reserved)
    from public.inventory as i
    where i.on_hand < 0 or i.reserved < 0 or i.reserved > i.on_hand
    union all
    -- every payment has the one reference its provider knows it by
    select 'payment has a provider reference', p.id, p.provider
    from public.payments as p
    left join private.payment_references as r on p.id = r.payment_id and p.provider = r.provider
    where r.payment_id is null
    union all
    -- every payment status a payment is in was written to the audit log
    select 'payment status change is audited', p.id, p.status
    from public.payments as p
    where not exists (
        select 1
        from public.audit_logs as a
        where a.entity_type = 'payments' and a.entity_id = p.id and a.after ->> 'status' = p.status
    )
$$;

comment on function private.payment_invariant_violations() is
'Rows that break a money invariant (none when all is well): paid orders have exactly one '
'succeeded payment of their total; money for unpaid orders is in review; open payments '
'belong to orders awaiting payment; reserved stock equals what pending orders hold; stock is '
'never negative; every payment has its provider reference; every payment status is in the '
'audit log. Internal (tests, operations).';

-- ---------------------------------------------------------------------------------------
-- Privileges: checkout for signed-in users, the rest for the service role only
-- ---------------------------------------------------------------------------------------

revoke all on function public.checkout(text, text, jsonb)
from public, anon, authenticated, service_role;
grant execute on function public.checkout(text, text, jsonb) to authenticated;

revoke all on function
public.claim_payment_push(uuid),
public.record_payment_initiation(uuid, text, text, text, jsonb),
public.record_webhook_event(text, jsonb, bytea, text, text),
public.finish_webhook_event(uuid, boolean, text),
public.apply_payment_event(text, text, text, bigint, text, text, text, text, text, uuid, text[]),
public.payments_to_reconcile(integer, integer),
public.fail_unsent_push(uuid, text),
public.expire_overdue_payments(integer)
from public, anon, authenticated;

grant execute on function
public.claim_payment_push(uuid),
public.record_payment_initiation(uuid, text, text, text, jsonb),
public.record_webhook_event(text, jsonb, bytea, text, text),
public.finish_webhook_event(uuid, boolean, text),
public.apply_payment_event(text, text, text, bigint, text, text, text, text, text, uuid, text[]),
public.payments_to_reconcile(integer, integer),
public.fail_unsent_push(uuid, text),
public.expire_overdue_payments(integer)
to service_role;

revoke all on function public.payment_reference(uuid)
from public, anon, authenticated, service_role;
grant execute on function public.payment_reference(uuid) to authenticated;

revoke execute on all functions in schema private from public;
