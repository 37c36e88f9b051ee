"""A value-creation story that comes back, through the apps (in-process, real SQLite store):
saved as an intention in the reflection app (a day that has passed refused, the text kept),
back on its author's page and at their next session's check-in once its day has come (never
on anyone else's), and completed there as a new version."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from cop_widgets.apps._value_story import today_in
from cop_widgets.apps.my_page import my_page_app
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.apps.session import session_app
from cop_widgets.services import reflections, sessions, value_stories
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import reflection, reflection_answer
from tests.signin import sign_in_as

PLAN = "Ask the <b>father</b> first"


@pytest.fixture
def story(catalogue):
    return catalogue.get(value_stories.VALUE_STORY)


def _reflections(store):
    with store.read() as conn:
        return conn.execute(select(reflection).order_by(reflection.c.version_no)).all()


def _answers(store, rid):
    with store.read() as conn:
        rows = conn.execute(
            select(reflection_answer).where(reflection_answer.c.reflection_id == rid)
        ).all()
    return {r.stage_id: (r.text, bool(r.passed)) for r in rows}


def _write_intention(app):
    app.start_new(value_stories.VALUE_STORY)
    stepper = app.stepper
    stepper._answer.value = "The session on engaging fathers"
    stepper._next.click()
    stepper._answer.value = PLAN
    return stepper


def test_saved_as_an_intention_in_the_reflection_app(store, settings):
    app = reflection_app(settings=settings)
    sign_in_as(app, "Ana")
    _write_intention(app)
    today = today_in(settings.timezone)
    assert app.return_day.value == today + timedelta(weeks=6)  # the default
    save = app.intention.children[1].children[1]
    assert save.description == "Save as an intention"
    # a day that has passed: refused with a message, the story kept as a draft
    app.return_day.value = today - timedelta(days=1)
    save.click()
    assert "has passed" in app.status.message and "kept as a draft" in app.status.message
    assert "has passed" in app.intention_note.value
    [draft] = _reflections(store)
    assert (draft.status, draft.return_on) == ("draft", None)
    assert _answers(store, draft.id)["potential"] == (PLAN, False)
    assert not app.stepper.read_only  # still open, to choose another day
    # a day ahead: submitted, coming back then
    day = today + timedelta(days=20)
    app.return_day.value = day
    save.click()
    assert f"comes back to you on {day.day} {day:%b %Y}" in app.status.message
    [saved] = _reflections(store)
    assert (saved.status, saved.return_on) == ("submitted", day.isoformat())
    assert _answers(store, saved.id)["applied"] == ("", True)
    # reopened: it says when it comes back, and the day can be moved
    panel = repr(app.body.children)
    assert "It comes back to you on" in panel and "cop-plan-return" in panel
    app._plan_return(saved.id, app._return_day_picker(day + timedelta(days=7)))
    assert value_stories.return_of(store, app.person, saved.id).return_on == day + timedelta(7)


def test_an_intention_of_another_model_is_never_offered(settings, rolfe):
    app = reflection_app(settings=settings)
    sign_in_as(app, "Ana")
    app.start_new(rolfe.id)
    assert app.intention is None and "cop-intention" not in repr(app.body.children)


@pytest.fixture
def due_story(store, story):
    """Ana's story, saved as an intention six weeks ago, whose day was yesterday; a session of
    her community is on now."""
    cora = find_or_add_person(store, "Cora Convenor")
    cop = sessions.create_community(store, cora, "Northside CoP")
    ana, ben = find_or_add_person(store, "Ana"), find_or_add_person(store, "Ben")
    now = datetime.now(UTC)
    today = now.date()
    rid = str(uuid.uuid4())
    value_stories.save_as_intention(
        store,
        ana,
        rid,
        story,
        {
            "activity": reflections.Answer("The session on engaging fathers"),
            "potential": reflections.Answer(PLAN),
        },
        "community",
        today,
        today,
    )
    with store.write() as conn:  # its day has come (the apps refuse a day that has passed)
        conn.execute(
            update(reflection)
            .where(reflection.c.id == rid)
            .values(return_on=(today - timedelta(days=1)).isoformat())
        )
    session = sessions.plan_session(store, cora, cop.id, now, "Working with fathers, part two")
    return {"ana": ana, "ben": ben, "id": rid, "session": session}


def test_it_comes_back_at_the_next_check_in_and_is_completed_there(store, settings, due_story):
    app = session_app(settings=settings)
    app.query = f"code={due_story['session'].join_code}"
    sign_in_as(app, due_story["ana"])
    heading, card = app.story_returns.children
    assert "Your value-creation stories" in heading.value
    said = card.children[0].value
    assert "You planned to try" in said and "what happened? what difference did it make?" in said
    assert "Ask the &lt;b&gt;father&lt;/b&gt; first" in said  # markup shown as text
    # shared with the community: a name in the new text is asked about first, text kept
    card.applied.value = "I rang Sarah Jones the next day."
    card.children[4].click()
    assert "check the highlighted words" in app.status.message
    assert card.applied.value == "I rang Sarah Jones the next day."
    assert card.deid.layout.display is None  # the findings are shown
    card.applied.value = "I asked him first, at the start of the visit."
    card.realized.value = "He stayed for the whole meeting."
    card.children[4].click()
    assert "new version" in app.status.message
    assert app.story_returns.children == ()
    intention, completed = _reflections(store)
    assert intention.returned_at is not None
    assert (completed.version_of, completed.status) == (intention.id, "submitted")
    assert _answers(store, completed.id)["realized"] == ("He stayed for the whole meeting.", False)
    # completed: it does not come back again
    again = session_app(settings=settings)
    again.query = f"code={due_story['session'].join_code}"
    sign_in_as(again, due_story["ana"])
    assert again.story_returns.children == ()


def test_only_its_author_sees_it_at_the_check_in(settings, due_story):
    app = session_app(settings=settings)
    app.query = f"code={due_story['session'].join_code}"
    sign_in_as(app, due_story["ben"])
    assert app.joined is not None and app.story_returns.children == ()
    assert PLAN not in repr(app.body.children)


def test_it_comes_back_on_my_page_and_is_completed_there(store, settings, story, due_story):
    ana = due_story["ana"]
    later = str(uuid.uuid4())
    today = today_in(settings.timezone)
    value_stories.save_as_intention(
        store,
        ana,
        later,
        story,
        {
            "activity": reflections.Answer("A case discussion"),
            "potential": reflections.Answer("Try the three columns"),
        },
        "private",
        today + timedelta(days=30),
        today,
    )
    page = my_page_app(settings=settings)
    sign_in_as(page, ana)
    [card] = page._story_cards  # only the one whose day has come
    listed = repr(page.stories_box.children)
    assert "Comes back on" in listed and "Try the three columns" in listed
    card.realized.value = "The family said the plan was theirs."
    card.children[4].click()
    assert "now says what happened" in page.status.message
    assert "read it" in card.children[0].value and page._story_cards == []
    assert value_stories.due_returns(store, ana, today) == []
    page.show_stories()
    assert "cop-my-story-link" in repr(page.stories_box.children)  # completed: a link to it
    # Ben's page has none of Ana's stories
    other = my_page_app(settings=settings)
    sign_in_as(other, due_story["ben"])
    assert "None yet" in repr(other.stories_box.children)
    assert PLAN not in repr(other.body.children)
