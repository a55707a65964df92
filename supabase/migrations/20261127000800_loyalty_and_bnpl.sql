-- WATS schema, part 8: loyalty points and buy-now-pay-later. Tables only: the points'
-- history is written with the ledger (20261127001150_loyalty.sql); BNPL plans by SQL
-- functions of a later issue (plan creation, instalment collection). Customers read their
-- own rows.

create table public.loyalty_points (
    id uuid primary key default gen_random_uuid(),
    customer_id uuid not null references public.profiles (id) on delete restrict,
    order_id uuid references public.orders (id) on delete restrict,
    points integer not null constraint loyalty_points_non_zero check (points <> 0),
    reason text not null constraint loyalty_points_reason_allowed check (
        reason in (
            'purchase', 'redemption', 'redemption_released', 'redemption_refunded',
            'refund_reversal', 'adjustment', 'expiry', 'bonus'
        )
    ),
    note text constraint loyalty_points_note_length check (char_length(note) <= 500),
    created_at timestamptz not null default now()
);

comment on table public.loyalty_points is
'A customer''s readable history of their points: + earned, released or given back, - spent, '
'reversed or expired. Written with the ledger (private.post_transfer, one row per move of '
'the customer''s points account), so its sum is their balance (public.loyalty_balance() '
'reads the ledger). Read by the customer and admins; append-only.';
comment on column public.loyalty_points.points is 'Points added (> 0) or taken (< 0).';
comment on column public.loyalty_points.order_id is 'Order that earned or spent the points.';

create index loyalty_points_customer_id_created_at_idx on public.loyalty_points (
    customer_id, created_at
);
create index loyalty_points_order_id_idx on public.loyalty_points (order_id);

create trigger loyalty_points_append_only
before update or delete on public.loyalty_points
for each row execute function private.forbid_change();

create trigger loyalty_points_no_truncate
before truncate on public.loyalty_points
for each statement execute function private.forbid_change();

create function private.is_valid_instalment_schedule(p_schedule jsonb, p_total bigint)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
    v_item jsonb;
    v_sum bigint := 0;
begin
    if p_schedule is null or jsonb_typeof(p_schedule) <> 'array'
        or jsonb_array_length(p_schedule) not between 2 and 12 then
        return false;
    end if;
    for v_item in select e.value from jsonb_array_elements(p_schedule) as e loop
        if jsonb_typeof(v_item) <> 'object'
            or coalesce(v_item ->> 'due_on', '') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
            or jsonb_typeof(v_item -> 'amount') <> 'number'
            or (v_item ->> 'amount') !~ '^[1-9][0-9]{0,14}$'
            or (v_item ? 'paid_at' and jsonb_typeof(v_item -> 'paid_at') not in ('string', 'null'))
        then
            return false;
        end if;
        v_sum := v_sum + (v_item ->> 'amount')::bigint;
    end loop;
    return v_sum = p_total;
end;
$$;

comment on function private.is_valid_instalment_schedule(jsonb, bigint) is
'Shape of bnpl_orders.schedule: a JSON array of 2-12 objects {"due_on": "YYYY-MM-DD", '
'"amount": whole TZS > 0, "paid_at": timestamp string or null} whose amounts add up to the '
'plan total.';

grant execute on function private.is_valid_instalment_schedule(jsonb, bigint)
to authenticated, service_role;

create table public.bnpl_orders (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null unique,
    customer_id uuid not null,
    plan text not null constraint bnpl_orders_plan_allowed check (
        plan in ('pay_in_2', 'pay_in_3', 'pay_in_4')
    ),
    principal bigint not null constraint bnpl_orders_principal_positive check (principal > 0),
    fee bigint not null default 0 constraint bnpl_orders_fee_non_negative check (fee >= 0),
    total bigint not null,
    currency text not null default 'TZS' constraint bnpl_orders_currency_tzs check (
        currency = 'TZS'
    ),
    schedule jsonb not null,
    status text not null default 'pending' constraint bnpl_orders_status_allowed check (
        status in ('pending', 'active', 'completed', 'defaulted', 'cancelled')
    ),
    activated_at timestamptz,
    completed_at timestamptz,
    defaulted_at timestamptz,
    cancelled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint bnpl_orders_total_adds_up check (total = principal + fee),
    constraint bnpl_orders_schedule_shape check (
        private.is_valid_instalment_schedule(schedule, total)
    ),
    constraint bnpl_orders_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete restrict
);

comment on table public.bnpl_orders is
'Buy-now-pay-later plan of an order: the instalment schedule and its status (machine bnpl). '
'Read by the customer and admins; written only by SQL functions.';
comment on column public.bnpl_orders.customer_id is
'The order''s customer (composite foreign key), kept here so policies need no join.';
comment on column public.bnpl_orders.principal is 'Amount financed, whole TZS.';
comment on column public.bnpl_orders.fee is 'Plan fee, whole TZS.';
comment on column public.bnpl_orders.total is 'principal + fee: what the instalments add up to.';
comment on column public.bnpl_orders.schedule is
'Instalments: [{"due_on": "YYYY-MM-DD", "amount": n, "paid_at": null | timestamp}, ...], '
'checked by private.is_valid_instalment_schedule().';
comment on column public.bnpl_orders.status is
'pending -> active | cancelled; active -> completed | defaulted; defaulted -> completed.';

create index bnpl_orders_customer_id_order_id_idx on public.bnpl_orders (customer_id, order_id);

create trigger bnpl_orders_status_transition
before update of status on public.bnpl_orders
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'bnpl',
    'active:activated_at',
    'completed:completed_at',
    'defaulted:defaulted_at',
    'cancelled:cancelled_at'
);

create trigger bnpl_orders_touch_updated_at
before update on public.bnpl_orders
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.loyalty_points enable row level security;
alter table public.bnpl_orders enable row level security;

revoke all on table public.loyalty_points, public.bnpl_orders
from anon, authenticated, service_role;
grant select on table public.loyalty_points, public.bnpl_orders to authenticated, service_role;

create policy "customers read their own points, admins read all"
on public.loyalty_points
for select
to authenticated
using (customer_id = any((select private.visible_user_ids())::uuid[]));

create policy "customers read their own bnpl plans, admins read all"
on public.bnpl_orders
for select
to authenticated
using (customer_id = any((select private.visible_user_ids())::uuid[]));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
