-- WATS instalments: lipa kidogo kidogo. At checkout a customer may pay a qualifying cart in
-- 2-4 instalments by push instead of in full, with no fee and no interest. It is layaway,
-- not credit (shipping goods before they are paid for, with fees, needs a Bank of Tanzania
-- licence): the stock stays reserved for the plan's life and the order is paid, and ships,
-- only when the last instalment is paid. Tables: public.bnpl_orders (the plan) and
-- public.instalments (its schedule), 20261127000800_loyalty_and_bnpl.sql.
--
--   checkout(p_plan)           the plan and its schedule (fixed, adding up exactly to the
--                              order's total); the checkout's payment is the 1st instalment
--   settle_instalment          a succeeded instalment payment: the instalment paid; the
--                              plan active after the first, completed after the last (stock
--                              committed, order paid and sold, points earned, parcels made)
--   instalment_attempt_failed  a later instalment's payment failed or expired: only that
--                              attempt ends; the plan waits until the grace period ends
--   run_instalment_schedule    the scheduled job (service role, through the Edge Function
--                              instalment-push): reminders a day ahead, plans past their
--                              grace period cancelled (paid instalments refunded in full,
--                              stock released), due instalments' payments made for the push
--   pay_next_instalment        the customer pays the next instalment now (instalment-push)
--
-- Each instalment is paid by an ordinary payment (payments.instalment_id) on the same rails
-- as a full payment: claim_payment_push, the adapters, payment-webhook, apply_payment_event,
-- payment-reconcile, expiry, refunds. Ledger (20261127001130_ledger.sql): each instalment's
-- money is received into unallocated; the order's sale is posted once, for the plan's total,
-- when the plan completes; a cancelled plan's refunds come back out of unallocated.
--
-- Locks: THE LOCK ORDER (20261127001100_checkout.sql); the plan row right after its order,
-- and its instalments only under it. The job takes every lock with NOWAIT (skipping what is
-- busy) and reminders with SKIP LOCKED: it never waits, so it never closes a cycle.

-- ---------------------------------------------------------------------------------------
-- Settings
-- ---------------------------------------------------------------------------------------

insert into private.settings (key, value, description)
values
(
    'instalments.min_total_tzs', '20000',
    'Smallest order total (TZS) that may be paid in instalments (422 plan_total_too_low).'
),
(
    'instalments.max_total_tzs', '3000000',
    'Largest order total (TZS) that may be paid in instalments (422 plan_total_too_high).'
),
(
    'instalments.max_open_plans', '2',
    'Instalment plans (pending or active) one customer may have at once (409 too_many_plans).'
),
(
    'instalments.interval_days', '14',
    'Days between two instalments of a new plan (fixed on the plan when it is made).'
),
(
    'instalments.grace_days', '3',
    'Days an instalment may stay unpaid after it falls due; then the plan is cancelled, its '
    'stock released and every instalment paid refunded in full.'
),
(
    'instalments.reminder_hours', '24',
    'How long before an instalment falls due the customer is reminded.'
),
(
    'instalments.retry_hours', '24',
    'After an instalment''s push failed, hours before the scheduled job pushes it again (the '
    'customer may pay it from the app any time).'
),
(
    'instalments.max_auto_pushes', '3',
    'Pushes the scheduled job sends for one instalment (the due one and retries in the grace '
    'period); the customer''s own attempts count too.'
);

-- ---------------------------------------------------------------------------------------
-- What the customer is told, in Kiswahili and English
-- ---------------------------------------------------------------------------------------

insert into private.notification_texts (type, language, audience, title, body)
values
(
    'instalment_paid', 'en', 'customer', 'Instalment received',
    'We received instalment {number} of {count}: {amount} TZS. {remaining} TZS left; the next '
    'instalment is due on {due_on}.'
),
(
    'instalment_paid', 'sw', 'customer', 'Awamu imepokelewa',
    'Tumepokea awamu {number} kati ya {count}: TZS {amount}. Zimebaki TZS {remaining}; awamu '
    'inayofuata ni tarehe {due_on}.'
),
(
    'instalment_due_soon', 'en', 'customer', 'Your next instalment is due soon',
    'Instalment {number} of {count} ({amount} TZS) is due on {due_on}. We will send a payment '
    'prompt to your phone; you can also pay it now in the app.'
),
(
    'instalment_due_soon', 'sw', 'customer', 'Awamu yako inayofuata inakaribia',
    'Awamu {number} kati ya {count} (TZS {amount}) inadaiwa tarehe {due_on}. Tutakutumia ombi '
    'la malipo kwenye simu yako; unaweza pia kuilipa sasa kwenye programu.'
),
(
    'instalment_failed', 'en', 'customer', 'Your instalment was not paid',
    'Instalment {number} ({amount} TZS) did not go through; nothing was charged. Pay it by '
    '{deadline} to keep your order: we will try again, or pay it in the app.'
),
(
    'instalment_failed', 'sw', 'customer', 'Awamu yako haijalipwa',
    'Malipo ya awamu {number} (TZS {amount}) hayakukamilika; hakuna kilichokatwa. Ilipe kabla '
    'ya {deadline} ili oda yako ibaki: tutajaribu tena, au ilipe kwenye programu.'
),
(
    'instalment_plan_cancelled', 'en', 'customer', 'Your instalment plan was cancelled',
    'Instalment {number} was not paid by {deadline}, so the plan was cancelled and the items '
    'released. The {refund} TZS you paid is on its way back to you, in full.'
),
(
    'instalment_plan_cancelled', 'sw', 'customer', 'Mpango wako wa awamu umesitishwa',
    'Awamu {number} haikulipwa kufikia {deadline}, kwa hiyo mpango umesitishwa na bidhaa '
    'zimeachiliwa. TZS {refund} ulizolipa zinarudishwa kwako zote.'
);

-- ---------------------------------------------------------------------------------------
-- Products and shops may opt out
-- ---------------------------------------------------------------------------------------

alter table public.products
add column instalments_allowed boolean not null default true;

comment on column public.products.instalments_allowed is
'False: this product cannot be bought on an instalment plan (the vendor opts it out).';

alter table public.vendors
add column instalments_allowed boolean not null default true;

comment on column public.vendors.instalments_allowed is
'False: no product of this shop can be bought on an instalment plan (the owner opts out).';

grant insert (instalments_allowed), update (instalments_allowed) on table public.products
to authenticated;
grant insert (instalments_allowed), update (instalments_allowed) on table public.vendors
to authenticated;

-- ---------------------------------------------------------------------------------------
-- The plan
-- ---------------------------------------------------------------------------------------

create function private.is_plan_under_way(p_order_id uuid)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return exists (
        select 1 from public.bnpl_orders as b where b.order_id = p_order_id and b.status = 'active'
    );
end;
$$;

comment on function private.is_plan_under_way(uuid) is
'True when the order is being paid by an active instalment plan (its first instalment paid): '
'it waits for the next ones with its stock reserved, and is not an unpaid hold for checkout''s '
'limits.';

create function private.instalment_deadline(p_due_at timestamptz)
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
    return to_char(
        (p_due_at + make_interval(days => private.setting_int('instalments.grace_days')::integer))
        at time zone 'Africa/Dar_es_Salaam',
        'YYYY-MM-DD'
    );
end;
$$;

comment on function private.instalment_deadline(timestamptz) is
'The last day (Tanzanian date) an instalment due at p_due_at may be paid before its plan is '
'cancelled (instalments.grace_days later).';

create function private.plan_summary(p_order_id uuid)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'plan_id', b.id,
            'plan', b.plan,
            'status', b.status,
            'total', b.total,
            'instalments', (
                select jsonb_agg(
                    jsonb_build_object(
                        'number', i.number, 'amount', i.amount, 'due_at', i.due_at, 'status', i.status
                    )
                    order by i.number
                )
                from public.instalments as i
                where i.plan_id = b.id
            )
        )
        from public.bnpl_orders as b
        where b.order_id = p_order_id
    );
end;
$$;

comment on function private.plan_summary(uuid) is
'An order''s instalment plan as checkout answers it (null without one): id, plan, status, '
'total and the schedule (number, amount, due_at, status).';

create function private.check_plan_eligibility(
    p_customer_id uuid, p_total bigint, p_products uuid[]
)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
    v_min bigint := private.setting_int('instalments.min_total_tzs');
    v_max bigint := private.setting_int('instalments.max_total_tzs');
    v_limit bigint := private.setting_int('instalments.max_open_plans');
    v_open bigint;
    v_out uuid [];
begin
    if p_total < v_min then
        perform private.refuse(
            422, 'plan_total_too_low',
            format('orders from %s TZS can be paid in instalments', v_min),
            jsonb_build_object('minimum', v_min, 'total', p_total)
        );
    end if;
    if p_total > v_max then
        perform private.refuse(
            422, 'plan_total_too_high',
            format('orders up to %s TZS can be paid in instalments', v_max),
            jsonb_build_object('maximum', v_max, 'total', p_total)
        );
    end if;
    select coalesce(array_agg(p.id order by p.id), '{}'::uuid []) into v_out
    from public.products as p
    inner join public.vendors as v on p.vendor_id = v.id
    where p.id = any(p_products) and not (p.instalments_allowed and v.instalments_allowed);
    if cardinality(v_out) > 0 then
        perform private.refuse(
            409, 'plan_not_offered',
            'some items in your cart cannot be paid in instalments: pay them in full or remove them',
            jsonb_build_object('product_ids', to_jsonb(v_out))
        );
    end if;
    -- the caller holds the customer's cart (THE LOCK ORDER, level 1): no concurrent checkout
    select count(*) into v_open
    from public.bnpl_orders as b
    where b.customer_id = p_customer_id and b.status in ('pending', 'active');
    if v_open >= v_limit then
        perform private.refuse(
            409, 'too_many_plans',
            format('you already have %s instalment plans open: finish one first', v_open),
            jsonb_build_object('open_plans', v_open, 'limit', v_limit)
        );
    end if;
end;
$$;

comment on function private.check_plan_eligibility(uuid, bigint, uuid[]) is
'May a cart of total p_total with products p_products be paid in instalments by this '
'customer? 422 plan_total_too_low / plan_total_too_high (settings '
'instalments.min_total_tzs / max_total_tzs), 409 plan_not_offered (a product or its shop '
'opted out: instalments_allowed), 409 too_many_plans (instalments.max_open_plans open).';

create function private.instalment_schedule(
    p_total bigint, p_count integer, p_start timestamptz, p_interval_days integer
)
returns table (number integer, amount bigint, due_at timestamptz)
language sql
stable
set search_path = ''
as $$
    -- equal shares to the shilling; the remainder on the first, so they add up exactly
    select
        n,
        p_total / p_count + case when n = 1 then p_total % p_count else 0 end,
        p_start + make_interval(days => (n - 1) * p_interval_days)
    from generate_series(1, p_count) as n;
$$;

comment on function private.instalment_schedule(bigint, integer, timestamptz, integer) is
'A plan''s schedule: p_count instalments of p_total / p_count (the remainder on the first, '
'so they add up exactly to p_total), the first due at p_start, the next every '
'p_interval_days.';

create function private.create_plan(
    p_order_id uuid, p_customer_id uuid, p_plan text, p_provider text, p_total bigint
)
returns public.instalments
language plpgsql
set search_path = ''
as $$
declare
    v_plan_id uuid;
    v_first public.instalments%rowtype;
    v_count integer := substr(p_plan, 8)::integer;
    v_interval integer := private.setting_int('instalments.interval_days')::integer;
begin
    insert into public.bnpl_orders (
        order_id, customer_id, plan, instalment_count, provider, total, interval_days
    )
    values (p_order_id, p_customer_id, p_plan, v_count, p_provider, p_total, v_interval)
    returning id into v_plan_id;
    insert into public.instalments (plan_id, order_id, customer_id, number, amount, due_at)
    select v_plan_id, p_order_id, p_customer_id, s.number, s.amount, s.due_at
    from private.instalment_schedule(p_total, v_count, now(), v_interval) as s;
    select i.* into v_first from public.instalments as i where i.plan_id = v_plan_id and i.number = 1;
    return v_first;
end;
$$;

comment on function private.create_plan(uuid, uuid, text, text, bigint) is
'Checkout: the order''s instalment plan (pending) and its fixed schedule '
'(private.instalment_schedule, every instalments.interval_days); returns the first '
'instalment, which the checkout''s payment pays.';

create function private.drop_unstarted_plan(p_order_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
    update public.instalments set status = 'cancelled'
    where order_id = p_order_id and status = 'scheduled'
        and plan_id in (select b.id from public.bnpl_orders as b where b.order_id = p_order_id and b.status = 'pending');
    update public.bnpl_orders
    set status = 'cancelled', cancel_reason = 'the first instalment was not paid'
    where order_id = p_order_id and status = 'pending';
end;
$$;

comment on function private.drop_unstarted_plan(uuid) is
'The order''s first payment ended without money: an instalment plan that had not started '
'(pending) is cancelled with its order; nothing was paid, nothing to refund.';

-- ---------------------------------------------------------------------------------------
-- An instalment's payment ends
-- ---------------------------------------------------------------------------------------

create function private.instalment_attempt_failed(p_payment_id uuid, p_reason text)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_instalment public.instalments%rowtype;
    v_plan public.bnpl_orders%rowtype;
begin
    select i.* into v_instalment
    from public.instalments as i
    inner join public.payments as p on i.id = p.instalment_id
    where p.id = p_payment_id;
    select b.* into v_plan from public.bnpl_orders as b where b.id = v_instalment.plan_id;
    if p_reason = 'never_pushed' then
        return;  -- no prompt ever reached the customer: nothing to tell them
    end if;
    perform private.notify(
        v_instalment.customer_id,
        'instalment_failed',
        jsonb_build_object(
            'number', v_instalment.number,
            'amount', v_instalment.amount,
            'deadline', private.instalment_deadline(v_instalment.due_at)
        ),
        jsonb_build_object(
            'order_id', v_instalment.order_id, 'plan_id', v_plan.id, 'payment_id', p_payment_id,
            'instalment', v_instalment.number, 'reason', p_reason
        )
    );
end;
$$;

comment on function private.instalment_attempt_failed(uuid, text) is
'A later instalment''s payment failed or expired (private.close_unpaid has closed it): the '
'order, its stock and the plan stay as they are; the customer is told until when it can still '
'be paid (they may pay in the app, the scheduled job pushes again), unless no prompt was '
'ever sent (never_pushed).';

create function private.settle_instalment(p_payment public.payments, p_txn_id text)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_instalment public.instalments%rowtype;
    v_plan public.bnpl_orders%rowtype;
    v_next public.instalments%rowtype;
begin
    -- the caller holds the payment's locks (private.lock_payment: the plan row included)
    select i.* into v_instalment from public.instalments as i where i.id = p_payment.instalment_id;
    select b.* into v_plan from public.bnpl_orders as b where b.id = v_instalment.plan_id;
    if v_plan.status not in ('pending', 'active') or v_instalment.status <> 'scheduled' then
        -- money the plan no longer waits for: a second payment of one instalment, or one after
        -- the plan was cancelled. Not applied: a person refunds it (resolve_payment_review).
        update public.payments
        set status = 'succeeded', provider_txn_id = coalesce(p_txn_id, provider_txn_id),
            needs_review = true,
            review_reason = case when v_instalment.status = 'paid' then 'duplicate_payment' else 'plan_cancelled' end
        where id = p_payment.id;
        perform private.notify(
            p_payment.customer_id,
            'payment_review',
            jsonb_build_object('amount', p_payment.amount),
            jsonb_build_object('order_id', p_payment.order_id, 'payment_id', p_payment.id)
        );
        return 'review';
    end if;
    update public.payments
    set status = 'succeeded', provider_txn_id = coalesce(p_txn_id, provider_txn_id)
    where id = p_payment.id;
    update public.instalments set status = 'paid', payment_id = p_payment.id where id = v_instalment.id;
    if v_plan.status = 'pending' then
        update public.bnpl_orders set status = 'active' where id = v_plan.id;
    end if;
    select i.* into v_next
    from public.instalments as i
    where i.plan_id = v_plan.id and i.status = 'scheduled'
    order by i.number
    limit 1;
    if v_next.id is not null then
        perform private.notify(
            p_payment.customer_id,
            'instalment_paid',
            jsonb_build_object(
                'number', v_instalment.number,
                'count', v_plan.instalment_count,
                'amount', v_instalment.amount,
                'remaining', (
                    select sum(i.amount) from public.instalments as i
                    where i.plan_id = v_plan.id and i.status = 'scheduled'
                ),
                'due_on', to_char(v_next.due_at at time zone 'Africa/Dar_es_Salaam', 'YYYY-MM-DD')
            ),
            jsonb_build_object(
                'order_id', p_payment.order_id, 'plan_id', v_plan.id, 'payment_id', p_payment.id,
                'instalment', v_instalment.number
            )
        );
        return 'applied';
    end if;
    -- the last instalment: the plan completes, the order is paid (its stock committed, sold
    -- on the ledger for the plan's total, points earned, parcels made, everyone told)
    perform private.move_order_stock(p_payment.order_id, true, true);
    update public.bnpl_orders set status = 'completed' where id = v_plan.id;
    perform private.honour_payment(p_payment.id);
    return 'applied';
end;
$$;

comment on function private.settle_instalment(public.payments, text) is
'An instalment''s payment succeeded (the locked row; private.settle_paid hands it over): the '
'instalment is paid, the plan active after its first; after its last the plan completes and '
'the order is honoured (stock committed, private.honour_payment). Money the plan no longer '
'waits for (the instalment already paid: duplicate_payment; the plan cancelled: '
'plan_cancelled) is flagged for review and refund. Returns applied | review.';

-- ---------------------------------------------------------------------------------------
-- Cancelling a plan (an instalment unpaid past the grace period)
-- ---------------------------------------------------------------------------------------

create function private.cancel_plan(p_plan_id uuid, p_reason text)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_plan public.bnpl_orders%rowtype;
    v_missed public.instalments%rowtype;
    v_paid record;
    v_left bigint;
    v_refunded bigint := 0;
begin
    -- the caller holds the order's locks (private.lock_order_payments)
    select b.* into v_plan from public.bnpl_orders as b where b.id = p_plan_id;
    select i.* into v_missed
    from public.instalments as i
    where i.plan_id = p_plan_id and i.status = 'scheduled'
    order by i.number
    limit 1;
    -- every instalment paid goes back in full (no penalty), from the money held unallocated
    for v_paid in
        select p.id, p.amount from public.instalments as i
        inner join public.payments as p on i.payment_id = p.id
        where i.plan_id = p_plan_id and i.status = 'paid'
        order by i.number
    loop
        v_left := v_paid.amount - private.refund_commitments(v_paid.id);
        if v_left > 0 then
            perform private.grant_refund(
                v_paid.id, v_left, 'cancellation', 'instalment plan cancelled: ' || p_reason, null, null
            );
            v_refunded := v_refunded + v_left;
        end if;
    end loop;
    update public.instalments set status = 'cancelled' where plan_id = p_plan_id and status = 'scheduled';
    update public.bnpl_orders set status = 'cancelled', cancel_reason = left(p_reason, 500)
    where id = p_plan_id;
    update public.orders
    set status = 'cancelled', cancel_reason = left('instalment plan cancelled: ' || p_reason, 500)
    where id = v_plan.order_id;
    perform private.move_order_stock(v_plan.order_id, false, true);
    perform private.release_points(v_plan.order_id);
    perform private.notify(
        v_plan.customer_id,
        'instalment_plan_cancelled',
        jsonb_build_object(
            'number', v_missed.number,
            'deadline', private.instalment_deadline(v_missed.due_at),
            'refund', v_refunded
        ),
        jsonb_build_object('order_id', v_plan.order_id, 'plan_id', p_plan_id)
    );
    return v_refunded;
end;
$$;

comment on function private.cancel_plan(uuid, text) is
'Cancels an active plan whose instalment stayed unpaid past the grace period (caller holds the '
'order''s locks): every instalment paid is refunded in full (refunds from unallocated, sent by '
'refund-execute), the rest cancelled, the order cancelled, its stock released, points held for '
'it given back, the customer told. Returns what is refunded.';

-- ---------------------------------------------------------------------------------------
-- A payment for an instalment (the job's push, or the customer paying early)
-- ---------------------------------------------------------------------------------------

create function private.instalment_payment_info(p_payment_id uuid, p_replayed boolean)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select jsonb_build_object(
            'payment_id', p.id,
            'order_id', p.order_id,
            'plan_id', i.plan_id,
            'instalment', i.number,
            'amount', p.amount,
            'currency', p.currency,
            'provider', p.provider,
            'msisdn', p.msisdn,
            'payment_status', p.status,
            'order_status', o.status,
            'push_requested', p.push_requested_at is not null,
            'expires_at', o.expires_at,
            'replayed', p_replayed
        )
        from public.payments as p
        inner join public.instalments as i on p.instalment_id = i.id
        inner join public.orders as o on p.order_id = o.id
        where p.id = p_payment_id
    );
end;
$$;

comment on function private.instalment_payment_info(uuid, boolean) is
'What the instalment functions answer about an instalment''s payment: ids, instalment '
'number, amount, provider and wallet, statuses, whether its push was requested (never the '
'provider reference).';

create function private.new_instalment_payment(p_instalment public.instalments)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    v_plan public.bnpl_orders%rowtype;
    v_phone text;
    v_attempt integer;
    v_id uuid;
begin
    -- the caller holds the order's locks (private.lock_order_payments)
    select b.* into v_plan from public.bnpl_orders as b where b.id = p_instalment.plan_id;
    select p.phone into v_phone from public.profiles as p where p.id = p_instalment.customer_id;
    if v_phone is null then
        perform private.refuse(
            422, 'phone_missing', 'your profile has no Tanzanian phone number to pay from'
        );
    end if;
    select coalesce(max(p.attempt), 0) + 1 into v_attempt
    from public.payments as p
    where p.order_id = p_instalment.order_id;
    if v_attempt > 50 then
        perform private.refuse(
            429, 'too_many_attempts', 'this order has been tried too often: ask us for help'
        );
    end if;
    insert into public.payments (
        order_id, customer_id, provider, msisdn, amount, currency, attempt, instalment_id
    )
    values (
        p_instalment.order_id, p_instalment.customer_id, v_plan.provider, v_phone,
        p_instalment.amount, 'TZS', v_attempt, p_instalment.id
    )
    returning id into v_id;
    insert into private.payment_references (payment_id, provider) values (v_id, v_plan.provider);
    -- until its push is requested the attempt holds nothing; claim_payment_push then gives it
    -- the payment window, and expiry ends it (only the attempt: private.close_unpaid)
    update public.orders
    set expires_at = now() + make_interval(secs => private.setting_int('payments.unpushed_hold_seconds'))
    where id = p_instalment.order_id;
    return v_id;
end;
$$;

comment on function private.new_instalment_payment(public.instalments) is
'A new pending payment for an instalment (the plan''s provider, the profile''s phone, the '
'next attempt number of the order), with its provider reference; the order''s expires_at '
'becomes the unpushed hold, then the payment window once the push is claimed. 422 '
'phone_missing, 429 too_many_attempts. The caller holds the order''s locks.';

create function public.pay_next_instalment(p_plan_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_customer uuid := (select auth.uid());
    v_plan public.bnpl_orders%rowtype;
    v_next public.instalments%rowtype;
    v_open uuid;
begin
    if v_customer is null then
        perform private.refuse(401, 'sign_in_required', 'sign in to pay an instalment');
    end if;
    select b.* into v_plan from public.bnpl_orders as b where b.id = p_plan_id and b.customer_id = v_customer;
    if v_plan.id is null then
        perform private.refuse(404, 'plan_not_found', 'no such instalment plan');
    end if;
    perform private.lock_order_payments(v_plan.order_id);  -- THE LOCK ORDER
    select b.* into v_plan from public.bnpl_orders as b where b.id = p_plan_id;
    if v_plan.status <> 'active' then
        perform private.refuse(
            409, 'plan_not_active',
            case v_plan.status
                when 'pending' then 'the first instalment is still being paid'
                when 'completed' then 'this plan is paid in full'
                else 'this plan was cancelled'
            end,
            jsonb_build_object('status', v_plan.status)
        );
    end if;
    -- a payment already open for the order: that one (never two prompts at once)
    select p.id into v_open
    from public.payments as p
    where p.order_id = v_plan.order_id and p.status in ('pending', 'initiated', 'ambiguous');
    if v_open is not null then
        return private.instalment_payment_info(v_open, true);
    end if;
    select i.* into v_next
    from public.instalments as i
    where i.plan_id = p_plan_id and i.status = 'scheduled'
    order by i.number
    limit 1;
    -- (two statements: the stable reader sees the payment only after the insert's statement)
    v_open := private.new_instalment_payment(v_next);
    return private.instalment_payment_info(v_open, false);
end;
$$;

comment on function public.pay_next_instalment(uuid) is
'The signed-in customer pays the next instalment of their active plan now (early, or again '
'after a failed push): a pending payment of it, or the payment already open for the order '
'(replayed = true); the Edge Function instalment-push claims and sends its prompt. 401 '
'sign_in_required, 404 plan_not_found (not yours), 409 plan_not_active (pending, completed, '
'cancelled), 422 phone_missing, 429 too_many_attempts.';

-- ---------------------------------------------------------------------------------------
-- The scheduled job (service role: the Edge Function instalment-push, from Supabase Cron)
-- ---------------------------------------------------------------------------------------

create function public.run_instalment_schedule(p_limit integer default 100)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_limit integer := least(greatest(coalesce(p_limit, 100), 1), 500);
    v_grace interval := make_interval(days => private.setting_int('instalments.grace_days')::integer);
    v_retry interval := make_interval(hours => private.setting_int('instalments.retry_hours')::integer);
    v_ahead interval := make_interval(hours => private.setting_int('instalments.reminder_hours')::integer);
    v_pushes bigint := private.setting_int('instalments.max_auto_pushes');
    v_reminders jsonb;
    v_plan record;
    v_instalment public.instalments%rowtype;
    v_locked public.bnpl_orders%rowtype;
    v_new uuid;
    v_due jsonb := '[]'::jsonb;
    v_cancelled integer := 0;
    v_busy integer := 0;
begin
    -- 1. reminders: instalments falling due within reminder_hours, once each
    with marked as (
        update public.instalments as i
        set reminded_at = now()
        where i.id in (
            select x.id
            from public.instalments as x
            inner join public.bnpl_orders as b on x.plan_id = b.id
            where x.status = 'scheduled' and b.status = 'active' and x.reminded_at is null
                and x.due_at > now() and x.due_at <= now() + v_ahead
            order by x.due_at
            limit v_limit
            for update of x skip locked
        )
        returning i.*
    )
    select coalesce(jsonb_agg(jsonb_build_object(
        'user_id', m.customer_id,
        'type', 'instalment_due_soon',
        'params', jsonb_build_object(
            'number', m.number, 'count', b.instalment_count, 'amount', m.amount,
            'due_on', to_char(m.due_at at time zone 'Africa/Dar_es_Salaam', 'YYYY-MM-DD')
        ),
        'data', jsonb_build_object('order_id', m.order_id, 'plan_id', m.plan_id, 'instalment', m.number)
    )), '[]'::jsonb)
    into v_reminders
    from marked as m
    inner join public.bnpl_orders as b on m.plan_id = b.id;
    perform private.notify_all(v_reminders);

    -- 2. plans with an instalment unpaid past the grace period (and no payment in flight)
    for v_plan in
        select b.id, b.order_id
        from public.bnpl_orders as b
        where b.status = 'active'
            and exists (
                select 1 from public.instalments as i
                where i.plan_id = b.id and i.status = 'scheduled' and i.due_at + v_grace < now()
            )
            and not exists (
                select 1 from public.payments as p
                where p.order_id = b.order_id and p.status in ('pending', 'initiated', 'ambiguous')
            )
        order by b.created_at
        limit v_limit
    loop
        begin
            perform private.lock_order_payments(v_plan.order_id, true);
            select b.* into v_locked from public.bnpl_orders as b where b.id = v_plan.id;
            if v_locked.status = 'active'
                and exists (
                    select 1 from public.instalments as i
                    where i.plan_id = v_plan.id and i.status = 'scheduled' and i.due_at + v_grace < now()
                )
                and not exists (
                    select 1 from public.payments as p
                    where p.order_id = v_plan.order_id and p.status in ('pending', 'initiated', 'ambiguous')
                ) then
                perform private.cancel_plan(v_plan.id, 'an instalment was not paid within the grace period');
                v_cancelled := v_cancelled + 1;
            end if;
        exception when lock_not_available then
            v_busy := v_busy + 1;
        end;
    end loop;

    -- 3. payments of instalments made earlier whose push was never requested (a run that ran
    -- out of time) are pushed now; then the next instalment of each plan, due (and within
    -- its grace period), with no payment in flight: a payment for the Edge Function to push,
    -- unless the job already pushed it max_auto_pushes times or its last attempt ended less
    -- than retry_hours ago
    select coalesce(jsonb_agg(private.instalment_payment_info(x.id, true)), '[]'::jsonb)
    into v_due
    from (
        select p.id
        from public.payments as p
        inner join public.instalments as i on p.instalment_id = i.id
        inner join public.bnpl_orders as b on i.plan_id = b.id
        where p.status = 'pending' and p.push_requested_at is null and b.status = 'active'
        order by p.created_at
        limit v_limit
    ) as x;
    for v_instalment in
        select i.*
        from public.instalments as i
        inner join public.bnpl_orders as b on i.plan_id = b.id
        where i.status = 'scheduled' and b.status = 'active'
            and i.due_at <= now() and i.due_at + v_grace >= now()
            and i.number = (
                select min(n.number) from public.instalments as n
                where n.plan_id = i.plan_id and n.status = 'scheduled'
            )
            and not exists (
                select 1 from public.payments as p
                where p.order_id = i.order_id and p.status in ('pending', 'initiated', 'ambiguous')
            )
            and (select count(*) from public.payments as p where p.instalment_id = i.id) < v_pushes
            and coalesce((
                select max(coalesce(p.completed_at, p.created_at)) from public.payments as p
                where p.instalment_id = i.id
            ), '-infinity'::timestamptz) < now() - v_retry
        order by i.due_at
        limit v_limit
    loop
        begin
            perform private.lock_order_payments(v_instalment.order_id, true);
            if exists (
                select 1
                from public.instalments as i
                inner join public.bnpl_orders as b on i.plan_id = b.id
                where i.id = v_instalment.id and i.status = 'scheduled' and b.status = 'active'
            ) and not exists (
                select 1 from public.payments as p
                where p.order_id = v_instalment.order_id and p.status in ('pending', 'initiated', 'ambiguous')
            ) and exists (
                select 1 from public.profiles as pr where pr.id = v_instalment.customer_id and pr.phone is not null
            ) then
                v_new := private.new_instalment_payment(v_instalment);
                v_due := v_due || jsonb_build_array(private.instalment_payment_info(v_new, false));
            end if;
        exception when lock_not_available then
            v_busy := v_busy + 1;
        end;
    end loop;

    return jsonb_build_object(
        'reminded', jsonb_array_length(v_reminders),
        'cancelled', v_cancelled,
        'busy', v_busy,
        'due', v_due
    );
end;
$$;

comment on function public.run_instalment_schedule(integer) is
'The instalment job (service role; the Edge Function instalment-push calls it, then pushes '
'each payment in due): reminds customers of instalments falling due within '
'instalments.reminder_hours (once each), cancels plans with an instalment unpaid '
'instalments.grace_days after it fell due (private.cancel_plan: paid instalments refunded in '
'full, stock released), and makes a payment for each plan''s next instalment that is due '
'(again after instalments.retry_hours, at most instalments.max_auto_pushes times). At most '
'p_limit (1-500) of each; rows someone else holds are skipped (busy) for the next run. '
'Returns {reminded, cancelled, busy, due: [payments to push]}.';

-- ---------------------------------------------------------------------------------------
-- Audit: every change of an instalment (the plan's status is audited in
-- 20261127000900_notifications_and_audit.sql)
-- ---------------------------------------------------------------------------------------

create trigger instalments_audit
after insert or update of status, payment_id, due_at on public.instalments
for each row execute function private.audit_changes(
    'status', 'number', 'amount', 'due_at', 'payment_id'
);

-- ---------------------------------------------------------------------------------------
-- Privileges: customers pay their next instalment; the job is the service role's
-- ---------------------------------------------------------------------------------------

revoke all on function
public.pay_next_instalment(uuid),
public.run_instalment_schedule(integer)
from public, anon, authenticated, service_role;
grant execute on function public.pay_next_instalment(uuid) to authenticated;
grant execute on function public.run_instalment_schedule(integer) to service_role;

revoke execute on all functions in schema private from public;
