"""Value-creation stories that come back: the day to return (six weeks by default, never one
that has passed), the reminder rule (due on and after its day, until completed, to its author
alone), completion as a new version, the identifier check of a shared story, and a store made
before migration 15."""

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy, reflections, sessions, value_stories
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import migrations, open_store
from cop_widgets.store.schema import audit_event, reflection, reflection_answer

TODAY = date(2026, 3, 2)  # the services take today as given: no clock in these tests
PLAN = "Ask the father what he wants from the next visit"


@pytest.fixture
def story(catalogue):
    return catalogue.get(value_stories.VALUE_STORY)


@pytest.fixture
def people(store):
    cora = find_or_add_person(store, "Cora Convenor")
    cop = sessions.create_community(store, cora, "Northside CoP")
    ana, ben = find_or_add_person(store, "Ana"), find_or_add_person(store, "Ben")
    for who in (ana, ben):
        sessions.add_member(store, cora, cop.id, who.id, "member")
    return ana, ben, cop


def _intention(activity="A session on engaging fathers", potential=PLAN):
    return {
        "activity": reflections.Answer(activity),
        "potential": reflections.Answer(potential),
    }


def _save(store, who, story, day, visibility="private", answers=None) -> str:
    rid = str(uuid.uuid4())
    value_stories.save_as_intention(
        store, who, rid, story, answers or _intention(), visibility, day, TODAY
    )
    return rid


def _answers(store, rid) -> dict[str, tuple[str, bool]]:
    with store.read() as conn:
        rows = conn.execute(
            select(reflection_answer).where(reflection_answer.c.reflection_id == rid)
        ).all()
    return {r.stage_id: (r.text, bool(r.passed)) for r in rows}


def test_the_day_to_return_is_six_weeks_ahead_unless_chosen_and_never_one_that_has_passed():
    assert value_stories.default_return_day(TODAY) == date(2026, 4, 13)
    assert value_stories.check_return_day(TODAY, TODAY) == TODAY  # today: due at once
    with pytest.raises(InvalidInput, match=r"1 Mar 2026, has passed: choose today or a later"):
        value_stories.check_return_day(TODAY - timedelta(days=1), TODAY)
    with pytest.raises(InvalidInput, match="Choose the day"):
        value_stories.check_return_day(None, TODAY)
    with pytest.raises(InvalidInput, match="Choose the day"):
        value_stories.check_return_day("2026-05-01", TODAY)  # a date, not text
    with pytest.raises(InvalidInput, match="more than two years ahead"):
        value_stories.check_return_day(TODAY + timedelta(days=800), TODAY)


def test_an_intention_comes_back_on_its_day_not_before_and_stops_once_completed(
    store, story, people
):
    ana, _ben, cop = people
    day = TODAY + timedelta(days=10)
    rid = _save(store, ana, story, day)
    saved = reflections.get_mine(store, ana, rid)
    assert saved.status == "submitted"
    # the later cycles are passed (not reached yet), the intention as written
    assert _answers(store, rid) == {
        "activity": ("A session on engaging fathers", False),
        "potential": (PLAN, False),
        "applied": ("", True),
        "realized": ("", True),
        "reframing": ("", True),
    }
    # the reminder rule: not before its day; on it and every day after, until completed
    assert value_stories.due_returns(store, ana, TODAY) == []
    assert value_stories.due_returns(store, ana, day - timedelta(days=1)) == []
    [due] = value_stories.due_returns(store, ana, day)
    assert (due.reflection_id, due.return_on, due.planned) == (rid, day, PLAN)
    assert due.due(day) and not due.due(day - timedelta(days=1))
    assert [
        d.reflection_id for d in value_stories.due_returns(store, ana, day + timedelta(99))
    ] == [rid]

    new_id = value_stories.complete_return(
        store, ana, rid, "We planned the visit together.", "He came to the next three visits."
    )
    assert value_stories.due_returns(store, ana, day + timedelta(days=1)) == []
    [done] = value_stories.my_returns(store, ana)
    assert done.returned_at is not None and done.completed_as == new_id
    assert not done.due(day + timedelta(days=1))
    # the completion is a new, submitted version; the intention stays as it was
    with store.read() as conn:
        new = conn.execute(select(reflection).where(reflection.c.id == new_id)).one()
    assert (new.version_of, new.version_no, new.status) == (rid, 2, "submitted")
    assert new.submitted_at and new.return_on is None and new.community_id == cop.id
    assert _answers(store, new_id) == {
        "activity": ("A session on engaging fathers", False),
        "potential": (PLAN, False),
        "applied": ("We planned the visit together.", False),
        "realized": ("He came to the next three visits.", False),
        "reframing": ("", True),
    }
    assert _answers(store, rid)["applied"] == ("", True)
    with pytest.raises(RecordLocked, match="completed already"):
        value_stories.complete_return(store, ana, rid, "Again.", "")
    with pytest.raises(RecordLocked, match="completed already"):
        value_stories.plan_return(store, ana, rid, day, TODAY)


def test_only_the_author_sees_plans_and_completes_the_return(store, story, people):
    ana, ben, _cop = people
    rid = _save(store, ana, story, TODAY, visibility="community")  # shared, and due today
    assert [d.reflection_id for d in value_stories.due_returns(store, ana, TODAY)] == [rid]
    # Ben shares the community and may read the story, but it never comes back to him
    assert reflections.read_shared(store, ben, rid).id == rid
    assert value_stories.due_returns(store, ben, TODAY) == []
    assert value_stories.my_returns(store, ben) == []
    for call in (
        lambda: value_stories.return_of(store, ben, rid),
        lambda: value_stories.plan_return(store, ben, rid, TODAY, TODAY),
        lambda: value_stories.complete_return(store, ben, rid, "Forged.", ""),
    ):
        with pytest.raises(RecordNotFound, match="No reflection"):
            call()
    with store.read() as conn:
        refused = conn.execute(
            select(audit_event.c.action, audit_event.c.target_id).where(
                audit_event.c.actor_id == ben.id, audit_event.c.outcome == "refused"
            )
        ).all()
    assert [tuple(r) for r in refused] == [("value_story.return", rid)] * 3
    assert [d.reflection_id for d in value_stories.due_returns(store, ana, TODAY)] == [rid]


def test_a_day_that_has_passed_and_other_bad_input_are_refused_before_anything_is_stored(
    store, story, people, rolfe
):
    ana, _ben, _cop = people
    with pytest.raises(InvalidInput, match="has passed"):
        _save(store, ana, story, TODAY - timedelta(days=1))
    with pytest.raises(InvalidInput, match="what the activity gave you"):
        _save(store, ana, story, TODAY, answers=_intention("", ""))
    told = {**_intention(), "realized": reflections.Answer("It made a difference.")}
    with pytest.raises(InvalidInput, match="already says what difference it made"):
        _save(store, ana, story, TODAY, answers=told)
    with pytest.raises(InvalidInput, match="Only a value-creation story"):
        value_stories.save_as_intention(
            store, ana, str(uuid.uuid4()), rolfe, {}, "private", TODAY, TODAY
        )
    with store.read() as conn:
        assert conn.execute(select(reflection)).all() == []  # the app keeps the text (a draft)


def test_completing_needs_some_text_and_a_shared_story_passes_the_identifier_check(
    store, story, people
):
    ana, _ben, _cop = people
    shared = _save(store, ana, story, TODAY, visibility="community")
    private = _save(store, ana, story, TODAY)
    with pytest.raises(InvalidInput, match="Write what happened"):
        value_stories.complete_return(store, ana, shared, "  ", "")
    named = "I rang Sarah Jones on 0412 345 678 the next day."
    with pytest.raises(InvalidInput, match="possible identifier"):
        value_stories.complete_return(store, ana, shared, named, "")
    assert len(value_stories.due_returns(store, ana, TODAY)) == 2  # nothing was stored
    # confirmed by its author (the app's DeidCheck), or a private story: stored
    value_stories.complete_return(store, ana, shared, named, "", confirmed=True)
    new_private = value_stories.complete_return(store, ana, private, "", named)
    assert _answers(store, new_private)["applied"] == ("", True)  # not told: stays passed
    assert _answers(store, new_private)["realized"] == (named, False)
    assert value_stories.due_returns(store, ana, TODAY) == []


def test_the_day_can_be_moved_and_a_story_submitted_without_one_can_get_one(store, story, people):
    ana, _ben, _cop = people
    rid = str(uuid.uuid4())
    answers = {s.id: reflections.Answer("Told.") for s in story.stages[:2]}
    answers |= {s.id: reflections.Answer("", passed=True) for s in story.stages[2:]}
    reflections.submit(store, ana, rid, story, answers)
    assert value_stories.return_of(store, ana, rid) is None
    value_stories.plan_return(store, ana, rid, TODAY + timedelta(days=3), TODAY)
    value_stories.plan_return(store, ana, rid, TODAY + timedelta(days=5), TODAY)
    planned = value_stories.return_of(store, ana, rid)
    assert planned is not None and planned.return_on == TODAY + timedelta(days=5)
    assert value_stories.due_returns(store, ana, TODAY + timedelta(days=4)) == []
    with pytest.raises(InvalidInput, match="has passed"):
        value_stories.plan_return(store, ana, rid, TODAY - timedelta(days=1), TODAY)


def test_a_draft_never_comes_back(store, story, people):
    ana, _ben, _cop = people
    rid = str(uuid.uuid4())
    reflections.save_draft(store, ana, rid, story, _intention())
    value_stories.plan_return(store, ana, rid, TODAY, TODAY)  # a day set, not yet submitted
    assert value_stories.due_returns(store, ana, TODAY) == []


def test_a_store_made_before_migration_15_gets_the_return_columns(settings, monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:14])
    old = open_store(settings)
    # migration 1 makes the table from today's schema: take the columns away, as a store
    # made by the software of migration 14 has it
    with old.write() as conn:
        for column in ("return_on", "returned_at"):
            conn.exec_driver_sql(f"ALTER TABLE reflection DROP COLUMN {column}")
    old.dispose()
    monkeypatch.undo()
    store = open_store(settings)
    try:
        with store.read() as conn:
            versions = conn.execute(text("SELECT version FROM schema_migrations")).scalars().all()
            columns = {c["name"] for c in conn.dialect.get_columns(conn, "reflection")}
        assert 15 in versions and {"return_on", "returned_at"} <= columns
    finally:
        store.dispose()


def test_policy_names_the_rule_and_its_reader():
    rule = policy.RULES["value_story.return"]
    assert rule.who == "the story's author" and rule.target_kind == "reflection"
