"""Writing through the Data API behaves as PostgREST: insert, bulk insert, upsert, update,
delete, return preferences, single-object writes — always under RLS, always atomic."""

from __future__ import annotations

import psycopg
import pytest
from postgrest.exceptions import APIError

from tests.standin.conformance.conftest import ALICE, unique_name


def count_books(db: psycopg.Connection, **where: object) -> int:
    clause = " and ".join(f"{k} = %s" for k in where) or "true"
    row = db.execute(f"select count(*) from conformance.books where {clause}", list(where.values())).fetchone()
    assert row is not None
    return int(row[0])


def test_a_user_inserts_a_book_and_gets_it_back_with_defaults(as_alice):
    title = unique_name("Mashairi")
    res = as_alice.table("books").insert({"author_id": 1, "title": title}).execute()
    assert len(res.data) == 1
    row = res.data[0]
    assert row["title"] == title
    assert row["owner"] == ALICE  # default auth.uid() saw the caller's JWT
    assert row["price"] == 1000


def test_insert_with_return_minimal_is_201_without_body(http, target):
    from tests.standin.conformance.conftest import user_token

    r = http.post(
        "/books",
        json={"author_id": 1, "title": unique_name("minimal")},
        headers={"Authorization": f"Bearer {user_token(target.jwt_secret, ALICE)}", "Prefer": "return=minimal"},
    )
    assert r.status_code == 201
    assert r.content == b""


def test_bulk_insert_with_columns_fills_missing_keys_with_null_or_default(as_service, db):
    a, b = unique_name("bulk"), unique_name("bulk")
    res = (
        as_service.table("authors")
        .insert([{"name": a, "born": "2000-01-01"}, {"name": b}], default_to_null=False)
        .execute()
    )
    assert [r["name"] for r in res.data] == [a, b]
    assert res.data[1]["tags"] == []  # missing=default: the column default, not NULL
    assert res.data[1]["born"] is None


def test_bulk_insert_is_all_or_nothing(as_alice, db):
    marker = unique_name("atomic")
    before = count_books(db)
    with pytest.raises(APIError) as err:
        as_alice.table("books").insert(
            [{"author_id": 1, "title": marker, "price": 10}, {"author_id": 1, "title": marker, "price": -1}]
        ).execute()
    assert err.value.code == "23514"  # check constraint
    assert count_books(db) == before
    assert count_books(db, title=marker) == 0


def test_unknown_column_in_payload_is_pgrst204(as_alice):
    with pytest.raises(APIError) as err:
        as_alice.table("books").insert({"author_id": 1, "title": "x", "colour": "red"}).execute()
    assert err.value.code == "PGRST204"


def test_invalid_json_is_pgrst102(http):
    r = http.post("/authors", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["code"] == "PGRST102"


def test_unique_violation_is_409(as_alice):
    with pytest.raises(APIError) as err:
        as_alice.table("books").insert({"author_id": 1, "title": "dup", "isbn": "isbn-1"}).execute()
    assert err.value.code == "23505"


def test_foreign_key_violation_is_409(http, target):
    from tests.standin.conformance.conftest import user_token

    r = http.post(
        "/books",
        json={"author_id": 424242, "title": "orphan"},
        headers={"Authorization": f"Bearer {user_token(target.jwt_secret, ALICE)}"},
    )
    assert r.status_code == 409
    assert r.json()["code"] == "23503"


def test_upsert_merges_on_conflict_and_reports_resolution(http, target, as_service):
    name = unique_name("upsert")
    created = as_service.table("authors").insert({"name": name}).execute().data[0]
    r = http.post(
        "/authors",
        params={"on_conflict": "id"},
        json=[{"id": created["id"], "name": name + "-v2"}],
        headers={
            "Authorization": f"Bearer {target.service_role_key}",
            "Prefer": "resolution=merge-duplicates,return=representation",
        },
    )
    assert r.status_code == 200  # nothing new was inserted
    assert r.json()[0]["name"] == name + "-v2"
    assert "resolution=merge-duplicates" in r.headers["preference-applied"]


def test_upsert_ignore_duplicates_keeps_the_existing_row(as_service):
    name = unique_name("keep")
    created = as_service.table("authors").insert({"name": name}).execute().data[0]
    res = as_service.table("authors").upsert({"id": created["id"], "name": "changed"}, ignore_duplicates=True).execute()
    assert res.data == []
    again = as_service.table("authors").select("name").eq("id", created["id"]).execute().data
    assert again == [{"name": name}]


def test_update_changes_only_rows_the_policy_allows(as_alice, as_bob, db):
    title = unique_name("mine")
    book = as_alice.table("books").insert({"author_id": 1, "title": title}).execute().data[0]
    stolen = as_bob.table("books").update({"title": "stolen"}).eq("id", book["id"]).execute()
    assert stolen.data == []
    assert count_books(db, id=book["id"], title=title) == 1
    mine = as_alice.table("books").update({"price": 4242}).eq("id", book["id"]).execute()
    assert mine.data[0]["price"] == 4242


def test_patch_without_representation_is_204(http, target):
    from tests.standin.conformance.conftest import user_token

    r = http.patch(
        "/books",
        params={"id": "eq.4"},
        json={"price": 1500},
        headers={"Authorization": f"Bearer {user_token(target.jwt_secret, ALICE)}"},
    )
    assert r.status_code == 204
    assert r.headers["content-range"] == "0-0/*"


def test_delete_returns_deleted_rows_and_respects_rls(as_alice, as_bob, db):
    book = as_alice.table("books").insert({"author_id": 1, "title": unique_name("gone")}).execute().data[0]
    assert as_bob.table("books").delete().eq("id", book["id"]).execute().data == []
    deleted = as_alice.table("books").delete().eq("id", book["id"]).execute().data
    assert [b["id"] for b in deleted] == [book["id"]]
    assert count_books(db, id=book["id"]) == 0


def test_single_object_update_of_many_rows_rolls_back(http, target, as_service, db):
    names = [unique_name("many"), unique_name("many")]
    as_service.table("authors").insert([{"name": n, "bio": "same"} for n in names]).execute()
    r = http.patch(
        "/authors",
        params={"name": f"in.({','.join(names)})"},
        json={"bio": "changed"},
        headers={
            "Authorization": f"Bearer {target.service_role_key}",
            "Accept": "application/vnd.pgrst.object+json",
            "Prefer": "return=representation",
        },
    )
    assert r.status_code == 406
    assert r.json()["code"] == "PGRST116"
    bios = db.execute("select bio from conformance.authors where name = any(%s)", [names]).fetchall()
    assert bios == [("same",), ("same",)]


def test_insert_returning_embeds(http, target):
    from tests.standin.conformance.conftest import user_token

    r = http.post(
        "/books",
        params={"select": "title,author:authors!author_id(name)"},
        json={"author_id": 2, "title": "Embedded on return"},
        headers={"Authorization": f"Bearer {user_token(target.jwt_secret, ALICE)}", "Prefer": "return=representation"},
    )
    assert r.status_code == 201
    assert r.json() == [{"title": "Embedded on return", "author": {"name": "Euphrase Kezilahabi"}}]


def test_put_upserts_one_row_by_primary_key(http, target, db):
    headers = {"Authorization": f"Bearer {target.service_role_key}", "Prefer": "return=representation"}
    r = http.put("/genres", params={"id": "eq.77"}, json={"id": 77, "name": unique_name("put")}, headers=headers)
    assert r.status_code in (200, 201)
    assert db.execute("select count(*) from conformance.genres where id = 77").fetchone() == (1,)
    mismatch = http.put("/genres", params={"id": "eq.78"}, json={"id": 79, "name": "x"}, headers=headers)
    assert mismatch.status_code == 400
    assert mismatch.json()["code"] == "PGRST115"


# -- empty payloads: PostgREST inserts rows of defaults (`INSERT … SELECT FROM …` with no
# columns), one per object, none for `[]` --------------------------------------------------


def test_insert_of_an_empty_object_creates_a_row_of_defaults_as_the_caller(as_alice, db):
    res = as_alice.table("baskets").insert({}).execute()
    assert len(res.data) == 1
    row = res.data[0]
    assert row["owner"] == ALICE  # the default auth.uid() saw the caller's JWT
    assert row["label"] == "basket"
    stored = db.execute("select owner::text from conformance.baskets where id = %s", [row["id"]]).fetchone()
    assert stored == (ALICE,)


def alice_headers(target, prefer: str = "return=representation") -> dict[str, str]:  # type: ignore[no-untyped-def]
    from tests.standin.conformance.conftest import user_token

    return {"Authorization": f"Bearer {user_token(target.jwt_secret, ALICE)}", "Prefer": prefer}


@pytest.mark.parametrize("payload, rows", [("[{}]", 1), ("[{}, {}]", 2), ("[{},{},{}]", 3)])
def test_insert_of_empty_objects_creates_one_row_of_defaults_each(http, target, payload, rows):
    r = http.post("/baskets", content=payload.encode(), headers=alice_headers(target))
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body) == rows
    assert len({b["id"] for b in body}) == rows
    assert all(b["owner"] == ALICE and b["label"] == "basket" for b in body)
    assert r.headers["content-range"] == "*/*"


def test_insert_of_an_empty_array_inserts_nothing_and_answers_201_with_an_empty_array(http, target, db):
    before = db.execute("select count(*) from conformance.baskets").fetchone()
    r = http.post("/baskets", content=b"[]", headers=alice_headers(target))
    assert r.status_code == 201, r.text
    assert r.json() == []
    assert r.headers["content-range"] == "*/*"
    assert db.execute("select count(*) from conformance.baskets").fetchone() == before


def test_insert_of_an_empty_object_with_return_minimal_is_201_without_body(http, target):
    r = http.post("/baskets", content=b"{}", headers=alice_headers(target, "return=minimal"))
    assert r.status_code == 201, r.text
    assert r.content == b""
    assert "content-type" not in r.headers


def test_insert_of_an_empty_object_still_meets_the_tables_constraints(http, target, db):
    """A row of defaults is a row like any other: the service role has no auth.uid(), so
    the owner default is NULL and PostgreSQL refuses it; nothing is written."""
    before = db.execute("select count(*) from conformance.baskets").fetchone()
    r = http.post(
        "/baskets",
        content=b"{}",
        headers={"Authorization": f"Bearer {target.service_role_key}", "Prefer": "return=representation"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "23502"  # not-null violation, answered as PostgREST does
    assert db.execute("select count(*) from conformance.baskets").fetchone() == before


# -- payload types: PostgREST reads JSON (also without a Content-Type), URL-encoded forms and
# CSV; any other type is refused with PGRST102, never parsed as JSON behind its back --------


def test_a_url_encoded_form_inserts_one_row_of_its_fields(http, target):
    title = unique_name("form")
    r = http.post(
        "/books",
        content=f"author_id=1&title={title}&price=2500".encode(),
        headers={**alice_headers(target), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 201, r.text
    [row] = r.json()
    assert (row["title"], row["price"], row["owner"]) == (title, 2500, ALICE)


def test_csv_inserts_one_row_per_line_and_null_is_null(http, target):
    a, b = unique_name("csv"), unique_name("csv")
    body = f"author_id,title,isbn\n1,{a},NULL\n1,{b},{b}\n".encode()
    r = http.post("/books", content=body, headers={**alice_headers(target), "Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    rows = r.json()
    assert [(x["title"], x["isbn"]) for x in rows] == [(a, None), (b, b)]
    ragged = http.post(
        "/books", content=b"author_id,title\n1\n", headers={**alice_headers(target), "Content-Type": "text/csv"}
    )
    assert ragged.status_code == 400
    assert ragged.json()["message"] == "All lines must have same number of fields"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_other_content_types_are_not_acceptable(http, target, db, content_type):
    title = unique_name("typed")
    r = http.post(
        "/books",
        content=f'{{"author_id": 1, "title": "{title}"}}'.encode(),
        headers={**alice_headers(target), "Content-Type": content_type},
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "PGRST102"
    assert r.json()["message"] == f"Content-Type not acceptable: {content_type.split(';')[0]}"
    assert count_books(db, title=title) == 0


def test_an_rpc_reads_its_arguments_from_a_url_encoded_form(http):
    r = http.post("/rpc/add", content=b"a=2&b=40", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert r.json() == 42
