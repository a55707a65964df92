-- WATS schema, part 9: notifications (written by SQL functions; the owner may only mark
-- them read) and the audit log (append-only for every role, admins and the owner
-- included), with the triggers that audit every state and privilege change.

-- ---------------------------------------------------------------------------------------
-- Notifications
-- ---------------------------------------------------------------------------------------

create table public.notifications (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references public.profiles (id) on delete cascade,
    type text not null constraint notifications_type_format check (type ~ '^[a-z_]+$'),
    title text not null constraint notifications_title_length check (
        char_length(title) between 1 and 140
    ),
    body text constraint notifications_body_length check (char_length(body) <= 1000),
    data jsonb not null default '{}'::jsonb constraint notifications_data_object check (
        jsonb_typeof(data) = 'object'
    ),
    language text not null default 'sw' constraint notifications_language_allowed check (
        language in ('sw', 'en')
    ),
    read_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

comment on table public.notifications is
'In-app messages to one user (customer or vendor). Written only by SQL functions; the user '
'reads them and may only mark them read (read_at); admins read all.';
comment on column public.notifications.type is
'What happened (a type of private.notification_texts); the apps pick icon and link from it '
'(new_order, vendor_* are for vendors).';
comment on column public.notifications.language is
'The language title and body are written in: the recipient''s profiles.language when it was '
'sent.';
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
-- What notifications say, in Kiswahili and English (one place for every text)
-- ---------------------------------------------------------------------------------------

create table private.notification_texts (
    type text not null constraint notification_texts_type_format check (type ~ '^[a-z_]+$'),
    language text not null constraint notification_texts_language_allowed check (
        language in ('sw', 'en')
    ),
    audience text not null constraint notification_texts_audience_allowed check (
        audience in ('customer', 'vendor', 'anyone')
    ),
    title text not null constraint notification_texts_title_length check (
        char_length(title) between 1 and 140
    ),
    body text not null constraint notification_texts_body_length check (char_length(body) <= 1000),
    primary key (type, language)
);

comment on table private.notification_texts is
'Every notification a customer or vendor receives, per type, in Kiswahili (sw) and English '
'(en). {name} placeholders are filled from the parameters the SQL function passes '
'(private.notify). A type exists only if both languages have it (tested). Internal.';

alter table private.notification_texts enable row level security;
revoke all on table private.notification_texts from anon, authenticated, service_role;

insert into private.notification_texts (type, language, audience, title, body)
values
(
    'order_paid', 'en', 'customer', 'Payment received',
    'We received {amount} TZS. Your order is being prepared.'
),
(
    'order_paid', 'sw', 'customer', 'Malipo yamepokelewa',
    'Tumepokea TZS {amount}. Oda yako inaandaliwa.'
),
(
    'payment_failed', 'en', 'customer', 'Your payment did not go through',
    'Nothing was charged. Your items are back in your cart.'
),
(
    'payment_failed', 'sw', 'customer', 'Malipo yako hayakufanikiwa',
    'Hakuna pesa iliyokatwa. Bidhaa zako zimerudishwa kwenye kikapu.'
),
(
    'order_expired', 'en', 'customer', 'Your order expired before it was paid',
    'Nothing was charged. Your items are back in your cart.'
),
(
    'order_expired', 'sw', 'customer', 'Muda wa kulipia oda yako umekwisha',
    'Hakuna pesa iliyokatwa. Bidhaa zako zimerudishwa kwenye kikapu.'
),
(
    'payment_review', 'en', 'customer', 'We are checking your payment',
    'A payment of {amount} TZS for your order needs a check by our team. '
    || 'If we cannot deliver, we refund you.'
),
(
    'payment_review', 'sw', 'customer', 'Tunakagua malipo yako',
    'Malipo ya TZS {amount} ya oda yako yanahitaji ukaguzi wa timu yetu. '
    || 'Tusipoweza kukuletea oda, tutakurejeshea pesa.'
),
(
    'new_order', 'en', 'vendor', 'New paid order to fulfil',
    '{items} item(s) worth {amount} TZS to ship.'
),
(
    'new_order', 'sw', 'vendor', 'Oda mpya iliyolipwa',
    'Bidhaa {items} zenye thamani ya TZS {amount} zinasubiri kusafirishwa.'
),
(
    'order_packed', 'en', 'customer', 'Your order is packed',
    'Your parcel from {center} is packed and will leave soon.'
),
(
    'order_packed', 'sw', 'customer', 'Oda yako imefungashwa',
    'Kifurushi chako kutoka {center} kimefungashwa na kitaondoka hivi karibuni.'
),
(
    'order_shipped', 'en', 'customer', 'Your order is on its way',
    '{carrier} is bringing your parcel from {center}. Tracking number: {tracking}.'
),
(
    'order_shipped', 'sw', 'customer', 'Oda yako iko njiani',
    '{carrier} analeta kifurushi chako kutoka {center}. Namba ya ufuatiliaji: {tracking}.'
),
(
    'order_delivered', 'en', 'customer', 'Your parcel was delivered',
    'Enjoy! You may return items within {days} days.'
),
(
    'order_delivered', 'sw', 'customer', 'Kifurushi chako kimefika',
    'Furahia! Unaweza kurudisha bidhaa ndani ya siku {days}.'
),
(
    'delivery_failed', 'en', 'customer', 'We could not deliver your parcel',
    '{reason}. We will try again or call you.'
),
(
    'delivery_failed', 'sw', 'customer', 'Hatukuweza kufikisha kifurushi chako',
    '{reason}. Tutajaribu tena au tutakupigia simu.'
),
(
    'shipment_returned', 'en', 'customer', 'Your parcel went back to our center',
    'It could not be delivered, so we refund you {amount} TZS for it.'
),
(
    'shipment_returned', 'sw', 'customer', 'Kifurushi chako kimerudishwa kituoni',
    'Hakikuweza kufikishwa, kwa hiyo tunakurejeshea TZS {amount}.'
),
(
    'order_cancelled', 'en', 'customer', 'Your order was cancelled',
    '{amount} TZS is being refunded to your phone.'
),
(
    'order_cancelled', 'sw', 'customer', 'Oda yako imeghairiwa',
    'TZS {amount} zinarudishwa kwenye simu yako.'
),
(
    'vendor_order_cancelled', 'en', 'vendor', 'An order was cancelled',
    'Order {order} will not ship. Its items are back in stock at the center.'
),
(
    'vendor_order_cancelled', 'sw', 'vendor', 'Oda imeghairiwa',
    'Oda {order} haitasafirishwa. Bidhaa zake zimerudi kwenye stoo ya kituo.'
),
(
    'vendor_shipment_update', 'en', 'vendor', 'Parcel {status}',
    'The parcel with your items of order {order} is {status}.'
),
(
    'vendor_shipment_update', 'sw', 'vendor', 'Kifurushi: {status}',
    'Kifurushi chenye bidhaa zako za oda {order}: {status}.'
),
(
    'return_requested', 'en', 'customer', 'We received your return request',
    'Return of {quantity} × {title}: we will check it and let you know.'
),
(
    'return_requested', 'sw', 'customer', 'Tumepokea ombi lako la kurudisha bidhaa',
    'Kurudisha {quantity} × {title}: tutalikagua na kukujulisha.'
),
(
    'return_approved', 'en', 'customer', 'Your return was approved',
    'Send {quantity} × {title} back to our center. {note}'
),
(
    'return_approved', 'sw', 'customer', 'Ombi lako la kurudisha limekubaliwa',
    'Rudisha {quantity} × {title} kwenye kituo chetu. {note}'
),
(
    'return_rejected', 'en', 'customer', 'Your return was not accepted',
    '{quantity} × {title}: {note}'
),
(
    'return_rejected', 'sw', 'customer', 'Ombi lako la kurudisha halikukubaliwa',
    '{quantity} × {title}: {note}'
),
(
    'return_received', 'en', 'customer', 'We received your returned item',
    '{quantity} × {title} arrived at our center.'
),
(
    'return_received', 'sw', 'customer', 'Tumepokea bidhaa uliyorudisha',
    '{quantity} × {title} imefika kituoni kwetu.'
),
(
    'vendor_return_requested', 'en', 'vendor', 'A customer wants to return an item',
    '{quantity} × {title} of order {order}: {reason}.'
),
(
    'vendor_return_requested', 'sw', 'vendor', 'Mteja anataka kurudisha bidhaa',
    '{quantity} × {title} ya oda {order}: {reason}.'
),
(
    'vendor_return_received', 'en', 'vendor', 'A returned item arrived',
    '{quantity} × {title} of order {order}: {restocked} back in stock, {damaged} damaged.'
),
(
    'vendor_return_received', 'sw', 'vendor', 'Bidhaa iliyorudishwa imefika',
    '{quantity} × {title} ya oda {order}: {restocked} zimerudi stoo, {damaged} zimeharibika.'
),
(
    'refund_requested', 'en', 'customer', 'Your refund is on its way',
    'We are sending {amount} TZS back to your phone.'
),
(
    'refund_requested', 'sw', 'customer', 'Marejesho ya pesa yako yanashughulikiwa',
    'Tunakurudishia TZS {amount} kwenye simu yako.'
),
(
    'refund_succeeded', 'en', 'customer', 'Refund sent',
    '{amount} TZS was sent back to your phone.'
),
(
    'refund_succeeded', 'sw', 'customer', 'Pesa zimerejeshwa',
    'TZS {amount} zimerudishwa kwenye simu yako.'
),
(
    'refund_failed', 'en', 'customer', 'Your refund is delayed',
    'Sending {amount} TZS back did not work yet. We will try again.'
),
(
    'refund_failed', 'sw', 'customer', 'Marejesho ya pesa yamechelewa',
    'Kukurudishia TZS {amount} hakujafanikiwa bado. Tutajaribu tena.'
),
(
    'refund_manual', 'en', 'customer', 'Refund paid by our team',
    'Our team sent you {amount} TZS (reference {reference}).'
),
(
    'refund_manual', 'sw', 'customer', 'Timu yetu imekurudishia pesa',
    'Timu yetu imekutumia TZS {amount} (kumbukumbu {reference}).'
),
('system', 'en', 'anyone', '{title}', '{body}'),
('system', 'sw', 'anyone', '{title}', '{body}');

-- Livestream shopping (20261127000350_livestreams.sql): a reminded customer, at the start.
insert into private.notification_texts (type, language, audience, title, body)
values
(
    'livestream_started', 'en', 'customer', '{vendor} is live now',
    '{title}: watch now and buy at the live prices.'
),
(
    'livestream_started', 'sw', 'customer', '{vendor} yuko hewani sasa',
    '{title}: tazama sasa na ununue kwa bei za moja kwa moja.'
);

create function private.render_text(p_template text, p_params jsonb)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
    v_text text := p_template;
    v_key text;
    v_value text;
begin
    for v_key, v_value in select e.key, e.value #>> '{}' from jsonb_each(coalesce(p_params, '{}')) as e loop
        v_text := replace(v_text, '{' || v_key || '}', coalesce(v_value, ''));
    end loop;
    return v_text;
end;
$$;

comment on function private.render_text(text, jsonb) is
'A notification template with its {name} placeholders filled from p_params.';

create function private.notify_all(p_items jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_missing text;
begin
    -- one statement for every recipient: each gets the text in their own language
    insert into public.notifications (user_id, type, title, body, data, language)
    select
        p.id,
        i.item ->> 'type',
        left(private.render_text(t.title, i.item -> 'params'), 140),
        left(private.render_text(t.body, i.item -> 'params'), 1000),
        coalesce(i.item -> 'data', '{}'::jsonb),
        p.language
    from jsonb_array_elements(p_items) as i (item)
    inner join public.profiles as p on p.id = (i.item ->> 'user_id')::uuid
    inner join private.notification_texts as t
        on t.type = i.item ->> 'type' and t.language = p.language;
    select i.item ->> 'type' into v_missing
    from jsonb_array_elements(p_items) as i (item)
    where not exists (select 1 from private.notification_texts as t where t.type = i.item ->> 'type')
    limit 1;
    if v_missing is not null then
        raise exception 'no notification text of type %', v_missing using errcode = 'WT003';
    end if;
end;
$$;

comment on function private.notify_all(jsonb) is
'Writes notifications, one per item of p_items ([{user_id, type, params, data}]), each in '
'its recipient''s language (profiles.language) from private.notification_texts. Raises '
'WT003 for a type without texts. For SQL functions; not executable by API roles.';

create function private.notify(p_user_id uuid, p_type text, p_params jsonb, p_data jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform private.notify_all(jsonb_build_array(jsonb_build_object(
        'user_id', p_user_id, 'type', p_type, 'params', p_params, 'data', p_data
    )));
end;
$$;

comment on function private.notify(uuid, text, jsonb, jsonb) is
'Writes one notification in the recipient''s language: private.notify_all for one person.';

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

create trigger refunds_audit
after insert or update of status on public.refunds
for each row execute function private.audit_changes(
    'status',
    'amount',
    'source',
    'method',
    'provider_refund_id',
    'manual_reference',
    'failure_reason'
);

create trigger returns_audit
after insert or update of status, refund_amount, restocked_quantity on public.returns
for each row execute function private.audit_changes(
    'status', 'quantity', 'refund_amount', 'restocked_quantity', 'damaged_quantity'
);

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

create policy "users read their own notifications"
on public.notifications
for select
to authenticated
using (user_id = (select private.uid()));

create policy "wats admins read every notification"
on public.notifications
for select
to wats_admin
using ((select private.is_admin()));

create policy "users mark their own notifications read"
on public.notifications
for update
to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));

create policy "wats admins read the audit log"
on public.audit_logs
for select
to wats_admin
using ((select private.is_admin()));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
