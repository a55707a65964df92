-- WATS notifications, part 2: delivery. public.notifications stays the inbox; each new
-- notification is also queued for the channels that reach a person when the app is closed:
--
--   push  Expo's push API, to the devices the person registered (register_push_device);
--   sms   an SMS gateway (Beem), for the events that matter without the app: payment
--         received or failed, order dispatched, refund sent, instalment due.
--
-- One outbox row per notification and channel (private.notification_deliveries). The
-- notify-dispatch Edge Function claims due rows (claim_notification_deliveries: SKIP LOCKED,
-- one claim each), sends them and records the answer (record_notification_delivery), which
-- decides what comes next: sent, a retry with exponential backoff, or a final failure. A
-- send whose answer never came back (a timeout, a dispatcher that stopped after claiming)
-- is never sent again: a person gets a message at most once.
--
-- What reaches whom is decided here: private.notification_rules says, per type, whether it
-- is a service message (payments, orders: always sent) or marketing (livestream reminders:
-- only with the person's consent, public.marketing_consents, PDPA 2022), and which channels
-- carry it. Texts are the notification's own title and body, already in the person's
-- language (private.notify_all). A new outbox row wakes the dispatcher (NOTIFY, and pg_net
-- where it exists); pg_cron runs it every minute as a backstop.

insert into private.settings (key, value, description)
values
(
    'notifications.max_attempts', '6',
    'Sends of one notification on one channel before it is given up (failed).'
),
(
    'notifications.retry_base_seconds', '30',
    'Wait before the first retry of a send the provider refused for now; doubled each time '
    || '(at most an hour), with up to 20% jitter.'
),
(
    'notifications.lease_seconds', '300',
    'A claimed send without a recorded answer after this long is settled as failed with an '
    || 'unknown outcome (the dispatcher stopped): never sent again, as it may have arrived.'
),
(
    'notifications.receipt_delay_seconds', '900',
    'Expo push receipts are asked for this long after a push was accepted (Expo: 15 min).'
),
(
    'notifications.max_devices', '10',
    'Devices a person may have registered for push; registering another one retires the '
    || 'least recently registered.'
);

-- ---------------------------------------------------------------------------------------
-- Which notification goes where
-- ---------------------------------------------------------------------------------------

create table private.notification_rules (
    type text primary key constraint notification_rules_type_format check (type ~ '^[a-z_]+$'),
    purpose text not null constraint notification_rules_purpose_allowed check (
        purpose in ('service', 'marketing')
    ),
    push boolean not null default true,
    sms boolean not null default false,
    created_at timestamptz not null default now()
);

comment on table private.notification_rules is
'Per notification type (private.notification_texts): its purpose — service (payments, '
'orders, refunds: always delivered, no opt-out) or marketing (sent only to people who '
'consented, public.marketing_consents) — and the channels besides the inbox that carry it '
'(Expo push, SMS). A type without a rule is treated as marketing, push only (tested: every '
'type has one). Internal.';
comment on column private.notification_rules.sms is
'Also sent by SMS: only for what matters when the app is closed (payment received or failed, '
'order dispatched, refund sent, instalment due).';

alter table private.notification_rules enable row level security;
revoke all on table private.notification_rules from anon, authenticated, service_role;

insert into private.notification_rules (type, purpose, push, sms)
select
    v.type,
    v.purpose,
    v.push,
    v.sms
from (
    values
    ('order_paid', 'service', true, true),
    ('payment_failed', 'service', true, true),
    ('order_shipped', 'service', true, true),
    ('refund_succeeded', 'service', true, true),
    ('refund_manual', 'service', true, true),
    ('order_expired', 'service', true, false),
    ('payment_review', 'service', true, false),
    ('order_packed', 'service', true, false),
    ('order_delivered', 'service', true, false),
    ('delivery_failed', 'service', true, false),
    ('shipment_returned', 'service', true, false),
    ('order_cancelled', 'service', true, false),
    ('return_requested', 'service', true, false),
    ('return_approved', 'service', true, false),
    ('return_rejected', 'service', true, false),
    ('return_received', 'service', true, false),
    ('refund_requested', 'service', true, false),
    ('refund_failed', 'service', true, false),
    ('points_expiring', 'service', true, false),
    ('points_expired', 'service', true, false),
    ('new_order', 'service', true, false),
    ('vendor_order_cancelled', 'service', true, false),
    ('vendor_shipment_update', 'service', true, false),
    ('vendor_return_requested', 'service', true, false),
    ('vendor_return_received', 'service', true, false),
    ('payout_paid', 'service', true, false),
    ('payout_failed', 'service', true, false),
    ('system', 'service', true, false),
    -- instalments and livestreams (issue 11, parts 1-2), where their texts exist
    ('instalment_due_soon', 'service', true, true),
    ('instalment_failed', 'service', true, true),
    ('instalment_paid', 'service', true, false),
    ('instalment_plan_cancelled', 'service', true, true),
    ('livestream_started', 'marketing', true, false)
) as v (type, purpose, push, sms)
where exists (
    select 1 from private.notification_texts as t
    where t.type = v.type
);

-- ---------------------------------------------------------------------------------------
-- Marketing consent (PDPA 2022: direct marketing needs explicit consent)
-- ---------------------------------------------------------------------------------------

create table public.marketing_consents (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references public.profiles (id) on delete cascade,
    granted boolean not null,
    created_at timestamptz not null default now()
);

comment on table public.marketing_consents is
'Every change of a person''s consent to marketing messages (livestream reminders), with its '
'time: the latest row is in force; no row means no consent. Written only by '
'set_marketing_consent (the person themself); the person and admins read it. Payment and '
'order messages need no consent and cannot be turned off.';

create index marketing_consents_user_id_created_at_idx on public.marketing_consents (
    user_id, created_at desc
);

create function private.has_marketing_consent(p_user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce((
        select c.granted from public.marketing_consents as c
        where c.user_id = p_user_id
        order by c.created_at desc, c.id desc
        limit 1
    ), false);
$$;

comment on function private.has_marketing_consent(uuid) is
'True when the person''s latest consent record grants marketing messages.';

create function public.set_marketing_consent(p_granted boolean)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_user uuid := (select auth.uid());
    v_row public.marketing_consents%rowtype;
begin
    if v_user is null then
        raise exception 'sign in to choose which messages you get' using errcode = '42501';
    end if;
    if p_granted is null then
        perform private.refuse(422, 'invalid_consent', 'say true or false');
    end if;
    -- one change at a time per person, so the history never records the same state twice
    perform 1 from public.profiles as p where p.id = v_user for update;
    select * into v_row from public.marketing_consents as c
    where c.user_id = v_user
    order by c.created_at desc, c.id desc
    limit 1;
    if not found or v_row.granted is distinct from p_granted then
        insert into public.marketing_consents (user_id, granted)
        values (v_user, p_granted)
        returning * into v_row;
    end if;
    return jsonb_build_object('granted', v_row.granted, 'since', v_row.created_at);
end;
$$;

comment on function public.set_marketing_consent(boolean) is
'The signed-in person gives (true) or withdraws (false) consent to marketing messages; '
'recorded with its time when it changes. Returns {granted, since}.';

-- ---------------------------------------------------------------------------------------
-- Devices (Expo push tokens)
-- ---------------------------------------------------------------------------------------

create table public.push_devices (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references public.profiles (id) on delete cascade,
    token text not null constraint push_devices_token_format check (
        token ~ '^Expo(nent)?PushToken\[[A-Za-z0-9_-]{1,200}\]$'
    ),
    platform text constraint push_devices_platform_allowed check (platform in ('ios', 'android')),
    last_registered_at timestamptz not null default now(),
    disabled_at timestamptz,
    disabled_reason text constraint push_devices_disabled_reason_length check (
        char_length(disabled_reason) <= 200
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint push_devices_token_key unique (token)
);

comment on table public.push_devices is
'The customer app''s Expo push tokens, one row per device. Registered through '
'register_push_device (a token moves to whoever registers it last); the owner reads and '
'deletes their own (sign-out). Disabled when Expo answers DeviceNotRegistered.';
comment on column public.push_devices.disabled_at is
'When the device stopped receiving pushes (app uninstalled, notifications off: Expo''s '
'DeviceNotRegistered), or was retired by a newer device; registering it again enables it.';

create index push_devices_user_id_idx on public.push_devices (user_id);

create trigger push_devices_touch_updated_at
before update on public.push_devices
for each row execute function private.touch_updated_at();

create function public.register_push_device(p_token text, p_platform text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_user uuid := (select auth.uid());
    v_device public.push_devices%rowtype;
begin
    if v_user is null then
        raise exception 'sign in to register a device' using errcode = '42501';
    end if;
    if p_token is null or p_token !~ '^Expo(nent)?PushToken\[[A-Za-z0-9_-]{1,200}\]$' then
        perform private.refuse(
            422, 'invalid_push_token', 'not an Expo push token (ExponentPushToken[…])'
        );
    end if;
    if p_platform is not null and p_platform not in ('ios', 'android') then
        perform private.refuse(422, 'invalid_platform', 'platform is ios or android');
    end if;
    perform 1 from public.profiles as p where p.id = v_user for update;
    insert into public.push_devices (user_id, token, platform)
    values (v_user, p_token, p_platform)
    on conflict (token) do update
        set user_id = excluded.user_id,
        platform = coalesce(excluded.platform, public.push_devices.platform),
        last_registered_at = now(),
        disabled_at = null,
        disabled_reason = null
    returning * into v_device;
    -- a person has at most notifications.max_devices devices receiving pushes
    update public.push_devices as d
    set disabled_at = now(), disabled_reason = 'replaced by a newer device'
    where d.user_id = v_user and d.disabled_at is null and d.id in (
        select o.id from public.push_devices as o
        where o.user_id = v_user and o.disabled_at is null
        order by o.last_registered_at desc, o.id desc
        offset private.setting_int('notifications.max_devices')
    );
    return jsonb_build_object(
        'device_id', v_device.id,
        'platform', v_device.platform,
        'registered_at', v_device.last_registered_at
    );
end;
$$;

comment on function public.register_push_device(text, text) is
'The signed-in person''s app registers its Expo push token (platform ios or android, '
'optional). Idempotent; a token registered by someone else moves to the caller (a phone '
'changes hands); a disabled device is enabled again. Returns {device_id, platform, '
'registered_at}; 422 invalid_push_token / invalid_platform.';

-- ---------------------------------------------------------------------------------------
-- The outbox
-- ---------------------------------------------------------------------------------------

create table private.notification_deliveries (
    id uuid primary key default gen_random_uuid(),
    notification_id uuid not null references public.notifications (id) on delete cascade,
    user_id uuid not null references public.profiles (id) on delete cascade,
    channel text not null constraint notification_deliveries_channel_allowed check (
        channel in ('push', 'sms')
    ),
    purpose text not null constraint notification_deliveries_purpose_allowed check (
        purpose in ('service', 'marketing')
    ),
    status text not null default 'pending' constraint notification_deliveries_status_allowed check (
        status in ('pending', 'sending', 'sent', 'failed', 'skipped')
    ),
    attempts integer not null default 0 constraint notification_deliveries_attempts_range check (
        attempts >= 0
    ),
    next_attempt_at timestamptz not null default now(),
    claim_id uuid,
    claimed_at timestamptz,
    sent_at timestamptz,
    provider_message_id text,
    push_tickets jsonb not null default '{}'::jsonb,
    receipts_checked_at timestamptz,
    last_error text constraint notification_deliveries_last_error_length check (
        char_length(last_error) <= 500
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint notification_deliveries_once unique (notification_id, channel),
    constraint notification_deliveries_claimed check (
        (status = 'sending') = (claim_id is not null)
    ),
    constraint notification_deliveries_tickets_object check (jsonb_typeof(push_tickets) = 'object')
);

comment on table private.notification_deliveries is
'The outbox: one row per notification and channel (push, sms). pending → sending (claimed '
'once by notify-dispatch) → sent | pending again (a retry, with backoff) | failed (given up, '
'refused for good, or an answer that never came: never resent) | skipped (no device or '
'phone any more, consent withdrawn). Internal; the service role works it through '
'claim_notification_deliveries and record_notification_delivery.';
comment on column private.notification_deliveries.push_tickets is
'Expo''s tickets for the devices that accepted the push: {device_id: ticket_id}. A retry '
'sends only to the devices not in it, so no device gets a push twice.';
comment on column private.notification_deliveries.provider_message_id is
'The SMS gateway''s id for the message (Beem request_id).';

create index notification_deliveries_due_idx on private.notification_deliveries (
    next_attempt_at
) where status = 'pending';
create index notification_deliveries_claimed_idx on private.notification_deliveries (claimed_at)
where status = 'sending';
create index notification_deliveries_receipts_idx on private.notification_deliveries (sent_at)
where channel = 'push' and status = 'sent' and receipts_checked_at is null;
create index notification_deliveries_user_id_idx on private.notification_deliveries (user_id);

create trigger notification_deliveries_touch_updated_at
before update on private.notification_deliveries
for each row execute function private.touch_updated_at();

alter table private.notification_deliveries enable row level security;
revoke all on table private.notification_deliveries from anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------
-- Waking the dispatcher
-- ---------------------------------------------------------------------------------------

create function private.invoke_notify_dispatch()
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_net text := pg_catalog.to_regnamespace('net')::text;
    v_vault text := pg_catalog.to_regnamespace('vault')::text;
    v_url text;
    v_key text;
begin
    -- the local stack listens (src/wats/stack/notify.py); delivered only at commit
    perform pg_catalog.pg_notify('wats_notify_dispatch', '');
    if v_net is null or v_vault is null then
        return;
    end if;
    begin
        execute format(
            $sql$
                select
                    max(decrypted_secret) filter (where name = 'wats_project_url'),
                    max(decrypted_secret) filter (where name = 'wats_service_role_key')
                from %s.decrypted_secrets
                where name in ('wats_project_url', 'wats_service_role_key')
            $sql$,
            v_vault
        ) into v_url, v_key;
        if v_url is null or v_key is null then
            return;
        end if;
        -- queued by pg_net and sent after commit
        execute format(
            $sql$
                select %s.http_post(
                    url := $1, body := '{}'::jsonb, headers := $2,
                    timeout_milliseconds := 60000
                )
            $sql$,
            v_net
        ) using
            rtrim(v_url, '/') || '/functions/v1/notify-dispatch',
            jsonb_build_object(
                'Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_key
            );
    exception
        when others then
            -- never in the way of the payment or order that made the notification
            raise warning 'notify-dispatch was not called: %', sqlerrm;
    end;
end;
$$;

comment on function private.invoke_notify_dispatch() is
'Wakes notify-dispatch: NOTIFY wats_notify_dispatch (the local stack listens), and on hosted '
'projects a pg_net POST with the service role key, when pg_net, Vault and the Vault secrets '
'wats_project_url and wats_service_role_key exist (harmless before). Both happen only if '
'the transaction commits. Never raises.';

-- ---------------------------------------------------------------------------------------
-- Queueing: every new notification, for the channels its rule names
-- ---------------------------------------------------------------------------------------

create function private.queue_notification_deliveries()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_queued integer;
begin
    insert into private.notification_deliveries (notification_id, user_id, channel, purpose)
    select n.id, n.user_id, c.channel, coalesce(r.purpose, 'marketing')
    from inserted_notifications as n
    left join private.notification_rules as r on r.type = n.type
    cross join lateral (
        values ('push', coalesce(r.push, true)), ('sms', coalesce(r.sms, false))
    ) as c (channel, wanted)
    where
        c.wanted
        and (
            coalesce(r.purpose, 'marketing') = 'service'
            or private.has_marketing_consent(n.user_id)
        )
        and (
            c.channel <> 'push' or exists (
                select 1 from public.push_devices as d
                where d.user_id = n.user_id and d.disabled_at is null
            )
        )
        and (
            c.channel <> 'sms' or exists (
                select 1 from public.profiles as p
                where p.id = n.user_id and p.phone is not null
            )
        )
    on conflict (notification_id, channel) do nothing;
    get diagnostics v_queued = row_count;
    if v_queued > 0 then
        perform private.invoke_notify_dispatch();
    end if;
    return null;
end;
$$;

comment on function private.queue_notification_deliveries() is
'AFTER INSERT statement trigger on notifications: queues one delivery per notification and '
'channel its rule names (push when the person has a device, SMS when they have a phone; '
'marketing only with consent), then wakes the dispatcher.';

create trigger notifications_queue_deliveries
after insert on public.notifications
referencing new table as inserted_notifications
for each statement execute function private.queue_notification_deliveries();

-- ---------------------------------------------------------------------------------------
-- The dispatcher's RPCs (service role)
-- ---------------------------------------------------------------------------------------

create function public.claim_notification_deliveries(p_limit integer default 50)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_lease interval := make_interval(
        secs => private.setting_int('notifications.lease_seconds')::double precision
    );
    v_items jsonb;
begin
    if p_limit is null or p_limit not between 1 and 500 then
        perform private.refuse(422, 'invalid_limit', 'limit is a whole number from 1 to 500');
    end if;
    -- a claim without an answer for longer than the lease: the dispatcher stopped after
    -- claiming it, before or after sending. It may have arrived: never sent again.
    update private.notification_deliveries
    set status = 'failed', claim_id = null,
        last_error = 'outcome_unknown: the dispatcher stopped after claiming it; not sent '
        || 'again, it may have arrived'
    where status = 'sending' and claimed_at < now() - v_lease;
    -- marketing whose consent was withdrawn since it was queued
    update private.notification_deliveries as d
    set status = 'skipped', last_error = 'no_consent'
    where
        d.status = 'pending' and d.purpose = 'marketing' and d.next_attempt_at <= now()
        and not private.has_marketing_consent(d.user_id);

    with due as (
        select d.id from private.notification_deliveries as d
        where d.status = 'pending' and d.next_attempt_at <= now()
        order by d.next_attempt_at
        limit p_limit
        for update skip locked
    ),

    claimed as (
        update private.notification_deliveries as d
        set status = 'sending', attempts = d.attempts + 1, claimed_at = now(),
            claim_id = gen_random_uuid()
        from due
        where d.id = due.id
        returning d.*
    )

    select coalesce(jsonb_agg(jsonb_build_object(
        'delivery_id', c.id,
        'claim_id', c.claim_id,
        'channel', c.channel,
        'purpose', c.purpose,
        'attempt', c.attempts,
        'notification_id', n.id,
        'type', n.type,
        'language', n.language,
        'title', n.title,
        'body', coalesce(n.body, ''),
        'data', n.data || jsonb_build_object('notification_id', n.id, 'type', n.type),
        'sms_text', case when c.channel = 'sms' then left(
            'WATS: ' || n.title || coalesce('. ' || nullif(n.body, ''), ''), 306
        ) end,
        'phone', case when c.channel = 'sms' then p.phone end,
        'devices', case when c.channel = 'push' then coalesce((
            select jsonb_agg(
                jsonb_build_object('device_id', dv.id, 'token', dv.token)
                order by dv.last_registered_at desc
            )
            from public.push_devices as dv
            where
                dv.user_id = c.user_id and dv.disabled_at is null
                and not c.push_tickets ? dv.id::text
        ), '[]'::jsonb) end
    ) order by c.next_attempt_at), '[]'::jsonb)
    into v_items
    from claimed as c
    inner join public.notifications as n on n.id = c.notification_id
    inner join public.profiles as p on p.id = c.user_id;
    return v_items;
end;
$$;

comment on function public.claim_notification_deliveries(integer) is
'For notify-dispatch (service role): claims up to p_limit due deliveries (SKIP LOCKED: each '
'claimed by exactly one caller) and returns what to send: channel, texts in the person''s '
'language (title, body; sms_text for SMS), data, the phone (SMS) or the devices not yet '
'reached (push), with the claim_id that record_notification_delivery needs. First settles '
'claims older than the lease as failed with an unknown outcome (never resent) and skips '
'marketing whose consent was withdrawn.';

create function public.record_notification_delivery(
    p_delivery_id uuid,
    p_claim_id uuid,
    p_outcome text,
    p_error text default null,
    p_provider_message_id text default null,
    p_tickets jsonb default null,
    p_unregistered_devices uuid[] default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_row private.notification_deliveries%rowtype;
    v_tickets jsonb;
    v_status text;
    v_reached boolean;
    v_next timestamptz;
    v_error text := left(p_error, 400);
begin
    if p_outcome is null or p_outcome not in ('sent', 'retry', 'failed', 'unknown', 'nothing_to_send') then
        perform private.refuse(
            422, 'invalid_outcome', 'outcome is sent, retry, failed, unknown or nothing_to_send'
        );
    end if;
    if p_tickets is not null and jsonb_typeof(p_tickets) <> 'object' then
        perform private.refuse(422, 'invalid_tickets', 'tickets is an object {device_id: ticket}');
    end if;
    select * into v_row from private.notification_deliveries
    where id = p_delivery_id
    for update;
    if not found then
        perform private.refuse(404, 'delivery_not_found', 'no such delivery');
    end if;
    if v_row.status <> 'sending' or v_row.claim_id is distinct from p_claim_id then
        -- settled meanwhile (lease expired) or claimed again: this answer is too late
        return jsonb_build_object('recorded', false, 'status', v_row.status);
    end if;
    if p_unregistered_devices is not null then
        update public.push_devices
        set disabled_at = now(), disabled_reason = 'DeviceNotRegistered'
        where id = any(p_unregistered_devices) and user_id = v_row.user_id and disabled_at is null;
    end if;
    v_tickets := v_row.push_tickets || coalesce(p_tickets, '{}'::jsonb);
    v_reached := v_tickets <> '{}'::jsonb;
    v_status := case
        when p_outcome = 'sent' then 'sent'
        when
            p_outcome = 'retry'
            and v_row.attempts < private.setting_int('notifications.max_attempts')
            then 'pending'
        -- final: a push that reached some devices was sent
        when v_reached then 'sent'
        when p_outcome = 'nothing_to_send' then 'skipped'
        else 'failed'
    end;
    if v_status = 'pending' then
        v_next := now() + make_interval(secs => least(
            private.setting_int('notifications.retry_base_seconds')
            * power(2, greatest(v_row.attempts - 1, 0)),
            3600
        ) * (1 + random() * 0.2));
    end if;
    update private.notification_deliveries
    set
        status = v_status,
        claim_id = null,
        push_tickets = v_tickets,
        provider_message_id = coalesce(p_provider_message_id, provider_message_id),
        sent_at = case when v_status = 'sent' then coalesce(sent_at, now()) else sent_at end,
        next_attempt_at = coalesce(v_next, next_attempt_at),
        last_error = case
            when p_outcome = 'unknown' then
                'outcome_unknown: ' || coalesce(v_error, 'no answer') || '; not sent again, it may '
                || 'have arrived'
            when p_outcome = 'retry' and v_status = 'failed' then
                'gave_up after ' || v_row.attempts || ' attempts: ' || coalesce(v_error, 'refused')
            when p_outcome = 'nothing_to_send' then coalesce(v_error, 'nothing_to_send')
            else v_error
        end
    where id = p_delivery_id
    returning * into v_row;
    return jsonb_build_object(
        'recorded', true,
        'status', v_row.status,
        'attempts', v_row.attempts,
        'next_attempt_at', case when v_row.status = 'pending' then v_row.next_attempt_at end
    );
end;
$$;

comment on function public.record_notification_delivery(
    uuid, uuid, text, text, text, jsonb, uuid[]
) is
'For notify-dispatch (service role): the answer to one claimed send. sent; retry (the '
'provider refused it for now: pending again after 30 s, 60 s, 120 s … at most an hour, '
'failed after notifications.max_attempts; a push some devices accepted counts as sent); '
'failed (refused for good); unknown (the answer was lost: failed, never resent); '
'nothing_to_send (no device or phone left: skipped). p_tickets adds Expo tickets '
'{device_id: ticket}; p_unregistered_devices are disabled (DeviceNotRegistered). An answer '
'for a claim that is no longer current is not recorded ({recorded: false}).';

create function public.push_receipts_to_check(p_limit integer default 100)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_items jsonb;
begin
    if p_limit is null or p_limit not between 1 and 1000 then
        perform private.refuse(422, 'invalid_limit', 'limit is a whole number from 1 to 1000');
    end if;
    select coalesce(jsonb_agg(jsonb_build_object(
        'delivery_id', d.id, 'tickets', d.push_tickets
    ) order by d.sent_at), '[]'::jsonb)
    into v_items
    from (
        select x.id, x.push_tickets, x.sent_at
        from private.notification_deliveries as x
        where
            x.channel = 'push' and x.status = 'sent' and x.receipts_checked_at is null
            and x.sent_at < now() - make_interval(
                secs => private.setting_int('notifications.receipt_delay_seconds')::double precision
            )
        order by x.sent_at
        limit p_limit
    ) as d;
    return v_items;
end;
$$;

comment on function public.push_receipts_to_check(integer) is
'For notify-dispatch (service role): pushes accepted long enough ago '
'(notifications.receipt_delay_seconds) whose Expo receipts were not looked at: '
'[{delivery_id, tickets: {device_id: ticket}}].';

create function public.record_push_receipts(
    p_delivery_id uuid, p_unregistered_devices uuid[] default null, p_errors jsonb default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_row private.notification_deliveries%rowtype;
    v_disabled integer := 0;
begin
    select * into v_row from private.notification_deliveries where id = p_delivery_id for update;
    if not found then
        perform private.refuse(404, 'delivery_not_found', 'no such delivery');
    end if;
    if p_unregistered_devices is not null then
        update public.push_devices
        set disabled_at = now(), disabled_reason = 'DeviceNotRegistered'
        where id = any(p_unregistered_devices) and user_id = v_row.user_id and disabled_at is null;
        get diagnostics v_disabled = row_count;
    end if;
    update private.notification_deliveries
    set
        receipts_checked_at = now(),
        last_error = case
            when p_errors is null or p_errors = '{}'::jsonb then last_error
            else left('receipts: ' || p_errors::text, 500)
        end
    where id = p_delivery_id;
    return jsonb_build_object('recorded', true, 'disabled_devices', v_disabled);
end;
$$;

comment on function public.record_push_receipts(uuid, uuid[], jsonb) is
'For notify-dispatch (service role): the Expo receipts of one push were read; devices that '
'are no longer registered are disabled, other receipt errors kept in last_error.';

-- ---------------------------------------------------------------------------------------
-- The backstop schedule: notify-dispatch every minute
-- ---------------------------------------------------------------------------------------

do $migration$
begin
    if pg_catalog.to_regclass('private.scheduled_jobs') is not null then
        -- the schedule table of 20261127001200_payment_schedules.sql, where it exists
        execute $sql$
            insert into private.scheduled_jobs (name, schedule, edge_function, description)
            values (
                'notify-dispatch', '* * * * *', 'notify-dispatch',
                'Send queued push and SMS notifications (a backstop: new ones wake it at once).'
            )
            on conflict (name) do nothing
        $sql$;
    elsif exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
        perform cron.schedule(
            'wats-notify-dispatch', '* * * * *', 'select private.invoke_notify_dispatch()'
        );
    else
        raise notice 'pg_cron is not available: the local stack runs notify-dispatch itself';
    end if;
end
$migration$;

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.push_devices enable row level security;
alter table public.marketing_consents enable row level security;

revoke all on table public.push_devices, public.marketing_consents
from anon, authenticated, service_role;
grant select, delete on table public.push_devices to authenticated;
grant select on table public.marketing_consents to authenticated, service_role;

create policy "people read their own devices"
on public.push_devices
for select
to authenticated
using (user_id = (select private.uid()));

create policy "people remove their own devices"
on public.push_devices
for delete
to authenticated
using (user_id = (select auth.uid()));

create policy "people read their own consent history"
on public.marketing_consents
for select
to authenticated
using (user_id = (select private.uid()));

create policy "wats admins read every consent history"
on public.marketing_consents
for select
to wats_admin
using ((select private.is_admin()));

revoke all on function
public.set_marketing_consent(boolean),
public.register_push_device(text, text),
public.claim_notification_deliveries(integer),
public.record_notification_delivery(uuid, uuid, text, text, text, jsonb, uuid[]),
public.push_receipts_to_check(integer),
public.record_push_receipts(uuid, uuid[], jsonb)
from public, anon, authenticated, service_role;

grant execute on function
public.set_marketing_consent(boolean),
public.register_push_device(text, text)
to authenticated;
grant execute on function
public.claim_notification_deliveries(integer),
public.record_notification_delivery(uuid, uuid, text, text, text, jsonb, uuid[]),
public.push_receipts_to_check(integer),
public.record_push_receipts(uuid, uuid[], jsonb)
to service_role;

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
