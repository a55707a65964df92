-- WATS schema, part 6: payments. One row per mobile-money payment attempt of an order,
-- written only by SQL functions (checkout, record push outcome, apply provider event,
-- reconcile/expire: 20261127001100_checkout.sql and the two after it). Internal tables the
-- payment flow needs live in `private`: provider references, raw webhook events,
-- idempotency records (vendor payouts: 20261127001140_payouts.sql).

create domain public.payment_status as text
constraint payment_status_known check (
    value in (
        'pending', 'initiated', 'ambiguous', 'succeeded', 'failed', 'expired',
        'refunded', 'partially_refunded'
    )
);

comment on domain public.payment_status is
'The states of a payment (machine payment in private.status_transitions). Mirrored by the '
'Edge Functions'' _shared/payments/contract.ts.';

create table public.payments (
    id uuid primary key default gen_random_uuid(),
    order_id uuid not null,
    customer_id uuid not null,
    provider public.payment_provider not null,
    msisdn public.msisdn not null,
    amount bigint not null constraint payments_amount_positive check (amount > 0),
    currency text not null default 'TZS' constraint payments_currency_tzs check (
        currency = 'TZS'
    ),
    status public.payment_status not null default 'pending',
    attempt integer not null default 1 constraint payments_attempt_range check (
        attempt between 1 and 50
    ),
    provider_request_id text constraint payments_provider_request_id_length check (
        char_length(provider_request_id) <= 128
    ),
    provider_txn_id text constraint payments_provider_txn_id_length check (
        char_length(provider_txn_id) <= 128
    ),
    failure_code text constraint payments_failure_code_length check (
        char_length(failure_code) <= 64
    ),
    failure_reason text constraint payments_failure_reason_length check (
        char_length(failure_reason) <= 500
    ),
    status_checks integer not null default 0 constraint payments_status_checks_non_negative check (
        status_checks >= 0
    ),
    last_checked_at timestamptz,
    push_requested_at timestamptz,
    initiated_at timestamptz,
    completed_at timestamptz,
    refunded_amount bigint not null default 0,
    refunded_at timestamptz,
    needs_review boolean not null default false,
    review_reason text constraint payments_review_reason_allowed check (
        review_reason in (
            'amount_mismatch',
            'currency_mismatch',
            'msisdn_mismatch',
            'success_after_expiry_no_stock',
            'success_after_failure',
            'duplicate_payment',
            'plan_cancelled',
            'report_unreadable',
            'other'
        )
    ),
    review_note text constraint payments_review_note_length check (
        char_length(review_note) <= 1000
    ),
    reviewed_at timestamptz,
    reviewed_by uuid references public.profiles (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint payments_order_attempt_key unique (order_id, attempt),
    constraint payments_refund_within_amount check (refunded_amount between 0 and amount),
    constraint payments_review_has_reason check (not needs_review or review_reason is not null),
    constraint payments_order_fkey foreign key (customer_id, order_id)
    references public.orders (customer_id, id) on delete restrict
);

comment on table public.payments is
'A mobile-money payment attempt for an order (attempt 1, 2 ... per order). Read by the '
'customer and admins; written only by SQL functions. Status transitions are checked '
'against private.status_transitions (machine payment); a terminal state never goes back.';
comment on column public.payments.customer_id is
'The order''s customer (composite foreign key), kept here so policies need no join.';
comment on column public.payments.msisdn is
'Wallet the push prompt goes to (255 + 9 digits), from the customer''s profile.';
comment on column public.payments.status is
'pending -> initiated -> succeeded | failed | expired; pending/initiated -> ambiguous '
'(timeout, unclear answer) -> succeeded | failed | expired, resolved only by a status query '
'or a callback; succeeded -> refunded | partially_refunded; expired -> succeeded (money '
'arrived late). Review is a flag (needs_review), not a status.';
comment on column public.payments.attempt is
'Attempt number for the order, from 1 (an instalment plan pays with several payments, and '
'an instalment that failed is tried again with a new one).';
comment on column public.payments.provider_request_id is
'Identifier the provider returned when it accepted the push (e.g. a conversation id).';
comment on column public.payments.provider_txn_id is
'The provider''s transaction id from the callback or status query (the receipt).';
comment on column public.payments.failure_code is 'Provider result code of a failure.';
comment on column public.payments.status_checks is
'How many status queries reconciliation has made for this payment.';
comment on column public.payments.push_requested_at is
'When a caller claimed the right to send the push prompt (set once, under a row lock): a '
'retried checkout never prompts the customer twice.';
comment on column public.payments.completed_at is
'When the payment reached succeeded, failed or expired (stamped by the transition trigger).';
comment on column public.payments.refunded_amount is 'Whole TZS refunded so far (<= amount).';
comment on column public.payments.needs_review is
'True when a person must look at this payment before money or stock moves: the provider '
'reported a different amount, currency or msisdn, or one we could not read '
'(report_unreadable, the fields in review_note), or money arrived after the order expired '
'(no stock left) or after a failure, or the order (an instalment) was paid twice, or an '
'instalment was paid after its plan was cancelled (plan_cancelled). review_reason says why.';
comment on column public.payments.review_reason is
'Why needs_review was set; kept after the review is resolved (reviewed_at, reviewed_by).';

create index payments_customer_id_order_id_idx on public.payments (customer_id, order_id);
create index payments_reviewed_by_idx on public.payments (reviewed_by);
create unique index payments_provider_txn_id_key on public.payments (provider, provider_txn_id);
-- At most one open attempt per order.
create unique index payments_one_open_per_order_key on public.payments (order_id)
where status in ('pending', 'initiated', 'ambiguous');
-- Reconciliation picks stale open payments; reviewers pick flagged ones.
create index payments_open_created_at_idx on public.payments (created_at)
where status in ('pending', 'initiated', 'ambiguous');
create index payments_needs_review_idx on public.payments (created_at) where needs_review;

create trigger payments_status_transition
before update of status on public.payments
for each row
when (old.status is distinct from new.status)
execute function private.enforce_status_transition(
    'payment',
    'initiated:initiated_at',
    'succeeded:completed_at',
    'failed:completed_at',
    'expired:completed_at',
    'refunded:refunded_at',
    'partially_refunded:refunded_at'
);

create trigger payments_touch_updated_at
before update on public.payments
for each row execute function private.touch_updated_at();

alter table public.payments enable row level security;

revoke all on table public.payments from anon, authenticated, service_role;
grant select on table public.payments to authenticated, service_role;

create policy "customers read their own payments"
on public.payments
for select
to authenticated
using (customer_id = (select private.uid()));

create policy "wats admins read every payment"
on public.payments
for select
to wats_admin
using ((select private.is_admin()));

-- ---------------------------------------------------------------------------------------
-- Internal tables (schema private: no API role can reach them)
-- ---------------------------------------------------------------------------------------

create table private.payment_references (
    payment_id uuid primary key references public.payments (id) on delete cascade,
    provider public.payment_provider not null,
    reference text not null unique
    default 'WP' || upper(substr(replace(gen_random_uuid()::text, '-', ''), 1, 18))
    constraint payment_references_reference_format check (reference ~ '^[A-Za-z0-9]{4,20}$'),
    created_at timestamptz not null default now()
);

comment on table private.payment_references is
'Our reference of each payment as the provider knows it (transaction/conversation reference): '
'callbacks and status queries are matched on it. Kept out of public.payments because it is '
'half of what authenticates an unsigned callback (Mixx): no customer, vendor or admin reads '
'it through the Data API; admins look it up with public.payment_reference(). Internal.';
comment on column private.payment_references.reference is
'Unique and unguessable: WP + 18 hex characters of a random UUID (1-20 letters and digits, '
'the strictest provider limit, M-Pesa''s input_TransactionReference).';

create table private.payment_events (
    id uuid primary key default gen_random_uuid(),
    provider public.payment_provider not null,
    source text not null default 'callback' constraint payment_events_source_allowed check (
        source in ('callback', 'status_query', 'initiate_response')
    ),
    received_at timestamptz not null default now(),
    remote_addr inet,
    request_path text,
    headers jsonb not null default '{}'::jsonb,
    body bytea,
    authenticated boolean,
    auth_error text,
    payment_id uuid references public.payments (id) on delete set null,
    provider_ref text,
    provider_txn_id text,
    outcome text constraint payment_events_outcome_allowed check (
        outcome in ('succeeded', 'failed', 'pending', 'unknown')
    ),
    amount bigint,
    currency text,
    msisdn text,
    dedupe_key text,
    status text not null default 'received' constraint payment_events_status_allowed check (
        status in ('received', 'rejected', 'applied', 'duplicate', 'ignored', 'review', 'error')
    ),
    processed_at timestamptz,
    error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

comment on table private.payment_events is
'Every provider callback (and status-query answer) exactly as received, stored before it is '
'authenticated, then annotated with the parsed result and what applying it did. Internal.';
comment on column private.payment_events.request_path is
'Path the provider called; may contain the per-payment callback token, so this table must '
'stay internal.';
comment on column private.payment_events.body is
'Raw request body, byte for byte as received (NUL bytes and invalid UTF-8 included); '
'convert_from(body, ''UTF8'') reads a well-formed one as text.';
comment on column private.payment_events.authenticated is
'Signature / checksum / URL token check result: null not checked yet, false rejected.';
comment on column private.payment_events.outcome is 'Normalized provider outcome.';
comment on column private.payment_events.dedupe_key is
'provider + provider reference + outcome. Unique among applied events, so one outcome is '
'applied once however often or concurrently it arrives.';
comment on column private.payment_events.status is
'received (stored), rejected (authentication failed), applied, duplicate (same dedupe_key '
'already applied), ignored (no state change, e.g. a terminal payment), review (flagged), '
'error.';

create unique index payment_events_applied_dedupe_key on private.payment_events (dedupe_key)
where status = 'applied';
create index payment_events_payment_id_idx on private.payment_events (payment_id);
create index payment_events_provider_ref_idx on private.payment_events (provider, provider_ref);

create trigger payment_events_touch_updated_at
before update on private.payment_events
for each row execute function private.touch_updated_at();

create table private.idempotency_records (
    id uuid primary key default gen_random_uuid(),
    customer_id uuid not null references public.profiles (id) on delete cascade,
    scope text not null default 'checkout' constraint idempotency_records_scope_allowed check (
        scope in ('checkout')
    ),
    idempotency_key public.idempotency_key not null,
    request_fingerprint text not null,
    -- checked at commit: checkout writes this row first, naming the order and payment it is
    -- about to create in the same transaction
    order_id uuid references public.orders (id)
    on delete set null deferrable initially deferred,
    payment_id uuid references public.payments (id)
    on delete set null deferrable initially deferred,
    expires_at timestamptz not null default now() + interval '24 hours',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint idempotency_records_customer_scope_key_key unique (
        customer_id, scope, idempotency_key
    )
);

comment on table private.idempotency_records is
'One row per (customer, scope, Idempotency-Key): the fingerprint of the first request and '
'what it produced, so a retry gets the same answer and a different request with the same '
'key gets a clear error. Written once, in the transaction that creates the order and '
'payment it names (a refused request leaves no row). Internal.';
comment on column private.idempotency_records.request_fingerprint is
'Hash of the normalized request (provider and shipping address).';

create index idempotency_records_order_id_idx on private.idempotency_records (order_id);
create index idempotency_records_payment_id_idx on private.idempotency_records (payment_id);

create trigger idempotency_records_touch_updated_at
before update on private.idempotency_records
for each row execute function private.touch_updated_at();

alter table private.payment_references enable row level security;
alter table private.payment_events enable row level security;
alter table private.idempotency_records enable row level security;

revoke all on table
private.payment_references,
private.payment_events,
private.idempotency_records
from anon, authenticated, service_role;
