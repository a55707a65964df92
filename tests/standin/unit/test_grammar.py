"""PostgREST's query-string grammar, parsed without a database: select trees, filters,
logic trees, order terms, quoting, and the 400 PGRST100 every malformed part gives."""

from __future__ import annotations

import pytest

from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.grammar import (
    Column,
    Embed,
    Field,
    Filter,
    Logic,
    OrderTerm,
    Star,
    parse_filter,
    parse_logic,
    parse_order,
    parse_query,
    parse_select,
    split_top_level,
    unquote,
)


def test_an_empty_select_is_every_column():
    assert parse_select(None) == [Star()]
    assert parse_select("  ") == [Star()]


def test_columns_take_aliases_casts_and_json_paths():
    items = parse_select("id, title:name, price::text, data->a->>b, total:data->>n::int")
    assert items == [
        Column(Field("id")),
        Column(Field("name"), alias="title"),
        Column(Field("price"), cast="text"),
        Column(Field("data", (("->", "a"), ("->>", "b")))),
        Column(Field("data", (("->>", "n"),)), alias="total", cast="int"),
    ]
    assert items[3].field.output_name == "b"


def test_embeds_nest_with_alias_hint_inner_and_spread():
    (embed,) = parse_select("author:authors!author_id!inner(id,books(*))")
    assert isinstance(embed, Embed)
    assert (embed.relation, embed.alias, embed.hint, embed.inner, embed.key) == (
        "authors",
        "author",
        "author_id",
        True,
        "author",
    )
    assert embed.items == [Column(Field("id")), Embed("books", items=[Star()])]
    (spread,) = parse_select("...authors(name)")
    assert isinstance(spread, Embed) and spread.spread and spread.items == [Column(Field("name"))]


def test_quoted_names_keep_their_commas_spaces_and_dots():
    assert parse_select('"a,b", "my col":"x y"') == [Column(Field("a,b")), Column(Field("x y"), alias="my col")]
    assert unquote('"a\\"b"') == 'a"b'
    assert split_top_level('a,"b,c",f(d,e)') == ["a", '"b,c"', "f(d,e)"]


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("eq.5", Filter(Field("n"), "eq", "5")),
        ("not.like.*x*", Filter(Field("n"), "like", "*x*", negate=True)),
        ('in.(1,"two, three",4)', Filter(Field("n"), "in", ["1", "two, three", "4"])),
        ("in.()", Filter(Field("n"), "in", [])),
        ("is.not_null", Filter(Field("n"), "is", "not_null")),
        ("fts(english).cat & dog", Filter(Field("n"), "fts", "cat & dog", modifier="english")),
        ("like(any).{a*,b*}", Filter(Field("n"), "like", ["a*", "b*"], modifier="any")),
        ("eq.a.b.c", Filter(Field("n"), "eq", "a.b.c")),
    ],
)
def test_filters(expression, expected):
    assert parse_filter("n", expression) == expected


@pytest.mark.parametrize("expression", ["nope.1", "eq", "in.1,2", "is.maybe", "cs(any).{1}", "eq(all).1"])
def test_a_malformed_filter_is_pgrst100(expression):
    with pytest.raises(ApiError) as err:
        parse_filter("n", expression)
    assert (err.value.status, err.value.code) == (400, "PGRST100")


def test_logic_trees_nest_and_negate():
    tree = parse_logic("or", "(a.eq.1,not.and(b.gt.2,c.is.null),d.in.(x,y))")
    assert tree == Logic(
        "or",
        [
            Filter(Field("a"), "eq", "1"),
            Logic("and", [Filter(Field("b"), "gt", "2"), Filter(Field("c"), "is", "null")], negate=True),
            Filter(Field("d"), "in", ["x", "y"]),
        ],
    )


def test_order_terms_take_direction_nulls_json_paths_and_embeds():
    assert parse_order("id.desc.nullslast,data->>k,authors(name).asc") == [
        OrderTerm(Field("id"), descending=True, nulls="last"),
        OrderTerm(Field("data", (("->>", "k"),))),
        OrderTerm(Field("name"), relation="authors"),
    ]


def test_the_query_string_splits_by_embedded_path():
    query = parse_query(
        [
            ("select", "id,books(id)"),
            ("id", "gt.1"),
            ("books.title", "ilike.*x*"),
            ("books.order", "id.desc"),
            ("books.limit", "2"),
            ("not.or", "(id.eq.3,id.eq.4)"),
            ("offset", "10"),
            ("on_conflict", "id, slug"),
            ("columns", '"a",b'),
        ]
    )
    assert query.filters[()] == [
        Filter(Field("id"), "gt", "1"),
        Logic("or", [Filter(Field("id"), "eq", "3"), Filter(Field("id"), "eq", "4")], negate=True),
    ]
    assert query.filters[("books",)] == [Filter(Field("title"), "ilike", "*x*")]
    assert query.order == {("books",): [OrderTerm(Field("id"), descending=True)]}
    assert (query.limit, query.offset) == ({("books",): 2}, {(): 10})
    assert (query.on_conflict, query.columns) == (["id", "slug"], ["a", "b"])


def test_rpc_arguments_stay_raw():
    query = parse_query([("p_limit", "5"), ("name", "eq.x")], frozenset({"p_limit"}))
    assert query.raw_args == [("p_limit", "5")]
    assert query.filters[()] == [Filter(Field("name"), "eq", "x")]


@pytest.mark.parametrize(
    "pairs",
    [
        [("order", "x)(y")],
        [("select", "a,(b")],
        [("select", 'a,"b')],
        [("limit", "-1")],
        [("offset", "ten")],
        [("or", "a.eq.1")],
        [("select", "count()")],
        [("select", "...name")],
    ],
)
def test_whatever_cannot_be_parsed_is_a_400(pairs):
    with pytest.raises(ApiError) as err:
        parse_query(pairs)
    assert err.value.status == 400 and err.value.code in ("PGRST100", "PGRST123")
