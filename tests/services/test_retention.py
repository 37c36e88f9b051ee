"""Retention deletes every expired row of each class and no other (services/retention.py;
RELIABILITY.md test table row 17)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text, update

from cop_widgets.cli import data as cli_data
from cop_widgets.content.protocols import load_protocols
from cop_widgets.errors import InvalidInput
from cop_widgets.services import (
    discussions,
    retention,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import schema
from tests.conftest import REPO
from tests.personal_data import NOW, _age, _Row, snapshot


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


def test_retention_covers_every_class_of_personal_data(store):
    from cop_widgets.content.session_items import load_item_sets
    from cop_widgets.services import checkins, directory, questions, sessions

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
    asked = questions.ask(store, ana, str(uuid.uuid4()), cop.id, "Old", "canary-question")
    questions.answer(store, ana, str(uuid.uuid4()), asked.id, "canary-qanswer")
    for table, key in (
        (schema.discussion, "updated_at"),
        (schema.question, "updated_at"),
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
                                                  "commitment", "offers", "question",
                                                  "qanswer"))  # fmt: skip
    periods = {c.name: 365 for c in retention.RETENTION_CLASSES if c.name != "audit"} | {"audit": 5}
    counts = retention.apply_retention(store, periods, NOW)
    after = dump()
    assert not any(f"canary-{w}" in after for w in ("summary", "note", "action", "word", "debrief",
                                                    "commitment", "offers", "wants", "question",
                                                    "qanswer"))  # fmt: skip
    assert counts["discussion blanked"] == 1 and counts["discussion_action"] == 1
    assert counts["question"] == 1 and counts["question_answer"] == 1
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
