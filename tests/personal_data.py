"""A world of two people's data for the data-rights tests (export, erasure, retention, backup and
`cop data`): who owns which row, snapshots of every table, scans of the store's bytes.

RELIABILITY.md test table rows 16 (erasure of one person) and 17 (export and retention).
"""

import argparse
import csv
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select, update

from cop_widgets.cli import data as cli_data
from cop_widgets.content.protocols import load_protocols
from cop_widgets.services import (
    discussions,
    reflections,
    retention,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import schema

REPO = Path(__file__).resolve().parent.parent
PROTOCOLS = load_protocols(REPO / "data" / "protocols")
MAPPING = PROTOCOLS.get("three_column_mapping")
SCALE = MAPPING.phase("scale")

# Everything a person may type that must come back byte for byte (export) ...
UNICODE = (
    "👩🏽‍⚕️ met 👨‍👩‍👧‍👦 🇦🇺 · قالت الأم إنها متعبة · האם אמרה · e\u0301 cafe\u0301 caf\u00e9 · "
    "中文 한국어 · zero\u200bwidth\u200d · \u202ereversed\u202c · 𝔘𝔫𝔦 · tab\tnew\nline\r\n"
    'CR\r "quoted", comma; =1+1'
)
X_NAME = "Xóchitl 🌵"


# A uuid's hex with its digits as letters: a hex that starts with a run of digits such as
# "0833154199" reads as a phone number (CI met one), and the de-identification check then
# refuses the text.
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


def _tag(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex.translate(_NO_DIGITS)}"


@dataclass
class World:
    x: object
    y: object
    z: object
    x_reflections: list[str]
    y_reflection: str
    z_reflection: str
    shared_discussion: str  # started by X, others took part
    y_discussion: str  # started by Y, X takes notes
    solo_discussion: str  # started by X, nobody else
    x_notes: list[str]
    x_actions: list[str]
    feedback_on_x: str
    feedback_by_x: str
    feedback_y_on_z: str
    canaries: dict[str, str] = field(default_factory=dict)  # X's text, must vanish on erasure
    others: dict[str, str] = field(default_factory=dict)  # others' text, never in X's export
    x_entries: list[str] = field(default_factory=list)  # X's practice library entries
    x_questions: list[str] = field(default_factory=list)  # X's questions between sessions
    y_answer_on_x: str = ""  # Y's answer to X's question: erased with X's question, not exported


def seed(store, rolfe) -> World:
    """Three people; X has a bit of everything, Y and Z have text that is not X's."""
    c = {k: _tag(k) for k in ("answer", "draft", "note", "summary", "content", "feedback")}
    o = {k: _tag(k) for k in ("y_answer", "z_answer", "y_note", "y_action", "y_feedback")}
    fb_text = _tag("feedback_about_x")
    x, y, z = (
        find_or_add_person(store, X_NAME),
        find_or_add_person(store, "Yan"),
        find_or_add_person(store, "Zeynep"),
    )
    r1, r2, ry, rz = (str(uuid.uuid4()) for _ in range(4))
    # X's draft first holds a canary, then is rewritten (longer) without it: the old version
    # is freed space in the file (see test_without_vacuum_an_older_version_can_survive).
    reflections.save_draft(
        store, x, r2, rolfe, {"what": reflections.Answer(f"{c['draft']} first go")}
    )
    reflections.submit(
        store,
        x,
        r1,
        rolfe,
        {
            "what": reflections.Answer(f"{c['answer']} {UNICODE}"),
            "so_what": reflections.Answer(UNICODE),
            "now_what": reflections.Answer(passed=True),
        },
    )
    reflections.save_draft(
        store, y, ry, rolfe, {"what": reflections.Answer(f"{o['y_answer']} mine")}
    )
    reflections.save_draft(
        store, z, rz, rolfe, {"what": reflections.Answer(f"{o['z_answer']} mine")}
    )
    reflections.save_draft(
        store, x, r2, rolfe, {"what": reflections.Answer("rewritten entirely. " + "w" * 300)}
    )

    shared = discussions.start_discussion(
        store,
        x,
        MAPPING,
        f"A worker's case; {c['summary']}",
        c["content"],
        {"note_taker": ["Yan"], "participant": ["Zeynep"]},
    )
    n1, n_y = str(uuid.uuid4()), str(uuid.uuid4())
    discussions.save_note(
        store, x, n1, shared.id, "map", f"{c['note']} {UNICODE}", column_id="worries"
    )
    discussions.save_note(store, y, n_y, shared.id, "map", o["y_note"], column_id="working_well")
    a1 = discussions.add_action(store, x, shared.id, "X's action", "Presenter", None)
    discussions.add_action(store, y, shared.id, o["y_action"], "Yan", None)
    discussions.rate(store, x, shared.id, SCALE, 4)
    discussions.rate(store, z, shared.id, SCALE, 6)

    theirs = discussions.start_discussion(
        store, y, MAPPING, "Y's case", roles={"note_taker": [X_NAME]}
    )
    n2 = str(uuid.uuid4())
    discussions.save_note(store, x, n2, theirs.id, "map", "X's note in Y's discussion")
    discussions.save_note(store, y, str(uuid.uuid4()), theirs.id, "map", "Y's own note")
    discussions.rate(store, x, theirs.id, SCALE, 7)

    solo = discussions.start_discussion(store, x, MAPPING, "X's solo case")
    n3 = str(uuid.uuid4())
    discussions.save_note(store, x, n3, solo.id, "purpose", "only X was here")
    a3 = discussions.add_action(store, x, solo.id, "solo action", "X", None)

    at = "2026-05-01T09:00:00.000000+00:00"
    fb_on_x, fb_by_x, fb_y_z = (str(uuid.uuid4()) for _ in range(3))
    bank = {"kind": "strength", "created_at": at}
    rows = {
        schema.person_role: [
            {"person_id": x.id, "role": "practitioner"},
            {"person_id": x.id, "role": "supervisor"},
            {"person_id": y.id, "role": "supervisor"},
        ],
        schema.supervision: [
            {"supervisor_id": y.id, "supervisee_id": x.id},
            {"supervisor_id": x.id, "supervisee_id": z.id},
            {"supervisor_id": y.id, "supervisee_id": z.id},
        ],
        schema.supervisor_preference: [
            {"supervisor_id": x.id, "anonymised": True},
            {"supervisor_id": y.id, "anonymised": False},
        ],
        schema.comment_bank: [
            {"id": str(uuid.uuid4()), "supervisor_id": x.id, "text": "X's comment", **bank},
            {"id": str(uuid.uuid4()), "supervisor_id": y.id, "text": "Y's comment", **bank},
        ],
        schema.review: [
            {"reflection_id": r1, "supervisor_id": y.id, "depth_level": "dialogic_reflection"},
            {"reflection_id": rz, "supervisor_id": x.id, "depth_level": None},
            {"reflection_id": rz, "supervisor_id": y.id, "depth_level": None},
        ],
        schema.feedback: [
            {"id": fb_on_x, "reflection_id": r1, "supervisor_id": y.id, "text": fb_text},
            {
                "id": fb_by_x,
                "reflection_id": rz,
                "supervisor_id": x.id,
                "text": f"{c['feedback']} {UNICODE}",
            },
            {"id": fb_y_z, "reflection_id": rz, "supervisor_id": y.id, "text": o["y_feedback"]},
        ],
    }
    with store.write() as conn:
        for table, values in rows.items():
            extra = {"created_at": at} if table in (schema.review, schema.feedback) else {}
            if table is schema.feedback:
                extra["kind"] = "deepening_question"
            conn.execute(insert(table), [{**v, **extra} for v in values])
    x_entries, cop_id = _library(store, x, y, c, o)
    x_questions, y_answer_on_x = _questions(store, x, y, cop_id, c, o)
    return World(
        x=x,
        y=y,
        z=z,
        x_reflections=[r1, r2],
        y_reflection=ry,
        z_reflection=rz,
        shared_discussion=shared.id,
        y_discussion=theirs.id,
        solo_discussion=solo.id,
        x_notes=[n1, n2, n3],
        x_actions=[a1.id, a3.id],
        feedback_on_x=fb_on_x,
        feedback_by_x=fb_by_x,
        feedback_y_on_z=fb_y_z,
        canaries=c,
        others=o,
        x_entries=x_entries,
        x_questions=x_questions,
        y_answer_on_x=y_answer_on_x,
    )


def _library(store, x, y, c: dict, o: dict) -> tuple[list[str], str]:
    """Y's open community: X joins, writes an entry (then revises it), endorses and comments on
    Y's entry, and asks to join a community that is by request."""
    from cop_widgets.services import library, membership, sessions

    c["library"], c["comment"] = _tag("library"), _tag("comment")
    o["y_entry"] = _tag("y_entry")
    cop = sessions.create_community(store, y, "Yan's CoP")
    membership.set_join_policy(store, y, cop.id, "open", True)
    membership.join(store, x, cop.id)
    membership.request_to_join(store, x, sessions.create_community(store, y, "By request").id)
    mine = library.contribute(
        store, x, str(uuid.uuid4()), cop.id, "story", "X's story",
        f"{c['library']} {UNICODE}", free_tags="fathers", confirmed=True,
    )  # fmt: skip
    library.revise(store, x, mine.id, "story", "X's story", f"{c['library']} and more",
             expected_revision=1, free_tags="fathers, groups")  # fmt: skip
    theirs = library.contribute(
        store, y, str(uuid.uuid4()), cop.id, "tool", "Y's tool", o["y_entry"]
    )
    library.endorse(store, x, theirs.id)
    library.add_comment(store, x, str(uuid.uuid4()), theirs.id, c["comment"])
    return [mine.id], cop.id


def _questions(store, x, y, cop_id: str, c: dict, o: dict) -> tuple[list[str], str]:
    """In Y's community: X asks a question, which Y answers; X answers Y's question, and Y
    marks that answer as one that helped."""
    from cop_widgets.services import questions

    c["question"], c["q_answer"] = _tag("question"), _tag("q_answer")
    o["y_question"] = _tag("y_question")
    mine = questions.ask(
        store, x, str(uuid.uuid4()), cop_id, "X's question", f"{c['question']} {UNICODE}",
        confirmed=True,
    )  # fmt: skip
    theirs = questions.ask(store, y, str(uuid.uuid4()), cop_id, "Y's question", o["y_question"])
    answer = questions.answer(store, x, str(uuid.uuid4()), theirs.id, c["q_answer"])
    questions.mark_helped(store, y, answer.id)
    # (not among `o`, the text that stays: it goes with X's question)
    on_x = questions.answer(store, y, str(uuid.uuid4()), mine.id, "Y's answer to X")
    return [mine.id], on_x.id


@pytest.fixture
def world(store, rolfe) -> World:
    return seed(store, rolfe)


# -- what the test itself counts as X's (independent of data_rights.ownership) ----------------


def _pk(table, row) -> tuple:
    return tuple(row._mapping[c.name] for c in table.primary_key.columns)


def is_x(table_name: str, row, w: World, x_key: str) -> bool:
    m, xid = row._mapping, w.x.id
    refl = set(w.x_reflections)
    return {
        "person": lambda: m["id"] == xid,
        "reflection": lambda: m["person_id"] == xid,
        "reflection_answer": lambda: m["reflection_id"] in refl,
        "feedback": lambda: m["reflection_id"] in refl or m["supervisor_id"] == xid,
        "review": lambda: m["reflection_id"] in refl or m["supervisor_id"] == xid,
        "discussion": lambda: m["facilitator_id"] == xid,
        "discussion_role": lambda: m["holder_key"] == x_key,
        "discussion_note": lambda: m["author_id"] == xid,
        "discussion_action": lambda: m["created_by"] == xid,
        "discussion_rating": lambda: m["person_id"] == xid,
        "person_role": lambda: m["person_id"] == xid,
        "supervision": lambda: xid in (m["supervisor_id"], m["supervisee_id"]),
        "supervisor_preference": lambda: m["supervisor_id"] == xid,
        "comment_bank": lambda: m["supervisor_id"] == xid,
        "audit_event": lambda: m["actor_id"] == xid,
        "community": lambda: False,
        "community_member": lambda: m["person_id"] == xid,
        "membership_request": lambda: m["person_id"] == xid,
        "library_entry": lambda: m["author_id"] == xid,
        "library_revision": lambda: m["entry_id"] in w.x_entries,
        "library_tag": lambda: m["entry_id"] in w.x_entries,
        "library_endorsement": lambda: m["person_id"] == xid,
        "library_comment": lambda: m["author_id"] == xid,
        "question": lambda: m["asker_id"] == xid,
        "question_answer": lambda: m["author_id"] == xid,
        "schema_migrations": lambda: False,
    }[table_name]()


def snapshot(store) -> dict[str, dict[tuple, tuple]]:
    """Every row of every table, by primary key."""
    with store.read() as conn:
        return {
            t.name: {_pk(t, r): tuple(r) for r in conn.execute(select(t)).all()}
            for t in schema.metadata.sorted_tables
        }


def person_columns():
    """(table, column) pairs that hold a person id, found from the schema's foreign keys."""
    out = []
    for t in schema.metadata.sorted_tables:
        for c in t.columns:
            if (
                any(fk.column is schema.person.c.id for fk in c.foreign_keys)
                or c is schema.person.c.id
            ):
                out.append((t, c))
    return out


def scan(db_path: Path, needles: list[str]) -> dict[str, list[str]]:
    """Which needles occur in the raw bytes of the database file, its -wal and its -shm."""
    found = {}
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db_path}{suffix}")
        data = path.read_bytes() if path.exists() else b""
        found[suffix or "db"] = [n for n in needles if n.encode("utf-8") in data]
    return found


# -- find_person ---------------------------------------------------------------------------------


# -- export --------------------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _as_csv(value) -> str:
    """Independent of the code under test: what the CSV cell must hold."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if isinstance(value, str) and text[:1] in "=+-@\t\r" and text else text


# -- erasure -------------------------------------------------------------------------------------


def _ordinary_secure_delete(store, value: str) -> None:
    """Make every ordinary connection use this secure_delete setting, as a SQLite build would
    by default: Debian's libsqlite3 is compiled with SQLITE_SECURE_DELETE (on), python.org's
    and most others are not (off)."""

    @event.listens_for(store.engine, "connect")
    def _set(dbapi_conn, _record):
        dbapi_conn.execute(f"PRAGMA secure_delete = {value}")

    store.engine.dispose()


def _db_path(store) -> Path:
    return Path(store.engine.url.database)


class _Row:
    """A snapshot tuple seen as a row (for is_x and field access)."""

    def __init__(self, table, values):
        self._mapping = dict(zip([c.name for c in table.columns], values, strict=True))


# -- retention -----------------------------------------------------------------------------------


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _age(store, table, key, days: float, **where):
    stamp = (NOW - timedelta(days=days)).isoformat(timespec="microseconds")
    with store.write() as conn:
        conn.execute(
            update(table).where(*[table.c[k] == v for k, v in where.items()]).values({key: stamp})
        )


# -- backup --------------------------------------------------------------------------------------


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as raw:
        return raw.execute("PRAGMA integrity_check").fetchone()[0]


def _counts_of(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as raw:
        return {
            t.name: raw.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]  # noqa: S608
            for t in schema.metadata.sorted_tables
        }


WRITER = """
import sys, uuid
from pathlib import Path
from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.services import reflections as R
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import open_store
data = Path(sys.argv[1])
store = open_store(Settings(data, f"sqlite:///{data / 'cop.sqlite'}", 5000))
fw = load_frameworks(data / "frameworks").get("rolfe-2001")
who = find_or_add_person(store, "Writer")
print("ready", flush=True)
while True:
    R.save_draft(store, who, str(uuid.uuid4()), fw,
                 {"what": R.Answer("w" * 2000), "so_what": R.Answer("s" * 500)})
"""


# -- `cop data ...` ------------------------------------------------------------------------------


@pytest.fixture
def cop_data(monkeypatch, data_dir, store):
    """Run a `cop data` sub-command in this process, on the same store as the `store` fixture."""
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    for var in ("COP_DATABASE_URL", *(c.env for c in retention.RETENTION_CLASSES)):
        monkeypatch.delenv(var, raising=False)
    parser = argparse.ArgumentParser(prog="cop")
    cli_data.add_data_commands(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> int:
        args = parser.parse_args(["data", *argv])
        return args.func(args)

    return run
