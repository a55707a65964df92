-- WATS schema, part 2: identity. One profile per auth user (created and kept in sync by
-- triggers on auth.users), the marketplace role, the helpers policies use to know who is
-- asking, and the custom access token hook that puts the role into every access token.

create table public.profiles (
    id uuid primary key references auth.users (id) on delete cascade,
    phone public.msisdn unique,
    full_name text constraint profiles_full_name_length check (
        char_length(btrim(full_name)) between 1 and 120
    ),
    role text not null default 'customer' constraint profiles_role_allowed check (
        role in ('customer', 'vendor', 'admin')
    ),
    language text not null default 'sw' constraint profiles_language_allowed check (
        language in ('sw', 'en')
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

comment on table public.profiles is
'One row per auth user, created by a trigger on auth.users. Owned by the user; only an '
'admin may change role.';
comment on column public.profiles.phone is
'Copied from auth.users.phone (digits only, 255 + 9 digits) and kept in sync by trigger; '
'null when the auth phone is not a Tanzanian number. Not writable through the Data API.';
comment on column public.profiles.language is
'The language the person reads: sw (Kiswahili, the default) or en. Every notification is '
'written in it (private.notification_texts). Changed by its owner.';
comment on column public.profiles.role is
'Marketplace role: customer (default), vendor or admin. Only an admin may change it (guard '
'trigger); approving a vendor promotes its owner from customer to vendor. Copied into '
'access tokens as the user_role claim by public.custom_access_token_hook.';

create trigger profiles_touch_updated_at
before update on public.profiles
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Audiences the planner can see: the wats_admin database role
--
-- An admin's access token names the database role wats_admin (the custom access token
-- hook, below), so the Data API, Storage and Realtime run an admin's request as wats_admin,
-- a member of authenticated that inherits every privilege and policy of it. Read policies
-- come in two: "owners read their own rows" to authenticated (`customer_id = (select
-- auth.uid())`, which PostgreSQL estimates and indexes like the explicit filter an app
-- sends) and "wats admins read every row" to wats_admin only, still checked against
-- profiles (`(select private.is_admin())`), so a demotion applies at once and a stale admin
-- token reads only its own rows. Nobody else's statement carries the admin branch, and an
-- admin's plan is the service role's. PostgreSQL ors a table's permissive policies in
-- reverse name order; "wats admins …" sorts after every other audience's name, so an
-- admin's filter asks the admin branch first (docs/database.md, "Audiences").
-- ---------------------------------------------------------------------------------------

do $$
begin
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'wats_admin') then
        create role wats_admin nologin inherit;
    end if;
end;
$$;

comment on role wats_admin is
'The database role of a WATS admin''s requests (the custom access token hook sets the '
'token''s role claim to it): a member of authenticated, reached only through authenticator. '
'Policies "to wats_admin" hold the admin branch of reads; each still asks private.is_admin().';

grant authenticated to wats_admin;
grant wats_admin to authenticator;
-- Realtime authorizes a private channel as the token's role, on its own connection.
do $$
begin
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_realtime_admin') then
        grant wats_admin to supabase_realtime_admin;
    end if;
end;
$$;
-- PostgREST applies the impersonated role's own settings, not inherited ones: the same
-- statement timeout as authenticated.
alter role wats_admin set statement_timeout = '8s';

-- ---------------------------------------------------------------------------------------
-- Who is asking: helpers for policies (SECURITY DEFINER, so they read profiles without
-- going through its RLS and without recursion). Policies call them as `(select …)`, an
-- init plan evaluated once per statement. They only read the request's claims and tables,
-- so they are PARALLEL SAFE: a policy that calls them leaves the reader parallel plans.
-- Claims of the access token (custom access token hook, below) only ever answer "no"
-- without a lookup; every "yes" is read from the tables.
-- ---------------------------------------------------------------------------------------

create function private.uid()
returns uuid
language plpgsql
stable
parallel safe
set search_path = ''
as $$
begin
    return auth.uid();
end;
$$;

comment on function private.uid() is
'auth.uid(), declared PARALLEL SAFE. Read policies compare with `(select private.uid())`: '
'auth.uid() is declared PARALLEL UNSAFE, and one unsafe function anywhere in a statement, '
'its policies included, denies the whole statement parallel plans (an admin''s page over a '
'large table then costs twice the service role''s). It only reads the request''s settings, '
'which parallel workers share.';

create function private.is_admin()
returns boolean
language plpgsql
stable
parallel safe
security definer
set search_path = ''
as $$
begin
    -- The access token's user_role claim (custom access token hook) only ever says "not
    -- an admin" here, which spares non-admins the lookup: a token issued before a
    -- promotion reads as not admin until it is refreshed. A claim of admin is checked
    -- against profiles, so a demotion applies at once. No claim: profiles decides.
    if coalesce(auth.jwt() ->> 'user_role', 'admin') <> 'admin' then
        return false;
    end if;
    return exists (
        select 1
        from public.profiles as p
        where p.id = auth.uid() and p.role = 'admin'
    );
end;
$$;

comment on function private.is_admin() is
'True when the current user (auth.uid()) has role admin in profiles. Read from the table, '
'so a demotion takes effect at once; a token whose user_role claim names another role is '
'not an admin without a lookup (a promotion takes effect with the next token).';

create function private.is_service_role()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select coalesce((select auth.jwt()) ->> 'role', '') = 'service_role'
    );
end;
$$;

comment on function private.is_service_role() is
'True when the request carries the service_role key (Edge Functions, scheduled jobs).';

create function private.current_app_role()
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select p.role from public.profiles as p where p.id = (select auth.uid())
    );
end;
$$;

comment on function private.current_app_role() is
'Marketplace role (customer, vendor, admin) of the current user, or null without a user.';

create function private.visible_from()
returns uuid
language plpgsql
stable
parallel safe
security definer
set search_path = ''
as $$
begin
    -- a token whose user_role claim is not admin skips is_admin()'s lookup (see there)
    if coalesce(auth.jwt() ->> 'user_role', 'admin') = 'admin' and private.is_admin() then
        return '00000000-0000-0000-0000-000000000000'::uuid;
    end if;
    return auth.uid();
end;
$$;

comment on function private.visible_from() is
'With private.visible_to(), the users whose own rows the current user may read, as '
'one range of ids: just their own id, or every id for an admin (null without a user). '
'Policies say "own rows, or all rows for admins" as `customer_id between (select '
'private.visible_from()) and (select private.visible_to())`: one indexable '
'condition evaluated once per statement. An `or` with an is-admin test forces a sequential '
'scan; an array of every user id costs an admin milliseconds per statement and a linear '
'search per row.';

create function private.visible_to()
returns uuid
language plpgsql
stable
parallel safe
security definer
set search_path = ''
as $$
begin
    if coalesce(auth.jwt() ->> 'user_role', 'admin') = 'admin' and private.is_admin() then
        return 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid;
    end if;
    return auth.uid();
end;
$$;

comment on function private.visible_to() is
'The upper end of the range private.visible_from() opens: the user''s own id, or the '
'greatest uuid for an admin.';

grant execute on function private.uid() to anon, authenticated, service_role;
grant execute on function private.is_admin() to anon, authenticated, service_role;
grant execute on function private.is_service_role() to authenticated, service_role;
grant execute on function private.current_app_role() to anon, authenticated, service_role;
grant execute on function private.visible_from() to anon, authenticated, service_role;
grant execute on function private.visible_to() to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------
-- Role changes are an admin decision
-- ---------------------------------------------------------------------------------------

create function private.guard_profile_role()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if private.is_api_user() and not private.is_admin() then
        raise exception 'only an admin may change a role'
            using errcode = '42501';
    end if;
    if old.role = 'admin' and not exists (
        select 1 from public.profiles as p where p.role = 'admin' and p.id <> old.id
    ) then
        -- an integrity rule, not an access decision: HTTP 400, not 403
        raise exception 'the last admin cannot give up the admin role'
            using errcode = '23514';
    end if;
    return new;
end;
$$;

comment on function private.guard_profile_role() is
'BEFORE UPDATE OF role trigger on profiles: a client (anon/authenticated) that is not an '
'admin may not change a role, and nobody may demote the last admin.';

create trigger profiles_guard_role
before update of role on public.profiles
for each row
when (old.role is distinct from new.role)
execute function private.guard_profile_role();

-- ---------------------------------------------------------------------------------------
-- Profiles follow auth.users
-- ---------------------------------------------------------------------------------------

create function private.handle_auth_user_created()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    -- The role is never taken from user metadata (users can write it): always customer.
    insert into public.profiles (id, phone, full_name)
    values (
        new.id,
        private.normalize_phone(new.phone),
        nullif(left(btrim(coalesce(new.raw_user_meta_data ->> 'full_name', '')), 120), '')
    )
    on conflict (id) do nothing;
    return new;
end;
$$;

comment on function private.handle_auth_user_created() is
'AFTER INSERT trigger on auth.users: creates the profile (role customer, phone copied, '
'full_name from user metadata when given).';

create function private.handle_auth_user_phone_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    update public.profiles
    set phone = private.normalize_phone(new.phone)
    where id = new.id;
    return new;
end;
$$;

comment on function private.handle_auth_user_phone_changed() is
'AFTER UPDATE OF phone trigger on auth.users: keeps profiles.phone equal to the auth phone.';

create trigger wats_on_auth_user_created
after insert on auth.users
for each row execute function private.handle_auth_user_created();

create trigger wats_on_auth_user_phone_changed
after update of phone on auth.users
for each row
when (old.phone is distinct from new.phone)
execute function private.handle_auth_user_phone_changed();

-- ---------------------------------------------------------------------------------------
-- Custom access token hook (supabase/config.toml [auth.hook.custom_access_token])
-- ---------------------------------------------------------------------------------------

create function public.custom_access_token_hook(event jsonb)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_claims jsonb := coalesce(event -> 'claims', '{}'::jsonb);
    v_role text;
    v_vendor uuid;
begin
    select p.role into v_role
    from public.profiles as p
    where p.id = (event ->> 'user_id')::uuid;
    select v.id into v_vendor
    from public.vendors as v
    where v.owner_id = (event ->> 'user_id')::uuid;

    v_claims := jsonb_set(v_claims, '{user_role}', to_jsonb(coalesce(v_role, 'customer')));
    v_claims := jsonb_set(v_claims, '{vendor_id}', coalesce(to_jsonb(v_vendor), 'null'::jsonb));
    -- an admin's requests run as the database role wats_admin (see "Audiences" above)
    if v_role = 'admin' and v_claims ->> 'role' = 'authenticated' then
        v_claims := jsonb_set(v_claims, '{role}', '"wats_admin"');
    end if;
    return jsonb_set(event, '{claims}', v_claims);
end;
$$;

comment on function public.custom_access_token_hook(jsonb) is
'Supabase Auth custom access token hook: adds claims user_role (profiles.role, or customer '
'when the profile does not exist yet) and vendor_id (the shop the user owns, or null), and '
'names the database role wats_admin in the role claim of an admin''s token. '
'Executable only by supabase_auth_admin. The apps use them for routing and UI; policies use '
'user_role only to skip a lookup when it says "not an admin" (private.is_admin()) and read '
'every "yes" from the tables, so a token issued before a promotion can only see less, never '
'more; the shop is always read from vendors.';

grant usage on schema public to supabase_auth_admin;
revoke all on function public.custom_access_token_hook(jsonb)
from public, anon, authenticated, service_role;
grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.profiles enable row level security;

revoke all on table public.profiles from anon, authenticated, service_role;
grant select on table public.profiles to authenticated;
grant update (full_name, role, language) on table public.profiles to authenticated;
-- phone follows auth.users and id is the auth user: not even the service role writes them.
grant select, update (full_name, role, language) on table public.profiles to service_role;
grant select (id, role) on table public.profiles to supabase_auth_admin;

create policy "users read their own profile"
on public.profiles
for select
to authenticated
using (id = (select private.uid()));

create policy "wats admins read every profile"
on public.profiles
for select
to wats_admin
using ((select private.is_admin()));

create policy "users update their own profile, admins update any"
on public.profiles
for update
to authenticated
using (id between (select private.visible_from()) and (select private.visible_to()))
with check (id between (select private.visible_from()) and (select private.visible_to()));

create policy "the auth service reads roles for access tokens"
on public.profiles
for select
to supabase_auth_admin
using (true);

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
