"""Hostile text everywhere free text goes: each service either stores it exactly or refuses it
with a message naming the field, and a refused text leaves nothing behind."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from cop_widgets.content.protocols import load_protocols
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.errors import InvalidInput
from cop_widgets.services import (
    checkins,
    directory,
    discussions,
    reflections,
    review,
    roster,
    sessions,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import metadata
from tests.conftest import REPO
from tests.submit_for_review import submit_for_review

# kept exactly (no text here starts or ends with white space: some fields trim it)
KEPT = [
    "<script>window.pwned=1</script>",
    "'; DROP TABLE reflection; --",
    "Robert'); DELETE FROM person;--",
    "{{7*7}} ${jndi:ldap://example.invalid/a} %s %n",
    '=HYPERLINK("http://example.invalid","x")',
    "💚 👩🏽‍👧🏾 family",
    "مرحبا بالعائلة",
    "נעמי והילדים",
    "\u202eoverride\u202c then normal",
    "zero\u200bwidth and soft\u00adhyphen",
    "tab\tand\nnew line",
    "𝕱𝖗𝖆𝖓𝖐 and e\u0301 combining",
    "\\x00 written out, not a NUL",
    "null",
]
# refused: a NUL, another control character, a broken surrogate, far too long
REFUSED = ["a\x00b", "bell\x07ring", "broken \ud800 surrogate", "x" * 200_001]


@pytest.fixture
def scene(store, rolfe):
    now = datetime.now(UTC)
    host, sup = find_or_add_person(store, "Host"), find_or_add_person(store, "Sue")
    roster.grant_role(store, sup.id, "supervisor")
    cop = sessions.create_community(store, host, "CoP")
    session = sessions.plan_session(store, host, cop.id, now + timedelta(minutes=5), "Today")
    consultancy = load_protocols(REPO / "data" / "protocols").get("consultancy")
    discussion = discussions.start_discussion(store, host, consultancy, "A case.")
    answers = {s.id: reflections.Answer("x") for s in rolfe.stages}
    _, _, shared = submit_for_review(store, rolfe, answers, supervisor="Sue", author="Author")
    checkout = load_item_sets(REPO / "data" / "session_items")[0]["checkout"]
    return {
        "host": host, "sup": sup, "cop": cop, "session": session, "discussion": discussion,
        "phase": consultancy.phases[0].id, "shared": shared, "checkout": checkout, "now": now,
    }  # fmt: skip


def _writers(store, rolfe, w):
    """Field name -> a function that writes one text there as a fresh person would."""

    def person():
        return find_or_add_person(store, f"P {uuid.uuid4().hex[:8]}")

    def reflection(t):
        result = reflections.save_draft(
            store, person(), str(uuid.uuid4()), rolfe, {"what": reflections.Answer(t)}
        )
        if result.problems:  # a refused stage is reported; the others are still saved
            raise InvalidInput("stage", result.problems[0])

    def checkout(t):
        who = person()
        sessions.join(store, who, w["session"].join_code, w["now"])
        checkins.submit_answers(store, who, w["session"].id, w["checkout"], {"commitment": t})

    return {
        "reflection answer": reflection,
        "discussion note": lambda t: discussions.save_note(
            store, w["host"], str(uuid.uuid4()), w["discussion"].id, w["phase"], t
        ),
        "action": lambda t: discussions.add_action(
            store, w["host"], w["discussion"].id, t, "Host", None
        ),
        "check-out answer": checkout,
        "directory entry": lambda t: directory.save_profile(store, person(), False, t, ""),
        "feedback": lambda t: review.add_feedback(store, w["sup"], w["shared"], "strength", t),
        "comment bank": lambda t: review.add_to_bank(store, w["sup"], "strength", t),
        "community purpose": lambda t: sessions.create_community(
            store, w["host"], "Another", "", t
        ),
        "session focus": lambda t: sessions.plan_session(
            store, w["host"], w["cop"].id, w["now"] + timedelta(days=1), "Topic", t
        ),
    }


def _every_text(store) -> str:
    with store.read() as conn:
        return "\x1f".join(
            str(value)
            for table in metadata.sorted_tables
            for row in conn.execute(select(table))
            for value in row
            if isinstance(value, str)
        )


def test_every_free_text_field_keeps_hostile_text_exactly_or_refuses_it(store, rolfe, scene):
    writers = _writers(store, rolfe, scene)
    for field, write in writers.items():
        for raw in KEPT:
            marked = f"[{field}] {raw}"
            write(marked)
            assert marked in _every_text(store), (field, raw)
        for raw in REFUSED:
            marked = f"[{field} refused] {raw}"
            with pytest.raises(InvalidInput) as refused:
                write(marked)
            assert "Traceback" not in str(refused.value) and str(refused.value)
            assert f"[{field} refused]" not in _every_text(store), field
    with store.read() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
