-- Supabase baseline: what hosted projects allow or refuse through their own server modules
-- (supautils, pg-safeupdate), emulated locally and no looser. The modules this cluster
-- really loads are named in the setting standin.server_modules (written by
-- supabase_standin.hosted.modules); each part below is turned on only when its module is
-- there, so a missing one shows as drift in the tests instead of breaking the stack.

-- 1. Privileged extensions (supautils.privileged_extensions): `postgres` may create these,
-- their scripts running as supabase_admin, then the custom script of the extension
-- (hosted/extension-scripts/<name>/after-create.sql). pgextwlist does it here, for
-- `postgres` only; the list is hosted's.
alter role postgres set extwlist.extensions = 'address_standardizer, address_standardizer_data_us, autoinc, bloom, btree_gin, btree_gist, citext, cube, dblink, dict_int, dict_xsyn, earthdistance, fuzzystrmatch, hstore, http, insert_username, intarray, isn, ltree, moddatetime, pg_cron, pg_graphql, pg_hashids, pg_jsonschema, pg_net, pg_stat_monitor, pg_stat_statements, pg_trgm, pg_walinspect, pgaudit, pgcrypto, pgjwt, pgroonga, pgroonga_database, pgrouting, pgrowlocks, pgsodium, pgtap, plcoffee, pljava, plls, plpgsql, plpgsql_check, plv8, postgis, postgis_raster, postgis_sfcgal, postgis_tiger_geocoder, postgis_topology, postgres_fdw, refint, rum, seg, sslinfo, supabase_vault, supautils, tablefunc, tcn, timescaledb, tsm_system_rows, tsm_system_time, unaccent, uuid-ossp, wrappers';

-- 2. pg-safeupdate: every session of the Data API's role refuses UPDATE and DELETE without
-- a WHERE clause (21000), in its own statements and in the SQL functions it calls.
-- Hosted `postgres` loads it too with safeupdate.enabled = 0, which is the same as not
-- loading it.
do $$
begin
    if 'safeupdate' = any(string_to_array(current_setting('standin.server_modules', true), ',')) then
        alter role authenticator set session_preload_libraries = 'safeupdate';
    else
        raise warning 'safeupdate is not built: the Data API carries out unfiltered UPDATE and DELETE';
    end if;
end
$$;

-- 3. Policy and drop-trigger grants (supautils.policy_grants, supautils.drop_trigger_grants,
-- one list on hosted projects): `postgres` may create, alter and drop the policies of
-- these auth and storage tables, and drop their triggers, although it does not own them;
-- nothing else. For one CREATE/ALTER/DROP POLICY or DROP TRIGGER statement of `postgres`,
-- the event triggers lend it the owners' membership and take it back at the end of that
-- statement, refusing the statement if it touched a table outside the list.
create function extensions.standin_policy_grant_tables() returns oid []
language sql stable
set search_path = ''
as $$
    select coalesce(array_agg(t.oid), '{}')
    from unnest(array[
        'auth.audit_log_entries', 'auth.identities', 'auth.refresh_tokens', 'auth.sessions',
        'auth.users', 'realtime.messages', 'storage.buckets', 'storage.migrations',
        'storage.objects', 'storage.s3_multipart_uploads', 'storage.s3_multipart_uploads_parts'
    ]) as n (name)
    cross join lateral (select pg_catalog.to_regclass(n.name)::oid as oid) as t
    where t.oid is not null
$$;
comment on function extensions.standin_policy_grant_tables() is
'Stand-in only: the tables hosted Supabase lets postgres manage policies on and drop triggers of '
'(supautils.policy_grants and drop_trigger_grants).';

create function extensions.standin_policy_grant_check(p_table oid) returns void
language plpgsql stable
set search_path = ''
as $$
begin
    if p_table <> all (extensions.standin_policy_grant_tables())
        and (select c.relowner::regrole::text from pg_catalog.pg_class as c where c.oid = p_table)
        in ('supabase_auth_admin', 'supabase_storage_admin') then
        raise exception 'must be owner of table %',
            (select c.relname from pg_catalog.pg_class as c where c.oid = p_table)
            using errcode = '42501';
    end if;
end
$$;
comment on function extensions.standin_policy_grant_check(oid) is
'Stand-in only: refuse (42501, as PostgreSQL does) a policy or drop-trigger statement of '
'postgres on an auth or storage table outside the grants.';

create function extensions.standin_policy_grant_lend() returns event_trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    -- The role the statement runs as (this function runs as its owner).
    if coalesce(nullif(current_setting('role'), 'none'), session_user) <> 'postgres'
        or pg_catalog.pg_has_role('postgres', 'supabase_storage_admin', 'member')
        or pg_catalog.pg_has_role('postgres', 'supabase_auth_admin', 'member') then
        return;
    end if;
    grant supabase_auth_admin, supabase_storage_admin to postgres;
    perform pg_catalog.set_config('standin.policy_grant_lent', 'on', true);
end
$$;
comment on function extensions.standin_policy_grant_lend() is
'Stand-in only: before a policy or drop-trigger statement of postgres, lend it the auth and '
'storage owners'' membership (taken back by standin_policy_grant_settle).';

create function extensions.standin_policy_grant_dropped() returns event_trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    dropped record;
begin
    if coalesce(current_setting('standin.policy_grant_lent', true), '') <> 'on' then
        return;
    end if;
    for dropped in
        select d.address_names from pg_catalog.pg_event_trigger_dropped_objects() as d
        where d.object_type in ('policy', 'trigger')
    loop
        perform extensions.standin_policy_grant_check(
            pg_catalog.to_regclass(format('%I.%I', dropped.address_names[1], dropped.address_names[2]))
        );
    end loop;
end
$$;
comment on function extensions.standin_policy_grant_dropped() is
'Stand-in only: a DROP POLICY or DROP TRIGGER made with lent membership must be on a granted table.';

create function extensions.standin_policy_grant_settle() returns event_trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    command record;
begin
    if coalesce(current_setting('standin.policy_grant_lent', true), '') <> 'on' then
        return;
    end if;
    revoke supabase_auth_admin, supabase_storage_admin from postgres;
    perform pg_catalog.set_config('standin.policy_grant_lent', '', true);
    for command in
        select c.objid from pg_catalog.pg_event_trigger_ddl_commands() as c
        where c.object_type = 'policy'
    loop
        perform extensions.standin_policy_grant_check(
            (select p.polrelid from pg_catalog.pg_policy as p where p.oid = command.objid)
        );
    end loop;
end
$$;
comment on function extensions.standin_policy_grant_settle() is
'Stand-in only: after a policy or drop-trigger statement of postgres, take the lent membership '
'back and refuse the statement if it was on an auth or storage table outside the grants.';

create event trigger standin_policy_grant_lend on ddl_command_start
when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY', 'DROP TRIGGER')
execute function extensions.standin_policy_grant_lend();

create event trigger standin_policy_grant_dropped on sql_drop
when tag in ('DROP POLICY', 'DROP TRIGGER')
execute function extensions.standin_policy_grant_dropped();

create event trigger standin_policy_grant_settle on ddl_command_end
when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY', 'DROP TRIGGER')
execute function extensions.standin_policy_grant_settle();

revoke all on function extensions.standin_policy_grant_tables() from public;
revoke all on function extensions.standin_policy_grant_check(oid) from public;
