"""Data rights (issue 5): find a person, export, erase, retention, backup, and `cop data`.

RELIABILITY.md test table rows 16 (erasure of one person) and 17 (export and retention).
"""

import argparse
import csv
import html
import json
import os
import sqlite3
import stat
import subprocess
import sys
import types
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select, text, update

from cop_widgets.cli import data as cli_data
from cop_widgets.cli import main as cop_main
from cop_widgets.content.protocols import load_protocols
from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import (
    discussions,
    erasure,
    people,
    person_export,
    person_tables,
    reflections,
    retention,
)
from cop_widgets.services.identity import current_person, find_or_add_person
from cop_widgets.store import maintenance, schema
from tests.conftest import REPO

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


def _tag(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex}"


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
    x_entries = _library(store, x, y, c, o)
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
    )


def _library(store, x, y, c: dict, o: dict) -> list[str]:
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
    return [mine.id]


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


def test_every_table_of_the_schema_is_covered():
    """A new table must be added to export and erasure (data_rights.PERSON_TABLES) on purpose."""
    assert set(schema.metadata.tables) == set(person_tables.PERSON_TABLES) | set(
        person_tables.GROUP_TABLES
    ) | set(person_tables.SYSTEM_TABLES) | {"schema_migrations"}


# -- find_person ---------------------------------------------------------------------------------


def test_find_person_by_id_name_in_any_case_and_hub_user(store, world):
    assert people.find_person(store, world.x.id) == world.x
    assert people.find_person(store, "  xÓCHITL 🌵 ") == world.x
    assert people.find_person(store, "local:XÓCHITL 🌵") == world.x
    hub = current_person(store, {"JUPYTERHUB_USER": "jo"})
    assert people.find_person(store, "hub:jo") == hub
    assert people.find_person(store, "jo") == hub


def test_find_person_says_clearly_when_none_or_several_match(store, world):
    with pytest.raises(RecordNotFound, match="No person matches 'nobody'"):
        people.find_person(store, "nobody")
    with pytest.raises(InvalidInput, match="Name the person"):
        people.find_person(store, "   ")
    local = find_or_add_person(store, "Sam")
    hub = current_person(store, {"JUPYTERHUB_USER": "sam"})
    with pytest.raises(InvalidInput, match="matches 2 people") as err:
        people.find_person(store, "SAM")
    assert local.id in str(err.value) and hub.id in str(err.value)
    assert people.find_person(store, "hub:sam") == hub
    assert people.find_person(store, "local:sam") == local


# -- export --------------------------------------------------------------------------------------


def test_export_holds_all_of_x_and_nothing_of_anyone_else(store, world):
    x_key = X_NAME.casefold()
    before = snapshot(store)
    export = person_export.export_person(store, world.x.id)
    assert export["person_id"] == world.x.id
    assert set(export["tables"]) == set(person_tables.PERSON_TABLES)
    for name in person_tables.PERSON_TABLES:
        table = schema.metadata.tables[name]
        exported = {_pk(table, types.SimpleNamespace(_mapping=r)) for r in export["tables"][name]}
        with store.read() as conn:
            rows = conn.execute(select(table)).all()
        mine = {_pk(table, r) for r in rows if is_x(name, r, world, x_key)}
        if name == "audit_event":  # the export's own event is written after the read
            mine = {k for k in mine if k in before["audit_event"]}
        assert exported == mine, name  # 100% of X's rows, and only those
    t = export["tables"]
    assert {r["id"] for r in t["reflection"]} == set(world.x_reflections)
    assert {r["id"] for r in t["discussion_note"]} == set(world.x_notes)
    assert {r["id"] for r in t["discussion_action"]} == set(world.x_actions)
    assert {r["id"] for r in t["feedback"]} == {world.feedback_on_x, world.feedback_by_x}
    assert {r["id"] for r in t["discussion"]} == {world.shared_discussion, world.solo_discussion}
    assert [(r["discussion_id"], r["role_id"]) for r in t["discussion_role"]] == [
        (world.y_discussion, "note_taker")
    ]
    assert len(t["supervision"]) == 2 and len(t["audit_event"]) >= 5
    text = json.dumps(export, ensure_ascii=False)
    for canary in world.canaries.values():
        if canary != world.canaries["draft"]:  # rewritten away before the export
            assert canary in text
    for plant in world.others.values():
        assert plant not in text
    assert "Yan" not in text and "Zeynep" not in text  # others appear by id only


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _as_csv(value) -> str:
    """Independent of the code under test: what the CSV cell must hold."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if isinstance(value, str) and text[:1] in "=+-@\t\r" and text else text


def test_export_files_round_trip_byte_identical(store, world, tmp_path):
    export = person_export.export_person(store, world.x.id)
    files = person_export.write_export(export, tmp_path / "exports")
    folder = tmp_path / "exports" / world.x.id
    assert {p.name for p in files} == {"export.json"} | {
        f"{n}.csv" for n in person_tables.PERSON_TABLES
    }
    assert all(p.parent == folder for p in files)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    raw = (folder / "export.json").read_bytes()
    assert json.loads(raw.decode("utf-8")) == json.loads(json.dumps(export))
    assert UNICODE.encode("utf-8")[:40] in raw  # written as UTF-8, not \u escapes
    texts = [a["text"] for a in export["tables"]["reflection_answer"]]
    assert UNICODE in texts and any(UNICODE in s for s in texts)
    for name, rows in export["tables"].items():
        back = _csv_rows(folder / f"{name}.csv")
        header = person_export.export_columns(name, rows)
        assert len(back) == len(rows)
        for original, read in zip(rows, back, strict=True):
            assert list(read) == header
            for col in header:
                assert read[col].encode("utf-8") == _as_csv(original[col]).encode("utf-8")
    # Written again (e.g. a second request): same bytes, keys in a stable order.
    export2 = dict(export)
    person_export.write_export(export2, tmp_path / "exports")
    assert (folder / "export.json").read_bytes() == raw


def test_csv_export_cells_never_start_a_spreadsheet_formula(store, world, tmp_path):
    """Answers that a spreadsheet would run: the person's own export, written by write_export."""
    formulas = ['=HYPERLINK("http://x","click")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]
    export = person_export.export_person(store, world.x.id)
    export["tables"]["reflection_answer"] = [
        {**export["tables"]["reflection_answer"][0], "text": f} for f in formulas
    ]
    person_export.write_export(export, tmp_path / "exports")
    folder = tmp_path / "exports" / world.x.id
    cells = [r["text"] for r in _csv_rows(folder / "reflection_answer.csv")]
    assert cells == ["'" + f for f in formulas]
    kept = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    assert [a["text"] for a in kept["tables"]["reflection_answer"]] == formulas  # exact


def test_export_is_audited_and_unknown_person_refused(store, world):
    person_export.export_person(store, world.x.id)
    with store.read() as conn:
        last = conn.execute(
            select(schema.audit_event).order_by(schema.audit_event.c.seq.desc())
        ).first()
    assert (last.action, last.target_id, last.actor_id) == ("person_exported", world.x.id, None)
    with pytest.raises(RecordNotFound):
        person_export.export_person(store, "no-such-id")
    with pytest.raises(InvalidInput):
        person_export.write_export({"person_id": "../etc", "tables": {}}, "/tmp/x")


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


@pytest.mark.parametrize("build_default", ["ON", "OFF"])
def test_erasure_leaves_no_row_and_no_byte_of_x(store, rolfe, build_default):
    _ordinary_secure_delete(store, build_default)
    w = seed(store, rolfe)
    x_key = X_NAME.casefold()
    needles = [*w.canaries.values(), X_NAME]
    assert scan(_db_path(store), needles) != {"db": [], "-wal": [], "-shm": []}
    before = snapshot(store)
    x_rows = {
        name: {
            k
            for k, v in rows.items()
            if is_x(name, _Row(schema.metadata.tables[name], v), w, x_key)
        }
        for name, rows in before.items()
    }

    counts = erasure.erase_person(store, w.x.id)

    after = snapshot(store)
    # The bytes: nothing in the database file, its -wal (truncated) or its -shm (an index).
    assert scan(_db_path(store), needles) == {"db": [], "-wal": [], "-shm": []}
    assert Path(f"{_db_path(store)}-wal").stat().st_size == 0
    assert counts["vacuumed"] == 1 and counts["wal_truncated"] == 1
    # The rows: no column that holds a person id holds X's (the audit log is never changed).
    for table, column in person_columns():
        if table.name != "audit_event":
            with store.read() as conn:
                n = conn.execute(select(column).where(column == w.x.id)).all()
            assert n == [], f"{table.name}.{column.name}"
    for name, rows in after.items():
        if name == "audit_event":
            continue
        for value in rows.values():
            dumped = repr(value)
            assert w.x.id not in dumped and X_NAME not in dumped, name
            assert not any(c in dumped for c in w.canaries.values()), name
            assert not any(r in dumped for r in w.x_reflections), name
    # Everyone else's rows: all still there and unchanged, except the shared discussion.
    placeholder = [k for k, v in after["person"].items() if v[1] == erasure.ERASED_KEY]
    assert len(placeholder) == 1
    for name, rows in before.items():
        others = {k: v for k, v in rows.items() if k not in x_rows[name]}
        kept = dict(after[name])
        if name == "person":
            kept.pop(placeholder[0])
        if name == "discussion":
            blanked = _Row(schema.discussion, kept.pop((w.shared_discussion,)))._mapping
            assert blanked["case_summary"] == "" and blanked["content_note"] == ""
            assert blanked["facilitator_id"] == placeholder[0][0]
        if name == "audit_event":
            assert list(kept.values())[:-1] == list(rows.values())
            tomb = _Row(schema.audit_event, list(kept.values())[-1])._mapping
            assert (tomb["action"], tomb["target_kind"], tomb["target_id"]) == (
                "person_erased",
                "person",
                w.x.id,
            )
            assert tomb["actor_id"] is None and tomb["outcome"] == "ok"
            continue
        assert kept == others, name
    deleted = {n: len(x_rows[n]) for n in person_tables.PERSON_TABLES if n != "audit_event"}
    deleted["discussion"] -= 1  # the shared one is kept
    assert {k: counts[k] for k in deleted} == deleted
    assert counts[erasure.DISCUSSION_KEPT] == 1
    # The shared discussion still works for the others.
    assert discussions.get(store, w.y, w.shared_discussion).case_summary == ""
    assert [n.author_id for n in discussions.notes(store, w.y, w.shared_discussion)] == [w.y.id]
    assert discussions.ratings(store, w.y, w.shared_discussion, "scale") == [6]
    listed = {d.id: d.facilitator_name for d in discussions.list_discussions(store, w.y)}
    assert listed[w.shared_discussion] == erasure.ERASED_NAME
    assert w.solo_discussion not in listed


class _Row:
    """A snapshot tuple seen as a row (for is_x and field access)."""

    def __init__(self, table, values):
        self._mapping = dict(zip([c.name for c in table.columns], values, strict=True))


@pytest.mark.parametrize("vacuum", [False, True])
def test_without_vacuum_an_older_version_can_survive(store, rolfe, vacuum):
    """Why erase_person VACUUMs: secure_delete zeroes only what the erasure itself frees. With a
    SQLite built without SECURE_DELETE (most builds), an earlier version of a draft, freed by an
    ordinary save, can stay in the file's free space; only VACUUM rewrites it away."""
    _ordinary_secure_delete(store, "OFF")
    x, y = find_or_add_person(store, "Xena"), find_or_add_person(store, "Yan")
    canary, rid = _tag("old-version"), str(uuid.uuid4())
    reflections.save_draft(store, x, rid, rolfe, {"what": reflections.Answer(f"{canary} first go")})
    for _ in range(5):
        reflections.save_draft(
            store, y, str(uuid.uuid4()), rolfe, {"what": reflections.Answer("other " * 10)}
        )
    reflections.save_draft(
        store, x, rid, rolfe, {"what": reflections.Answer("rewritten entirely. " + "w" * 300)}
    )
    for _ in range(3):
        reflections.save_draft(
            store, y, str(uuid.uuid4()), rolfe, {"what": reflections.Answer("other " * 10)}
        )

    counts = erasure.erase_person(store, x.id, vacuum=vacuum)

    left = scan(_db_path(store), [canary])
    assert left["-wal"] == left["-shm"] == [] and counts["wal_truncated"] == 1
    if vacuum:
        assert left["db"] == [] and counts["vacuumed"] == 1
    elif not left["db"]:
        pytest.skip("this SQLite reused the freed space; there is no stale copy to show")
    else:
        assert left["db"] == [canary]  # the current version was zeroed, the old one was not


def test_placeholder_is_made_once_and_cannot_be_erased(store, world, rolfe):
    erasure.erase_person(store, world.x.id)
    # Y started a discussion Z took part in; erasing Y reuses the same placeholder.
    d = discussions.start_discussion(
        store, world.y, MAPPING, "another", roles={"participant": ["Zeynep"]}
    )
    discussions.rate(store, world.z, d.id, SCALE, 3)
    erasure.erase_person(store, world.y.id)
    with store.read() as conn:
        rows = conn.execute(
            select(schema.person.c.id).where(schema.person.c.identity_key == erasure.ERASED_KEY)
        ).all()
    assert len(rows) == 1
    assert discussions.get(store, world.z, d.id).facilitator_id == rows[0].id
    with pytest.raises(InvalidInput, match="placeholder"):
        erasure.erase_person(store, rows[0].id)
    with pytest.raises(RecordNotFound):
        erasure.erase_person(store, world.x.id)


def test_erasure_preview_counts_what_erasure_then_removes(store, world):
    before = snapshot(store)
    preview = erasure.erasure_preview(store, world.x.id)
    assert snapshot(store) == before
    counts = erasure.erase_person(store, world.x.id)
    assert {k: counts[k] for k in preview} == preview


def test_a_role_name_shared_with_someone_else_is_left_alone(store, world):
    """Roles are held by name: when two people share X's name the role row may be the other's."""
    twin = current_person(store, {"JUPYTERHUB_USER": X_NAME})
    assert twin.display_name.casefold() == X_NAME.casefold()
    erasure.erase_person(store, world.x.id)
    assert discussions.get(store, world.y, world.y_discussion).holders("note_taker") == [X_NAME]


# -- retention -----------------------------------------------------------------------------------


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _age(store, table, key, days: float, **where):
    stamp = (NOW - timedelta(days=days)).isoformat(timespec="microseconds")
    with store.write() as conn:
        conn.execute(
            update(table).where(*[table.c[k] == v for k, v in where.items()]).values({key: stamp})
        )


def test_retention_deletes_every_expired_row_and_no_other(store, world):
    w = world
    ages = {w.x_reflections[0]: 400, w.x_reflections[1]: 31, w.y_reflection: 30, w.z_reflection: 5}
    for rid, days in ages.items():
        _age(store, schema.reflection, "updated_at", days, id=rid)
    with store.read() as conn:
        notes = conn.execute(select(schema.discussion_note.c.id)).scalars().all()
    note_ages = {nid: (100 if i % 2 else 59.99) for i, nid in enumerate(sorted(notes))}
    for nid, days in note_ages.items():
        _age(store, schema.discussion_note, "updated_at", days, id=nid)
    before = snapshot(store)

    periods = {"reflections": 30, "discussion_notes": 60}
    preview = retention.apply_retention(store, periods, NOW, dry_run=True)
    assert snapshot(store) == before
    counts = retention.apply_retention(store, periods, NOW)
    assert counts == {**preview, **{k: counts[k] for k in ("vacuumed", "wal_truncated")}}

    after = snapshot(store)
    expired_refl = {r for r, d in ages.items() if d > 30}  # exactly 30 days is kept
    assert {k[0] for k in after["reflection"]} == set(ages) - expired_refl
    assert {k[0] for k in after["reflection_answer"]} == set(ages) - expired_refl
    for name in ("feedback", "review"):
        table = schema.metadata.tables[name]
        refl_of = {k: _Row(table, v)._mapping["reflection_id"] for k, v in before[name].items()}
        assert set(after[name]) == {k for k, r in refl_of.items() if r not in expired_refl}
    assert {k[0] for k in after["discussion_note"]} == {n for n, d in note_ages.items() if d < 60}
    assert counts["reflection"] == 2 and counts["discussion_note"] == len(notes) // 2
    for name in ("person", "discussion", "discussion_action", "discussion_rating", "supervision"):
        assert after[name] == before[name]
    new_audit = [v for k, v in after["audit_event"].items() if k not in before["audit_event"]]
    assert [(a[3], a[4], a[5], a[2]) for a in new_audit] == [
        ("retention_applied", "store", None, None)
    ]


def test_retention_keeps_forever_when_unset_and_refuses_zero(store, world):
    before = snapshot(store)
    far = NOW + timedelta(days=100_000)
    counts = retention.apply_retention(
        store, {c.name: None for c in retention.RETENTION_CLASSES}, far
    )
    assert set(counts.values()) == {0}
    after = snapshot(store)
    assert {k: v for k, v in after.items() if k != "audit_event"} == {
        k: v for k, v in before.items() if k != "audit_event"
    }
    for bad in (0, -3):
        for cls in retention.RETENTION_CLASSES:
            with pytest.raises(InvalidInput, match="at least 1 day"):
                retention.apply_retention(store, {cls.name: bad}, NOW)


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "whole number"), ("0", "at least 1"), ("-5", "at least 1"), ("1.5", "whole number")],
)
def test_retention_settings_name_the_variable(value, message):
    for cls in retention.RETENTION_CLASSES:
        with pytest.raises(InvalidInput, match=message) as err:
            cli_data.retention_days({cls.env: value})
        assert cls.env in str(err.value)
    assert set(cli_data.retention_days({}).values()) == {None}
    got = cli_data.retention_days({"COP_RETAIN_REFLECTIONS_DAYS": " 90 "})
    assert got["reflections"] == 90 and got["discussion_notes"] is None


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


def test_retention_covers_every_class_of_personal_data(store):
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.content.session_items import load_item_sets
    from cop_widgets.services import checkins, directory, sessions
    from tests.conftest import REPO

    ana = find_or_add_person(store, "Ana")
    cop = sessions.create_community(store, ana, "CoP")
    held = sessions.plan_session(store, ana, cop.id, NOW - timedelta(days=400), "Long ago")
    with store.write() as conn:  # joined back then (the code has long expired)
        conn.execute(insert(schema.attendance).values(session_id=held.id, person_id=ana.id,
                                                 joined_at=held.starts_at.isoformat()))  # fmt: skip
    checkout = load_item_sets(REPO / "data" / "session_items")[0]["checkout"]
    checkins.submit_answers(store, ana, held.id, checkout, {
        "one_word": "canary-word", "commitment": "canary-commitment", "debrief": "canary-debrief",
        "useful": 4,
    })  # fmt: skip
    d = discussions.start_discussion(store, ana, load_protocols(REPO / "data" / "protocols").get(
        "consultancy"), "canary-summary", "canary-note")  # fmt: skip
    discussions.add_action(store, ana, d.id, "canary-action", "Ana", None)
    directory.save_profile(store, ana, True, "canary-offers", "canary-wants")
    for table, key in (
        (schema.discussion, "updated_at"),
        (schema.discussion_action, "created_at"),
        (schema.commitment, "created_at"),
        (schema.member_profile, "updated_at"),
    ):
        _age(store, table, key, 400)  # fmt: skip
    with store.write() as conn:
        conn.execute(update(schema.session_response).values(answered_on="2025-01-01"))
        old_audit = conn.execute(select(func.count()).select_from(schema.audit_event)).scalar()
        conn.execute(text("DROP TRIGGER audit_event_no_update"))
        conn.execute(update(schema.audit_event).values(at="2019-01-01T00:00:00.000000+00:00"))
        conn.execute(text(
            "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        ))  # fmt: skip

    def dump() -> str:
        with store.read() as conn:
            return " ".join(
                str(row) for t in schema.metadata.sorted_tables for row in conn.execute(select(t))
            )

    assert all(f"canary-{w}" in dump() for w in ("summary", "action", "word", "debrief",
                                                  "commitment", "offers"))  # fmt: skip
    periods = {c.name: 365 for c in retention.RETENTION_CLASSES if c.name != "audit"} | {"audit": 5}
    counts = retention.apply_retention(store, periods, NOW)
    after = dump()
    assert not any(f"canary-{w}" in after for w in ("summary", "note", "action", "word", "debrief",
                                                    "commitment", "offers", "wants"))  # fmt: skip
    assert counts["discussion blanked"] == 1 and counts["discussion_action"] == 1
    assert counts["audit_event"] == old_audit
    with store.read() as conn:  # scores and the discussion itself stay; the audit has one event
        assert conn.execute(select(schema.session_response.c.value_int).where(
            schema.session_response.c.value_int.is_not(None))).scalars().all() == [4]  # fmt: skip
        assert conn.execute(select(schema.discussion.c.id)).scalars().all() == [d.id]
        actions = conn.execute(select(schema.audit_event.c.action)).scalars().all()
    assert actions == ["retention_applied"]
    with pytest.raises(Exception, match="append-only"):  # the guard is back
        with store.write() as conn:
            conn.execute(text("DELETE FROM audit_event"))


def test_erasure_takes_their_name_off_actions_others_recorded(store):
    from cop_widgets.content.protocols import load_protocols
    from tests.conftest import REPO

    pat, nadia = find_or_add_person(store, "Pat"), find_or_add_person(store, "Nadia Nguyen")
    consultancy = load_protocols(REPO / "data" / "protocols").get("consultancy")
    d = discussions.start_discussion(store, pat, consultancy, "A case.")
    discussions.add_action(store, pat, d.id, "Call the school", "nadia nguyen", None)
    discussions.add_action(store, pat, d.id, "Book the room", "Pat", None)
    counts = erasure.erase_person(store, nadia.id, vacuum=False)
    assert counts[erasure.OWNER_REPLACED] == 1
    owners = {a.description: a.owner for a in discussions.actions(store, pat, d.id)}
    assert owners == {"Call the school": erasure.ERASED_NAME, "Book the room": "Pat"}
    # a new person of the same name inherits nothing
    again = find_or_add_person(store, "Nadia Nguyen")
    assert again.id != nadia.id and "Nadia" not in " ".join(owners.values())
