"""PostgREST's query-string grammar: select trees, filters, logic trees and order terms.

This module only parses; it knows nothing of the database. Names follow PostgREST's
documentation (https://postgrest.org/en/stable/references/api/tables_views.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from supabase_standin.rest.errors import ApiError, parse_error

# -- the parsed shapes ----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A column, optionally followed by a JSON path: ``data->a->>b``."""

    name: str
    json_path: tuple[tuple[str, str], ...] = ()

    @property
    def output_name(self) -> str:
        """The key PostgREST gives this field in the response (last JSON key, else the name)."""
        if self.json_path:
            key = self.json_path[-1][1]
            return key
        return self.name


@dataclass
class Column:
    field: Field
    alias: str | None = None
    cast: str | None = None


@dataclass
class Star:
    pass


@dataclass
class Embed:
    relation: str
    alias: str | None = None
    hint: str | None = None
    inner: bool = False
    spread: bool = False
    items: list[SelectItem] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.alias or self.relation


SelectItem = Column | Star | Embed


@dataclass
class Filter:
    field: Field
    op: str
    value: str | list[str]
    negate: bool = False
    modifier: str | None = None  # any/all quantifier, or the fts language


@dataclass
class Logic:
    op: str  # "and" | "or"
    children: list[Filter | Logic]
    negate: bool = False


Condition = Filter | Logic


@dataclass
class OrderTerm:
    field: Field
    descending: bool = False
    nulls: str | None = None  # "first" | "last"
    relation: str | None = None  # order by a column of an embedded to-one resource


# -- operators --------------------------------------------------------------------------

SIMPLE_OPS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "like",
    "ilike": "ilike",
    "match": "~",
    "imatch": "~*",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
    "isdistinct": "is distinct from",
}
FTS_OPS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
QUANTIFIABLE = {"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"}
IS_VALUES = {"null", "not_null", "true", "false", "unknown"}

RESERVED_PARAMS = {"select", "order", "limit", "offset", "columns", "on_conflict", "and", "or"}


# -- low-level scanning ----------------------------------------------------------------


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses, braces and double quotes."""
    parts: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            current.append(ch)
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            current.append(ch)
        elif ch in "({":
            depth += 1
            current.append(ch)
        elif ch in ")}":
            depth -= 1
            current.append(ch)
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if quoted or depth != 0:
        raise parse_error(f'"failed to parse" ({text})', "unbalanced quotes or parentheses")
    parts.append("".join(current))
    return parts


def unquote(value: str) -> str:
    """Strip PostgREST's double quotes around a list element, honouring backslashes."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        out: list[str] = []
        i = 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                out.append(inner[i + 1])
                i += 2
            else:
                out.append(inner[i])
                i += 1
        return "".join(out)
    return value


def parse_field(text: str) -> Field:
    """``name`` or ``name->key->>key`` (keys may be quoted)."""
    text = text.strip()
    if not text:
        raise parse_error("failed to parse field", "empty column name")
    path: list[tuple[str, str]] = []
    pos = _find_arrow(text, 0)
    name = text if pos < 0 else text[:pos]
    while pos >= 0:
        arrow = "->>" if text.startswith("->>", pos) else "->"
        start = pos + len(arrow)
        nxt = _find_arrow(text, start)
        key = text[start:] if nxt < 0 else text[start:nxt]
        if not key:
            raise parse_error(f'"failed to parse json path" ({text})')
        path.append((arrow, unquote(key)))
        pos = nxt
    return Field(unquote(name), tuple(path))


def _find_arrow(text: str, start: int) -> int:
    quoted = False
    for i in range(start, len(text) - 1):
        if text[i] == '"':
            quoted = not quoted
        elif not quoted and text[i] == "-" and text[i + 1] == ">":
            return i
    return -1


# -- select ---------------------------------------------------------------------------


def parse_select(text: str | None) -> list[SelectItem]:
    if text is None or text.strip() == "":
        return [Star()]
    return [_parse_select_item(part) for part in split_top_level(_strip_spaces(text))]


def _strip_spaces(text: str) -> str:
    out: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if quoted or not ch.isspace():
            out.append(ch)
    return "".join(out)


def _parse_select_item(text: str) -> SelectItem:
    if text == "":
        raise parse_error('"failed to parse select parameter" (empty item)')
    if text == "*":
        return Star()
    spread = text.startswith("...")
    if spread:
        text = text[3:]
    paren = _find_unquoted(text, "(")
    if paren >= 0:
        if not text.endswith(")"):
            raise parse_error(f'"failed to parse select parameter" ({text})')
        head, body = text[:paren], text[paren + 1 : -1]
        alias, head = _split_alias(head)
        parts = head.split("!")
        relation = unquote(parts[0])
        if relation in {"count", "sum", "avg", "max", "min"} and body == "":
            raise ApiError(400, "PGRST123", "Use of aggregate functions is not allowed")
        hint = None
        inner = False
        for modifier in parts[1:]:
            if modifier == "inner":
                inner = True
            elif modifier == "left":
                inner = False
            elif modifier:
                hint = unquote(modifier)
        items = [] if body == "" else [_parse_select_item(p) for p in split_top_level(body)]
        return Embed(relation, alias, hint, inner, spread, items)
    if spread:
        raise parse_error(f'"failed to parse select parameter" (...{text})', "spread needs an embedded resource")
    alias, text = _split_alias(text)
    cast = None
    cast_at = _find_unquoted(text, "::")
    if cast_at >= 0:
        text, cast = text[:cast_at], text[cast_at + 2 :]
        if not cast or not all(c.isalnum() or c in "_ []" for c in cast):
            raise parse_error(f'"failed to parse select parameter" (::{cast})', "invalid cast")
    if text.endswith(")") or "(" in text:
        raise parse_error(f'"failed to parse select parameter" ({text})')
    return Column(parse_field(text), alias, cast)


def _split_alias(text: str) -> tuple[str | None, str]:
    i = 0
    quoted = False
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == ":":
            if text.startswith("::", i):
                return None, text
            return unquote(text[:i]), text[i + 1 :]
        i += 1
    return None, text


def _find_unquoted(text: str, needle: str) -> int:
    quoted = False
    for i in range(len(text)):
        if text[i] == '"':
            quoted = not quoted
        elif not quoted and text.startswith(needle, i):
            return i
    return -1


# -- filters -----------------------------------------------------------------------------


def parse_filter(field_text: str, expression: str) -> Filter:
    """``field=[not.]op[(modifier)].value``."""
    negate = False
    rest = expression
    if rest.startswith("not."):
        negate = True
        rest = rest[4:]
    dot = rest.find(".")
    if dot < 0:
        raise parse_error(f'"failed to parse filter ({expression})"', f"unknown operator in {expression!r}")
    op_text, value = rest[:dot], rest[dot + 1 :]
    modifier = None
    if "(" in op_text and op_text.endswith(")"):
        op_text, modifier = op_text[: op_text.index("(")], op_text[op_text.index("(") + 1 : -1]
    field_ = parse_field(field_text)
    if op_text == "in":
        if not (value.startswith("(") and value.endswith(")")):
            raise parse_error(f'"failed to parse filter (in.{value})"', "expected a list in parentheses")
        inner = value[1:-1]
        items = [] if inner == "" else [unquote(v) for v in split_top_level(inner)]
        return Filter(field_, "in", items, negate)
    if op_text == "is":
        if value not in IS_VALUES:
            raise parse_error(
                f'"failed to parse filter (is.{value})"', "expected null, not_null, true, false or unknown"
            )
        return Filter(field_, "is", value, negate)
    if op_text in FTS_OPS:
        return Filter(field_, op_text, value, negate, modifier)
    if op_text in SIMPLE_OPS:
        if modifier is not None:
            if modifier not in {"any", "all"} or op_text not in QUANTIFIABLE:
                raise parse_error(f'"failed to parse filter ({expression})"', f"unknown modifier {modifier!r}")
            if not (value.startswith("{") and value.endswith("}")):
                raise parse_error(f'"failed to parse filter ({expression})"', "expected a list in braces")
            inner = value[1:-1]
            items = [] if inner == "" else [unquote(v) for v in split_top_level(inner)]
            return Filter(field_, op_text, items, negate, modifier)
        return Filter(field_, op_text, value, negate)
    raise parse_error(f'"failed to parse filter ({expression})"', f"unknown operator {op_text!r}")


def parse_logic(op: str, text: str, negate: bool = False) -> Logic:
    """``(cond,cond,and(cond,cond))`` for the ``or``/``and`` parameters."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        raise parse_error(f'"failed to parse logic tree ({text})"', "expected a list in parentheses")
    children: list[Condition] = []
    for part in split_top_level(text[1:-1]):
        part = part.strip()
        child_negate = False
        if part.startswith("not.") and (part[4:].startswith("and(") or part[4:].startswith("or(")):
            child_negate = True
            part = part[4:]
        if part.startswith("and(") or part.startswith("or("):
            child_op = "and" if part.startswith("and(") else "or"
            children.append(parse_logic(child_op, part[len(child_op) :], child_negate))
            continue
        dot = _find_unquoted(part, ".")
        if dot <= 0:
            raise parse_error(f'"failed to parse logic tree ({text})"', f"bad condition {part!r}")
        children.append(parse_filter(part[:dot], part[dot + 1 :]))
    return Logic(op, children, negate)


# -- order -----------------------------------------------------------------------------


def parse_order(text: str) -> list[OrderTerm]:
    terms: list[OrderTerm] = []
    for part in split_top_level(text):
        part = part.strip()
        if not part:
            raise parse_error(f'"failed to parse order ({text})"')
        relation = None
        paren = _find_unquoted(part, "(")
        if paren > 0:
            close = part.find(")", paren)
            if close < 0:
                raise parse_error(f'"failed to parse order ({text})"', "unbalanced parentheses")
            relation = part[:paren]
            part = part[paren + 1 : close] + part[close + 1 :]
        tokens = part.split(".")
        modifiers: list[str] = []
        while len(tokens) > 1 and tokens[-1] in {"asc", "desc", "nullsfirst", "nullslast"}:
            modifiers.insert(0, tokens.pop())
        term = OrderTerm(parse_field(".".join(tokens)), relation=relation)
        for m in modifiers:
            if m in {"asc", "desc"}:
                term.descending = m == "desc"
            else:
                term.nulls = "first" if m == "nullsfirst" else "last"
        terms.append(term)
    return terms


# -- the whole query string ----------------------------------------------------------------


@dataclass
class Query:
    """A request's query string, split by the embedded path each part applies to."""

    select: list[SelectItem]
    filters: dict[tuple[str, ...], list[Condition]]
    order: dict[tuple[str, ...], list[OrderTerm]]
    limit: dict[tuple[str, ...], int]
    offset: dict[tuple[str, ...], int]
    columns: list[str] | None
    on_conflict: list[str] | None
    raw_args: list[tuple[str, str]]  # root-level (key, value) pairs naming RPC arguments


def _non_negative_int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise parse_error(f'"failed to parse {name} parameter ({value})"') from None
    if number < 0:
        raise parse_error(f'"failed to parse {name} parameter ({value})"', "must not be negative")
    return number


def parse_query(pairs: list[tuple[str, str]], arg_names: frozenset[str] = frozenset()) -> Query:
    """Parse a query string; root-level keys in ``arg_names`` are kept raw (RPC arguments).
    Whatever the parser cannot make sense of is PostgREST's 400 PGRST100, never a 500."""
    try:
        return _parse_query(pairs, arg_names)
    except (ValueError, IndexError, KeyError):
        raise parse_error('"failed to parse the query string"') from None


def _parse_query(pairs: list[tuple[str, str]], arg_names: frozenset[str]) -> Query:
    select_text: str | None = None
    filters: dict[tuple[str, ...], list[Condition]] = {}
    order: dict[tuple[str, ...], list[OrderTerm]] = {}
    limit: dict[tuple[str, ...], int] = {}
    offset: dict[tuple[str, ...], int] = {}
    columns = None
    on_conflict = None
    raw: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "select":
            select_text = value
            continue
        if key == "columns":
            columns = [unquote(c.strip()) for c in split_top_level(value) if c.strip()]
            continue
        if key == "on_conflict":
            on_conflict = [unquote(c.strip()) for c in split_top_level(value) if c.strip()]
            continue
        path, last = _split_key(key)
        if last in {"order", "limit", "offset"}:
            if last == "order":
                order[path] = parse_order(value)
            elif last == "limit":
                limit[path] = _non_negative_int("limit", value)
            else:
                offset[path] = _non_negative_int("offset", value)
            continue
        negate = False
        if last in {"and", "or"} or (path and path[-1] == "not" and last in {"and", "or"}):
            if path and path[-1] == "not":
                negate = True
                path = path[:-1]
            filters.setdefault(path, []).append(parse_logic(last, value, negate))
            continue
        if not path and key in arg_names:
            raw.append((key, value))
            continue
        filters.setdefault(path, []).append(parse_filter(last, value))
    return Query(parse_select(select_text), filters, order, limit, offset, columns, on_conflict, raw)


def _split_key(key: str) -> tuple[tuple[str, ...], str]:
    """``a.b.col`` → ((a, b), col), leaving JSON paths (``data->x``) intact."""
    arrow = _find_arrow(key, 0)
    head, tail = (key, "") if arrow < 0 else (key[:arrow], key[arrow:])
    parts = head.split(".")
    return tuple(parts[:-1]), parts[-1] + tail
