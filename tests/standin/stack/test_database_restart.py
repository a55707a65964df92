"""A database restart under a running stack costs no request once PostgreSQL is back, and
while it is down the Data API, Auth and Storage answer 503 with ``Retry-After`` in their own
JSON error shapes, never 500 and never libpq's text. Every pooled connection is checked
before it is handed out; without that, each idle connection from before the restart failed
one request (Data API 503, Auth 500)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from wats.stack.postgres import Cluster

#: Concurrent requests per API: more than the idle connections a pool keeps (2 for the
#: Data API's, 1 for Auth's and Storage's) so that several dead connections are met at once.
WIDTH = 12


def calls(target) -> dict[str, Callable[[httpx.Client], httpx.Response]]:  # type: ignore[no-untyped-def]
    service = {"apikey": target.service_role_key, "Authorization": f"Bearer {target.service_role_key}"}
    anon = {"apikey": target.anon_key}
    return {
        "rest": lambda c: c.get(f"{target.url}/rest/v1/products", params={"select": "id", "limit": "1"}, headers=anon),
        "auth": lambda c: c.get(f"{target.url}/auth/v1/admin/users", params={"per_page": "1"}, headers=service),
        "storage": lambda c: c.get(f"{target.url}/storage/v1/bucket", headers=service),
        # an Edge Function that reads and writes through the Data API with the service role
        "function": lambda c: c.post(f"{target.url}/functions/v1/payment-reconcile", json={}, headers=service),
    }


def burst(target, width: int = WIDTH) -> dict[str, list[httpx.Response]]:  # type: ignore[no-untyped-def]
    """``width`` concurrent requests to each API, one API after the other."""
    out: dict[str, list[httpx.Response]] = {}
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(width) as pool:
        for name, call in calls(target).items():
            out[name] = list(pool.map(lambda _i, call=call: call(client), range(width)))
    return out


def failures(results: dict[str, list[httpx.Response]]) -> list[str]:
    return [
        f"{name}: {r.status_code} {r.text[:200]}" for name, rs in results.items() for r in rs if r.status_code != 200
    ]


def test_after_a_database_restart_every_request_succeeds(target, cluster: Cluster):
    assert failures(burst(target)) == []  # the pools now hold idle connections
    cluster.restart()
    assert failures(burst(target)) == []


def test_while_the_database_is_down_the_apis_answer_503_and_recover(target, cluster: Cluster):
    assert failures(burst(target)) == []
    cluster.stop()
    try:
        down = burst(target, width=3)
    finally:
        cluster.start()
    for name in ("rest", "auth", "storage"):
        for r in down[name]:
            assert r.status_code == 503, (name, r.status_code, r.text)
            assert r.headers["retry-after"].isdigit(), name
            assert r.headers["content-type"].startswith("application/json"), name
            assert "server closed" not in r.text and "connection failed" not in r.text, r.text  # no libpq text
    assert {r.json()["code"] for r in down["rest"]} == {"PGRST000"}
    assert all(set(r.json()) == {"code", "details", "hint", "message"} for r in down["rest"])
    assert {r.json()["error_code"] for r in down["auth"]} == {"unexpected_failure"}
    assert {(r.json()["statusCode"], r.json()["code"]) for r in down["storage"]} == {("503", "DatabaseError")}
    assert all(r.status_code != 500 for r in down["function"]), [r.text for r in down["function"]]
    # back: the first requests succeed, none is spent on a connection from before
    assert failures(burst(target)) == []
