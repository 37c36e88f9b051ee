"""Kernels forked from a process that has already imported what every kernel imports.

A page's kernel spends most of its start importing: ipykernel, IPython, zmq and tornado before
it answers, then SQLAlchemy when the page's notebook runs. Measured on the reflection app, as a
process of its own: 0.47 CPU-s to start and 0.58 CPU-s to run the app, ready after 0.72 s. A
room's pools start 30 of them at once, and start one again for each page opened.

Here each server keeps one fork server, `python -m cop_widgets.kernel_forks`, which imports
those libraries once and forks a kernel for each request: 0.13 CPU-s to start and 0.29 CPU-s to
run the app, ready after 0.42 s, 32 MiB of its own memory instead of 45 MiB (the rest is shared
with the fork server until a kernel writes to it). Only third-party code is imported ahead,
none of ours, and nothing that needs a kernel at import (ipywidgets) or keeps a kernel's own
setting read at import; the one ipykernel reads (JPY_PARENT_PID) is given on the command line.
The child takes the kernel's command line, environment and folder from the request, leads a
session of its own (as Jupyter starts kernels), and runs `kernel_launcher.start_kernel`.

`ForkProvisioner` is the Jupyter kernel provisioner that asks for these kernels; the kernel
spec (serving/jupyter_data/kernels/python3/kernel.json) names it. It signals and watches its
kernel through a pidfd, since the kernel is the fork server's child, not the server's. The fork
server leaves with the process that started it (it checks its parent every second), and each
kernel leaves with that process too (a thread of its own watches it), as a kernel the server
started itself does; a fork server that dies takes no kernel with it, and the next kernel
starts a new one. Where there is no pidfd (not Linux, or a seccomp profile that refuses it), or
with COP_FORK_KERNELS=0, each kernel is a process of its own, as Jupyter starts them. The kernel
spec sets COP_FORK_KERNELS=0 for the kernels themselves: a page's kernel that renders a report
starts that one kernel directly, rather than a fork server that would live as long as the page.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner

from cop_widgets.kernel_launcher import MODULE as LAUNCHER
from cop_widgets.kernel_launcher import start_kernel, without_debugger

FORKS_ENV = "COP_FORK_KERNELS"  # "0": every kernel a fresh process (Jupyter's way)
# Imported once by the fork server: what every page's kernel imports, none of it ours, and
# nothing whose import depends on a running kernel (ipywidgets registers its comm target on
# import only when it finds one: imported here, no page would ever show its widgets).
SHARED_IMPORTS = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.comm",
    "IPython",
    "comm",
    "sqlalchemy",
    "sqlalchemy.dialects.sqlite",
    "dateutil.parser",
    "psutil",
)
MODULE = "cop_widgets.kernel_forks"
PARENT_CHECK_S = 1.0
# The fork server's last argument, and a variable of its environment: room in its memory for
# each kernel's own command line and environment (_show_kernel).
TITLE_ROOM = "-" * 1024
ENV_ROOM = "COP_FORK_ENV_ROOM"
ENV_ROOM_SIZE = 32 * 1024


# -- the fork server ---------------------------------------------------------------------------
def _preload() -> None:
    without_debugger()
    for name in SHARED_IMPORTS:
        __import__(name)


def _leave_with(pid: int) -> None:
    """Exit as soon as process `pid` (the server) has gone, from a thread of this kernel."""
    try:
        server = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)

    def watch() -> None:
        select.select([server], [], [])  # readable once it has exited
        os._exit(1)

    threading.Thread(target=watch, name="cop-leave-with-server", daemon=True).start()


def _run_kernel(
    request: dict, listener: socket.socket, conn: socket.socket, server_pid: int
) -> None:
    """In the forked child: become the kernel the request describes. Never returns."""
    status = 1
    try:
        listener.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()  # before the answer: the provisioner signals the kernel's group
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
        conn.close()
        _show_kernel([sys.executable, "-m", LAUNCHER, *request["argv"]], request["env"])
        # The kernel leaves with the server, as a kernel the server started itself would; not
        # with the fork server (ipykernel's parent poller would watch that one, its parent),
        # so a fork server that dies takes no kernel with it. parent_handle=1 turns that
        # poller off (kernelapp read JPY_PARENT_PID when the fork server imported it).
        _leave_with(server_pid)
        sys.argv = [LAUNCHER, *request["argv"], "--IPKernelApp.parent_handle=1"]
        start_kernel()
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _proc_areas() -> tuple[int, int, int, int] | None:
    """Where this process's command line and environment are, as /proc shows them."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        # fields from the state (field 3): arg_start, arg_end, env_start, env_end are 48-51
        return int(fields[45]), int(fields[46]), int(fields[47]), int(fields[48])
    except (OSError, IndexError, ValueError):
        return None


def _show_kernel(args: list[str], env: Mapping[str, str]) -> None:
    """Let /proc (ps, psutil) show the kernel's own command line and environment, not the fork
    server's: each is written over the fork server's, in place, when it fits (the fork server
    is started with room for them). As setproctitle does for the command line: when the last
    byte of that area is not zero, the system shows it up to the first zero byte, and tools
    split it at spaces."""
    import ctypes

    areas = _proc_areas()
    if areas is None:
        return
    arg_start, arg_end, env_start, env_end = areas
    title = " ".join(args).encode()
    if arg_start and len(title) + 2 <= arg_end - arg_start:
        ctypes.memmove(arg_start, title + b"\0" + b" " * (arg_end - arg_start - len(title) - 1),
                       arg_end - arg_start)  # fmt: skip
    block = b"".join(f"{key}={value}".encode() + b"\0" for key, value in env.items())
    filler = f"{ENV_ROOM}=".encode()
    room = env_end - env_start - len(block) - len(filler) - 1
    if env_start and room >= 0:
        ctypes.memmove(env_start, block + filler + b"-" * room + b"\0", env_end - env_start)


def serve(socket_path: str, parent_pid: int) -> None:
    """Fork a kernel for each request on `socket_path` until `parent_pid` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops its kernels itself
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # exited kernels are reaped by the system
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    listener.settimeout(PARENT_CHECK_S)
    while os.getppid() == parent_pid:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(10)
            try:
                request = json.loads(_read_line(conn))
            except (OSError, ValueError) as error:
                print(f"cop kernel forks: a bad request ({error}); ignored", file=sys.stderr)
                continue
            try:
                child = os.fork()
            except OSError as error:  # the asking side sees the connection close unanswered
                print(f"cop kernel forks: no kernel forked ({error})", file=sys.stderr)
                continue
            if child == 0:
                _run_kernel(request, listener, conn, parent_pid)  # it answers with its pid
    listener.close()


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed before a whole request")
        data += chunk
    return data


# -- the provisioner, in the server's process --------------------------------------------------
EXIT_UNKNOWN = -1  # a forked kernel's exit status: the fork server's system reaps it


class ForkedKernel:
    """What jupyter_client's LocalProvisioner uses of a Popen, for a kernel the fork server
    started: it is not this process's child, so it is watched and signalled through a pidfd
    (its exit status is not known here: the fork server's system reaps it)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # gone already
            self._pidfd, self.returncode = None, EXIT_UNKNOWN

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd is not None:
            if select.select([self._pidfd], [], [], 0)[0]:  # readable once it has exited
                os.close(self._pidfd)
                self._pidfd, self.returncode = None, EXIT_UNKNOWN
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.05)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None and self._pidfd is not None:
            signal.pidfd_send_signal(self._pidfd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _ForkServer:
    """This process's fork server, started on first use and stopped at exit."""

    _lock = threading.Lock()
    _current: _ForkServer | None = None

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="cop-forks-")
        self.path = os.path.join(self.folder, "socket")
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, with this interpreter
            [sys.executable, "-m", MODULE, self.path, str(os.getpid()), TITLE_ROOM],
            env={**os.environ, ENV_ROOM: "-" * ENV_ROOM_SIZE},
            stdin=subprocess.DEVNULL,
        )
        atexit.register(self.stop)

    @classmethod
    def get(cls) -> _ForkServer:
        with cls._lock:
            if cls._current is None or cls._current.proc.poll() is not None:
                cls._current = cls()
            return cls._current

    def fork(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """A new kernel's pid; waits (up to START_TIMEOUT_S) for the fork server's imports."""
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                    conn.connect(self.path)
                    conn.settimeout(START_TIMEOUT_S)
                    conn.sendall(request)
                    return int(json.loads(_read_line(conn))["pid"])
            except (FileNotFoundError, ConnectionRefusedError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the kernel fork server ({MODULE}) did not start; set {FORKS_ENV}=0 "
                        "to start kernels as separate processes"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


START_TIMEOUT_S = 60.0  # the fork server's imports, on a machine busy starting a room's pools


def forks_wanted(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(FORKS_ENV, "").strip() != "0" and _pidfds_work()


@functools.cache
def _pidfds_work() -> bool:
    """Whether this system lets a process watch and signal another through a pidfd (Linux 5.3
    and later; a container's seccomp profile may refuse it)."""
    try:
        fd = os.pidfd_open(os.getpid())
    except (AttributeError, OSError):
        return False
    os.close(fd)
    return True


class ForkProvisioner(LocalProvisioner):
    """Starts the kernel spec's `python -m cop_widgets.kernel_launcher ...` as a fork of the fork
    server; any other command, or with COP_FORK_KERNELS=0, as LocalProvisioner does."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if not (forks_wanted() and cmd[1:3] == ["-m", LAUNCHER]):
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        pid = await asyncio.to_thread(_ForkServer.get().fork, cmd[3:], env, cwd)
        self.process = ForkedKernel(pid)  # type: ignore[assignment] # what it uses of a Popen
        self.pid = self.pgid = pid  # the kernel leads a session (and group) of its own
        self.cwd = cwd
        return self.connection_info


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
