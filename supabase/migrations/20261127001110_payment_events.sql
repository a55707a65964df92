-- WATS payments, part 3: the push and the provider's outcomes. Each step is one SQL
-- function called through the Data API with the service role by an Edge Function
-- (checkout-initiate, payment-webhook, payment-reconcile):
--
--   claim_payment_push         at most one push prompt per payment; hands out the reference
--   record_payment_initiation  what the provider said to the push
--   record_webhook_event       store a provider callback (raw bytes) before anything else
--   apply_payment_event        a provider outcome (callback, status query, push reply)
--   finish_webhook_event       annotate the stored callback
--   payment_reference          admins: the reference a provider knows a payment by
--
-- Every function locks in THE LOCK ORDER (20261127001100_checkout.sql) through
-- private.lock_payment(). Payment status changes are audited by the payments_audit
-- trigger; these functions pass the context the trigger cannot see (the provider event or
-- push answer behind a change) in the transaction-local setting wats.audit_context, which
-- private.write_audit adds.

-- ---------------------------------------------------------------------------------------
-- Closing a payment
-- ---------------------------------------------------------------------------------------

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
    if private.is_plan_under_way(v_order.id) then
        -- a later instalment of a plan under way: only this attempt ended; the order, its
        -- stock and its plan wait for another attempt until the grace period ends
        perform private.instalment_attempt_failed(p_payment_id, p_reason);
        return;
    end if;
    if v_order.status = 'pending_payment' then
        -- an instalment plan whose first instalment was not paid never starts
        perform private.drop_unstarted_plan(v_order.id);
        update public.orders
        set status = v_order_status,
            cancel_reason = case when v_order_status = 'cancelled' then 'payment failed' end
        where id = v_order.id;
        perform private.move_order_stock(v_order.id, false, true);
        perform private.release_points(v_order.id);
        perform private.restore_cart(v_order.id);
        perform private.notify(
            v_order.customer_id,
            case when v_order_status = 'expired' then 'order_expired' else 'payment_failed' end,
            '{}'::jsonb,
            jsonb_build_object('order_id', v_order.id, 'payment_id', p_payment_id, 'reason', p_reason)
        );
    end if;
end;
$$;

comment on function private.close_unpaid(uuid, text, text, text) is
'A payment ends without money (failed or expired): its order is cancelled or expired (and an '
'instalment plan whose first instalment it was, cancelled), the reserved stock and any points '
'held for it released, the items put back in the cart and the customer told. A later '
'instalment of a plan under way ends alone: the plan waits for another attempt '
'(private.instalment_attempt_failed).';

create function private.honour_payment(p_payment_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
    v_amount bigint;
begin
    select p.amount into v_amount from public.payments as p where p.id = p_payment_id;
    select o.* into v_order
    from public.orders as o
    where o.id = (select p.order_id from public.payments as p where p.id = p_payment_id);
    update public.orders set status = 'paid' where id = v_order.id;
    if exists (select 1 from public.bnpl_orders as b where b.order_id = v_order.id) then
        -- the last instalment of a plan: the plan's money (every instalment) buys the order
        v_amount := v_order.total;
        perform private.post_order_sale(v_order.id);
    else
        perform private.post_sale(p_payment_id);
    end if;
    perform private.settle_points(v_order.id);
    perform private.create_shipments(v_order.id);
    -- the customer, and each vendor with lines in the order, in one statement
    perform private.notify_all(
        jsonb_build_array(jsonb_build_object(
            'user_id', v_order.customer_id,
            'type', 'order_paid',
            'params', jsonb_build_object('amount', v_amount),
            'data', jsonb_build_object('order_id', v_order.id, 'payment_id', p_payment_id)
        ))
        || coalesce((
            select jsonb_agg(jsonb_build_object(
                'user_id', v.owner_id,
                'type', 'new_order',
                'params', jsonb_build_object('items', x.items, 'amount', x.amount),
                'data', jsonb_build_object('order_id', v_order.id, 'vendor_id', v.id)
            ))
            from (
                select oi.vendor_id, sum(oi.quantity) as items, sum(oi.line_total) as amount
                from public.order_items as oi
                where oi.order_id = v_order.id
                group by oi.vendor_id
            ) as x
            inner join public.vendors as v on x.vendor_id = v.id
        ), '[]'::jsonb)
    );
end;
$$;

comment on function private.honour_payment(uuid) is
'The order of succeeded payment p_payment_id is honoured (its stock already committed): order '
'paid, the sale posted to the ledger (vendors, commission, shipping; for an instalment plan '
'once, for the plan''s total, when its last instalment is paid), loyalty points earned and '
'redeemed ones spent, parcels created, the customer and each vendor told.';

create function private.settle_paid(p_payment public.payments, p_txn_id text)
returns text
language plpgsql
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
begin
    if p_payment.instalment_id is not null then
        -- an instalment: the plan decides (20261127001160_instalments.sql)
        return private.settle_instalment(p_payment, p_txn_id);
    end if;
    select * into v_order from public.orders where id = p_payment.order_id;
    if p_payment.status <> 'expired' then
        perform private.move_order_stock(v_order.id, true, true);
    elsif not private.take_stock_again(v_order.id) then
        update public.payments
        set status = 'succeeded', provider_txn_id = coalesce(p_txn_id, provider_txn_id),
            needs_review = true, review_reason = 'success_after_expiry_no_stock'
        where id = p_payment.id;
        perform private.notify(
            v_order.customer_id,
            'payment_review',
            jsonb_build_object('amount', p_payment.amount),
            jsonb_build_object('order_id', v_order.id, 'payment_id', p_payment.id)
        );
        return 'review';
    end if;
    update public.payments
    set status = 'succeeded', provider_txn_id = coalesce(p_txn_id, provider_txn_id)
    where id = p_payment.id;
    perform private.honour_payment(p_payment.id);
    return 'applied';
end;
$$;

comment on function private.settle_paid(public.payments, text) is
'A payment (the locked row) succeeded: stock committed and the order honoured '
'(private.honour_payment). Money after expiry takes the stock again if it is still there, '
'else the payment is flagged for review and refund (success_after_expiry_no_stock). An '
'instalment''s payment goes to its plan (private.settle_instalment).';

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
    -- a callback was stored by record_webhook_event; any other event is stored at the end
    v_event_id uuid := coalesce(p_webhook_event_id, gen_random_uuid());
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
    v_payment := private.lock_payment((
        select r.payment_id from private.payment_references as r
        where r.reference = p_provider_ref and r.provider = p_provider
    ));
    if v_payment.id is null then
        insert into private.payment_events as e (
            id, provider, source, provider_ref, outcome, status, error, processed_at
        )
        values (
            v_event_id, p_provider, p_source, p_provider_ref, 'unknown', 'ignored', 'no such payment', now()
        )
        on conflict (id) do update
        set provider_ref = excluded.provider_ref, outcome = excluded.outcome,
            status = excluded.status, error = excluded.error, processed_at = excluded.processed_at;
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
            v_result := private.settle_paid(v_payment, p_provider_txn_id);
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

    insert into private.payment_events as e (
        id, provider, source, payment_id, provider_ref, provider_txn_id, outcome, amount,
        currency, msisdn, authenticated, dedupe_key, status, error, processed_at
    )
    values (
        v_event_id,
        p_provider,
        p_source,
        v_payment.id,
        p_provider_ref,
        left(p_provider_txn_id, 128),
        case when v_outcome in ('succeeded', 'failed') then v_outcome else 'pending' end,
        p_amount,
        p_currency,
        p_msisdn,
        case when p_source = 'callback' then true end,
        case when v_result in ('applied', 'review') and v_outcome in ('succeeded', 'failed') then v_key end,
        case when v_result = 'review' then 'applied' else v_result end,
        case when v_result = 'review' then v_review end,
        now()
    )
    on conflict (id) do update
    set payment_id = excluded.payment_id,
        provider_ref = excluded.provider_ref,
        provider_txn_id = excluded.provider_txn_id,
        outcome = excluded.outcome,
        amount = excluded.amount,
        currency = excluded.currency,
        msisdn = excluded.msisdn,
        authenticated = coalesce(excluded.authenticated, e.authenticated),
        dedupe_key = excluded.dedupe_key,
        status = excluded.status,
        error = coalesce(excluded.error, e.error),
        processed_at = excluded.processed_at;
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
-- Looking a reference up
-- ---------------------------------------------------------------------------------------

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

create function public.payment_by_reference(p_reference text)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if not (select private.is_admin()) then
        raise exception 'only admins may look payments up by reference' using errcode = '42501';
    end if;
    return (
        select r.payment_id from private.payment_references as r
        where r.reference = btrim(p_reference)
    );
end;
$$;

comment on function public.payment_by_reference(text) is
'The payment a provider''s reference belongs to (what a customer or the provider quotes to '
'support), or null. Admins only, like payment_reference.';

-- ---------------------------------------------------------------------------------------
-- Privileges: the service role drives payments; admins look references up
-- ---------------------------------------------------------------------------------------

revoke all on function
public.claim_payment_push(uuid),
public.record_payment_initiation(uuid, text, text, text, jsonb),
public.record_webhook_event(text, jsonb, bytea, text, text),
public.finish_webhook_event(uuid, boolean, text),
public.apply_payment_event(text, text, text, bigint, text, text, text, text, text, uuid, text[])
from public, anon, authenticated;

grant execute on function
public.claim_payment_push(uuid),
public.record_payment_initiation(uuid, text, text, text, jsonb),
public.record_webhook_event(text, jsonb, bytea, text, text),
public.finish_webhook_event(uuid, boolean, text),
public.apply_payment_event(text, text, text, bigint, text, text, text, text, text, uuid, text[])
to service_role;

revoke all on function public.payment_reference(uuid)
from public, anon, authenticated, service_role;
grant execute on function public.payment_reference(uuid) to authenticated;
revoke all on function public.payment_by_reference(text)
from public, anon, authenticated, service_role;
grant execute on function public.payment_by_reference(text) to authenticated;

revoke execute on all functions in schema private from public;
