"""Issue #12 items 2-4: an app started while the store is busy opens it by itself; `cop check`
checks the store; `cop data backup --every/--keep` and `cop data restore`."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

from cop_widgets.apps import _startup
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.services import reflections
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import open_store
from tests.conftest import REPO, another_process_holds_the_write_lock


def _cop(*args, data_dir, **kw):
    env = dict(os.environ, COP_DATA_DIR=str(data_dir), **kw.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-m", "cop_widgets.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=kw.pop("timeout", 60),
        cwd=REPO,
    )


# -- start-up while the store is busy -----------------------------------------------------------
def test_app_started_while_the_store_is_locked_opens_it_by_itself(store, settings, monkeypatch):
    """Before: a dead app ("cannot save right now") until the page was reloaded."""
    monkeypatch.setattr(_startup, "RETRY_FIRST_SECONDS", 0.2)
    monkeypatch.setattr(_startup, "RETRY_MAX_SECONDS", 0.5)
    db = settings.database_url.removeprefix("sqlite:///")
    signed_in = []

    async def scenario():
        with another_process_holds_the_write_lock(db, seconds=6.5):
            app = reflection_app(settings, environ={"JUPYTERHUB_USER": "ana"})
            assert app.store is None
            assert app.status.message == "The shared store is busy; retrying…"
            assert app.status.kind == "warning"
        # the lock is gone: the app opens the store and starts as usual
        deadline = time.monotonic() + 15
        while app.store is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        signed_in.append(app)

    monkeypatch.setattr(
        "cop_widgets.apps.reflection.ReflectionApp._identify",
        lambda self, query: signed_in.append("identified"),
    )
    asyncio.run(scenario())
    app = signed_in[-1]
    assert app.store is not None and "identified" in signed_in
    assert "busy" not in app.status.message
    app.store.dispose()


# -- cop check ----------------------------------------------------------------------------------
def test_cop_check_checks_the_store_and_fails_on_each_problem(data_dir):
    assert _cop("init", data_dir=data_dir).returncode == 0
    no_backup = _cop("check", data_dir=data_dir)
    assert no_backup.returncode == 1
    assert "error store backup: no backup in" in no_backup.stdout
    for line in ("ok    store integrity: quick_check ok", "ok    store schema: version",
                 "ok    store wal:", "ok    store disk:"):  # fmt: skip
        assert line in no_backup.stdout, no_backup.stdout
    assert _cop("data", "backup", data_dir=data_dir).returncode == 0
    good = _cop("check", data_dir=data_dir)
    assert good.returncode == 0, good.stdout
    assert "ok    store backup: newest" in good.stdout
    old = _cop("check", data_dir=data_dir, env={"COP_BACKUP_MAX_AGE_HOURS": "0"})
    assert old.returncode == 1 and "is the backup running?" in old.stdout
    # an older schema and a damage marker are problems too
    db = data_dir / "cop.sqlite"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(
            "DELETE FROM schema_migrations "
            "WHERE version = (SELECT max(version) FROM schema_migrations)"
        )
        conn.commit()
    stale = _cop("check", data_dir=data_dir)
    assert stale.returncode == 1 and "run `cop init`" in stale.stdout
    (data_dir / "cop.sqlite-damaged").write_text("quick_check: page 7 is broken\n")
    marked = _cop("check", data_dir=data_dir)
    assert marked.returncode == 1 and "error store damage:" in marked.stdout


def test_cop_check_names_a_damaged_store_file(data_dir):
    assert _cop("init", data_dir=data_dir).returncode == 0
    db = data_dir / "cop.sqlite"
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.seek(size // 2 // 4096 * 4096)
        fh.write(os.urandom(4096 * 2))
    out = _cop("check", data_dir=data_dir)
    assert out.returncode == 1
    assert f"error store integrity: {db}: quick_check failed" in out.stdout
    assert "cop data restore" in out.stdout


# -- backups on a schedule ----------------------------------------------------------------------
def test_backup_every_keeps_the_newest_n_and_stops_cleanly_on_sigterm(data_dir):
    assert _cop("init", data_dir=data_dir).returncode == 0
    out = data_dir / "bk"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cop_widgets.cli", "data", "backup", "--every", "1s",
         "--keep", "2", "--out", str(out)],
        env=dict(os.environ, COP_DATA_DIR=str(data_dir)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        removed = 0
        while time.monotonic() < deadline and removed < 2:
            line = proc.stdout.readline()
            removed += line.startswith("removed old backup")
        assert removed >= 2
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "backups stopped (0 failed)" in stdout
    assert len(list(out.glob("cop-*.sqlite"))) == 2


def test_backup_every_refuses_a_bad_period(data_dir):
    out = _cop("data", "backup", "--every", "often", data_dir=data_dir)
    assert out.returncode == 2 and "--every 'often'" in out.stderr


# -- restore ------------------------------------------------------------------------------------
def _settings_store(data_dir):
    from cop_widgets.settings import Settings

    return open_store(Settings(data_dir, f"sqlite:///{data_dir / 'cop.sqlite'}", 5000))


def test_restore_moves_the_store_aside_and_brings_the_backup_back(data_dir, rolfe):
    store = _settings_store(data_dir)
    who = find_or_add_person(store, "Ana")
    kept_id = str(uuid.uuid4())
    reflections.save_draft(
        store, who, kept_id, rolfe, {"what": reflections.Answer("in the backup")}
    )
    store.dispose()
    made = _cop("data", "backup", data_dir=data_dir)
    backup = Path(made.stdout.split(": ", 1)[1].split(" (")[0])
    store = _settings_store(data_dir)
    reflections.save_draft(
        store, who, str(uuid.uuid4()), rolfe, {"what": reflections.Answer("after the backup")}
    )
    # a server has the store open: refused, nothing changed
    refused = _cop("data", "restore", str(backup), data_dir=data_dir)
    assert refused.returncode == 2 and "in use" in refused.stderr
    assert "Stop `cop serve`" in refused.stderr
    store.dispose()
    before = (data_dir / "cop.sqlite").read_bytes()
    done = _cop("data", "restore", str(backup), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    aside = [Path(line.removeprefix("moved aside: ")) for line in done.stdout.splitlines()
             if line.startswith("moved aside: ")]  # fmt: skip
    assert aside and aside[0].read_bytes() == before  # never deleted
    assert "integrity checked" in done.stdout
    store = _settings_store(data_dir)
    assert reflections.get_mine(store, who, kept_id).answer("what").text == "in the backup"
    texts = (
        [s.preview for s in reflections.list_mine(store, who)]
        if hasattr(reflections, "list_mine")
        else []
    )
    assert not any("after the backup" in (t or "") for t in texts)
    store.dispose()


def test_restore_refuses_a_damaged_or_foreign_backup(data_dir):
    assert _cop("init", data_dir=data_dir).returncode == 0
    bad = data_dir / "not-a-backup.sqlite"
    bad.write_bytes(b"hello" * 1000)
    out = _cop("data", "restore", str(bad), data_dir=data_dir)
    assert out.returncode == 2 and "not a SQLite database" in out.stderr
    assert "Nothing was changed" in out.stderr
    assert not list(data_dir.glob("cop.sqlite.before-restore-*"))


def test_restore_with_a_stale_wal_beside_the_store_gives_a_good_store(data_dir, rolfe):
    """Before: copying a backup over the store next to an old -wal/-shm gave a damaged store."""
    assert _cop("init", data_dir=data_dir).returncode == 0
    backup = Path(_cop("data", "backup", data_dir=data_dir).stdout.split(": ", 1)[1].split(" (")[0])
    code = (
        "import os,sys\nfrom cop_widgets.settings import Settings\n"
        "from cop_widgets.store import open_store\n"
        "from cop_widgets.services.identity import find_or_add_person\n"
        "s=open_store(Settings(sys.argv[1],'sqlite:///'+sys.argv[1]+'/cop.sqlite',5000))\n"
        "[find_or_add_person(s, f'p{i}') for i in range(50)]\nos._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(data_dir)], check=True, cwd=REPO)
    assert (data_dir / "cop.sqlite-wal").stat().st_size > 0
    done = _cop("data", "restore", str(backup), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("moved aside:") >= 2  # the store and its -wal (and -shm)
    check = _cop("check", data_dir=data_dir)
    assert "ok    store integrity: quick_check ok" in check.stdout, check.stdout
