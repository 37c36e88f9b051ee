import asyncio
import shutil
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.settings import Settings
from cop_widgets.store import open_store
from tests.personal_data import cop_data, world  # noqa: F401 - fixtures
from tests.pg import backend_settings, parametrize_backends, pg_settings, postgres_server  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
FRAMEWORKS = REPO / "data" / "frameworks"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A data folder of our own: the real framework files, an empty store."""
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("*.sqlite*"))
    return data


@pytest.fixture
def settings(data_dir, request) -> Settings:
    """SQLite in data_dir; in the modules of tests/pg.py BOTH_BACKENDS also PostgreSQL."""
    return backend_settings(request, data_dir)


def pytest_generate_tests(metafunc):
    parametrize_backends(metafunc)


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.dispose()


@pytest.fixture(scope="session")
def catalogue():
    cat = load_frameworks(FRAMEWORKS)
    assert not cat.problems, cat.problems
    return cat


@pytest.fixture
def rolfe(catalogue):
    return catalogue.get("rolfe-2001")


@pytest.fixture(autouse=True)
def _no_loop_left_marked_running(request):
    """Playwright's sync API marks its event loop as running in the main thread between its
    calls (the loop turns in a greenlet). A test of an app in this process would then take it
    for a kernel's loop and put its settle timers on it, where they never fire. Tests that use
    the browser keep it: Playwright's next call needs it marked."""
    if "browser" in request.fixturenames:
        yield
        return
    left = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(left)


def _run_order(item) -> int:
    if item.get_closest_marker("browser"):
        return 0  # a Voilà server and Chromium each: 10-120 s a file
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(items):
    """The longest first, the many short ones last, where they even out the workers' last
    minutes. With the Makefile's --no-loadscope-reorder, xdist hands out files in this order;
    its default (the files with most tests first) left two-minute browser files to the end,
    one worker idle. _no_loop_left_marked_running keeps the short ones safe after them."""
    items.sort(key=_run_order)


@contextmanager
def another_process_holds_the_write_lock(db_path: str, seconds: float = 8):
    """Another program keeps an exclusive transaction open on the store for `seconds`."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); "
            "time.sleep(float(sys.argv[2]))",
            db_path,
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()


class WriteLock:
    """Another connection holds the store's write lock (BEGIN IMMEDIATE) until release()."""

    def __init__(self, store):
        self._conn = sqlite3.connect(
            store.engine.url.database, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None


@pytest.fixture
def lock_for():
    held = []

    def take(store) -> WriteLock:
        held.append(WriteLock(store))
        return held[-1]

    yield take
    for lock in held:
        lock.release()
