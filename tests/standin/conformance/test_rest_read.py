"""Reading through the Data API behaves as PostgREST: columns, embedding, filters, order,
pagination and counts — checked through postgrest-py as supabase-py uses it."""

from __future__ import annotations

import pytest
from postgrest.exceptions import APIError


def titles(rows: list[dict]) -> list[str]:
    return [r["title"] for r in rows]


# -- columns ---------------------------------------------------------------------------


def test_a_reader_picks_columns_renames_them_and_casts_them(as_anon):
    rows = as_anon.table("authors").select("id,author:name,born::text,country:meta->>country").eq("id", 1).execute()
    assert rows.data == [{"id": 1, "author": "Shaaban Robert", "born": "1909-01-01", "country": "TZ"}]


def test_json_arrow_keeps_json_and_double_arrow_gives_text(as_anon):
    rows = as_anon.table("authors").select("as_json:meta->awards,as_text:meta->>awards").eq("id", 1).execute().data
    assert rows == [{"as_json": 3, "as_text": "3"}]


def test_star_returns_every_column_in_table_order(as_anon):
    row = as_anon.table("authors").select("*").eq("id", 2).execute().data[0]
    assert list(row) == ["id", "name", "tags", "meta", "born", "bio", "search"]
    assert row["tags"] == ["novel", "poetry"]


# -- embedding -------------------------------------------------------------------------


def test_to_one_embed_is_an_object(as_anon):
    rows = as_anon.table("books").select("title,author:authors!author_id(name)").eq("id", 1).execute().data
    assert rows == [{"title": "Kusadikika", "author": {"name": "Shaaban Robert"}}]


def test_to_many_embed_is_an_array_with_its_own_filter_order_and_limit(as_anon):
    rows = (
        as_anon.table("authors")
        .select("name,books!author_id(title)")
        .eq("id", 1)
        .order("title", foreign_table="books", desc=True)
        .limit(1, foreign_table="books")
        .execute()
        .data
    )
    assert rows == [{"name": "Shaaban Robert", "books": [{"title": "Kusadikika"}]}]


def test_embedded_filter_narrows_children_but_keeps_parents(as_anon):
    rows = (
        as_anon.table("authors")
        .select("id,books!author_id(title)")
        .eq("books.title", "Rosa Mistika")
        .order("id")
        .execute()
    )
    by_id = {r["id"]: r["books"] for r in rows.data}
    assert by_id[2] == [{"title": "Rosa Mistika"}]
    assert by_id[1] == []
    assert len(by_id) == 4


def test_inner_embed_drops_parents_without_matching_children(as_anon):
    rows = (
        as_anon.table("authors").select("id,books!author_id!inner(title)").eq("books.title", "Rosa Mistika").execute()
    )
    assert rows.data == [{"id": 2, "books": [{"title": "Rosa Mistika"}]}]


def test_nested_embeds(as_anon):
    rows = (
        as_anon.table("authors")
        .select("name,books!author_id(title,genres(name),editor:authors!editor_id(name))")
        .eq("id", 2)
        .execute()
        .data
    )
    book = next(b for b in rows[0]["books"] if b["title"] == "Rosa Mistika")
    assert sorted(g["name"] for g in book["genres"]) == ["novel", "poetry"]
    assert book["editor"] == {"name": "Shaaban Robert"}


def test_many_to_many_through_a_junction(as_anon):
    rows = as_anon.table("genres").select("name,books(title)").eq("name", "poetry").execute().data
    assert sorted(titles(rows[0]["books"])) == ["Kusadikika", "Rosa Mistika"]


def test_one_to_one_embed_from_the_parent_side_is_an_object(as_anon):
    rows = as_anon.table("authors").select("name,biographies(summary)").in_("id", [1, 2]).order("id").execute().data
    assert rows[0]["biographies"] == {"summary": "Born in Vibamba, near Tanga"}
    assert rows[1]["biographies"] is None


def test_two_foreign_keys_to_one_table_are_ambiguous_without_a_hint(http):
    r = http.get("/books", params={"select": "title,authors(name)"})
    assert r.status_code == 300
    body = r.json()
    assert body["code"] == "PGRST201"
    assert {d["relationship"] for d in body["details"]} == {"books_author_id_fkey", "books_editor_id_fkey"}


def test_hint_by_constraint_name_and_by_column_pick_the_relationship(as_anon):
    by_fk = as_anon.table("books").select("title,authors!books_editor_id_fkey(name)").eq("id", 1).execute().data
    by_col = as_anon.table("books").select("title,editor_id(name)").eq("id", 1).execute().data
    assert by_fk == [{"title": "Kusadikika", "authors": {"name": "Euphrase Kezilahabi"}}]
    assert by_col == [{"title": "Kusadikika", "editor_id": {"name": "Euphrase Kezilahabi"}}]


def test_self_reference_children_by_table_name_and_parent_by_column(as_anon):
    root = as_anon.table("categories").select("name,children:categories(name)").eq("id", 1).execute().data
    assert sorted(c["name"] for c in root[0]["children"]) == ["Fiction", "Poetry"]
    leaf = as_anon.table("categories").select("name,parent:parent_id(name)").eq("id", 4).execute().data
    assert leaf == [{"name": "Novels", "parent": {"name": "Fiction"}}]


def test_unknown_relationship_is_pgrst200(http):
    r = http.get("/authors", params={"select": "name,publishers(name)"})
    assert r.status_code == 400
    assert r.json()["code"] == "PGRST200"


def test_null_filter_on_an_embed_works_as_inner_or_anti_join(http):
    with_bio = http.get("/authors", params={"select": "id,biographies(summary)", "biographies": "not.is.null"})
    without = http.get(
        "/authors", params={"select": "id,biographies(summary)", "biographies": "is.null", "order": "id"}
    )
    assert [r["id"] for r in with_bio.json()] == [1]
    assert [r["id"] for r in without.json()] == [2, 3, 4]


def test_filter_on_a_resource_that_is_not_embedded_is_pgrst108(http):
    r = http.get("/authors", params={"select": "name", "books.title": "eq.x"})
    assert r.status_code == 400
    assert r.json()["code"] == "PGRST108"


# -- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "operator", "value", "expected_ids"),
    [
        ("id", "eq", "2", [2]),
        ("id", "neq", "2", [1, 3, 4]),
        ("id", "gt", "2", [3, 4]),
        ("id", "gte", "2", [2, 3, 4]),
        ("id", "lt", "2", [1]),
        ("id", "lte", "2", [1, 2]),
        ("name", "like", "*Robert", [1]),
        ("name", "ilike", "*MLAMA*", [3]),
        ("name", "match", "^E.*i$", [2]),
        ("name", "imatch", "^penina", [3]),
        ("born", "is", "null", [3]),
        ("bio", "is", "not_null", [1, 2, 3]),
        ("id", "in", "(1,3)", [1, 3]),
        ("tags", "cs", "{poetry}", [1, 2]),
        ("tags", "cd", "{novel,poetry,drama}", [2, 3, 4]),
        ("tags", "ov", "{drama,swahili}", [1, 3]),
        ("meta", "cs", '{"country":"TZ"}', [1, 2, 4]),
        ("search", "fts(english)", "women & development", [3]),
        ("search", "plfts", "novelist philosopher", [2]),
        ("search", "wfts(english)", '"women and development"', [3]),
        ("born", "gt", "1900-01-01", [1, 2]),
        ("id", "isdistinct", "2", [1, 3, 4]),
    ],
)
def test_each_filter_operator(http, column, operator, value, expected_ids):
    r = http.get("/authors", params={"select": "id", column: f"{operator}.{value}", "order": "id"})
    assert r.status_code == 200, r.text
    assert [row["id"] for row in r.json()] == expected_ids


def test_not_negates_any_operator(as_anon):
    rows = as_anon.table("authors").select("id").not_.in_("id", [1, 2]).order("id").execute().data
    assert [r["id"] for r in rows] == [3, 4]


def test_in_list_values_may_be_quoted_to_hold_commas(http):
    r = http.get("/authors", params={"select": "id", "name": 'in.("Shaaban Robert","a,b")'})
    assert [row["id"] for row in r.json()] == [1]


def test_or_and_nest(as_anon):
    rows = (
        as_anon.table("authors")
        .select("id")
        .or_("id.eq.4,and(tags.cs.{poetry},born.not.is.null,id.gt.1)")
        .order("id")
        .execute()
        .data
    )
    assert [r["id"] for r in rows] == [2, 4]


def test_quantified_operators(http):
    r = http.get("/authors", params={"select": "id", "name": "like(any).{*Robert,Penina*}", "order": "id"})
    assert [row["id"] for row in r.json()] == [1, 3]
    r = http.get("/authors", params={"select": "id", "name": "like(all).{*e*,*a*}", "order": "id"})
    assert [row["id"] for row in r.json()] == [1, 2, 3, 4]


def test_bad_filter_grammar_is_pgrst100(http):
    for params in ({"id": "equals.2"}, {"id": "in.1,2"}, {"or": "id.eq.1"}, {"born": "is.maybe"}):
        r = http.get("/authors", params=params)
        assert r.status_code == 400, params
        assert r.json()["code"] == "PGRST100"


# -- order, pagination, counts ----------------------------------------------------------


def test_order_with_nulls_first_and_last(http):
    first = http.get("/authors", params={"select": "id", "order": "born.desc.nullsfirst"}).json()
    last = http.get("/authors", params={"select": "id", "order": "born.desc.nullslast"}).json()
    assert [r["id"] for r in first] == [3, 2, 1, 4]
    assert [r["id"] for r in last] == [2, 1, 4, 3]


def test_order_by_a_to_one_embed(http):
    r = http.get(
        "/books",
        params={"select": "id,authors!author_id(name)", "order": "authors(name).desc,id", "published": "not.is.null"},
    )
    assert [b["id"] for b in r.json()] == [1, 2, 3]


def test_limit_offset_and_exact_count(as_anon):
    res = as_anon.table("authors").select("id", count="exact").order("id").range(1, 2).execute()
    assert [r["id"] for r in res.data] == [2, 3]
    assert res.count == 4


def test_partial_page_with_a_count_is_206_with_content_range(http):
    r = http.get(
        "/authors",
        params={"select": "id", "limit": "2", "offset": "1", "order": "id"},
        headers={"Prefer": "count=exact"},
    )
    assert r.status_code == 206
    assert r.headers["content-range"] == "1-2/4"
    assert r.headers["preference-applied"] == "count=exact"


def test_whole_result_is_200_and_unknown_total_is_a_star(http):
    r = http.get("/authors", params={"select": "id"})
    assert r.status_code == 200
    assert r.headers["content-range"] == "0-3/*"


def test_empty_result_content_range(http):
    r = http.get("/authors", params={"select": "id", "id": "eq.999"}, headers={"Prefer": "count=exact"})
    assert r.status_code == 200
    assert r.headers["content-range"] == "*/0"
    assert r.json() == []


def test_offset_beyond_the_total_is_416(http):
    r = http.get("/authors", params={"offset": "10"}, headers={"Prefer": "count=exact"})
    assert r.status_code == 416
    assert r.json()["code"] == "PGRST103"


def test_range_header(http):
    r = http.get("/authors", params={"select": "id", "order": "id"}, headers={"Range": "1-2"})
    assert [row["id"] for row in r.json()] == [2, 3]


def test_single_object_accept(as_anon):
    one = as_anon.table("authors").select("name").eq("id", 3).single().execute()
    assert one.data == {"name": "Penina Mlama"}
    with pytest.raises(APIError) as err:
        as_anon.table("authors").select("name").single().execute()
    assert err.value.code == "PGRST116"
    maybe = as_anon.table("authors").select("name").eq("id", 999).maybe_single().execute()
    assert maybe is None or maybe.data is None


def test_head_gives_headers_without_a_body(http):
    r = http.head("/authors", headers={"Prefer": "count=exact"})
    assert r.status_code == 200
    assert r.headers["content-range"] == "0-3/4"
    assert r.content == b""


def test_unknown_table_is_pgrst205_and_unknown_column_is_42703(http):
    r = http.get("/publishers")
    assert r.status_code == 404
    assert r.json()["code"] == "PGRST205"
    r = http.get("/authors", params={"select": "nope"})
    assert r.status_code == 400
    assert r.json()["code"] == "42703"


def test_unexposed_schema_is_pgrst106(http):
    r = http.get("/users", headers={"Accept-Profile": "auth"})
    assert r.status_code == 406
    assert r.json()["code"] == "PGRST106"
