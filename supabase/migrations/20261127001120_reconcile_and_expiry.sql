-- WATS payments, part 4: reconciliation, expiry and the money invariants. The scheduled
-- job payment-reconcile (20261127001200_payment_schedules.sql) asks providers about
-- payments nobody told us about and expires what stays unpaid; both run with the service
-- role. Locks: THE LOCK ORDER (20261127001100_checkout.sql), with NOWAIT in the expiry batch.
--
--   payments_to_reconcile      open payments to ask the providers about
--   fail_unsent_push           a claimed push that never reached the provider
--   expire_overdue_payments    expire what stays unpaid (also pg_cron)

-- ---------------------------------------------------------------------------------------
-- Reconciliation
-- ---------------------------------------------------------------------------------------

create function public.payments_to_reconcile(
    p_min_age_seconds integer default 60, p_limit integer default 100
)
returns table (
    payment_id uuid,
    provider public.payment_provider,
    provider_ref text,
    status public.payment_status,
    push_recorded boolean
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

-- ---------------------------------------------------------------------------------------
-- Expiry
-- ---------------------------------------------------------------------------------------

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
    -- (an instalment plan's order: below, its plan completed)
    select 'paid order has one succeeded payment of its total', o.id,
        format('%s succeeded payments', count(p.id))
    from public.orders as o
    left join public.payments as p
        on o.id = p.order_id and p.status in ('succeeded', 'refunded', 'partially_refunded')
        and p.amount = o.total
    where o.status in ('paid', 'processing', 'partially_shipped', 'shipped', 'delivered',
        'completed', 'return_requested', 'returned')
        and not exists (select 1 from public.bnpl_orders as b where b.order_id = o.id)
    group by o.id
    having count(p.id) <> 1
    union all
    -- money received for an order that is not paid waits for a review or goes back whole
    -- (or pays an instalment of a plan under way)
    select 'succeeded payment of an unpaid order is in review or refunded', p.id, o.status
    from public.payments as p
    inner join public.orders as o on p.order_id = o.id
    where p.status in ('succeeded', 'partially_refunded') and not p.needs_review
        and o.status in ('pending_payment', 'cancelled', 'expired')
        and (select coalesce(sum(r.amount), 0) from public.refunds as r where r.payment_id = p.id) < p.amount
        and not (
            o.status = 'pending_payment'
            and exists (select 1 from public.instalments as i where i.payment_id = p.id)
        )
    union all
    -- an order awaiting payment has an open payment (between two instalments of a plan: none,
    -- or paid and failed ones), and no other state does
    select 'open payment belongs to an order awaiting payment', p.id, o.status
    from public.payments as p
    inner join public.orders as o on p.order_id = o.id
    where (p.status in ('pending', 'initiated', 'ambiguous')) <> (o.status = 'pending_payment')
        and not p.needs_review
        and not (
            o.status = 'pending_payment'
            and exists (select 1 from public.bnpl_orders as b where b.order_id = o.id and b.status = 'active')
        )
    union all
    -- instalment plans: the schedule adds up to the plan's total, which is its order's
    select 'instalments add up to their plan''s total', b.id,
        format('total %s, order %s, %s instalments of %s', b.total, o.total, count(i.id), sum(i.amount))
    from public.bnpl_orders as b
    inner join public.orders as o on b.order_id = o.id
    left join public.instalments as i on b.id = i.plan_id
    group by b.id, b.total, b.instalment_count, o.total
    having b.total <> o.total or count(i.id) <> b.instalment_count
        or coalesce(sum(i.amount), 0) <> b.total or min(i.number) <> 1 or max(i.number) <> b.instalment_count
    union all
    -- a plan's paid instalments are exactly its succeeded payments: each paid instalment by
    -- one succeeded payment of its amount, and every other succeeded instalment payment (a
    -- second one, one after the plan was cancelled) is a review case
    select 'a paid instalment has one succeeded payment of its amount', i.id,
        format('payment %s %s of %s', p.id, p.status, p.amount)
    from public.instalments as i
    left join public.payments as p on i.payment_id = p.id
    where i.status = 'paid' and (
        p.id is null or p.instalment_id is distinct from i.id or p.amount <> i.amount
        or p.status not in ('succeeded', 'partially_refunded', 'refunded')
    )
    union all
    select 'a succeeded instalment payment paid its instalment or is reviewed', p.id, p.status
    from public.payments as p
    where p.instalment_id is not null and p.status in ('succeeded', 'partially_refunded', 'refunded')
        and p.review_reason is null
        and not exists (select 1 from public.instalments as i where i.payment_id = p.id)
    union all
    -- the plan and its order move together; a completed plan's payments are its total
    select 'a plan is in step with its order', b.id, format('plan %s, order %s', b.status, o.status)
    from public.bnpl_orders as b
    inner join public.orders as o on b.order_id = o.id
    where case b.status
        when 'pending' then o.status <> 'pending_payment'
            or exists (select 1 from public.instalments as i where i.plan_id = b.id and i.status <> 'scheduled')
        when 'active' then o.status <> 'pending_payment'
            or not exists (select 1 from public.instalments as i where i.plan_id = b.id and i.status = 'paid')
            or exists (select 1 from public.instalments as i where i.plan_id = b.id and i.status = 'cancelled')
        when 'completed' then o.paid_at is null or o.status in ('pending_payment', 'expired')
            or (
                select coalesce(sum(pp.amount), 0)
                from public.instalments as i
                inner join public.payments as pp on i.payment_id = pp.id
                where i.plan_id = b.id and i.status = 'paid'
            ) <> b.total
        else o.status not in ('cancelled', 'expired')
            or exists (select 1 from public.instalments as i where i.plan_id = b.id and i.status = 'scheduled')
    end
    union all
    -- a cancelled plan gives back every instalment paid, in full
    select 'a cancelled plan refunds its paid instalments in full', i.id,
        format('paid %s, refunds granted %s', p.amount, coalesce(r.granted, 0))
    from public.bnpl_orders as b
    inner join public.instalments as i on b.id = i.plan_id and i.status = 'paid'
    inner join public.payments as p on i.payment_id = p.id
    left join (
        select x.payment_id, sum(x.amount) as granted from public.refunds as x group by x.payment_id
    ) as r on p.id = r.payment_id
    where b.status = 'cancelled' and coalesce(r.granted, 0) <> p.amount
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
    -- refunds: what went back is what the payment says went back, never more than was paid
    select 'refunded_amount is the sum of succeeded refunds', p.id,
        format('refunded_amount %s, refunds %s', p.refunded_amount, coalesce(r.back, 0))
    from public.payments as p
    left join (
        select x.payment_id, sum(x.amount) filter (where x.status in ('succeeded', 'manual')) as back
        from public.refunds as x
        group by x.payment_id
    ) as r on p.id = r.payment_id
    where p.refunded_amount <> coalesce(r.back, 0)
    union all
    select 'refunds never exceed the payment', p.id,
        format('paid %s, refunds granted %s', p.amount, sum(r.amount))
    from public.payments as p
    inner join public.refunds as r on p.id = r.payment_id
    group by p.id, p.amount
    having sum(r.amount) > p.amount
    union all
    -- every unit is accounted for: stocked in by hand, less what was sold, plus what came
    -- back to the shelf (cancellations after payment, parcels back undelivered, returns)
    select 'stock is accounted for', i.id,
        format(
            'on_hand %s, stocked %s, sold %s, back %s',
            i.on_hand, i.stocked_total, coalesce(m.sold, 0), coalesce(m.back, 0)
        )
    from public.inventory as i
    left join (
        select
            oi.product_id,
            oi.center_id,
            sum(oi.quantity) filter (where o.paid_at is not null) as sold,
            -- (a cancelled order whose parcels came back counts them once, as parcels)
            coalesce(sum(oi.quantity) filter (
                where o.paid_at is not null and o.status = 'cancelled' and not exists (
                    select 1 from public.shipments as rs
                    where rs.order_id = o.id and rs.status = 'returned'
                )
            ), 0)
            + coalesce(sum((
                select sum(sl.quantity) from public.shipment_lines as sl
                inner join public.shipments as s on sl.shipment_id = s.id
                where sl.order_item_id = oi.id and s.status = 'returned'
            )), 0)
            + coalesce(sum((
                select sum(rt.restocked_quantity) from public.returns as rt where rt.order_item_id = oi.id
            )), 0) as back
        from public.order_items as oi
        inner join public.orders as o on oi.order_id = o.id
        group by oi.product_id, oi.center_id
    ) as m on i.product_id = m.product_id and i.center_id = m.center_id
    where i.on_hand <> i.stocked_total - coalesce(m.sold, 0) + coalesce(m.back, 0)
    union all
    -- every refund state a refund is in was written to the audit log
    select 'refund status change is audited', r.id, r.status
    from public.refunds as r
    where not exists (
        select 1
        from public.audit_logs as a
        where a.entity_type = 'refunds' and a.entity_id = r.id and a.after ->> 'status' = r.status
    )
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
'succeeded payment of their total; money for unpaid orders is in review (or pays an '
'instalment of a plan under way); open payments belong to orders awaiting payment; an '
'instalment plan''s schedule adds up to its total, its paid instalments are exactly its '
'succeeded payments (others are in review), it moves with its order (a completed plan''s '
'payments are its total) and a cancelled one refunds every paid instalment in full; '
'reserved stock equals what pending orders hold; stock is '
'never negative; every payment has its provider reference; payments.refunded_amount is the '
'sum of its succeeded refunds and all refunds together never exceed the payment; every unit '
'of stock is accounted for (stocked in - sold + back on the shelf = on hand); every payment '
'and refund status is in the audit log. Internal (tests, operations).';

-- ---------------------------------------------------------------------------------------
-- Privileges: the service role and the scheduler only
-- ---------------------------------------------------------------------------------------

revoke all on function
public.payments_to_reconcile(integer, integer),
public.fail_unsent_push(uuid, text),
public.expire_overdue_payments(integer)
from public, anon, authenticated;

grant execute on function
public.payments_to_reconcile(integer, integer),
public.fail_unsent_push(uuid, text),
public.expire_overdue_payments(integer)
to service_role;

revoke execute on all functions in schema private from public;
