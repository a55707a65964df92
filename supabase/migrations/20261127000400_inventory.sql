-- WATS schema, part 4: inventory. Stock per product and fulfillment center. Vendors stock
-- in (on_hand); checkout reserves and payment commits or releases (reserved), in SQL
-- functions. The public sees availability only, through public.product_stock().

create table public.inventory (
    id uuid primary key default gen_random_uuid(),
    product_id uuid not null,
    vendor_id uuid not null,
    center_id uuid not null references public.fulfillment_centers (id) on delete restrict,
    on_hand integer not null default 0 constraint inventory_on_hand_non_negative check (
        on_hand >= 0
    ),
    reserved integer not null default 0 constraint inventory_reserved_non_negative check (
        reserved >= 0
    ),
    available integer generated always as (on_hand - reserved) stored,
    stocked_total bigint not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint inventory_product_center_key unique (product_id, center_id),
    constraint inventory_reserved_within_on_hand check (reserved <= on_hand),
    constraint inventory_product_fkey foreign key (vendor_id, product_id)
    references public.products (vendor_id, id) on delete cascade
);

comment on table public.inventory is
'Stock of one product at one fulfillment center. The vendor (and admins) read it and set '
'on_hand; reserved is written only by SQL functions (checkout reserves, payment success '
'commits, failure/expiry/cancel releases). reserved <= on_hand always holds.';
comment on column public.inventory.vendor_id is
'The product''s vendor (filled from the product when omitted; enforced by the composite '
'foreign key). Kept here so policies need no join.';
comment on column public.inventory.on_hand is
'Units physically at the center, including reserved ones. Vendors set it (stock in / '
'correction) but never below reserved.';
comment on column public.inventory.reserved is
'Units held by unpaid orders (pending_payment). Not writable through the Data API.';
comment on column public.inventory.available is
'on_hand - reserved: units a customer can buy now. The only figure the public sees.';
comment on column public.inventory.stocked_total is
'Every unit ever put on (or taken off) this shelf by hand: the sum of on_hand changes made '
'outside the order functions (vendors stocking in, corrections). With what was sold and '
'what came back it accounts for on_hand (private.payment_invariant_violations). Kept by a '
'trigger; nobody writes it.';

create index inventory_vendor_id_product_id_idx on public.inventory (vendor_id, product_id);
create index inventory_center_id_idx on public.inventory (center_id);

create trigger inventory_fill_vendor_id
before insert on public.inventory
for each row execute function private.fill_vendor_id_from_product();

create function private.forbid_delete_reserved_stock()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if old.reserved > 0 then
        raise exception 'inventory % holds % reserved units and cannot be deleted',
            old.id, old.reserved
            using errcode = '23514';
    end if;
    if exists (
        select 1 from public.order_items as oi
        where oi.product_id = old.product_id and oi.center_id = old.center_id
    ) then
        raise exception 'inventory % has sold units: set on_hand to 0 instead of deleting it', old.id
            using errcode = '23514';
    end if;
    return old;
end;
$$;

comment on function private.forbid_delete_reserved_stock() is
'BEFORE DELETE trigger on inventory: a row holding reservations of unpaid orders, or whose '
'units orders took (its history accounts for on_hand), stays; set on_hand to 0 instead.';

create trigger inventory_keep_reserved
before delete on public.inventory
for each row execute function private.forbid_delete_reserved_stock();

create function private.count_stock_in()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    -- the order functions (sell, restock) say so in wats.stock_move; any other change of
    -- on_hand is stock put in or taken out by hand
    if tg_op = 'INSERT' then
        new.stocked_total := new.on_hand;
    elsif coalesce(current_setting('wats.stock_move', true), '') = 'on' then
        new.stocked_total := old.stocked_total;
    else
        new.stocked_total := old.stocked_total + new.on_hand - old.on_hand;
    end if;
    return new;
end;
$$;

comment on function private.count_stock_in() is
'BEFORE INSERT / UPDATE OF on_hand, stocked_total trigger on inventory: keeps stocked_total, '
'the units stocked in by hand (every on_hand change made outside the order functions, which '
'set the transaction setting wats.stock_move).';

create trigger inventory_count_stock_in
before insert or update of on_hand, stocked_total on public.inventory
for each row execute function private.count_stock_in();

create trigger inventory_touch_updated_at
before update on public.inventory
for each row execute function private.touch_updated_at();

-- ---------------------------------------------------------------------------------------
-- Public availability
-- ---------------------------------------------------------------------------------------

create function public.product_stock(p_product_ids uuid[])
returns table (product_id uuid, center_id uuid, center_code text, available integer)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if cardinality(p_product_ids) > 500 then
        raise exception 'at most 500 product ids per call'
            using errcode = '22023';
    end if;
    return query
    select i.product_id, i.center_id, c.code, i.available
    from public.inventory as i
    inner join public.fulfillment_centers as c on i.center_id = c.id
    where i.product_id = any(p_product_ids)
        and c.active
        and private.is_listed_product(i.product_id)
    order by i.product_id, c.code;
end;
$$;

comment on function public.product_stock(uuid[]) is
'Availability of listed products per active fulfillment center: units a customer can buy '
'now (on_hand - reserved). Callable by everyone, including anon; on_hand and reserved stay '
'private to the vendor. Unlisted products (draft, archived, vendor not approved) return no '
'rows. At most 500 ids per call.';

revoke all on function public.product_stock(uuid[]) from public, anon, authenticated, service_role;
grant execute on function public.product_stock(uuid[]) to anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------
-- Privileges and policies
-- ---------------------------------------------------------------------------------------

alter table public.inventory enable row level security;

revoke all on table public.inventory from anon, authenticated, service_role;
grant select on table public.inventory to authenticated;
grant insert (product_id, vendor_id, center_id, on_hand) on table public.inventory to authenticated;
grant update (on_hand) on table public.inventory to authenticated;
grant delete on table public.inventory to authenticated;
grant select, insert, update, delete on table public.inventory to service_role;

create policy "vendors read their own stock"
on public.inventory
for select
to authenticated
using (vendor_id = (select private.own_vendor_id()));

create policy "wats admins read all stock"
on public.inventory
for select
to wats_admin
using ((select private.is_admin()));

create policy "vendors stock their own products"
on public.inventory
for insert
to authenticated
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors adjust their own stock"
on public.inventory
for update
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()))
with check (vendor_id between (select private.managed_from()) and (select private.managed_to()));

create policy "vendors remove their own stock rows"
on public.inventory
for delete
to authenticated
using (vendor_id between (select private.managed_from()) and (select private.managed_to()));

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
