-- WATS schema, part 9: notifications (written by SQL functions; the owner may only mark
-- them read) and the audit log (append-only for every role, admins and the owner
-- included), with the triggers that audit every state and privilege change.

-- ---------------------------------------------------------------------------------------
-- Notifications
-- ---------------------------------------------------------------------------------------

create table public.notifications (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references public.profiles (id) on delete cascade,
    type text not null constraint notifications_type_allowed check (
        type in (
            'order_paid',
            'order_cancelled',
            'order_expired',
            'order_shipped',
            'order_delivered',
            'payment_failed',
            'payment_review',
            'new_order',
            'return_update',
            'payout',
            'system'
        )
    ),
    title text not null constraint notifications_title_length check (
        char_length(title) between 1 and 140
    ),
    body text constraint notifications_body_length check (char_length(body) <= 1000),
    data jsonb not null default '{}'::jsonb constraint notifications_data_object check (
        jsonb_typeof(data) = 'object'
    ),
    read_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

comment on table public.notifications is
'In-app messages to one user (customer or vendor). Written only by SQL functions; the user '
'reads them and may only mark them read (read_at); admins read all.';
comment on column public.notifications.type is
'What happened; the apps pick icon and link from it (new_order is for vendors).';
comment on column public.notifications.data is
'Ids the apps need to link to (order_id, payment_id ...).';
comment on column public.notifications.read_at is
'When the user marked it read. Can be set once (the server''s now() is stored) and never '
'cleared.';

create index notifications_user_id_created_at_idx on public.notifications (
    user_id, created_at desc
);

create function private.guard_notification_read()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if not private.is_api_user() then
        return new;
    end if;
    if old.read_at is not null then
        if new.read_at is null then
            raise exception 'a read notification cannot be marked unread' using errcode = '42501';
        end if;
        new.read_at := old.read_at;
    elsif new.read_at is not null then
        new.read_at := now();
    end if;
    return new;
end;
$$;

comment on function private.guard_notification_read() is
'BEFORE UPDATE OF read_at trigger on notifications: for clients, read_at goes from null to '
'now() once and never back.';

create trigger notifications_guard_read
before update of read_at on public.notifications
for each row execute function private.guard_notification_read();

create trigger notifications_touch_updated_at
before update on public.notifications
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Audit log
-- ---------------------------------------------------------------------------------------

create table public.audit_logs (
    id uuid primary key default gen_random_uuid(),
    actor_id uuid,
    actor_role text not null,
    action text not null constraint audit_logs_action_length check (
        char_length(action) between 1 and 80
    ),
    entity_type text not null constraint audit_logs_entity_type_length check (
        char_length(entity_type) between 1 and 80
    ),
    entity_id uuid,
    before jsonb,
    after jsonb,
    context jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now()
);

comment on table public.audit_logs is
'Who changed what, when: one row per audited change (order, payment, shipment, return, '
'BNPL and vendor status; roles; commission and payout wallet). Append-only for every role, '
'admins and the table owner included (updates, deletes and truncates raise). Admins read '
'it; SQL functions and triggers write it.';
comment on column public.audit_logs.actor_id is
'auth.uid() of the request that made the change; null for the service role and the system. '
'No foreign key: the log outlives users.';
comment on column public.audit_logs.actor_role is
'customer, vendor or admin (from profiles), service_role, anon, or system (no request).';
comment on column public.audit_logs.action is
'insert / update for trigger rows (table in entity_type), or a verb chosen by the SQL '
'function that called private.write_audit().';
comment on column public.audit_logs.entity_type is 'Table (or concept) the row is about.';
comment on column public.audit_logs.before is 'Audited columns before the change (null on insert).';
comment on column public.audit_logs.after is 'Audited columns after the change.';
comment on column public.audit_logs.context is
'Extra facts, e.g. the provider event id that caused a payment change.';

create index audit_logs_entity_idx on public.audit_logs (entity_type, entity_id, created_at);
create index audit_logs_actor_id_idx on public.audit_logs (actor_id);
create index audit_logs_created_at_idx on public.audit_logs (created_at);

create trigger audit_logs_append_only
before update or delete on public.audit_logs
for each row execute function private.forbid_change();

create trigger audit_logs_no_truncate
before truncate on public.audit_logs
for each statement execute function private.forbid_change();

create function private.current_actor_role()
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select coalesce(
            private.current_app_role(),
            nullif((select auth.jwt()) ->> 'role', ''),
            'system'
        )
    );
end;
$$;

comment on function private.current_actor_role() is
'Role recorded in audit_logs.actor_role for the current request.';

create function private.write_audit(
    p_action text,
    p_entity_type text,
    p_entity_id uuid,
    p_before jsonb default null,
    p_after jsonb default null,
    p_context jsonb default '{}'::jsonb
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_result uuid;
begin
    insert into public.audit_logs (
        actor_id, actor_role, action, entity_type, entity_id, before, after, context
    )
    values (
        (select auth.uid()),
        private.current_actor_role(),
        p_action,
        p_entity_type,
        p_entity_id,
        p_before,
        p_after,
        coalesce(p_context, '{}'::jsonb)
        || coalesce(nullif(current_setting('wats.audit_context', true), '')::jsonb, '{}'::jsonb)
    )
    returning id
    into v_result;
    return v_result;
end;
$$;

comment on function private.write_audit(text, text, uuid, jsonb, jsonb, jsonb) is
'Appends one audit row for the current request (actor from auth.uid() and profiles). The '
'context also holds the transaction-local setting wats.audit_context (JSON) when a SQL '
'function set it, e.g. the provider event behind a payment change. For SQL functions and '
'triggers; not executable by API roles.';

create function private.audit_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_row jsonb := to_jsonb(new);
    v_before jsonb;
    v_after jsonb;
begin
    select jsonb_object_agg(c.col, v_row -> c.col) into v_after from unnest(tg_argv) as c (col);
    if tg_op = 'UPDATE' then
        v_row := to_jsonb(old);
        select jsonb_object_agg(c.col, v_row -> c.col) into v_before from unnest(tg_argv) as c (col);
        if v_before = v_after then
            return null;
        end if;
    end if;
    -- private.write_audit, inlined: this runs on every payment and order change
    insert into public.audit_logs (
        actor_id, actor_role, action, entity_type, entity_id, before, after, context
    )
    values (
        (select auth.uid()),
        private.current_actor_role(),
        lower(tg_op),
        tg_table_name,
        new.id,
        v_before,
        v_after,
        coalesce(nullif(current_setting('wats.audit_context', true), '')::jsonb, '{}'::jsonb)
    );
    return null;
end;
$$;

comment on function private.audit_changes() is
'AFTER INSERT/UPDATE trigger: appends an audit row with the trigger-argument columns before '
'and after, when any of them changed (entity_type = table name, entity_id = row id).';

-- What is audited. Payments: every state change and review flag (the money invariants
-- check that every payment status is in the log).
create trigger profiles_audit
after update of role on public.profiles
for each row execute function private.audit_changes('role');

create trigger vendors_audit
after insert or update of status on public.vendors
for each row execute function private.audit_changes('status', 'owner_id');

create function private.audit_vendor_account_changes()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if (old.commission_bps, old.payout_provider, old.payout_msisdn)
        is distinct from (new.commission_bps, new.payout_provider, new.payout_msisdn) then
        perform private.write_audit(
            'update',
            'vendor_accounts',
            new.vendor_id,
            jsonb_build_object(
                'commission_bps', old.commission_bps,
                'payout_provider', old.payout_provider,
                'payout_msisdn', old.payout_msisdn
            ),
            jsonb_build_object(
                'commission_bps', new.commission_bps,
                'payout_provider', new.payout_provider,
                'payout_msisdn', new.payout_msisdn
            )
        );
    end if;
    return null;
end;
$$;

comment on function private.audit_vendor_account_changes() is
'AFTER UPDATE trigger on vendor_accounts (keyed by vendor_id): audits commission and payout '
'wallet changes.';

create trigger vendor_accounts_audit
after update of commission_bps, payout_provider, payout_msisdn on public.vendor_accounts
for each row execute function private.audit_vendor_account_changes();

create trigger orders_audit
after insert or update of status on public.orders
for each row execute function private.audit_changes('status', 'total');

create trigger payments_audit
after insert or update of status, needs_review, review_reason, refunded_amount
on public.payments
for each row execute function private.audit_changes(
    'status', 'amount', 'needs_review', 'review_reason', 'refunded_amount', 'provider_txn_id'
);

create trigger shipments_audit
after insert or update of status, carrier, tracking_number on public.shipments
for each row execute function private.audit_changes('status', 'carrier', 'tracking_number');

create trigger returns_audit
after insert or update of status, refund_amount on public.returns
for each row execute function private.audit_changes('status', 'quantity', 'refund_amount');

create trigger bnpl_orders_audit
after insert or update of status on public.bnpl_orders
for each row execute function private.audit_changes('status');

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.notifications enable row level security;
alter table public.audit_logs enable row level security;

revoke all on table public.notifications, public.audit_logs from anon, authenticated, service_role;

grant select on table public.notifications to authenticated, service_role;
grant update (read_at) on table public.notifications to authenticated;
grant select on table public.audit_logs to authenticated, service_role;

create policy "users read their own notifications, admins read all"
on public.notifications
for select
to authenticated
using (user_id = any((select private.visible_user_ids())::uuid[]));

create policy "users mark their own notifications read"
on public.notifications
for update
to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));

create policy "admins read the audit log"
on public.audit_logs
for select
to authenticated
using ((select private.is_admin()));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
