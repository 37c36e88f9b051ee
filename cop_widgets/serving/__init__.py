"""How the workbooks are served with Voilà: one place that knows every flag and why."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

JUPYTER_DATA = Path(__file__).resolve().parent / "jupyter_data"
WORKBOOKS_DIR = Path(__file__).resolve().parents[2] / "workbooks"
# The review app lives outside the participants' tree: it is served by its own server, with a
# token, so no participant URL can reach it.
REVIEW_DIR = Path(__file__).resolve().parents[2] / "review"


ROOM_NOTEBOOKS = ("session.ipynb", "reflection.ipynb", "case_discussion.ipynb")


@dataclass(frozen=True)
class ServeOptions:
    workbooks: Path = WORKBOOKS_DIR
    port: int = 8866
    ip: str = "127.0.0.1"
    # Kernels started ahead of time per notebook: set it to the room size.
    pool_size: int = 4
    # Refill the pool long after a burst of joins, not 1 s later (PERFORMANCE.md gotcha 3).
    fill_delay: float = 600.0
    # Kernels with no open page are shut down after this long (closed tabs leak otherwise).
    cull_idle_timeout: int = 600
    cull_interval: int = 60
    token: str | None = None


def voila_command(opts: ServeOptions) -> list[str]:
    """The Voilà command line for participants' apps (tree mode over the workbooks folder)."""
    cmd = [
        sys.executable,
        "-m",
        "cop_widgets.serving.launch",
        str(opts.workbooks),
        "--no-browser",
        f"--port={opts.port}",
        f"--Voila.ip={opts.ip}",
        "--template=cop",
        "--theme=light",
        "--show_tracebacks=False",
        f"--MappingKernelManager.cull_idle_timeout={opts.cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={opts.cull_interval}",
        # Kernels talk to the server over Unix sockets named after each kernel, not TCP ports:
        # a port is picked free, released, then bound by the kernel, and with a room's pool of
        # 30 starting at once two kernels now and then get the same one ("Address already in
        # use", a kernel dies and the pool comes up short).
        "--KernelManager.transport=ipc",
        # Front-end extensions: the widget managers only (no code is shown, so no syntax
        # highlighting); every page of a room fetches and runs what is listed here.
        "--VoilaConfiguration.extension_allowlist="
        "['@jupyter-widgets/jupyterlab-manager', '@voila-dashboards/widgets-manager8']",
    ]
    if opts.pool_size > 0:
        # The room opens these at once; the others (board, community, directory) are opened
        # by one or two people and keep a single warm kernel each.
        pools = {"default": {"pool_size": 1}} | {
            name: {"pool_size": opts.pool_size} for name in ROOM_NOTEBOOKS
        }
        cmd += [
            "--preheat_kernel=True",
            f"--pool_size={opts.pool_size}",
            f"--VoilaKernelManager.kernel_pools_config={json.dumps(pools)}",
            f"--VoilaKernelManager.fill_delay={opts.fill_delay}",
            # report templates are never rendered by Voilà (see launch.NOT_SERVED)
            "--VoilaKernelManager.preheat_denylist=['reports/']",
        ]
    if opts.token is not None:
        cmd.append(f"--token={opts.token}")
    return cmd


def voila_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the Voilà server: finds our page template, keeps kernels light."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(JUPYTER_DATA), env.get("JUPYTER_PATH", "")) if p
    )
    # Kernels must not wait on a missing display or pick up a user's matplotlib backend.
    env.setdefault("MPLBACKEND", "agg")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env
