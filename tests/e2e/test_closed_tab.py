"""A tab that dies without Voilà's unload beacon (the browser killed, a phone's battery out)
frees its kernel within 60 s; a tab left open and idle for as long keeps its own.

The server here is `cop serve` with its culling delay shortened from 40 s to CULL_AFTER_S
(COP_CULL_AFTER_S, serving/launch.py): the same culler, a shorter wait. That `cop serve`'s own
delay and check interval still add up to less than a minute is checked from ServeOptions."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import suppress
from datetime import UTC, datetime

import psutil
import pytest

from cop_widgets.chromium import CHROMIUM_ARGS
from cop_widgets.serving import ServeOptions
from tests.e2e.conftest import REPO, VoilaServer, chromium_path, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIMIT_S = 60  # `cop serve`'s promise
CULL_AFTER_S = 4  # this test's server (production: ServeOptions().cull_idle_timeout, 40 s)
# how long a killed tab's kernel may take here, with the same slack as the promise's
QUICK_LIMIT_S = CULL_AFTER_S + LIMIT_S - ServeOptions().cull_idle_timeout


@pytest.fixture
def quick_culling_server(tmp_path, monkeypatch):
    """`cop serve` exactly as the README runs it, on a scratch copy of the data, culling a
    kernel no page is connected to after CULL_AFTER_S instead of 40 s."""
    data_dir = tmp_path / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    monkeypatch.setenv("COP_CULL_AFTER_S", str(CULL_AFTER_S))
    # no kernels started ahead: the test opens two pages, and the pools' twelve kernels would
    # only add to the machine's load while it times the culling
    server = VoilaServer(data_dir, tmp_path / "voila.log", pool_size=0)
    yield server
    server.stop()


def _culler_settings(log: str) -> tuple[int, int]:
    """(idle timeout, check interval) as the server's culler announced them when it started."""
    found = re.search(r"Culling kernels with idle durations > (\d+) seconds at (\d+) second", log)
    assert found, "the server started no culler"
    return int(found.group(1)), int(found.group(2))


def _kernel_id(page) -> str:
    return re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.content()).group(1)


def _kernel_model(server, kernel_id: str, cookies: list[dict]) -> dict | None:
    """The server's own view of a kernel (GET /api/kernels/<id>, as its owner): its model, or
    None once there is no such kernel."""
    header = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
    url = f"{server.base}/api/kernels/{kernel_id}"
    request = urllib.request.Request(url, headers={"Cookie": header})  # noqa: S310 - http
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _kernel_process(server, kernel_id: str) -> psutil.Process | None:
    for proc in psutil.Process(server.proc.pid).children(recursive=True):
        with suppress(psutil.Error):
            if any(kernel_id in arg for arg in proc.cmdline()):
                return proc
    return None


def _own_chromium(tmp_path):
    """A Chromium of this test's own (its process ours to kill), driven over CDP."""
    port = free_port()
    proc = subprocess.Popen(
        [chromium_path(), *CHROMIUM_ARGS, f"--remote-debugging-port={port}",
         f"--user-data-dir={tmp_path / 'profile'}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=2)  # noqa: S310
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)


def test_a_killed_tab_frees_its_kernel_within_a_minute_an_idle_open_tab_keeps_it(
    quick_culling_server, browser, tmp_path
):
    # `cop serve`'s own settings: a closed tab's kernel goes within a minute
    production = ServeOptions()
    assert production.cull_idle_timeout + 2 * production.cull_interval < LIMIT_S
    voila_server = quick_culling_server
    chromium, cdp_url = _own_chromium(tmp_path)
    try:
        doomed = browser.browser_type.connect_over_cdp(cdp_url)
        killed_context, open_context = doomed.new_context(), browser.new_context()
        killed, kept = killed_context.new_page(), open_context.new_page()
        voila_server.sign_in(killed, "Kit Killedtab")
        voila_server.sign_in(kept, "Ida Idletab")
        killed_kernel, kept_kernel = _kernel_id(killed), _kernel_id(kept)
        killed_cookies, kept_cookies = killed_context.cookies(), open_context.cookies()
        assert _kernel_model(voila_server, killed_kernel, killed_cookies)["connections"] >= 1
        process = _kernel_process(voila_server, killed_kernel)
        assert process is not None
        # the browser is killed: no unload event, no beacon; its websocket just drops
        os.killpg(chromium.pid, signal.SIGKILL)
        died = time.monotonic()
    finally:
        with suppress(ProcessLookupError):
            os.killpg(chromium.pid, signal.SIGKILL)
        chromium.wait()
    while _kernel_model(voila_server, killed_kernel, killed_cookies) is not None:
        assert time.monotonic() - died < QUICK_LIMIT_S, "the killed tab's kernel is still running"
        time.sleep(0.5)
    gone_after = time.monotonic() - died
    psutil.wait_procs([process], timeout=max(1, QUICK_LIMIT_S - gone_after))
    assert not process.is_running(), "the kernel's process outlived it"
    log = open(voila_server.log.name, encoding="utf-8", errors="replace").read()
    idle_s, interval_s = _culler_settings(log)
    assert idle_s == CULL_AFTER_S and interval_s <= production.cull_interval
    # shut down by the server's culling (no beacon reached it)
    assert any("Culling" in line and killed_kernel in line for line in log.splitlines())

    # the open tab sends nothing for longer than the culling delay (and the culler looks at it
    # at least twice more), and keeps its kernel
    while True:
        model = _kernel_model(voila_server, kept_kernel, kept_cookies)
        assert model is not None and model["connections"] >= 1
        last = datetime.fromisoformat(model["last_activity"].replace("Z", "+00:00"))
        if (datetime.now(UTC) - last).total_seconds() > idle_s + 2 * interval_s:
            break
        assert time.monotonic() - died < 2 * QUICK_LIMIT_S, "the open tab never went idle"
        time.sleep(1)
    kept.locator(".cop-new").click()  # and it still answers
    kept.locator("textarea").first.wait_for(timeout=30_000)
    open_context.close()
