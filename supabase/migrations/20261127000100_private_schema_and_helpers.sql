-- WATS schema, part 1: the `private` schema and the generic helpers every domain uses.
--
-- `private` is not listed in [api] schemas of supabase/config.toml, so the Data API never
-- exposes it. It holds internal tables (webhook events, idempotency records, payouts, the
-- state-transition list) and the functions that RLS policies and triggers call. API roles
-- get USAGE on the schema only so that policies and triggers evaluated as them can call
-- the few helpers granted to them below; no API role has any privilege on its tables.

create schema if not exists private;

comment on schema private is
'Internal tables and helper functions. Not exposed by the Data API; API roles may only '
'execute the helpers RLS policies and triggers call.';

revoke all on schema private from public, anon, authenticated, service_role;
grant usage on schema private to anon, authenticated, service_role;

-- Functions are executable by PUBLIC by default, and a per-schema ALTER DEFAULT PRIVILEGES
-- cannot take that away. So every migration that creates functions in `private` ends with
-- `revoke execute on all functions in schema private from public`; API roles execute only
-- the helpers granted to them by name.

-- ---------------------------------------------------------------------------------------
-- The contract every domain shares: phones and payment providers, each defined once
-- ---------------------------------------------------------------------------------------

create domain public.msisdn as text
constraint msisdn_format check (value ~ '^255[0-9]{9}$');

comment on domain public.msisdn is
'A Tanzanian mobile number as GoTrue stores phones: 255 + 9 digits, no +. Every phone and '
'wallet column has this type; the Edge Functions'' _shared/payments/contract.ts mirrors it '
'(tests/payments/test_contract.py fails when they drift).';

create domain public.payment_provider as text
constraint payment_provider_known check (value in ('mpesa', 'airtel', 'mixx', 'halopesa'));

comment on domain public.payment_provider is
'The mobile-money providers WATS takes payments with and pays out through: the path segment '
'of payment-webhook and the name of an adapter. Mirrored by _shared/payments/contract.ts.';

create function private.is_payment_provider(p_value text)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
    perform p_value::public.payment_provider;
    return true;
exception when check_violation then
    return false;
end;
$$;

comment on function private.is_payment_provider(text) is
'True when p_value is a public.payment_provider (checked by the domain itself, so the list '
'lives in one place).';

create domain public.idempotency_key as text
constraint idempotency_key_format check (value ~ '^[\x21-\x7e]{8,255}$');

comment on domain public.idempotency_key is
'A client''s Idempotency-Key: 8-255 printable ASCII characters without spaces (Stripe''s '
'rule). Mirrored by _shared/payments/contract.ts.';

create function private.is_idempotency_key(p_value text)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
    perform p_value::public.idempotency_key;
    return p_value is not null;
exception when check_violation then
    return false;
end;
$$;

comment on function private.is_idempotency_key(text) is
'True when p_value is a public.idempotency_key (checked by the domain itself).';

create function private.payment_providers()
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
    -- the values of the domain's check constraint, for messages: "mpesa, airtel, ..."
    return (
        select string_agg(x.m[1], ', ' order by x.n)
        from pg_catalog.pg_constraint as c,
            regexp_matches(pg_catalog.pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g')
            with ordinality as x (m, n)
        where c.contypid = 'public.payment_provider'::pg_catalog.regtype
    );
end;
$$;

comment on function private.payment_providers() is
'The payment providers as a comma-separated list, read from the domain '
'public.payment_provider, for error messages.';

-- ---------------------------------------------------------------------------------------
-- State machines: the allowed-transition list and the checker
-- ---------------------------------------------------------------------------------------

create table private.status_transitions (
    machine text not null,
    from_state text not null,
    to_state text not null,
    primary key (machine, from_state, to_state),
    constraint status_transitions_change check (from_state <> to_state)
);

comment on table private.status_transitions is
'Every allowed status change, per state machine (order, payment, shipment, return, vendor, '
'livestream, bnpl, instalment, payout). A status update not listed here raises WT001. Staying '
'in the same state is always allowed. Initial states are set by column defaults.';
comment on column private.status_transitions.machine is
'State machine name, passed as the first argument of private.enforce_status_transition().';

alter table private.status_transitions enable row level security;
revoke all on table private.status_transitions from anon, authenticated, service_role;

insert into private.status_transitions (machine, from_state, to_state)
values
-- order. The fulfilment states follow the order's shipments (private.sync_order_status):
-- paid -> processing (a parcel packed) -> partially_shipped -> shipped -> delivered ->
-- completed (the return window passed). expired -> paid: a late success re-reserved the
-- stock; cancelled -> paid: a person accepted a payment that came after a failure.
-- paid/processing -> cancelled: cancellation before dispatch (refund follows);
-- partially_shipped/shipped -> cancelled: every parcel came back undelivered (refunded).
-- return_requested -> delivered: every return request on the order was rejected.
('order', 'pending_payment', 'paid'),
('order', 'pending_payment', 'cancelled'),
('order', 'pending_payment', 'expired'),
('order', 'expired', 'paid'),
('order', 'cancelled', 'paid'),
('order', 'paid', 'processing'),
('order', 'paid', 'partially_shipped'),
('order', 'paid', 'shipped'),
('order', 'paid', 'cancelled'),
('order', 'processing', 'partially_shipped'),
('order', 'processing', 'shipped'),
('order', 'processing', 'cancelled'),
('order', 'partially_shipped', 'shipped'),
('order', 'partially_shipped', 'cancelled'),
('order', 'partially_shipped', 'delivered'),
('order', 'shipped', 'delivered'),
('order', 'shipped', 'cancelled'),
('order', 'delivered', 'completed'),
('order', 'delivered', 'return_requested'),
('order', 'return_requested', 'returned'),
('order', 'return_requested', 'delivered'),
('order', 'returned', 'return_requested'),
('order', 'returned', 'completed'),
-- payment. pending -> succeeded/failed: the provider's callback raced the record of the
-- push being accepted. expired -> succeeded: money arrived after expiry; failed ->
-- succeeded: a person confirmed money that arrived after a failure (review), before it is
-- honoured or refunded (docs/payments.md).
('payment', 'pending', 'initiated'),
('payment', 'pending', 'ambiguous'),
('payment', 'pending', 'succeeded'),
('payment', 'pending', 'failed'),
('payment', 'pending', 'expired'),
('payment', 'initiated', 'ambiguous'),
('payment', 'initiated', 'succeeded'),
('payment', 'initiated', 'failed'),
('payment', 'initiated', 'expired'),
('payment', 'ambiguous', 'succeeded'),
('payment', 'ambiguous', 'failed'),
('payment', 'ambiguous', 'expired'),
('payment', 'expired', 'succeeded'),
('payment', 'failed', 'succeeded'),
('payment', 'succeeded', 'refunded'),
('payment', 'succeeded', 'partially_refunded'),
('payment', 'partially_refunded', 'refunded'),
-- shipment. A local courier may skip in_transit; a failed delivery is tried again
-- (dispatched) or the parcel goes back to its center (returned); a parcel not yet
-- dispatched is cancelled with its order.
('shipment', 'pending', 'packed'),
('shipment', 'pending', 'cancelled'),
('shipment', 'packed', 'dispatched'),
('shipment', 'packed', 'cancelled'),
('shipment', 'dispatched', 'in_transit'),
('shipment', 'dispatched', 'delivered'),
('shipment', 'dispatched', 'failed'),
('shipment', 'in_transit', 'delivered'),
('shipment', 'in_transit', 'failed'),
('shipment', 'failed', 'dispatched'),
('shipment', 'failed', 'returned'),
-- return. refunded: the return's refund succeeded, after receipt (the default) or, with
-- returns.refund_on = approval, already after approval.
('return', 'requested', 'approved'),
('return', 'requested', 'rejected'),
('return', 'approved', 'received'),
('return', 'approved', 'refunded'),
('return', 'received', 'refunded'),
-- refund. failed -> processing: tried again; manual: a person paid it by hand.
('refund', 'requested', 'processing'),
('refund', 'requested', 'manual'),
('refund', 'processing', 'succeeded'),
('refund', 'processing', 'failed'),
('refund', 'failed', 'processing'),
('refund', 'failed', 'requested'),
('refund', 'failed', 'manual'),
-- vendor (approval is an admin decision)
('vendor', 'pending', 'approved'),
('vendor', 'pending', 'suspended'),
('vendor', 'approved', 'suspended'),
('vendor', 'suspended', 'approved'),
-- livestream
('livestream', 'scheduled', 'live'),
('livestream', 'scheduled', 'cancelled'),
('livestream', 'live', 'ended'),
-- instalment plan (lipa kidogo kidogo, 20261127001160_instalments.sql): pending until the
-- first instalment is paid (cancelled if it is not); active -> completed when the last one
-- is paid, or cancelled when one stays unpaid past the grace period (paid ones refunded).
('bnpl', 'pending', 'active'),
('bnpl', 'pending', 'cancelled'),
('bnpl', 'active', 'completed'),
('bnpl', 'active', 'cancelled'),
-- instalment of a plan: paid by one succeeded payment, or cancelled with its plan
('instalment', 'scheduled', 'paid'),
('instalment', 'scheduled', 'cancelled'),
-- vendor payout. A failed payout is final: its money is back in the vendor's available
-- balance and the next run pays it in a new payout.
('payout', 'pending', 'processing'),
('payout', 'pending', 'cancelled'),
('payout', 'processing', 'paid'),
('payout', 'processing', 'failed');

create function private.can_transition(p_machine text, p_from text, p_to text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select p_from is not distinct from p_to
            or exists (
                select 1
                from private.status_transitions as t
                where t.machine = p_machine and t.from_state = p_from and t.to_state = p_to
            )
    );
end;
$$;

comment on function private.can_transition(text, text, text) is
'True when state machine p_machine may go from p_from to p_to (or stays put). For SQL '
'functions that want to decide between "apply" and "ignore" without raising.';

create function private.assert_transition(p_machine text, p_from text, p_to text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
    if not private.can_transition(p_machine, p_from, p_to) then
        raise exception 'illegal % status transition: % -> %', p_machine, p_from, p_to
            using errcode = 'WT001',
                  hint = 'Allowed transitions are listed in private.status_transitions.';
    end if;
end;
$$;

comment on function private.assert_transition(text, text, text) is
'Raises SQLSTATE WT001 (HTTP 400 through the Data API) unless p_machine may go from p_from '
'to p_to. Used by private.enforce_status_transition() and callable from SQL functions.';

create function private.enforce_status_transition()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
    v_stamp text;
    v_column text;
    v_set jsonb;
begin
    if not private.can_transition(tg_argv[0], old.status, new.status) then
        perform private.assert_transition(tg_argv[0], old.status, new.status);  -- raises WT001
    end if;
    -- Remaining arguments are 'state:column' pairs: entering `state` stamps `column` with
    -- now(), unless the same statement set that column explicitly. Rows are turned into
    -- JSON only for the one pair that matches (this runs on every payment and order change).
    foreach v_stamp in array tg_argv[1:] loop
        continue when split_part(v_stamp, ':', 1) <> new.status;
        v_column := split_part(v_stamp, ':', 2);
        v_set := to_jsonb(new) -> v_column;
        if v_set = 'null'::jsonb or v_set is not distinct from to_jsonb(old) -> v_column then
            new := jsonb_populate_record(new, jsonb_build_object(v_column, now()));
        end if;
        exit;
    end loop;
    return new;
end;
$$;

comment on function private.enforce_status_transition() is
'BEFORE UPDATE OF status trigger shared by every state table. Argument 1: the state machine '
'name in private.status_transitions; further arguments: ''state:column'' pairs whose column '
'is stamped with now() when the row enters that state. Illegal transitions raise WT001.';

-- ---------------------------------------------------------------------------------------
-- Settings: the business knobs (limits, windows, rates), one row each
-- ---------------------------------------------------------------------------------------

create table private.settings (
    key text primary key constraint settings_key_format check (key ~ '^[a-z_]+(\.[a-z_]+)+$'),
    value jsonb not null,
    description text not null constraint settings_description_present check (
        char_length(description) > 0
    ),
    updated_at timestamptz not null default now()
);

comment on table private.settings is
'Business settings (limits, time windows, rates), one row per key such as '
'checkout.max_open_orders. Each domain''s migration inserts its own rows with their '
'defaults; operators change them with an UPDATE (service role or SQL editor). Internal.';
comment on column private.settings.value is
'The setting as JSON (a number, text or object); read through private.setting_int() and '
'friends, which raise when a key is missing.';

alter table private.settings enable row level security;
revoke all on table private.settings from anon, authenticated, service_role;

create function private.setting_int(p_key text)
returns bigint
language plpgsql
stable
set search_path = ''
as $$
declare
    v_value jsonb;
begin
    select s.value into v_value from private.settings as s where s.key = p_key;
    if v_value is null or jsonb_typeof(v_value) <> 'number' then
        raise exception 'setting % is missing or not a number', p_key
            using errcode = 'WT002', hint = 'Settings live in private.settings.';
    end if;
    return (v_value #>> '{}')::bigint;
end;
$$;

create function private.setting_text(p_key text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
    v_value jsonb;
begin
    select s.value into v_value from private.settings as s where s.key = p_key;
    if v_value is null or jsonb_typeof(v_value) <> 'string' then
        raise exception 'setting % is missing or not text', p_key
            using errcode = 'WT002', hint = 'Settings live in private.settings.';
    end if;
    return v_value #>> '{}';
end;
$$;

comment on function private.setting_text(text) is
'The text setting p_key from private.settings; raises WT002 when it is missing or not text.';

comment on function private.setting_int(text) is
'The whole-number setting p_key from private.settings; raises WT002 when it is missing or '
'not a number, so a typo never silently means zero.';

-- ---------------------------------------------------------------------------------------
-- Generic triggers
-- ---------------------------------------------------------------------------------------

create function private.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.created_at := old.created_at;
    new.updated_at := now();
    return new;
end;
$$;

comment on function private.touch_updated_at() is
'BEFORE UPDATE trigger on every table with updated_at: stamps updated_at and keeps '
'created_at unchanged. (On insert both columns default to now().)';

create function private.forbid_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception '%.% is append-only: % is not allowed', tg_table_schema, tg_table_name, tg_op
        using errcode = '42501';
end;
$$;

comment on function private.forbid_change() is
'Trigger that rejects every UPDATE, DELETE or TRUNCATE, for every role including the table '
'owner. Makes append-only tables (audit_logs, loyalty_points) append-only for real.';

-- ---------------------------------------------------------------------------------------
-- Small pure helpers
-- ---------------------------------------------------------------------------------------

create function private.is_api_user()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return (
        select current_user in ('anon', 'authenticated', 'wats_admin')
    );
end;
$$;

comment on function private.is_api_user() is
'True when the statement runs directly as an end-user API role (anon, authenticated, '
'wats_admin), i.e. a client write through the Data API, and not inside a SECURITY DEFINER '
'SQL function, as service_role, or as the owner. Guard triggers use it to protect '
'admin-only columns.';

create function private.mask_phone(p_phone text)
returns text
language plpgsql
immutable
strict
set search_path = ''
as $$
begin
    -- a plain expression, which PL/pgSQL evaluates without starting a query: it runs per row
    return case
        when char_length(p_phone) >= 8 then left(p_phone, 3) || '****' || right(p_phone, 4)
        else '****'
    end;
end;
$$;

comment on function private.mask_phone(text) is
'Masks a phone for anyone but its owner or an admin: 255712345678 -> 255****5678 (first 3 '
'and last 4 digits kept).';

create function private.normalize_phone(p_phone text)
returns public.msisdn
language plpgsql
immutable
set search_path = ''
as $$
begin
    return regexp_replace(p_phone, '[^0-9]', '', 'g')::public.msisdn;
exception when check_violation then
    return null;  -- not a Tanzanian mobile number
end;
$$;

comment on function private.normalize_phone(text) is
'Digits-only Tanzanian phone (255 + 9 digits) from an auth.users phone, or null when it is '
'not one (profiles.phone then stays empty and checkout refuses with a clear error).';

create function private.is_valid_shipping_address(p_address jsonb)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
    v_key text;
    v_value jsonb;
begin
    if p_address is null or jsonb_typeof(p_address) <> 'object' then
        return false;
    end if;
    if not p_address ?& array['recipient_name', 'region', 'district', 'street'] then
        return false;
    end if;
    for v_key, v_value in select e.key, e.value from jsonb_each(p_address) as e loop
        if v_key <> all (array[
            'recipient_name', 'region', 'district', 'ward', 'street', 'landmark',
            'postcode', 'notes'
        ]) then
            return false;
        end if;
        if jsonb_typeof(v_value) <> 'string'
            or char_length(btrim(v_value #>> '{}')) not between 1 and
                (case when v_key = 'notes' then 500 else 200 end) then
            return false;
        end if;
    end loop;
    return true;
end;
$$;

comment on function private.is_valid_shipping_address(jsonb) is
'Shape of orders.shipping_address: a JSON object with string members recipient_name, '
'region, district, street (required) and ward, landmark, postcode, notes (optional), each '
'1-200 characters (notes up to 500), and no other members.';

grant execute on function private.can_transition(text, text, text)
to anon, authenticated, service_role;
grant execute on function private.assert_transition(text, text, text)
to anon, authenticated, service_role;
grant execute on function private.is_api_user() to anon, authenticated, service_role;
grant execute on function private.mask_phone(text) to authenticated, service_role;
grant execute on function private.is_valid_shipping_address(jsonb) to authenticated, service_role;

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
