-- Supabase baseline: the `realtime` schema as Supabase Realtime's tenant migrations leave
-- it on a hosted project (supabase/realtime, lib/realtime/tenants/repo/migrations), the part
-- that Broadcast from the database and its authorization use: realtime.messages
-- (partitioned by day, RLS on, owned by supabase_realtime_admin), realtime.topic(),
-- realtime.send(), realtime.send_binary() and realtime.broadcast_changes(). Postgres
-- Changes (realtime.subscription, wal2json) is not part of the stand-in.

-- The owner of the realtime tables. Hosted Realtime connects as the cluster superuser; the
-- stand-in's Realtime service connects as this owner instead (never a superuser, never
-- BYPASSRLS): it inserts the probe rows of an authorization check, then switches to the
-- user's role, as Realtime does. Roles are cluster-wide: it may exist from an earlier reset.
do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_realtime_admin') then
        create role supabase_realtime_admin;
    end if;
end
$$;
alter role supabase_realtime_admin with login noinherit nocreaterole nobypassrls password 'postgres';
grant anon, authenticated, service_role to supabase_realtime_admin;
grant connect on database postgres to supabase_realtime_admin;
alter role supabase_realtime_admin set statement_timeout = '8s';

create schema realtime;
grant usage on schema realtime to postgres, anon, authenticated, service_role, supabase_realtime_admin;
-- The daily partitions are created by the Realtime service (its janitor), as their owner.
grant create on schema realtime to supabase_realtime_admin;
-- `postgres` writes the policies on realtime.messages. Hosted projects allow it through
-- supautils' policy_grants (newer ones) or this membership (older ones).
grant supabase_realtime_admin to postgres;

create table realtime.messages (
    topic text not null,
    extension text not null,
    payload jsonb,
    event text,
    private boolean default false,
    updated_at timestamp not null default now(),
    inserted_at timestamp not null default now(),
    id uuid not null default gen_random_uuid(),
    binary_payload bytea,
    constraint messages_payload_exclusive check (payload is null or binary_payload is null),
    primary key (id, inserted_at)
) partition by range (inserted_at);
create index messages_inserted_at_topic_index on realtime.messages (inserted_at desc, topic)
where extension = 'broadcast' and private is true;
alter table realtime.messages owner to supabase_realtime_admin;
alter table realtime.messages enable row level security;
grant select, insert, update on realtime.messages to postgres, anon, authenticated, service_role;

-- The topic of the channel an authorization check is about (set by Realtime, and by
-- realtime.send for the rest of the sending transaction).
create function realtime.topic() returns text
language sql stable
as $$
    select nullif(current_setting('realtime.topic', true), '')::text;
$$;

-- Broadcast from the database: the message reaches the subscribers of `topic` (private ones
-- only when `private`) once the transaction commits. Never raises: a failure is a warning.
create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
    generated_id uuid;
    final_payload jsonb;
begin
    begin
        generated_id := gen_random_uuid();
        if payload ? 'id' then
            final_payload := payload;
        else
            final_payload := jsonb_set(payload, '{id}', to_jsonb(generated_id));
        end if;
        execute format('SET LOCAL realtime.topic TO %L', topic);
        insert into realtime.messages (id, payload, event, topic, private, extension)
        values (generated_id, final_payload, event, topic, private, 'broadcast');
    exception
        when others then
            raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
    end;
end;
$$;

create function realtime.send_binary(payload bytea, event text, topic text, private boolean default true)
returns void
language plpgsql
as $$
declare
    generated_id uuid;
begin
    begin
        generated_id := gen_random_uuid();
        execute format('SET LOCAL realtime.topic TO %L', topic);
        insert into realtime.messages (id, binary_payload, event, topic, private, extension)
        values (generated_id, payload, event, topic, private, 'broadcast');
    exception
        when others then
            raise warning 'WarnSendingBroadcastMessage: %', sqlerrm;
    end;
end;
$$;

create function realtime.broadcast_changes(
    topic_name text, event_name text, operation text, table_name text, table_schema text,
    new record, old record, level text default 'ROW'
)
returns void
language plpgsql
as $$
declare
    row_data jsonb := '{}'::jsonb;
begin
    if level = 'STATEMENT' then
        raise exception 'function can only be triggered for each row, not for each statement';
    end if;
    if operation = 'INSERT' or operation = 'UPDATE' or operation = 'DELETE' then
        row_data := jsonb_build_object(
            'old_record', old, 'record', new, 'operation', operation,
            'table', table_name, 'schema', table_schema
        );
        perform realtime.send(row_data, event_name, topic_name);
    else
        raise exception 'Unexpected operation type: %', operation;
    end if;
exception
    when others then
        raise exception 'Failed to process the row: %', sqlerrm;
end;
$$;

alter function realtime.topic() owner to supabase_realtime_admin;
alter function realtime.send(jsonb, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.send_binary(bytea, text, text, boolean) owner to supabase_realtime_admin;
alter function realtime.broadcast_changes(text, text, text, text, text, record, record, text)
owner to supabase_realtime_admin;
grant execute on all functions in schema realtime to postgres, anon, authenticated, service_role;

-- Stand-in only: hosted Realtime reads committed inserts of realtime.messages from a
-- logical replication slot. Locally a NOTIFY (delivered only when the transaction commits,
-- like the replication stream) tells the Realtime service which message to fan out.
create function extensions.standin_realtime_notify() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform pg_catalog.pg_notify(
        'standin_realtime',
        pg_catalog.json_build_object('id', new.id, 'inserted_at', new.inserted_at)::text
    );
    return null;
end
$$;
comment on function extensions.standin_realtime_notify() is
'Stand-in only: tells the local Realtime service about a committed broadcast message (hosted '
'Realtime reads them from logical replication).';
revoke all on function extensions.standin_realtime_notify() from public;

create trigger standin_realtime_notify
after insert on realtime.messages
for each row when (new.extension = 'broadcast' and new.event is not null)
execute function extensions.standin_realtime_notify();

-- The partitions of the next days (the Realtime service's janitor keeps them coming and
-- drops the ones older than three days, as Realtime does).
do $$
declare
    d date;
begin
    for d in select g::date from generate_series(current_date - 1, current_date + 3, interval '1 day') as g loop
        execute format(
            'create table if not exists realtime.%I partition of realtime.messages for values from (%L) to (%L)',
            'messages_' || to_char(d, 'YYYY_MM_DD'), d, d + 1
        );
        execute format('alter table realtime.%I owner to supabase_realtime_admin', 'messages_' || to_char(d, 'YYYY_MM_DD'));
    end loop;
end
$$;
