-- WATS money, part 3: loyalty points on the ledger, in unit 'points'. A customer earns
-- points when an order is paid, may spend them at checkout (held while the payment is
-- open, spent when it succeeds, released when it fails or expires), loses the points an
-- order earned in proportion to what of it is refunded and gets back the points they spent
-- in proportion to the discount refunded; points expire after a year without any movement,
-- a month after a reminder. The platform funds the discount (20261127001130_ledger.sql:
-- loyalty_funding). public.loyalty_points is the customer's readable history, written with
-- every move of their points account.
--
--   earned    points_issued    -> points_customer
--   held      points_customer  -> points_held       (checkout)
--   spent     points_held      -> points_redeemed   (payment succeeded)
--   released  points_held      -> points_customer   (payment failed or expired)
--   reversed  points_customer  -> points_issued     (refund; may go below zero)
--   restored  points_redeemed  -> points_customer   (refund of a discounted order)
--   expired   points_customer  -> points_expired
--
-- Also here: the invariants of all the money (private.money_invariant_violations).

insert into private.settings (key, value, description)
values
(
    'loyalty.tzs_per_point', '1000',
    'A paid order earns one point per this many TZS of goods paid for (subtotal less discount).'
),
(
    'loyalty.point_value_tzs', '10',
    'What one point takes off an order at checkout, in TZS.'
),
(
    'loyalty.max_redeem_bps', '2000',
    'Points may pay for at most this share of an order''s goods, in basis points (2000 = 20%).'
),
(
    'loyalty.expiry_months', '12',
    'Points expire after this many months without any movement on the customer''s points.'
),
(
    'loyalty.expiry_notice_days', '30',
    'Customers are reminded this many days before their points expire; points never expire '
    'sooner than this after the reminder.'
);

insert into private.notification_texts (type, language, audience, title, body)
values
(
    'points_expiring', 'en', 'customer', 'Your points will expire soon',
    'Your {points} points expire on {date} unless you use or earn points before then.'
),
(
    'points_expiring', 'sw', 'customer', 'Pointi zako zitaisha muda hivi karibuni',
    'Pointi zako {points} zitaisha muda tarehe {date} usipozitumia au kupata pointi kabla ya hapo.'
),
(
    'points_expired', 'en', 'customer', 'Your points expired',
    '{points} points expired after {months} months without use.'
),
(
    'points_expired', 'sw', 'customer', 'Pointi zako zimeisha muda',
    'Pointi {points} zimeisha muda baada ya miezi {months} bila kutumika.'
);

create table private.loyalty_expiry_notices (
    customer_id uuid primary key references public.profiles (id) on delete cascade,
    last_activity_at timestamptz not null,
    notified_at timestamptz not null default now()
);

comment on table private.loyalty_expiry_notices is
'The last expiry reminder per customer, for the points as they stood after last_activity_at '
'(a newer movement makes a new reminder due before expiry). Internal.';

alter table private.loyalty_expiry_notices enable row level security;
revoke all on table private.loyalty_expiry_notices from anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------
-- Redeeming at checkout
-- ---------------------------------------------------------------------------------------

create function private.points_balance(p_customer_id uuid)
returns bigint
language sql
stable
set search_path = ''
as $$
    select coalesce((
        select -a.balance from private.ledger_accounts as a
        where a.kind = 'points_customer' and a.customer_id = p_customer_id
    ), 0);
$$;

comment on function private.points_balance(uuid) is
'A customer''s points (held ones not counted).';

create function private.redemption_discount(p_customer_id uuid, p_points integer, p_subtotal bigint)
returns bigint
language plpgsql
stable
set search_path = ''
as $$
declare
    v_value bigint := private.setting_int('loyalty.point_value_tzs');
    v_max integer;
    v_balance bigint;
begin
    if p_points is null or p_points = 0 then
        return 0;
    end if;
    if p_points < 0 then
        perform private.refuse(422, 'invalid_points', 'points to redeem cannot be negative');
    end if;
    v_max := ((p_subtotal * private.setting_int('loyalty.max_redeem_bps') / 10000) / v_value)::integer;
    if p_points > v_max then
        perform private.refuse(
            422,
            'points_over_cap',
            format(
                'points may pay for at most %s%% of the goods: %s points on this order',
                private.setting_int('loyalty.max_redeem_bps') / 100, v_max
            ),
            jsonb_build_object('max_points', v_max, 'requested', p_points)
        );
    end if;
    v_balance := private.points_balance(p_customer_id);
    if p_points > v_balance then
        perform private.refuse(
            409,
            'not_enough_points',
            format('you have %s points', v_balance),
            jsonb_build_object('balance', v_balance, 'requested', p_points)
        );
    end if;
    return p_points * v_value;
end;
$$;

comment on function private.redemption_discount(uuid, integer, bigint) is
'What p_points take off an order of goods worth p_subtotal (loyalty.point_value_tzs each): '
'422 invalid_points, 422 points_over_cap beyond loyalty.max_redeem_bps of the goods, 409 '
'not_enough_points beyond the balance (checked again under the account''s lock when held).';

create function private.hold_points(p_order_id uuid, p_customer_id uuid, p_points integer)
returns void
language plpgsql
set search_path = ''
as $$
begin
    if coalesce(p_points, 0) <= 0 then
        return;
    end if;
    perform private.post_transfer(
        'order', p_order_id, 'hold_points',
        jsonb_build_array(
            private.ledger_leg(private.ledger_account('points_customer', p_customer_id), p_points, 'points_held', p_order_id),
            private.ledger_leg(private.ledger_account('points_held'), -p_points, 'points_held', p_order_id)
        ),
        'points held for an order'
    );
end;
$$;

comment on function private.hold_points(uuid, uuid, integer) is
'Checkout: the points redeemed on an order are held while its payment is open (409 '
'not_enough_points if they are not there any more).';

create function private.release_points(p_order_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
begin
    select * into v_order from public.orders where id = p_order_id;
    if v_order.points_redeemed = 0 or exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'order' and t.cause_id = p_order_id and t.kind = 'spend_points'
    ) then
        return;
    end if;
    perform private.post_transfer(
        'order', p_order_id, 'release_points',
        jsonb_build_array(
            private.ledger_leg(private.ledger_account('points_held'), v_order.points_redeemed, 'points_released', p_order_id),
            private.ledger_leg(
                private.ledger_account('points_customer', v_order.customer_id),
                -v_order.points_redeemed, 'points_released', p_order_id
            )
        ),
        'order not paid: points back'
    );
end;
$$;

comment on function private.release_points(uuid) is
'The payment of an order failed or expired: the points held for it go back to the customer.';

create function private.settle_points(p_order_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
    v_earned bigint;
    v_customer bigint;
begin
    select * into v_order from public.orders where id = p_order_id;
    v_customer := private.ledger_account('points_customer', v_order.customer_id);
    v_earned := (v_order.subtotal - v_order.discount) / private.setting_int('loyalty.tzs_per_point');
    if v_earned > 0 then
        perform private.post_transfer(
            'order', p_order_id, 'earn_points',
            jsonb_build_array(
                private.ledger_leg(private.ledger_account('points_issued'), v_earned, 'points_earned', p_order_id),
                private.ledger_leg(v_customer, -v_earned, 'points_earned', p_order_id)
            ),
            'points for an order'
        );
    end if;
    if v_order.points_redeemed > 0 then
        perform private.post_transfer(
            'order', p_order_id, 'spend_points',
            jsonb_build_array(
                case when exists (
                    select 1 from private.ledger_transfers as t
                    where t.cause_type = 'order' and t.cause_id = p_order_id and t.kind = 'release_points'
                )
                -- paid after expiry: the released points are taken again, even into the red
                then private.ledger_leg(v_customer, v_order.points_redeemed, 'points_spent', p_order_id, null, true)
                else private.ledger_leg(
                    private.ledger_account('points_held'), v_order.points_redeemed, 'points_spent', p_order_id
                ) end,
                private.ledger_leg(
                    private.ledger_account('points_redeemed'), -v_order.points_redeemed, 'points_spent', p_order_id
                )
            ),
            'points spent on an order'
        );
    end if;
end;
$$;

comment on function private.settle_points(uuid) is
'An order is paid: it earns points (one per loyalty.tzs_per_point TZS of goods paid for), and '
'the points held for it are spent (taken again, even below zero, if they were released when '
'it expired before the money came).';

create function private.return_points(p_refund public.refunds, p_payment public.payments)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
    v_customer bigint;
    v_earned bigint;
    v_reversed bigint;
    v_take bigint;
    v_discount_back bigint;
    v_restored bigint;
    v_give bigint;
    v_paid bigint;
    v_refunded bigint;
begin
    select * into v_order from public.orders where id = p_payment.order_id;
    v_customer := private.ledger_account('points_customer', v_order.customer_id);
    select
        coalesce(-sum(e.amount) filter (where e.kind = 'points_earned'), 0),
        coalesce(sum(e.amount) filter (where e.kind = 'points_reversed'), 0),
        coalesce(-sum(e.amount) filter (where e.kind = 'points_restored'), 0)
    into v_earned, v_reversed, v_restored
    from private.ledger_entries as e
    where e.account_id = v_customer and e.order_id = v_order.id;
    -- the points the order earned, in proportion to what came back of the money that paid for
    -- it (its payment, or every instalment of its plan) (floor)
    select coalesce(sum(p.amount), 0), coalesce(sum(p.refunded_amount), 0)
    into v_paid, v_refunded
    from public.payments as p
    where p.order_id = v_order.id and private.payment_paid_for_order(p.id);
    v_take := case when v_paid > 0 then (v_earned * v_refunded) / v_paid else 0 end - v_reversed;
    if v_take > 0 then
        perform private.post_transfer(
            'refund', p_refund.id, 'reverse_points',
            jsonb_build_array(
                private.ledger_leg(v_customer, v_take, 'points_reversed', v_order.id, null, true),
                private.ledger_leg(private.ledger_account('points_issued'), -v_take, 'points_reversed', v_order.id)
            ),
            format('refund of %s TZS', p_refund.amount)
        );
    end if;
    -- the points spent on it, in proportion to the discount given back with refunds paid
    if v_order.points_redeemed > 0 and v_order.discount > 0 then
        select coalesce(-sum(e.amount), 0) into v_discount_back
        from public.refunds as r
        inner join private.ledger_transfers as t
            on t.cause_type = 'refund' and t.cause_id = r.id and t.kind = 'grant'
        inner join private.ledger_entries as e on e.transfer_id = t.id and e.kind = 'refund_discount'
        where r.order_id = v_order.id and r.status in ('succeeded', 'manual');
        v_give := (v_order.points_redeemed * v_discount_back) / v_order.discount - v_restored;
        if v_give > 0 then
            perform private.post_transfer(
                'refund', p_refund.id, 'restore_points',
                jsonb_build_array(
                    private.ledger_leg(private.ledger_account('points_redeemed'), v_give, 'points_restored', v_order.id),
                    private.ledger_leg(v_customer, -v_give, 'points_restored', v_order.id)
                ),
                format('refund of %s TZS', p_refund.amount)
            );
        end if;
    end if;
end;
$$;

comment on function private.return_points(public.refunds, public.payments) is
'A refund reached the customer: the points the order earned are taken back in proportion to '
'what has been refunded of the money that paid for it (its payment, or its plan''s '
'instalments; even below zero), and the points spent on it given back in proportion to the '
'discount refunded so far.';

-- ---------------------------------------------------------------------------------------
-- Expiry (pg_cron, daily)
-- ---------------------------------------------------------------------------------------

create function public.expire_points()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_months integer := private.setting_int('loyalty.expiry_months')::integer;
    v_notice interval := make_interval(days => private.setting_int('loyalty.expiry_notice_days')::integer);
    v_account private.ledger_accounts%rowtype;
    v_points bigint;
    v_reminded integer := 0;
    v_expired integer := 0;
begin
    -- reminders: points untouched for (expiry - notice), not yet told about
    for v_account in
        select a.*
        from private.ledger_accounts as a
        left join private.loyalty_expiry_notices as n on a.customer_id = n.customer_id
        where a.kind = 'points_customer' and a.balance < 0
            and a.last_entry_at < now() - make_interval(months => v_months) + v_notice
            and (n.customer_id is null or n.last_activity_at <> a.last_entry_at)
        order by a.id
    loop
        insert into private.loyalty_expiry_notices (customer_id, last_activity_at, notified_at)
        values (v_account.customer_id, v_account.last_entry_at, now())
        on conflict (customer_id) do update
        set last_activity_at = excluded.last_activity_at, notified_at = excluded.notified_at;
        perform private.notify(
            v_account.customer_id, 'points_expiring',
            jsonb_build_object(
                'points', -v_account.balance,
                'date', to_char(
                    greatest(v_account.last_entry_at + make_interval(months => v_months), now() + v_notice),
                    'YYYY-MM-DD'
                )
            ),
            jsonb_build_object('points', -v_account.balance)
        );
        v_reminded := v_reminded + 1;
    end loop;
    -- expiry: untouched for the whole period, and reminded at least the notice period ago
    for v_account in
        select a.*
        from private.ledger_accounts as a
        inner join private.loyalty_expiry_notices as n
            on a.customer_id = n.customer_id and n.last_activity_at = a.last_entry_at
        where a.kind = 'points_customer' and a.balance < 0
            and a.last_entry_at < now() - make_interval(months => v_months)
            and n.notified_at <= now() - v_notice
        order by a.id
    loop
        -- the account, locked, as it is now (a checkout may have moved it meanwhile)
        select -a.balance into v_points
        from private.ledger_accounts as a
        where a.id = v_account.id and a.last_entry_at = v_account.last_entry_at
        for update;
        continue when coalesce(v_points, 0) <= 0;
        perform private.post_transfer(
            'expiry',
            md5(v_account.customer_id::text || v_account.last_entry_at::text)::uuid,
            'expire_points',
            jsonb_build_array(
                private.ledger_leg(v_account.id, v_points, 'points_expired'),
                private.ledger_leg(private.ledger_account('points_expired'), -v_points, 'points_expired')
            ),
            format('%s months without use', v_months)
        );
        perform private.notify(
            v_account.customer_id, 'points_expired',
            jsonb_build_object('points', v_points, 'months', v_months), jsonb_build_object('points', v_points)
        );
        v_expired := v_expired + 1;
    end loop;
    return jsonb_build_object('reminded', v_reminded, 'expired', v_expired);
end;
$$;

comment on function public.expire_points()
is
'Daily (pg_cron): reminds customers whose points have not moved for loyalty.expiry_months '
'less loyalty.expiry_notice_days, and expires the points of those untouched for the whole '
'period and reminded at least the notice period ago. Service role only.';

-- ---------------------------------------------------------------------------------------
-- What customers read
-- ---------------------------------------------------------------------------------------

create function public.loyalty_balance()
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
    select private.points_balance((select auth.uid()));
$$;

comment on function public.loyalty_balance() is
'The signed-in customer''s points, from the ledger (0 without any; held points not counted).';

create function public.loyalty_account()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_customer uuid := (select auth.uid());
begin
    if v_customer is null then
        raise exception 'sign in to see your points' using errcode = '42501';
    end if;
    return (
        select jsonb_build_object(
            'points', private.points_balance(v_customer),
            'held', coalesce((
                select sum(o.points_redeemed) from public.orders as o
                where o.customer_id = v_customer and o.status = 'pending_payment'
            ), 0),
            'point_value_tzs', private.setting_int('loyalty.point_value_tzs'),
            'max_redeem_bps', private.setting_int('loyalty.max_redeem_bps'),
            'expires_on', (
                select to_char(a.last_entry_at + make_interval(
                    months => private.setting_int('loyalty.expiry_months')::integer
                ), 'YYYY-MM-DD')
                from private.ledger_accounts as a
                where a.kind = 'points_customer' and a.customer_id = v_customer and a.balance < 0
            )
        )
    );
end;
$$;

comment on function public.loyalty_account() is
'The signed-in customer''s points: balance, held for unpaid orders, what a point is worth, '
'how much of an order points may pay, and when they expire without use.';

-- ---------------------------------------------------------------------------------------
-- The money invariants: the payment flow's, and the ledger's against the rows it follows
-- ---------------------------------------------------------------------------------------

create function private.money_invariant_violations()
returns table (invariant text, entity_id uuid, detail text)
language sql
stable
set search_path = ''
as $$
    select v.invariant, v.entity_id, v.detail from private.payment_invariant_violations() as v
    union all
    select 'ledger transfer sums to zero per unit', null::uuid,
        format('transfer %s: %s %s', e.transfer_id, sum(e.amount), e.unit)
    from private.ledger_entries as e
    group by e.transfer_id, e.unit
    having sum(e.amount) <> 0
    union all
    select 'ledger entry names an account', null::uuid, format('entry %s: account %s', e.id, e.account_id)
    from private.ledger_entries as e
    where not exists (select 1 from private.ledger_accounts as a where a.id = e.account_id)
    union all
    select 'account balance equals its entries', coalesce(a.vendor_id, a.customer_id),
        format('%s: balance %s, entries %s', a.code, a.balance, coalesce(s.total, 0))
    from private.ledger_accounts as a
    left join (
        select e.account_id, sum(e.amount) as total from private.ledger_entries as e group by e.account_id
    ) as s on a.id = s.account_id
    where a.tracks_balance and a.balance <> coalesce(s.total, 0)
    union all
    -- each provider account holds what came in less what went back and out
    select 'provider account equals payments less refunds and payouts', null::uuid,
        format('%s: ledger %s, expected %s', m.provider, coalesce(l.held, 0), m.expected)
    from (
        select x.provider, sum(x.amount) as expected
        from (
            select p.provider, p.amount from public.payments as p
            where p.status in ('succeeded', 'partially_refunded', 'refunded')
            union all
            select r.provider, -r.amount from public.refunds as r where r.status in ('succeeded', 'manual')
            union all
            select vp.provider, -vp.amount from private.vendor_payouts as vp where vp.status = 'paid'
        ) as x
        group by x.provider
    ) as m
    left join (
        select a.provider, sum(e.amount) as held
        from private.ledger_accounts as a
        inner join private.ledger_entries as e on a.id = e.account_id
        where a.kind = 'provider'
        group by a.provider
    ) as l on m.provider = l.provider
    where coalesce(l.held, 0) <> m.expected
    union all
    -- what vendors are owed and are being paid, what the platform earned and owes back,
    -- less what it spent on loyalty: all the money that came in and has not gone out
    select 'the ledger holds all the money', null::uuid,
        format('ledger %s, payments less refunds and payouts %s', l.total, m.total)
    from (
        select coalesce(-sum(e.amount), 0) as total
        from private.ledger_entries as e
        inner join private.ledger_accounts as a on e.account_id = a.id
        where a.unit = 'TZS' and a.kind <> 'provider'
    ) as l,
        (
            select
                coalesce((
                    select sum(p.amount) from public.payments as p
                    where p.status in ('succeeded', 'partially_refunded', 'refunded')
                ), 0)
                - coalesce((
                    select sum(r.amount) from public.refunds as r where r.status in ('succeeded', 'manual')
                ), 0)
                - coalesce((
                    select sum(vp.amount) from private.vendor_payouts as vp where vp.status = 'paid'
                ), 0) as total
        ) as m
    where l.total <> m.total
    union all
    select 'succeeded payment is on the ledger', p.id, p.status
    from public.payments as p
    where p.status in ('succeeded', 'partially_refunded', 'refunded')
        and not exists (
            select 1 from private.ledger_transfers as t
            where t.cause_type = 'payment' and t.cause_id = p.id and t.kind = 'received'
        )
    union all
    select 'paid order is sold once on the ledger', o.id, format('%s sale postings', count(t.id))
    from public.orders as o
    left join public.payments as p on o.id = p.order_id
    left join private.ledger_transfers as t
        on (t.cause_type = 'payment' and t.cause_id = p.id or t.cause_type = 'order' and t.cause_id = o.id)
        and t.kind = 'sale'
    where o.paid_at is not null
    group by o.id
    having count(distinct t.id) <> 1
    union all
    -- a full payment buys its order; an instalment plan's money waits in unallocated and its
    -- order is sold once, for the plan's total, when the plan completes
    select 'a sale takes what paid for the order from unallocated', t.cause_id,
        format('%s %s: unallocated %s, paid %s', t.cause_type, t.kind, coalesce(e.amount, 0), m.paid)
    from private.ledger_transfers as t
    left join lateral (
        select sum(x.amount) as amount
        from private.ledger_entries as x
        inner join private.ledger_accounts as a on x.account_id = a.id and a.kind = 'unallocated'
        where x.transfer_id = t.id
    ) as e on true
    cross join lateral (
        select case
            when t.cause_type = 'payment'
                then (select p.amount from public.payments as p where p.id = t.cause_id)
            else (
                select coalesce(sum(pp.amount), 0)
                from public.instalments as i
                inner join public.payments as pp on i.payment_id = pp.id
                where i.order_id = t.cause_id and i.status = 'paid'
            )
        end as paid
    ) as m
    where t.kind = 'sale' and coalesce(e.amount, 0) <> m.paid
    union all
    select 'instalment money waits in unallocated until its plan completes', p.id, b.status
    from public.payments as p
    inner join public.instalments as i on p.instalment_id = i.id
    inner join public.bnpl_orders as b on i.plan_id = b.id
    where exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'payment' and t.cause_id = p.id and t.kind = 'sale'
    )
    or (b.status <> 'completed' and exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'order' and t.cause_id = b.order_id and t.kind = 'sale'
    ))
    union all
    select 'a sale credits the goods to their vendors', o.id,
        format('subtotal %s, credited %s', o.subtotal, coalesce(-sum(e.amount), 0))
    from public.orders as o
    left join private.ledger_entries as e on o.id = e.order_id and e.kind = 'sale'
        and e.account_id in (select a.id from private.ledger_accounts as a where a.kind = 'vendor_pending')
    where o.paid_at is not null
    group by o.id, o.subtotal
    having coalesce(-sum(e.amount), 0) <> o.subtotal
    union all
    select 'a completed order has nothing pending', o.id, format('pending %s', -sum(e.amount))
    from public.orders as o
    inner join private.ledger_entries as e on o.id = e.order_id
    inner join private.ledger_accounts as a on e.account_id = a.id and a.kind = 'vendor_pending'
    where o.status = 'completed'
    group by o.id
    having sum(e.amount) <> 0
    union all
    select 'refund is on the ledger', r.id, r.status
    from public.refunds as r
    where not exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'refund' and t.cause_id = r.id and t.kind = 'grant'
    )
    or (r.status in ('succeeded', 'manual')) <> exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'refund' and t.cause_id = r.id and t.kind = 'paid'
    )
    union all
    select 'payout is on the ledger', vp.id, vp.status
    from private.vendor_payouts as vp
    where not exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'payout' and t.cause_id = vp.id and t.kind = 'reserve'
    )
    or (vp.status = 'paid') <> exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'payout' and t.cause_id = vp.id and t.kind = 'paid'
    )
    or (vp.status in ('failed', 'cancelled')) <> exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'payout' and t.cause_id = vp.id and t.kind = 'return'
    )
    union all
    select 'payout status change is audited', vp.id, vp.status
    from private.vendor_payouts as vp
    where not exists (
        select 1
        from public.audit_logs as al
        where al.entity_type = 'vendor_payouts' and al.entity_id = vp.id and al.after ->> 'status' = vp.status
    )
    union all
    select 'points history equals the ledger', a.customer_id,
        format('ledger %s, history %s', -a.balance, coalesce(h.points, 0))
    from private.ledger_accounts as a
    left join (
        select lp.customer_id, sum(lp.points) as points from public.loyalty_points as lp group by lp.customer_id
    ) as h on a.customer_id = h.customer_id
    where a.kind = 'points_customer' and -a.balance <> coalesce(h.points, 0)
    union all
    select 'points below zero only after a reversal or a late spend', a.customer_id, format('%s points', -a.balance)
    from private.ledger_accounts as a
    where a.kind = 'points_customer' and a.balance > 0
        and not exists (
            select 1 from private.ledger_entries as e
            where e.account_id = a.id and e.kind in ('points_reversed', 'points_spent')
        );
$$;

comment on function private.money_invariant_violations() is
'Every money invariant that does not hold, one row each (none in a healthy database): those '
'of the payment flow (private.payment_invariant_violations) and the ledger''s: transfers sum '
'to zero, balances equal entries, each provider account equals payments less refunds and '
'payouts, the ledger holds all the money, every payment, sale, completion, refund and payout '
'is posted exactly as its row says (an instalment plan''s order sold once, for the plan''s '
'total, from the instalments'' unallocated money, when the plan completes), payout changes '
'are audited, the points history equals the ledger and no balance is below zero without a '
'reason. The test suites check it after every test.';

-- ---------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------

revoke all on function public.expire_points(), public.loyalty_balance(), public.loyalty_account()
from public, anon, authenticated, service_role;
grant execute on function public.loyalty_balance(), public.loyalty_account() to authenticated;
grant execute on function public.expire_points() to service_role;

-- Nothing in `private` is executable unless granted by name.
revoke execute on all functions in schema private from public;
