-- WATS schedules after checkout: instalments pushed when due, refunds and payouts sent to
-- the providers, orders completed when their return window closes, the weekly payout run
-- and the daily points expiry.
-- Each is one row of private.scheduled_jobs (20261127001200_payment_schedules.sql): pg_cron
-- runs it on hosted projects as `wats-<name>`, the local scheduler where pg_cron or pg_net
-- is missing. Times are UTC (East Africa Time is UTC+3).

insert into private.scheduled_jobs (name, schedule, sql_command, edge_function, description)
values
(
    'instalment-push', '*/15 * * * *', null, 'instalment-push',
    'Instalment plans: reminders, due instalments pushed, plans past their grace cancelled.'
),
(
    'refund-execute', '* * * * *', null, 'refund-execute',
    'Send granted refunds to the providers (reversal or refund) and settle their answers.'
),
(
    'payout-execute', '* * * * *', null, 'payout-execute',
    'Check the names on approved payouts'' wallets, send them (B2C) and settle the answers.'
),
(
    'complete-orders', '5 * * * *', 'select public.complete_orders()', null,
    'Complete delivered orders whose return window closed (earnings become available).'
),
(
    'run-payouts', '0 3 * * 1', 'select public.run_payouts()', null,
    'Weekly payout run, Monday 06:00 EAT: a payout for every vendor above the minimum.'
),
(
    'expire-points', '30 0 * * *', 'select public.expire_points()', null,
    'Daily: remind customers whose points will soon expire, expire the untouched ones.'
);
