"""`cop data`: export, erase, retain and backup from the command line (cli/data.py)."""

from __future__ import annotations

import html
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from cop_widgets.cli import main as cop_main
from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import (
    people,
)
from cop_widgets.store import maintenance
from tests.conftest import REPO
from tests.personal_data import X_NAME, _integrity, snapshot


def test_cli_export_writes_into_the_data_folder(cop_data, world, data_dir, capsys):
    assert cop_data("export", "--person", "XÓCHITL 🌵") == 0
    out = capsys.readouterr().out
    folder = data_dir / "exports" / world.x.id
    assert out.startswith(f"exported person {world.x.id}:") and str(folder) in out
    assert len(out.strip().splitlines()) == 1 and X_NAME not in out
    assert (folder / "export.json").exists() and (folder / "reflection.csv").exists()


def test_cli_erase_without_yes_changes_nothing(cop_data, store, world, capsys):
    before = snapshot(store)
    assert cop_data("erase", "--person", world.x.id) == 1
    err = capsys.readouterr().err
    assert "not erased" in err and "reflection 2" in err and "--yes" in err
    assert snapshot(store) == before


def test_cli_erase_with_yes_erases_and_removes_the_export(
    cop_data, store, world, data_dir, capsys, tmp_path
):
    assert cop_data("export", "--person", world.x.id) == 0
    assert (data_dir / "exports" / world.x.id).is_dir()
    reports = tmp_path / "reports"
    reports.mkdir()
    record = reports / f"person-record_{world.x.id}_2026.html"  # a CPD record, by file name
    record.write_text("<p>their reflections</p>")
    session = reports / "session-report_abc.html"  # a session report naming them as a role
    session.write_text(f"<td>{html.escape(X_NAME)}</td>")
    unrelated = reports / "community-growth.html"
    unrelated.write_text("<p>counts only</p>")
    assert cop_data("erase", "--person", X_NAME, "--yes", "--reports", str(reports)) == 0
    listed = capsys.readouterr()
    assert f"report naming them: {record}" in listed.out and str(session) in listed.out
    assert str(unrelated) not in listed.out and "--delete-reports" in listed.err
    assert record.exists()  # listed, not removed, without --delete-reports
    assert f"erased person {world.x.id}:" in listed.out and "removed" in listed.out
    assert "backups" in listed.out
    assert not (data_dir / "exports" / world.x.id).exists()
    with pytest.raises(RecordNotFound):
        people.find_person(store, world.x.id)
    y_record = reports / f"person-record_{world.y.id}.html"
    y_record.write_text("<p>their reflections</p>")
    assert (
        cop_data(
            "erase", "--person", world.y.id, "--yes", "--reports", str(reports), "--delete-reports"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"removed report {y_record}" in out and not y_record.exists()
    assert record.exists() and unrelated.exists()  # another person's file and a count-only one


def test_cli_retain_reads_the_environment(cop_data, store, world, monkeypatch, capsys):
    assert cop_data("retain") == 0
    assert "everything is kept" in capsys.readouterr().out
    monkeypatch.setenv("COP_RETAIN_REFLECTIONS_DAYS", "0")
    with pytest.raises(InvalidInput, match="COP_RETAIN_REFLECTIONS_DAYS"):
        cop_data("retain")
    monkeypatch.setenv("COP_RETAIN_REFLECTIONS_DAYS", "30")
    later = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    before = snapshot(store)
    assert cop_data("retain", "--now", later, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would change" in out and "reflection 4" in out
    assert snapshot(store) == before
    assert cop_data("retain", "--now", later) == 0
    out = capsys.readouterr().out
    assert "changed" in out and "reflection 4" in out
    assert maintenance.count_rows(store)["reflection"] == 0
    with pytest.raises(InvalidInput, match="ISO 8601"):
        cop_data("retain", "--now", "next tuesday")


def test_cli_backup_goes_to_the_backups_folder(cop_data, world, data_dir, capsys):
    assert cop_data("backup") == 0
    out = capsys.readouterr().out
    (made,) = (data_dir / "backups").glob("cop-*.sqlite")
    assert str(made) in out and _integrity(made) == "ok"


def test_cli_errors_are_a_message_and_exit_2(monkeypatch, data_dir, store, capsys):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    assert cop_main(["data", "export", "--person", "nobody"]) == 2
    assert "cop: No person matches 'nobody'" in capsys.readouterr().err
    env = dict(os.environ, COP_DATA_DIR=str(data_dir))
    done = subprocess.run(
        [sys.executable, "-m", "cop_widgets.cli", "data", "erase", "--person", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
