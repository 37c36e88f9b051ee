"""The served kernels' launcher: ipykernel without debugpy, and a kernel that still runs code."""

import subprocess
import sys

import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from cop_widgets.kernel_launcher import KERNEL_SPECS, MODULE, is_kernel_command
from cop_widgets.serving import JUPYTER_DATA, voila_environment

# the debugpy modules a kernel has loaded (the launcher's marker, None, is not one)
PROBE = (
    "import sys; "
    "print(sorted(m for m, v in sys.modules.items() if m.split('.')[0] == 'debugpy' and v))"
)


def _run(kernel_dirs: list[str]) -> tuple[list[str], str]:
    """The command line of the python3 kernel the spec in `kernel_dirs` starts (none there:
    ipykernel's own), and what PROBE prints in it."""
    import psutil

    manager = KernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs)
    )
    manager.start_kernel(stdout=subprocess.DEVNULL)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        args = psutil.Process(manager.provisioner.process.pid).cmdline()
        out: list[str] = []
        client.execute_interactive(
            PROBE, timeout=60, output_hook=lambda msg: out.append(msg["content"].get("text", ""))
        )
        return args, "".join(out).strip()
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


@pytest.mark.slow
def test_a_kernel_from_the_launcher_runs_code_without_debugpy():
    args, loaded = _run([KERNEL_SPECS])
    assert MODULE in args and loaded == "[]"
    # ipykernel's own launcher imports it: what the launcher saves every served kernel
    args, loaded = _run([])
    assert "ipykernel_launcher" in args and "debugpy" in loaded


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
