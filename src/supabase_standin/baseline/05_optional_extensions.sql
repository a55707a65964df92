-- Supabase baseline: extensions a hosted project has before any migration, that only a
-- superuser can create. Each is created only when this machine's PostgreSQL has it.
-- pg_cron is not one of them: hosted projects start without it and `postgres` creates it
-- (`create extension pg_cron`, let through by supautils, here by pgextwlist), as the
-- schedules migration does.

do $$
begin
  -- Used by `supabase db lint`.
  if exists (select 1 from pg_available_extensions where name = 'plpgsql_check') then
    create extension if not exists plpgsql_check with schema extensions;
  end if;
end
$$;
