"""What WATS says when a port of an instance is taken: the port, who holds it and how
to get past it (stop it, or another ``WATS_PORT_OFFSET``), in one line. Which ports an
instance binds and whether they are free is the stand-in's (:mod:`supabase_standin.ports`)."""

from __future__ import annotations

from supabase_standin.ports import Port, holder, is_free
from wats.settings import PORT_OFFSETS, Settings

#: Offsets tried when suggesting other ports (the defaults of dev and test excluded).
SUGGESTED_OFFSETS = range(2000, 11001, 1000)
#: The module of the WATS daemon, recognised in a port holder's command line.
DAEMON = "wats.stack.daemon"


def describe(pid: int, cmdline: list[str]) -> str | None:
    """A WATS daemon holding a port, by instance name."""
    if DAEMON not in cmdline:
        return None
    instance = cmdline[cmdline.index("--instance") + 1] if "--instance" in cmdline[:-1] else "?"
    return f"the WATS stack '{instance}' (pid {pid})"


def free_offset(settings: Settings, count: int, exclude: set[int]) -> int | None:
    """A port offset at which every port of an instance is free, to suggest."""
    base = settings.project.api.port
    db_base = settings.project.db.port
    offset_now = settings.api_port - base
    for offset in SUGGESTED_OFFSETS:
        if offset in exclude or offset == offset_now or offset in PORT_OFFSETS.values():
            continue
        numbers = [
            base + offset,
            db_base + offset,
            54330 + offset,
            settings.dashboard_port - offset_now + offset,
            *range(54340 + offset, 54340 + offset + count),
        ]
        if all(n < 65536 and is_free(n) for n in numbers):
            return offset
    return None


def busy_message(settings: Settings, busy: list[Port], command: str, count: int) -> str:
    """One line: which ports are taken, by whom, and how to get past it."""
    parts = []
    for port in busy:
        who = holder(port.number, describe)
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
