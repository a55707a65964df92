"""Stage 3 of a Data API request (PostgREST's ``Query``), for RPC: the SQL that calls a
function as PostgREST does, named arguments through ``jsonb_to_record``."""

from __future__ import annotations

import json
from typing import Any

from supabase_standin.rest.query import Params, ident
from supabase_standin.rest.schema_cache import Function


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
