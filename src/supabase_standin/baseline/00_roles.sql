-- Supabase baseline (local stack only, never part of supabase/migrations): roles and
-- database privileges as a hosted Supabase project has them before any migration runs.
-- Applied once by the cluster superuser `supabase_admin` right after initdb.

-- API roles. PostgREST switches to one of them per request; none can log in. INHERIT, as
-- on hosted projects since 2023.
create role anon nologin inherit;
create role authenticated nologin inherit;
create role service_role nologin inherit bypassrls;

-- The role the Data API and Storage API connect as; it can only become an API role.
create role authenticator login noinherit password 'postgres';
grant anon, authenticated, service_role to authenticator;

-- The developer's role: owns the application schema, runs migrations. As on hosted
-- Supabase it is not a superuser, but it bypasses RLS and can act as the API roles.
create role postgres login createdb createrole replication bypassrls password 'postgres';
grant anon, authenticated, service_role to postgres;
-- With ADMIN OPTION on the roles a project's own roles build on, as hosted grants it
-- (`GRANT anon/authenticated/authenticator TO postgres WITH ADMIN OPTION` in a hosted
-- dump): PostgreSQL 16+ lets only such a holder grant `authenticated` to a new role or
-- a new role to `authenticator` (docs/database.md, "Audiences").
grant anon, authenticated, authenticator to postgres with admin option;
-- Hosted `postgres` may watch and stop sessions and read every table and setting
-- (pg_monitor includes pg_read_all_settings, e.g. shared_preload_libraries).
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;

-- Owners of the auth and storage schemas; the Auth service connects as supabase_auth_admin.
create role supabase_auth_admin login noinherit password 'postgres';
create role supabase_storage_admin login noinherit createrole password 'postgres';
grant authenticator to supabase_storage_admin;

-- `postgres` is a member of neither supabase_auth_admin nor supabase_storage_admin (hosted
-- revoked both memberships): it cannot alter, index or re-own an auth or storage table.
-- It may create policies on some of them, as supautils' policy grants allow on hosted
-- projects; 06_hosted_modules.sql emulates exactly that.

-- Short statement timeouts for API roles, as on hosted Supabase. The Data API applies
-- them per request (SET ROLE alone does not apply role settings).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';

alter database postgres owner to postgres;
grant all on database postgres to postgres;
grant connect on database postgres to authenticator, supabase_auth_admin, supabase_storage_admin;

-- PostgREST reads its exposed schemas from `pgrst.db_schemas` on the authenticator role
-- (in-database configuration); the developer may change it, as on a hosted project.
grant set on parameter "pgrst.db_schemas" to postgres;
