"""The standing fault suite (issue #12, RELIABILITY.md §1.3-1.4): the shapes of SQLite's own
crash, I/O-error and fuzz tests, run against our save paths and data loaders.

COP_FAULT_ROUNDS sets the kill -9 rounds (default 3, about 20 s); run e.g.
COP_FAULT_ROUNDS=50 for the long version. COP_LONG_TESTS=1 fuzzes the data loaders with 1,000
malformed files instead of 200. Each figure (rounds, confirmed saves, losses) is printed with -s.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from packaging.version import Version
from sqlalchemy import event

from cop_widgets.content.frameworks import load_framework
from cop_widgets.content.protocols import load_protocol, load_protocols
from cop_widgets.content.session_items import load_item_set
from cop_widgets.errors import DataFileError, StoreBusy, StoreDamaged, StoreFull
from cop_widgets.services import discussions, reflections, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import open_store
from cop_widgets.store.maintenance import StoreWatch, marker_path, wal_problem
from tests.conftest import REPO, another_process_holds_the_write_lock

ROUNDS = int(os.environ.get("COP_FAULT_ROUNDS", "3"))
# 200 files cover every kind of damage against every loader (10 kinds x 3 loaders) many times
# over; the long run (COP_LONG_TESTS=1) tries 1,000
MALFORMED_FILES = 1000 if os.environ.get("COP_LONG_TESTS", "0") not in ("", "0") else 200
KINDS = ("reflection", "note", "checkin")


def _db(data_dir: Path) -> Path:
    return data_dir / "cop.sqlite"


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=10)


def _integrity(path: Path) -> tuple[str, list]:
    with closing(_raw(path)) as conn:
        return (
            conn.execute("PRAGMA integrity_check").fetchone()[0],
            conn.execute("PRAGMA foreign_key_check").fetchall(),
        )


# -- kill -9 of writers mid-save ---------------------------------------------------------------
@pytest.fixture
def fault_store(data_dir, store):
    """A store with a discussion (notes) and a session (check-outs) for the writers."""
    fac = find_or_add_person(store, "Fault facilitator")
    protocol = load_protocols(data_dir / "protocols").get("consultancy")
    disc = discussions.start_discussion(
        store, fac, protocol, "A de-identified case.", summary_checked=True
    )
    coord = find_or_add_person(store, "Fault coordinator")
    cop = sessions.create_community(store, coord, "Fault CoP")
    session = sessions.plan_session(
        store, coord, cop.id, datetime.now(UTC) - timedelta(minutes=30), "Faults"
    )
    setup = {
        "discussion": disc.id,
        "phase": protocol.phases[0].id,
        "session": session.id,
        "code": session.join_code,
    }
    (data_dir / "fault-setup.json").write_text(json.dumps(setup))
    return data_dir


def _start_writer(data_dir: Path, kind: str, wid: int, seed: int):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests._fault_worker", str(data_dir), kind, str(wid), str(seed)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if line.strip() == "ready":
                ready.set()
            else:
                lines.append(line)
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, ready, reader


def _confirmed(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # cut by the kill: a confirmed save we simply do not check
    return out


def _missing(path: Path, saves: list[dict]) -> list[str]:
    lost = []
    with closing(_raw(path)) as conn:
        for s in saves:
            if s["kind"] == "reflection":
                got = conn.execute(
                    "SELECT text FROM reflection_answer WHERE reflection_id=? AND stage_id='what'",
                    (s["id"],),
                ).fetchall()
                ok = got == [(s["text"],)]
            elif s["kind"] == "note":
                got = conn.execute(
                    "SELECT text FROM discussion_note WHERE id=?", (s["id"],)
                ).fetchall()
                ok = got == [(s["text"],)]
            else:
                commitment = conn.execute(
                    "SELECT text FROM commitment WHERE person_id=?", (s["person"],)
                ).fetchall()
                debrief = conn.execute(
                    "SELECT value_text FROM session_response "
                    "WHERE person_id=? AND item_id='debrief'",
                    (s["person"],),
                ).fetchall()
                word = conn.execute(
                    "SELECT count(*) FROM session_response WHERE item_id='one_word' AND "
                    "value_text=? AND person_id IS NULL",
                    (s["id"],),
                ).fetchone()[0]
                ok = commitment == [(s["text"],)] and debrief == [("debrief " + s["text"],)]
                ok = ok and word == 1
            if not ok:
                lost.append(f"{s['kind']} {s['id']}")
    return lost


def test_kill_9_of_writers_loses_no_confirmed_save(fault_store):
    """Reflections, discussion notes and check-out answers are written by separate processes,
    each SIGKILLed at a random moment; after every round the store passes integrity_check and
    foreign_key_check and every save the writers were told succeeded is there, text exact."""
    rng = random.Random(12)
    path = _db(fault_store)
    confirmed: dict[str, int] = dict.fromkeys(KINDS, 0)
    started = time.monotonic()
    for round_no in range(ROUNDS):
        writers = [
            _start_writer(fault_store, kind, wid, rng.randrange(10**6))
            for wid, kind in enumerate(KINDS)
        ]
        for proc, _lines, ready, _reader in writers:
            assert ready.wait(30), proc.stderr.read() if proc.poll() is not None else "no start"
        time.sleep(rng.uniform(0.4, 1.2))
        for proc, *_ in writers:
            proc.send_signal(signal.SIGKILL)
        saves = []
        for proc, lines, _ready, reader in writers:
            proc.wait()
            reader.join(5)
            assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
            proc.stderr.close()
            saves += _confirmed(lines)
        integrity, orphans = _integrity(path)
        assert integrity == "ok", f"round {round_no}: {integrity}"
        assert orphans == [], f"round {round_no}: {orphans[:5]}"
        lost = _missing(path, saves)
        assert lost == [], f"round {round_no}: {len(lost)} confirmed saves lost: {lost[:5]}"
        for s in saves:
            confirmed[s["kind"]] += 1
    assert all(n > 0 for n in confirmed.values()), confirmed
    print(
        f"\nkill -9: {ROUNDS} rounds, confirmed saves {confirmed}, 0 lost, "
        f"{time.monotonic() - started:.1f} s"
    )


# -- full disk and a locked store ---------------------------------------------------------------
def test_full_disk_is_store_full_and_keeps_every_confirmed_save(store, settings, rolfe):
    who = find_or_add_person(store, "Ana")
    with store.read() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()

    def small_disk(dbapi_conn, _record):
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 40}")

    event.listen(store.engine, "connect", small_disk)
    store.engine.dispose()
    saved, refused = {}, None
    for n in range(200):
        rid = str(uuid.uuid4())
        text = f"{n} " + "full disk " * 1500
        try:
            reflections.save_draft(store, who, rid, rolfe, {"what": reflections.Answer(text)})
        except StoreFull as exc:
            refused = exc
            break
        saved[rid] = text
    assert refused is not None, "the page limit was never reached"
    assert "disk is full" in str(refused) and saved
    event.remove(store.engine, "connect", small_disk)
    store.engine.dispose()
    integrity, orphans = _integrity(_db(settings.data_dir))
    assert (integrity, orphans) == ("ok", [])
    for rid, text in saved.items():
        assert reflections.get_mine(store, who, rid).answer("what").text == text
    # with room again the refused save goes through
    reflections.save_draft(
        store, who, str(uuid.uuid4()), rolfe, {"what": reflections.Answer("after")}
    )


def test_locked_store_is_store_busy_then_saves(store, settings, rolfe):
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    with another_process_holds_the_write_lock(str(_db(settings.data_dir)), seconds=7):
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            reflections.save_draft(
                store, who, rid, rolfe, {"what": reflections.Answer("while locked")}
            )
        assert time.monotonic() - started < 6.5
    reflections.save_draft(store, who, rid, rolfe, {"what": reflections.Answer("after")})
    assert reflections.get_mine(store, who, rid).answer("what").text == "after"


# -- damaged files -----------------------------------------------------------------------------
def _populated(data_dir: Path, rolfe, n: int = 300) -> tuple[Path, dict[str, str]]:
    settings = Settings(data_dir, f"sqlite:///{_db(data_dir)}", 5000)
    store = open_store(settings)
    who = find_or_add_person(store, "Ana")
    texts = {}
    for i in range(n):
        rid = str(uuid.uuid4())
        texts[rid] = f"reflection {i} " + "words " * 20
        reflections.save_draft(store, who, rid, rolfe, {"what": reflections.Answer(texts[rid])})
    store.dispose()
    return _db(data_dir), texts


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir, f"sqlite:///{_db(data_dir)}", 5000)


def _answer_pages_middle(path: Path) -> int:
    """A page in the middle of the reflection answers' rows: damage there is found only by
    reading the whole file (quick_check), not by anything start-up reads (the schema, the
    migration table), whatever the migrations add."""
    with closing(_raw(path)) as conn:
        pages = [
            row[0]
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'reflection_answer' "
                "AND pagetype = 'leaf' ORDER BY pageno"
            )
        ]
    return pages[len(pages) // 2] - 1  # dbstat counts pages from 1


def _tear_pages(path: Path, first: int, count: int = 3) -> None:
    with closing(_raw(path)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as fh:
        fh.seek(page_size * first)
        fh.write(random.Random(first).randbytes(page_size * count))


def test_empty_store_file_is_refused_not_taken_for_a_new_store(tmp_path):
    path = tmp_path / "cop.sqlite"
    path.write_bytes(b"")
    with pytest.raises(StoreDamaged) as err:
        open_store(_settings(tmp_path))
    assert str(path) in str(err.value) and "0 bytes" in str(err.value)
    assert "cop data restore" in str(err.value)
    assert path.stat().st_size == 0  # left as it was, for whoever investigates


def test_foreign_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "cop.sqlite"
    path.write_bytes(b"PK\x03\x04 a zip file, say" * 500)
    before = path.read_bytes()
    with pytest.raises(StoreDamaged, match="not a SQLite database"):
        open_store(_settings(tmp_path))
    assert path.read_bytes() == before


def test_torn_page_is_found_at_start_and_stops_saves(tmp_path, rolfe):
    path, _ = _populated(tmp_path, rolfe)
    _tear_pages(path, _answer_pages_middle(path), count=1)
    with pytest.raises(StoreDamaged, match="quick_check") as err:
        open_store(_settings(tmp_path))
    assert str(path) in str(err.value)
    assert marker_path(path).exists()  # every other process now refuses saves too
    with pytest.raises(StoreDamaged, match="marked damaged"):
        open_store(_settings(tmp_path))


def test_truncated_store_is_found_at_start(tmp_path, rolfe):
    path, _ = _populated(tmp_path, rolfe)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size * 6 // 10)
    with pytest.raises(StoreDamaged, match="is damaged") as err:
        open_store(_settings(tmp_path))
    assert str(path) in str(err.value) and "cop data restore" in str(err.value)


def _leave_wal_with_commits(data_dir: Path) -> Path:
    """A writer saves and dies without closing: its commits are only in the -wal file."""
    code = (
        "import os, sys, uuid\n"
        "from cop_widgets.settings import Settings\n"
        "from cop_widgets.store import open_store\n"
        "from cop_widgets.services.identity import find_or_add_person\n"
        "s = open_store(Settings(sys.argv[1], 'sqlite:///' + sys.argv[1] + '/cop.sqlite', 5000))\n"
        "for i in range(5): find_or_add_person(s, f'In the WAL only {i}')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(data_dir)], check=True, cwd=REPO)
    wal = Path(f"{_db(data_dir)}-wal")
    assert wal.stat().st_size > 0 and wal_problem(wal.read_bytes()) is None
    return wal


def test_garbage_wal_is_kept_aside_and_reported(tmp_path, rolfe, caplog):
    _populated(tmp_path, rolfe, n=5)
    wal = _leave_wal_with_commits(tmp_path)
    damaged = b"\x00garbage!" * 4 + wal.read_bytes()[36:]
    wal.write_bytes(damaged)
    with caplog.at_level(logging.ERROR, logger="cop_widgets.store"):
        store = open_store(_settings(tmp_path))
    store.dispose()
    copies = list(tmp_path.glob("cop.sqlite-wal.damaged-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == damaged
    assert str(copies[0]) in caplog.text and "cannot be used" in caplog.text


def test_wal_shorter_than_its_header_is_kept_aside(tmp_path, rolfe):
    _populated(tmp_path, rolfe, n=5)
    wal = _leave_wal_with_commits(tmp_path)
    wal.write_bytes(wal.read_bytes()[:20])
    open_store(_settings(tmp_path)).dispose()
    assert len(list(tmp_path.glob("cop.sqlite-wal.damaged-*"))) == 1


def test_a_good_wal_is_left_alone(tmp_path, rolfe):
    _populated(tmp_path, rolfe, n=5)
    _leave_wal_with_commits(tmp_path)
    store = open_store(_settings(tmp_path))
    with store.read() as conn:
        n = conn.exec_driver_sql(
            "SELECT count(*) FROM person WHERE display_name LIKE 'In the WAL only%'"
        ).scalar()
    store.dispose()
    assert n == 5 and not list(tmp_path.glob("cop.sqlite-wal.damaged-*"))


def test_damage_under_a_running_process_stops_saves_loudly(tmp_path, rolfe):
    path, texts = _populated(tmp_path, rolfe)
    store = open_store(_settings(tmp_path))
    who = find_or_add_person(store, "Ana")
    reflections.save_draft(
        store, who, str(uuid.uuid4()), rolfe, {"what": reflections.Answer("before")}
    )
    _tear_pages(path, _answer_pages_middle(path), count=1)
    watch = StoreWatch(path, every=0.2).start()  # the server's timer, sped up
    try:
        deadline = time.monotonic() + 10
        while store.damaged is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watch.stop()
    assert store.damaged and "quick_check" in store.damaged
    with pytest.raises(StoreDamaged) as err:
        reflections.save_draft(
            store, who, str(uuid.uuid4()), rolfe, {"what": reflections.Answer("after damage")}
        )
    assert "damaged" in err.value.kept_message() and "your text is kept" in err.value.kept_message()
    store.dispose()


# -- 1,000 malformed data files ----------------------------------------------------------------
SENTINEL_NAME = "executed.txt"


def _malformed(kind: int, rng: random.Random, sentinel: Path) -> tuple[bytes, bool]:
    """(file bytes, whether YAML itself reports the problem with a line)."""
    good = {
        "schema_version": 1,
        "id": f"x{rng.randrange(10**6)}",
        "version": "1",
        "name": "Fuzz",
        "source": "test",
        "steps": [{"id": "a", "label": "A", "minutes": 5, "prompts": ["Why?"]}],
        "phases": [{"id": "a", "label": "A", "minutes": 5, "prompts": ["Why?"]}],
        "items": [{"id": "a", "kind": "scale", "prompt": "How?"}],
    }
    if kind == 0:  # wrong types
        field = rng.choice(["steps", "phases", "items", "id", "schema_version", "name"])
        good[field] = rng.choice([42, "text", [1, 2], {"a": 1}, None, True, 3.5])
        return yaml.safe_dump(good).encode(), False
    if kind == 1:  # duplicate keys
        return f"schema_version: 1\nid: a\nname: A\nid: b{rng.randrange(99)}\n".encode(), True
    if kind == 2:  # alias bomb
        depth = rng.randint(8, 12)
        lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, depth)]
        lines += [f"schema_version: 1\nid: bomb\nname: *a{depth - 1}\nsteps: *a{depth - 1}"]
        return "\n".join(lines).encode(), False
    if kind == 3:  # python tags
        tag = rng.choice(
            [
                f'!!python/object/apply:os.system ["touch {sentinel}"]',
                f'!!python/object/apply:subprocess.call [["touch", "{sentinel}"]]',
                "!!python/name:os.system",
                "!!python/object/new:type [x, [], {}]",
                "!!python/module:os",
            ]
        )
        return f"schema_version: 1\nid: tag\nname: {tag}\n".encode(), True
    if kind == 4:  # deep nesting
        depth = rng.randint(2000, 20000)
        return ("name: " + "[" * depth + "]" * depth + "\n").encode(), False
    if kind == 5:  # huge file
        return b"name: '" + b"x" * (256 * 1024 + rng.randint(1, 10**5)) + b"'\n", False
    if kind == 6:  # not UTF-8
        return b"schema_version: 1\nname: " + bytes(
            [rng.randint(0x80, 0xFF)]
        ) + b"\xff\xfe\n", False
    if kind == 7:  # YAML syntax errors
        return rng.choice(
            [b"name: 'unclosed\n", b"a:\n  - b\n c: d\n", b"{a: 1\n", b"a: b: c\n", b"- a\nb: c\n"]
        ), True
    if kind == 8:  # unhashable (complex) keys
        return b"schema_version: 1\n? [a, b]\n: 1\n", False
    # random bytes that happen to be UTF-8, or binary tags and odd scalars
    return rng.choice(
        [
            b"schema_version: !!binary aGVsbG8=\nid: a\n",
            b"schema_version: 2001-12-14\nid: a\n",
            b"~",
            b"",
            b"- just\n- a\n- list\n",
            bytes(rng.randrange(32, 127) for _ in range(200)),
        ]
    ), False


def test_hundreds_of_malformed_data_files_are_refused_and_nothing_runs(tmp_path):
    rng = random.Random(2026)
    sentinel = tmp_path / SENTINEL_NAME
    loaders = (
        ("frameworks", load_framework),
        ("protocols", load_protocol),
        ("session_items", load_item_set),
    )
    slowest, escaped, unnamed = 0.0, [], []
    for n in range(MALFORMED_FILES):
        kind = n % 10
        folder, load = loaders[n % 3]
        path = tmp_path / "data" / folder / f"fuzz-{n}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        raw, has_line = _malformed(kind, rng, sentinel)
        path.write_bytes(raw)
        started = time.monotonic()
        try:
            load(path)
        except DataFileError as exc:
            message = str(exc)
            if str(path) not in message or (has_line and "line " not in message):
                unnamed.append((n, kind, message[:200]))
        except Exception as exc:  # noqa: BLE001 - the point of the test
            escaped.append((n, kind, f"{type(exc).__name__}: {str(exc)[:200]}"))
        else:
            escaped.append((n, kind, "loaded without an error"))
        slowest = max(slowest, time.monotonic() - started)
    assert not sentinel.exists(), "a YAML tag ran code"
    assert escaped == [], escaped[:5]
    assert unnamed == [], unnamed[:5]
    # an expanding alias ("billion laughs") would run for minutes; a loaded 2-core CI machine
    # can take a few seconds over an ordinary file, which is no fault
    assert slowest < 15.0, f"slowest file took {slowest:.2f} s"


# -- versions that close known advisories ------------------------------------------------------
@pytest.mark.parametrize(
    ("package", "floor"),
    [("voila", "0.5.6"), ("jupyter_server", "2.20.0"), ("nbconvert", "7.17.1")],
)
def test_installed_versions_are_at_or_above_the_advisory_floors(package, floor):
    assert Version(version(package)) >= Version(floor), (
        f"{package} {version(package)} is below {floor}; upgrade it (see README, Security updates)"
    )
