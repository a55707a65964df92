"""`wats start` with a port of the instance already taken (Supabase's own `supabase start`
on 54321 is the usual case) stops before starting anything, with one line that names the
port, the process holding it and how to get past it; no traceback, nothing left running."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from supabase_standin import ports
from wats.settings import Settings
from wats.stack import control
from wats.stack.postgres import Cluster

INSTANCE = "portcheck"


def instance_ports(settings: Settings) -> list[ports.Port]:
    return [settings.standin().database_port(), *control.service_ports(settings)]


@pytest.fixture
def throwaway(monkeypatch) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    """Settings of a never-started instance on ports nobody uses; stopped and removed after."""
    for offset in range(5500, 11001, 500):
        monkeypatch.setenv("WATS_PORT_OFFSET", str(offset))
        settings = Settings.load(INSTANCE)
        if all(ports.is_free(p.number) for p in instance_ports(settings)):
            break
    else:
        pytest.fail("no free port range for a throwaway instance")
    try:
        yield settings
    finally:
        control.stop(settings)
        shutil.rmtree(settings.home, ignore_errors=True)


def start(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, WATS_INSTANCE=settings.instance, WATS_PORT_OFFSET=os.environ["WATS_PORT_OFFSET"])
    return subprocess.run(
        [sys.executable, "-m", "wats", "start", "--no-seed"],
        env=env,
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("role", ["API", "database", "sandbox", "function"])
def test_start_with_a_taken_port_names_it_and_starts_nothing(throwaway: Settings, role: str):
    port = next(p for p in instance_ports(throwaway) if p.role.split()[0] == role)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port.number))
        squatter.listen()
        proc = start(throwaway)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, output
    line = errors[0]
    assert f"port {port.number} ({port.role}) is in use by " in line
    assert f"(pid {os.getpid()})" in line  # this test's process holds it
    assert "WATS_INSTANCE=<name> WATS_PORT_OFFSET=" in line and "./scripts/wats start" in line
    # nothing was started
    assert control.daemon_pid(throwaway) is None
    assert not Cluster(throwaway).exists()
    assert all(ports.is_free(p.number) for p in instance_ports(throwaway))
