"""The Data API's SQL renderer, without a database: the statement a parsed and planned
request becomes. Identifiers are quoted, values are bind parameters, and the outer query
is PostgREST's."""

from __future__ import annotations

import pytest

from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.grammar import parse_query
from supabase_standin.rest.mutations import render_delete, render_insert, render_update
from supabase_standin.rest.plan import InsertSpec, Planner
from supabase_standin.rest.query import Params, array_literal, ident, render_select
from supabase_standin.rest.rpc import render_call
from supabase_standin.rest.schema_cache import Argument, ColumnInfo, ForeignKey, Function, Relation, SchemaCache
from supabase_standin.rest.statements import wrap_response


def column(name: str, typ: str = "text", default: str | None = None) -> ColumnInfo:
    return ColumnInfo(name, typ, 25, True, default, "", False, typ.endswith("[]"))


@pytest.fixture
def cache() -> SchemaCache:
    """``authors`` ← ``books`` (books.author_id), in schema ``s``."""
    cache = SchemaCache(["s"])
    authors = Relation("s", "authors", "r", {c.name: c for c in [column("id", "bigint"), column("name")]}, ("id",))
    books = Relation(
        "s",
        "books",
        "r",
        {c.name: c for c in [column("id", "bigint"), column("author_id", "bigint"), column("title"), column("doc")]},
        ("id",),
    )
    cache.relations = {("s", "authors"): authors, ("s", "books"): books}
    cache.foreign_keys = [ForeignKey("books_author_id_fkey", "s", "books", ("author_id",), "s", "authors", ("id",))]
    return cache


def select_sql(
    cache: SchemaCache, table: str, pairs: list[tuple[str, str]], max_rows: int | None = None
) -> tuple[str, list[object]]:
    relation = cache.relation("s", table)
    node = Planner(cache).plan(relation, relation.name, parse_query(pairs))
    params = Params()
    return render_select(node, relation.qualified, params, max_rows=max_rows), params.values


def test_a_plain_read_selects_every_column_of_the_quoted_table(cache):
    sql, values = select_sql(cache, "books", [])
    assert sql == 'SELECT "books".* FROM "s"."books" AS "books"'
    assert values == []


def test_filters_become_bind_parameters_never_literals(cache):
    sql, values = select_sql(
        cache, "books", [("select", "id,t:title"), ("title", "like.*x'y*"), ("id", "in.(1,2)"), ("doc", "is.null")]
    )
    assert sql == (
        'SELECT "books"."id" AS "id", "books"."title" AS "t" FROM "s"."books" AS "books" '
        'WHERE "books"."title" like %s AND "books"."id" = ANY(%s) AND "books"."doc" IS NULL'
    )
    assert values == ["%x'y%", '{"1","2"}']


def test_logic_trees_render_with_parentheses_and_not(cache):
    sql, values = select_sql(cache, "books", [("not.or", "(id.eq.1,and(id.gt.5,title.neq.z))")])
    assert sql.endswith('WHERE NOT ("books"."id" = %s OR ("books"."id" > %s AND "books"."title" <> %s))')
    assert values == ["1", "5", "z"]


def test_json_paths_quote_keys_and_keep_array_indexes(cache):
    sql, _ = select_sql(cache, "books", [("select", "doc->a'b->0->>c")])
    assert "\"books\".\"doc\"->'a''b'->0->>'c' AS \"c\"" in sql


def test_order_and_limits_and_max_rows(cache):
    sql, _ = select_sql(cache, "books", [("order", "title.desc.nullslast,id"), ("limit", "50")], max_rows=10)
    assert sql.endswith('ORDER BY "books"."title" DESC NULLS LAST, "books"."id" ASC LIMIT 10')


def test_embeds_are_lateral_joins_aggregated_to_json(cache):
    sql, _ = select_sql(cache, "authors", [("select", "name,books!inner(title)")])
    assert sql.startswith('SELECT "authors"."name" AS "name", COALESCE("books_1"."body", \'[]\') AS "books" ')
    assert 'LEFT JOIN LATERAL (SELECT json_agg("pgrst_sub") AS "body" FROM (SELECT "books"."title" AS "title"' in sql
    assert 'WHERE "books"."author_id" = "authors"."id") AS "pgrst_sub") AS "books_1" ON TRUE' in sql
    assert sql.endswith('WHERE "books_1"."body" IS NOT NULL')
    to_one, _ = select_sql(cache, "books", [("select", "title,authors(name)")])
    assert 'row_to_json("pgrst_sub")' in to_one


def test_an_unknown_embed_or_a_filter_on_an_unselected_one_is_refused(cache):
    with pytest.raises(ApiError) as err:
        select_sql(cache, "books", [("select", "*,publishers(*)")])
    assert err.value.code == "PGRST200"
    with pytest.raises(ApiError) as err:
        select_sql(cache, "authors", [("books.title", "eq.x")])
    assert err.value.code == "PGRST108"


def test_identifiers_escape_quotes_and_percent_signs():
    assert ident('we"ird%') == '"we""ird%%"'
    assert array_literal(['a"b', "c\\d"]) == '{"a\\"b","c\\\\d"}'


def test_the_outer_statement_counts_and_aggregates_the_body():
    sql = wrap_response("SELECT 1", "SELECT * FROM pgrst_source", "SELECT 7")
    assert sql.startswith("WITH pgrst_source AS (SELECT 1) SELECT (SELECT 7) AS total_result_set, ")
    assert "coalesce(json_agg(_postgrest_t), '[]')::text AS body" in sql
    assert sql.endswith("FROM (SELECT * FROM pgrst_source) _postgrest_t")


def test_inserts_upserts_updates_and_deletes(cache):
    books = cache.relation("s", "books")
    params = Params()
    spec = InsertSpec(books, [{"title": "x"}], ["title"], False, None, "merge-duplicates", returning=True)
    sql = render_insert(spec, params)
    assert sql.startswith('INSERT INTO "s"."books" AS "books" ("title") SELECT pgrst_row."title" ')
    assert 'ON CONFLICT ("id") DO UPDATE SET "title" = EXCLUDED."title"' in sql
    assert params.values == ['[{"title": "x"}]']
    empty = render_insert(InsertSpec(books, [{}], [], False, None, None, returning=True), Params())
    assert empty.startswith('INSERT INTO "s"."books" AS "books" SELECT FROM jsonb_array_elements(')

    node = Planner(cache).plan(books, "books", parse_query([("id", "eq.3")]))
    params = Params()
    update = render_update(books, {"title": "y"}, node, params, returning=True)
    assert update == (
        'UPDATE "s"."books" AS "books" SET "title" = pgrst_row."title" FROM (SELECT * FROM '
        'jsonb_populate_record(NULL::"s"."books", %s::jsonb)) AS pgrst_row WHERE "books"."id" = %s RETURNING "books".*'
    )
    assert params.values == ['{"title": "y"}', "3"]
    assert render_delete(books, node, Params(), returning=False) == (
        'DELETE FROM "s"."books" AS "books" WHERE "books"."id" = %s RETURNING 1'
    )


def test_functions_are_called_with_named_arguments_from_json():
    fn = Function(
        "s", "add", 1, [Argument("a", "integer", False, False), Argument("b", "integer", True, False)],
        False, "integer", None, False, "i", None,
    )  # fmt: skip
    params = Params()
    sql = render_call(fn, {"a": 1}, None, params)
    assert sql == (
        'SELECT "s"."add"("a" := pgrst_args."a") AS pgrst_scalar FROM (SELECT * FROM '
        'jsonb_to_record(%s::jsonb) AS pgrst_a("a" integer)) AS pgrst_args'
    )
    assert params.values == ['{"a": 1}']
