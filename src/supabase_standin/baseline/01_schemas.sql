-- Supabase baseline: the public, extensions and graphql_public schemas and their default
-- privileges. API roles get ALL on new objects in public, so RLS is the gate.

alter schema public owner to pg_database_owner;
grant usage on schema public to postgres, anon, authenticated, service_role;
grant all on schema public to postgres;

alter default privileges for role postgres in schema public
grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
grant all on sequences to anon, authenticated, service_role;

alter default privileges for role supabase_admin in schema public
grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin in schema public
grant all on sequences to postgres, anon, authenticated, service_role;

-- Extensions live in their own schema, on the search_path of postgres.
create schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant create on schema extensions to postgres;
alter default privileges in schema extensions
grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions
grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges in schema extensions
grant all on sequences to postgres, anon, authenticated, service_role;

create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pg_stat_statements with schema extensions;

alter role postgres set search_path = "$user", public, extensions;
alter role supabase_admin set search_path = "$user", public, extensions;

-- pg_graphql's schema is exposed by default; it stays empty here.
create schema graphql_public;
grant usage on schema graphql_public to postgres, anon, authenticated, service_role;
