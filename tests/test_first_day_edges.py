"""Rough edges a first day found (issue 13), each held by a test: the join page links on, no
doubled wording, a whole confirmation label, proportional text boxes, the status line in view,
clock messages that follow the clock, a reopened draft where it stopped with its sharing choice,
new feedback marked until opened, one sharing control."""

import datetime as dt
import uuid

import pytest

from cop_widgets.apps._base import STYLE
from cop_widgets.apps.case_discussion import case_discussion_app
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.apps.session import session_app
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.services import feedback, reflections, review, roster, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.widgets.deid_check import DeidCheck
from cop_widgets.widgets.item_form import ItemForm
from cop_widgets.widgets.status_line import StatusLine
from tests.signin import sign_in_as


def _visible(widget) -> bool:
    return widget.layout.display != "none"


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_the_join_page_links_to_the_case_discussion_and_the_reflection(store, settings):
    host = find_or_add_person(store, "Hana Host")
    cop = sessions.create_community(store, host, "Northside CoP")
    now = dt.datetime.now(dt.UTC)
    session = sessions.plan_session(store, host, cop.id, now + dt.timedelta(minutes=5), "Fathers")
    app = session_app(settings=settings)
    app.query = f"code={session.join_code}"
    sign_in_as(app, "Ana")
    info = app.info.value + app.next_view.value  # the links follow the session's state
    # relative to /voila/render/session.ipynb (so also under a Hub prefix), in a new tab
    assert "href='case_discussion.ipynb' target='_blank'" in info
    assert "href='reflection.ipynb' target='_blank'" in info
    assert "/voila/render/" not in info


def test_a_private_item_says_only_you_see_this_once(settings):
    sets, problems = load_item_sets(settings.data_dir / "session_items")
    assert not problems
    form = ItemForm(sets["checkout"])
    debrief = form.controls["debrief"].description
    assert debrief.lower().count("only you see this") == 1


def test_the_confirmation_label_is_shown_whole():
    check = DeidCheck()
    assert check.confirm.layout.width == "auto"
    assert check.confirm.description.endswith("does not identify anyone")
    assert "white-space: normal" in STYLE and "text-overflow: clip" in STYLE


def test_text_boxes_use_the_page_font_and_the_status_line_stays_in_view():
    assert ".cop-app textarea" in STYLE and "font-family: inherit" in STYLE
    assert "position: sticky; bottom: 0" in STYLE
    line = StatusLine()
    line.show("Saved.", "ok")
    assert 'role="status" aria-live="polite"' in line.value  # still announced


def test_after_finish_the_message_says_finished_not_opened(settings):
    fran = case_discussion_app(settings=settings)
    sign_in_as(fran, "Fran")
    fran.form.protocol.value = "consultancy"
    fran.form.summary.value = "A mother of two; the school worries."
    fran.form.start.click()
    view = fran.view
    fran.show_home()
    fran.open_discussion(view.discussion.id)
    assert fran.status.message == "Discussion opened."
    view = fran.view
    view.timer.start_button.click()
    assert fran.status.message.startswith("Started")
    while view.timer.clock.status != "finished":
        view.timer._last_next = float("-inf")  # clicks a second apart
        view.timer.next_button.click()
        assert "opened" not in fran.status.message
    assert fran.status.message.startswith("Finished")


@pytest.fixture
def refl(settings):
    return reflection_app(settings=settings, autosave_seconds=0)


def test_a_reopened_draft_opens_where_it_stopped_with_its_sharing_choice(store, refl):
    ana = sign_in_as(refl, "Ana")
    refl.start_new("rolfe-2001")
    stepper = refl.stepper
    stepper._visibility.value = "supervisor"
    stepper._answer.value = "We met the mother on 3 March 2026 at 12 Hill Road."
    refl.save_now()
    assert "kept private" in refl.status.message
    refl.deid.confirm.value = True  # the author checked the highlighted words
    refl.save_now()
    stepper.go(1)
    stepper._answer.value = "So what: the visit changed my plan."
    refl.save_now()
    rid = refl.draft_id
    assert reflections.get_mine(store, ana, rid).visibility == "supervisor"
    refl.show_home()
    refl.open_reflection(rid)
    assert refl.stepper.stage_index == 2  # the first stage not yet answered
    assert refl.stepper.visibility == "supervisor" == refl.stepper._visibility.value
    refl.save_now()  # saving again keeps it: the text was checked when it was saved so
    assert reflections.get_mine(store, ana, rid).visibility == "supervisor"
    assert "kept private" not in refl.status.message
    # a new identifier typed now is asked about again
    refl.stepper._answer.value = "Now what: ring 0412 345 678."
    refl.save_now()
    assert reflections.get_mine(store, ana, rid).visibility == "private"


def test_a_fully_answered_draft_reopens_at_its_last_stage(store, refl, rolfe):
    ana = sign_in_as(refl, "Ana")
    rid = str(uuid.uuid4())
    reflections.save_draft(
        store, ana, rid, rolfe, {s.id: reflections.Answer("text") for s in rolfe.stages}
    )
    refl.open_reflection(rid)
    assert refl.stepper.stage_index == len(rolfe.stages) - 1


def _feedback_released(store, rolfe, ana):
    sue = find_or_add_person(store, "Sue Supervisor")
    roster.grant_role(store, sue.id, "supervisor")
    roster.assign_supervisee(store, sue.id, ana.id)
    rid = str(uuid.uuid4())
    answers = {s.id: reflections.Answer("what happened") for s in rolfe.stages}
    reflections.submit(store, ana, rid, rolfe, answers, visibility="supervisor")
    review.open_for_review(store, sue, rid)
    review.add_feedback(store, sue, rid, "strength", "Clear account of the visit.")
    review.release(store, sue, rid)
    return rid


def test_my_reflections_marks_new_feedback_until_it_is_opened(store, refl, rolfe):
    ana = sign_in_as(refl, "Ana")
    rid = _feedback_released(store, rolfe, ana)
    refl.show_home()
    assert "cop-new-feedback" in repr(refl.body.children)
    # another person's opening changes nothing for Ana
    feedback.mark_feedback_seen(store, find_or_add_person(store, "Ben"), rid)
    assert feedback.new_feedback(store, ana) == {rid}
    refl.open_reflection(rid)
    assert "Clear account of the visit." in repr(refl.body.children)
    refl.show_home()
    assert "cop-new-feedback" not in repr(refl.body.children)
    assert feedback.new_feedback(store, ana) == set()


def test_the_reading_view_has_one_sharing_control(store, refl, rolfe):
    ana = sign_in_as(refl, "Ana")
    rid = _feedback_released(store, rolfe, ana)
    refl.open_reflection(rid)

    def shown_controls(widget, visible=True):
        visible = visible and _visible(widget)
        if getattr(widget, "description", "") == "Who can read this" and visible:
            yield widget
        for child in getattr(widget, "children", ()):
            yield from shown_controls(child, visible)

    [control] = list(shown_controls(refl))
    assert not control.disabled and "cop-share" in control._dom_classes
