-- Run by pgextwlist as the bootstrap superuser (supabase_admin) right after `postgres`
-- creates pg_cron, as supautils runs hosted Supabase's custom script for it. What hosted
-- projects give `postgres` on the cron schema: the schema and the functions with grant
-- option, every table but cron.job (read only: jobs change through cron.schedule and
-- cron.unschedule), no TRIGGER on cron.job_run_details.
grant usage on schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;

alter default privileges for role supabase_admin in schema cron
grant all on tables to postgres with grant option;
alter default privileges for role supabase_admin in schema cron
grant all on sequences to postgres with grant option;
alter default privileges for role supabase_admin in schema cron
grant all on functions to postgres with grant option;

grant all on all tables in schema cron to postgres with grant option;
revoke all on table cron.job from postgres;
grant select on table cron.job to postgres with grant option;
revoke trigger on cron.job_run_details from postgres;
