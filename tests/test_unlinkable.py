"""Anonymous answers cannot be tied to their authors from the store file (issue 11, item 4).

Eight people answer a session's check-in and check-out in a known order. An attacker then
reads the raw database file as a backup or a dump would give it: every table (with its rowid
where there is one) and the file's bytes (where each row lies, page by page). The attacker
knows the order in which people answered (session_answered's rowids and the commitments' times
give it away, and the test checks that they do) and where each person's identified rows lie
(their private debrief, their commitment). Every linking strategy — by rowid, by the order the
rows come back in, by their position in the file, by nearness to a person's identified rows,
by grouping one person's answers together, by time — must do no better than chance, summed
over several runs and compared with what random guessing gives (a permutation check).
"""

from __future__ import annotations

import random
import sqlite3
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cop_widgets.content.session_items import load_item_sets
from cop_widgets.services import checkins, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import migrations, open_store
from tests.conftest import REPO

SETS, _ = load_item_sets(REPO / "data" / "session_items")
PEOPLE = 8
RUNS = 10


def _words(run: int, i: int) -> dict[str, str]:
    """Answers unique to person i of a run, so the test knows whose a row is."""
    return {
        "one_word": f"word{run:02d}x{i}q",
        "resource": f"resource{run:02d}x{i}q",
        "debrief": f"debrief{run:02d}x{i}q",
        "commitment": f"commit{run:02d}x{i}q",
    }


def _joined_session(store, names: list[str], starts_in: timedelta):
    """A session of Cora's community, starting `starts_in` from now, that the people with these
    names joined: (the session, the people, in that order)."""
    coord = find_or_add_person(store, "Cora")
    cop = sessions.create_community(store, coord, "CoP")
    session = sessions.plan_session(store, coord, cop.id, datetime.now(UTC) + starts_in, "T")
    people = [find_or_add_person(store, name) for name in names]
    for who in people:
        sessions.join(store, who, session.join_code, datetime.now(UTC))
    return session, people


def _seed(settings: Settings, run: int) -> tuple[str, list[str]]:
    """One session, 8 people answering in a known order (check-in, then check-out, one after
    the other, at known times). Returns the session's date and the names in answer order."""
    store = open_store(settings)
    try:
        names = [f"Person {run}-{i}" for i in range(PEOPLE)]
        session, people = _joined_session(store, names, timedelta(minutes=5))
        for i, who in enumerate(people):
            checkins.submit_answers(
                store,
                who,
                session.id,
                SETS["checkin"],
                {"wellbeing": 1 + i % 5, "confidence_reflect_then": 1 + (i * 3) % 5},
            )
        for i, who in enumerate(people):
            w = _words(run, i)
            checkins.submit_answers(
                store,
                who,
                session.id,
                SETS["checkout"],
                {
                    "useful": 1 + (i * 2) % 5,
                    "safe": 1 + (i * 4) % 5,
                    "one_word": w["one_word"],
                    "resource": w["resource"],
                    "commitment": w["commitment"],
                    "debrief": w["debrief"],
                },
            )
        with store.read() as conn:
            day = conn.exec_driver_sql(
                "SELECT substr(starts_at, 1, 10) FROM cop_session WHERE id = ?", (session.id,)
            ).scalar()
        return day, [p.display_name for p in people]
    finally:
        store.dispose()


def _dump(path: Path) -> tuple[dict[str, list[tuple]], bytes]:
    """Every table, with its rowid where it has one, and the file's bytes after a checkpoint
    (what a copy of the file, a backup or a dump holds)."""
    raw = sqlite3.connect(path)
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = {}
        for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            try:
                rows = raw.execute(f'SELECT rowid, * FROM "{name}"').fetchall()  # noqa: S608
            except sqlite3.OperationalError:  # WITHOUT ROWID
                every = f'SELECT * FROM "{name}"'  # noqa: S608 - names from sqlite_master
                rows = [(None, *r) for r in raw.execute(every).fetchall()]
            tables[name] = rows
    finally:
        raw.close()
    return tables, path.read_bytes()


def _fixed_points(guess: list[int]) -> int:
    return sum(g == i for i, g in enumerate(guess))


def _rank(values: list[float]) -> list[int]:
    """Positions 0..n-1 in the order of values (ties by first seen)."""
    order = sorted(range(len(values)), key=lambda k: values[k])
    ranks = [0] * len(values)
    for r, k in enumerate(order):
        ranks[k] = r
    return ranks


def _nearest(offset: int, candidates: dict[int, int]) -> int:
    """The person whose row (by its offset) lies nearest to `offset`."""
    return min(candidates, key=lambda person: abs(candidates[person] - offset))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """RUNS independent stores, each dumped after 8 people answered."""
    out = []
    base = tmp_path_factory.mktemp("unlinkable")
    for run in range(RUNS):
        path = base / f"run{run}.sqlite"
        settings = Settings(base, f"sqlite:///{path}", 5000)
        day, names = _seed(settings, run)
        tables, data = _dump(path)
        out.append((run, day, names, tables, data))
    return out


def test_anonymous_rows_have_no_rowid_no_identity_and_only_the_session_date(runs):
    for _run, day, _names, tables, _data in runs:
        rows = tables["session_response"]
        assert rows and all(r[0] is None for r in rows)  # WITHOUT ROWID: no rowid to order by
        columns = [
            "rowid",
            "id",
            "session_id",
            "item_set",
            "item_id",
            "person_id",
            "value_int",
            "value_text",
            "answered_on",
        ]
        anonymous = [dict(zip(columns, r, strict=True)) for r in rows if r[5] is None]
        private = [dict(zip(columns, r, strict=True)) for r in rows if r[5] is not None]
        assert {r["item_id"] for r in private} == {"debrief"} and len(private) == PEOPLE
        assert len(anonymous) == PEOPLE * (2 + 4)
        # Time: every anonymous answer carries the same time, the session's date.
        assert {r["answered_on"] for r in anonymous} == {day}
        # Keys: random UUIDs, no number that could count up.
        assert all(len(r["id"]) == 36 and r["id"].count("-") == 4 for r in anonymous)


def _attack(run, names, tables, data) -> dict[str, list[int]]:
    """Each strategy's guess: for the person who answered i-th, the index of the author of
    the one_word row it picks (a perfect link gives guess[i] == i)."""
    # What the attacker knows from the identified tables: the order in which people answered.
    person_names = {r[1]: r[3] for r in tables["person"]}  # rowid, id, identity_key, name
    answered = sorted(
        (r for r in tables["session_answered"] if r[3] == "checkout"), key=lambda r: r[0]
    )
    order_by_rowid = [person_names[r[2]] for r in answered]
    commitments = sorted(tables["commitment"], key=lambda r: r[5])  # by created_at
    order_by_time = [person_names[r[2]] for r in commitments]
    assert order_by_rowid == order_by_time == names  # the attacker has the true order

    words = {_words(run, i)["one_word"]: i for i in range(PEOPLE)}
    resources = {_words(run, i)["resource"]: i for i in range(PEOPLE)}
    rows = tables["session_response"]
    # Rows in the order SELECT returns them (key order), with no ORDER BY.
    select_order = [words[r[7]] for r in rows if r[7] in words]
    # Where each row lies in the file: the byte offset of its unique text.
    at = {i: data.index(w.encode()) for w, i in words.items()}
    for w in words:
        assert data.count(w.encode()) == 1  # one copy, nothing left behind
    res_at = {i: data.index(w.encode()) for w, i in resources.items()}
    debrief_at = {i: data.index(_words(run, i)["debrief"].encode()) for i in range(PEOPLE)}
    commit_at = {i: data.index(_words(run, i)["commitment"].encode()) for i in range(PEOPLE)}
    by_offset = sorted(range(PEOPLE), key=lambda i: at[i])
    return {
        # the k-th row returned is the k-th person to answer
        "select order": select_order,
        "select order, reversed": select_order[::-1],
        # the k-th row in the file (SQLite fills a page from its end, so both directions)
        "file order": by_offset,
        "file order, reversed": by_offset[::-1],
        # the anonymous row nearest to a person's identified rows is theirs
        "next to the debrief": [_nearest(debrief_at[i], at) for i in range(PEOPLE)],
        "next to the commitment": [_nearest(commit_at[i], at) for i in range(PEOPLE)],
        # one person's answers lie together: the resource next to a word is the same author's
        "answers grouped": [_nearest(at[i], res_at) for i in range(PEOPLE)],
    }


def test_no_linking_strategy_beats_chance(runs):
    """Summed over the runs, each strategy links no more people than random guessing does
    (bound: the 99.99th percentile of the same sum for random permutations, simulated)."""
    totals: dict[str, int] = {}
    rhos: list[float] = []
    for run, _day, names, tables, data in runs:
        for strategy, guess in _attack(run, names, tables, data).items():
            totals[strategy] = totals.get(strategy, 0) + _fixed_points(guess)
        words = {_words(run, i)["one_word"]: i for i in range(PEOPLE)}
        offsets = [data.index(w.encode()) for w in sorted(words, key=words.get)]
        rhos.append(statistics.correlation(list(range(PEOPLE)), _rank(offsets)))
    null = random.Random(20260304)  # noqa: S311 - the null model, not a secret
    sums = sorted(
        sum(_fixed_points(null.sample(range(PEOPLE), PEOPLE)) for _ in range(RUNS))
        for _ in range(20000)
    )
    bound = sums[int(len(sums) * 0.9999)]
    assert bound < RUNS * PEOPLE / 2  # a perfect link (RUNS * PEOPLE) is far beyond it
    beaten = {s: t for s, t in totals.items() if t > bound}
    assert not beaten, f"better than chance ({bound} of {RUNS * PEOPLE}): {totals}"
    # Permutation check on the file order itself: the rank correlation between answer order
    # and position in the file averages out near 0 (a linked store gives +1 or -1 every run).
    null_rhos = sorted(
        abs(
            statistics.fmean(
                statistics.correlation(list(range(PEOPLE)), null.sample(range(PEOPLE), PEOPLE))
                for _ in range(RUNS)
            )
        )
        for _ in range(5000)
    )
    assert abs(statistics.fmean(rhos)) <= null_rhos[int(len(null_rhos) * 0.9999)], rhos


# -- migration 10: an older store's answers, made unlinkable -------------------------------------

OLD_SHAPE = """
CREATE TABLE session_response (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    session_id VARCHAR(36) NOT NULL REFERENCES cop_session(id) ON DELETE CASCADE,
    item_set VARCHAR(64) NOT NULL,
    item_id VARCHAR(64) NOT NULL,
    person_id VARCHAR(36) REFERENCES person(id) ON DELETE CASCADE,
    value_int INTEGER,
    value_text TEXT,
    created_hour VARCHAR(13) NOT NULL
);
CREATE INDEX session_response_by_item ON session_response (session_id, item_id);
"""


# Enough people that a random order is never mistaken for the answer order (with 12, one run
# in a few hundred crossed the 0.8 line by chance).
ROOM = 30


def test_migration_moves_old_answers_into_the_unlinkable_shape(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite"
    settings = Settings(tmp_path, f"sqlite:///{path}", 5000)
    before = [m for m in migrations.MIGRATIONS if m[0] < 10]
    monkeypatch.setattr(migrations, "MIGRATIONS", tuple(before))
    store = open_store(settings)
    session, people = _joined_session(store, [f"P{i}" for i in range(ROOM)], timedelta(hours=1))
    store.dispose()
    monkeypatch.undo()
    # The table as migration 5 released it, filled the way the old code did: per person, in
    # one transaction, "has answered", then the answers, then the debrief, hour-exact.
    raw = sqlite3.connect(path)
    raw.executescript("DROP TABLE session_response;" + OLD_SHAPE)
    for i, who in enumerate(people):
        with raw:
            raw.execute(
                "INSERT INTO session_answered VALUES (?, ?, 'checkout')", (session.id, who.id)
            )
            for item, number, text, pid in (
                ("useful", 1 + i % 5, None, None),
                ("safe", 1 + (i + 2) % 5, None, None),
                ("one_word", None, f"oldword{i}q", None),
                ("debrief", None, f"olddebrief{i}q", who.id),
            ):
                raw.execute(
                    "INSERT INTO session_response VALUES (?, ?, 'checkout', ?, ?, ?, ?, ?)",
                    (
                        f"{i:08d}-0000-4000-8000-{len(item):012d}",
                        session.id,
                        item,
                        pid,
                        number,
                        text,
                        f"2026-03-04T{9 + i:02d}",
                    ),
                )
    raw.close()

    store = open_store(settings)  # applies migration 10
    store.dispose()
    tables, data = _dump(path)
    rows = tables["session_response"]
    assert all(r[0] is None for r in rows)  # no rowid any more
    raw = sqlite3.connect(path)
    columns = [r[1] for r in raw.execute("PRAGMA table_info(session_response)")]
    assert "created_hour" not in columns and "answered_on" in columns
    assert raw.execute("SELECT version FROM schema_migrations WHERE version = 10").fetchone()
    raw.close()
    day = session.starts_at.astimezone(UTC).date().isoformat()
    got = {(r[4], r[6], r[7], r[5]) for r in rows}
    assert got == {
        (item, number, text, pid)
        for i, who in enumerate(people)
        for item, number, text, pid in (
            ("useful", 1 + i % 5, None, None),
            ("safe", 1 + (i + 2) % 5, None, None),
            ("one_word", None, f"oldword{i}q", None),
            ("debrief", None, f"olddebrief{i}q", who.id),
        )
    }  # every answer kept, the private one with its author, the rest with none
    assert {r[8] for r in rows} == {day}  # the hour is gone: the session's date only
    old_keys = {
        f"{i:08d}-0000-4000-8000-{len(item):012d}"
        for i in range(ROOM)
        for item in ("useful", "safe", "one_word", "debrief")
    }
    assert not old_keys & {r[1] for r in rows}  # fresh random keys, none of the old ones kept
    for i in range(ROOM):  # no stale copy of an old row in the file (secure_delete)
        assert data.count(f"oldword{i}q".encode()) == 1
    # Shuffled: the file order of the words says nothing about the order people answered.
    offsets = [data.index(f"oldword{i}q".encode()) for i in range(ROOM)]
    assert abs(statistics.correlation(list(range(ROOM)), _rank(offsets))) < 0.8
