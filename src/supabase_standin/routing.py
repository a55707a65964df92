"""One declarative route table per service, as GoTrue's ``internal/api/api.go`` declares
its router: method + path pattern → handler, with middleware around every request.

A pattern is matched against the path below the service's mount point (no leading
``/``): literal segments, ``{name}`` for one segment, ``{name:path}`` for the rest of the
path (possibly empty, slashes included) and a trailing ``/?`` for an optional slash.
Routes are tried in table order, so static routes are listed before the parameterised
ones they overlap, as chi's tree prefers them. A path that matches no route goes to the
table's ``not_found`` handler; a path that matches only with another method goes to its
``method_not_allowed`` handler (or ``not_found`` when the service makes no difference).
Middleware wraps whichever handler answers, the fallbacks included.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from starlette.responses import Response

C = TypeVar("C")

#: A handler gets the request's context and the path parameters of its route.
Handler = Callable[[C, dict[str, str]], Awaitable[Response]]
#: ``await middleware(ctx, call_next)``: run code around the handler, or answer instead of it.
Middleware = Callable[[C, Callable[[C], Awaitable[Response]]], Awaitable[Response]]

ANY = "*"
_PARAM = re.compile(r"\{(\w+)(:path)?\}")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    optional_slash = pattern.endswith("/?")
    body = pattern[:-2] if optional_slash else pattern
    regex, pos = "", 0
    for match in _PARAM.finditer(body):
        regex += re.escape(body[pos : match.start()])
        regex += f"(?P<{match.group(1)}>.*)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        pos = match.end()
    regex += re.escape(body[pos:]) + ("/?" if optional_slash else "")
    return re.compile(regex, re.DOTALL)


@dataclass(frozen=True)
class Route(Generic[C]):
    """``methods`` (``*`` for any) + ``pattern`` → ``handler``."""

    methods: frozenset[str]
    pattern: str
    handler: Handler[C]
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_pattern(self.pattern))

    def allows(self, method: str) -> bool:
        return ANY in self.methods or method in self.methods


def route(methods: str | Iterable[str], pattern: str, handler: Handler[C]) -> Route[C]:
    """A table row: ``route("GET", "bucket/{bucket}", get_bucket)``."""
    wanted = frozenset([methods] if isinstance(methods, str) else methods)
    return Route(wanted, pattern, handler)


class Router(Generic[C]):
    """A service's route table and the middleware every request passes through."""

    def __init__(
        self,
        routes: Sequence[Route[C]],
        *,
        not_found: Handler[C],
        method_not_allowed: Handler[C] | None = None,
        middleware: Sequence[Middleware[C]] = (),
    ) -> None:
        self.routes = list(routes)
        self.not_found = not_found
        self.method_not_allowed = method_not_allowed or not_found
        self.middleware = list(middleware)

    def resolve(self, method: str, path: str) -> tuple[Handler[C], dict[str, str]]:
        """The handler for ``method path`` and its path parameters."""
        path_matched: dict[str, str] | None = None
        for candidate in self.routes:
            match = candidate.regex.fullmatch(path)
            if match is None:
                continue
            if candidate.allows(method):
                return candidate.handler, match.groupdict()
            if path_matched is None:
                path_matched = match.groupdict()
        if path_matched is not None:
            return self.method_not_allowed, path_matched
        return self.not_found, {}

    async def dispatch(self, ctx: C, method: str, path: str) -> Response:
        handler, params = self.resolve(method, path)

        async def endpoint(c: C) -> Response:
            return await handler(c, params)

        call: Callable[[C], Awaitable[Response]] = endpoint
        for middleware in reversed(self.middleware):
            call = _wrap(middleware, call)
        return await call(ctx)


def _wrap(middleware: Middleware[C], inner: Callable[[C], Awaitable[Response]]) -> Callable[[C], Awaitable[Response]]:
    async def wrapped(ctx: C) -> Response:
        return await middleware(ctx, inner)

    return wrapped
