-- WATS payments, part 3: the schedule (Supabase Cron). Two jobs, every minute:
--
--   wats-expire-overdue-payments  SQL: expire unpaid orders whose window has passed
--   wats-payment-reconcile        HTTP (pg_net): call the payment-reconcile Edge Function,
--                                 which asks providers about stale payments, then expires
--
-- Each job is created only where its extension exists, so this migration applies cleanly
-- everywhere: a database without pg_cron gets no job (the local stack then runs the same
-- schedule itself, see src/wats/stack/scheduler.py), and without pg_net only the SQL job.
-- The reconcile job reads the project URL and the service role key from Supabase Vault at
-- run time; create them once per project (docs/payments.md, "Going live"):
--   select vault.create_secret('https://<ref>.supabase.co', 'wats_project_url');
--   select vault.create_secret('<service role key>', 'wats_service_role_key');

do $migration$
begin
    if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
        if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron')
            or current_setting('shared_preload_libraries') not like '%pg_cron%' then
            raise notice 'pg_cron is not available: no payment jobs scheduled';
            return;
        end if;
        create extension pg_cron with schema pg_catalog;
    end if;

    perform cron.schedule(
        'wats-expire-overdue-payments',
        '* * * * *',
        'select public.expire_overdue_payments(60)'
    );

    if exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net')
        and exists (select 1 from pg_catalog.pg_namespace where nspname = 'vault') then
        create extension if not exists pg_net with schema extensions;
        perform cron.schedule(
            'wats-payment-reconcile',
            '* * * * *',
            $job$
            select net.http_post(
                url := (
                    select decrypted_secret from vault.decrypted_secrets
                    where name = 'wats_project_url'
                ) || '/functions/v1/payment-reconcile',
                headers := jsonb_build_object(
                    'Content-Type', 'application/json',
                    'Authorization', 'Bearer ' || (
                        select decrypted_secret from vault.decrypted_secrets
                        where name = 'wats_service_role_key'
                    )
                ),
                body := '{}'::jsonb,
                timeout_milliseconds := 60000
            )
            $job$
        );
    else
        raise notice 'pg_net or Vault is not available: payment-reconcile is not scheduled here';
    end if;
end
$migration$;
