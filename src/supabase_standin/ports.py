"""Ports: whether one is free, and who holds it when it is not.

Every port an instance will bind (API gateway, PostgreSQL, one per Edge Function, the
extensions' own) is tried before anything starts, the way the servers bind it
(127.0.0.1, with SO_REUSEADDR). A taken port stops the start with :class:`PortsBusy`,
which names the ports; :func:`holder` tells which process holds one (from /proc, else
``ss``) so the caller can say how to get out of the way.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Port:
    number: int
    role: str  # "API", "database", "function <name>", an extension's own


class PortsBusy(RuntimeError):
    """Ports the instance needs are taken (``busy``)."""

    def __init__(self, busy: list[Port]) -> None:
        super().__init__("ports in use: " + ", ".join(f"{p.number} ({p.role})" for p in busy))
        self.busy = busy


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


#: ``describe(pid, command line)``: a caller's name for a process it recognises, else None.
Describe = Callable[[int, list[str]], str | None]


def _describe(pid: int, describe: Describe | None) -> str:
    comm = ""
    cmdline: list[str] = []
    with contextlib.suppress(OSError):
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    with contextlib.suppress(OSError):
        cmdline = [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    known = describe(pid, cmdline) if describe else None
    if known:
        return known
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


def holder(port: int, describe: Describe | None = None) -> str | None:
    """Who listens on ``port`` ("docker-proxy (pid 4242)"), or None when it cannot be told
    (another user's process seen without privileges)."""
    inodes = _listening_inodes(port)
    pids = _pids_with_sockets(inodes) if inodes else []
    if pids:
        return ", ".join(_describe(pid, describe) for pid in pids[:3])
    return _holder_from_ss(port)
