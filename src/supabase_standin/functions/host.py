"""Edge Functions: one real Deno process per function folder, restarted when it crashes,
and a proxy that applies ``verify_jwt`` from supabase/config.toml (``[functions.<name>]``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from supabase_standin import keys
from supabase_standin.stack import StackConfig

log = logging.getLogger(__name__)

#: Variables of the developer's environment a function process inherits: how to reach the
#: npm registry (proxies, extra certificate authorities) and nothing else.
INHERITED = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "NPM_CONFIG_REGISTRY",
)

#: Client-address headers the hosted edge (Cloudflare) sets itself: whatever a client sends
#: under these names is dropped, as there.
EDGE_ADDRESS_HEADERS = {"cf-connecting-ip", "x-real-ip", "x-forwarded-for"}
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


def edge_headers(headers: list[tuple[str, str]], peer: str) -> list[tuple[str, str]]:
    """The request headers a function sees behind Supabase's edge: ``CF-Connecting-IP`` and
    ``X-Real-IP`` are the address the request came from (a client cannot forge them), and
    that address is appended to any ``X-Forwarded-For`` the client sent, in one header line
    as proxies do. Functions take the client's address from ``cf-connecting-ip``; the first
    ``X-Forwarded-For`` hop is whatever the client wrote."""
    forwarded = [
        hop.strip() for name, value in headers if name.lower() == "x-forwarded-for" for hop in value.split(",")
    ]
    kept = [(name, value) for name, value in headers if name.lower() not in EDGE_ADDRESS_HEADERS]
    chain = ", ".join([*(hop for hop in forwarded if hop), peer])
    return [*kept, ("x-forwarded-for", chain), ("cf-connecting-ip", peer), ("x-real-ip", peer)]


def runner_path() -> Path:
    return Path(str(resources.files("supabase_standin.functions") / "runner.ts"))


@dataclass
class FunctionProcess:
    name: str
    folder: Path
    port: int
    verify_jwt: bool
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class FunctionsHost:
    """Starts, watches and proxies to the Deno processes."""

    def __init__(self, config: StackConfig, extra_env: dict[str, str]):
        self.config = config
        self.extra_env = extra_env
        self.functions: dict[str, FunctionProcess] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(150.0, connect=5.0))
        for i, (name, folder) in enumerate(config.function_folders()):
            verify = config.project.function(name).verify_jwt
            self.functions[name] = FunctionProcess(name, folder, config.functions_port + i, verify)

    def environment(self, fn: FunctionProcess) -> dict[str, str]:
        s = self.config
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "DENO_DIR": str(s.deno_dir),
            "DENO_NO_UPDATE_CHECK": "1",
            "NO_COLOR": "1",
            # what Supabase injects into every function
            "SUPABASE_URL": s.api_url,
            "SUPABASE_ANON_KEY": s.anon_key,
            "SUPABASE_SERVICE_ROLE_KEY": s.service_role_key,
            "SUPABASE_DB_URL": s.db_url(),
            "SB_REGION": "local",
            **{k: os.environ[k] for k in INHERITED if k in os.environ},
            # for the runner
            "STANDIN_FUNCTION_ENTRY": (fn.folder / "index.ts").resolve().as_uri(),
            "STANDIN_FUNCTION_PORT": str(fn.port),
        }
        env.update(self.extra_env)
        return env

    async def start(self) -> None:
        log_dir = self.config.log_dir / "functions"
        log_dir.mkdir(parents=True, exist_ok=True)
        for fn in self.functions.values():
            self._tasks.append(asyncio.create_task(self._supervise(fn, log_dir / f"{fn.name}.log")))

    async def _supervise(self, fn: FunctionProcess, logfile: Path) -> None:
        backoff = 0.5
        while not self._stopping:
            started = time.monotonic()
            with logfile.open("ab") as out:
                fn.process = await asyncio.create_subprocess_exec(
                    str(self.config.tools_dir / "deno"),
                    "run",
                    "--allow-net",
                    "--allow-env",
                    "--allow-read",
                    "--allow-sys",
                    "--no-prompt",
                    str(runner_path()),
                    env=self.environment(fn),
                    stdout=out,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=str(fn.folder),
                )
                waiter = asyncio.create_task(self._wait_listening(fn))
                code = await fn.process.wait()
                waiter.cancel()
            fn.ready.clear()
            if self._stopping:
                return
            fn.restarts += 1
            log.warning("function %s exited with %s; restarting", fn.name, code)
            with logfile.open("a") as out:
                out.write(f"[functions] function exited with code {code}; restarting\n")
            if time.monotonic() - started > 30:
                backoff = 0.5
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10)

    async def _wait_listening(self, fn: FunctionProcess) -> None:
        while True:
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", fn.port)
                writer.close()
                fn.ready.set()
                return
            except OSError:
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self._stopping = True
        for fn in self.functions.values():
            if fn.process and fn.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    fn.process.terminate()
        for fn in self.functions.values():
            if fn.process:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(fn.process.wait(), 5)
        for task in self._tasks:
            task.cancel()
        await self.client.aclose()

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.gather(*(f.ready.wait() for f in self.functions.values())), timeout)
            return True
        except TimeoutError:
            return False

    # -- proxy --------------------------------------------------------------------------
    async def handle(self, request: Request, path: str) -> Response:
        name, _, rest = path.lstrip("/").partition("/")
        fn = self.functions.get(name)
        if fn is None:
            return _json(404, {"code": "NOT_FOUND", "message": "Requested function was not found"})
        if fn.verify_jwt and request.method != "OPTIONS":
            problem = self._jwt_problem(request.headers.get("authorization"))
            if problem:
                return _json(401, {"code": 401, "msg": problem, "message": problem})
        try:
            await asyncio.wait_for(fn.ready.wait(), 60)
        except TimeoutError:
            return _json(503, {"code": "BOOT_ERROR", "message": "Function failed to start (please check logs)"})
        url = f"http://127.0.0.1:{fn.port}/{name}" + (f"/{rest}" if rest else "")
        if request.url.query:
            url += "?" + request.url.query
        peer = request.client.host if request.client else "127.0.0.1"
        headers = edge_headers([(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP], peer)
        # header values travel as the bytes the client sent (Starlette decodes them as
        # latin-1): a UTF-8 value reaches the function as it would on Supabase
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        body = await request.body()
        try:
            upstream = await self.client.send(
                self.client.build_request(request.method, url, headers=raw_headers, content=body), stream=True
            )
        except httpx.HTTPError as exc:
            log.warning("function %s is not reachable: %s", name, exc)
            return _json(502, {"code": "WORKER_ERROR", "message": "Function is not reachable"})
        response_headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP]

        async def stream() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await upstream.aclose()

        response = StreamingResponse(stream(), status_code=upstream.status_code)
        response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers]
        return response

    def _jwt_problem(self, authorization: str | None) -> str | None:
        if not authorization:
            return "Error: Missing authorization header"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Invalid JWT"
        try:
            keys.verify(self.config.jwt_secret, token.strip())
        except keys.InvalidToken:
            return "Invalid JWT"
        return None


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json")
