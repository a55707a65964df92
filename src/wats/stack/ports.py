"""The ports one instance of the stack listens on, and what to say when one is taken.

Before anything starts, every port the instance will bind (API gateway, PostgreSQL, the
sandbox, one per Edge Function) is tried the way the servers bind it (127.0.0.1, with
SO_REUSEADDR). A taken port stops the start with one line naming the port, the process
holding it when it can be told (from /proc, else ``ss``) and how to get out of the way:
Supabase's own ``supabase start`` on the same ports is the usual case.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wats.functions.manager import function_folders
from wats.settings import PORT_OFFSETS, Settings

#: Offsets tried when suggesting other ports (the defaults of dev and test excluded).
SUGGESTED_OFFSETS = range(2000, 11001, 1000)


@dataclass(frozen=True)
class Port:
    number: int
    role: str  # "API", "database", "sandbox", "function <name>"


def service_ports(settings: Settings, test_functions: str | None = None) -> list[Port]:
    """The ports the stack's daemon binds: gateway, sandbox and one per function."""
    ports = [Port(settings.api_port, "API"), Port(settings.sandbox_port, "sandbox")]
    for i, (name, _folder) in enumerate(function_folders(settings, test_functions)):
        ports.append(Port(settings.functions_port + i, f"function {name}"))
    return ports


def database_port(settings: Settings) -> Port:
    return Port(settings.db_port, "database")


def is_free(port: int) -> bool:
    """True when a server could listen on 127.0.0.1:``port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def taken(ports: list[Port], patience: float = 10.0) -> list[Port]:
    """The ports another server listens on. Local stack ports lie in the kernel's ephemeral
    range, so an outgoing connection may hold one for a moment: a busy port nobody listens
    on is tried again for up to ``patience`` seconds before it counts as taken."""
    busy = [p for p in ports if not is_free(p.number)]
    deadline = time.monotonic() + patience
    while busy and time.monotonic() < deadline and not any(_listening_inodes(p.number) for p in busy):
        time.sleep(0.25)
        busy = [p for p in busy if not is_free(p.number)]
    return busy


# -- who holds a port -------------------------------------------------------------------


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) < 10 or fields[3] != "0A":  # 0A: LISTEN
                    continue
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _pids_with_sockets(inodes: set[str]) -> list[int]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids: list[int] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        pids.append(int(proc.name))
                        break
    return sorted(pids)


def _describe(pid: int) -> str:
    comm = ""
    cmdline: list[str] = []
    with contextlib.suppress(OSError):
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    with contextlib.suppress(OSError):
        cmdline = [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    if "wats.stack.daemon" in cmdline:
        instance = cmdline[cmdline.index("--instance") + 1] if "--instance" in cmdline[:-1] else "?"
        return f"the WATS stack '{instance}' (pid {pid})"
    return f"{comm or 'a process'} (pid {pid})"


def _holder_from_ss(port: int) -> str | None:
    ss = shutil.which("ss")
    if not ss:
        return None
    try:
        out = subprocess.run([ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out)
    return f"{match.group(1)} (pid {match.group(2)})" if match else None


def holder(port: int) -> str | None:
    """Who listens on ``port`` ("docker-proxy (pid 4242)"), or None when it cannot be told
    (another user's process seen without privileges)."""
    inodes = _listening_inodes(port)
    pids = _pids_with_sockets(inodes) if inodes else []
    if pids:
        return ", ".join(_describe(pid) for pid in pids[:3])
    return _holder_from_ss(port)


# -- the message ------------------------------------------------------------------------


def free_offset(settings: Settings, count: int, exclude: set[int]) -> int | None:
    """A port offset at which every port of an instance is free, to suggest."""
    base = settings.config.get("api", {}).get("port", 54321)
    db_base = settings.config.get("db", {}).get("port", 54322)
    offset_now = settings.api_port - base
    for offset in SUGGESTED_OFFSETS:
        if offset in exclude or offset == offset_now or offset in PORT_OFFSETS.values():
            continue
        numbers = [base + offset, db_base + offset, 54330 + offset, *range(54340 + offset, 54340 + offset + count)]
        if all(n < 65536 and is_free(n) for n in numbers):
            return offset
    return None


def busy_message(settings: Settings, busy: list[Port], command: str, count: int) -> str:
    """One line: which ports are taken, by whom, and how to get past it."""
    parts = []
    for port in busy:
        who = holder(port.number)
        parts.append(f"port {port.number} ({port.role}) is in use" + (f" by {who}" if who else ""))
    offset = free_offset(settings, count, set())
    shown = offset if offset is not None else 3000
    variable = "WATS_TEST_INSTANCE" if command == "test" else "WATS_INSTANCE"
    return (
        f"cannot start the WATS stack '{settings.instance}': {'; '.join(parts)}. "
        f"Stop what holds it (another Supabase local stack: `supabase stop`; another WATS instance: "
        f"`WATS_INSTANCE=<name> ./scripts/wats stop`) or use other ports: "
        f"{variable}=<name> WATS_PORT_OFFSET={shown} ./scripts/wats {command}"
    )
