"""The local stand-in for the part of Supabase Cron that needs the network.

On a hosted project the payments migration schedules two pg_cron jobs: expiring overdue
payments (plain SQL) and calling the ``payment-reconcile`` Edge Function through pg_net.
Locally pg_cron runs the SQL job when the machine has pg_cron, but there is no pg_net, so
this loop calls ``payment-reconcile`` on the same schedule, with the service role key,
exactly as the cron job does. ``WATS_RECONCILE_INTERVAL`` (seconds, default 60; 0 turns it
off) changes the schedule.
"""

from __future__ import annotations

import asyncio
import logging
import os

import httpx

from wats.settings import Settings

log = logging.getLogger("wats.scheduler")


async def run(settings: Settings) -> None:
    interval = float(os.environ.get("WATS_RECONCILE_INTERVAL", "60"))
    if interval <= 0:
        return
    url = f"{settings.api_url}/functions/v1/payment-reconcile"
    headers = {"Authorization": f"Bearer {settings.service_role_key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=httpx.Timeout(90.0, connect=5.0)) as client:
        while True:
            await asyncio.sleep(interval)
            try:
                response = await client.post(url, headers=headers, content=b"{}")
                if response.status_code != 200:
                    log.warning("payment-reconcile answered %s: %s", response.status_code, response.text[:500])
                else:
                    summary = response.json()
                    if summary.get("checked") or summary.get("expired", {}).get("expired"):
                        log.info("payment-reconcile: %s", response.text[:500])
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("payment-reconcile call failed: %s", exc)
