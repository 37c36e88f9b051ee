"""A real Voilà server (the project's own `cop serve` flags) and real headless Chromium."""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from cop_widgets import chromium as cop_chromium
from cop_widgets.chromium import CHROMIUM_ARGS
from cop_widgets.errors import CopWidgetsError
from cop_widgets.kernel_launcher import is_kernel_command
from cop_widgets.serving.page_bundle import BUNDLE_ENV, RECORD_ENV

REPO = Path(__file__).resolve().parents[2]


def chromium_path() -> str:
    try:
        return cop_chromium.chromium_path()
    except CopWidgetsError as exc:
        pytest.fail(str(exc))


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each socket stays bound until all are picked (one picked
    and let go at a time can come back again: two Hub services once got the same port)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class VoilaServer:
    """`cop serve` (or `cop review`), exactly as the README runs it, on a free port."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        command: str = "serve",
        extra: tuple[str, ...] = (),
        pool_size: int = 1,
    ):
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, COP_DATA_DIR=str(data_dir))
        env.pop("JUPYTERHUB_USER", None)
        if env.get(RECORD_ENV) == "1":  # pages fetch every chunk, which test_every_page notes
            env[BUNDLE_ENV] = "0"
        args = [f"--port={self.port}", *extra]
        if command == "serve":
            # one kernel started ahead per notebook; 0 for a server whose tests never need one
            # (no kernels to start ahead and to shut down at its stop)
            args.append(f"--pool-size={pool_size}")
            # a room of three is enough to show a summary in these tests (default 5)
            env["COP_MIN_GROUP"] = "3"
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cop_widgets.cli", command, *args],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Voilà exited with {self.proc.returncode}; see {self.log.name}")
            try:
                # every page needs a sign-in: the server answers with its sign-in page
                with urllib.request.urlopen(self.base + "/login", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"Voilà did not answer within {timeout} s; see {self.log.name}")

    def url(self, notebook: str = "reflection.ipynb") -> str:
        return f"{self.base}/voila/render/{notebook}"

    def open_app(self, page, notebook: str = "reflection.ipynb", query: str = "") -> None:
        """Open an app as the signed-in person and wait for its header naming them (Voilà
        streams the page: wait for our widgets, not for the load event)."""
        page.goto(self.url(notebook) + query, wait_until="commit")
        page.locator(".cop-whoami").wait_for(state="visible", timeout=60_000)

    def open_store(self):
        from cop_widgets.settings import load_settings
        from cop_widgets.store import open_store

        return open_store(load_settings({"COP_DATA_DIR": str(self.data_dir)}))

    def sign_in_link(self, name: str, role: str = "practitioner") -> str:
        """A fresh personal sign-in link for `name` (added with `role` if missing), as
        `cop people add`/`link` would print it."""
        from cop_widgets.services import accounts, roster

        store = self.open_store()
        try:
            who = accounts.find_by_name(store, name) or accounts.add_person(store, name, role)
            if role != "practitioner":
                roster.grant_role(store, who.id, role)
            return f"{self.base}/login?link={accounts.issue_link(store, who.id)}"
        finally:
            store.dispose()

    def sign_in(self, page, name: str, role: str = "practitioner", app: str = "reflection.ipynb"):
        """Sign the page's browser in the way a person does: open their link, press the button,
        and pass on choosing a passphrase; the link leads on to `app` (a notebook, with its
        query), which opens knowing who they are. (Without a `next` the server would land on
        Voilà's own home page, which asks the internet for a stylesheet.)"""
        link = self.sign_in_link(name, role) + "&" + urlencode({"next": f"/voila/render/{app}"})
        page.goto(link)
        page.get_by_role("button", name=f"Sign in as {name}").click()
        page.get_by_role("link", name="Not now: continue").click()
        page.locator(".cop-whoami").wait_for(state="visible", timeout=60_000)

    def preheated_kernels(self, wanted: int, timeout: float = 60) -> int:
        """How many kernels the pools started ahead (waiting up to `timeout` for `wanted`)."""
        import psutil

        deadline = time.monotonic() + timeout
        while True:
            found = 0
            for proc in psutil.Process(self.proc.pid).children(recursive=True):
                try:
                    if is_kernel_command(proc.cmdline()):
                        found += proc.environ().get("VOILA_PREHEAT") == "True"
                except psutil.Error:
                    continue
            if found >= wanted or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.data_dir / "cop.sqlite")
        conn.row_factory = sqlite3.Row
        return conn

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


# A failed test shows the end of its servers' logs: a page that never showed its app says why
# in the browser (report_browser_errors), the server and its kernels say their side here.
SERVER_LOG_LINES = 60


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        for name in ("voila_server", "review_server"):
            server = getattr(item, "funcargs", {}).get(name)
            if isinstance(server, VoilaServer):
                server.log.flush()
                lines = Path(server.log.name).read_text(errors="replace").splitlines()
                report.sections.append(
                    (f"{name}'s log, its last {SERVER_LOG_LINES} lines",
                     "\n".join(lines[-SERVER_LOG_LINES:]))
                )  # fmt: skip
    return report


@pytest.fixture(scope="session")
def voila_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    server = VoilaServer(data_dir, data_dir / "voila.log")
    # counted before any test opens a page (a page's kernel is shut down when its tab closes)
    server.preheated_at_start = server.preheated_kernels(wanted=len(served_notebooks()))
    yield server
    server.stop()


def served_notebooks() -> list[str]:
    from cop_widgets.serving import WORKBOOKS_DIR
    from cop_widgets.serving.paths import served_notebooks as listed

    return listed(WORKBOOKS_DIR)


@pytest.fixture(scope="session")
def review_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e-review") / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    server = VoilaServer(data_dir, data_dir / "review.log", command="review")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


ON_THIS_MACHINE = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


def off_machine_requests(page) -> list[str]:
    """Watch a page (or tab): the list it returns fills with every address the page asks of
    anywhere off this machine."""
    outside: list[str] = []
    page.on(
        "request", lambda r: None if r.url.startswith(ON_THIS_MACHINE) else outside.append(r.url)
    )
    return outside


class PageReopenedItself(UserWarning):
    """A page showed "Error displaying widget" and its template reopened it (a test may still
    pass): listed in pytest's warnings summary, also from xdist's workers, so a CI log says how
    often it happens."""


def _note_from_page(msg) -> None:
    if msg.type == "error" or msg.text.startswith("cop:"):
        print(f"{time.strftime('%X')} console {msg.type}: {msg.text[:300]}")
    if msg.text.startswith("cop:") and "reopening" in msg.text:
        warnings.warn(msg.text[:300], PageReopenedItself, stacklevel=1)


def report_browser_errors(page) -> None:
    """Print the page's script errors, console errors and the notes our page template logs
    ("cop: …", e.g. a page that reopened itself), with the time they came: pytest shows them
    beside a failed test (a page that never shows its app says why)."""
    page.on("pageerror", lambda exc: print(f"{time.strftime('%X')} page error: {exc}"))
    page.on("console", _note_from_page)


@contextmanager
def _first_visit(browser):
    """A fresh context (a participant's first visit) and its page; fails on any off-machine
    request once the page is done with."""
    context = browser.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    outside = off_machine_requests(page)
    report_browser_errors(page)
    yield page
    context.close()
    assert outside == [], f"the page asked the internet for {outside}"


@pytest.fixture
def page(browser):
    """A fresh context per test (a participant's first visit); fails on any off-machine request."""
    with _first_visit(browser) as page:
        # Voilà asks "leave this page?" on reload; a person would confirm.
        page.on("dialog", lambda d: d.accept())
        yield page


@pytest.fixture
def own_page(browser):
    """A page whose dialogs the test answers itself (`page` accepts them all)."""
    with _first_visit(browser) as page:
        yield page
