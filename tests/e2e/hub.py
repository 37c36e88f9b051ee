"""A real JupyterHub on localhost running the shipped one-machine configuration,
deploy/jupyterhub_config.py, as it is: the test sets only the environment the file reads (free
ports, temporary folders, the store's URL) and adds test users with the dummy authenticator.

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
import time
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import REPO, free_ports

DEPLOY_CONFIG = REPO / "deploy" / "jupyterhub_config.py"


def find_proxy() -> str | None:
    """configurable-http-proxy: CHP_PATH, the project's .hub-proxy/, else PATH (None: none)."""
    for candidate in (
        os.environ.get("CHP_PATH"),
        str(REPO / ".hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"),
        shutil.which("configurable-http-proxy"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def proxy_path() -> str:
    found = find_proxy()
    if found:
        return found
    pytest.fail(
        "The JupyterHub test needs configurable-http-proxy: run `bash scripts/ensure-hub-proxy`"
    )


def config_with_test_users(users: dict[str, list[str]]) -> str:
    """The test's jupyterhub_config.py: the shipped file, then fixed test users (any password,
    never in production) and their Hub groups, which the shipped file leaves to the operator."""
    groups: dict[str, dict[str, list[str]]] = {}
    for user, names in users.items():
        for group in names:
            groups.setdefault(group, {"users": []})["users"].append(user)
    return (
        "c = get_config()  # noqa\n"
        f"load_subconfig({str(DEPLOY_CONFIG)!r})  # noqa\n"
        'c.JupyterHub.authenticator_class = "dummy"\n'
        f"c.Authenticator.allowed_users = {sorted(users)!r}\n"
        f"c.JupyterHub.load_groups = {groups!r}\n"
    )


class Hub:
    """JupyterHub with the cop services of deploy/jupyterhub_config.py (`servers` participants'
    servers and the review server), on free 127.0.0.1 ports, in its own process group."""

    def __init__(
        self,
        folder: Path,
        users: dict[str, list[str]],
        servers: int = 1,
        database_url: str = "",
        pool_size: int = 1,
        ready_timeout: float = 90,
    ):
        self.dir = folder
        self.data_dir = folder / "data"
        shutil.copytree(REPO / "data", self.data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
        self.database_url = database_url
        # every port of the Hub's processes picked at once: all different
        self.port, hub_api, proxy_api, review, *self.serve_ports = free_ports(4 + servers)
        self.services = ["cop"] + [f"cop-{n}" for n in range(2, servers + 1)] + ["cop-review"]
        self.base = f"http://127.0.0.1:{self.port}"
        # nothing of the caller's own cop settings reaches the Hub: only what the test sets
        env = {k: v for k, v in os.environ.items() if not k.startswith("COP_")}
        env.pop("JUPYTERHUB_USER", None)
        env.update(
            COP_HUB_STATE_DIR=str(folder),
            COP_HUB_BIND_URL=self.base,
            COP_HUB_API_URL=f"http://127.0.0.1:{hub_api}",
            COP_HUB_PROXY_API_URL=f"http://127.0.0.1:{proxy_api}",
            COP_SERVE_PORTS=",".join(map(str, self.serve_ports)),
            COP_REVIEW_PORT=str(review),
            COP_POOL_SIZE=str(pool_size),
            COP_DATA_DIR=str(self.data_dir),
            # a room of three is enough to show a summary in these tests (default 5)
            COP_MIN_GROUP="3",
            PATH=os.pathsep.join([str(Path(proxy_path()).parent), env.get("PATH", "")]),
        )
        if database_url:
            env["COP_DATABASE_URL"] = database_url
        (folder / "jupyterhub_config.py").write_text(config_with_test_users(users))
        self.log = open(folder / "hub.log", "w")  # noqa: SIM115 - closed in stop()
        # No `cop init` first: the services start together on an empty store and migrate it
        # once between them (the migration lock).
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
            cwd=folder,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            for name in self.services:
                self._wait_ready(f"/services/{name}/", ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, path: str, timeout: float = 90) -> None:
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

    def open_store(self):
        """The store the services share, as the test's own connection."""
        from cop_widgets.settings import load_settings
        from cop_widgets.store import open_store

        env = {"COP_DATA_DIR": str(self.data_dir), "COP_DATABASE_URL": self.database_url}
        return open_store(load_settings(env))

    def db(self) -> sqlite3.Connection:
        """The SQLite store (a Hub without COP_DATABASE_URL), for plain SQL in a test."""
        conn = sqlite3.connect(self.data_dir / "cop.sqlite")
        conn.row_factory = sqlite3.Row
        return conn

    def processes(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        # The Hub starts its services (and the proxy) in their own sessions: note them before
        # it goes, then stop them.
        leftovers = self.processes()
        try:
            # at once: a Hub told to stop would still restart the proxy and any service that
            # exits first, and stops each service in turn (up to 10 s each)
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
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
