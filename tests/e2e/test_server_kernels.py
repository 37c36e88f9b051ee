"""The served apps' kernels: how they talk to the Voilà server."""

import json
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_kernels_talk_to_the_server_over_unix_sockets_not_tcp_ports(voila_server):
    """A TCP port is picked free, released, then bound by the kernel: with a room's pool
    starting at once, two kernels sometimes get the same port and one dies. Unix sockets named
    after each kernel cannot collide."""
    server = psutil.Process(voila_server.proc.pid)
    kernels = [
        p for p in server.children(recursive=True) if "ipykernel_launcher" in " ".join(p.cmdline())
    ]
    assert kernels, "the preheated pools start kernels"
    for kernel in kernels:
        args = kernel.cmdline()
        connection = json.loads(Path(args[args.index("-f") + 1]).read_text())
        assert connection["transport"] == "ipc"
        shell = Path(f"{connection['ip']}-{connection['shell_port']}")
        deadline = time.monotonic() + 60  # a pool kernel may still be starting
        while not shell.is_socket() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert shell.is_socket()


def test_every_served_notebook_has_a_preheated_kernel(voila_server):
    """The pools start a kernel ahead for each served notebook (a room's joins then find one
    waiting); a path check that refuses the pool's own notebook names leaves every page cold."""
    from .conftest import served_notebooks

    apps = served_notebooks()
    assert len(apps) >= 6
    assert voila_server.preheated_at_start >= len(apps), (voila_server.preheated_at_start, apps)
