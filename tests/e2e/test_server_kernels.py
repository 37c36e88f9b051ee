"""The served apps' kernels: how they talk to the Voilà server."""

import json
import time
from pathlib import Path

import psutil
import pytest

from cop_widgets.kernel_launcher import is_kernel_command

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_kernels_talk_to_the_server_over_unix_sockets_not_tcp_ports(voila_server):
    """A TCP port is picked free, released, then bound by the kernel: with a room's pool
    starting at once, two kernels sometimes get the same port and one dies. Unix sockets named
    after each kernel cannot collide."""
    server = psutil.Process(voila_server.proc.pid)
    kernels = [p for p in server.children(recursive=True) if is_kernel_command(p.cmdline())]
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


def test_the_served_kernels_start_without_the_debugger(voila_server):
    """Every kernel the server starts runs cop_widgets.kernel_launcher (its kernel spec comes
    first on the server's JUPYTER_PATH), not ipykernel_launcher with debugpy, forked from the
    Voilà process's one fork server (kernel_forks.py), never started by Voilà itself."""
    from cop_widgets import kernel_forks
    from cop_widgets.kernel_launcher import MODULE

    server = psutil.Process(voila_server.proc.pid)
    (voila,) = [p for p in server.children() if "cop_widgets.serving.launch" in p.cmdline()]
    # Only the Voilà process's own children count: a kernel forked this instant shows its fork
    # server's command line until it writes its own, and a kernel that renders a report (the
    # community app's) has a fork server of its own for the report's kernel.
    fork_servers = [p for p in voila.children() if kernel_forks.MODULE in p.cmdline()]
    assert len(fork_servers) == 1, [(p.pid, p.create_time()) for p in fork_servers]
    assert not [p for p in voila.children() if is_kernel_command(p.cmdline())]
    kernels = [p for p in voila.children(recursive=True) if is_kernel_command(p.cmdline())]
    assert kernels, "the preheated pools start kernels"
    assert all(MODULE in kernel.cmdline() for kernel in kernels)
    assert any(kernel.ppid() == fork_servers[0].pid for kernel in kernels)
    # a kernel that starts one of its own (a report's) starts it as a process of its own: a fork
    # server there would outlive the report as long as the page's kernel lives (kernel.json)
    assert all(kernel.environ().get(kernel_forks.FORKS_ENV) == "0" for kernel in kernels)


def test_every_served_notebook_has_a_preheated_kernel(voila_server):
    """The pools start a kernel ahead for each served notebook (a room's joins then find one
    waiting); a path check that refuses the pool's own notebook names leaves every page cold."""
    from tests.e2e.conftest import served_notebooks

    apps = served_notebooks()
    assert len(apps) >= 6
    assert voila_server.preheated_at_start >= len(apps), (voila_server.preheated_at_start, apps)


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_stopping_cop_serve_stops_the_voila_server(tmp_path, stop):
    """SIGTERM or Ctrl-C to the `cop` process ends the Voilà server it started: nothing is
    left listening."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import urllib.request

    from tests.e2e.conftest import REPO, free_port

    data_dir = tmp_path / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    port = free_port()
    env = dict(os.environ, COP_DATA_DIR=str(data_dir))
    cop = subprocess.Popen(
        [sys.executable, "-m", "cop_widgets.cli", "serve", f"--port={port}", "--pool-size=0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.3)
        children = psutil.Process(cop.pid).children(recursive=True)
        assert children, "cop serve started Voilà"
        cop.send_signal(getattr(signal, stop))
        assert cop.wait(timeout=20) is not None
        gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, f"still running after {stop}: {alive}"
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)  # noqa: S310
    finally:
        for proc in psutil.Process(cop.pid).children(recursive=True) if cop.poll() is None else []:
            proc.kill()
        cop.kill()
