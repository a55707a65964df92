"""Unfiltered UPDATE and DELETE through the Data API fail as on a hosted project, where the
Data API's role (``authenticator``) preloads pg-safeupdate: PostgREST answers 400 with
SQLSTATE 21000 and the module's message, whichever role the JWT names, and so does a
request whose SQL function updates or deletes without WHERE. A filter, even one that
matches every row, lets the request through."""

from __future__ import annotations

import psycopg
import pytest
from postgrest import SyncPostgrestClient
from postgrest.exceptions import APIError


@pytest.fixture
def scratch(db: psycopg.Connection, conformance_schema: str) -> int:
    """Three rows in conformance.scratch (the only ones); their count."""
    db.execute("truncate conformance.scratch")
    db.execute("insert into conformance.scratch (body) values ('a'), ('b'), ('c')")
    return 3


def rows(db: psycopg.Connection) -> int:
    row = db.execute("select count(*) from conformance.scratch").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("who", ["as_anon", "as_alice", "as_service"])
def test_an_unfiltered_delete_is_refused_with_21000_and_deletes_nothing(who, request, scratch, db):
    client: SyncPostgrestClient = request.getfixturevalue(who)
    with pytest.raises(APIError) as raised:
        client.table("scratch").delete().execute()
    assert raised.value.code == "21000"
    assert raised.value.message == "DELETE requires a WHERE clause"
    assert raised.value.details is None and raised.value.hint is None
    assert rows(db) == scratch


def test_an_unfiltered_update_is_refused_with_21000_and_changes_nothing(as_service, scratch, db):
    with pytest.raises(APIError) as raised:
        as_service.table("scratch").update({"body": "all"}).execute()
    assert (raised.value.code, raised.value.message) == ("21000", "UPDATE requires a WHERE clause")
    assert db.execute("select count(*) from conformance.scratch where body = 'all'").fetchone() == (0,)


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [("DELETE", None, "DELETE requires a WHERE clause"), ("PATCH", {"body": "z"}, "UPDATE requires a WHERE clause")],
)
def test_the_refusal_is_postgrest_s_400_body(http, target, scratch, method, body, message):
    r = http.request(method, "/scratch", json=body, headers={"Authorization": f"Bearer {target.service_role_key}"})
    assert r.status_code == 400
    assert r.json() == {"code": "21000", "details": None, "hint": None, "message": message}


def test_a_filter_matching_every_row_is_a_filter(as_service, scratch, db):
    as_service.table("scratch").update({"body": "same"}).gte("id", 0).execute()
    deleted = as_service.table("scratch").delete().neq("body", "never").execute()
    assert len(deleted.data) == scratch
    assert rows(db) == 0


def test_a_function_that_deletes_without_where_is_refused_through_the_api(as_service, scratch, db):
    with pytest.raises(APIError) as raised:
        as_service.rpc("wipe_scratch", {}).execute()
    assert (raised.value.code, raised.value.message) == ("21000", "DELETE requires a WHERE clause")
    assert rows(db) == scratch
    as_service.rpc("wipe_scratch_on_purpose", {}).execute()
    assert rows(db) == 0


def test_the_same_sql_runs_for_postgres_outside_the_data_api(db, scratch):
    """Migrations, pg_cron jobs and tooling connect as ``postgres``, which hosted projects
    leave unchecked (safeupdate.enabled = 0)."""
    db.execute("delete from conformance.scratch")
    assert rows(db) == 0
