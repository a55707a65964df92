-- WATS schedules (Supabase Cron). One table says what runs when; pg_cron runs it on hosted
-- projects, and the local stack's scheduler (src/wats/stack/scheduler.py) reads the same
-- table where pg_cron or pg_net is missing. Adding a job is one row:
--
--   insert into private.scheduled_jobs (name, schedule, sql_command, description)
--   values ('complete-orders', '*/15 * * * *', 'select public.complete_orders()', '…');
--   insert into private.scheduled_jobs (name, schedule, edge_function, description)
--   values ('refund-execute', '* * * * *', 'refund-execute', '…');
--
-- A trigger (re)schedules the pg_cron jobs (named `wats-<name>`) after every change.
-- An SQL job runs as `postgres`. An Edge Function job is an HTTP POST through pg_net with
-- the service role key, both read from Supabase Vault at run time: until the Vault secrets
-- `wats_project_url` and `wats_service_role_key` exist, the job skips with a log line
-- (docs/deploying.md says which secrets to create, in which order).

create table private.scheduled_jobs (
    name text primary key,
    schedule text not null,
    sql_command text,
    edge_function text,
    description text not null,
    created_at timestamptz not null default now(),
    constraint scheduled_jobs_name_check check (name ~ '^[a-z][a-z0-9-]{0,40}$'),
    constraint scheduled_jobs_schedule_check check (
        schedule ~ '^[0-9]{1,2} seconds$'
        or schedule ~ '^[0-9*/,-]+( [0-9*/,-]+){4}$'
    ),
    constraint scheduled_jobs_one_action_check check (
        (sql_command is null) <> (edge_function is null)
    ),
    constraint scheduled_jobs_function_check check (
        edge_function ~ '^[a-z][a-z0-9-]*$'
    )
);
comment on table private.scheduled_jobs is
'The schedule of WATS (Supabase Cron): each row is one job, run by pg_cron on hosted projects '
'(job `wats-<name>`) and by the local stack''s scheduler where pg_cron or pg_net is missing.';
comment on column private.scheduled_jobs.schedule is
'pg_cron syntax: five cron fields (UTC), or ''N seconds'' (1-59).';
comment on column private.scheduled_jobs.sql_command is
'SQL run as postgres (exclusive with edge_function).';
comment on column private.scheduled_jobs.edge_function is
'Name of an Edge Function POSTed with the service role key and an empty JSON body.';

-- The Edge Function call, as the cron job runs it. The schemas of pg_net and Vault are
-- looked up at run time: they exist on hosted projects, not on every machine this
-- migration is applied to.
create function private.invoke_edge_function(p_function text) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_net text := pg_catalog.to_regnamespace('net')::text;
    v_vault text := pg_catalog.to_regnamespace('vault')::text;
    v_url text;
    v_key text;
    v_request bigint;
begin
    if v_net is null or v_vault is null then
        raise log 'wats: % skipped: pg_net or Vault is missing here', p_function;
        return null;
    end if;
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
        raise log 'wats: % skipped: create the Vault secrets wats_project_url and '
        'wats_service_role_key (docs/deploying.md)', p_function;
        return null;
    end if;
    execute format(
        $sql$
            select %s.http_post(
                url := $1,
                body := '{}'::jsonb,
                headers := $2,
                timeout_milliseconds := 60000
            )
        $sql$,
        v_net
    )
    into v_request
    using
        rtrim(v_url, '/') || '/functions/v1/' || p_function,
        jsonb_build_object(
            'Content-Type', 'application/json',
            'Authorization', 'Bearer ' || v_key
        );
    return v_request;
end
$$;
comment on function private.invoke_edge_function(text) is
'Cron job body for an Edge Function: POST {} to <wats_project_url>/functions/v1/<name> with '
'the service role key, both from Vault, through pg_net; returns the pg_net request id, or '
'null after a log line when pg_net, Vault or a secret is missing.';

-- pg_cron's command for one job.
create function private.scheduled_job_command(p_job private.scheduled_jobs) returns text
language sql
immutable
set search_path = ''
as $$
    select coalesce(
        p_job.sql_command,
        format('select private.invoke_edge_function(%L)', p_job.edge_function)
    )
$$;
comment on function private.scheduled_job_command(private.scheduled_jobs) is
'The SQL pg_cron runs for a scheduled job.';

-- Make pg_cron's `wats-*` jobs exactly the rows of private.scheduled_jobs.
create function private.schedule_jobs() returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_job private.scheduled_jobs;
    v_stale text;
    v_count integer := 0;
begin
    if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
        return 0;
    end if;
    for v_stale in
        select c.jobname from cron.job as c
        where c.jobname like 'wats-%'
            and c.username = current_user
            and substr(c.jobname, 6) not in (select j.name from private.scheduled_jobs as j)
    loop
        perform cron.unschedule(v_stale);
    end loop;
    for v_job in select * from private.scheduled_jobs order by name loop
        perform cron.schedule(
            'wats-' || v_job.name, v_job.schedule, private.scheduled_job_command(v_job)
        );
        v_count := v_count + 1;
    end loop;
    return v_count;
end
$$;
comment on function private.schedule_jobs() is
'(Re)schedule every row of private.scheduled_jobs as pg_cron job wats-<name> and unschedule '
'the wats-* jobs without a row; returns the number scheduled (0 without pg_cron).';

create function private.reschedule_jobs() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    perform private.schedule_jobs();
    return null;
end
$$;
comment on function private.reschedule_jobs() is
'Trigger: keep pg_cron in step with private.scheduled_jobs after every change.';

create trigger scheduled_jobs_reschedule
after insert or update or delete or truncate on private.scheduled_jobs
for each statement execute function private.reschedule_jobs();

revoke execute on all functions in schema private from public;
revoke all on private.scheduled_jobs from anon, authenticated, service_role;

-- Supabase Cron: create pg_cron where this PostgreSQL can run it (hosted projects can;
-- supautils lets `postgres` create it), pg_net where it and Vault exist (hosted).
-- Reading shared_preload_libraries needs pg_read_all_settings, which hosted `postgres`
-- has through pg_monitor.
do $migration$
begin
    if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
        if exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron')
            and current_setting('shared_preload_libraries') like '%pg_cron%' then
            create extension pg_cron with schema pg_catalog;
        else
            raise notice 'pg_cron is not available: the local scheduler runs private.scheduled_jobs';
        end if;
    end if;
    if exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net')
        and exists (select 1 from pg_catalog.pg_namespace where nspname = 'vault') then
        create extension if not exists pg_net with schema extensions;
    end if;
end
$migration$;

insert into private.scheduled_jobs (name, schedule, sql_command, edge_function, description)
values
(
    'expire-overdue-payments', '* * * * *', 'select public.expire_overdue_payments(60)', null,
    'Expire unpaid orders whose payment window has passed (stock back, customer told).'
),
(
    'payment-reconcile', '* * * * *', null, 'payment-reconcile',
    'Ask providers about stale payments and apply their answers, then expire what stays unpaid.'
);
