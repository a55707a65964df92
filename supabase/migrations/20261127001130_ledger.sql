-- WATS money, part 1: one double-entry ledger for every shilling and every loyalty point
-- (learned from pgledger). Internal: no API role reads these tables; vendors read their
-- statements and customers their points through RPCs (20261127001140_payouts.sql,
-- 20261127001150_loyalty.sql). docs/money.md has every posting rule as a table.
--
--   private.ledger_accounts   one row per account (a provider's collections, a vendor's
--                             pending and available earnings, a customer's points, ...)
--   private.ledger_transfers  one row per posting, unique on its cause: posting the same
--                             cause twice is a no-op
--   private.ledger_entries    the legs: signed amounts, debit positive, credit negative;
--                             each transfer's legs sum to zero per unit (TZS or points)
--
-- Entries and transfers are append-only for everyone (the table owner included). The
-- accounts of a person (a vendor's earnings, a customer's points) keep their balance in the
-- row, updated under the row's lock in the same statement that writes the entries; the
-- platform's own accounts (one per provider, commission, ...) are derived from their
-- entries, so postings from every checkout and callback never queue on one hot row.
-- The invariants (20261127001150_loyalty.sql) check both against the entries.
--
-- THE LOCK ORDER gains a last level: 5. ledger accounts, sorted by id (private.post_transfer
-- takes them; every caller already holds what it needs of levels 1-4).

-- ---------------------------------------------------------------------------------------
-- Accounts, transfers, entries
-- ---------------------------------------------------------------------------------------

create table private.ledger_accounts (
    id bigint generated always as identity primary key,
    code text not null unique,
    kind text not null constraint ledger_accounts_kind_known check (
        kind in (
            'provider', 'unallocated', 'refunds_due', 'vendor_pending', 'vendor_available',
            'payouts_in_flight', 'commission', 'shipping_income', 'loyalty_funding',
            'points_customer', 'points_issued', 'points_held', 'points_redeemed', 'points_expired'
        )
    ),
    unit text not null constraint ledger_accounts_unit_known check (unit in ('TZS', 'points')),
    normal_side text not null constraint ledger_accounts_normal_side_known check (
        normal_side in ('debit', 'credit')
    ),
    vendor_id uuid references public.vendors (id) on delete restrict,
    customer_id uuid references public.profiles (id) on delete restrict,
    provider public.payment_provider,
    tracks_balance boolean not null,
    balance bigint not null default 0,
    version bigint not null default 0,
    last_entry_at timestamptz,
    created_at timestamptz not null default now(),
    constraint ledger_accounts_owner_matches_kind check (
        (kind in ('vendor_pending', 'vendor_available')) = (vendor_id is not null)
        and (kind = 'points_customer') = (customer_id is not null)
        and (kind = 'provider') = (provider is not null)
    )
);

comment on table private.ledger_accounts is
'The ledger''s accounts: what the marketplace holds at each provider, owes each vendor '
'(pending until the return window closes, then available), owes customers in refunds and '
'points, and earns (commission, shipping). Created on first use by private.ledger_account. '
'Internal.';
comment on column private.ledger_accounts.code is
'kind, then the owner: provider:mpesa, vendor_pending:<vendor_id>, points_customer:<user_id>.';
comment on column private.ledger_accounts.normal_side is
'debit: the account''s natural balance is the sum of its entries (money held at a provider, '
'the cost of loyalty discounts, points issued); credit: minus that sum (what is owed or earned).';
comment on column private.ledger_accounts.tracks_balance is
'True for a person''s accounts (vendor earnings, customer points): balance is kept in the row '
'under its lock. False for the platform''s accounts: their balance is the sum of entries.';
comment on column private.ledger_accounts.balance is
'Sum of the entries (debit positive) for accounts that track it; 0 for the others.';

create index ledger_accounts_vendor_id_idx on private.ledger_accounts (vendor_id);

create trigger ledger_accounts_never_deleted
before delete on private.ledger_accounts
for each row execute function private.forbid_change();

create trigger ledger_accounts_no_truncate
before truncate on private.ledger_accounts
for each statement execute function private.forbid_change();
create index ledger_accounts_customer_id_idx on private.ledger_accounts (customer_id);

create table private.ledger_transfers (
    id bigint generated always as identity primary key,
    cause_type text not null constraint ledger_transfers_cause_type_known check (
        cause_type in ('payment', 'order', 'refund', 'payout', 'expiry')
    ),
    cause_id uuid not null,
    kind text not null constraint ledger_transfers_kind_format check (kind ~ '^[a-z_]{1,40}$'),
    memo text constraint ledger_transfers_memo_length check (char_length(memo) <= 500),
    created_at timestamptz not null default now(),
    constraint ledger_transfers_cause_key unique (cause_type, cause_id, kind)
);

comment on table private.ledger_transfers is
'One row per posting, named by what caused it: (payment, id, received), (payment, id, sale), '
'(order, id, complete), (refund, id, grant), (refund, id, paid), (payout, id, reserve), ... '
'The unique cause makes every posting idempotent. Append-only.';

create table private.ledger_entries (
    id bigint generated always as identity primary key,
    transfer_id bigint not null references private.ledger_transfers (id) on delete restrict,
    -- no foreign key: its check would take a shared lock on the account row for every entry,
    -- and every sale touches the platform's few accounts (commission, unallocated): postings
    -- would queue on them. Entries are written only by private.post_transfer, which joins
    -- each leg's account, and accounts are never deleted (trigger below).
    account_id bigint not null,
    unit text not null constraint ledger_entries_unit_known check (unit in ('TZS', 'points')),
    amount bigint not null constraint ledger_entries_amount_non_zero check (amount <> 0),
    kind text not null constraint ledger_entries_kind_known check (
        kind in (
            'payment', 'sale', 'commission', 'shipping', 'discount',
            'refund', 'refund_commission', 'refund_shipping', 'refund_discount', 'refund_paid',
            'completion', 'payout', 'payout_paid', 'payout_returned',
            'points_earned', 'points_held', 'points_spent', 'points_released',
            'points_reversed', 'points_restored', 'points_expired'
        )
    ),
    order_id uuid,
    order_item_id uuid,
    balance_after bigint,
    created_at timestamptz not null default now()
);

comment on table private.ledger_entries is
'The legs of each transfer: amount signed (debit +, credit -) in whole TZS or points; the '
'legs of a transfer sum to zero per unit (checked per statement). kind says what the line '
'is on a statement (sale, commission, refund, payout, ...); order_id and order_item_id what '
'it is about. balance_after: the account''s balance after the leg, for accounts tracking '
'it. Append-only.';

create index ledger_entries_account_id_id_idx on private.ledger_entries (account_id, id);
create index ledger_entries_transfer_id_idx on private.ledger_entries (transfer_id);
create index ledger_entries_order_id_idx on private.ledger_entries (order_id);

create function private.check_transfer_balances()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if exists (
        select 1 from new_entries as e group by e.transfer_id, e.unit having sum(e.amount) <> 0
    ) then
        raise exception 'a ledger transfer must sum to zero per unit' using errcode = '23514';
    end if;
    return null;
end;
$$;

comment on function private.check_transfer_balances() is
'AFTER INSERT statement trigger on ledger_entries: every transfer written by the statement '
'sums to zero per unit (all legs of a transfer are written in one statement).';

create trigger ledger_entries_balance
after insert on private.ledger_entries
referencing new table as new_entries
for each statement execute function private.check_transfer_balances();

create trigger ledger_entries_append_only
before update or delete on private.ledger_entries
for each row execute function private.forbid_change();

create trigger ledger_entries_no_truncate
before truncate on private.ledger_entries
for each statement execute function private.forbid_change();

create trigger ledger_transfers_append_only
before update or delete on private.ledger_transfers
for each row execute function private.forbid_change();

create trigger ledger_transfers_no_truncate
before truncate on private.ledger_transfers
for each statement execute function private.forbid_change();

-- ---------------------------------------------------------------------------------------
-- Posting
-- ---------------------------------------------------------------------------------------

create function private.ledger_account(
    p_kind text, p_owner uuid default null, p_provider text default null
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_code text := p_kind || coalesce(':' || p_owner::text, '') || coalesce(':' || p_provider, '');
    v_id bigint;
begin
    select a.id into v_id from private.ledger_accounts as a where a.code = v_code;
    if v_id is null then
        insert into private.ledger_accounts (
            code, kind, unit, normal_side, vendor_id, customer_id, provider, tracks_balance
        )
        values (
            v_code,
            p_kind,
            case when p_kind like 'points%' then 'points' else 'TZS' end,
            case when p_kind in ('provider', 'loyalty_funding', 'points_issued') then 'debit' else 'credit' end,
            case when p_kind in ('vendor_pending', 'vendor_available') then p_owner end,
            case when p_kind = 'points_customer' then p_owner end,
            p_provider,
            p_kind in ('vendor_pending', 'vendor_available', 'points_customer')
        )
        on conflict (code) do nothing
        returning id into v_id;
        if v_id is null then
            select a.id into v_id from private.ledger_accounts as a where a.code = v_code;
        end if;
    end if;
    return v_id;
end;
$$;

comment on function private.ledger_account(text, uuid, text) is
'The id of an account, created on first use: p_kind with its owner (vendor for '
'vendor_pending/vendor_available, customer for points_customer) or provider.';

create function private.ledger_leg(
    p_account bigint,
    p_amount bigint,
    p_kind text,
    p_order_id uuid default null,
    p_order_item_id uuid default null,
    p_negative_ok boolean default false
)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select jsonb_build_object(
        'account', p_account, 'amount', p_amount, 'kind', p_kind, 'order_id', p_order_id,
        'order_item_id', p_order_item_id, 'negative_ok', p_negative_ok
    );
$$;

comment on function private.ledger_leg(bigint, bigint, text, uuid, uuid, boolean) is
'One leg for private.post_transfer: amount signed (debit +, credit -). p_negative_ok lets '
'the leg take a customer''s points below zero (only a reversal after spending may).';

create function private.post_transfer(
    p_cause_type text, p_cause_id uuid, p_kind text, p_legs jsonb, p_memo text default null
)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
    v_transfer bigint;
    v_points boolean;
begin
    insert into private.ledger_transfers (cause_type, cause_id, kind, memo)
    values (p_cause_type, p_cause_id, p_kind, left(p_memo, 500))
    on conflict on constraint ledger_transfers_cause_key do nothing
    returning id into v_transfer;
    if v_transfer is null then
        return null;  -- posted before: the same cause never posts twice
    end if;
    -- THE LOCK ORDER, level 5: the accounts that keep a balance, by id
    select coalesce(bool_or(a.kind = 'points_customer'), false) into v_points
    from (
        select a.kind
        from private.ledger_accounts as a
        where a.tracks_balance
            and a.id in (select (l ->> 'account')::bigint from jsonb_array_elements(p_legs) as l)
        order by a.id
        for update
    ) as a;
    update private.ledger_accounts as a
    set balance = a.balance + d.delta, version = a.version + 1, last_entry_at = now()
    from (
        select (l ->> 'account')::bigint as account_id, sum((l ->> 'amount')::bigint) as delta
        from jsonb_array_elements(p_legs) as l
        group by 1
    ) as d
    where a.id = d.account_id and a.tracks_balance and d.delta <> 0;
    if v_points and exists (
        select 1
        from private.ledger_accounts as a
        where a.kind = 'points_customer' and a.balance > 0
            and a.id in (
                select (l ->> 'account')::bigint
                from jsonb_array_elements(p_legs) as l
                where (l ->> 'amount')::bigint > 0 and not coalesce((l ->> 'negative_ok')::boolean, false)
            )
    ) then
        perform private.refuse(409, 'not_enough_points', 'you do not have that many points');
    end if;
    insert into private.ledger_entries (
        transfer_id, account_id, unit, amount, kind, order_id, order_item_id, balance_after
    )
    select
        v_transfer, l.account_id, a.unit, l.amount, l.kind, l.order_id, l.order_item_id,
        case when a.tracks_balance then
            a.balance - sum(l.amount) over (partition by l.account_id)
            + sum(l.amount) over (partition by l.account_id order by l.ord)
        end
    from (
        select
            x.ord,
            (x.leg ->> 'account')::bigint as account_id,
            (x.leg ->> 'amount')::bigint as amount,
            x.leg ->> 'kind' as kind,
            (x.leg ->> 'order_id')::uuid as order_id,
            (x.leg ->> 'order_item_id')::uuid as order_item_id
        from jsonb_array_elements(p_legs) with ordinality as x (leg, ord)
        where (x.leg ->> 'amount')::bigint <> 0
    ) as l
    inner join private.ledger_accounts as a on l.account_id = a.id
    order by l.ord;
    if v_points then
        -- the customer's readable history of their points moves with the ledger
        insert into public.loyalty_points (customer_id, order_id, points, reason, note)
        select
            a.customer_id, (x.leg ->> 'order_id')::uuid, -(x.leg ->> 'amount')::integer,
            case x.leg ->> 'kind'
                when 'points_earned' then 'purchase'
                when 'points_held' then 'redemption'
                when 'points_spent' then 'redemption'
                when 'points_released' then 'redemption_released'
                when 'points_reversed' then 'refund_reversal'
                when 'points_restored' then 'redemption_refunded'
                when 'points_expired' then 'expiry'
                else 'adjustment'
            end,
            left(p_memo, 500)
        from jsonb_array_elements(p_legs) with ordinality as x (leg, ord)
        inner join private.ledger_accounts as a on (x.leg ->> 'account')::bigint = a.id
        where a.kind = 'points_customer' and (x.leg ->> 'amount')::bigint <> 0
        order by x.ord;
    end if;
    return v_transfer;
end;
$$;

comment on function private.post_transfer(text, uuid, text, jsonb, text) is
'Posts one transfer (legs from private.ledger_leg) for a cause: nothing when the cause was '
'posted before (returns null). Locks the accounts that keep a balance in id order (THE LOCK '
'ORDER, level 5), updates them, refuses to take a customer''s points below zero (409 '
'not_enough_points) unless the leg allows it, writes the entries (checked to sum to zero per '
'unit) and the customer''s loyalty_points history. For SQL functions only.';

create function private.natural_balance(p_account bigint)
returns bigint
language sql
stable
set search_path = ''
as $$
    select case when a.normal_side = 'debit' then 1 else -1 end * case
        when a.tracks_balance then a.balance
        else coalesce((select sum(e.amount) from private.ledger_entries as e where e.account_id = a.id), 0)
    end
    from private.ledger_accounts as a
    where a.id = p_account;
$$;

comment on function private.natural_balance(bigint) is
'An account''s balance as people read it: what a provider holds, what a vendor is owed, how '
'many points a customer has (positive in the normal case).';

-- ---------------------------------------------------------------------------------------
-- Money in: a payment succeeds, its order is honoured, the order completes
-- ---------------------------------------------------------------------------------------

create function private.post_payment_received()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.post_transfer(
        'payment', new.id, 'received',
        jsonb_build_array(
            private.ledger_leg(private.ledger_account('provider', null, new.provider), new.amount, 'payment', new.order_id),
            private.ledger_leg(private.ledger_account('unallocated'), -new.amount, 'payment', new.order_id)
        ),
        'payment received'
    );
    return null;
end;
$$;

comment on function private.post_payment_received() is
'AFTER UPDATE trigger on payments (status becomes succeeded): the money is at the provider '
'and, until an order is honoured with it, owed to the customer (unallocated).';

create trigger payments_ledger_received
after update of status on public.payments
for each row
when (
    new.status = 'succeeded'
    and old.status not in ('succeeded', 'partially_refunded', 'refunded')
)
execute function private.post_payment_received();

create function private.commission_of(p_line_total bigint, p_bps integer)
returns bigint
language sql
immutable
set search_path = ''
as $$
    select (p_line_total * p_bps + 5000) / 10000;
$$;

comment on function private.commission_of(bigint, integer) is
'Commission on a line: line_total * bps / 10000, rounded half up to whole TZS.';

create function private.sale_legs(p_order_id uuid, p_amount bigint)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_order public.orders%rowtype;
begin
    select * into v_order from public.orders where id = p_order_id;
    return jsonb_build_array(
        private.ledger_leg(private.ledger_account('unallocated'), p_amount, 'sale', v_order.id),
        private.ledger_leg(private.ledger_account('loyalty_funding'), v_order.discount, 'discount', v_order.id),
        private.ledger_leg(private.ledger_account('shipping_income'), -v_order.shipping_fee, 'shipping', v_order.id)
    )
    || (
        select coalesce(jsonb_agg(leg order by oi.id, n), '[]'::jsonb)
        from public.order_items as oi,
            lateral (
                values
                (
                    1,
                    private.ledger_leg(
                        private.ledger_account('vendor_pending', oi.vendor_id),
                        -oi.line_total, 'sale', oi.order_id, oi.id
                    )
                ),
                (
                    2,
                    private.ledger_leg(
                        private.ledger_account('vendor_pending', oi.vendor_id),
                        private.commission_of(oi.line_total, oi.commission_bps),
                        'commission', oi.order_id, oi.id
                    )
                ),
                (
                    3,
                    private.ledger_leg(
                        private.ledger_account('commission'),
                        -private.commission_of(oi.line_total, oi.commission_bps),
                        'commission', oi.order_id, oi.id
                    )
                )
            ) as x (n, leg)
        where oi.order_id = v_order.id
    );
end;
$$;

comment on function private.sale_legs(uuid, bigint) is
'The legs of an order''s sale paid with p_amount (its total): the money leaves unallocated for '
'each line''s vendor (pending: line total, less commission), the platform''s commission and '
'shipping income; a loyalty discount is the platform''s cost (loyalty_funding). Vendors are '
'credited the undiscounted price.';

create function private.post_sale(p_payment_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_payment public.payments%rowtype;
begin
    select * into v_payment from public.payments where id = p_payment_id;
    perform private.post_transfer(
        'payment', v_payment.id, 'sale', private.sale_legs(v_payment.order_id, v_payment.amount), 'order paid'
    );
end;
$$;

comment on function private.post_sale(uuid) is
'The order is honoured with payment p_payment_id (a full payment): its sale is posted '
'(private.sale_legs), caused by the payment.';

create function private.post_order_sale(p_order_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_total bigint;
begin
    select o.total into v_total from public.orders as o where o.id = p_order_id;
    perform private.post_transfer(
        'order', p_order_id, 'sale', private.sale_legs(p_order_id, v_total), 'instalment plan completed'
    );
end;
$$;

comment on function private.post_order_sale(uuid) is
'The order of a completed instalment plan is honoured: every instalment''s money was received '
'into unallocated as it came; the sale of the plan''s total (the order''s) is posted once, '
'caused by the order (private.sale_legs).';

create function private.payment_paid_for_order(p_payment_id uuid)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'payment' and t.cause_id = p_payment_id and t.kind = 'sale'
    )
    or exists (
        -- an instalment of a completed plan: the order's sale took its money
        select 1
        from public.instalments as i
        inner join private.ledger_transfers as t
            on t.cause_type = 'order' and t.cause_id = i.order_id and t.kind = 'sale'
        where i.payment_id = p_payment_id and i.status = 'paid'
    );
end;
$$;

comment on function private.payment_paid_for_order(uuid) is
'True when payment p_payment_id''s money went into its order''s sale: the payment the order '
'was honoured with, or an instalment that paid a completed plan. Other money (a duplicate, '
'an instalment of a plan not completed) is still unallocated.';

create function private.post_order_completion()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.post_transfer(
        'order', new.id, 'complete',
        coalesce((
            select jsonb_agg(leg)
            from (
                select a.vendor_id, (-sum(e.amount))::bigint as owed
                from private.ledger_entries as e
                inner join private.ledger_accounts as a on e.account_id = a.id
                where e.order_id = new.id and a.kind = 'vendor_pending'
                group by a.vendor_id
                having sum(e.amount) <> 0
            ) as p,
                lateral (
                    values
                    (private.ledger_leg(private.ledger_account('vendor_pending', p.vendor_id), p.owed, 'completion', new.id)),
                    (private.ledger_leg(private.ledger_account('vendor_available', p.vendor_id), -p.owed, 'completion', new.id))
                ) as x (leg)
        ), '[]'::jsonb),
        'return window closed'
    );
    return null;
end;
$$;

comment on function private.post_order_completion() is
'AFTER UPDATE trigger on orders (status becomes completed): what each vendor earned on the '
'order, net of its refunds, moves from pending to available (payable).';

create trigger orders_ledger_completion
after update of status on public.orders
for each row
when (new.status = 'completed' and old.status <> 'completed')
execute function private.post_order_completion();

-- ---------------------------------------------------------------------------------------
-- Money back: a refund is granted (the vendors and the platform give back their share),
-- then paid (the money leaves the provider)
-- ---------------------------------------------------------------------------------------

create function private.refund_allocation(
    p_payment_id uuid, p_amount bigint, p_items jsonb, p_shipping bigint
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
    v_order_id uuid;
    v_vendor_kind text;
    v_items uuid [];
    v_vendors uuid [];
    v_prices bigint [];
    v_goods_left bigint [];
    v_commission_left bigint [];
    v_take bigint [];
    v_goods bigint;
    v_ship_left bigint;
    v_disc_left bigint;
    v_total_left bigint;
    v_ship bigint := 0;
    v_disc bigint := 0;
    v_amount bigint;
    v_residual bigint;
    v_best integer;
    v_commission bigint;
    v_legs jsonb := '[]'::jsonb;
begin
    select p.order_id into v_order_id from public.payments as p where p.id = p_payment_id;
    if not private.payment_paid_for_order(p_payment_id) then
        -- this payment never paid for its order: its money is unallocated
        return jsonb_build_object(
            'amount', p_amount,
            'discount', 0,
            'legs', jsonb_build_array(
                private.ledger_leg(private.ledger_account('unallocated'), p_amount, 'refund', v_order_id)
            )
        );
    end if;
    v_vendor_kind := case when exists (
        select 1 from private.ledger_transfers as t
        where t.cause_type = 'order' and t.cause_id = v_order_id and t.kind = 'complete'
    ) then 'vendor_available' else 'vendor_pending' end;

    -- what is left of the order to give back: per line (goods, commission), shipping, discount
    select
        coalesce(array_agg(x.id order by x.id), '{}'),
        coalesce(array_agg(x.vendor_id order by x.id), '{}'),
        coalesce(array_agg(x.unit_price order by x.id), '{}'),
        coalesce(array_agg(x.goods_left order by x.id), '{}'),
        coalesce(array_agg(x.commission_left order by x.id), '{}')
    into v_items, v_vendors, v_prices, v_goods_left, v_commission_left
    from (
        select
            oi.id, oi.vendor_id, oi.unit_price,
            (-coalesce(sum(e.amount) filter (where e.kind in ('sale', 'refund')), 0))::bigint as goods_left,
            coalesce(sum(e.amount) filter (where e.kind in ('commission', 'refund_commission')), 0)::bigint
            as commission_left
        from public.order_items as oi
        left join (
            private.ledger_entries as e
            inner join private.ledger_accounts as a
                on e.account_id = a.id and a.kind in ('vendor_pending', 'vendor_available')
        ) on e.order_id = v_order_id and e.order_item_id = oi.id
        where oi.order_id = v_order_id
        group by oi.id, oi.vendor_id, oi.unit_price
    ) as x;
    select
        -coalesce(sum(e.amount) filter (where a.kind = 'shipping_income'), 0),
        coalesce(sum(e.amount) filter (where a.kind = 'loyalty_funding'), 0)
    into v_ship_left, v_disc_left
    from private.ledger_entries as e
    inner join private.ledger_accounts as a on e.account_id = a.id
    where e.order_id = v_order_id and a.kind in ('shipping_income', 'loyalty_funding');
    v_goods := coalesce((select sum(g) from unnest(v_goods_left) as g), 0);
    v_total_left := v_goods + v_ship_left - v_disc_left;
    v_take := array_fill(0::bigint, array[cardinality(v_items)]);

    if p_items is not null then
        -- named lines (a return, a parcel back at its center), at their price
        for i in 1 .. cardinality(v_items) loop
            v_take[i] := least(
                v_goods_left[i],
                v_prices[i] * coalesce((
                    select sum((x ->> 'quantity')::bigint)
                    from jsonb_array_elements(p_items) as x
                    where (x ->> 'order_item_id')::uuid = v_items[i]
                ), 0)
            );
        end loop;
        v_ship := least(coalesce(p_shipping, 0), v_ship_left);
        v_amount := coalesce((select sum(t) from unnest(v_take) as t), 0);
        v_disc := case
            when v_amount >= v_goods then v_disc_left
            when v_goods > 0 then (v_disc_left * v_amount + v_goods / 2) / v_goods
            else 0
        end;
        v_amount := v_amount + v_ship - v_disc;
    elsif p_amount >= v_total_left then
        -- everything that is left (a cancellation)
        v_take := v_goods_left;
        v_ship := v_ship_left;
        v_disc := v_disc_left;
        v_amount := v_total_left;
    else
        -- an amount: every part gives back in proportion, to the shilling
        for i in 1 .. cardinality(v_items) loop
            v_take[i] := (v_goods_left[i] * p_amount) / v_total_left;
        end loop;
        v_ship := (v_ship_left * p_amount) / v_total_left;
        v_disc := (v_disc_left * p_amount) / v_total_left;
        v_residual := p_amount - (coalesce((select sum(t) from unnest(v_take) as t), 0) + v_ship - v_disc);
        -- the rounding residual (a few shillings) goes to the lines with the most left
        while v_residual <> 0 loop
            v_best := null;
            for i in 1 .. cardinality(v_items) loop
                if (v_residual > 0 and v_take[i] < v_goods_left[i]
                    and (v_best is null or v_goods_left[i] - v_take[i] > v_goods_left[v_best] - v_take[v_best]))
                    or (v_residual < 0 and v_take[i] > 0 and (v_best is null or v_take[i] > v_take[v_best]))
                then
                    v_best := i;
                end if;
            end loop;
            if v_best is not null then
                v_take[v_best] := v_take[v_best] + sign(v_residual)::bigint;
            elsif v_residual > 0 and v_ship < v_ship_left then
                v_ship := v_ship + 1;
            else
                v_disc := v_disc - sign(v_residual)::bigint;
            end if;
            v_residual := v_residual - sign(v_residual)::bigint;
        end loop;
        v_amount := p_amount;
    end if;

    for i in 1 .. cardinality(v_items) loop
        continue when v_take[i] = 0;
        v_commission := case
            when v_take[i] = v_goods_left[i] then v_commission_left[i]
            else (v_commission_left[i] * v_take[i] + v_goods_left[i] / 2) / v_goods_left[i]
        end;
        v_legs := v_legs || jsonb_build_array(
            private.ledger_leg(
                private.ledger_account(v_vendor_kind, v_vendors[i]), v_take[i], 'refund', v_order_id, v_items[i]
            ),
            private.ledger_leg(
                private.ledger_account(v_vendor_kind, v_vendors[i]), -v_commission, 'refund_commission',
                v_order_id, v_items[i]
            ),
            private.ledger_leg(
                private.ledger_account('commission'), v_commission, 'refund_commission', v_order_id, v_items[i]
            )
        );
    end loop;
    v_legs := v_legs || jsonb_build_array(
        private.ledger_leg(private.ledger_account('shipping_income'), v_ship, 'refund_shipping', v_order_id),
        private.ledger_leg(private.ledger_account('loyalty_funding'), -v_disc, 'refund_discount', v_order_id)
    );
    return jsonb_build_object('amount', v_amount, 'legs', v_legs, 'discount', v_disc);
end;
$$;

comment on function private.refund_allocation(uuid, bigint, jsonb, bigint) is
'Who gives back what for a refund from payment p_payment_id, as ledger legs (the refunds_due '
'leg is the caller''s): named lines (p_items [{order_item_id, quantity}] at their price, plus '
'p_shipping) with the loyalty discount in proportion; else p_amount spread over everything '
'left of the order in proportion (all of it for a cancellation), rounded to the shilling. A '
'line''s vendor gives back its price less the commission on it, from pending earnings, or '
'from available ones once the order completed. A payment that never paid for its order '
'(private.payment_paid_for_order) gives back from unallocated. Returns {amount, legs, '
'discount}.';

create function private.split_refund_allocation(p_allocation jsonb, p_amounts bigint[])
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
    v_legs jsonb := p_allocation -> 'legs';
    v_total bigint := (p_allocation ->> 'amount')::bigint;
    v_count integer := jsonb_array_length(p_allocation -> 'legs');
    v_full bigint [];
    v_given bigint [];
    v_part bigint [];
    v_residual bigint;
    v_best integer;
    v_out jsonb := '[]'::jsonb;
    v_leg jsonb;
    v_part_legs jsonb;
begin
    select coalesce(array_agg((l ->> 'amount')::bigint order by n), '{}')
    into v_full
    from jsonb_array_elements(v_legs) with ordinality as x (l, n);
    v_given := array_fill(0::bigint, array[greatest(v_count, 1)]);
    for k in 1 .. cardinality(p_amounts) loop
        v_part := array_fill(0::bigint, array[greatest(v_count, 1)]);
        if k = cardinality(p_amounts) then
            -- the last share takes what is left of every leg: the shares add up exactly
            for j in 1 .. v_count loop
                v_part[j] := v_full[j] - v_given[j];
            end loop;
        else
            -- every leg in proportion (toward zero: a commission's two legs stay equal) ...
            for j in 1 .. v_count loop
                v_part[j] := trunc(v_full[j]::numeric * p_amounts[k] / v_total)::bigint;
            end loop;
            -- ... and the few shillings of rounding on the positive leg with the most left
            v_residual := p_amounts[k] - coalesce((select sum(x) from unnest(v_part) as x), 0);
            while v_residual <> 0 loop
                v_best := null;
                for j in 1 .. v_count loop
                    if v_full[j] > 0 and v_full[j] - v_given[j] - v_part[j] - sign(v_residual) >= 0
                        and v_part[j] + sign(v_residual) >= 0
                        and (v_best is null
                            or v_full[j] - v_given[j] - v_part[j] > v_full[v_best] - v_given[v_best] - v_part[v_best])
                    then
                        v_best := j;
                    end if;
                end loop;
                if v_best is null then
                    raise exception 'a refund cannot be split this way' using errcode = '22023';
                end if;
                v_part[v_best] := v_part[v_best] + sign(v_residual)::bigint;
                v_residual := v_residual - sign(v_residual)::bigint;
            end loop;
        end if;
        v_part_legs := '[]'::jsonb;
        for j in 1 .. v_count loop
            v_leg := (v_legs -> (j - 1)) || jsonb_build_object('amount', v_part[j]);
            v_part_legs := v_part_legs || jsonb_build_array(v_leg);
            v_given[j] := v_given[j] + v_part[j];
        end loop;
        v_out := v_out || jsonb_build_array(jsonb_build_object(
            'amount', p_amounts[k],
            'legs', v_part_legs,
            'discount', -coalesce((
                select sum((l ->> 'amount')::bigint) from jsonb_array_elements(v_part_legs) as l
                where l ->> 'kind' = 'refund_discount'
            ), 0)
        ));
    end loop;
    return v_out;
end;
$$;

comment on function private.split_refund_allocation(jsonb, bigint[]) is
'Splits one refund allocation (private.refund_allocation: legs whose sum is its amount) into '
'shares of p_amounts (adding up to it), one per payment an instalment plan''s order is refunded '
'from: every leg in proportion, rounded toward zero (a commission''s two legs stay equal), the '
'residual shillings on the positive leg with the most left, the last share taking what is '
'left, so the shares'' legs add up exactly to the allocation''s. Returns a JSON array of '
'{amount, legs, discount}.';

create function private.post_refund_grant(p_refund_id uuid, p_allocation jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_refund public.refunds%rowtype;
begin
    select * into v_refund from public.refunds where id = p_refund_id;
    perform private.post_transfer(
        'refund', v_refund.id, 'grant',
        p_allocation -> 'legs' || jsonb_build_array(
            private.ledger_leg(private.ledger_account('refunds_due'), -v_refund.amount, 'refund', v_refund.order_id)
        ),
        v_refund.source || ' refund granted'
    );
end;
$$;

comment on function private.post_refund_grant(uuid, jsonb) is
'A refund is granted: the shares of private.refund_allocation are taken back (from the '
'vendors, the platform, unallocated money) into refunds_due, owed to the customer.';

create function private.post_refund_paid(p_refund public.refunds)
returns void
language plpgsql
set search_path = ''
as $$
begin
    perform private.post_transfer(
        'refund', p_refund.id, 'paid',
        jsonb_build_array(
            private.ledger_leg(private.ledger_account('refunds_due'), p_refund.amount, 'refund_paid', p_refund.order_id),
            private.ledger_leg(
                private.ledger_account('provider', null, p_refund.provider),
                -p_refund.amount, 'refund_paid', p_refund.order_id
            )
        ),
        'refund ' || p_refund.status
    );
end;
$$;

comment on function private.post_refund_paid(public.refunds) is
'A refund reached the customer (succeeded, or paid by hand): the money leaves the payment''s '
'provider account.';

alter table private.ledger_accounts enable row level security;
alter table private.ledger_transfers enable row level security;
alter table private.ledger_entries enable row level security;
revoke all on table private.ledger_accounts, private.ledger_transfers, private.ledger_entries
from anon, authenticated, service_role;

-- Nothing in `private` is executable unless granted by name.
revoke execute on all functions in schema private from public;
