"""The store itself: migrations, settings, the file, concurrency and locks."""

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from cop_widgets.content.protocols import load_protocols
from cop_widgets.errors import (
    StoreBusy,
    StoreUnavailable,
)
from cop_widgets.services import discussions, sessions
from cop_widgets.services import reflections as reflection_service
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings, load_settings
from cop_widgets.store import migrations, open_store, schema
from cop_widgets.store.migrations import LATEST
from cop_widgets.store.schema import reflection, reflection_answer
from tests.conftest import another_process_holds_the_write_lock


def test_migrations_from_empty_create_every_table(store):
    with store.read() as conn:
        names = set(
            conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars()
        )
        versions = conn.execute(text("SELECT version FROM schema_migrations")).scalars().all()
    assert {"person", "reflection", "reflection_answer", "audit_event"} <= names
    assert versions == list(range(1, LATEST + 1))


def _reopen_applies_nothing_again(settings) -> None:
    """Opening the store again finds every migration applied, once each."""
    again = open_store(settings)
    with again.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM schema_migrations")).scalar() == LATEST
    again.dispose()


def test_reopening_applies_nothing_twice(settings):
    open_store(settings).dispose()
    _reopen_applies_nothing_again(settings)


def test_connection_settings_are_the_measured_ones(store):
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_busy_timeout_below_five_seconds_is_refused():
    with pytest.raises(StoreUnavailable, match="at least 5000"):
        load_settings({"COP_BUSY_TIMEOUT_MS": "100"})


def test_database_url_setting_is_used(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    chosen = load_settings({"COP_DATA_DIR": str(tmp_path), "COP_DATABASE_URL": url})
    assert chosen.database_url == url


def test_bad_database_url_names_the_setting(tmp_path):
    with pytest.raises(StoreUnavailable, match="COP_DATABASE_URL"):
        open_store(Settings(tmp_path, "not a url at all", 5000))


def test_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "cop.sqlite"
    path.write_bytes(b"this is not a database" * 300)
    with pytest.raises(StoreUnavailable, match="is not a SQLite database.*cop data restore"):
        open_store(Settings(tmp_path, f"sqlite:///{path}", 5000))


# -- many writers at once ----------------------------------------------------------------------


# A save the store answers "busy" is tried again, as the app's Autosave does (the text stays
# unsaved meanwhile); more tries than this count as a failure.
BUSY_TRIES = 10
# At most this share of saves may be answered "busy" once: a busy answer means a wait past the
# 5 s busy timeout, which a host shared with other work can cause now and then. Writers that do
# not take the write lock first (a DEFERRED read-then-write) fail most saves instead.
MAX_BUSY_SHARE = 0.10
# Saves each of the twenty writers makes: 25 (500 drafts, 1,000 transactions, all twenty
# writing until the end); COP_LONG_TESTS=1 for the long run, 100 each (2,000 drafts)
SAVES_EACH = 100 if os.environ.get("COP_LONG_TESTS", "0") not in ("", "0") else 25


def _writer(db_url: str, data_dir: str, name: str, saves: int, barrier, out):
    """Save `saves` drafts, each created and then changed (a read-then-write). Puts (name, the
    ids saved, the errors, how many busy answers were tried again, the slowest save in s)."""
    from pathlib import Path

    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.errors import StoreBusy
    from cop_widgets.services import reflections
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(Settings(Path(data_dir), db_url, 5000))
    fw = load_frameworks(Path(data_dir) / "frameworks").get("rolfe-2001")
    who = find_or_add_person(store, name)
    ids: list[str] = []
    errors: list[str] = []
    busy, slowest = 0, 0.0

    def save(rid: str, answers: dict) -> None:
        nonlocal busy, slowest
        for _ in range(BUSY_TRIES):
            started = time.monotonic()
            try:
                reflections.save_draft(store, who, rid, fw, answers)
                return
            except StoreBusy as exc:
                busy += 1
                cause = getattr(getattr(exc.__cause__, "orig", None), "sqlstate", None)
                print(f"{name}: busy after {time.monotonic() - started:.2f} s ({cause})")
            finally:
                slowest = max(slowest, time.monotonic() - started)
        raise StoreBusy()

    barrier.wait()
    for i in range(saves):
        rid = str(uuid.uuid4())
        try:
            # create, then update the same draft: a read-then-write under contention
            save(rid, {"what": reflections.Answer(f"{name} {i}")})
            save(rid, {"so_what": reflections.Answer(str(i))})
            ids.append(rid)
        except Exception as exc:  # noqa: BLE001 - collected and asserted to be none
            errors.append(f"{type(exc).__name__}: {exc}")
    out.put((name, ids, errors, busy, slowest))
    store.dispose()


def assert_writers_lost_nothing(results: list, writers: int, saves: int) -> set[str]:
    """No save failed, few were answered busy; the ids of the drafts saved."""
    busy = sum(r[3] for r in results)
    print(f"busy answers tried again: {busy}; slowest save {max(r[4] for r in results):.2f} s")
    assert [e for r in results for e in r[2]] == []
    assert busy <= MAX_BUSY_SHARE * 2 * writers * saves
    confirmed = {rid for r in results for rid in r[1]}
    assert len(confirmed) == writers * saves
    return confirmed


@pytest.mark.slow
def test_twenty_processes_saving_at_once_lose_nothing(store, settings):
    ctx = multiprocessing.get_context("fork")
    procs_n, saves = 20, SAVES_EACH
    barrier, out = ctx.Barrier(procs_n), ctx.Queue()
    procs = [
        ctx.Process(
            target=_writer,
            args=(
                settings.database_url,
                str(settings.data_dir),
                f"writer {n}",
                saves,
                barrier,
                out,
            ),
        )
        for n in range(procs_n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    confirmed = assert_writers_lost_nothing(results, procs_n, saves)
    with store.read() as conn:
        rows = conn.execute(select(reflection.c.id)).scalars().all()
        answers = conn.execute(select(func.count()).select_from(reflection_answer)).scalar()
        check = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
    assert len(rows) == len(set(rows)) == procs_n * saves and set(rows) == confirmed
    assert answers == 2 * procs_n * saves  # "what" and "so_what" of each
    assert check == "ok"


def _save_what(store, who, rid, rolfe, text: str) -> None:
    """Save the draft `rid` with `text` as its answer to "what"."""
    reflection_service.save_draft(store, who, rid, rolfe, {"what": reflection_service.Answer(text)})


@pytest.fixture
def first_draft(store, rolfe):
    """Ana's draft, saved with "first" as its answer to "what": (Ana, its id)."""
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    _save_what(store, who, rid, rolfe, "first")
    return who, rid


def test_store_locked_past_the_busy_timeout_says_not_saved_yet(store, settings, rolfe, first_draft):
    who, rid = first_draft
    path = settings.database_url.removeprefix("sqlite:///")
    with another_process_holds_the_write_lock(path):
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="Not saved yet"):
            _save_what(store, who, rid, rolfe, "second")
        waited = time.monotonic() - started
        assert 4.5 < waited < 7.5
    assert reflection_service.get_mine(store, who, rid).answer("what").text == "first"
    _save_what(store, who, rid, rolfe, "second")
    assert reflection_service.get_mine(store, who, rid).answer("what").text == "second"
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_version_one_reflection_table_gains_the_version_columns(tmp_path, data_dir):
    """An old store made before migration 3 (reflection without version columns) upgrades."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as raw:
        raw.executescript(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, "
            "applied_at TEXT);"
            "INSERT INTO schema_migrations VALUES (1, 'initial', 'x'), (2, 'discussions', 'x');"
            "CREATE TABLE person (id TEXT PRIMARY KEY, identity_key TEXT UNIQUE NOT NULL, "
            "display_name TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'practitioner', "
            "created_at TEXT NOT NULL);"
            "CREATE TABLE reflection (id TEXT PRIMARY KEY, person_id TEXT NOT NULL, "
            "framework_id TEXT NOT NULL, framework_version INTEGER NOT NULL, "
            "visibility TEXT NOT NULL DEFAULT 'private', status TEXT NOT NULL DEFAULT 'draft', "
            "revision INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, "
            "updated_at TEXT NOT NULL, submitted_at TEXT);"
            "INSERT INTO reflection (id, person_id, framework_id, framework_version, "
            "created_at, updated_at) VALUES ('r1', 'p1', 'rolfe-2001', 1, 'x', 'x');"
        )
    upgraded = open_store(Settings(data_dir, f"sqlite:///{path}", 5000))
    with upgraded.read() as conn:
        row = conn.execute(text("SELECT version_of, version_no FROM reflection")).one()
    assert tuple(row) == (None, 1)
    upgraded.dispose()


def test_a_version_six_store_links_discussions_to_sessions_after_migration_7(
    tmp_path, data_dir, monkeypatch
):
    consultancy = load_protocols(data_dir / "protocols").get("consultancy")
    path = tmp_path / "v6.sqlite"
    settings = Settings(data_dir, f"sqlite:///{path}", 5000)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:6])
    old = open_store(settings)  # migration 2 creates the discussion table as released
    fran = find_or_add_person(old, "Fran")
    old.dispose()
    monkeypatch.undo()
    earlier_id = str(uuid.uuid4())
    with sqlite3.connect(path) as raw:
        assert "session_id" not in {r[1] for r in raw.execute("PRAGMA table_info(discussion)")}
        raw.execute(  # a discussion written by version 6
            "INSERT INTO discussion (id, protocol_id, protocol_version, case_summary, "
            "facilitator_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (earlier_id, "consultancy", 1, "A mother of two; kept as it was.", fran.id, "x", "x"),
        )

    upgraded = open_store(settings)
    with upgraded.read() as conn:
        versions = conn.execute(text("SELECT version FROM schema_migrations")).scalars().all()
        links = conn.exec_driver_sql("PRAGMA foreign_key_list(discussion)").all()
        indexes = conn.exec_driver_sql("PRAGMA index_list(discussion)").all()
    assert versions == list(range(1, LATEST + 1)) and LATEST >= 7
    [to_session] = [fk for fk in links if fk[3] == "session_id"]  # (.., table, from, to, .., del)
    assert (to_session[2], to_session[4], to_session[6]) == ("cop_session", "id", "SET NULL")
    assert "discussion_by_session" in {ix[1] for ix in indexes}
    kept = discussions.get(upgraded, fran, earlier_id)
    assert kept.session_id is None and kept.case_summary == "A mother of two; kept as it was."

    cop = sessions.create_community(upgraded, fran, "Family support CoP")
    held_in = sessions.plan_session(upgraded, fran, cop.id, datetime.now(UTC), "Engaging fathers")
    sessions.join(upgraded, fran, held_in.join_code, datetime.now(UTC))
    linked = discussions.start_discussion(
        upgraded, fran, consultancy, "A father.", session_id=held_in.id
    )
    assert discussions.get(upgraded, fran, linked.id).session_id == held_in.id
    upgraded.dispose()
    _reopen_applies_nothing_again(settings)


def test_a_new_store_has_the_discussion_session_link_once(store):
    with store.read() as conn:
        columns = [c[1] for c in conn.exec_driver_sql("PRAGMA table_info(discussion)").all()]
        indexes = [ix[1] for ix in conn.exec_driver_sql("PRAGMA index_list(discussion)").all()]
    assert columns.count("session_id") == 1 and indexes.count("discussion_by_session") == 1


def test_store_file_is_private_to_its_owner_and_deletes_are_overwritten(store, settings):
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    assert path.stat().st_mode & 0o077 == 0
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_each_migration_references_only_tables_that_exist_by_then(tmp_path, data_dir, monkeypatch):
    """PostgreSQL refuses a foreign key to a table not created yet (SQLite lets it pass), so
    every step is checked on its own; after the last step every table matches schema.py."""
    path = tmp_path / "steps.sqlite"
    settings = Settings(data_dir, f"sqlite:///{path}", 5000)
    for last in range(1, len(migrations.MIGRATIONS) + 1):
        monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:last])
        open_store(settings).dispose()
        monkeypatch.undo()
        with sqlite3.connect(path) as raw:
            tables = {
                r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            for table in tables:
                for fk in raw.execute(f"PRAGMA foreign_key_list({table})"):
                    assert fk[2] in tables, f"migration {last}: {table} references {fk[2]}"
    with sqlite3.connect(path) as raw:
        for table in schema.metadata.sorted_tables:
            columns = {r[1] for r in raw.execute(f"PRAGMA table_info({table.name})")}
            assert columns == {c.name for c in table.columns}, table.name


@contextmanager
def another_process_holds_the_gate(db_path: str, gate_seconds: float, sqlite_seconds: float = 0):
    """Another writer holds the write gate for `gate_seconds`, and (when sqlite_seconds > 0)
    SQLite's own lock, taken before the gate is let go, for `sqlite_seconds` in all."""
    script = (
        "import fcntl,os,sqlite3,sys,time\n"
        "fd = os.open(sys.argv[1] + '-writegate', os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "if float(sys.argv[3]) > 0:\n"
        "    c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2])); os.close(fd)\n"
        "time.sleep(max(float(sys.argv[3]) - float(sys.argv[2]), 0))\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, db_path, str(gate_seconds), str(sqlite_seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_writer_kept_at_the_gate_past_the_timeout_says_not_saved_yet(
    store, settings, rolfe, first_draft
):
    who, rid = first_draft
    path = settings.database_url.removeprefix("sqlite:///")
    with another_process_holds_the_gate(path, gate_seconds=30) as holder:
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="Not saved yet"):
            _save_what(store, who, rid, rolfe, "second")
        assert 4.5 < time.monotonic() - started < 6.5
        holder.kill()
        holder.wait()
        # the waiter given up on takes the freed gate and lets it go: the retry saves at once
        started = time.monotonic()
        _save_what(store, who, rid, rolfe, "second")
        assert time.monotonic() - started < 1.0
    assert reflection_service.get_mine(store, who, rid).answer("what").text == "second"


def test_time_queued_at_the_gate_counts_against_the_busy_timeout(
    store, settings, rolfe, first_draft
):
    who, rid = first_draft
    path = settings.database_url.removeprefix("sqlite:///")
    with another_process_holds_the_gate(path, gate_seconds=2, sqlite_seconds=12):
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            _save_what(store, who, rid, rolfe, "second")
        # 2 s at the gate + what was left of the 5 s at SQLite's lock, not 2 + 5
        assert 4.5 < time.monotonic() - started < 6.0
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == settings.busy_timeout_ms
    assert reflection_service.get_mine(store, who, rid).answer("what").text == "first"


def _people(conn) -> int:
    return conn.execute(select(func.count()).select_from(schema.person)).scalar()


def test_reads_in_a_snapshot_share_one_transaction(store):
    begun: list[object] = []

    def count(conn) -> None:
        begun.append(conn)

    event.listen(store.engine, "begin", count)
    try:
        with store.snapshot():
            with store.read() as first:
                before = _people(first)
            with store.snapshot(), store.read() as nested:  # the outer snapshot serves
                assert _people(nested) == before
            with store.read() as second:
                assert _people(second) == before
        assert first is nested is second
        assert len(begun) == 1
        with store.read() as after:  # the snapshot is over: a transaction of its own
            assert after is not first
            assert _people(after) == before
        assert len(begun) == 2
    finally:
        event.remove(store.engine, "begin", count)


def test_a_snapshot_does_not_see_what_is_written_after_it_began(store):
    find_or_add_person(store, "Ana")
    with store.snapshot():
        with store.read() as conn:
            before = _people(conn)
        find_or_add_person(store, "Ben")  # its own write transaction, committed
        with store.read() as conn:
            assert _people(conn) == before  # one consistent view, as documented
    with store.read() as conn:
        assert _people(conn) == before + 1


def test_a_snapshot_is_its_own_threads_only(store):
    seen: list[object] = []

    def read_elsewhere() -> None:
        with store.read() as conn:
            seen.append(conn)

    with store.snapshot(), store.read() as mine:
        other = threading.Thread(target=read_elsewhere)
        other.start()
        other.join()
    assert seen and seen[0] is not mine
