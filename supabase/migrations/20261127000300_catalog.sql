-- WATS schema, part 3: the catalog. Vendors (shops) and their private account terms,
-- categories, fulfillment centers, products and product images. Livestreams, which feature
-- products, are in 20261127000350_livestreams.sql.
--
-- The public catalog (what anon sees): approved vendors, active products of approved
-- vendors and their images, all categories, active fulfillment centers, scheduled or live
-- livestreams of approved vendors and the products they feature.

-- ---------------------------------------------------------------------------------------
-- Vendors
-- ---------------------------------------------------------------------------------------

create table public.vendors (
    id uuid primary key default gen_random_uuid(),
    owner_id uuid not null default auth.uid() unique
    references public.profiles (id) on delete restrict,
    name text not null constraint vendors_name_length check (
        char_length(btrim(name)) between 2 and 80
    ),
    slug text not null unique constraint vendors_slug_format check (
        slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 60
    ),
    description text constraint vendors_description_length check (
        char_length(description) <= 2000
    ),
    logo_path text constraint vendors_logo_in_own_folder check (
        split_part(logo_path, '/', 1) = id::text
    ),
    region text constraint vendors_region_length check (char_length(region) <= 80),
    status text not null default 'pending' constraint vendors_status_allowed check (
        status in ('pending', 'approved', 'suspended')
    ),
    status_reason text constraint vendors_status_reason_length check (
        char_length(status_reason) <= 500
    ),
    approved_at timestamptz,
    suspended_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

comment on table public.vendors is
'A shop. Public once approved; owned by owner_id (one shop per user). Only an admin may '
'change status. Commission and payout wallet live in vendor_accounts (not public).';
comment on column public.vendors.owner_id is
'The profile that runs the shop (defaults to the signed-in user). Cannot be changed.';
comment on column public.vendors.logo_path is
'Object name in storage bucket product-images, under the vendor''s own folder <vendor id>/.';
comment on column public.vendors.status is
'pending (applied), approved (listed), suspended. Admin only; transitions checked against '
'private.status_transitions (machine vendor).';
comment on column public.vendors.status_reason is
'Why an admin last changed the status (e.g. the reason for a suspension), shown to the '
'owner. Admin only, like status; the audit log keeps every earlier one.';

create index vendors_status_idx on public.vendors (status);

create table public.vendor_accounts (
    vendor_id uuid primary key references public.vendors (id) on delete cascade,
    commission_bps integer constraint vendor_accounts_commission_range check (
        commission_bps between 0 and 5000
    ),
    payout_provider public.payment_provider,
    payout_msisdn public.msisdn,
    payout_verified_at timestamptz,
    payout_verified_name text constraint vendor_accounts_payout_verified_name_length check (
        char_length(payout_verified_name) <= 200
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint vendor_accounts_payout_complete check (
        (payout_provider is null) = (payout_msisdn is null)
    )
);

comment on table public.vendor_accounts is
'A vendor''s commercial terms and payout wallet, one row per vendor (created with it). '
'Visible to the owner and admins only; the owner sets the wallet, only an admin the '
'commission.';
comment on column public.vendor_accounts.commission_bps is
'This vendor''s own commission deal in basis points of the line total (1000 = 10%), or null '
'for the category''s rate or the default (private.commission_bps). Admin only; the rate in '
'force is snapshotted into order_items.commission_bps at checkout.';
comment on column public.vendor_accounts.payout_msisdn is
'Mobile-money wallet payouts are sent to (255 + 9 digits), on payout_provider.';
comment on column public.vendor_accounts.payout_verified_at is
'When the wallet was confirmed to belong to the vendor (the provider''s name lookup matched, '
'or an admin confirmed it). Cleared whenever the wallet changes; payouts wait for it.';
comment on column public.vendor_accounts.payout_verified_name is
'The wallet holder''s name as the provider reported it (or as the admin confirmed it).';

-- ---------------------------------------------------------------------------------------
-- Vendor helpers for policies
-- ---------------------------------------------------------------------------------------

create function private.owned_vendor_ids()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select array(select v.id from public.vendors as v where v.owner_id = (select auth.uid()))
    );
end;
$$;

comment on function private.owned_vendor_ids() is
'Ids of the vendors the current user owns (whatever their status).';

create function private.managed_vendor_ids()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select case
            when private.is_admin() then array(select v.id from public.vendors as v)
            else private.owned_vendor_ids()
        end
    );
end;
$$;

comment on function private.managed_vendor_ids() is
'Vendors whose rows the current user may manage: the ones they own, or all for an admin. '
'For functions that serve several vendors at once (vendor_order_lines, storage folders); '
'policies use the range private.managed_from() .. private.managed_to().';

create function private.own_vendor_id()
returns uuid
language plpgsql
stable
parallel safe
security definer
set search_path = ''
as $$
begin
    -- Always read from vendors (a unique-index probe, once per statement), never from the
    -- token's vendor_id claim: that claim is stale right after the owner opens a shop, and
    -- the next thing an app does is add the shop's fulfilment center and products.
    return (select v.id from public.vendors as v where v.owner_id = auth.uid());
end;
$$;

comment on function private.own_vendor_id() is
'The shop the current user owns (whatever its status), or null: one per owner '
'(vendors.owner_id is unique). Policies compare it as a scalar, `vendor_id = (select '
'private.own_vendor_id())`, once per statement. Read from vendors, never from the token: '
'a shop counts the moment it is opened.';

create function private.managed_from()
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
    return private.own_vendor_id();
end;
$$;

comment on function private.managed_from() is
'With private.managed_to(), the vendors whose rows the current user manages, as one '
'range of ids: their own shop, or every vendor for an admin (null without either). Policies '
'say "the vendor''s own rows, or all for admins" as `vendor_id between (select '
'private.managed_from()) and (select private.managed_to())`: one indexable '
'condition evaluated once per statement.';

create function private.managed_to()
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
        return 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid;
    end if;
    return private.own_vendor_id();
end;
$$;

comment on function private.managed_to() is
'The upper end of the range private.managed_from() opens: the user''s own shop, or '
'the greatest uuid for an admin.';

create function private.unlisted_vendor_ids()
returns uuid[]
language plpgsql
stable
parallel safe
security definer
set search_path = ''
as $$
begin
    return array(select v.id from public.vendors as v where v.status <> 'approved');
end;
$$;

comment on function private.unlisted_vendor_ids() is
'Vendors the public catalog does not show (pending or suspended): few, so policies test '
'`vendor_id <> all ((select private.unlisted_vendor_ids()))`, which the planner rightly '
'expects almost every row to pass (an array of the approved ones would read as a rare '
'match and steer it away from the catalog''s index).';

grant execute on function private.owned_vendor_ids() to anon, authenticated, service_role;
grant execute on function private.managed_vendor_ids() to anon, authenticated, service_role;
grant execute on function private.own_vendor_id() to anon, authenticated, service_role;
grant execute on function private.managed_from() to anon, authenticated, service_role;
grant execute on function private.managed_to() to anon, authenticated, service_role;
grant execute on function private.unlisted_vendor_ids() to anon, authenticated, service_role;

create index vendors_unlisted_idx on public.vendors (id) where status <> 'approved';

-- ---------------------------------------------------------------------------------------
-- Vendor triggers: admin-only columns, account row, owner promotion
-- ---------------------------------------------------------------------------------------

create function private.guard_admin_only_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if private.is_api_user() and not private.is_admin() then
        raise exception 'only an admin may change %.% (%)',
            tg_table_schema, tg_table_name, array_to_string(tg_argv, ', ')
            using errcode = '42501';
    end if;
    return new;
end;
$$;

comment on function private.guard_admin_only_change() is
'BEFORE UPDATE OF <columns> trigger: a client (anon/authenticated) that is not an admin may '
'not change those columns (listed as trigger arguments, for the error message).';

create trigger vendors_guard_status
before update of status, status_reason on public.vendors
for each row
when (
    old.status is distinct from new.status
    or old.status_reason is distinct from new.status_reason
)
execute function private.guard_admin_only_change('status', 'status_reason');

create trigger vendors_status_transition
before update of status on public.vendors
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'vendor', 'approved:approved_at', 'suspended:suspended_at'
);

create trigger vendors_touch_updated_at
before update on public.vendors
for each row execute function private.touch_updated_at();

create function private.handle_vendor_created()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.vendor_accounts (vendor_id) values (new.id);
    return new;
end;
$$;

comment on function private.handle_vendor_created() is
'AFTER INSERT trigger on vendors: creates the vendor_accounts row with default terms.';

create trigger vendors_create_account
after insert on public.vendors
for each row execute function private.handle_vendor_created();

create function private.promote_approved_vendor_owner()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    update public.profiles
    set role = 'vendor'
    where id = new.owner_id and role = 'customer';
    return new;
end;
$$;

comment on function private.promote_approved_vendor_owner() is
'AFTER INSERT/UPDATE OF status trigger on vendors: an approved vendor''s owner who is still '
'a customer becomes a vendor (the role shows in the next access token).';

create trigger vendors_promote_owner
after insert or update of status on public.vendors
for each row
when (new.status = 'approved')
execute function private.promote_approved_vendor_owner();

create function private.reset_wallet_verification()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.payout_verified_at := null;
    new.payout_verified_name := null;
    return new;
end;
$$;

comment on function private.reset_wallet_verification() is
'BEFORE UPDATE trigger on vendor_accounts: a new payout wallet is not verified yet.';

create trigger vendor_accounts_wallet_changed
before update of payout_provider, payout_msisdn on public.vendor_accounts
for each row
when (
    (old.payout_provider, old.payout_msisdn)
    is distinct from (new.payout_provider, new.payout_msisdn)
)
execute function private.reset_wallet_verification();

create trigger vendor_accounts_guard_commission
before update of commission_bps on public.vendor_accounts
for each row
when (old.commission_bps is distinct from new.commission_bps)
execute function private.guard_admin_only_change('commission_bps');

create trigger vendor_accounts_touch_updated_at
before update on public.vendor_accounts
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Categories and fulfillment centers (admin-managed reference data)
-- ---------------------------------------------------------------------------------------

create table public.categories (
    id uuid primary key default gen_random_uuid(),
    parent_id uuid references public.categories (id) on delete restrict,
    slug text not null unique constraint categories_slug_format check (
        slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 60
    ),
    name text not null constraint categories_name_length check (
        char_length(btrim(name)) between 1 and 80
    ),
    position integer not null default 0 constraint categories_position_range check (
        position between 0 and 10000
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint categories_not_own_parent check (parent_id <> id)
);

comment on table public.categories is
'Product category tree (parent_id null = top level). Public; admins write.';
comment on column public.categories.position is 'Sort order among siblings.';

create index categories_parent_id_idx on public.categories (parent_id);

create function private.prevent_category_cycle()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.parent_id is not null and exists (
        with recursive ancestors (id, parent_id, depth) as (
            select c.id, c.parent_id, 1
            from public.categories as c
            where c.id = new.parent_id
            union all
            select c.id, c.parent_id, a.depth + 1
            from public.categories as c
            inner join ancestors as a on c.id = a.parent_id
            where a.depth < 100
        )
        select 1 from ancestors where ancestors.id = new.id
    ) then
        raise exception 'category % cannot be its own ancestor', new.id
            using errcode = '23514';
    end if;
    return new;
end;
$$;

comment on function private.prevent_category_cycle() is
'BEFORE INSERT/UPDATE OF parent_id trigger on categories: keeps the tree a tree.';

create trigger categories_prevent_cycle
before insert or update of parent_id on public.categories
for each row execute function private.prevent_category_cycle();

create trigger categories_touch_updated_at
before update on public.categories
for each row execute function private.touch_updated_at();

create table public.fulfillment_centers (
    id uuid primary key default gen_random_uuid(),
    code text not null unique constraint fulfillment_centers_code_format check (
        code ~ '^[A-Z]{3,5}$'
    ),
    name text not null constraint fulfillment_centers_name_length check (
        char_length(btrim(name)) between 2 and 80
    ),
    region text not null constraint fulfillment_centers_region_length check (
        char_length(btrim(region)) between 2 and 80
    ),
    address text constraint fulfillment_centers_address_length check (
        char_length(address) <= 300
    ),
    active boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

comment on table public.fulfillment_centers is
'Warehouses orders ship from (Dar es Salaam, Arusha, Mwanza, Dodoma ...). Active ones are '
'public; admins write.';
comment on column public.fulfillment_centers.code is 'Short upper-case code, e.g. DAR.';
comment on column public.fulfillment_centers.active is
'Inactive centers are hidden from the public and take no new stock or orders.';

create index fulfillment_centers_active_idx on public.fulfillment_centers (active);

create trigger fulfillment_centers_touch_updated_at
before update on public.fulfillment_centers
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Commission: the vendor's own deal, else its category's rate (nearest up the tree), else
-- the default; snapshotted on each order line at checkout
-- ---------------------------------------------------------------------------------------

insert into private.settings (key, value, description)
values (
    'commission.default_bps', '1000',
    'Marketplace commission in basis points of a line''s total (1000 = 10%) where neither the '
    'vendor''s deal (vendor_accounts.commission_bps) nor a category rate applies.'
);

create table private.category_commissions (
    category_id uuid primary key references public.categories (id) on delete cascade,
    commission_bps integer not null constraint category_commissions_range check (
        commission_bps between 0 and 5000
    ),
    set_by uuid references public.profiles (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

comment on table private.category_commissions is
'Commission rates per category (basis points), for its products and those of its '
'subcategories without a rate of their own. Set by admins with public.set_category_commission. '
'Internal.';

create index category_commissions_set_by_idx on private.category_commissions (set_by);

create trigger category_commissions_touch_updated_at
before update on private.category_commissions
for each row execute function private.touch_updated_at();

alter table private.category_commissions enable row level security;
revoke all on table private.category_commissions from anon, authenticated, service_role;

create function private.commission_bps(p_vendor_id uuid, p_category_id uuid)
returns integer
language sql
stable
set search_path = ''
as $$
    select coalesce(
        (select a.commission_bps from public.vendor_accounts as a where a.vendor_id = p_vendor_id),
        (
            with recursive up (id, parent_id, depth) as (
                select c.id, c.parent_id, 0 from public.categories as c where c.id = p_category_id
                union all
                select c.id, c.parent_id, up.depth + 1
                from public.categories as c
                inner join up on c.id = up.parent_id
                where up.depth < 20
            )

            select cc.commission_bps
            from up
            inner join private.category_commissions as cc on up.id = cc.category_id
            order by up.depth
            limit 1
        ),
        private.setting_int('commission.default_bps')::integer
    );
$$;

comment on function private.commission_bps(uuid, uuid) is
'The commission in force for a product of vendor p_vendor_id in category p_category_id, the '
'most specific rule winning: the vendor''s own deal, else the nearest category up the tree '
'with a rate, else the setting commission.default_bps.';

create function public.set_category_commission(p_category_id uuid, p_commission_bps integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_before integer;
begin
    if not private.is_admin() then
        raise exception 'only an admin sets commission rates' using errcode = '42501';
    end if;
    if not exists (select 1 from public.categories as c where c.id = p_category_id) then
        perform private.refuse(404, 'category_not_found', 'no such category');
    end if;
    if p_commission_bps is not null and p_commission_bps not between 0 and 5000 then
        perform private.refuse(422, 'commission_out_of_range', 'a commission is 0-5000 basis points');
    end if;
    select cc.commission_bps into v_before
    from private.category_commissions as cc where cc.category_id = p_category_id for update;
    if p_commission_bps is null then
        delete from private.category_commissions where category_id = p_category_id;
    else
        insert into private.category_commissions (category_id, commission_bps, set_by)
        values (p_category_id, p_commission_bps, (select auth.uid()))
        on conflict (category_id) do update
        set commission_bps = excluded.commission_bps, set_by = excluded.set_by;
    end if;
    perform private.write_audit(
        'update', 'category_commissions', p_category_id,
        jsonb_build_object('commission_bps', v_before), jsonb_build_object('commission_bps', p_commission_bps)
    );
    return jsonb_build_object('category_id', p_category_id, 'commission_bps', p_commission_bps);
end;
$$;

comment on function public.set_category_commission(uuid, integer) is
'Admins: the commission rate (basis points, 0-5000) of a category and its subcategories '
'without their own; null removes it. Audited. Applies to checkouts from now on (order lines '
'keep the rate they were bought at).';

revoke all on function public.set_category_commission(uuid, integer)
from public, anon, authenticated, service_role;
grant execute on function public.set_category_commission(uuid, integer) to authenticated;

-- ---------------------------------------------------------------------------------------
-- Products and images
-- ---------------------------------------------------------------------------------------

create table public.products (
    id uuid primary key default gen_random_uuid(),
    vendor_id uuid not null references public.vendors (id) on delete restrict,
    category_id uuid references public.categories (id) on delete set null,
    title text not null constraint products_title_length check (
        char_length(btrim(title)) between 1 and 200
    ),
    description text constraint products_description_length check (
        char_length(description) <= 5000
    ),
    price bigint not null constraint products_price_positive check (price > 0),
    currency text not null default 'TZS' constraint products_currency_tzs check (
        currency = 'TZS'
    ),
    status text not null default 'draft' constraint products_status_allowed check (
        status in ('draft', 'active', 'archived')
    ),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- Target of the (vendor_id, product_id) foreign keys of inventory, product_images,
    -- order_items and livestream_products; also the index on vendor_id.
    constraint products_vendor_id_id_key unique (vendor_id, id)
);

comment on table public.products is
'A vendor''s product. Public when active and the vendor is approved; the vendor (and admins) '
'write. Prices are whole TZS; checkout re-reads them.';
comment on column public.products.price is 'Unit price in whole Tanzanian shillings (> 0).';
comment on column public.products.status is
'draft (not public), active (public when the vendor is approved), archived (withdrawn).';

create index products_category_id_idx on public.products (category_id);
create index products_status_created_at_idx on public.products (status, created_at desc);
-- newest first, for everyone at once: the catalog page reads it and stops after a page,
-- whatever mix of listed and own rows the reader's policy lets through
create index products_created_at_id_idx on public.products (created_at desc, id);
-- a vendor's own products, newest first (the shop's dashboard)
create index products_vendor_id_created_at_idx on public.products (vendor_id, created_at desc, id);

create trigger products_touch_updated_at
before update on public.products
for each row execute function private.touch_updated_at();

create function private.is_listed_product(p_product_id uuid)
returns boolean
language plpgsql
stable
parallel safe
security definer
set search_path = ''
as $$
begin
    return (
        select exists (
            select 1
            from public.products as p
            inner join public.vendors as v on p.vendor_id = v.id
            where p.id = p_product_id and p.status = 'active' and v.status = 'approved'
        )
    );
end;
$$;

comment on function private.is_listed_product(uuid) is
'True when product p_product_id is in the public catalog (active, vendor approved).';

grant execute on function private.is_listed_product(uuid) to anon, authenticated, service_role;

create function private.fill_vendor_id_from_product()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    if new.vendor_id is null then
        select p.vendor_id into new.vendor_id from public.products as p where p.id = new.product_id;
    end if;
    return new;
end;
$$;

comment on function private.fill_vendor_id_from_product() is
'BEFORE INSERT trigger: fills vendor_id from the product when the client omits it. The '
'(vendor_id, product_id) foreign key and the policies still check it.';

create table public.product_images (
    id uuid primary key default gen_random_uuid(),
    product_id uuid not null,
    vendor_id uuid not null,
    storage_path text not null unique,
    position integer not null default 0 constraint product_images_position_range check (
        position between 0 and 50
    ),
    alt_text text constraint product_images_alt_text_length check (char_length(alt_text) <= 200),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint product_images_product_fkey foreign key (vendor_id, product_id)
    references public.products (vendor_id, id) on delete cascade,
    constraint product_images_path_in_vendor_folder check (
        split_part(storage_path, '/', 1) = vendor_id::text
    )
);

comment on table public.product_images is
'Images of a product, stored in bucket product-images under <vendor_id>/. Public with their '
'product; the product''s vendor writes.';
comment on column public.product_images.vendor_id is
'The product''s vendor (filled from the product when omitted; enforced by the composite '
'foreign key). Kept here so policies need no join.';
comment on column public.product_images.storage_path is
'Object name in bucket product-images; must start with <vendor_id>/.';
comment on column public.product_images.position is 'Display order (0 = main image).';

create index product_images_vendor_id_product_id_idx on public.product_images (
    vendor_id, product_id
);
create index product_images_product_id_position_idx on public.product_images (
    product_id, position
);

create trigger product_images_fill_vendor_id
before insert on public.product_images
for each row execute function private.fill_vendor_id_from_product();

create trigger product_images_touch_updated_at
before update on public.product_images
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------

alter table public.vendors enable row level security;
alter table public.vendor_accounts enable row level security;
alter table public.categories enable row level security;
alter table public.fulfillment_centers enable row level security;
alter table public.products enable row level security;
alter table public.product_images enable row level security;

revoke all on table
public.vendors,
public.vendor_accounts,
public.categories,
public.fulfillment_centers,
public.products,
public.product_images
from anon, authenticated, service_role;

grant select on table
public.vendors,
public.categories,
public.fulfillment_centers,
public.products,
public.product_images
to anon, authenticated;

grant select, insert, update, delete on table
public.vendors,
public.vendor_accounts,
public.categories,
public.fulfillment_centers,
public.products,
public.product_images
to service_role;

grant insert (owner_id, name, slug, description, logo_path, region)
on table public.vendors to authenticated;
grant update (name, slug, description, logo_path, region, status, status_reason)
on table public.vendors to authenticated;
grant delete on table public.vendors to authenticated;
-- the custom access token hook (20261127000200_identity.sql) names the shop a user owns
grant select (id, owner_id) on table public.vendors to supabase_auth_admin;

grant select on table public.vendor_accounts to authenticated;
grant update (commission_bps, payout_provider, payout_msisdn)
on table public.vendor_accounts to authenticated;

grant insert (parent_id, slug, name, position) on table public.categories to authenticated;
grant update (parent_id, slug, name, position) on table public.categories to authenticated;
grant delete on table public.categories to authenticated;

grant insert (code, name, region, address, active)
on table public.fulfillment_centers to authenticated;
grant update (code, name, region, address, active)
on table public.fulfillment_centers to authenticated;
grant delete on table public.fulfillment_centers to authenticated;

grant insert (vendor_id, category_id, title, description, price, currency, status)
on table public.products to authenticated;
grant update (category_id, title, description, price, status)
on table public.products to authenticated;
grant delete on table public.products to authenticated;

grant insert (product_id, vendor_id, storage_path, position, alt_text)
on table public.product_images to authenticated;
grant update (position, alt_text) on table public.product_images to authenticated;
grant delete on table public.product_images to authenticated;

-- ---------------------------------------------------------------------------------------
-- Policies (one per role and action)
-- ---------------------------------------------------------------------------------------

-- vendors
create policy "anyone reads approved vendors"
on public.vendors
for select
to anon
using (status = 'approved');

create policy "users read approved vendors and their own"
on public.vendors
for select
to authenticated
using (status = 'approved' or owner_id = (select private.uid()));

create policy "wats admins read every vendor"
on public.vendors
for select
to wats_admin
using ((select private.is_admin()));

create policy "users open a shop for themselves, admins for anyone"
on public.vendors
for insert
to authenticated
with check (owner_id = (select auth.uid()) or (select private.is_admin()));

create policy "owners update their shop, admins update any"
on public.vendors
for update
to authenticated
using (id between (select private.managed_from()) and (select private.managed_to()))
with check (id between (select private.managed_from()) and (select private.managed_to()));

create policy "admins delete vendors"
on public.vendors
for delete
to authenticated
using ((select private.is_admin()));

create policy "the auth service reads shop owners for access tokens"
on public.vendors
for select
to supabase_auth_admin
using (true);

-- vendor_accounts
create policy "owners read their account"
on public.vendor_accounts
for select
to authenticated
using (vendor_id = (select private.own_vendor_id()));

create policy "wats admins read every vendor account"
on public.vendor_accounts
for select
to wats_admin
using ((select private.is_admin()));

create policy "owners update their payout wallet, admins update any"
on public.vendor_accounts
for update
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()))
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

-- categories
create policy "anyone reads categories"
on public.categories
for select
to anon, authenticated
using (true);

create policy "admins create categories"
on public.categories
for insert
to authenticated
with check ((select private.is_admin()));

create policy "admins update categories"
on public.categories
for update
to authenticated
using ((select private.is_admin()))
with check ((select private.is_admin()));

create policy "admins delete categories"
on public.categories
for delete
to authenticated
using ((select private.is_admin()));

-- fulfillment_centers
create policy "anyone reads active fulfillment centers"
on public.fulfillment_centers
for select
to anon
using (active);

create policy "users read active fulfillment centers"
on public.fulfillment_centers
for select
to authenticated
using (active);

create policy "wats admins read every fulfillment center"
on public.fulfillment_centers
for select
to wats_admin
using ((select private.is_admin()));

create policy "admins create fulfillment centers"
on public.fulfillment_centers
for insert
to authenticated
with check ((select private.is_admin()));

create policy "admins update fulfillment centers"
on public.fulfillment_centers
for update
to authenticated
using ((select private.is_admin()))
with check ((select private.is_admin()));

create policy "admins delete fulfillment centers"
on public.fulfillment_centers
for delete
to authenticated
using ((select private.is_admin()));

-- products
create policy "anyone reads listed products"
on public.products
for select
to anon
using (status = 'active' and vendor_id <> all((select private.unlisted_vendor_ids())::uuid[]));

create policy "users read listed products, vendors their own"
on public.products
for select
to authenticated
using (
    (status = 'active' and vendor_id <> all((select private.unlisted_vendor_ids())::uuid[]))
    or vendor_id = (select private.own_vendor_id())
);

create policy "wats admins read every product"
on public.products
for select
to wats_admin
using ((select private.is_admin()));

create policy "vendors create their own products"
on public.products
for insert
to authenticated
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors update their own products"
on public.products
for update
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()))
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors delete their own products"
on public.products
for delete
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()));

-- product_images
-- An image is visible exactly when its product is (same vendor, by the composite key): the
-- policy probes products by primary key under the reader's own products policy. `offset 0`
-- keeps the probe per image; without it PostgreSQL may hash every visible product first.
create policy "anyone reads images of listed products"
on public.product_images
for select
to anon
using (
    exists (
        select 1
        from public.products as p
        where p.id = product_images.product_id
        offset 0  -- noqa: AM09
    )
);

create policy "users read listed images, vendors their own"
on public.product_images
for select
to authenticated
using (
    -- a vendor's own image is theirs without the probe (its product is theirs too)
    vendor_id = (select private.own_vendor_id())
    or exists (
        select 1
        from public.products as p
        where p.id = product_images.product_id
        offset 0  -- noqa: AM09
    )
);

create policy "wats admins read every product image"
on public.product_images
for select
to wats_admin
using ((select private.is_admin()));

create policy "vendors add images to their own products"
on public.product_images
for insert
to authenticated
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors update their own product images"
on public.product_images
for update
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()))
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors delete their own product images"
on public.product_images
for delete
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
