"""One Storage request: who is calling and what PostgreSQL is told about it."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from supabase_standin.storage import identity
from supabase_standin.storage.db import Scope
from supabase_standin.storage.identity import Caller


@dataclass
class Ctx:
    request: Request
    secret: str
    #: The URL as Storage sees it behind Kong: ``/object/…?query`` (no ``/storage/v1``).
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    caller: Caller = identity.ANONYMOUS

    @classmethod
    def of(cls, request: Request, path: str, secret: str) -> Ctx:
        query = request.url.query
        url = "/" + path + (f"?{query}" if query else "")
        headers = {k.lower(): v for k, v in request.headers.items()}
        return cls(request, secret, url, headers)

    @property
    def method(self) -> str:
        return self.request.method.upper()

    def authenticate(self, *, allow_invalid: bool = False) -> Caller:
        self.caller = identity.resolve(self.headers.get("authorization"), self.secret, allow_invalid=allow_invalid)
        return self.caller

    def scope(self, operation: str) -> Scope:
        return Scope(self.caller, self.method, self.url, self.headers, operation)

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)
