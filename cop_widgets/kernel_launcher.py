"""The kernel behind every served page and every report: ipykernel, without its debugger.

ipykernel imports debugpy (and the pydevd it vendors) when it starts, for JupyterLab's visual
debugger: measured here, 175 ms of a kernel's 635 ms of imports, in every kernel of a room
(each page's, and each one its pool starts to replace it). A page of ours never debugs, and
Voilà passes only widget messages to a page's kernel (tests/e2e/test_kernel_guard.py), so
these kernels start without it. The kernel spec in serving/jupyter_data/kernels/python3 (first
on the server's JUPYTER_PATH; reports/render.py names its folder) runs this module, which
marks debugpy as not importable (ipykernel then turns its debugger off) and starts ipykernel
as `python -m ipykernel_launcher` would.

Served and report kernels are forked from a fork server that ran `without_debugger` and imported
ipykernel once (kernel_forks.py); each fork then calls `start_kernel`.

It lives beside the package's cheap __init__, not in serving/ (whose package imports more):
measured, a kernel started this way uses 0.50 CPU-s and 43 MiB (RSS) against 0.66 CPU-s and
50 MiB from ipykernel_launcher.
"""

import os
import sys

MODULE = "cop_widgets.kernel_launcher"
# The kernel spec that runs it (also on the server's JUPYTER_PATH, as serving/jupyter_data)
KERNEL_SPECS = os.path.join(os.path.dirname(__file__), "serving", "jupyter_data", "kernels")
IPYKERNEL_LAUNCHER = "ipykernel_launcher"  # how Jupyter starts a kernel elsewhere


def is_kernel_command(args: list[str]) -> bool:
    """Whether a process's command line is a kernel's, ours or ipykernel's own."""
    return MODULE in args or any(arg.endswith(IPYKERNEL_LAUNCHER) for arg in args)


def without_debugger() -> None:
    """Mark debugpy as not importable, and take the working folder off sys.path."""
    # ipykernel's debugger module catches the ImportError this gives and turns itself off
    sys.modules["debugpy"] = None  # type: ignore[assignment]
    # As ipykernel_launcher: the working folder off sys.path while ipykernel loads
    # (IPython puts it back for the code the kernel runs).
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]


def start_kernel() -> None:
    """Run ipykernel with this process's command line (`-f <connection file>`)."""
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def main() -> None:
    without_debugger()
    start_kernel()


if __name__ == "__main__":
    main()
