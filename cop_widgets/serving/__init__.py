"""How the workbooks are served with Voilà: one place that knows every flag and why."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cop_widgets.services.identity import IDENTITY_HEADER, SITE_HEADER
from cop_widgets.settings import SIGNED_IN_BY_HUB_ENV

JUPYTER_DATA = Path(__file__).resolve().parent / "jupyter_data"
WORKBOOKS_DIR = Path(__file__).resolve().parents[2] / "workbooks"
# The review app lives outside the participants' tree: it is served by its own server (same
# sign-in, supervisors only), so no participant URL can reach it.
REVIEW_DIR = Path(__file__).resolve().parents[2] / "review"


BROWSER_MESSAGE_TYPES = (
    "comm_open",
    "comm_msg",
    "comm_close",
    "comm_info_request",
    "kernel_info_request",
)

ROOM_NOTEBOOKS = ("session.ipynb", "reflection.ipynb", "case_discussion.ipynb")


@dataclass(frozen=True)
class ServeOptions:
    workbooks: Path = WORKBOOKS_DIR
    port: int = 8866
    ip: str = "127.0.0.1"
    # Kernels started ahead of time per notebook: set it to the room size.
    pool_size: int = 4
    # Room mode: (notebook, kernels started ahead) overriding pool_size for those notebooks
    # (room.room_pools: the join page one per person expected).
    pool_sizes: tuple[tuple[str, int], ...] = ()
    # Refill the pool long after a burst of joins, not 1 s later (PERFORMANCE.md gotcha 3).
    fill_delay: float = 600.0
    # A kernel with no open page (its tab closed, the browser killed before Voilà's unload
    # beacon) is shut down once it has had no connection for this long, checked every
    # cull_interval: gone within about 45 s. An open tab, however idle, stays connected and
    # keeps its kernel (serving/launch.py, ClosedTabsLetGo).
    cull_idle_timeout: int = 40
    cull_interval: int = 5
    # HTTPS (`cop serve --certfile/--keyfile`): PEM files; "" for plain HTTP.
    certfile: str = ""
    keyfile: str = ""
    # `cop serve --hub` / `cop review --hub`: one shared JupyterHub service; the Hub signs
    # people in (serving/hub_auth.py) and browsers reach it under the service's prefix.
    hub: bool = False
    base_url: str = "/"
    # Under the Hub: a role every person must hold to get past the sign-in ("" for none).
    hub_required_role: str = ""


def voila_command(opts: ServeOptions) -> list[str]:
    """The Voilà command line for participants' apps (tree mode over the workbooks folder)."""
    cmd = [
        sys.executable,
        "-m",
        # under the Hub: launch.py, after the Hub's token has left the kernels' environment
        "cop_widgets.serving.hub_launch" if opts.hub else "cop_widgets.serving.launch",
        str(opts.workbooks),
        "--no-browser",
        f"--port={opts.port}",
        f"--Voila.ip={opts.ip}",
        "--template=cop",
        "--theme=light",
        "--show_tracebacks=False",
        # /voila/files/ serves no file of the folder (Voilà's default lets images through):
        # only its notebooks are served, as pages (serving/launch.py, serving/paths.py).
        "--VoilaConfiguration.file_allowlist=[]",
        # Sign-in: every page needs a signed-in person (accounts in the store, serving/auth.py);
        # the server's signed assertion of who that is reaches the kernel as this header.
        "--Voila.identity_provider_class=cop_widgets.serving."
        + ("hub_auth.HubIdentityProvider" if opts.hub else "auth.StoreIdentityProvider"),
        f"--VoilaConfiguration.http_header_envs=['{IDENTITY_HEADER}', '{SITE_HEADER}']",
        # A page's kernel takes widget messages only: no execute, complete, inspect or history
        # request from a browser reaches it (Voilà runs the notebook itself, server side).
        f"--MappingKernelManager.allowed_message_types={list(BROWSER_MESSAGE_TYPES)}",
        f"--MappingKernelManager.cull_idle_timeout={opts.cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={opts.cull_interval}",
        "--MappingKernelManager.cull_connected=False",
        # Kernels talk to the server over Unix sockets named after each kernel, not TCP ports:
        # a port is picked free, released, then bound by the kernel, and with a room's pool of
        # 30 starting at once two kernels now and then get the same one ("Address already in
        # use", a kernel dies and the pool comes up short).
        "--KernelManager.transport=ipc",
        # ... which live in the connection folder: a socket's path holds at most 104-108
        # bytes, and a long temporary folder (macOS's, or a TMPDIR set deep) leaves too few
        # for <folder>/voila_<random>/kernel-<uuid>-ipc-<n>; a kernel then never starts.
        f"--Voila.connection_dir_root={_socket_folder()}",
        # Front-end extensions: the widget managers only (no code is shown, so no syntax
        # highlighting); every page of a room fetches and runs what is listed here.
        "--VoilaConfiguration.extension_allowlist="
        "['@jupyter-widgets/jupyterlab-manager', '@voila-dashboards/widgets-manager8']",
    ]
    if opts.pool_size > 0:
        # The room opens these at once; the others (board, community, directory) are opened
        # by one or two people and keep a single warm kernel each.
        pools = (
            {"default": {"pool_size": 1}}
            | {name: {"pool_size": opts.pool_size} for name in ROOM_NOTEBOOKS}
            | {name: {"pool_size": size} for name, size in opts.pool_sizes}
        )
        cmd += [
            "--preheat_kernel=True",
            f"--pool_size={opts.pool_size}",
            f"--VoilaKernelManager.kernel_pools_config={json.dumps(pools)}",
            f"--VoilaKernelManager.fill_delay={opts.fill_delay}",
        ]
    if opts.certfile:
        # Voilà's own server speaks plain HTTP only; serving/launch.py's CopVoila adds these.
        cmd.append(f"--CopVoila.certfile={opts.certfile}")
        if opts.keyfile:
            cmd.append(f"--CopVoila.keyfile={opts.keyfile}")
    if opts.hub:
        # Behind the Hub's proxy every URL carries the service prefix, the kernels' and
        # widgets' too (voila#478): the server routes it and the pages link with it.
        cmd += [f"--Voila.base_url={opts.base_url}", f"--Voila.server_url={opts.base_url}"]
        if opts.hub_required_role:
            cmd.append(f"--HubIdentityProvider.required_role={opts.hub_required_role}")
    return cmd


def _socket_folder() -> str:
    folder = tempfile.gettempdir()
    return folder if len(folder) <= 40 or not os.path.isdir("/tmp") else "/tmp"  # noqa: S108


# What a standalone server's kernels must never inherit: run from a terminal inside a Hub
# server, every kernel would otherwise take that Hub user as its person.
HUB_VARIABLES = ("JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN")


def voila_environment(base: dict[str, str] | None = None, hub: bool = False) -> dict[str, str]:
    """Environment for the Voilà server: finds our page template, keeps kernels light. A
    standalone server (hub=False) drops the Hub's variables; under the Hub, serving/hub_launch.py
    takes them out before any kernel starts."""
    env = dict(os.environ if base is None else base)
    if not hub:
        for name in HUB_VARIABLES:
            env.pop(name, None)
    # the apps read it (Settings.hub): under the Hub there are no sign-in links to hand out
    if hub:
        env[SIGNED_IN_BY_HUB_ENV] = "1"
    else:
        env.pop(SIGNED_IN_BY_HUB_ENV, None)
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(JUPYTER_DATA), env.get("JUPYTER_PATH", "")) if p
    )
    # Kernels must not wait on a missing display or pick up a user's matplotlib backend.
    env.setdefault("MPLBACKEND", "agg")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def with_parsed_content(env: dict[str, str]) -> dict[str, str]:
    """`env` with COP_PARSED_CONTENT naming the content files of its data folder, parsed now
    (content/parsed_copy.py, in <data_dir>/.cache/): the kernels read them from there without
    importing yaml. If the copy cannot be written the server still starts, with a warning: its
    kernels then parse the files themselves."""
    from cop_widgets.content.parsed_copy import ENV_VAR, write_for_settings
    from cop_widgets.errors import CopWidgetsError
    from cop_widgets.settings import load_settings

    env = dict(env)
    env.pop(ENV_VAR, None)  # never another server's copy
    try:
        env[ENV_VAR] = str(write_for_settings(load_settings(env)))
    except (OSError, CopWidgetsError) as exc:
        print(
            f"warning: the parsed copy of the content files was not written ({exc}); each "
            "kernel reads them itself.",
            file=sys.stderr,
            flush=True,
        )
    return env


def hub_service_prefix(environ: dict[str, str] | None = None) -> str:
    """The path the Hub's proxy serves this service under (JUPYTERHUB_SERVICE_PREFIX, e.g.
    /services/cop/), which the Hub sets for a managed service."""
    from cop_widgets.errors import CopWidgetsError

    env = os.environ if environ is None else environ
    prefix = (env.get("JUPYTERHUB_SERVICE_PREFIX") or "").strip()
    if not prefix.startswith("/") or not env.get("JUPYTERHUB_API_TOKEN"):
        raise CopWidgetsError(
            "--hub runs the workbooks as a JupyterHub service: JUPYTERHUB_SERVICE_PREFIX and "
            "JUPYTERHUB_API_TOKEN are not set. Start it from the Hub's `services` "
            "configuration (see the README, JupyterHub)."
        )
    return prefix if prefix.endswith("/") else prefix + "/"
