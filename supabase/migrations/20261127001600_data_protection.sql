-- WATS schema: data protection (Tanzania's Personal Data Protection Act 2022; issue 12).
--
-- 1. Retention: public.apply_retention(), run daily by the scheduled job `apply-retention`
--    (private.scheduled_jobs: pg_cron on hosted projects), removes or anonymises what the
--    business no longer needs, after periods kept in private.settings (retention.*):
--      - raw provider events (private.payment_events): body, headers, caller address and
--        request path removed, phone masked; the parsed facts (outcome, amount, references)
--        stay, as they explain the money;
--      - read in-app notifications: deleted (their deliveries go with them);
--      - finished notification deliveries (sent, failed, skipped): deleted;
--      - money and audit rows (orders, payments, vendor payouts, audit_logs): KEPT (tax law
--        asks for records to be kept), with phones masked (255****5678) and delivery
--        addresses cut to region and district.
--    Nothing in schema auth is touched: GoTrue owns its OTP and flow-state rows and cleans
--    them itself. A second run changes nothing (every step only picks rows not yet done).
-- 2. Access: public.export_my_data() gives a signed-in person everything we hold about
--    them, as one JSON document.
-- docs/data-protection.md is the data map and explains each period.

insert into private.settings (key, value, description)
values
(
    'retention.payment_event_days', '90',
    'Raw provider events older than this (days) lose body, headers, caller address, request '
    'path and the full phone; the parsed outcome, amount and references are kept.'
),
(
    'retention.read_notification_days', '180',
    'In-app notifications read more than this many days ago are deleted.'
),
(
    'retention.delivery_days', '30',
    'Finished notification deliveries (sent, failed, skipped) older than this (days) are '
    'deleted.'
),
(
    'retention.money_personal_data_days', '730',
    'Orders, payments, payouts and audit rows older than this (days) keep the row (tax '
    'records, at least 5 years) but their phones are masked and delivery addresses cut to '
    'region and district.'
);

-- ---------------------------------------------------------------------------------------
-- A phone column that may hold a masked phone once its row is past retention
-- ---------------------------------------------------------------------------------------

create domain public.msisdn_or_masked as text
constraint msisdn_or_masked_format check (value ~ '^255([0-9]{9}|[*]{4}[0-9]{4})$');

comment on domain public.msisdn_or_masked is
'The phone of a kept money record: a public.msisdn (255 + 9 digits) while the row is within '
'retention.money_personal_data_days, masked by public.apply_retention() after it '
'(255****5678). New rows are written from a profile or a wallet, both public.msisdn.';

alter table public.orders alter column phone type public.msisdn_or_masked;
alter table public.payments alter column msisdn type public.msisdn_or_masked;
alter table private.vendor_payouts alter column msisdn type public.msisdn_or_masked;

alter table private.payment_events add column personal_data_removed_at timestamptz;

comment on column private.payment_events.personal_data_removed_at is
'When public.apply_retention() removed the body, headers, caller address and request path '
'and masked the phone (retention.payment_event_days after receipt); null before.';

-- ---------------------------------------------------------------------------------------
-- Masking helpers
-- ---------------------------------------------------------------------------------------

create function private.mask_phones_in_json(p_value jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.regexp_replace(
        p_value::text, '"255[0-9]{5}([0-9]{4})"', '"255****\1"', 'g'
    )::jsonb
$$;

comment on function private.mask_phones_in_json(jsonb) is
'The JSON with every string value that is a whole Tanzanian phone (255 + 9 digits) masked '
'as 255****5678; other values untouched. Null stays null.';

create function private.reduced_address(p_address jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select pg_catalog.jsonb_build_object(
        'recipient_name', '(removed)',
        'region', p_address ->> 'region',
        'district', p_address ->> 'district',
        'street', '(removed)'
    )
$$;

comment on function private.reduced_address(jsonb) is
'A delivery address past retention: region and district kept (they explain shipping fees '
'and delivery times), recipient name and street replaced by (removed), the rest dropped. '
'Still a valid shipping address (private.is_valid_shipping_address).';

-- ---------------------------------------------------------------------------------------
-- audit_logs stays append-only, except that retention may mask its phones
-- ---------------------------------------------------------------------------------------

create function private.audit_logs_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if
        tg_op = 'UPDATE'
        and coalesce(pg_catalog.current_setting('wats.retention', true), '') = 'mask'
        and (new.id, new.actor_id, new.actor_role, new.action, new.entity_type, new.entity_id,
            new.created_at)
        is not distinct from (old.id, old.actor_id, old.actor_role, old.action, old.entity_type,
            old.entity_id, old.created_at)
        and new.before is not distinct from private.mask_phones_in_json(old.before)
        and new.after is not distinct from private.mask_phones_in_json(old.after)
        and new.context is not distinct from private.mask_phones_in_json(old.context)
    then
        return new;
    end if;
    raise exception '%.% is append-only: % is not allowed', tg_table_schema, tg_table_name, tg_op
        using errcode = '42501';
end;
$$;

comment on function private.audit_logs_guard() is
'Trigger keeping public.audit_logs append-only for every role, the owner included: UPDATE '
'and DELETE raise 42501, except the one update public.apply_retention() makes (with the '
'transaction setting wats.retention = mask): the same row with its phones masked, and '
'nothing else changed.';

drop trigger audit_logs_append_only on public.audit_logs;

create trigger audit_logs_append_only
before update or delete on public.audit_logs
for each row execute function private.audit_logs_guard();

comment on table public.audit_logs is
'Who changed what, when: one row per audited change (order, payment, shipment, return, '
'BNPL and vendor status; roles; commission and payout wallet). Append-only for every role, '
'admins and the table owner included (updates, deletes and truncates raise), except the '
'retention job masking its phones after retention.money_personal_data_days '
'(private.audit_logs_guard). Admins read it; SQL functions and triggers write it.';

-- ---------------------------------------------------------------------------------------
-- The retention job
-- ---------------------------------------------------------------------------------------

create function public.apply_retention()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_events integer;
    v_notifications integer;
    v_deliveries integer;
    v_orders integer;
    v_payments integer;
    v_payouts integer;
    v_audit integer;
    v_money_before timestamptz := now()
        - pg_catalog.make_interval(days => private.setting_int('retention.money_personal_data_days')::integer);
begin
    -- Raw provider events: what the provider sent goes, what we understood of it stays. An
    -- event of a payment still waiting for an admin's review keeps its evidence.
    update private.payment_events as e
    set
        body = null,
        headers = '{}'::jsonb,
        remote_addr = null,
        request_path = null,
        msisdn = case when e.msisdn is not null then private.mask_phone(e.msisdn) end,
        personal_data_removed_at = now()
    where
        e.personal_data_removed_at is null
        and e.received_at < now()
        - pg_catalog.make_interval(days => private.setting_int('retention.payment_event_days')::integer)
        and not exists (
            select 1 from public.payments as p
            where p.id = e.payment_id and p.needs_review and p.reviewed_at is null
        );
    get diagnostics v_events = row_count;

    delete from private.notification_deliveries as d
    where
        d.status in ('sent', 'failed', 'skipped')
        and d.updated_at < now()
        - pg_catalog.make_interval(days => private.setting_int('retention.delivery_days')::integer);
    get diagnostics v_deliveries = row_count;

    delete from public.notifications as n
    where
        n.read_at < now()
        - pg_catalog.make_interval(
            days => private.setting_int('retention.read_notification_days')::integer
        );
    get diagnostics v_notifications = row_count;

    -- Money records are kept; their personal data is reduced. Open payments, payments
    -- awaiting review and orders still moving are left alone.
    update public.orders as o
    set
        phone = private.mask_phone(o.phone),
        shipping_address = private.reduced_address(o.shipping_address)
    where
        o.created_at < v_money_before
        and o.phone ~ '^255[0-9]{9}$'
        and o.status in ('completed', 'cancelled', 'expired', 'returned', 'delivered')
        and not exists (
            select 1 from public.payments as p
            where
                p.order_id = o.id
                and (
                    p.status in ('pending', 'initiated', 'ambiguous')
                    or (p.needs_review and p.reviewed_at is null)
                )
        );
    get diagnostics v_orders = row_count;

    update public.payments as p
    set msisdn = private.mask_phone(p.msisdn)
    where
        p.created_at < v_money_before
        and p.msisdn ~ '^255[0-9]{9}$'
        and p.status not in ('pending', 'initiated', 'ambiguous')
        and not (p.needs_review and p.reviewed_at is null);
    get diagnostics v_payments = row_count;

    update private.vendor_payouts as v
    set msisdn = private.mask_phone(v.msisdn)
    where
        v.created_at < v_money_before
        and v.msisdn ~ '^255[0-9]{9}$'
        and v.status in ('paid', 'failed', 'cancelled');
    get diagnostics v_payouts = row_count;

    perform pg_catalog.set_config('wats.retention', 'mask', true);
    update public.audit_logs as a
    set
        before = private.mask_phones_in_json(a.before),
        after = private.mask_phones_in_json(a.after),
        context = private.mask_phones_in_json(a.context)
    where
        a.created_at < v_money_before
        and (
            a.before::text ~ '"255[0-9]{9}"'
            or a.after::text ~ '"255[0-9]{9}"'
            or a.context::text ~ '"255[0-9]{9}"'
        );
    get diagnostics v_audit = row_count;
    perform pg_catalog.set_config('wats.retention', '', true);

    return pg_catalog.jsonb_build_object(
        'payment_events_redacted', v_events,
        'notifications_deleted', v_notifications,
        'deliveries_deleted', v_deliveries,
        'orders_masked', v_orders,
        'payments_masked', v_payments,
        'payouts_masked', v_payouts,
        'audit_logs_masked', v_audit
    );
end;
$$;

comment on function public.apply_retention() is
'The retention job (scheduled daily as apply-retention): removes raw provider event '
'payloads, deletes read notifications and finished deliveries, and masks phones and '
'addresses in money and audit rows while keeping the rows, each after its retention.* '
'setting. Returns how many rows each step changed; a second run changes nothing. Service '
'role (and the scheduler) only. docs/data-protection.md.';

-- ---------------------------------------------------------------------------------------
-- A person's own data
-- ---------------------------------------------------------------------------------------

create function public.export_my_data()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_uid uuid := (select auth.uid());
begin
    if v_uid is null then
        raise exception 'sign in to export your data' using errcode = '42501';
    end if;
    return pg_catalog.jsonb_build_object(
        'exported_at', now(),
        'user_id', v_uid,
        'profile', (select to_jsonb(p) from public.profiles as p where p.id = v_uid),
        'orders', coalesce((
            select pg_catalog.jsonb_agg(
                to_jsonb(o) || pg_catalog.jsonb_build_object('lines', coalesce((
                    select pg_catalog.jsonb_agg(to_jsonb(i) order by i.id)
                    from public.order_items as i
                    where i.order_id = o.id and i.customer_id = v_uid
                ), '[]'::jsonb))
                order by o.created_at, o.id
            )
            from public.orders as o where o.customer_id = v_uid
        ), '[]'::jsonb),
        'payments', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(p) order by p.created_at, p.id)
            from public.payments as p where p.customer_id = v_uid
        ), '[]'::jsonb),
        'refunds', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(r) order by r.created_at, r.id)
            from public.refunds as r where r.customer_id = v_uid
        ), '[]'::jsonb),
        'returns', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(r) order by r.created_at, r.id)
            from public.returns as r where r.customer_id = v_uid
        ), '[]'::jsonb),
        'instalment_plans', coalesce((
            select pg_catalog.jsonb_agg(
                to_jsonb(b) || pg_catalog.jsonb_build_object('instalments', coalesce((
                    select pg_catalog.jsonb_agg(to_jsonb(i) order by i.id)
                    from public.instalments as i
                    where i.plan_id = b.id and i.customer_id = v_uid
                ), '[]'::jsonb))
                order by b.created_at, b.id
            )
            from public.bnpl_orders as b where b.customer_id = v_uid
        ), '[]'::jsonb),
        'loyalty', pg_catalog.jsonb_build_object(
            'balance', (
                select coalesce(sum(l.points), 0) from public.loyalty_points as l
                where l.customer_id = v_uid
            ),
            'entries', coalesce((
                select pg_catalog.jsonb_agg(to_jsonb(l) order by l.created_at, l.id)
                from public.loyalty_points as l where l.customer_id = v_uid
            ), '[]'::jsonb)
        ),
        'cart', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(c) order by c.id)
            from public.cart_items as c where c.customer_id = v_uid
        ), '[]'::jsonb),
        'notifications', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(n) order by n.created_at, n.id)
            from public.notifications as n where n.user_id = v_uid
        ), '[]'::jsonb),
        'marketing_consents', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(m) order by m.created_at, m.id)
            from public.marketing_consents as m where m.user_id = v_uid
        ), '[]'::jsonb),
        'push_devices', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(d) order by d.created_at, d.id)
            from public.push_devices as d where d.user_id = v_uid
        ), '[]'::jsonb),
        'livestream_reminders', coalesce((
            select pg_catalog.jsonb_agg(to_jsonb(r) order by r.created_at, r.session_id)
            from public.livestream_reminders as r where r.user_id = v_uid
        ), '[]'::jsonb)
    );
end;
$$;

comment on function public.export_my_data() is
'PDPA access request: everything WATS keeps about the caller (profile, orders with their '
'lines, payments, refunds, returns, instalment plans, loyalty points and balance, cart, '
'notifications, marketing consents, push devices, livestream reminders) as one JSON '
'document, only rows that are the caller''s own (explicit auth.uid() filters; no RLS). '
'Any signed-in person; 42501 without a user (anon, service role).';

-- ---------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------

revoke all on function public.apply_retention(), public.export_my_data()
from public, anon, authenticated, service_role;
grant execute on function public.export_my_data() to authenticated;
grant execute on function public.apply_retention() to service_role;

revoke execute on all functions in schema private from public;

-- ---------------------------------------------------------------------------------------
-- The schedule: daily, 01:15 UTC (04:15 EAT)
-- ---------------------------------------------------------------------------------------

insert into private.scheduled_jobs (name, schedule, sql_command, edge_function, description)
values (
    'apply-retention', '15 1 * * *', 'select public.apply_retention()', null,
    'Data protection: remove raw provider payloads, old read notifications and deliveries; '
    'mask phones and addresses in kept money and audit rows (retention.* settings).'
);
