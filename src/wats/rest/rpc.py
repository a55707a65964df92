"""Calling SQL functions as PostgREST does: named arguments through ``jsonb_to_record``."""

from __future__ import annotations

import json
from typing import Any

from wats.rest.errors import ApiError
from wats.rest.schema_cache import Function, SchemaCache
from wats.rest.sql import Params, ident


def choose_function(
    cache: SchemaCache,
    schema: str,
    name: str,
    provided: set[str],
    *,
    whole_body: bool,
) -> Function:
    """The overload whose argument names fit the request (PGRST202/PGRST203 otherwise).

    ``whole_body``: a POST whose body may go to a single unnamed json/jsonb parameter.
    """
    candidates = cache.function_candidates(schema, name)
    fitting: list[Function] = []
    for fn in candidates:
        if whole_body and fn.single_unnamed_json:
            fitting.append(fn)
            continue
        names = {a.name for a in fn.args}
        required = {a.name for a in fn.args if not a.has_default}
        if "" in names:
            continue  # unnamed parameters can only be called with a whole body
        if provided <= names and required <= provided:
            fitting.append(fn)
    if not fitting:
        keys = ", ".join(sorted(provided))
        signature = f"({keys})" if provided else " without parameters"
        detail_params = (
            f" with parameter{'s' if len(provided) > 1 else ''} {keys}" if provided else " without parameters"
        )
        if whole_body:
            detail_params += " or with a single unnamed json/jsonb parameter"
        hint = None
        if candidates:
            options = ", ".join(f"{fn.schema}.{fn.name}({', '.join(a.name for a in fn.args)})" for fn in candidates)
            hint = f"Perhaps you meant to call the function {options}"
        raise ApiError(
            404,
            "PGRST202",
            f"Could not find the function {schema}.{name}{signature} in the schema cache",
            f"Searched for the function {schema}.{name}{detail_params}, but no matches were found in the schema cache.",
            hint,
        )
    if len(fitting) > 1:
        # prefer the overload that uses the most of the provided names exactly
        exact = [fn for fn in fitting if {a.name for a in fn.args} == provided]
        if len(exact) == 1:
            return exact[0]
        options = ", ".join(
            f"{fn.schema}.{fn.name}({', '.join(f'{a.name} => {a.type}' for a in fn.args)})" for fn in fitting
        )
        raise ApiError(
            300,
            "PGRST203",
            f"Could not choose the best candidate function between: {options}",
            None,
            "Try renaming the parameters or the function itself in the database so function overloading "
            "can be resolved",
        )
    return fitting[0]


def render_call(fn: Function, args: dict[str, Any] | None, whole_body: str | None, params: Params) -> str:
    """The ``pgrst_source`` CTE body that calls ``fn``.

    Composite results come out as columns; scalar results as one column ``pgrst_scalar``.
    """
    target = fn.qualified.replace("%", "%%")
    if whole_body is not None:
        call_args = f"{params.add(whole_body)}::{fn.args[0].type}"
        from_args = ""
    else:
        args = args or {}
        if args:
            definitions = ", ".join(f"{ident(a.name)} {a.type}" for a in fn.args if a.name in args)
            call_args = ", ".join(
                f"{'VARIADIC ' if a.variadic else ''}{ident(a.name)} := pgrst_args.{ident(a.name)}"
                for a in fn.args
                if a.name in args
            )
            from_args = (
                f"(SELECT * FROM jsonb_to_record({params.add(json.dumps(args))}::jsonb) "
                f"AS pgrst_a({definitions})) AS pgrst_args"
            )
        else:
            call_args = ""
            from_args = ""
    call = f"{target}({call_args})"
    if fn.return_columns is not None:
        source = f"{from_args}, LATERAL {call} AS pgrst_call" if from_args else f"{call} AS pgrst_call"
        return f"SELECT pgrst_call.* FROM {source}"
    if fn.returns_set:
        source = f"{from_args}, LATERAL {call} AS pgrst_call" if from_args else f"{call} AS pgrst_call"
        return f"SELECT pgrst_call AS pgrst_scalar FROM {source}"
    return f"SELECT {call} AS pgrst_scalar" + (f" FROM {from_args}" if from_args else "")
