"""Stage 5 of a Data API request (PostgREST's ``Response``): the HTTP answer to what the
statement returned — status, ``Content-Range``, ``Preference-Applied``, ``Location``, one
object or an array, and the ``response.status``/``response.headers`` SQL may have set."""

from __future__ import annotations

import json

from starlette.responses import Response

from supabase_standin.rest.errors import ApiError
from supabase_standin.rest.execute import Outcome
from supabase_standin.rest.grammar import Query
from supabase_standin.rest.plan import MutatePlan
from supabase_standin.rest.request import ApiRequest
from supabase_standin.rest.schema_cache import Relation

JSON_TYPE = "application/json; charset=utf-8"
OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8"
OPENAPI_TYPE = "application/openapi+json; charset=utf-8"


def error_response(err: ApiError) -> Response:
    return Response(err.body(), status_code=err.status, headers={"Content-Type": JSON_TYPE, **err.headers})


def single_body(body: str) -> str:
    """``[{…}]`` → ``{…}`` (json_agg's output always starts with ``[`` and ends with ``]``)."""
    text = body.strip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return inner if inner else "null"
    return text


def range_status(lower: int, page_total: int, total: int | None) -> tuple[int, str]:
    upper = lower + page_total - 1
    total_text = "*" if total is None else str(total)
    content_range = f"*/{total_text}" if upper < lower else f"{lower}-{upper}/{total_text}"
    if total is None:
        return 200, content_range
    if lower > total:
        return 416, content_range
    if (1 + upper - lower) < total:
        return 206, content_range
    return 200, content_range


def location_header(relation: Relation, body: str) -> str | None:
    try:
        rows = json.loads(body)
    except ValueError:
        return None
    if not rows:
        return None
    first = rows[0]
    parts = [f"{k}=eq.{first.get(k)}" for k in relation.primary_key]
    return f"/{relation.name}?" + "&".join(parts)


def finish(response: Response, outcome: Outcome) -> Response:
    """Apply ``response.status`` / ``response.headers`` set by SQL (PostgREST GUCs)."""
    if outcome.status is not None:
        response.status_code = outcome.status
    for name, value in outcome.headers.items():
        response.headers[name] = value
    return response


def read_response(
    req: ApiRequest,
    query: Query,
    outcome: Outcome,
    *,
    single: bool,
    body_override: str | None = None,
    void: bool = False,
) -> Response:
    """A read (or a function's result): a page of rows with its ``Content-Range``."""
    lower = query.offset.get((), 0)
    status, content_range = range_status(lower, outcome.page_total, outcome.total)
    headers = {"Content-Range": content_range}
    applied = req.preferences.applied(count=True)
    if applied:
        headers["Preference-Applied"] = applied
    if status == 416:
        err = ApiError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            f"An offset of {lower} was requested, but there are only {outcome.total} rows.",
        )
        return Response(err.body(), status_code=416, headers={"Content-Type": JSON_TYPE, **headers})
    if void:
        return finish(Response(status_code=204, headers=headers), outcome)
    body = body_override if body_override is not None else outcome.body
    if single:
        body = single_body(body)
    headers["Content-Type"] = OBJECT_TYPE if single else JSON_TYPE
    content = b"" if req.method == "HEAD" else body.encode()
    return finish(Response(content, status_code=status, headers=headers), outcome)


def insert_response(req: ApiRequest, plan: MutatePlan, outcome: Outcome) -> Response:
    """POST (201, or 200 when an upsert only updated) and PUT (200, or 201 when it created)."""
    assert plan.spec is not None
    prefs, ok_status = req.preferences, plan.ok_status
    status = ok_status
    if plan.spec.resolution == "merge-duplicates" and outcome.inserted == 0 and outcome.page_total > 0:
        status = 200
    if ok_status == 200 and outcome.inserted > 0:  # PUT created the row
        status = 201
    headers = {"Content-Range": f"*/{outcome.page_total}" if prefs.count else "*/*"}
    applied = prefs.applied(
        returning=True,
        count=True,
        resolution=plan.spec.resolution is not None and ok_status == 201,
        missing=True,
    )
    if applied:
        headers["Preference-Applied"] = applied
    if prefs.ret == "headers-only" and plan.relation.primary_key and outcome.page_total > 0:
        location = location_header(plan.relation, outcome.body)
        if location:
            headers["Location"] = location
    if not plan.returning:
        if ok_status == 200:
            status = 204
        return finish(Response(status_code=status, headers=headers), outcome)
    body = single_body(outcome.body) if plan.single else outcome.body
    headers["Content-Type"] = OBJECT_TYPE if plan.single else JSON_TYPE
    return finish(Response(body.encode(), status_code=status, headers=headers), outcome)


def write_response(req: ApiRequest, plan: MutatePlan, outcome: Outcome) -> Response:
    """PATCH and DELETE: 204, or 200 with the affected rows (``return=representation``)."""
    prefs = req.preferences
    total = str(outcome.page_total) if prefs.count else "*"
    if plan.kind == "update" and outcome.page_total > 0:
        content_range = f"0-{outcome.page_total - 1}/{total}"
    else:
        content_range = f"*/{total}"
    headers = {"Content-Range": content_range}
    applied = prefs.applied(returning=True, count=True, missing=True, max_affected=True)
    if applied:
        headers["Preference-Applied"] = applied
    if not plan.returning:
        return finish(Response(status_code=204, headers=headers), outcome)
    body = single_body(outcome.body) if plan.single else outcome.body
    headers["Content-Type"] = OBJECT_TYPE if plan.single else JSON_TYPE
    return finish(Response(body.encode(), status_code=200, headers=headers), outcome)
