-- WATS schema: anomaly alerts (issue 12). Rules in SQL, thresholds in private.settings,
-- evaluated every five minutes by the scheduled job `evaluate-alerts`
-- (private.scheduled_jobs: pg_cron on hosted projects). A rule that fires writes one row of
-- private.ops_alerts, kept (not repeated) while it stays firing and resolved when it clears;
-- admins get an in-app notification on both, and an optional incoming webhook (Slack, Teams
-- …) gets a POST through pg_net. The webhook's URL lives in Vault (secret
-- `wats_alert_webhook_url`) or the setting alerts.webhook_url, never in a migration.
--
-- The rules:
--   payment_success_drop   a provider's success rate over the last window is far below its
--                          trailing 7-day rate, both over a minimum sample;
--   callbacks_silent       pushes were sent to a provider but no callback came back for
--                          the window;
--   payments_stuck         payments initiated or ambiguous for longer than a limit;
--   money_invariant        private.money_invariant_violations() is not empty;
--   webhook_auth_failures  a spike of callbacks failing authentication from one provider.

insert into private.settings (key, value, description)
values
(
    'alerts.success_window_minutes', '30',
    'payment_success_drop: the recent window (minutes) compared with the trailing 7 days.'
),
(
    'alerts.success_min_sample', '20',
    'payment_success_drop: final payments needed in the window, and in the 7 days, to judge.'
),
(
    'alerts.success_drop_points', '25',
    'payment_success_drop: fires when the window''s success rate is this many percentage '
    || 'points below the 7-day rate.'
),
(
    'alerts.callback_silence_minutes', '15',
    'callbacks_silent: minutes without any callback from a provider that was sent pushes.'
),
(
    'alerts.callback_min_pushes', '3',
    'callbacks_silent: pushes sent in the silent minutes (older than the grace) needed to fire.'
),
(
    'alerts.callback_grace_seconds', '120',
    'callbacks_silent: a push younger than this is not expected to have an answer yet.'
),
(
    'alerts.stuck_payment_minutes', '60',
    'payments_stuck: a payment initiated or ambiguous for longer than this is stuck.'
),
(
    'alerts.auth_failure_window_minutes', '15',
    'webhook_auth_failures: the window (minutes) failed callbacks are counted over.'
),
(
    'alerts.auth_failure_threshold', '10',
    'webhook_auth_failures: failed callbacks from one provider in the window that fire.'
),
(
    'alerts.webhook_url', '""',
    'Incoming webhook (Slack, Teams …) alerts are POSTed to through pg_net; empty for none. '
    || 'The Vault secret wats_alert_webhook_url, when present, wins. Set it by hand, never '
    || 'in a migration.'
);

insert into private.notification_texts (type, language, audience, title, body)
values
('ops_alert', 'en', 'anyone', 'Alert: {rule}', '{summary}'),
('ops_alert', 'sw', 'anyone', 'Tahadhari: {rule}', '{summary}'),
('ops_alert_resolved', 'en', 'anyone', 'Resolved: {rule}', '{summary}'),
('ops_alert_resolved', 'sw', 'anyone', 'Imetatuliwa: {rule}', '{summary}');

-- operations messages: service, by push (not SMS), no marketing consent needed
insert into private.notification_rules (type, purpose, push, sms)
values
('ops_alert', 'service', true, false),
('ops_alert_resolved', 'service', true, false);

create table private.ops_alerts (
    id uuid primary key default gen_random_uuid(),
    rule text not null constraint ops_alerts_rule_format check (rule ~ '^[a-z_]+$'),
    subject text not null default '' constraint ops_alerts_subject_length check (
        char_length(subject) <= 80
    ),
    status text not null default 'firing' constraint ops_alerts_status_allowed check (
        status in ('firing', 'resolved')
    ),
    summary text not null constraint ops_alerts_summary_length check (
        char_length(summary) between 1 and 1000
    ),
    details jsonb not null default '{}'::jsonb,
    fired_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    resolved_at timestamptz,
    webhook_request_id bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint ops_alerts_resolved_when check ((status = 'resolved') = (resolved_at is not null))
);

comment on table private.ops_alerts is
'Anomaly alerts: one row per rule and subject (a provider, or empty) each time it starts '
'firing; last_seen_at moves while it keeps firing, resolved_at is set when it clears. '
'Written only by private.evaluate_alerts(); admins read them through public.ops_alerts(). '
'Internal.';
comment on column private.ops_alerts.subject is
'What the rule fired for: a provider, or empty for a rule about the whole platform.';
comment on column private.ops_alerts.details is
'The figures that made it fire (rates, counts, thresholds), refreshed while firing.';
comment on column private.ops_alerts.webhook_request_id is
'pg_net request id of the webhook POST when the alert fired (null: no webhook or no pg_net).';

-- at most one firing alert per rule and subject: the deduplication
create unique index ops_alerts_firing_key on private.ops_alerts (rule, subject)
where status = 'firing';
create index ops_alerts_fired_at_idx on private.ops_alerts (fired_at desc);
create index payments_push_requested_at_idx on public.payments (push_requested_at, provider)
where push_requested_at is not null;

create trigger ops_alerts_touch_updated_at
before update on private.ops_alerts
for each row execute function private.touch_updated_at();

alter table private.ops_alerts enable row level security;
revoke all on table private.ops_alerts from anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------
-- The rules: what is firing now
-- ---------------------------------------------------------------------------------------

create function private.alert_conditions()
returns table (rule text, subject text, summary text, details jsonb)
language plpgsql
stable
set search_path = ''
as $$
declare
    v_window interval := make_interval(mins => private.setting_int('alerts.success_window_minutes')::integer);
    v_sample bigint := private.setting_int('alerts.success_min_sample');
    v_drop numeric := private.setting_int('alerts.success_drop_points')::numeric / 100;
    v_silence interval := make_interval(mins => private.setting_int('alerts.callback_silence_minutes')::integer);
    v_pushes bigint := private.setting_int('alerts.callback_min_pushes');
    v_grace interval := make_interval(secs => private.setting_int('alerts.callback_grace_seconds'));
    v_stuck interval := make_interval(mins => private.setting_int('alerts.stuck_payment_minutes')::integer);
    v_auth_window interval := make_interval(
        mins => private.setting_int('alerts.auth_failure_window_minutes')::integer
    );
    v_auth_threshold bigint := private.setting_int('alerts.auth_failure_threshold');
begin
    return query
    with final as (
        select
            p.provider::text as provider,
            p.completed_at >= now() - v_window as recent,
            p.status in ('succeeded', 'refunded', 'partially_refunded') as ok
        from public.payments as p
        where p.completed_at >= now() - interval '7 days'
    ),

    rates as (
        select
            f.provider,
            count(*) filter (where f.recent) as recent_n,
            avg(f.ok::integer) filter (where f.recent) as recent_rate,
            count(*) filter (where not f.recent) as base_n,
            avg(f.ok::integer) filter (where not f.recent) as base_rate
        from final as f
        group by f.provider
    )

    select
        'payment_success_drop'::text,
        r.provider,
        format(
            '%s: %s%% of %s payments succeeded in the last %s, against %s%% over 7 days',
            r.provider, round(r.recent_rate * 100), r.recent_n, v_window, round(r.base_rate * 100)
        ),
        jsonb_build_object(
            'recent_rate', round(r.recent_rate, 4), 'recent_n', r.recent_n,
            'base_rate', round(r.base_rate, 4), 'base_n', r.base_n, 'drop_points', v_drop * 100
        )
    from rates as r
    where r.recent_n >= v_sample and r.base_n >= v_sample and r.recent_rate < r.base_rate - v_drop;

    return query
    select
        'callbacks_silent'::text,
        p.provider::text,
        format(
            '%s: %s pushes sent, no callback for %s', p.provider, count(*), v_silence
        ),
        jsonb_build_object('pushes', count(*), 'silent_for', v_silence::text)
    from public.payments as p
    where
        p.push_requested_at >= now() - v_silence
        and p.push_requested_at < now() - v_grace
        and not exists (
            select 1
            from private.payment_events as e
            where
                e.provider = p.provider
                and e.source = 'callback'
                and e.received_at >= now() - v_silence
        )
    group by p.provider
    having count(*) >= v_pushes;

    return query
    select
        'payments_stuck'::text,
        ''::text,
        format(
            '%s payments initiated or ambiguous for more than %s (oldest since %s)',
            count(*), v_stuck, min(coalesce(p.push_requested_at, p.created_at))
        ),
        jsonb_build_object(
            'payments', count(*),
            'oldest', min(coalesce(p.push_requested_at, p.created_at)),
            'limit', v_stuck::text
        )
    from public.payments as p
    where
        p.status in ('initiated', 'ambiguous')
        and coalesce(p.push_requested_at, p.created_at) < now() - v_stuck
    having count(*) > 0;

    return query
    select
        'money_invariant'::text,
        ''::text,
        format('%s money invariant violations, e.g. %s', count(*), min(v.invariant)),
        jsonb_build_object(
            'violations', count(*),
            'invariants', jsonb_agg(distinct v.invariant)
        )
    from private.money_invariant_violations() as v
    having count(*) > 0;

    return query
    select
        'webhook_auth_failures'::text,
        e.provider::text,
        format(
            '%s: %s callbacks failed authentication in the last %s', e.provider, count(*), v_auth_window
        ),
        jsonb_build_object('failures', count(*), 'window', v_auth_window::text)
    from private.payment_events as e
    where e.received_at >= now() - v_auth_window and e.authenticated is false
    group by e.provider
    having count(*) >= v_auth_threshold;
end;
$$;

comment on function private.alert_conditions() is
'The anomaly rules, one row per (rule, subject) firing now, with a summary and the figures. '
'Thresholds are the alerts.* settings.';

-- ---------------------------------------------------------------------------------------
-- The webhook
-- ---------------------------------------------------------------------------------------

create function private.post_alert_webhook(p_alert private.ops_alerts)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_net text := pg_catalog.to_regnamespace('net')::text;
    v_vault text := pg_catalog.to_regnamespace('vault')::text;
    v_url text;
    v_request bigint;
begin
    if v_vault is not null then
        execute format(
            'select max(decrypted_secret) from %s.decrypted_secrets where name = $1', v_vault
        ) into v_url using 'wats_alert_webhook_url';
    end if;
    v_url := coalesce(nullif(btrim(v_url), ''), nullif(btrim(private.setting_text('alerts.webhook_url')), ''));
    if v_url is null then
        return null;
    end if;
    if v_net is null then
        raise log 'wats: alert webhook skipped: pg_net is missing here';
        return null;
    end if;
    execute format(
        $sql$
            select %s.http_post(
                url := $1,
                body := $2,
                headers := '{"Content-Type": "application/json"}'::jsonb,
                timeout_milliseconds := 10000
            )
        $sql$,
        v_net
    )
    into v_request
    using
        v_url,
        jsonb_build_object(
            'text', case when p_alert.status = 'firing' then 'WATS alert: ' else 'WATS resolved: ' end
            || p_alert.rule || coalesce(' (' || nullif(p_alert.subject, '') || ')', '')
            || ' — ' || p_alert.summary,
            'rule', p_alert.rule,
            'subject', p_alert.subject,
            'status', p_alert.status,
            'fired_at', p_alert.fired_at,
            'resolved_at', p_alert.resolved_at,
            'details', p_alert.details
        );
    return v_request;
end;
$$;

comment on function private.post_alert_webhook(private.ops_alerts) is
'POSTs an alert (Slack-style {"text": …} plus the fields) to the Vault secret '
'wats_alert_webhook_url or the setting alerts.webhook_url through pg_net; returns the '
'request id, or null without a URL or without pg_net (a log line).';

-- ---------------------------------------------------------------------------------------
-- Evaluating: fire, keep, resolve
-- ---------------------------------------------------------------------------------------

create function private.evaluate_alerts()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_alert private.ops_alerts%rowtype;
    v_fired integer := 0;
    v_resolved integer := 0;
    v_kept integer := 0;
    v_notes jsonb := '[]'::jsonb;
    v_now jsonb;
begin
    -- one evaluation at a time (a slow run and the next tick never both fire)
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('wats.evaluate_alerts'));
    select coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) into v_now
    from private.alert_conditions() as c;

    -- still firing: refresh
    update private.ops_alerts as a
    set last_seen_at = now(), summary = n.summary, details = n.details
    from jsonb_to_recordset(v_now) as n (rule text, subject text, summary text, details jsonb)
    where a.status = 'firing' and a.rule = n.rule and a.subject = n.subject;
    get diagnostics v_kept = row_count;

    -- newly firing
    for v_alert in
        insert into private.ops_alerts (rule, subject, summary, details)
        select n.rule, n.subject, n.summary, n.details
        from jsonb_to_recordset(v_now) as n (rule text, subject text, summary text, details jsonb)
        where not exists (
            select 1 from private.ops_alerts as a
            where a.status = 'firing' and a.rule = n.rule and a.subject = n.subject
        )
        returning *
    loop
        v_fired := v_fired + 1;
        update private.ops_alerts
        set webhook_request_id = private.post_alert_webhook(v_alert)
        where id = v_alert.id;
        v_notes := v_notes || jsonb_build_array(jsonb_build_object('type', 'ops_alert', 'alert', to_jsonb(v_alert)));
    end loop;

    -- cleared
    for v_alert in
        update private.ops_alerts as a
        set status = 'resolved', resolved_at = now()
        where a.status = 'firing' and not exists (
            select 1
            from jsonb_to_recordset(v_now) as n (rule text, subject text)
            where n.rule = a.rule and n.subject = a.subject
        )
        returning a.*
    loop
        v_resolved := v_resolved + 1;
        perform private.post_alert_webhook(v_alert);
        v_notes := v_notes || jsonb_build_array(
            jsonb_build_object('type', 'ops_alert_resolved', 'alert', to_jsonb(v_alert))
        );
    end loop;

    -- every admin, in their language
    if jsonb_array_length(v_notes) > 0 then
        perform private.notify_all(
            (
                select coalesce(jsonb_agg(jsonb_build_object(
                    'user_id', p.id,
                    'type', n.note ->> 'type',
                    'params', jsonb_build_object(
                        'rule', (n.note -> 'alert' ->> 'rule')
                        || coalesce(' (' || nullif(n.note -> 'alert' ->> 'subject', '') || ')', ''),
                        'summary', n.note -> 'alert' ->> 'summary'
                    ),
                    'data', jsonb_build_object('alert_id', n.note -> 'alert' ->> 'id')
                )), '[]'::jsonb)
                from jsonb_array_elements(v_notes) as n (note)
                cross join public.profiles as p
                where p.role = 'admin'
            )
        );
    end if;
    return jsonb_build_object('fired', v_fired, 'kept', v_kept, 'resolved', v_resolved);
end;
$$;

comment on function private.evaluate_alerts() is
'Evaluates the alert rules (private.alert_conditions): a new (rule, subject) inserts one '
'firing alert, posts the webhook and notifies every admin; one still firing only moves '
'last_seen_at; one that cleared is resolved (webhook and admins told). Returns the counts. '
'Run every five minutes by the scheduled job evaluate-alerts.';

-- ---------------------------------------------------------------------------------------
-- Reading them: admins and the service role
-- ---------------------------------------------------------------------------------------

create function public.ops_alerts(p_include_resolved boolean default false)
returns table (
    id uuid,
    rule text,
    subject text,
    status text,
    summary text,
    details jsonb,
    fired_at timestamptz,
    last_seen_at timestamptz,
    resolved_at timestamptz
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform private.assert_metrics_reader();
    return query
    select a.id, a.rule, a.subject, a.status, a.summary, a.details, a.fired_at, a.last_seen_at, a.resolved_at
    from private.ops_alerts as a
    where a.status = 'firing' or p_include_resolved
    order by a.fired_at desc
    limit 500;
end;
$$;

comment on function public.ops_alerts(boolean) is
'Admins and the service role: the firing alerts (and the resolved ones with '
'p_include_resolved), newest first, at most 500.';

revoke all on function public.ops_alerts(boolean) from public, anon, authenticated, service_role;
grant execute on function public.ops_alerts(boolean) to authenticated, service_role;
revoke execute on all functions in schema private from public;

-- ---------------------------------------------------------------------------------------
-- The schedule: every five minutes
-- ---------------------------------------------------------------------------------------

insert into private.scheduled_jobs (name, schedule, sql_command, edge_function, description)
values (
    'evaluate-alerts', '*/5 * * * *', 'select private.evaluate_alerts()', null,
    'Evaluate the anomaly rules: fire, keep or resolve alerts; notify admins and the webhook.'
);
