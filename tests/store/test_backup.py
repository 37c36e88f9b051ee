"""Backups: a checked, private, single-file copy, even while another process writes
(store/maintenance.py)."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest

from cop_widgets.errors import InvalidInput
from cop_widgets.store import maintenance
from tests.conftest import REPO
from tests.personal_data import WRITER, _counts_of, _integrity


def test_backup_is_a_checked_private_single_file_copy(store, world, tmp_path):
    rows = maintenance.count_rows(store)
    path = maintenance.backup(store, tmp_path / "backups")
    assert path.exists() and path.parent == tmp_path / "backups"
    assert path.name.startswith("cop-") and path.suffix == ".sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not Path(f"{path}-wal").exists()
    assert _integrity(path) == "ok"
    assert _counts_of(path) == rows
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    second = maintenance.backup(store, tmp_path / "backups")
    assert second != path  # same second: a new name, never an overwrite


def test_backup_while_another_process_writes_passes_integrity_check(
    store, world, data_dir, tmp_path
):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        paths = [maintenance.backup(store, tmp_path / "backups") for _ in range(5)]
        assert writer.poll() is None, "the writer stopped"
    finally:
        writer.kill()
        writer.wait()
    for path in paths:
        assert _integrity(path) == "ok"
        with sqlite3.connect(path) as raw:
            orphans = raw.execute(
                "SELECT count(*) FROM reflection_answer WHERE reflection_id NOT IN "
                "(SELECT id FROM reflection)"
            ).fetchone()[0]
        assert orphans == 0


def test_backup_refuses_a_store_that_is_not_sqlite(tmp_path):
    fake = types.SimpleNamespace(
        is_sqlite=False, engine=types.SimpleNamespace(dialect=types.SimpleNamespace(name="pg"))
    )
    with pytest.raises(InvalidInput, match="SQLite stores only"):
        maintenance.backup(fake, tmp_path)
