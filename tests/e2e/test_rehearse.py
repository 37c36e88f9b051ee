"""`cop rehearse --people 5 --browsers 1`, end to end (the issue's room of five): a server of its
own on a scratch copy of the store, one real Chromium page and four lightweight clients that sign
in, join, check in and check out; its report read back; the real store untouched; nothing left
running."""

import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PEOPLE = 5


def _fingerprint(path) -> tuple[str, dict[str, int]]:
    """The file's bytes hash and every table's row count, read without writing anything."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    conn = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608
    finally:
        conn.close()
    return digest, counts


@pytest.fixture
def scratch_tmp():
    """A temporary folder of the rehearsal's own, to see that it leaves nothing in it (short:
    Chromium's and the kernels' sockets live under it, and a socket's path is short)."""
    folder = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_rehearse_a_small_room_on_a_scratch_copy(tmp_path, scratch_tmp):
    data = tmp_path / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("*.sqlite*"))
    env = dict(os.environ, COP_DATA_DIR=str(data), TMPDIR=str(scratch_tmp))
    env.pop("COP_DATABASE_URL", None)
    cop = [sys.executable, "-m", "cop_widgets.cli"]
    subprocess.run([*cop, "init"], env=env, check=True, capture_output=True, timeout=120)
    # today's session in the real store, which the rehearsal runs on its copy
    from cop_widgets.services import accounts, roster, sessions
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    store = open_store(load_settings({"COP_DATA_DIR": str(data)}))
    coord = accounts.add_person(store, "Tess Trainer")
    roster.grant_role(store, coord.id, "coordinator")
    cop_id = sessions.create_community(store, coord, "Training day CoP").id
    session = sessions.plan_session(store, coord, cop_id, datetime.now(UTC), "Training day")
    store.dispose()
    real = data / "cop.sqlite"
    before = _fingerprint(real)
    beside = sorted(p.name for p in data.iterdir())

    report_path = tmp_path / "report.json"
    run = subprocess.run(
        [*cop, "rehearse", "--people", str(PEOPLE), "--browsers", "1",
         "--session", session.join_code, "--json", str(report_path)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    report = json.loads(report_path.read_text())
    app = report["apps"]["session page (join link)"]
    assert app["failures"] == [], app["failures"]
    assert app["tti"]["n"] == PEOPLE and app["tti_browser"]["n"] == 1
    assert app["tti_light"]["n"] == PEOPLE - 1
    # a check-in and a check-out each
    assert app["sign_in"]["n"] == PEOPLE and app["save"]["n"] == 2 * PEOPLE
    assert 0 < app["tti"]["median"] <= app["tti"]["p95"] <= app["tti"]["max"]
    # the Chromium page's TTI is its own mark of the topic showing, ahead of Playwright's
    # polling (equal only if the mark never came)
    assert 0 < app["tti_browser"]["median"] < app["tti_browser_polled"]["median"]
    # the Chromium page's first visit: Voilà's scripts, gzipped (about 1.3 MiB; 4.7 plain)
    assert app["download_mib"]["n"] == 1 and 0.5 < app["download_mib"]["median"] < 2.5
    hold = report["hold"]
    assert hold["participants_kernels_alive"] == PEOPLE and hold["kernels"] >= PEOPLE
    assert hold["kernel_rss_mib"]["median"] > 20 and hold["server_rss_mib"] > 20
    assert set(report["join_cpu_s"]) == {"server", "kernels", "browser", "clients"}
    assert report["session"] == session.join_code  # today's session itself, on the copy
    # the printed report says the same, and its verdict matches the exit code
    assert "time to interactive" in run.stdout and "save round trip" in run.stdout
    assert re.search(rf"{PEOPLE} people about \d+ MiB on the room's network", run.stdout)
    verdict = next(line for line in run.stdout.splitlines() if line.startswith("verdict: "))
    assert verdict == f"verdict: {report['verdict']['text']}"
    holds = report["verdict"]["holds"]
    assert verdict.startswith(f"verdict: this server holds {PEOPLE} participants") == holds
    assert run.returncode == (0 if holds else 1)
    assert "participants' steps" in run.stderr  # the progress bar

    # the real store: same bytes, same rows, no file added beside it; no attendance there
    assert _fingerprint(real) == before
    assert sorted(p.name for p in data.iterdir()) == beside
    # nothing left: the scratch folder is gone and the server's port is closed
    assert list(scratch_tmp.iterdir()) == []
    port = int(urlsplit(report["url"].split(",")[0]).port)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
