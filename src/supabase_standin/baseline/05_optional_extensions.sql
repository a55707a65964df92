-- Supabase baseline: extensions a hosted project offers that only a superuser can create
-- locally (hosted Supabase lets `postgres` create them through supautils). Each is
-- created only when this machine's PostgreSQL has it installed.

do $$
begin
  -- Supabase Cron. Needs shared_preload_libraries = 'pg_cron' (set by the local stack).
  if exists (select 1 from pg_available_extensions where name = 'pg_cron')
     and current_setting('shared_preload_libraries') like '%pg_cron%' then
    create extension if not exists pg_cron with schema pg_catalog;
    grant usage on schema cron to postgres;
    grant all on all tables in schema cron to postgres;
    grant all on all sequences in schema cron to postgres;
    grant all on all functions in schema cron to postgres;
  end if;
  -- Used by `supabase db lint`.
  if exists (select 1 from pg_available_extensions where name = 'plpgsql_check') then
    create extension if not exists plpgsql_check with schema extensions;
  end if;
end
$$;
