"""Kernels forked from the fork server (cop_widgets/kernel_forks.py): each runs code as its own
process, with its own environment, shows itself as a kernel, shows widgets, stops when shut
down, and leaves with the process that asked for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from cop_widgets.kernel_forks import FORKS_ENV, MODULE, ForkProvisioner
from cop_widgets.kernel_launcher import KERNEL_SPECS, is_kernel_command

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent(
    """
    import json, os, sys
    import ipywidgets
    from IPython import get_ipython
    print(json.dumps({
        "person": os.environ.get("COP_TEST_PERSON"),
        "pid": os.getpid(),
        "debugpy": sorted(m for m, v in sys.modules.items() if m.startswith("debugpy") and v),
        "widget_targets": sorted(get_ipython().kernel.comm_manager.targets),
    }))
    """
)


def _start(env: dict[str, str]) -> KernelManager:
    manager = KernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[KERNEL_SPECS])
    )
    manager.start_kernel(env=env)
    return manager


def _probe(manager: KernelManager) -> dict:
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        out: list[str] = []
        client.execute_interactive(
            PROBE, timeout=60, output_hook=lambda msg: out.append(msg["content"].get("text", ""))
        )
        return json.loads("".join(out))
    finally:
        client.stop_channels()


def test_two_forked_kernels_are_apart_show_widgets_and_stop_when_shut_down():
    first = _start({**os.environ, "COP_TEST_PERSON": "Ana"})
    second = _start({**os.environ, "COP_TEST_PERSON": "Ben"})
    try:
        assert isinstance(first.provisioner, ForkProvisioner)
        seen = [_probe(first), _probe(second)]
        assert [s["person"] for s in seen] == ["Ana", "Ben"]  # each its own environment
        assert seen[0]["pid"] != seen[1]["pid"] != os.getpid()
        for manager, probe in zip((first, second), seen, strict=True):
            kernel = psutil.Process(probe["pid"])
            assert kernel.pid == manager.provisioner.pid
            # a child of the fork server, not of this process
            assert MODULE in kernel.parent().cmdline()
            # shown as a kernel with its connection file, and with its own environment
            args = kernel.cmdline()
            assert is_kernel_command(args) and args[args.index("-f") + 1] == (
                manager.connection_file
            )
            assert kernel.environ()["COP_TEST_PERSON"] == probe["person"]
            assert os.getpgid(kernel.pid) == kernel.pid  # a group of its own, for signals
            # no debugger, and ipywidgets found its kernel: pages show their widgets
            assert probe["debugpy"] == []
            assert "jupyter.widget" in probe["widget_targets"]
    finally:
        for manager in (first, second):
            manager.shutdown_kernel(now=False)
    for probe in seen:
        assert not psutil.pid_exists(probe["pid"]) or (
            psutil.Process(probe["pid"]).status() == psutil.STATUS_ZOMBIE
        )


def test_with_forks_off_each_kernel_is_a_process_of_its_own(monkeypatch):
    monkeypatch.setenv(FORKS_ENV, "0")
    manager = _start(dict(os.environ))
    try:
        pid = _probe(manager)["pid"]
        assert psutil.Process(pid).ppid() == os.getpid()
    finally:
        manager.shutdown_kernel(now=True)


def test_the_fork_server_and_its_kernels_leave_with_the_process_that_started_them():
    """A server killed with SIGKILL leaves no fork server and no kernel behind."""
    script = textwrap.dedent(
        f"""
        import sys
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager
        specs = KernelSpecManager(kernel_dirs=[{KERNEL_SPECS!r}])
        manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
        manager.start_kernel()
        client = manager.client(); client.start_channels(); client.wait_for_ready(timeout=60)
        print(manager.provisioner.pid, flush=True)
        sys.stdin.read()
        """
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        kernel = psutil.Process(int(owner.stdout.readline()))
        fork_server = kernel.parent()
        assert MODULE in fork_server.cmdline() and fork_server.ppid() == owner.pid
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    gone, alive = psutil.wait_procs([fork_server, kernel], timeout=20)
    assert not alive, [p.cmdline() for p in alive]


def test_a_fork_server_that_dies_takes_no_kernel_with_it_and_the_next_starts_another():
    first = _start(dict(os.environ))
    second = None
    try:
        kernel = psutil.Process(_probe(first)["pid"])
        fork_server = kernel.parent()
        assert MODULE in fork_server.cmdline()
        fork_server.kill()
        fork_server.wait(10)
        time.sleep(3)  # longer than a kernel's watch of its parents would take to notice
        assert kernel.is_running() and kernel.status() != psutil.STATUS_ZOMBIE
        assert first.is_alive() and _probe(first)["pid"] == kernel.pid  # it still runs code
        second = _start(dict(os.environ))
        newer = psutil.Process(_probe(second)["pid"]).parent()
        assert MODULE in newer.cmdline() and newer.pid != fork_server.pid
    finally:
        for manager in (first, second):
            if manager is not None:
                manager.shutdown_kernel(now=True)
