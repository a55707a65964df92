-- WATS notifications, part 3: live updates in the open app, through Supabase Realtime
-- Broadcast on one private topic per person, sent from the database.
--
--   topic  user:<user id>          (private: the app joins with config.private = true)
--   event  notification           a new row of public.notifications (the inbox)
--          order_status           one of the person's orders changed status
--          payment_status         one of the person's payments changed status
--
-- Triggers call realtime.send(payload, event, topic, true) after each change; Realtime
-- delivers the message once the transaction commits. A policy on realtime.messages lets a
-- signed-in person join only their own topic: Realtime checks it in PostgreSQL, as that
-- person, when the app joins (and again when its token is refreshed).
--
-- The `realtime` schema exists on every hosted project (and in the local stack's baseline).
-- Where it does not, this migration creates the functions but no trigger and no policy,
-- with a notice: the inbox and push/SMS work the same, only live updates are missing.

create function private.live_topic(p_user_id uuid)
returns text
language sql
immutable
set search_path = ''
as $$
    select 'user:' || p_user_id::text;
$$;

comment on function private.live_topic(uuid) is
'The private Realtime topic of one person: user:<user id>.';

create function private.broadcast_notification()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform realtime.send(
        jsonb_build_object(
            'id', new.id,
            'type', new.type,
            'title', new.title,
            'body', new.body,
            'data', new.data,
            'language', new.language,
            'created_at', new.created_at
        ),
        'notification',
        private.live_topic(new.user_id),
        true
    );
    return null;
end;
$$;

comment on function private.broadcast_notification() is
'AFTER INSERT trigger on notifications: the new notification, on its recipient''s private '
'Realtime topic (event notification). realtime.send never raises.';

create function private.broadcast_order_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform realtime.send(
        jsonb_build_object(
            'order_id', new.id,
            'status', new.status,
            'previous_status', old.status,
            'changed_at', now()
        ),
        'order_status',
        private.live_topic(new.customer_id),
        true
    );
    return null;
end;
$$;

comment on function private.broadcast_order_status() is
'AFTER UPDATE OF status trigger on orders: the new status, on the customer''s private '
'Realtime topic (event order_status).';

create function private.broadcast_payment_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    perform realtime.send(
        jsonb_build_object(
            'payment_id', new.id,
            'order_id', new.order_id,
            'status', new.status,
            'previous_status', old.status,
            'changed_at', now()
        ),
        'payment_status',
        private.live_topic(new.customer_id),
        true
    );
    return null;
end;
$$;

comment on function private.broadcast_payment_status() is
'AFTER UPDATE OF status trigger on payments: the new status, on the payer''s private '
'Realtime topic (event payment_status).';

do $migration$
begin
    if pg_catalog.to_regclass('realtime.messages') is null
        or pg_catalog.to_regprocedure('realtime.send(jsonb, text, text, boolean)') is null
        or pg_catalog.to_regprocedure('realtime.topic()') is null then
        raise notice 'no realtime schema here: live updates are not set up (inbox, push and SMS are)';
        return;
    end if;

    create trigger notifications_broadcast
    after insert on public.notifications
    for each row execute function private.broadcast_notification();

    create trigger orders_broadcast_status
    after update of status on public.orders
    for each row when (old.status is distinct from new.status)
    execute function private.broadcast_order_status();

    create trigger payments_broadcast_status
    after update of status on public.payments
    for each row when (old.status is distinct from new.status)
    execute function private.broadcast_payment_status();

    -- Realtime asks, as the joining user with realtime.topic set, whether it can see a
    -- probe message of the topic: only the person's own topic, only broadcasts.
    execute $policy$
        create policy "people receive live updates on their own topic only"
        on realtime.messages
        for select
        to authenticated
        using (
            realtime.messages.extension = 'broadcast'
            and (select realtime.topic()) = 'user:' || (select auth.uid())::text
        )
    $policy$;
end
$migration$;

revoke execute on all functions in schema private from public;
