"""``GET /rest/v1/``: a Swagger 2.0 description of the exposed schema's relations and
functions (what PostgREST serves at its root, in short)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from supabase_standin.rest.response import OPENAPI_TYPE
from supabase_standin.rest.schema_cache import SchemaCache


def openapi(cache: SchemaCache, schema: str, title: str) -> Response:
    paths: dict[str, Any] = {"/": {"get": {"responses": {"200": {"description": "OK"}}}}}
    definitions: dict[str, Any] = {}
    for (s, name), rel in sorted(cache.relations.items()):
        if s != schema:
            continue
        paths[f"/{name}"] = {
            m: {"responses": {"200": {"description": "OK"}}} for m in ("get", "post", "patch", "delete")
        }
        definitions[name] = {
            "type": "object",
            "properties": {c.name: {"format": c.type} for c in rel.columns.values()},
        }
    for (s, name), _fns in sorted(cache.functions.items()):
        if s == schema:
            paths[f"/rpc/{name}"] = {"post": {"responses": {"200": {"description": "OK"}}}}
    doc = {
        "swagger": "2.0",
        "info": {"title": title, "version": "14"},
        "basePath": "/",
        "paths": paths,
        "definitions": definitions,
    }
    return Response(json.dumps(doc).encode(), headers={"Content-Type": OPENAPI_TYPE})
