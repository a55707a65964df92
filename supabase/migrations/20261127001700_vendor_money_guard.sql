-- WATS fix: the guard of the vendor money RPCs (vendor_balance, vendor_statement,
-- request_payout) let a caller without a shop through. private.vendor_for_caller compared
-- `v_vendor = private.own_vendor_id()`, which is null for someone who owns no shop (since
-- own_vendor_id reads vendors, 20261127000300_catalog.sql), so `not (null or false)` was
-- null and the IF did not raise: any customer could read a shop's balance and statement
-- and open a payout of its money to the shop's wallet. The policy suite's cells
-- (customer / other_customer on those three functions) caught it. Null now means "not
-- yours".

create or replace function private.vendor_for_caller(p_vendor_id uuid)
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
    v_vendor uuid := coalesce(
        p_vendor_id,
        (select v.id from public.vendors as v where v.owner_id = (select auth.uid()))
    );
begin
    if
        v_vendor is null
        or not (
            v_vendor is not distinct from private.own_vendor_id()
            or coalesce(private.is_admin(), false)
        )
    then
        raise exception 'only the vendor''s owner or an admin may see its money' using errcode = '42501';
    end if;
    return v_vendor;
end;
$$;

comment on function private.vendor_for_caller(uuid) is
'The vendor a money RPC is about: p_vendor_id, or the caller''s own shop when null. 42501 '
'unless the caller owns it or is an admin (someone who owns no shop owns none of them).';
