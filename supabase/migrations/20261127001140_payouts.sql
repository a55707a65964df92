-- WATS money, part 2: vendors' earnings paid out to their mobile-money wallets, and the
-- statements vendors read. A payout takes a vendor's available balance (earnings of
-- completed orders, net of refunds and earlier payouts) into payouts_in_flight; the Edge
-- Function payout-execute sends it through the provider of the vendor's wallet; paid, it
-- leaves the provider account; failed or cancelled, it goes back to available.
--
--   run_payouts (pg_cron, weekly) / request_payout (the vendor) -> pending
--   [approve_payout when above payouts.approval_above_tzs]
--   claim_payout -> processing -> record_payout_outcome / apply_payout_event -> paid | failed
--   cancel_payout (an admin, while pending) -> cancelled
--
-- Locks: a payout row, then the vendor's ledger accounts (THE LOCK ORDER, level 5). A vendor
-- has at most one open payout, so two runs at once pay once.

insert into private.settings (key, value, description)
values
(
    'payouts.minimum_tzs', '10000',
    'A vendor is paid out when their available balance is at least this (whole TZS).'
),
(
    'payouts.approval_above_tzs', '1000000',
    'Payouts above this amount wait for an admin''s approval (approve_payout) before they are sent.'
);

create table private.vendor_payouts (
    id uuid primary key default gen_random_uuid(),
    vendor_id uuid not null references public.vendors (id) on delete restrict,
    amount bigint not null constraint vendor_payouts_amount_positive check (amount > 0),
    currency text not null default 'TZS' constraint vendor_payouts_currency_tzs check (
        currency = 'TZS'
    ),
    provider public.payment_provider not null,
    msisdn public.msisdn not null,
    source text not null constraint vendor_payouts_source_allowed check (
        source in ('schedule', 'request')
    ),
    requested_by uuid references public.profiles (id) on delete set null,
    status text not null default 'pending' constraint vendor_payouts_status_allowed check (
        status in ('pending', 'processing', 'paid', 'failed', 'cancelled')
    ),
    needs_approval boolean not null default false,
    approved_by uuid references public.profiles (id) on delete set null,
    approved_at timestamptz,
    reference text not null unique
    default 'WO' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 18))
    constraint vendor_payouts_reference_format check (reference ~ '^[A-Za-z0-9]{4,20}$'),
    method text constraint vendor_payouts_method_allowed check (
        method in ('b2c', 'disbursement', 'payout')
    ),
    provider_payout_id text constraint vendor_payouts_provider_payout_id_length check (
        char_length(provider_payout_id) <= 128
    ),
    failure_reason text constraint vendor_payouts_failure_reason_length check (
        char_length(failure_reason) <= 500
    ),
    attempts integer not null default 0 constraint vendor_payouts_attempts_non_negative check (
        attempts >= 0
    ),
    claimed_at timestamptz,
    last_checked_at timestamptz,
    paid_at timestamptz,
    failed_at timestamptz,
    cancelled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint vendor_payouts_approval_needed check (approved_at is null or needs_approval)
);

comment on table private.vendor_payouts is
'Money sent to a vendor''s wallet: the available balance when it was created, to the wallet '
'registered then. At most one open (pending or processing) per vendor. Status machine payout; '
'every change audited. Vendors read theirs through vendor_statement. Internal.';
comment on column private.vendor_payouts.reference is
'Our reference for the payout, given to the provider (what its callbacks name).';
comment on column private.vendor_payouts.needs_approval is
'The amount was above payouts.approval_above_tzs: not sent before an admin approves it.';

create unique index vendor_payouts_one_open_idx on private.vendor_payouts (vendor_id)
where status in ('pending', 'processing');
create index vendor_payouts_vendor_id_created_at_idx on private.vendor_payouts (
    vendor_id, created_at
);
create index vendor_payouts_open_idx on private.vendor_payouts (created_at)
where status in ('pending', 'processing');
create index vendor_payouts_requested_by_idx on private.vendor_payouts (requested_by);
create index vendor_payouts_approved_by_idx on private.vendor_payouts (approved_by);

create trigger vendor_payouts_status_transition
before update of status on private.vendor_payouts
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'payout', 'processing:claimed_at', 'paid:paid_at', 'failed:failed_at', 'cancelled:cancelled_at'
);

create trigger vendor_payouts_touch_updated_at
before update on private.vendor_payouts
for each row execute function private.touch_updated_at();

create trigger vendor_payouts_audit
after insert or update of status, approved_at on private.vendor_payouts
for each row execute function private.audit_changes(
    'status', 'amount', 'provider', 'approved_at', 'method', 'provider_payout_id', 'failure_reason'
);

alter table private.vendor_payouts enable row level security;
revoke all on table private.vendor_payouts from anon, authenticated, service_role;

insert into private.notification_texts (type, language, audience, title, body)
values
(
    'payout_paid', 'en', 'vendor', 'Payout sent',
    '{amount} TZS was sent to your {provider} wallet {msisdn}.'
),
(
    'payout_paid', 'sw', 'vendor', 'Malipo yametumwa',
    'TZS {amount} zimetumwa kwenye pochi yako ya {provider} {msisdn}.'
),
(
    'payout_failed', 'en', 'vendor', 'Your payout did not go through',
    'Sending {amount} TZS to {msisdn} did not work ({reason}). The money is back in your balance.'
),
(
    'payout_failed', 'sw', 'vendor', 'Malipo yako hayakufanikiwa',
    'Kutuma TZS {amount} kwenda {msisdn} hakukufanikiwa ({reason}). '
    || 'Pesa zimerudi kwenye salio lako.'
);

-- ---------------------------------------------------------------------------------------
-- Balances
-- ---------------------------------------------------------------------------------------

create function private.vendor_balances(p_vendor_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
    select jsonb_build_object(
        'pending', coalesce(-sum(a.balance) filter (where a.kind = 'vendor_pending'), 0),
        'available', coalesce(-sum(a.balance) filter (where a.kind = 'vendor_available'), 0),
        'in_flight', coalesce((
            select sum(p.amount) from private.vendor_payouts as p
            where p.vendor_id = p_vendor_id and p.status in ('pending', 'processing')
        ), 0),
        'paid_out', coalesce((
            select sum(p.amount) from private.vendor_payouts as p
            where p.vendor_id = p_vendor_id and p.status = 'paid'
        ), 0)
    )
    from private.ledger_accounts as a
    where a.vendor_id = p_vendor_id;
$$;

comment on function private.vendor_balances(uuid) is
'A vendor''s money: pending (orders in their return window), available (payable), in_flight '
'(open payouts) and paid_out (all payouts paid), in whole TZS.';

create function private.vendor_for_caller(p_vendor_id uuid)
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
    v_vendor uuid := coalesce(
        p_vendor_id,
        (select v.id from public.vendors as v where v.owner_id = (select auth.uid()))
    );
begin
    if v_vendor is null or not (v_vendor = private.own_vendor_id() or private.is_admin()) then
        raise exception 'only the vendor''s owner or an admin may see its money' using errcode = '42501';
    end if;
    return v_vendor;
end;
$$;

comment on function private.vendor_for_caller(uuid) is
'The vendor a money RPC is about: p_vendor_id, or the caller''s own shop when null. 42501 '
'unless the caller owns it or is an admin.';

-- ---------------------------------------------------------------------------------------
-- Creating payouts
-- ---------------------------------------------------------------------------------------

create function private.create_payout(p_vendor_id uuid, p_source text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_account bigint := private.ledger_account('vendor_available', p_vendor_id);
    v_available bigint;
    v_wallet public.vendor_accounts%rowtype;
    v_payout private.vendor_payouts%rowtype;
begin
    -- the vendor's available balance, locked (THE LOCK ORDER, level 5) while we decide
    select -a.balance into v_available from private.ledger_accounts as a where a.id = v_account for update;
    if exists (
        select 1 from private.vendor_payouts as p
        where p.vendor_id = p_vendor_id and p.status in ('pending', 'processing')
    ) then
        return jsonb_build_object('created', false, 'reason', 'payout_open');
    end if;
    if (select v.status from public.vendors as v where v.id = p_vendor_id) <> 'approved' then
        return jsonb_build_object('created', false, 'reason', 'vendor_not_approved');
    end if;
    select * into v_wallet from public.vendor_accounts as a where a.vendor_id = p_vendor_id;
    if v_wallet.payout_msisdn is null then
        return jsonb_build_object('created', false, 'reason', 'no_wallet');
    end if;
    -- a wallet whose check failed is not tried again every week: an admin confirms it, or
    -- the vendor registers another (which starts unverified and is checked once more)
    if v_wallet.payout_verified_at is null and exists (
        select 1 from private.vendor_payouts as p
        where p.vendor_id = p_vendor_id and p.status = 'failed'
            and p.provider = v_wallet.payout_provider and p.msisdn = v_wallet.payout_msisdn
            and p.failure_reason in ('name_mismatch', 'wallet_not_found', 'wallet_unverified')
    ) then
        return jsonb_build_object('created', false, 'reason', 'wallet_unconfirmed');
    end if;
    if v_available < private.setting_int('payouts.minimum_tzs') then
        return jsonb_build_object('created', false, 'reason', 'below_minimum', 'available', v_available);
    end if;
    insert into private.vendor_payouts (
        vendor_id, amount, provider, msisdn, source, requested_by, needs_approval
    )
    values (
        p_vendor_id, v_available, v_wallet.payout_provider, v_wallet.payout_msisdn, p_source,
        (select auth.uid()), v_available > private.setting_int('payouts.approval_above_tzs')
    )
    returning * into v_payout;
    perform private.post_transfer(
        'payout', v_payout.id, 'reserve',
        jsonb_build_array(
            private.ledger_leg(v_account, v_payout.amount, 'payout'),
            private.ledger_leg(private.ledger_account('payouts_in_flight'), -v_payout.amount, 'payout')
        ),
        'payout ' || v_payout.reference
    );
    return jsonb_build_object(
        'created', true, 'payout_id', v_payout.id, 'amount', v_payout.amount,
        'needs_approval', v_payout.needs_approval
    );
end;
$$;

comment on function private.create_payout(uuid, text) is
'One payout of the vendor''s whole available balance to its registered wallet, when the '
'vendor is approved, has a wallet (not one that failed its name check, until confirmed), no '
'open payout and at least payouts.minimum_tzs; above '
'payouts.approval_above_tzs it waits for an admin. Returns {created, payout_id | reason}.';

create function public.run_payouts()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_vendor uuid;
    v_result jsonb;
    v_created integer := 0;
    v_waiting integer := 0;
    v_skipped jsonb := '{}'::jsonb;
begin
    for v_vendor in
        select a.vendor_id
        from private.ledger_accounts as a
        where a.kind = 'vendor_available' and -a.balance >= private.setting_int('payouts.minimum_tzs')
        order by a.id
    loop
        v_result := private.create_payout(v_vendor, 'schedule');
        if (v_result ->> 'created')::boolean then
            v_created := v_created + 1;
            v_waiting := v_waiting + case when (v_result ->> 'needs_approval')::boolean then 1 else 0 end;
        else
            v_skipped := v_skipped || jsonb_build_object(
                v_result ->> 'reason', coalesce((v_skipped ->> (v_result ->> 'reason'))::integer, 0) + 1
            );
        end if;
    end loop;
    return jsonb_build_object('created', v_created, 'awaiting_approval', v_waiting, 'skipped', v_skipped);
end;
$$;

comment on function public.run_payouts()
is
'The payout run (pg_cron, weekly): a payout for every vendor whose available balance reaches '
'payouts.minimum_tzs (private.create_payout). Safe to run twice at once: a vendor has at most '
'one open payout. Service role only.';

create function public.request_payout(p_vendor_id uuid default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_vendor uuid := private.vendor_for_caller(p_vendor_id);
    v_result jsonb;
begin
    v_result := private.create_payout(v_vendor, 'request');
    if not (v_result ->> 'created')::boolean then
        perform private.refuse(
            case when v_result ->> 'reason' in ('no_wallet', 'below_minimum', 'wallet_unconfirmed') then 422
                else 409 end,
            v_result ->> 'reason',
            case v_result ->> 'reason'
                when 'payout_open' then 'a payout is already on its way'
                when 'no_wallet' then 'register a payout wallet first'
                when 'wallet_unconfirmed' then
                    'your wallet did not pass its name check: register another or ask us to confirm it'
                when 'below_minimum' then format(
                    'payouts start at %s TZS; %s TZS is available',
                    private.setting_int('payouts.minimum_tzs'), v_result ->> 'available'
                )
                else 'the shop is not approved'
            end
        );
    end if;
    return v_result;
end;
$$;

comment on function public.request_payout(uuid) is
'A vendor (or an admin for them) asks for their available balance now. 409 payout_open / '
'vendor_not_approved, 422 no_wallet / below_minimum / wallet_unconfirmed.';

create function private.payout_for_change(p_payout_id uuid)
returns private.vendor_payouts
language plpgsql
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
begin
    select * into v_payout from private.vendor_payouts as p where p.id = p_payout_id for update;
    if not found then
        perform private.refuse(404, 'payout_not_found', 'no such payout');
    end if;
    return v_payout;
end;
$$;

comment on function private.payout_for_change(uuid) is
'The payout row, locked (before any ledger account): 404 payout_not_found when there is none.';

create function private.return_payout(p_payout private.vendor_payouts)
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform private.post_transfer(
        'payout', p_payout.id, 'return',
        jsonb_build_array(
            private.ledger_leg(private.ledger_account('payouts_in_flight'), p_payout.amount, 'payout_returned'),
            private.ledger_leg(
                private.ledger_account('vendor_available', p_payout.vendor_id), -p_payout.amount, 'payout_returned'
            )
        ),
        'payout ' || p_payout.reference || ' ' || p_payout.status
    );
end;
$$;

comment on function private.return_payout(private.vendor_payouts) is
'A payout that was not paid (failed, cancelled): its money goes back to the vendor''s '
'available balance.';

create function public.approve_payout(p_payout_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
begin
    if not private.is_admin() then
        raise exception 'only an admin approves payouts' using errcode = '42501';
    end if;
    v_payout := private.payout_for_change(p_payout_id);
    if v_payout.status <> 'pending' or not v_payout.needs_approval or v_payout.approved_at is not null then
        perform private.refuse(409, 'not_awaiting_approval', 'this payout is not waiting for an approval');
    end if;
    update private.vendor_payouts
    set approved_by = (select auth.uid()), approved_at = now()
    where id = p_payout_id;
    return jsonb_build_object('payout_id', p_payout_id, 'status', 'pending', 'approved', true);
end;
$$;

comment on function public.approve_payout(uuid) is
'Admins: a payout above payouts.approval_above_tzs may be sent. 409 not_awaiting_approval.';

create function public.cancel_payout(p_payout_id uuid, p_reason text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
begin
    if not private.is_admin() then
        raise exception 'only an admin cancels payouts' using errcode = '42501';
    end if;
    v_payout := private.payout_for_change(p_payout_id);
    if v_payout.status <> 'pending' then
        perform private.refuse(409, 'payout_not_pending', 'only a payout not yet sent can be cancelled');
    end if;
    update private.vendor_payouts
    set status = 'cancelled', failure_reason = left(coalesce(p_reason, 'cancelled by an admin'), 500)
    where id = p_payout_id
    returning * into v_payout;
    perform private.return_payout(v_payout);
    return jsonb_build_object('payout_id', p_payout_id, 'status', 'cancelled');
end;
$$;

comment on function public.cancel_payout(uuid, text) is
'Admins: a payout not yet sent is cancelled; its money goes back to available. 409 '
'payout_not_pending.';

-- ---------------------------------------------------------------------------------------
-- Sending (payout-execute, service role)
-- ---------------------------------------------------------------------------------------

create function public.payouts_to_execute(
    p_limit integer default 50, p_stale_seconds integer default 120
)
returns table (
    payout_id uuid,
    action text,
    provider public.payment_provider,
    reference text,
    method text
)
language sql
stable
security definer
set search_path = ''
as $$
    select
        p.id,
        case when p.status = 'pending' then 'send' else 'check' end,
        p.provider,
        p.reference,
        p.method
    from private.vendor_payouts as p
    where (p.status = 'pending' and (not p.needs_approval or p.approved_at is not null))
        or (
            p.status = 'processing'
            and coalesce(p.last_checked_at, p.claimed_at) < now() - make_interval(secs => p_stale_seconds)
        )
    order by p.created_at
    limit least(greatest(coalesce(p_limit, 50), 1), 500);
$$;

comment on function public.payouts_to_execute(integer, integer) is
'Payouts to send (pending, approved where needed) and to ask the provider about (processing '
'with no answer for p_stale_seconds), with the provider, our reference and the method of the '
'last answer (what a check asks by). Service role only.';

create function private.names_match(p_a text, p_b text)
returns boolean
language sql
immutable
set search_path = ''
as $$
    -- every word of the shorter name appears in the longer one (case, accents of Latin
    -- letters and punctuation ignored): "MWANAISHA A. JUMA" matches "Mwanaisha Juma"
    with w as (
        select
            array(
                select t from regexp_split_to_table(lower(coalesce(p_a, '')), '[^a-z]+') as t where t <> ''
            ) as a,
            array(
                select t from regexp_split_to_table(lower(coalesce(p_b, '')), '[^a-z]+') as t where t <> ''
            ) as b
    )

    select case
        when cardinality(w.a) = 0 or cardinality(w.b) = 0 then false
        when cardinality(array(select distinct unnest(w.a))) <= cardinality(array(select distinct unnest(w.b)))
            then array(select x from unnest(w.a) as x where length(x) > 1) <@ w.b
        else array(select x from unnest(w.b) as x where length(x) > 1) <@ w.a
    end
    from w;
$$;

comment on function private.names_match(text, text) is
'True when every word (two letters or more) of the shorter name is in the longer one, '
'ignoring case and anything but letters: a wallet holder''s name against the vendor''s.';

create function public.claim_payout(p_payout_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
begin
    v_payout := private.payout_for_change(p_payout_id);
    if v_payout.status <> 'pending' or (v_payout.needs_approval and v_payout.approved_at is null) then
        return jsonb_build_object('claimed', false, 'payout_id', p_payout_id, 'status', v_payout.status);
    end if;
    update private.vendor_payouts
    set status = 'processing', attempts = attempts + 1
    where id = p_payout_id
    returning * into v_payout;
    return jsonb_build_object(
        'claimed', true,
        'payout_id', v_payout.id,
        'reference', v_payout.reference,
        'amount', v_payout.amount,
        'currency', v_payout.currency,
        'provider', v_payout.provider,
        'msisdn', v_payout.msisdn,
        'wallet_verified', (
            select a.payout_verified_at is not null
                and a.payout_provider = v_payout.provider and a.payout_msisdn = v_payout.msisdn
            from public.vendor_accounts as a where a.vendor_id = v_payout.vendor_id
        )
    );
end;
$$;

comment on function public.claim_payout(uuid) is
'Claims a pending (approved where needed) payout for sending: processing, claimed = true for '
'exactly one caller, with the wallet and whether it is verified. Service role only.';

create function private.finish_payout(
    p_payout private.vendor_payouts, p_outcome text, p_method text, p_provider_payout_id text,
    p_failure_reason text
)
returns private.vendor_payouts
language plpgsql
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
begin
    update private.vendor_payouts
    set status = p_outcome, method = coalesce(p_method, method),
        provider_payout_id = coalesce(left(p_provider_payout_id, 128), provider_payout_id),
        failure_reason = case when p_outcome = 'failed'
            then left(coalesce(p_failure_reason, 'provider_error'), 500) end
    where id = p_payout.id
    returning * into v_payout;
    if p_outcome = 'paid' then
        perform private.post_transfer(
            'payout', v_payout.id, 'paid',
            jsonb_build_array(
                private.ledger_leg(private.ledger_account('payouts_in_flight'), v_payout.amount, 'payout_paid'),
                private.ledger_leg(
                    private.ledger_account('provider', null, v_payout.provider), -v_payout.amount, 'payout_paid'
                )
            ),
            'payout ' || v_payout.reference || ' paid'
        );
    else
        perform private.return_payout(v_payout);
    end if;
    perform private.notify(
        (select v.owner_id from public.vendors as v where v.id = v_payout.vendor_id),
        case when p_outcome = 'paid' then 'payout_paid' else 'payout_failed' end,
        jsonb_build_object(
            'amount', v_payout.amount, 'provider', v_payout.provider,
            'msisdn', private.mask_phone(v_payout.msisdn), 'reason', coalesce(v_payout.failure_reason, '')
        ),
        jsonb_build_object('payout_id', v_payout.id, 'vendor_id', v_payout.vendor_id)
    );
    return v_payout;
end;
$$;

comment on function private.finish_payout(private.vendor_payouts, text, text, text, text) is
'A processing payout ends: paid (the money leaves the provider account) or failed (back to '
'the vendor''s available balance); the vendor is told.';

create function public.record_wallet_check(p_payout_id uuid, p_holder_name text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
    v_expected text [];
begin
    v_payout := private.payout_for_change(p_payout_id);
    if v_payout.status <> 'processing' then
        perform private.refuse(409, 'payout_not_processing', 'only a claimed payout checks its wallet');
    end if;
    select array[v.name, pr.full_name] into v_expected
    from public.vendors as v
    left join public.profiles as pr on v.owner_id = pr.id
    where v.id = v_payout.vendor_id;
    if p_holder_name is not null and (
        private.names_match(p_holder_name, v_expected[1]) or private.names_match(p_holder_name, v_expected[2])
    ) then
        update public.vendor_accounts
        set payout_verified_at = now(), payout_verified_name = left(p_holder_name, 200)
        where vendor_id = v_payout.vendor_id
            and payout_provider = v_payout.provider and payout_msisdn = v_payout.msisdn;
        return jsonb_build_object('verified', true, 'payout_id', p_payout_id);
    end if;
    perform private.finish_payout(
        v_payout, 'failed', null, null,
        case when p_holder_name is null then 'wallet_not_found' else 'name_mismatch' end
    );
    return jsonb_build_object(
        'verified', false, 'payout_id', p_payout_id,
        'reason', case when p_holder_name is null then 'wallet_not_found' else 'name_mismatch' end
    );
end;
$$;

comment on function public.record_wallet_check(uuid, text) is
'The provider''s name lookup for a claimed payout''s wallet: a holder name matching the shop '
'or its owner (private.names_match) verifies the wallet once; another name (name_mismatch) '
'or none (wallet_not_found) fails the payout, its money back to available. Service role only.';

create function public.verify_payout_wallet(p_vendor_id uuid, p_holder_name text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
    if not private.is_admin() then
        raise exception 'only an admin verifies a wallet by hand' using errcode = '42501';
    end if;
    if p_holder_name is null or char_length(btrim(p_holder_name)) = 0 then
        perform private.refuse(422, 'holder_name_required', 'say whose wallet it is');
    end if;
    update public.vendor_accounts
    set payout_verified_at = now(), payout_verified_name = left(btrim(p_holder_name), 200)
    where vendor_id = p_vendor_id and payout_msisdn is not null;
    if not found then
        perform private.refuse(409, 'no_wallet', 'this vendor has no payout wallet');
    end if;
    perform private.write_audit(
        'verify_wallet', 'vendor_accounts', p_vendor_id, null,
        jsonb_build_object('payout_verified_name', left(btrim(p_holder_name), 200))
    );
    return jsonb_build_object('vendor_id', p_vendor_id, 'verified', true);
end;
$$;

comment on function public.verify_payout_wallet(uuid, text) is
'Admins: confirm a vendor''s wallet by hand (for a provider without a name lookup), with the '
'holder''s name. Audited.';

create function public.record_payout_outcome(
    p_payout_id uuid,
    p_outcome text,
    p_method text default null,
    p_provider_payout_id text default null,
    p_failure_reason text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
    v_result text := 'ignored';
begin
    if p_outcome is null or p_outcome not in ('succeeded', 'failed', 'ambiguous') then
        perform private.refuse(422, 'unknown_outcome', 'outcome must be succeeded, failed or ambiguous');
    end if;
    if p_method is not null and p_method not in ('b2c', 'disbursement', 'payout') then
        perform private.refuse(422, 'unknown_method', 'method must be b2c, disbursement or payout');
    end if;
    v_payout := private.payout_for_change(p_payout_id);
    if v_payout.status = 'processing' then
        if p_outcome = 'ambiguous' then
            update private.vendor_payouts
            set method = coalesce(p_method, method), last_checked_at = now(),
                provider_payout_id = coalesce(left(p_provider_payout_id, 128), provider_payout_id),
                failure_reason = left(p_failure_reason, 500)
            where id = p_payout_id
            returning * into v_payout;
            v_result := 'pending';
        else
            v_payout := private.finish_payout(
                v_payout, case when p_outcome = 'succeeded' then 'paid' else 'failed' end,
                p_method, p_provider_payout_id, p_failure_reason
            );
            v_result := 'applied';
        end if;
    elsif (v_payout.status = 'paid' and p_outcome = 'succeeded')
        or (v_payout.status = 'failed' and p_outcome = 'failed') then
        v_result := 'duplicate';
    end if;
    return jsonb_build_object('payout_id', v_payout.id, 'payout_status', v_payout.status, 'result', v_result);
end;
$$;

comment on function public.record_payout_outcome(uuid, text, text, text, text) is
'What the provider said about a processing payout: succeeded (paid), failed (money back to '
'available) or ambiguous (stays processing; asked again later). Anything about a finished '
'payout changes nothing (duplicate / ignored). Service role only.';

create function public.apply_payout_event(
    p_provider text,
    p_reference text,
    p_outcome text,
    p_provider_payout_id text default null,
    p_failure_reason text default null,
    p_webhook_event_id uuid default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payout uuid;
    v_result jsonb;
begin
    select p.id into v_payout
    from private.vendor_payouts as p
    where p.reference = p_reference and p.provider = p_provider;
    if v_payout is null then
        v_result := jsonb_build_object('result', 'unknown_payout');
    else
        v_result := public.record_payout_outcome(v_payout, p_outcome, null, p_provider_payout_id, p_failure_reason);
    end if;
    if p_webhook_event_id is not null then
        update private.payment_events
        set authenticated = true,
            provider_ref = p_reference,
            outcome = case when p_outcome in ('succeeded', 'failed') then p_outcome else 'pending' end,
            status = case
                when v_result ->> 'result' = 'applied' then 'applied'
                when v_result ->> 'result' = 'duplicate' then 'duplicate'
                when v_result ->> 'payout_status' = 'paid' and p_outcome = 'failed' then 'review'
                else 'ignored'
            end,
            error = case
                when v_payout is null then 'no such payout'
                when v_result ->> 'payout_status' = 'paid' and p_outcome = 'failed'
                    then 'the provider reversed a payout it had paid: the vendor may not have the money'
            end,
            processed_at = now()
        where id = p_webhook_event_id;
    end if;
    return v_result;
end;
$$;

comment on function public.apply_payout_event(text, text, text, text, text, uuid) is
'A provider callback about a payout, found by our payout reference: applied like '
'record_payout_outcome; the stored callback is annotated. Service role only.';

create function public.settle_payout_by_hand(
    p_payout_id uuid, p_outcome text, p_provider_payout_id text, p_note text
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_payout private.vendor_payouts%rowtype;
    v_result jsonb;
begin
    if not private.is_admin() then
        raise exception 'only an admin settles a payout by hand' using errcode = '42501';
    end if;
    if p_outcome is null or p_outcome not in ('succeeded', 'failed') then
        perform private.refuse(422, 'unknown_outcome', 'outcome must be succeeded or failed');
    end if;
    if coalesce(btrim(p_note), '') = '' then
        perform private.refuse(422, 'note_required', 'say what the provider''s statement shows');
    end if;
    v_payout := private.payout_for_change(p_payout_id);
    -- claimed_at, not last_checked_at: payout-execute notes every check it makes
    if v_payout.status <> 'processing' or v_payout.claimed_at > now() - interval '10 minutes' then
        perform private.refuse(
            409, 'payout_not_stuck', 'only a payout processing without an answer for 10 minutes'
        );
    end if;
    perform set_config(
        'wats.audit_context', jsonb_build_object('settled_by_hand', left(p_note, 500))::text, true
    );
    v_result := public.record_payout_outcome(
        p_payout_id, p_outcome, null, p_provider_payout_id,
        case when p_outcome = 'failed' then 'settled_by_hand: ' || left(p_note, 400) end
    );
    perform set_config('wats.audit_context', '', true);
    return v_result;
end;
$$;

comment on function public.settle_payout_by_hand(uuid, text, text, text) is
'Admins: a payout stuck in processing for 10 minutes (a provider with no status query: Mixx '
'B2C) is settled from the provider''s statement: succeeded (paid) or failed (money back), '
'with a note (audited). 409 payout_not_stuck, 422 unknown_outcome / note_required.';

-- ---------------------------------------------------------------------------------------
-- Statements
-- ---------------------------------------------------------------------------------------

create function public.vendor_statement(
    p_vendor_id uuid default null,
    p_from timestamptz default null,
    p_to timestamptz default null
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_vendor uuid := private.vendor_for_caller(p_vendor_id);
    v_to timestamptz := coalesce(p_to, now());
    v_from timestamptz := coalesce(p_from, coalesce(p_to, now()) - interval '30 days');
begin
    if v_from > v_to then
        perform private.refuse(422, 'bad_period', 'the period starts after it ends');
    end if;
    return jsonb_build_object(
        'vendor_id', v_vendor,
        'from', v_from,
        'to', v_to,
        'balances', private.vendor_balances(v_vendor),
        'opening', (
            select jsonb_build_object(
                'pending', coalesce(-sum(e.amount) filter (where a.kind = 'vendor_pending'), 0),
                'available', coalesce(-sum(e.amount) filter (where a.kind = 'vendor_available'), 0)
            )
            from private.ledger_accounts as a
            inner join private.ledger_entries as e on a.id = e.account_id
            where a.vendor_id = v_vendor and e.created_at < v_from
        ),
        'closing', (
            select jsonb_build_object(
                'pending', coalesce(-sum(e.amount) filter (where a.kind = 'vendor_pending'), 0),
                'available', coalesce(-sum(e.amount) filter (where a.kind = 'vendor_available'), 0)
            )
            from private.ledger_accounts as a
            inner join private.ledger_entries as e on a.id = e.account_id
            where a.vendor_id = v_vendor and e.created_at <= v_to
        ),
        'lines', coalesce((
            select jsonb_agg(jsonb_build_object(
                'at', e.created_at,
                'kind', e.kind,
                'account', case when a.kind = 'vendor_pending' then 'pending' else 'available' end,
                'amount', -e.amount,
                'balance_after', -e.balance_after,
                'order_id', e.order_id,
                'item', oi.title,
                'quantity', oi.quantity,
                'payout_reference', p.reference
            ) order by e.id)
            from private.ledger_accounts as a
            inner join private.ledger_entries as e on a.id = e.account_id
            inner join private.ledger_transfers as t on e.transfer_id = t.id
            left join public.order_items as oi on e.order_item_id = oi.id
            left join private.vendor_payouts as p on t.cause_type = 'payout' and t.cause_id = p.id
            where a.vendor_id = v_vendor and e.created_at >= v_from and e.created_at <= v_to
        ), '[]'::jsonb),
        'payouts', coalesce((
            select jsonb_agg(jsonb_build_object(
                'payout_id', p.id,
                'reference', p.reference,
                'amount', p.amount,
                'status', p.status,
                'provider', p.provider,
                'msisdn', private.mask_phone(p.msisdn),
                'needs_approval', p.needs_approval and p.approved_at is null,
                'failure_reason', p.failure_reason,
                'created_at', p.created_at,
                'paid_at', p.paid_at
            ) order by p.created_at)
            from private.vendor_payouts as p
            where p.vendor_id = v_vendor and p.created_at >= v_from and p.created_at <= v_to
        ), '[]'::jsonb)
    );
end;
$$;

comment on function public.vendor_statement(uuid, timestamptz, timestamptz) is
'A vendor''s money for a period (default: the last 30 days): balances now, opening and closing '
'balances, every ledger line (sale, commission, refund, completion, payout) with the order '
'line it is about, and the payouts. Never a customer''s phone or address. The vendor''s owner '
'(p_vendor_id null: their own shop) or an admin; anyone else 42501.';

create function public.vendor_balance(p_vendor_id uuid default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_vendor uuid := private.vendor_for_caller(p_vendor_id);
begin
    return jsonb_build_object('vendor_id', v_vendor) || private.vendor_balances(v_vendor);
end;
$$;

comment on function public.vendor_balance(uuid) is
'A vendor''s pending, available, in-flight and paid-out money: the owner or an admin.';

-- ---------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------

revoke all on function
public.run_payouts(),
public.request_payout(uuid),
public.approve_payout(uuid),
public.cancel_payout(uuid, text),
public.payouts_to_execute(integer, integer),
public.claim_payout(uuid),
public.record_wallet_check(uuid, text),
public.verify_payout_wallet(uuid, text),
public.settle_payout_by_hand(uuid, text, text, text),
public.record_payout_outcome(uuid, text, text, text, text),
public.apply_payout_event(text, text, text, text, text, uuid),
public.vendor_statement(uuid, timestamptz, timestamptz),
public.vendor_balance(uuid)
from public, anon, authenticated, service_role;

grant execute on function
public.request_payout(uuid),
public.approve_payout(uuid),
public.cancel_payout(uuid, text),
public.verify_payout_wallet(uuid, text),
public.settle_payout_by_hand(uuid, text, text, text),
public.vendor_statement(uuid, timestamptz, timestamptz),
public.vendor_balance(uuid)
to authenticated;

grant execute on function
public.run_payouts(),
public.payouts_to_execute(integer, integer),
public.claim_payout(uuid),
public.record_wallet_check(uuid, text),
public.record_payout_outcome(uuid, text, text, text, text),
public.apply_payout_event(text, text, text, text, text, uuid)
to service_role;

-- Nothing in `private` is executable unless granted by name.
revoke execute on all functions in schema private from public;
