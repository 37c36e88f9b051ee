"""Erasing a person leaves no row and no byte of theirs (services/erasure.py; RELIABILITY.md test
table row 16)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from cop_widgets.content.protocols import load_protocols
from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import (
    discussions,
    erasure,
    person_tables,
    reflections,
)
from cop_widgets.services.identity import current_person, find_or_add_person
from cop_widgets.store import schema
from tests.conftest import REPO
from tests.personal_data import (
    MAPPING,
    SCALE,
    X_NAME,
    _db_path,
    _ordinary_secure_delete,
    _Row,
    _tag,
    is_x,
    person_columns,
    scan,
    seed,
    snapshot,
)


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
        if name == "question_answer":  # Y's answer went with X's question
            assert (w.y_answer_on_x,) not in kept
            others.pop((w.y_answer_on_x,))
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
    deleted["question_answer"] += 1  # Y's answer to X's question, with it
    assert {k: counts[k] for k in deleted} == deleted
    assert counts[erasure.DISCUSSION_KEPT] == 1
    # The shared discussion still works for the others.
    assert discussions.get(store, w.y, w.shared_discussion).case_summary == ""
    assert [n.author_id for n in discussions.notes(store, w.y, w.shared_discussion)] == [w.y.id]
    assert discussions.ratings(store, w.y, w.shared_discussion, "scale") == [6]
    listed = {d.id: d.facilitator_name for d in discussions.list_discussions(store, w.y)}
    assert listed[w.shared_discussion] == erasure.ERASED_NAME
    assert w.solo_discussion not in listed


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


def test_erasure_takes_their_name_off_actions_others_recorded(store):

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
