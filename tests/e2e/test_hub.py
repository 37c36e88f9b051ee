"""A real JupyterHub on localhost runs `cop serve --hub` and `cop review --hub` as services;
people log in through the Hub's own login form in headless Chromium.

Needs the Hub's proxy from npm (`bash scripts/ensure-hub-proxy`, run by `make test`).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import REPO, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NO_ACCESS = "You have no access to the CoP Workbook yet: ask your coordinator for access."
USERS = {"sue": ["cop-supervisors"], "ana": ["cop-practitioners"], "ben": ["cop-practitioners"]}
NOBODY = "zed"  # a Hub user in no cop group


def proxy_path() -> str:
    for candidate in (
        os.environ.get("CHP_PATH"),
        str(REPO / ".hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"),
        shutil.which("configurable-http-proxy"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "The JupyterHub test needs configurable-http-proxy: run `bash scripts/ensure-hub-proxy`"
    )


def hub_config(hub: Hub) -> str:
    """The jupyterhub_config.py of the test (the README's JupyterHub section shows the same)."""
    serve = [sys.executable, "-m", "cop_widgets.cli", "serve", "--hub"]
    review = [sys.executable, "-m", "cop_widgets.cli", "review", "--hub"]
    env = {"COP_DATA_DIR": str(hub.data_dir), "COP_MIN_GROUP": "3"}
    groups = {}
    for user, names in USERS.items():
        for group in names:
            groups.setdefault(group, {"users": []})["users"].append(user)
    return textwrap.dedent(
        f"""\
        c = get_config()  # noqa
        c.JupyterHub.bind_url = "http://127.0.0.1:{hub.port}"
        c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub.api_port}"
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{hub.proxy_api_port}"
        c.ConfigurableHTTPProxy.command = [{proxy_path()!r}]
        c.JupyterHub.db_url = {f"sqlite:///{hub.dir}/jupyterhub.sqlite"!r}
        c.JupyterHub.cookie_secret_file = {f"{hub.dir}/jupyterhub_cookie_secret"!r}
        c.JupyterHub.pid_file = {f"{hub.dir}/jupyterhub.pid"!r}
        c.ConfigurableHTTPProxy.pid_file = {f"{hub.dir}/proxy.pid"!r}

        # fixed test users, any password (never in production)
        c.JupyterHub.authenticator_class = "dummy"
        c.Authenticator.allowed_users = {sorted([*USERS, NOBODY])!r}
        c.JupyterHub.load_groups = {groups!r}

        c.JupyterHub.services = [
            {{
                "name": "cop",
                "url": "http://127.0.0.1:{hub.cop_port}",
                "command": {[*serve, f"--port={hub.cop_port}", "--pool-size=1", "--no-demo"]!r},
                "environment": {env!r},
                "oauth_no_confirm": True,
            }},
            {{
                "name": "cop-review",
                "url": "http://127.0.0.1:{hub.review_port}",
                "command": {[*review, f"--port={hub.review_port}"]!r},
                "environment": {env!r},
                "oauth_no_confirm": True,
            }},
        ]
        c.JupyterHub.load_roles = [
            # every Hub user may open the services; the workbook decides what they see
            {{"name": "user", "scopes": ["self", "access:services"]}},
            {{"name": "cop", "services": ["cop", "cop-review"], "scopes": ["read:users:groups"]}},
        ]
        """
    )


class Hub:
    """JupyterHub with the cop services, on free 127.0.0.1 ports, in its own process group."""

    def __init__(self, folder: Path):
        self.dir = folder
        self.data_dir = folder / "data"
        shutil.copytree(REPO / "data", self.data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
        self.port, self.api_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.cop_port, self.review_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, COP_DATA_DIR=str(self.data_dir))
        env.pop("JUPYTERHUB_USER", None)
        # the store exists before two services open it at once
        subprocess.run(
            [sys.executable, "-m", "cop_widgets.cli", "init", "--no-demo"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        (folder / "jupyterhub_config.py").write_text(hub_config(self))
        self.log = open(folder / "hub.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready("/services/cop/")
            self._wait_ready("/services/cop-review/")
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, path: str, timeout: float = 60) -> None:
        """Ready when the service, through the Hub's proxy, sends a stranger to the Hub."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.proc.returncode}; see hub.log")
            status, location = self.head(path)
            if status == 302 and "/hub/api/oauth2/authorize" in location:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{path} was not served within {timeout} s; see {self.log.name}")

    def head(self, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.getheader("Location") or ""
        except OSError:
            return 0, ""
        finally:
            conn.close()

    def url(self, path: str) -> str:
        return self.base + path

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.data_dir / "cop.sqlite")
        conn.row_factory = sqlite3.Row
        return conn

    def processes(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        # The Hub starts its services in their own sessions: note them before it goes.
        leftovers = self.processes()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in leftovers:
            try:
                proc.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(leftovers, timeout=10)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        self.log.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    started = time.monotonic()
    server = Hub(tmp_path_factory.mktemp("hub"))
    print(f"JupyterHub and both cop services ready in {time.monotonic() - started:.1f} s")
    yield server
    server.stop()


def hub_login(page: Page, hub: Hub, path: str, user: str) -> list:
    """Open a service page as a stranger, sign in on the Hub's form, come back to the page.
    Returns the responses to that page's URL (the last one is what the person got)."""
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url == hub.url(path) else None)
    page.goto(hub.url(path), wait_until="commit")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill("any password")
    page.locator("#login_submit").click()
    page.wait_for_url(hub.url(path), wait_until="commit", timeout=30_000)
    return answers


def open_app(page: Page) -> None:
    """The app has rendered in the page (its kernel answered through the service's prefix) and
    names the person the server signed in."""
    page.locator(".cop-whoami").wait_for(state="visible", timeout=60_000)


def person(hub: Hub, user: str) -> sqlite3.Row | None:
    with hub.db() as db:
        return db.execute(
            "SELECT id, display_name, role FROM person WHERE identity_key = ?", (f"hub:{user}",)
        ).fetchone()


def test_practitioner_signs_in_through_the_hub_and_the_server_knows_her(page: Page, hub: Hub):
    answers = hub_login(page, hub, "/services/cop/voila/render/reflection.ipynb", "ana")
    assert answers and answers[-1].status == 200
    open_app(page)

    ana = person(hub, "ana")
    assert ana is not None and (ana["display_name"], ana["role"]) == ("ana", "practitioner")
    with hub.db() as db:
        roles = {
            r[0]
            for r in db.execute("SELECT role FROM person_role WHERE person_id = ?", (ana["id"],))
        }
        events = [
            tuple(r)
            for r in db.execute(
                "SELECT action, outcome FROM audit_event WHERE actor_id = ? ORDER BY seq",
                (ana["id"],),
            )
        ]
    assert roles == {"practitioner"}
    assert ("signed_in_hub", "ok") in events
    header = page.locator(".cop-whoami")
    expect(header).to_contain_text("Signed in as ana (practitioner)")

    # The service's Hub token and JUPYTERHUB_USER never reach a kernel (a kernel reading
    # JUPYTERHUB_USER would take every visitor for the service's account).
    kernels = [p for p in hub.processes() if "ipykernel" in " ".join(_cmdline(p))]
    assert kernels, "no kernel found under the Hub's services"
    for kernel in kernels:
        env = _environ(kernel)
        assert "JUPYTERHUB_API_TOKEN" not in env and "JPY_API_TOKEN" not in env
        assert "JUPYTERHUB_USER" not in env

    # signing out of the app signs out of the service and the Hub
    header.get_by_role("link", name="Sign out").click()
    page.locator("#username_input").wait_for(state="visible")
    assert page.url.startswith(hub.url("/hub/login"))


def test_user_in_no_cop_group_is_refused(page: Page, hub: Hub):
    answers = hub_login(page, hub, "/services/cop/voila/render/reflection.ipynb", NOBODY)
    assert answers and answers[-1].status == 403
    expect(page.get_by_role("alert")).to_have_text(NO_ACCESS)
    assert "Traceback" not in page.content()
    assert person(hub, NOBODY) is None
    with hub.db() as db:
        refused = db.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'sign_in_refused' AND outcome = "
            "'refused'"
        ).fetchone()[0]
    assert refused >= 1
    # The way out: sign out (of the service and the Hub) to sign in as someone else.
    page.get_by_role("link", name="Sign out").click()
    page.locator("#username_input").wait_for(state="visible")
    assert page.url.startswith(hub.url("/hub/login"))


def _shared_reflections(hub: Hub) -> None:
    """As the operator would: `cop roster hub:sue --supervises hub:ana`; ana and ben each
    submitted a reflection shared with their supervisor."""
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.services import reflections, roster
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    store = open_store(load_settings({"COP_DATA_DIR": str(hub.data_dir)}))
    try:
        sue, ana, ben = (find_or_add_person(store, f"hub:{u}") for u in ("sue", "ana", "ben"))
        roster.assign_supervisee(store, sue.id, ana.id)
        rolfe = load_frameworks(hub.data_dir / "frameworks").get("rolfe-2001")
        for who, text in ((ana, "Ana's visit went short"), (ben, "Ben's supervision note")):
            answers = {s.id: reflections.Answer(text) for s in rolfe.stages}
            reflections.submit(store, who, str(uuid.uuid4()), rolfe, answers, "supervisor")
    finally:
        store.dispose()


def test_only_supervisors_reach_the_review_server(page: Page, hub: Hub, browser):
    _shared_reflections(hub)
    review = "/services/cop-review/voila/render/supervisor_review.ipynb"
    answers = hub_login(page, hub, review, "sue")
    assert answers and answers[-1].status == 200
    open_app(page)
    sue = person(hub, "sue")
    assert sue is not None and sue["role"] == "supervisor"
    # her queue holds her supervisee's shared reflection, and only that
    expect(page.locator(".cop-open-review")).to_have_count(1)
    page.locator(".cop-open-review").click()
    expect(page.get_by_text("Ana's visit went short").first).to_be_visible(timeout=30_000)
    assert "Ben's supervision note" not in page.content()

    other = browser.new_context()
    try:
        ben_page = other.new_page()
        answers = hub_login(ben_page, hub, review, "ben")
        assert answers and answers[-1].status == 403
        expect(ben_page.get_by_role("alert")).to_contain_text("supervisor role")
    finally:
        other.close()
    ben = person(hub, "ben")
    assert ben is not None and ben["role"] == "practitioner"  # known, just not a supervisor


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _environ(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except psutil.Error:
        return {}
