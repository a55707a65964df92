"""Calling SQL functions through ``/rest/v1/rpc`` behaves as PostgREST."""

from __future__ import annotations

import psycopg
import pytest
from postgrest.exceptions import APIError

from tests.standin.conformance.conftest import ALICE, unique_name, user_token


def test_named_arguments_and_defaults(as_anon):
    assert as_anon.rpc("add", {"a": 2, "b": 40}).execute().data == 42
    assert as_anon.rpc("add", {"a": 2}).execute().data == 3


def test_get_calls_a_stable_function_with_query_arguments(http):
    r = http.get("/rpc/add", params={"a": "5", "b": "6"})
    assert r.status_code == 200
    assert r.json() == 11


def test_set_returning_function_accepts_select_filters_and_order(as_anon):
    rows = as_anon.rpc("books_by", {"author": 1}).select("title").order("title", desc=True).execute().data
    assert rows == [{"title": "Kusadikika"}, {"title": "Adili na Nduguze"}]
    filtered = as_anon.rpc("books_by", {"author": 1}).select("id").eq("price", 7000).execute().data
    assert filtered == [{"id": 2}]


def test_table_returning_function_and_single_composite(as_anon):
    # the function runs with the caller's rights: anon does not count Alice's draft
    assert as_anon.rpc("author_summary", {"aid": 2}).execute().data == [
        {"name": "Euphrase Kezilahabi", "book_count": 1}
    ]
    first = as_anon.rpc("first_author", {}).execute().data
    assert isinstance(first, dict)
    assert first["name"] == "Shaaban Robert"


def test_set_of_scalars_is_an_array(as_anon):
    assert as_anon.rpc("author_ids", {}).execute().data[:4] == [1, 2, 3, 4]


def test_a_single_unnamed_json_parameter_receives_the_whole_body(as_anon):
    body = {"order": {"items": [1, 2]}, "note": "hi"}
    assert as_anon.rpc("echo", body).execute().data == body


def test_embedding_on_function_results(http):
    r = http.get(
        "/rpc/books_by", params={"author": "2", "select": "title,editor:authors!editor_id(name)", "order": "id"}
    )
    assert r.status_code == 200
    assert r.json()[0] == {"title": "Rosa Mistika", "editor": {"name": "Shaaban Robert"}}


def test_void_function_answers_204(http, target, db):
    what = unique_name("call")
    r = http.post("/rpc/log_call", json={"what": what})
    assert r.status_code == 204
    assert db.execute("select count(*) from conformance.calls where what = %s", [what]).fetchone() == (1,)


def test_get_on_a_function_that_writes_is_refused_405(http, db):
    what = unique_name("get")
    r = http.get("/rpc/log_call", params={"what": what})
    assert r.status_code == 405
    assert r.json()["code"] == "25006"
    assert db.execute("select count(*) from conformance.calls where what = %s", [what]).fetchone() == (0,)


def test_an_error_after_a_write_rolls_the_write_back(as_alice, db):
    body = unique_name("rolled-back")
    with pytest.raises(APIError) as err:
        as_alice.rpc("add_note_then_fail", {"body": body}).execute()
    assert err.value.code == "P0001"
    assert err.value.details == "the insert must roll back"
    assert err.value.hint == "try again"
    assert db.execute("select count(*) from conformance.notes where body = %s", [body]).fetchone() == (0,)


def test_volatile_function_writes_as_the_caller(as_alice, db):
    body = unique_name("note")
    note = as_alice.rpc("add_note", {"body": body}).execute().data
    assert note["owner"] == ALICE
    assert db.execute("select owner::text from conformance.notes where body = %s", [body]).fetchone() == (ALICE,)


def test_custom_status_from_sqlstate_ptnnn(http):
    r = http.post("/rpc/teapot", json={})
    assert r.status_code == 418
    assert r.json()["message"] == "I am a teapot"


def test_response_status_and_headers_set_by_sql(http):
    r = http.post("/rpc/accepted", json={})
    assert r.status_code == 202
    assert r.headers["x-wats-custom"] == "yes"
    assert r.json() == "queued"


def test_overloads_are_chosen_by_argument_names(as_anon):
    assert as_anon.rpc("pick", {"a": 1}).execute().data == "one"
    assert as_anon.rpc("pick", {"a": 1, "b": "x"}).execute().data == "two:x"


def test_unknown_function_or_arguments_is_pgrst202(http):
    r = http.post("/rpc/nope", json={})
    assert r.status_code == 404
    assert r.json()["code"] == "PGRST202"
    r = http.post("/rpc/add", json={"z": 1})
    assert r.status_code == 404
    assert r.json()["code"] == "PGRST202"


def test_sql_sees_the_caller_claims_method_path_and_headers(target, conformance_schema):
    from tests.standin.conformance.conftest import rest

    token = user_token(target.jwt_secret, ALICE, phone="255711000101", user_role="customer")
    client = rest(target, token)
    client.session.headers["X-Wats-Test"] = "hello"
    who = client.rpc("whoami", {}).execute().data
    assert who["uid"] == ALICE
    assert who["role"] == "authenticated"
    assert who["current_user"] == "authenticated"
    assert who["jwt"]["user_role"] == "customer"
    assert who["header"] == "hello"
    assert who["method"] == "POST"
    assert who["path"] == "/rpc/whoami"


def test_anon_runs_as_anon(as_anon):
    who = as_anon.rpc("whoami", {}).execute().data
    assert who["current_user"] == "anon"
    assert who["uid"] is None
    assert who["jwt"]["role"] == "anon"


def test_function_calls_run_under_the_caller_rls(as_anon, as_alice):
    drafts_anon = [b["title"] for b in as_anon.rpc("books_by", {"author": 2}).execute().data]
    drafts_alice = [b["title"] for b in as_alice.rpc("books_by", {"author": 2}).execute().data]
    assert "Draft of Alice" not in drafts_anon
    assert "Draft of Alice" in drafts_alice


def test_statement_timeout_of_the_role_applies(target, conformance_schema):
    with psycopg.connect(target.db_url, autocommit=True) as conn:
        conn.execute(
            "create or replace function conformance.slow() returns int language sql as 'select 1 from pg_sleep(5)'"
        )
        conn.execute("grant execute on function conformance.slow() to anon")
    import time

    import httpx

    deadline = time.monotonic() + 10
    while True:  # the DDL above makes the Data API reload its schema cache
        r = httpx.post(
            f"{target.url}/rest/v1/rpc/slow",
            json={},
            headers={"apikey": target.anon_key, "Content-Profile": "conformance"},
            timeout=20,
        )
        if r.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 500
    assert r.json()["code"] == "57014"  # anon's statement_timeout (3s) cancelled it
