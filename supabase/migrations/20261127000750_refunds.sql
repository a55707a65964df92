-- WATS schema, part 7b: refunds, and the review queue that decides money a person must
-- look at. A refund (Saleor's "granted refund") is money owed back to the payer of one
-- payment: granted by a cancellation, a return, a review decision or a late payment; sent
-- by the Edge Function refund-execute through the payment's provider (M-Pesa reversal,
-- Airtel refund, a B2C payout where the provider has no refund API) or paid by a person
-- (manual). Claimed once, never paid twice: the sum of every refund of a payment, in any
-- state but failed-and-abandoned, never exceeds what was paid, and
-- payments.refunded_amount is always the sum of the succeeded (and manual) ones.
--
--   grant (SQL) -> requested -> claim_refund -> processing -> record_refund_outcome ->
--   succeeded | failed (-> requested again: retry_refund) ; requested | failed -> manual
--
-- Every function locks in THE LOCK ORDER (20261127001100_checkout.sql) through
-- private.lock_payment(), then the refund row.

-- ---------------------------------------------------------------------------------------
-- Refunds
-- ---------------------------------------------------------------------------------------

create domain public.refund_status as text
constraint refund_status_known check (
    value in ('requested', 'processing', 'succeeded', 'failed', 'manual')
);

comment on domain public.refund_status is
'The states of a refund (machine refund in private.status_transitions).';

create table public.refunds (
    id uuid primary key default gen_random_uuid(),
    payment_id uuid not null references public.payments (id) on delete restrict,
    order_id uuid not null,
    customer_id uuid not null,
    provider public.payment_provider not null,
    amount bigint not null constraint refunds_amount_positive check (amount > 0),
    currency text not null default 'TZS' constraint refunds_currency_tzs check (currency = 'TZS'),
    source text not null constraint refunds_source_allowed check (
        source in ('cancellation', 'return', 'review', 'late_payment')
    ),
    reason text constraint refunds_reason_length check (char_length(reason) <= 500),
    return_id uuid references public.returns (id) on delete restrict,
    granted_by uuid references public.profiles (id) on delete set null,
    idempotency_key public.idempotency_key,
    status public.refund_status not null default 'requested',
    method text constraint refunds_method_allowed check (
        method in ('reversal', 'refund', 'payout', 'manual')
    ),
    reference text not null unique
    default 'WR' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 18))
    constraint refunds_reference_format check (reference ~ '^[A-Za-z0-9]{4,20}$'),
    provider_refund_id text constraint refunds_provider_refund_id_length check (
        char_length(provider_refund_id) <= 128
    ),
    manual_reference text constraint refunds_manual_reference_length check (
        char_length(manual_reference) <= 128
    ),
    failure_reason text constraint refunds_failure_reason_length check (
        char_length(failure_reason) <= 500
    ),
    attempts integer not null default 0 constraint refunds_attempts_non_negative check (
        attempts >= 0
    ),
    claimed_at timestamptz,
    last_checked_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint refunds_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete restrict,
    constraint refunds_payment_idempotency_key_key unique (payment_id, idempotency_key),
    constraint refunds_manual_has_reference check (
        status <> 'manual' or manual_reference is not null
    )
);

comment on table public.refunds is
'Money owed back to the payer of one payment. Granted by SQL functions (cancellation, '
'return, review, late payment); sent by the Edge Function refund-execute through the '
'provider, or recorded as paid by hand (manual). The customer and admins read it; nobody '
'writes it directly. Machine refund; every status change is audited.';
comment on column public.refunds.source is
'Why the money goes back: cancellation (of the order, or a parcel that could not be '
'delivered), return, review (a person decided) or late_payment (money after the order ended).';
comment on column public.refunds.reference is
'Our unique reference of the refund towards the provider (M-Pesa third-party conversation '
'id, ClickPesa order reference ...): a retried send is a duplicate the provider refuses.';
comment on column public.refunds.method is
'How it was sent: reversal (M-Pesa), refund (Airtel), payout (B2C to the payer''s wallet) '
'or manual.';
comment on column public.refunds.status is
'requested -> processing (claimed once by refund-execute) -> succeeded | failed; failed -> '
'requested (retry_refund); requested | failed -> manual (paid by a person, with '
'manual_reference).';
comment on column public.refunds.idempotency_key is
'The granter''s key: the same key for the same payment gives the same refund back.';

create index refunds_payment_id_idx on public.refunds (payment_id);
create index refunds_customer_id_order_id_idx on public.refunds (customer_id, order_id);
create index refunds_return_id_idx on public.refunds (return_id);
create index refunds_granted_by_idx on public.refunds (granted_by);
create index refunds_open_idx on public.refunds (created_at)
where status in ('requested', 'processing');

create trigger refunds_status_transition
before update of status on public.refunds
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'refund',
    'processing:claimed_at',
    'succeeded:completed_at',
    'failed:completed_at',
    'manual:completed_at'
);

create trigger refunds_touch_updated_at
before update on public.refunds
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Granting
-- ---------------------------------------------------------------------------------------

create function private.refund_commitments(p_payment_id uuid)
returns bigint
language plpgsql
stable
set search_path = ''
as $$
begin
    -- every refund ever granted counts: a failed one may still be retried or paid by hand
    return (
        select coalesce(sum(r.amount), 0)::bigint from public.refunds as r where r.payment_id = p_payment_id
    );
end;
$$;

comment on function private.refund_commitments(uuid) is
'Whole TZS already promised back from payment p_payment_id: the sum of all its refunds, '
'whatever their state. A new refund may take at most the amount paid minus this.';

create function private.record_refund_grant(
    p_payment public.payments,
    p_amount bigint,
    p_source text,
    p_reason text,
    p_return_id uuid,
    p_idempotency_key text,
    p_allocation jsonb
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    v_id uuid;
begin
    insert into public.refunds (
        payment_id, order_id, customer_id, provider, amount, source, reason, return_id,
        granted_by, idempotency_key
    )
    values (
        p_payment.id, p_payment.order_id, p_payment.customer_id, p_payment.provider, p_amount,
        p_source, left(p_reason, 500), p_return_id, (select auth.uid()), p_idempotency_key
    )
    returning id into v_id;
    perform private.post_refund_grant(v_id, p_allocation);
    return v_id;
end;
$$;

comment on function private.record_refund_grant(
    public.payments, bigint, text, text, uuid, text, jsonb
) is
'Writes one granted refund of p_amount from payment p_payment (checked and locked by the '
'caller) and posts its ledger legs p_allocation (private.refund_allocation, or its share of '
'one: private.split_refund_allocation). Returns the refund id.';

create function private.grant_refund(
    p_payment_id uuid,
    p_amount bigint,
    p_source text,
    p_reason text,
    p_return_id uuid,
    p_idempotency_key text,
    p_items jsonb default null,
    p_shipping bigint default 0
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
    v_existing public.refunds%rowtype;
    v_left bigint;
    v_allocation jsonb;
    v_amount bigint;
    v_id uuid;
begin
    v_payment := private.lock_payment(p_payment_id);  -- THE LOCK ORDER (held already by most callers)
    if v_payment.id is null then
        perform private.refuse(404, 'payment_not_found', 'no such payment');
    end if;
    if p_idempotency_key is not null then
        select * into v_existing
        from public.refunds as r
        where r.payment_id = p_payment_id and r.idempotency_key = p_idempotency_key;
        if found then
            if v_existing.amount <> p_amount or v_existing.source <> p_source then
                perform private.refuse(
                    422, 'idempotency_key_reused', 'this key was already used for a different refund'
                );
            end if;
            return v_existing.id;
        end if;
    end if;
    if v_payment.status not in ('succeeded', 'partially_refunded') then
        perform private.refuse(
            409, 'payment_not_refundable', format('a %s payment has no money to give back', v_payment.status)
        );
    end if;
    v_left := v_payment.amount - private.refund_commitments(p_payment_id);
    if p_items is null and (p_amount is null or p_amount <= 0 or p_amount > v_left) then
        perform private.refuse(
            409,
            'refund_exceeds_payment',
            format('at most %s TZS of this payment can still be refunded', greatest(v_left, 0)),
            jsonb_build_object('refundable', greatest(v_left, 0), 'requested', p_amount)
        );
    end if;
    -- who gives back what (20261127001130_ledger.sql); for named lines, that decides the amount
    v_allocation := private.refund_allocation(p_payment_id, p_amount, p_items, p_shipping);
    v_amount := (v_allocation ->> 'amount')::bigint;
    if v_amount is null or v_amount <= 0 or v_amount > v_left then
        perform private.refuse(
            409,
            'refund_exceeds_payment',
            format('at most %s TZS of this payment can still be refunded', greatest(v_left, 0)),
            jsonb_build_object('refundable', greatest(v_left, 0), 'requested', v_amount)
        );
    end if;
    v_id := private.record_refund_grant(
        v_payment, v_amount, p_source, p_reason, p_return_id, p_idempotency_key, v_allocation
    );
    perform private.notify(
        v_payment.customer_id,
        'refund_requested',
        jsonb_build_object('amount', v_amount),
        jsonb_build_object('order_id', v_payment.order_id, 'payment_id', v_payment.id, 'refund_id', v_id)
    );
    return v_id;
end;
$$;

comment on function private.grant_refund(uuid, bigint, text, text, uuid, text, jsonb, bigint) is
'Grants a refund from payment p_payment_id (locked in THE LOCK ORDER): of p_amount, or of '
'named lines p_items [{order_item_id, quantity}] at their price plus p_shipping less their '
'share of a loyalty discount; at most what was paid less every refund already granted (409 '
'refund_exceeds_payment), only from a succeeded or partly refunded payment (409 '
'payment_not_refundable). The same p_idempotency_key for the payment returns the same refund '
'(422 when the request differs). Posts who gives back what to the ledger; the customer is '
'told. refund-execute sends it.';

create function public.refund_payment(
    p_payment_id uuid,
    p_amount bigint,
    p_reason text,
    p_idempotency_key text,
    p_source text default 'review'
)
returns public.refunds
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_refund public.refunds%rowtype;
    v_id uuid;
begin
    if not private.is_admin() then
        raise exception 'only an admin grants refunds' using errcode = '42501';
    end if;
    if not private.is_idempotency_key(p_idempotency_key) then
        perform private.refuse(
            400, 'idempotency_key_invalid', 'the idempotency key must be 8-255 printable characters'
        );
    end if;
    if p_source is null or p_source not in ('cancellation', 'return', 'review', 'late_payment') then
        perform private.refuse(422, 'unknown_source', 'source must be cancellation, return, review or late_payment');
    end if;
    v_id := private.grant_refund(p_payment_id, p_amount, p_source, p_reason, null, p_idempotency_key);
    select * into v_refund from public.refunds where id = v_id;
    return v_refund;
end;
$$;

comment on function public.refund_payment(uuid, bigint, text, text, text) is
'Admins: grant a refund of p_amount (whole TZS) from a payment, with a reason and an '
'idempotency key (two admins pressing at once with the same key get one refund; '
'different keys can never together exceed what was paid). Partial and repeated refunds are '
'allowed up to the amount paid.';

create function private.grant_order_refund(
    p_order_id uuid,
    p_amount bigint,
    p_source text,
    p_reason text,
    p_return_id uuid,
    p_items jsonb default null,
    p_shipping bigint default 0
)
returns uuid[]
language plpgsql
set search_path = ''
as $$
declare
    v_payments public.payments [];
    v_payment public.payments%rowtype;
    v_allocation jsonb;
    v_parts jsonb;
    v_left bigint;
    v_amounts bigint [] := '{}'::bigint [];
    v_payers public.payments [] := '{}'::public.payments [];
    v_rest bigint;
    v_take bigint;
    v_ids uuid [] := '{}'::uuid [];
begin
    -- the payments that paid for the order (one, or each instalment of a plan), newest first
    select coalesce(array_agg(p order by p.created_at desc, p.id), '{}'::public.payments [])
    into v_payments
    from public.payments as p
    where p.order_id = p_order_id and p.status in ('succeeded', 'partially_refunded')
        and private.payment_paid_for_order(p.id);
    if cardinality(v_payments) = 0 then
        return v_ids;
    end if;
    if cardinality(v_payments) = 1 then
        return array[private.grant_refund(
            v_payments[1].id, p_amount, p_source, p_reason, p_return_id, null, p_items, p_shipping
        )];
    end if;
    -- several payments (an instalment plan's order): what the order gives back is worked out
    -- once, then taken from the payments, newest first, each up to what is left of it
    perform private.lock_order_payments(p_order_id);  -- THE LOCK ORDER (held already by callers)
    v_allocation := private.refund_allocation(v_payments[1].id, p_amount, p_items, p_shipping);
    v_rest := (v_allocation ->> 'amount')::bigint;
    if v_rest is null or v_rest <= 0 then
        perform private.refuse(409, 'refund_exceeds_payment', 'nothing of this order is left to refund');
    end if;
    foreach v_payment in array v_payments loop
        exit when v_rest = 0;
        v_left := v_payment.amount - private.refund_commitments(v_payment.id);
        continue when v_left <= 0;
        v_take := least(v_left, v_rest);
        v_amounts := v_amounts || v_take;
        v_payers := v_payers || v_payment;
        v_rest := v_rest - v_take;
    end loop;
    if v_rest > 0 then
        perform private.refuse(
            409,
            'refund_exceeds_payment',
            'the order''s payments cannot give back that much',
            jsonb_build_object('requested', (v_allocation ->> 'amount')::bigint, 'short', v_rest)
        );
    end if;
    v_parts := private.split_refund_allocation(v_allocation, v_amounts);
    for i in 1 .. cardinality(v_payers) loop
        v_ids := v_ids || private.record_refund_grant(
            v_payers[i], v_amounts[i], p_source, p_reason, p_return_id, null, v_parts -> (i - 1)
        );
    end loop;
    perform private.notify(
        v_payers[1].customer_id,
        'refund_requested',
        jsonb_build_object('amount', (v_allocation ->> 'amount')::bigint),
        jsonb_build_object('order_id', p_order_id, 'refund_id', v_ids[1])
    );
    return v_ids;
end;
$$;

comment on function private.grant_order_refund(uuid, bigint, text, text, uuid, jsonb, bigint) is
'Grants what an order gives back (p_amount, or the named lines p_items plus p_shipping, as '
'private.grant_refund) from the payments that paid for it: one refund from its payment, or, '
'for an instalment plan''s order, one refund per payment (newest first, each up to what is '
'left of it) sharing the ledger legs of one allocation (private.split_refund_allocation). '
'409 refund_exceeds_payment beyond what was paid. Returns the refund ids (none when nothing '
'was paid). The caller holds the order''s locks.';

-- ---------------------------------------------------------------------------------------
-- Sending (refund-execute, service role)
-- ---------------------------------------------------------------------------------------

create function public.refunds_to_execute(
    p_limit integer default 50, p_stale_seconds integer default 120
)
returns table (refund_id uuid, status public.refund_status)
language plpgsql
security definer
set search_path = ''
as $$
begin
    return query
    with due as (
        select r.id
        from public.refunds as r
        where r.status = 'requested'
            or (r.status = 'processing'
                and coalesce(r.last_checked_at, r.claimed_at) < now() - make_interval(secs => p_stale_seconds))
        order by r.created_at
        limit least(greatest(p_limit, 1), 500)
        for update skip locked
    )
    update public.refunds as r
    set last_checked_at = case when r.status = 'processing' then now() else r.last_checked_at end
    from due
    where r.id = due.id
    returning r.id, r.status;
end;
$$;

comment on function public.refunds_to_execute(integer, integer) is
'Refunds refund-execute should work on: requested ones (to send) and ones processing for '
'p_stale_seconds without an answer (to ask the provider about). Service role only.';

create function public.claim_refund(p_refund_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_refund public.refunds%rowtype;
    v_payment public.payments%rowtype;
begin
    select * into v_refund from public.refunds where id = p_refund_id;
    if not found then
        perform private.refuse(404, 'refund_not_found', 'no such refund');
    end if;
    v_payment := private.lock_payment(v_refund.payment_id);
    update public.refunds
    set status = 'processing', attempts = attempts + 1, failure_reason = null
    where id = p_refund_id and status = 'requested'
    returning * into v_refund;
    if not found then
        return jsonb_build_object('claimed', false, 'refund_id', p_refund_id);
    end if;
    return jsonb_build_object(
        'claimed', true,
        'refund_id', v_refund.id,
        'reference', v_refund.reference,
        'amount', v_refund.amount,
        'currency', v_refund.currency,
        'provider', v_payment.provider,
        'payment_reference', (
            select pr.reference from private.payment_references as pr where pr.payment_id = v_payment.id
        ),
        'provider_txn_id', v_payment.provider_txn_id,
        'msisdn', v_payment.msisdn,
        'whole_payment', v_refund.amount = v_payment.amount
    );
end;
$$;

comment on function public.claim_refund(uuid) is
'Claims a requested refund for sending (processing): claimed = true for exactly one caller, '
'with what the provider needs (the payment''s provider, reference, transaction id, the '
'payer''s wallet, whether it is the whole payment: Airtel''s refund API takes no amount). '
'Service role only.';

create function private.settle_refund(p_refund public.refunds, p_status text)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
begin
    -- money went back: the payment, the return and the points follow
    update public.payments as p
    set refunded_amount = p.refunded_amount + p_refund.amount,
        status = case
            when p.refunded_amount + p_refund.amount >= p.amount then 'refunded'
            else 'partially_refunded'
        end,
        needs_review = case when p.refunded_amount + p_refund.amount >= p.amount then false else p.needs_review end
    where p.id = p_refund.payment_id
    returning p.* into v_payment;
    if p_refund.return_id is not null then
        -- refunded once every refund of the return is (one per payment of an instalment plan)
        update public.returns set status = 'refunded'
        where id = p_refund.return_id and status in ('approved', 'received')
            and not exists (
                select 1 from public.refunds as r
                where r.return_id = p_refund.return_id and r.id <> p_refund.id
                    and r.status not in ('succeeded', 'manual')
            );
    end if;
    perform private.post_refund_paid(p_refund);
    perform private.return_points(p_refund, v_payment);
    perform private.notify(
        p_refund.customer_id,
        case when p_status = 'manual' then 'refund_manual' else 'refund_succeeded' end,
        jsonb_build_object('amount', p_refund.amount, 'reference', coalesce(p_refund.manual_reference, '')),
        jsonb_build_object('order_id', p_refund.order_id, 'refund_id', p_refund.id)
    );
end;
$$;

comment on function private.settle_refund(public.refunds, text) is
'A refund reached the payer (succeeded or manual): the payment''s refunded_amount and status '
'(partially_refunded, refunded), its return (refunded), the ledger (the money leaves the '
'provider) and the order''s loyalty points (earned ones taken back, redeemed ones given back '
'in proportion) follow; the customer is told.';

create function public.record_refund_outcome(
    p_refund_id uuid,
    p_outcome text,
    p_method text default null,
    p_provider_refund_id text default null,
    p_failure_reason text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_refund public.refunds%rowtype;
    v_result text := 'ignored';
begin
    if p_outcome is null or p_outcome not in ('succeeded', 'failed', 'ambiguous') then
        perform private.refuse(422, 'unknown_outcome', 'outcome must be succeeded, failed or ambiguous');
    end if;
    if p_method is not null and p_method not in ('reversal', 'refund', 'payout') then
        perform private.refuse(422, 'unknown_method', 'method must be reversal, refund or payout');
    end if;
    select * into v_refund from public.refunds where id = p_refund_id;
    if not found then
        perform private.refuse(404, 'refund_not_found', 'no such refund');
    end if;
    perform private.lock_payment(v_refund.payment_id);
    select * into v_refund from public.refunds where id = p_refund_id for update;
    if v_refund.status = 'processing' then
        if p_outcome = 'succeeded' then
            update public.refunds
            set status = 'succeeded', method = coalesce(p_method, method), failure_reason = null,
                provider_refund_id = coalesce(left(p_provider_refund_id, 128), provider_refund_id)
            where id = p_refund_id
            returning * into v_refund;
            perform private.settle_refund(v_refund, 'succeeded');
            v_result := 'applied';
        elsif p_outcome = 'failed' then
            update public.refunds
            set status = 'failed', method = coalesce(p_method, method),
                failure_reason = left(coalesce(p_failure_reason, 'provider_error'), 500)
            where id = p_refund_id
            returning * into v_refund;
            perform private.notify(
                v_refund.customer_id, 'refund_failed', jsonb_build_object('amount', v_refund.amount),
                jsonb_build_object('order_id', v_refund.order_id, 'refund_id', v_refund.id)
            );
            v_result := 'applied';
        else
            -- not known yet: stays processing; refund-execute asks again later
            update public.refunds
            set method = coalesce(p_method, method), last_checked_at = now(),
                failure_reason = left(p_failure_reason, 500)
            where id = p_refund_id
            returning * into v_refund;
            v_result := 'pending';
        end if;
    elsif v_refund.status in ('succeeded', 'manual') and p_outcome = 'succeeded' then
        v_result := 'duplicate';
    end if;
    return jsonb_build_object(
        'refund_id', v_refund.id, 'refund_status', v_refund.status, 'result', v_result
    );
end;
$$;

comment on function public.record_refund_outcome(uuid, text, text, text, text) is
'What the provider said about a processing refund: succeeded (money back: payment, return, '
'points follow), failed (nothing moved; retry_refund or manual) or ambiguous (asked again '
'later). Only a processing refund changes: duplicates and late answers are no-ops '
'(result duplicate | ignored). Service role only.';

create function public.apply_refund_event(
    p_provider text,
    p_reference text,
    p_outcome text,
    p_provider_refund_id text default null,
    p_failure_reason text default null,
    p_webhook_event_id uuid default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_refund uuid;
    v_result jsonb;
begin
    select r.id into v_refund from public.refunds as r where r.reference = p_reference and r.provider = p_provider;
    if v_refund is null then
        v_result := jsonb_build_object('result', 'unknown_refund');
    else
        v_result := public.record_refund_outcome(v_refund, p_outcome, 'payout', p_provider_refund_id, p_failure_reason);
    end if;
    if p_webhook_event_id is not null then
        update private.payment_events
        set authenticated = true,
            provider_ref = p_reference,
            outcome = case when p_outcome in ('succeeded', 'failed') then p_outcome else 'pending' end,
            status = case
                when v_result ->> 'result' = 'applied' then 'applied'
                when v_result ->> 'result' = 'duplicate' then 'duplicate'
                when v_result ->> 'refund_status' in ('succeeded', 'manual') and p_outcome = 'failed' then 'review'
                else 'ignored'
            end,
            error = case
                when v_refund is null then 'no such refund'
                when v_result ->> 'refund_status' in ('succeeded', 'manual') and p_outcome = 'failed'
                    then 'the provider reversed a refund it had paid: the customer may not have the money'
            end,
            processed_at = now()
        where id = p_webhook_event_id;
    end if;
    return v_result;
end;
$$;

comment on function public.apply_refund_event(text, text, text, text, text, uuid) is
'A provider callback about a refund sent as a payout (ClickPesa PAYOUT events), found by our '
'refund reference: applied like record_refund_outcome; the stored callback is annotated. '
'Service role only.';

create function public.retry_refund(p_refund_id uuid)
returns public.refunds
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_refund public.refunds%rowtype;
begin
    if not (private.is_admin() or private.is_service_role()) then
        raise exception 'only an admin retries refunds' using errcode = '42501';
    end if;
    select * into v_refund from public.refunds where id = p_refund_id;
    if not found then
        perform private.refuse(404, 'refund_not_found', 'no such refund');
    end if;
    perform private.lock_payment(v_refund.payment_id);
    update public.refunds set status = 'requested'
    where id = p_refund_id and status = 'failed'
    returning * into v_refund;
    if not found then
        perform private.refuse(409, 'refund_not_failed', 'only a failed refund is tried again');
    end if;
    return v_refund;
end;
$$;

comment on function public.retry_refund(uuid) is
'Admins: a failed refund goes back to requested; refund-execute sends it again (with the same '
'reference, so a provider that did receive the first attempt refuses a duplicate).';

create function public.record_manual_refund(p_refund_id uuid, p_reference text)
returns public.refunds
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_refund public.refunds%rowtype;
begin
    if not private.is_admin() then
        raise exception 'only an admin records a refund paid by hand' using errcode = '42501';
    end if;
    if coalesce(btrim(p_reference), '') = '' then
        perform private.refuse(422, 'reference_required', 'say how it was paid (the transaction reference)');
    end if;
    select * into v_refund from public.refunds where id = p_refund_id;
    if not found then
        perform private.refuse(404, 'refund_not_found', 'no such refund');
    end if;
    perform private.lock_payment(v_refund.payment_id);
    update public.refunds
    set status = 'manual', method = 'manual', manual_reference = left(btrim(p_reference), 128)
    where id = p_refund_id and status in ('requested', 'failed')
    returning * into v_refund;
    if not found then
        perform private.refuse(
            409, 'refund_in_flight', 'only a requested or failed refund can be paid by hand'
        );
    end if;
    perform private.settle_refund(v_refund, 'manual');
    return v_refund;
end;
$$;

comment on function public.record_manual_refund(uuid, text) is
'Admins: a person paid this refund by hand (mobile money from the business wallet, cash …): '
'it counts as money back, with the reference recorded. Only from requested or failed, never '
'while a send may be in flight (409 refund_in_flight).';

-- ---------------------------------------------------------------------------------------
-- The review queue: payments a person must decide about
-- ---------------------------------------------------------------------------------------

create function public.settle_refund_by_hand(
    p_refund_id uuid, p_outcome text, p_provider_refund_id text, p_note text
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_refund public.refunds%rowtype;
    v_result jsonb;
begin
    if not private.is_admin() then
        raise exception 'only an admin settles a refund by hand' using errcode = '42501';
    end if;
    if p_outcome is null or p_outcome not in ('succeeded', 'failed') then
        perform private.refuse(422, 'unknown_outcome', 'outcome must be succeeded or failed');
    end if;
    if coalesce(btrim(p_note), '') = '' then
        perform private.refuse(422, 'note_required', 'say what the provider''s statement shows');
    end if;
    select * into v_refund from public.refunds where id = p_refund_id;
    if not found then
        perform private.refuse(404, 'refund_not_found', 'no such refund');
    end if;
    if v_refund.status <> 'processing'
        or coalesce(v_refund.last_checked_at, v_refund.claimed_at) > now() - interval '10 minutes' then
        perform private.refuse(
            409, 'refund_not_stuck', 'only a refund processing without an answer for 10 minutes'
        );
    end if;
    perform set_config(
        'wats.audit_context', jsonb_build_object('settled_by_hand', left(p_note, 500))::text, true
    );
    v_result := public.record_refund_outcome(
        p_refund_id, p_outcome, null, p_provider_refund_id,
        case when p_outcome = 'failed' then 'settled_by_hand: ' || left(p_note, 400) end
    );
    perform set_config('wats.audit_context', '', true);
    return v_result;
end;
$$;

comment on function public.settle_refund_by_hand(uuid, text, text, text) is
'Admins: a refund stuck in processing for 10 minutes (a provider with no status query: Mixx '
'B2C, Airtel''s refund API) is settled from the provider''s statement: succeeded or failed, '
'with a note (audited). 409 refund_not_stuck, 422 unknown_outcome / note_required.';

create function public.resolve_payment_review(
    p_payment_id uuid, p_decision text, p_note text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
    v_order public.orders%rowtype;
    v_refund uuid;
    v_result text;
begin
    if not private.is_admin() then
        raise exception 'only an admin resolves payment reviews' using errcode = '42501';
    end if;
    if p_decision is null or p_decision not in ('accept', 'refund') then
        perform private.refuse(422, 'unknown_decision', 'decision must be accept or refund');
    end if;
    v_payment := private.lock_payment(p_payment_id);
    if v_payment.id is null then
        perform private.refuse(404, 'payment_not_found', 'no such payment');
    end if;
    if not v_payment.needs_review or v_payment.reviewed_at is not null then
        perform private.refuse(409, 'not_in_review', 'this payment is not waiting for a review');
    end if;
    select * into v_order from public.orders where id = v_payment.order_id;
    perform set_config(
        'wats.audit_context',
        jsonb_build_object('review', p_decision, 'note', left(p_note, 500))::text,
        true
    );
    if p_decision = 'accept' and v_payment.instalment_id is not null then
        -- an instalment: accepted only while its plan still waits for it
        if v_order.status <> 'pending_payment'
            or private.settle_paid(v_payment, null) <> 'applied' then
            perform private.refuse(
                409, 'instalment_not_open',
                'the plan was cancelled or the instalment already paid: refund this payment'
            );
        end if;
        v_result := 'applied';
    elsif p_decision = 'accept' then
        -- honour the order: its stock, taken again if it was released, then paid as usual
        if v_order.status = 'pending_payment' then
            v_result := private.settle_paid(v_payment, null);
        elsif v_order.status in ('expired', 'cancelled') then
            if not private.take_stock_again(v_order.id) then
                perform private.refuse(
                    409, 'stock_unavailable', 'the items are no longer in stock: refund the payment'
                );
            end if;
            update public.payments set status = 'succeeded' where id = v_payment.id and status <> 'succeeded';
            perform private.honour_payment(v_payment.id);
            v_result := 'applied';
        else
            perform private.refuse(409, 'order_not_open', format('a %s order needs no acceptance', v_order.status));
        end if;
    else
        -- the money arrived but the order will not be honoured: it all goes back
        update public.payments set status = 'succeeded' where id = v_payment.id and status <> 'succeeded';
        v_refund := private.grant_refund(
            v_payment.id,
            v_payment.amount - private.refund_commitments(v_payment.id),
            case when v_payment.review_reason in ('success_after_expiry_no_stock', 'success_after_failure')
                then 'late_payment' else 'review' end,
            coalesce(left(p_note, 500), 'refund after review: ' || v_payment.review_reason),
            null,
            null
        );
        v_result := 'refund_granted';
    end if;
    update public.payments
    set needs_review = false, reviewed_at = now(), reviewed_by = (select auth.uid()),
        review_note = coalesce(left(p_note, 1000), review_note)
    where id = v_payment.id;
    perform set_config('wats.audit_context', '', true);
    return private.payment_status(v_payment.id)
        || jsonb_build_object('result', v_result, 'refund_id', v_refund);
end;
$$;

comment on function public.resolve_payment_review(uuid, text, text) is
'Admins decide a payment that needs review: accept (the order can still be honoured: stock '
'taken again if it was released, order paid, parcels created) or refund (the money goes '
'back in full). Writes reviewed_by and reviewed_at (nothing else does) and audits the '
'decision. An instalment''s payment is accepted only while its plan waits for that '
'instalment (409 instalment_not_open). 409 not_in_review / stock_unavailable / '
'order_not_open.';

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.refunds enable row level security;
revoke all on table public.refunds from anon, authenticated, service_role;
grant select on table public.refunds to authenticated, service_role;

create policy "customers read their own refunds"
on public.refunds
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every refund"
on public.refunds
for select
to wats_admin
using ((select private.is_admin()));

revoke all on function
public.refund_payment(uuid, bigint, text, text, text),
public.refunds_to_execute(integer, integer),
public.claim_refund(uuid),
public.record_refund_outcome(uuid, text, text, text, text),
public.apply_refund_event(text, text, text, text, text, uuid),
public.retry_refund(uuid),
public.record_manual_refund(uuid, text),
public.settle_refund_by_hand(uuid, text, text, text),
public.resolve_payment_review(uuid, text, text)
from public, anon, authenticated, service_role;

grant execute on function
public.refund_payment(uuid, bigint, text, text, text),
public.record_manual_refund(uuid, text),
public.settle_refund_by_hand(uuid, text, text, text),
public.resolve_payment_review(uuid, text, text)
to authenticated;
grant execute on function public.retry_refund(uuid) to authenticated, service_role;
grant execute on function
public.refunds_to_execute(integer, integer),
public.claim_refund(uuid),
public.record_refund_outcome(uuid, text, text, text, text),
public.apply_refund_event(text, text, text, text, text, uuid)
to service_role;

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
