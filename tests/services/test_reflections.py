"""The reflection service: saving and submitting reflections round trip, refuse what cannot be
stored, stay their author's, are audited without text, and are listed newest first."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text

from cop_widgets.errors import (
    InvalidInput,
    RecordLocked,
    RecordNotFound,
)
from cop_widgets.services import reflections as reflection_service
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import MAX_ANSWER_CHARS
from cop_widgets.store.schema import audit_event, reflection, reflection_answer

UNICODE_SAMPLES = [
    "👩🏽‍⚕️ met 👨‍👩‍👧‍👦 and 🇦🇺",  # ZWJ sequences, skin tone, flag
    "قالت الأم إنها متعبة",  # Arabic, right to left
    "האם אמרה שהיא עייפה",  # Hebrew
    "e\u0301 cafe\u0301 n\u0303",  # combining marks (NFD kept as typed)
    "caf\u00e9",  # NFC form of the same word
    "中文 日本語 한국어",
    "zero\u200bwidth\u200dchars",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 4-byte",
    "tab\tand\nnewline\r\n",
]


def test_unicode_round_trips_byte_for_byte(store, rolfe):
    who = find_or_add_person(store, "Ana")
    for sample in UNICODE_SAMPLES:
        rid = str(uuid.uuid4())
        reflection_service.save_draft(
            store, who, rid, rolfe, {"what": reflection_service.Answer(sample)}
        )
        got = reflection_service.get_mine(store, who, rid).answer("what").text
        assert got.encode("utf-8") == sample.encode("utf-8")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("before \ud800 after", "cannot be stored (a broken character"),
        ("nul \x00 here", "NUL character"),
        ("bell \x07", "control character U+0007"),
    ],
)
def test_unstorable_characters_are_refused_and_the_rest_is_saved(store, rolfe, bad, message):
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    result = reflection_service.save_draft(
        store,
        who,
        rid,
        rolfe,
        {"what": reflection_service.Answer(bad), "so_what": reflection_service.Answer("kept")},
    )
    assert len(result.problems) == 1 and message in result.problems[0]
    assert "What?" in result.problems[0]  # names the stage
    saved = reflection_service.get_mine(store, who, rid)
    assert saved.answer("so_what").text == "kept"
    assert saved.answer("what").text == ""


def test_answers_over_the_cap_are_refused_with_the_limit(store, rolfe):
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    long = "x" * 60_000
    result = reflection_service.save_draft(
        store, who, rid, rolfe, {"what": reflection_service.Answer(long)}
    )
    assert f"{MAX_ANSWER_CHARS:,}" in result.problems[0] and "60,000" in result.problems[0]
    with store.read() as conn:
        longest = conn.execute(select(func.max(func.length(reflection_answer.c.text)))).scalar()
    assert longest in (None, 0)
    reflection_service.save_draft(
        store, who, rid, rolfe, {"what": reflection_service.Answer("x" * MAX_ANSWER_CHARS)}
    )
    assert len(reflection_service.get_mine(store, who, rid).answer("what").text) == MAX_ANSWER_CHARS


def test_whitespace_only_answers_count_as_empty(store, rolfe):
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    reflection_service.save_draft(
        store, who, rid, rolfe, {"what": reflection_service.Answer("   \n\t  ")}
    )
    assert reflection_service.get_mine(store, who, rid).answer("what").text == ""
    with pytest.raises(InvalidInput, match="at least one stage"):
        reflection_service.submit(store, who, rid, rolfe, {"what": reflection_service.Answer("  ")})


def test_submit_needs_every_stage_answered_or_passed_then_locks(store, rolfe):
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    with pytest.raises(InvalidInput, match="So what\\?, Now what\\?"):
        reflection_service.submit(
            store, who, rid, rolfe, {"what": reflection_service.Answer("done")}
        )
    done = reflection_service.submit(
        store,
        who,
        rid,
        rolfe,
        {
            "what": reflection_service.Answer("done"),
            "so_what": reflection_service.Answer("", passed=True),
            "now_what": reflection_service.Answer("plan"),
        },
        visibility="supervisor",
    )
    assert done.status == "submitted" and done.submitted_at and done.visibility == "supervisor"
    assert done.answer("so_what").passed is True
    with pytest.raises(RecordLocked):
        reflection_service.save_draft(
            store, who, rid, rolfe, {"what": reflection_service.Answer("changed")}
        )
    assert reflection_service.get_mine(store, who, rid).answer("what").text == "done"


def test_forged_visibility_is_refused(store, rolfe):
    who = find_or_add_person(store, "Ana")
    with pytest.raises(InvalidInput, match="Visibility"):
        reflection_service.save_draft(
            store, who, str(uuid.uuid4()), rolfe, {}, visibility="everyone"
        )


def test_someone_elses_record_is_not_found_and_audited(store, rolfe):
    ana, ben = find_or_add_person(store, "Ana"), find_or_add_person(store, "Ben")
    rid = str(uuid.uuid4())
    reflection_service.save_draft(
        store, ana, rid, rolfe, {"what": reflection_service.Answer("ana's")}
    )
    with pytest.raises(RecordNotFound):
        reflection_service.get_mine(store, ben, rid)
    with pytest.raises(RecordNotFound):
        reflection_service.save_draft(
            store, ben, rid, rolfe, {"what": reflection_service.Answer("ben overwrites")}
        )
    assert reflection_service.get_mine(store, ana, rid).answer("what").text == "ana's"
    assert reflection_service.list_mine(store, ben) == []
    with store.read() as conn:
        fails = conn.execute(
            select(func.count()).where(
                audit_event.c.outcome == "authz_fail", audit_event.c.actor_id == ben.id
            )
        ).scalar()
    assert fails == 2


def test_audit_rows_hold_no_text_and_cannot_be_changed(store, rolfe):
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    reflection_service.save_draft(
        store, who, rid, rolfe, {"what": reflection_service.Answer("secret words 123")}
    )
    with store.read() as conn:
        rows = conn.execute(select(audit_event)).all()
    assert {r.action for r in rows} >= {"person_created", "reflection_created"}
    assert not any("secret" in " ".join(map(str, r)) for r in rows)
    for sql in ("UPDATE audit_event SET outcome='x'", "DELETE FROM audit_event"):
        with pytest.raises(Exception, match="append-only"):
            with store.write() as conn:
                conn.execute(text(sql))


def test_retried_save_does_not_duplicate(store, rolfe):
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    for _ in range(3):
        reflection_service.save_draft(
            store, who, rid, rolfe, {"what": reflection_service.Answer("same")}
        )
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(reflection)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(reflection_answer)).scalar() == 1


def test_list_mine_is_newest_first_with_previews(store, rolfe):
    who = find_or_add_person(store, "Ana")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    reflection_service.save_draft(
        store, who, first, rolfe, {"what": reflection_service.Answer("first one")}
    )
    reflection_service.save_draft(
        store, who, second, rolfe, {"what": reflection_service.Answer("second one")}
    )
    mine = reflection_service.list_mine(store, who)
    assert [m.id for m in mine] == [second, first]
    assert mine[0].preview == "second one" and mine[0].answered_stages == 1
