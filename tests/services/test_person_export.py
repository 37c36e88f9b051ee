"""A person's export holds all of theirs and nothing of anyone else (services/person_export.py;
RELIABILITY.md test table row 17)."""

from __future__ import annotations

import json
import stat
import types

import pytest
from sqlalchemy import select

from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import (
    person_export,
    person_tables,
)
from cop_widgets.store import schema
from tests.personal_data import UNICODE, X_NAME, _as_csv, _csv_rows, _pk, is_x, snapshot


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
    # their question, and their answer to Y's (marked as helped): not Y's answer to theirs
    assert [r["id"] for r in t["question"]] == world.x_questions
    assert [(r["author_id"], r["helped_at"] is not None) for r in t["question_answer"]] == [
        (world.x.id, True)
    ]
    text = json.dumps(export, ensure_ascii=False)
    for canary in world.canaries.values():
        if canary != world.canaries["draft"]:  # rewritten away before the export
            assert canary in text
    for plant in world.others.values():
        assert plant not in text
    assert "Yan" not in text and "Zeynep" not in text  # others appear by id only


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
