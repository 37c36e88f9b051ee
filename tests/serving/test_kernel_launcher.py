"""The served kernels' launcher: ipykernel without debugpy, and a kernel that still runs code."""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.kernelspec import KernelSpecManager

from cop_widgets.kernel_launcher import MODULE, is_kernel_command
from cop_widgets.serving import JUPYTER_DATA, voila_environment

# the debugpy modules a kernel has loaded (the launcher's marker, None, is not one)
PROBE = (
    "import sys; "
    "print(sorted(m for m, v in sys.modules.items() if m.split('.')[0] == 'debugpy' and v))"
)


def _run(module: str) -> str:
    """What PROBE prints in a kernel started with `python -m module`."""
    with tempfile.TemporaryDirectory() as folder:
        connection = str(Path(folder) / "kernel.json")
        write_connection_file(connection, transport="ipc", ip=str(Path(folder) / "k"))
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "-f", connection], stdout=subprocess.DEVNULL
        )
        client = BlockingKernelClient()
        client.load_connection_file(connection)
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            out: list[str] = []
            client.execute_interactive(
                PROBE,
                timeout=60,
                output_hook=lambda msg: out.append(msg["content"].get("text", "")),
            )
            return "".join(out).strip()
        finally:
            client.stop_channels()
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_a_kernel_from_the_launcher_runs_code_without_debugpy():
    assert _run(MODULE) == "[]"
    # ipykernel's own launcher imports it: what the launcher saves every served kernel
    assert "debugpy" in _run("ipykernel_launcher")


def test_the_servers_kernel_spec_runs_the_launcher():
    env = voila_environment({"PATH": "/usr/bin"})
    assert env["JUPYTER_PATH"].split(":")[0] == str(JUPYTER_DATA)
    spec = KernelSpecManager(kernel_dirs=[str(JUPYTER_DATA / "kernels")]).get_kernel_spec("python3")
    assert spec.argv[:3] == ["python", "-m", MODULE]
    assert is_kernel_command([sys.executable, *spec.argv[1:]])
    assert is_kernel_command([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not is_kernel_command([sys.executable, "-m", "cop_widgets.cli", "serve"])


@pytest.mark.slow
def test_a_reports_kernel_runs_the_launcher_too():
    import psutil

    from cop_widgets.reports.render import ReportKernel

    kernel = ReportKernel()
    try:
        args = psutil.Process(kernel.km.provisioner.process.pid).cmdline()
        assert MODULE in args, args
    finally:
        kernel.close()
