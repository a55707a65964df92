-- WATS schema, part 8: loyalty points and instalment plans. Tables only: the points'
-- history is written with the ledger (20261127001150_loyalty.sql); instalment plans (lipa
-- kidogo kidogo: pay in 2-4 instalments before the goods ship, never credit) by checkout and
-- the functions of 20261127001160_instalments.sql. Customers read their own rows.

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

create table public.bnpl_orders (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null unique,
    customer_id uuid not null,
    plan text not null constraint bnpl_orders_plan_allowed check (
        plan in ('pay_in_2', 'pay_in_3', 'pay_in_4')
    ),
    instalment_count integer not null constraint bnpl_orders_instalment_count_matches_plan check (
        instalment_count = substr(plan, 8)::integer
    ),
    provider public.payment_provider not null,
    total bigint not null constraint bnpl_orders_total_positive check (total > 0),
    currency text not null default 'TZS' constraint bnpl_orders_currency_tzs check (
        currency = 'TZS'
    ),
    interval_days integer not null constraint bnpl_orders_interval_days_range check (
        interval_days between 1 and 60
    ),
    status text not null default 'pending' constraint bnpl_orders_status_allowed check (
        status in ('pending', 'active', 'completed', 'cancelled')
    ),
    cancel_reason text constraint bnpl_orders_cancel_reason_length check (
        char_length(cancel_reason) <= 500
    ),
    activated_at timestamptz,
    completed_at timestamptz,
    cancelled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint bnpl_orders_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete restrict,
    -- Target of instalments' (customer_id, plan_id) foreign key.
    constraint bnpl_orders_customer_id_id_key unique (customer_id, id)
);

comment on table public.bnpl_orders is
'An instalment plan of an order (lipa kidogo kidogo, layaway, not credit): the customer pays '
'the order''s total in 2-4 instalments by push, with no fee and no interest; the stock stays '
'reserved and the goods ship when the last one is paid. Created by checkout, moved only by '
'SQL functions (20261127001160_instalments.sql). Read by the customer and admins.';
comment on column public.bnpl_orders.customer_id is
'The order''s customer (composite foreign key), kept here so policies need no join.';
comment on column public.bnpl_orders.plan is
'pay_in_2, pay_in_3 or pay_in_4: how many instalments (instalment_count).';
comment on column public.bnpl_orders.provider is
'The mobile-money provider every instalment is pushed through (the one chosen at checkout).';
comment on column public.bnpl_orders.total is
'What the instalments add up to: the order''s total, no fee and no interest.';
comment on column public.bnpl_orders.interval_days is
'Days between two instalments (setting instalments.interval_days when the plan was made).';
comment on column public.bnpl_orders.status is
'pending (first instalment not paid yet) -> active -> completed (last instalment paid: the '
'order is paid and ships); pending -> cancelled (first instalment failed or expired); active '
'-> cancelled (an instalment unpaid past the grace period: paid instalments refunded in '
'full). Machine bnpl.';

create index bnpl_orders_customer_id_order_id_idx on public.bnpl_orders (customer_id, order_id);
-- The scheduled job walks the active plans.
create index bnpl_orders_active_idx on public.bnpl_orders (created_at) where status = 'active';

create trigger bnpl_orders_status_transition
before update of status on public.bnpl_orders
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'bnpl',
    'active:activated_at',
    'completed:completed_at',
    'cancelled:cancelled_at'
);

create trigger bnpl_orders_touch_updated_at
before update on public.bnpl_orders
for each row execute function private.touch_updated_at();

create table public.instalments (
    id uuid primary key default gen_random_uuid(),
    plan_id uuid not null,
    order_id uuid not null,
    customer_id uuid not null,
    number integer not null constraint instalments_number_range check (number between 1 and 4),
    amount bigint not null constraint instalments_amount_positive check (amount > 0),
    currency text not null default 'TZS' constraint instalments_currency_tzs check (
        currency = 'TZS'
    ),
    due_at timestamptz not null,
    status text not null default 'scheduled' constraint instalments_status_allowed check (
        status in ('scheduled', 'paid', 'cancelled')
    ),
    payment_id uuid references public.payments (id) on delete restrict,
    reminded_at timestamptz,
    paid_at timestamptz,
    cancelled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint instalments_plan_number_key unique (plan_id, number),
    constraint instalments_plan_fkey foreign key (customer_id, plan_id)
    references public.bnpl_orders (customer_id, id) on delete restrict,
    constraint instalments_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete restrict,
    constraint instalments_paid_has_payment check ((status = 'paid') = (payment_id is not null))
);

comment on table public.instalments is
'The schedule of an instalment plan, fixed when the plan is made: one row per instalment '
'(number, amount, due time), the amounts adding up exactly to the plan''s total. Each is paid '
'by a payment of its own (payments.instalment_id; retries are new payments). Read by the '
'customer and admins; written only by SQL functions. Machine instalment; audited.';
comment on column public.instalments.customer_id is
'The order''s customer (composite foreign keys), kept here so policies need no join.';
comment on column public.instalments.due_at is
'When the scheduled job pushes it (the first one: at checkout). Unpaid after '
'instalments.grace_days the plan is cancelled.';
comment on column public.instalments.status is
'scheduled -> paid (payment_id: the succeeded payment that paid it) | cancelled (with its '
'plan).';
comment on column public.instalments.reminded_at is
'When the customer was reminded that it falls due (instalments.reminder_hours before).';

create index instalments_customer_id_plan_id_idx on public.instalments (customer_id, plan_id);
create index instalments_customer_id_order_id_idx on public.instalments (customer_id, order_id);
create index instalments_payment_id_idx on public.instalments (payment_id);
-- The scheduled job picks the unpaid ones by due time.
create index instalments_scheduled_due_at_idx on public.instalments (due_at)
where status = 'scheduled';

create trigger instalments_status_transition
before update of status on public.instalments
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'instalment', 'paid:paid_at', 'cancelled:cancelled_at'
);

create trigger instalments_touch_updated_at
before update on public.instalments
for each row execute function private.touch_updated_at();

-- Each instalment is paid by payments of its own, on the same rails as a full payment.
alter table public.payments
add column instalment_id uuid references public.instalments (id) on delete restrict;

comment on column public.payments.instalment_id is
'The instalment this payment pays (null: the payment is for the whole order).';

create index payments_instalment_id_idx on public.payments (instalment_id);

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.loyalty_points enable row level security;
alter table public.bnpl_orders enable row level security;
alter table public.instalments enable row level security;

revoke all on table public.loyalty_points, public.bnpl_orders, public.instalments
from anon, authenticated, service_role;
grant select on table public.loyalty_points, public.bnpl_orders, public.instalments
to authenticated, service_role;

create policy "customers read their own points"
on public.loyalty_points
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every points entry"
on public.loyalty_points
for select
to wats_admin
using ((select private.is_admin()));

create policy "customers read their own instalment plans"
on public.bnpl_orders
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every instalment plan"
on public.bnpl_orders
for select
to wats_admin
using ((select private.is_admin()));

create policy "customers read their own instalments"
on public.instalments
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every instalment"
on public.instalments
for select
to wats_admin
using ((select private.is_admin()));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
