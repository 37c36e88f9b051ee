"""Measuring a served room: a Voilà server started with the project's own command line, its
kernels, what each part of the machine spends (CPU, memory), and the figures of many timings.

Shared by `cop rehearse` (cop_widgets/room/rehearse.py) and the benchmarks
(benchmarks/bench_room.py, bench_pages.py, bench_library.py). Processes are found and
stopped by their own ids, never by name.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import psutil

from cop_widgets.errors import CopWidgetsError
from cop_widgets.kernel_launcher import is_kernel_command
from cop_widgets.serving import ServeOptions, voila_command

OTHERS_CPU_NOISY_PERCENT = 20

# Installed in a page before it loads (ready_mark_script): notes, on the page's own clock, the
# rendering update in which the element a selector finds first shows (an IntersectionObserver's
# entry time), in window.__readyAt (ms since the epoch; READY_AT_JS reads it). Playwright's
# wait_for re-checks only every 500 ms after its first ~0.3 s (its backoff), so its return lands
# up to 0.5 s after the element appeared: too coarse for a 3 s target or a 1.10 ratio (the
# library page's 9 loads per side came back on that grid). Observers, not a polling loop: an
# animation-frame loop cost each page ~0.5 s of CPU and delayed it (measured).
READY_MARK_JS = """ready => {
  let watched = null;
  const shown = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting && !window.__readyAt) {
        window.__readyAt = performance.timeOrigin + entry.time;
        shown.disconnect();
        created.disconnect();
      }
    }
  });
  // Views can be rendered more than once, and get their classes after they are attached:
  // always watch the element the selector finds now.
  const created = new MutationObserver(() => {
    const el = document.querySelector(ready);
    if (el !== null && el !== watched) {
      if (watched !== null) shown.unobserve(watched);
      watched = el;
      shown.observe(el);
    }
  });
  created.observe(document, {childList: true, subtree: true, attributeFilter: ['class']});
}"""
READY_AT_JS = "() => window.__readyAt || null"


def ready_mark_script(selector: str) -> str:
    """The script to install in a page (add_init_script) before it loads: see READY_MARK_JS."""
    return f"({READY_MARK_JS})({json.dumps(selector)})"


def ready_after_s(ready_at_ms: float | None, started_epoch: float) -> float | None:
    """Seconds from `started_epoch` (time.time() just before goto) to the page's ready mark."""
    return None if not ready_at_ms else ready_at_ms / 1000 - started_epoch


async def marked_tti_s_async(page, started_epoch: float, polled_s: float) -> float:
    """marked_tti_s for Playwright's async API (cop rehearse; bench_room reads more marks at once,
    PAGE_MARKS_JS)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    with suppress(PlaywrightTimeoutError):
        await page.wait_for_function(READY_AT_JS, timeout=5_000)
    return ready_after_s(await page.evaluate(READY_AT_JS), started_epoch) or polled_s


def marked_tti_s(page, started_epoch: float, polled_s: float) -> float:
    """A page's time to interactive from its ready mark (Playwright's sync API, once the
    element is found visible: the mark follows within a frame or two); `polled_s` if the mark
    never came."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    with suppress(PlaywrightTimeoutError):
        page.wait_for_function(READY_AT_JS, timeout=5_000)
    return ready_after_s(page.evaluate(READY_AT_JS), started_epoch) or polled_s


class ServerFailed(CopWidgetsError):
    """The server (or its pool of kernels) did not come up: nothing can be measured."""


class PoolIncomplete(ServerFailed):
    """The pool lost a kernel for good at start: that server is not the one to measure."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def process_tree(pid: int) -> list[psutil.Process]:
    with suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def kernel_processes(server_pid: int) -> list[psutil.Process]:
    kernels = []
    for proc in process_tree(server_pid)[1:]:
        with suppress(psutil.Error):
            if is_kernel_command(proc.cmdline()):
                kernels.append(proc)
    return kernels


KERNEL_LOOKUPS = 3  # a scan of the server's processes that missed the page's kernel, again


def page_kernel_id(page) -> str:
    """The id of the kernel behind a loaded Voilà page, from the page's config."""
    return json.loads(page.locator("#jupyter-config-data").text_content())["kernelId"]


def page_kernel_rss_mib(page, server_pid: int) -> float | None:
    """RSS of the kernel behind a loaded page (Playwright's sync API), found by the kernel id
    in the page's config among the server's kernels; None if no such kernel runs. Looked for
    up to KERNEL_LOOKUPS times a second apart: in one CI run of the smoke benchmarks (several
    at once on 2 cores) a single scan found no process for the kernel of a page that had just
    become usable."""
    kernel_id = page_kernel_id(page)
    for lookup in range(KERNEL_LOOKUPS):
        if lookup:
            time.sleep(1)
        for proc in kernel_processes(server_pid):
            with suppress(psutil.Error):
                if f"kernel-{kernel_id}" in " ".join(proc.cmdline()):
                    return proc.memory_info().rss / 2**20
    return None


def missing_kernel_message(page, server_pid: int) -> str:
    """What to say when page_kernel_rss_mib found no kernel: the page's kernel id and the
    command lines of the kernels the server does run."""
    kernel_id = page_kernel_id(page)
    lines = []
    for proc in kernel_processes(server_pid):
        with suppress(psutil.Error):
            lines.append(" ".join(proc.cmdline())[-120:])
    return f"no kernel process for the page's kernel {kernel_id}; the server's kernels: {lines}"


def rss_mib(proc: psutil.Process) -> float:
    with suppress(psutil.Error):
        return proc.memory_info().rss / 2**20
    return 0.0


def stats(values: list[float]) -> dict:
    """n, median, p95 (nearest rank), min and max of some timings."""
    if not values:
        return {"n": 0}
    v = sorted(values)
    return {
        "n": len(v),
        "median": statistics.median(v),
        "p95": v[min(len(v) - 1, max(0, round(0.95 * len(v)) - 1))],
        "min": v[0],
        "max": v[-1],
    }


class RoomServer:
    """One Voilà server over a folder, started with the project's own command line (its own
    process session, so a terminal's Ctrl-C reaches only us and we stop it ourselves)."""

    def __init__(
        self,
        label: str,
        env: dict,
        log_dir: Path,
        options: ServeOptions | None = None,
        **serve: object,
    ):
        self.label = label
        self.port = free_port()
        self.log_path = Path(log_dir) / f"voila-{label}.log"
        self.options = options or ServeOptions(port=self.port, **serve)  # type: ignore[arg-type]
        if options is not None:
            self.port = options.port
        self.started = time.monotonic()
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own fixed command line
                voila_command(self.options),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def log_tail(self, lines: int = 15) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()[-lines:]

    def failure(self, what: str) -> ServerFailed:
        return ServerFailed(f"{self.label}: {what}\n" + "\n".join(self.log_tail()))

    def wait_answering(self, timeout_s: float = 60, path: str = "") -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.failure(f"server exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url(path), timeout=2).read()  # noqa: S310 - http
                return
            except urllib.error.HTTPError:
                return  # it answers (a sign-in redirect or page): it is up
            except OSError:
                time.sleep(0.2)
        raise self.failure(f"server did not answer on /{path} in {timeout_s} s")

    def wait_pool_executed(
        self,
        kernels: int,
        timeout_s: float = 360,
        progress: Callable[[int], None] | None = None,
    ) -> float:
        """Seconds from start until `kernels` kernels exist and the whole tree has gone quiet.
        The 'pool filled' log line comes before the notebooks run (PERFORMANCE.md gotcha 2). A
        kernel that dies at start is restarted by jupyter_client a few seconds later, so a quiet
        pool that is one short is waited on again, until the deadline or until jupyter_client
        gives the kernel up."""
        deadline = self.started + timeout_s
        while True:
            while (found := len(kernel_processes(self.proc.pid))) < kernels:
                if progress is not None:
                    progress(found)
                if self.proc.poll() is not None:
                    raise self.failure(f"server exited with {self.proc.returncode}")
                if "died, removing from map" in self.log_path.read_text(errors="replace"):
                    raise PoolIncomplete(f"{self.label}: a pool kernel died for good at start")
                if time.monotonic() > deadline:
                    raise PoolIncomplete(
                        str(self.failure(f"the pool never reached {kernels} kernels"))
                    )
                time.sleep(0.5)
            if progress is not None:
                progress(found)
            wait_quiet(deadline - time.monotonic())
            if len(kernel_processes(self.proc.pid)) >= kernels:
                return time.monotonic() - self.started

    def port_clashes(self) -> int:
        """Kernels that died at start because another process took the port jupyter_client had
        picked for them (kernels over TCP; the project's serving uses Unix sockets)."""
        return self.log_path.read_text(errors="replace").count("Address already in use")

    def stop(self) -> dict:
        """SIGTERM, then SIGKILL after 30 s; then any kernels left behind, by their own ids."""
        return stop_process_tree(self.proc)


def stop_process_tree(proc: subprocess.Popen, grace_s: float = 30) -> dict:
    children = process_tree(proc.pid)[1:]
    started, killed = time.monotonic(), False
    with suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)  # the server shuts its kernels down first
    except subprocess.TimeoutExpired:
        killed = True
        proc.kill()
        proc.wait()
    _, leftovers = psutil.wait_procs(children, timeout=10)
    for child in leftovers:  # kernels outliving the server, stopped by their own id
        with suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(leftovers, timeout=10)
    return {
        "stop_s": time.monotonic() - started,
        "killed_after_sigterm": killed,
        "kernels_left_behind": len(leftovers),
    }


def machine_busy_seconds() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


def cpu_seconds(with_self: bool = True) -> tuple[float, float]:
    """(busy CPU seconds of the machine, of our tree: servers, kernels, Chromium) so far.
    with_self=False leaves this process out (its sampler and polling are not load to wait on)."""
    ours = 0.0
    # The servers are our children (own session, same process tree).
    for proc in process_tree(os.getpid())[0 if with_self else 1 :]:
        with suppress(psutil.NoSuchProcess):
            ours += sum(proc.cpu_times()[:2])  # user + system
    return machine_busy_seconds(), ours


def cpu_by_part(server_pid: int | None) -> dict[str, float]:
    """CPU seconds so far of a room's parts: the server, its kernels, the browser (Chromium and
    Playwright's driver: this process's other children) and this process (its clients)."""
    parts = dict.fromkeys(("server", "kernels", "browser", "clients"), 0.0)
    server = {p.pid for p in process_tree(server_pid)} if server_pid else set()
    kernels = {p.pid for p in kernel_processes(server_pid)} if server_pid else set()
    mine = {p.pid: p for p in process_tree(os.getpid())}
    if server_pid and server_pid not in mine:  # a server we did not start, on this machine
        mine |= {p.pid: p for p in process_tree(server_pid)}
    for pid, proc in mine.items():
        part = (
            "clients"
            if pid == os.getpid()
            else "kernels"
            if pid in kernels
            else "server"
            if pid in server
            else "browser"
        )
        with suppress(psutil.NoSuchProcess):
            parts[part] += sum(proc.cpu_times()[:2])
    return parts


# How long wait_quiet waits for other processes (the host's other tenants) to go quiet before a
# timed part. A benchmark's smoke run keeps no figures and sets 0: beside the others (make
# bench-smoke runs four at once) it would otherwise wait out the patience before every burst.
PATIENCE_FOR_OTHERS_S = 10.0


def wait_quiet(timeout_s: float, patience_for_others_s: float | None = None) -> None:
    """Wait until our processes idle (< 5 % of a core over 0.5 s), and for a while for others
    (PATIENCE_FOR_OTHERS_S unless given)."""
    if patience_for_others_s is None:
        patience_for_others_s = PATIENCE_FOR_OTHERS_S
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        machine_before, ours_before = cpu_seconds(with_self=False)
        time.sleep(0.5)
        machine_after, ours_after = cpu_seconds(with_self=False)
        ours_percent = (ours_after - ours_before) / 0.5 * 100
        others_percent = (machine_after - machine_before) / 0.5 * 100 - ours_percent
        if ours_percent < 5 and (
            others_percent < OTHERS_CPU_NOISY_PERCENT
            or time.monotonic() - start > patience_for_others_s
        ):
            return
    raise ServerFailed(f"our processes were still busy after {timeout_s:.0f} s")


# A fixed piece of pure-Python work, timed: on a shared host (a cloud VM, a container) one CPU
# second is not always the same amount of work. Measured here: 1.5 s for 20 million additions
# on a quiet host, 2.1 s when its other tenants were busy, with our own processes idle both times.
# A tenth of that (about 0.07-0.10 s) is enough to tell such moments apart before each burst.
SPEED_PROBE_ADDITIONS = 2_000_000


def host_speed_s() -> float:
    """Seconds this process takes for SPEED_PROBE_ADDITIONS additions now (lower is faster):
    printed beside a benchmark's timings, so runs on a slower moment of the host show as such."""
    started = time.perf_counter()
    total = 0
    for number in range(SPEED_PROBE_ADDITIONS):
        total += number
    return time.perf_counter() - started


class MemorySampler(threading.Thread):
    """Every second: the server's kernels (how many, their RSS summed), Chromium's RSS summed,
    and the machine's available memory; keeps the peaks (the lowest available)."""

    def __init__(self, server_pid: int | None, every_s: float = 1.0):
        super().__init__(daemon=True)
        self.server_pid, self.every_s = server_pid, every_s
        self.done = threading.Event()
        self.peak = {
            "kernels": 0,
            "kernels_rss_mib": 0.0,
            "server_rss_mib": 0.0,
            "chromium_rss_mib": 0.0,
            "available_min_mib": psutil.virtual_memory().available / 2**20,
        }

    def sample(self) -> None:
        kernels = chromium = 0.0
        count = 0
        if self.server_pid:
            for proc in kernel_processes(self.server_pid):
                kernels += rss_mib(proc)
                count += 1
            with suppress(psutil.Error):
                server = rss_mib(psutil.Process(self.server_pid))
                self.peak["server_rss_mib"] = max(self.peak["server_rss_mib"], server)
        for proc in process_tree(os.getpid()):
            with suppress(psutil.Error):
                if "chrom" in proc.name():
                    chromium += rss_mib(proc)
        available = psutil.virtual_memory().available / 2**20
        self.peak["kernels"] = max(self.peak["kernels"], count)
        self.peak["kernels_rss_mib"] = max(self.peak["kernels_rss_mib"], kernels)
        self.peak["chromium_rss_mib"] = max(self.peak["chromium_rss_mib"], chromium)
        self.peak["available_min_mib"] = min(self.peak["available_min_mib"], available)

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.every_s)

    def finish(self) -> dict:
        self.done.set()
        if self.is_alive():
            self.join()
        return dict(self.peak)
