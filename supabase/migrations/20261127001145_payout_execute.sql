-- PROPOSED with issue 10 (payout-execute) for the SQL owner: fold into
-- 20261127001140_payouts.sql and delete this file.
--
-- payout-execute asks the provider about a payout whose answer was lost (a stale
-- processing payout): by our reference, at the provider of the wallet it was sent to, by
-- the method recorded with its last answer. No API role reads private.vendor_payouts, so
-- payouts_to_execute hands these out with each row (the reference is handed out by
-- claim_payout already; all of it to the service role only).

drop function public.payouts_to_execute(integer, integer);

create function public.payouts_to_execute(
    p_limit integer default 50, p_stale_seconds integer default 120
)
returns table (
    payout_id uuid,
    action text,
    provider public.payment_provider,
    reference text,
    method text
)
language sql
stable
security definer
set search_path = ''
as $$
    select
        p.id,
        case when p.status = 'pending' then 'send' else 'check' end,
        p.provider,
        p.reference,
        p.method
    from private.vendor_payouts as p
    where (p.status = 'pending' and (not p.needs_approval or p.approved_at is not null))
        or (
            p.status = 'processing'
            and coalesce(p.last_checked_at, p.claimed_at) < now() - make_interval(secs => p_stale_seconds)
        )
    order by p.created_at
    limit least(greatest(coalesce(p_limit, 50), 1), 500);
$$;

comment on function public.payouts_to_execute(integer, integer) is
'Payouts to send (pending, approved where needed) and to ask the provider about (processing '
'with no answer for p_stale_seconds), with the provider, our reference and the method of the '
'last answer (what a check asks by). Service role only.';

revoke all on function public.payouts_to_execute(integer, integer)
from public, anon, authenticated, service_role;
grant execute on function public.payouts_to_execute(integer, integer) to service_role;
