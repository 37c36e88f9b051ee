"""Nothing typed is lost in the other apps either (issue #12, part 1; issue #13's feedback bug).

The rule of the reflection app, applied to every app that takes free text: a save the store
refuses stays marked unsaved (on the page too: the app's root carries `cop-unsaved`, and the
page template asks before such a page is left) and is retried in the background until the
store takes it; a form is replaced, or a field cleared, only after the store confirmed its
text. Failures are real, as in test_save_failures.py: another connection holds the store's
write lock (saves time out after a short busy timeout) until the test releases it.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cop_widgets.apps._base import SETTLE_SECONDS
from cop_widgets.apps.case_discussion import case_discussion_app
from cop_widgets.apps.community import community_app
from cop_widgets.apps.directory import directory_app
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.apps.session import session_app
from cop_widgets.apps.supervisor_review import review_app
from cop_widgets.services import checkins, reflections, review, sessions
from cop_widgets.services import directory as Dir
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import (
    attendance,
    commitment,
    discussion_note,
    feedback,
    session_response,
)
from tests.find_widgets import buttons
from tests.services.test_checkins import two_sessions  # noqa: F401 - a fixture
from tests.signin import sign_in_as
from tests.submit_for_review import submit_for_review
from tests.test_save_failures import (
    _browser_sends,
    _short_busy_timeout,
    run_in_loop,
    until,
)

TEMPLATE = (
    Path(__file__).resolve().parent.parent
    / "cop_widgets/serving/jupyter_data/voila/templates/cop/index.html.j2"
)


UNSAVED_CLASS = "cop-unsaved"  # cop_widgets.apps._base.UNSAVED_CLASS; the template asks on it


def _quick(owner, name: str) -> None:
    """Retries every 0.05-0.2 s in these tests (the saver may be missing: the test then fails
    on what the person sees, not on the missing attribute)."""
    saver = getattr(owner, name, None)
    if saver is not None:
        saver.retry_first, saver.retry_max = 0.05, 0.2


def _unsaved(app) -> bool:
    return UNSAVED_CLASS in app._dom_classes


def _click(app, description) -> None:
    [button] = buttons(app.body, description)
    button.click()


# -- supervisor review: feedback and the comment bank ---------------------------------------------
@pytest.fixture
def opened_review(store, settings, rolfe):
    answers = {s.id: reflections.Answer("A visit that ran short.") for s in rolfe.stages}
    sup, _, rid = submit_for_review(store, rolfe, answers)
    app = review_app(settings=settings)
    _short_busy_timeout(app.store)
    sign_in_as(app, sup)
    app.open_reflection(rid)
    yield app, sup, rid
    app.store.dispose()


def _feedback(store, sup, rid) -> list[str]:
    with store.read() as conn:  # a read: opening for review is audited, a write
        rows = conn.execute(
            select(feedback.c.text)
            .where(feedback.c.reflection_id == rid, feedback.c.supervisor_id == sup.id)
            .order_by(feedback.c.created_at)
        ).all()
    return [r.text for r in rows]


def test_save_to_comment_bank_keeps_the_feedback_in_the_box(opened_review, store):
    app, sup, rid = opened_review
    app.fb_kind.value = "deepening_question"
    _browser_sends(app.fb_text, "Which research helps here?")
    _click(app, "Save to my comment bank")
    assert app.status.kind == "ok" and "comment bank" in app.status.message
    assert [t for _, _, t in review.bank(store, sup)] == ["Which research helps here?"]
    assert app.fb_text.value == "Which research helps here?", "the feedback was emptied"
    assert len(app.fb_bank.options) == 2
    _click(app, "Add feedback")  # issue 13: this said "Write the feedback first"
    assert "Feedback added" in app.status.message
    assert _feedback(store, sup, rid) == ["Which research helps here?"]
    assert app.fb_text.value == ""


def test_refused_feedback_stays_in_the_box_marked_unsaved_and_is_retried(
    opened_review, store, lock_for
):
    app, sup, rid = opened_review

    async def scenario():
        _quick(app, "fb_saver")
        _browser_sends(app.fb_text, "You kept the child in view.")
        assert _unsaved(app), "typed feedback not yet added is unsaved text"
        lock = lock_for(app.store)
        _click(app, "Add feedback")
        assert "Not saved yet — retrying" in app.status.message
        assert "Another save is in progress" in app.status.message
        assert app.fb_text.value == "You kept the child in view." and _unsaved(app)
        await asyncio.sleep(0.4)  # several refused retries
        assert app.fb_saver.retrying and _feedback(store, sup, rid) == []
        _click(app, "Back to the queue")  # not while it is unsaved
        assert app.fb_text in app.body.children[1].children
        assert "stays open" in app.status.message
        lock.release()
        assert await until(lambda: not app.fb_saver.dirty), "the retry never stored it"
        assert "Feedback added" in app.status.message
        assert app.fb_text.value == "" and not _unsaved(app)
        assert "You kept the child in view." in app.review_header.value

    run_in_loop(scenario)
    assert _feedback(store, sup, rid) == ["You kept the child in view."]


def test_add_feedback_takes_the_text_at_the_click_with_no_fixed_wait(opened_review, store):
    app, sup, rid = opened_review

    async def scenario():
        _browser_sends(app.fb_text, "Strong use of the child's words.")
        _click(app, "Add feedback")
        # the supervisor starts the next feedback at once: it is not taken, and stays
        _browser_sends(app.fb_text, "What else")
        await asyncio.sleep(0.6)

    run_in_loop(scenario)
    assert _feedback(store, sup, rid) == ["Strong use of the child's words."]
    assert app.fb_text.value == "What else", "the next feedback was lost"


def test_release_asks_to_confirm(opened_review, store):
    app, sup, rid = opened_review
    _browser_sends(app.fb_text, "Well done.")
    _click(app, "Add feedback")
    _click(app, "Release feedback to the author")
    assert not review.open_for_review(store, sup, rid).released_at, "released without asking"
    assert app.release_confirm.layout.display != "none"
    assert "Release your feedback (1 item) to the author now?" in app.release_question.value
    _click(app, "Not yet")
    assert app.release_confirm.layout.display == "none"
    assert not review.open_for_review(store, sup, rid).released_at
    _click(app, "Release feedback to the author")
    _click(app, "Yes, release")
    assert review.open_for_review(store, sup, rid).released_at
    assert "Feedback released" in app.status.message


def test_release_is_refused_while_the_box_holds_feedback_not_added(opened_review, store):
    app, sup, rid = opened_review
    _browser_sends(app.fb_text, "Added.")
    _click(app, "Add feedback")
    _browser_sends(app.fb_text, "Typed, not added yet.")
    _click(app, "Release feedback to the author")
    assert "not added" in app.status.message
    assert app.release_confirm.layout.display == "none"
    assert not review.open_for_review(store, sup, rid).released_at
    assert app.fb_text.value == "Typed, not added yet."


# -- session app: check-out answers and commitment follow-ups ------------------------------------
@pytest.fixture
def joined(settings, two_sessions):  # noqa: F811
    coord, first, second = two_sessions
    app = session_app(settings=settings)
    sessions.open_checkout(app.store, coord, first.id)  # the facilitator opens check-out
    _short_busy_timeout(app.store)
    app.query = f"code={first.join_code}"
    sign_in_as(app, "Ana")
    assert app.joined is not None, app.status.message
    yield app, first, second
    app.store.dispose()


def _responses(store, session_id) -> dict[str, str]:
    with store.read() as conn:
        rows = conn.execute(
            select(session_response).where(session_response.c.session_id == session_id)
        ).all()
    return {r.item_id: r.text_value for r in rows if getattr(r, "text_value", None)}


def test_refused_check_out_keeps_the_form_and_is_retried_until_in(joined, lock_for):
    app, first, _ = joined

    async def scenario():
        app.checkout_button.click()
        form = app.form
        _quick(form, "saver")
        form.controls["one_word"].value = "hopeful"
        form.controls["commitment"].value = "Ask the child first"
        assert _unsaved(app)
        lock = lock_for(app.store)
        form.send.click()
        assert "Not saved yet — retrying" in app.status.message
        assert app.form_box.children == (form,), "the form went though nothing was stored"
        assert form.controls["one_word"].value == "hopeful" and _unsaved(app)
        await asyncio.sleep(0.4)
        assert not checkins.has_answered(app.store, app.person, first.id, "checkout")
        lock.release()
        assert await until(lambda: not form.saver.dirty), "the retry never stored it"
        assert "is in" in app.form_box.children[0].value and not _unsaved(app)

    run_in_loop(scenario)
    assert checkins.has_answered(app.store, app.person, first.id, "checkout")
    with app.store.read() as conn:
        row = conn.execute(select(commitment)).one()
    assert row.text == "Ask the child first"


def test_a_join_the_busy_store_refuses_is_retried_until_attendance_is_in(
    settings,
    two_sessions,  # noqa: F811
    lock_for,
):
    """A whole room joins at once: a join that waits past the busy timeout is not lost, and
    the person need not press Join again (found by the two-server room benchmark, #17)."""
    _, first, _ = two_sessions
    app = session_app(settings=settings)
    _short_busy_timeout(app.store)
    _quick(app, "joining")
    app.query = f"code={first.join_code}"
    ana = find_or_add_person(app.store, "Ana")

    async def scenario():
        lock = lock_for(app.store)
        sign_in_as(app, ana)
        assert app.joined is None
        assert "Not joined yet" in app.status.message, app.status.message
        assert "Trying again by itself" in app.status.message
        assert app.code.value == first.join_code  # the code stays in its field
        await asyncio.sleep(0.4)
        assert app.joined is None
        lock.release()
        assert await until(lambda: app.joined is not None), "the retry never joined"
        assert "Joined" in app.status.message

    try:
        run_in_loop(scenario)
        with app.store.read() as conn:
            joined = conn.execute(select(attendance.c.person_id)).scalars().all()
        assert joined == [ana.id]
    finally:
        app.store.dispose()


def test_a_wrong_code_is_said_once_and_not_retried(settings, two_sessions):  # noqa: F811
    app = session_app(settings=settings)
    app.query = "code=ZZZZZZ"
    sign_in_as(app, "Ana")
    assert app.joined is None and not app.joining.retrying
    assert "ZZZZZZ" in app.status.message or "code" in app.status.message.lower()
    app.store.dispose()


def test_a_page_whose_sign_in_the_busy_store_refuses_opens_once_it_is_free(
    settings, store, lock_for
):
    """A per-user Hub kernel adds its new user on first sign-in (a write): a busy store then
    delays the page, which fills by itself once the store is free."""
    # Made with no request yet (the page is identified as the app is made, without
    # preheating: nobody, here); then the page's request comes in while the store is busy.
    app = session_app(settings=settings, environ={})
    _short_busy_timeout(app.store)
    opened = [app]

    async def scenario():
        app.environ = {"JUPYTERHUB_USER": "newcomer"}
        lock = lock_for(store)
        app.guard(app._identify_until_done, "")
        assert app.person is None
        assert "not ready yet" in app.status.message, app.status.message
        assert app.signing_in.retrying
        lock.release()
        app.signing_in.flush()  # the next try now, not after the first pause (2 s)
        assert await until(lambda: app.person is not None), "the page never opened"

    try:
        run_in_loop(scenario)
        [app] = opened
        assert app.person.display_name == "newcomer"
        assert app.join_button in app.body.children[0].children
    finally:
        for app in opened:
            app.store.dispose()


def test_refused_follow_up_stays_and_is_retried(settings, store, two_sessions, lock_for):  # noqa: F811
    _, first, second = two_sessions
    ana = find_or_add_person(store, "Ana")
    sessions.join(store, ana, first.join_code, datetime.now(UTC) - timedelta(minutes=1))
    checkins.submit_answers(store, ana, first.id, K_SETS()["checkout"], {"commitment": "Ask first"})
    app = session_app(settings=settings)
    _short_busy_timeout(app.store)
    app.query = f"code={second.join_code}"
    sign_in_as(app, ana)

    async def scenario():
        row = app.followups.children[1]
        _quick(row, "saver")
        row.children[1].value = "partly"
        row.children[2].value = "It changed the visit."
        assert _unsaved(app)
        lock = lock_for(app.store)
        row.children[3].click()
        assert "Not saved yet — retrying" in app.status.message
        assert row in app.followups.children and row.children[2].value == "It changed the visit."
        lock.release()
        assert await until(lambda: not row.saver.dirty), "the retry never stored it"
        assert app.followups.children == () and not _unsaved(app)

    try:
        run_in_loop(scenario)
        with app.store.read() as conn:
            saved = conn.execute(select(commitment)).one()
        assert (saved.tried, saved.followup_text) == ("partly", "It changed the visit.")
    finally:
        app.store.dispose()


def K_SETS():
    from tests.services.test_checkins import SETS

    return SETS


# -- directory and community ------------------------------------------------------------------
def test_refused_directory_entry_stays_unsaved_and_is_retried(settings, store, lock_for):
    app = directory_app(settings=settings)
    _short_busy_timeout(app.store)
    sign_in_as(app, "Ana")

    async def scenario():
        _quick(app, "entry_saver")
        app.listed.value = True
        app.offers.value = "Working with interpreters"
        assert _unsaved(app)
        lock = lock_for(app.store)
        _click(app, "Save my entry")
        assert "Not saved yet — retrying" in app.status.message and _unsaved(app)
        assert app.offers.value == "Working with interpreters"
        lock.release()
        assert await until(lambda: not app.entry_saver.dirty), "the retry never saved it"
        assert "Your entry is saved" in app.status.message and not _unsaved(app)

    try:
        run_in_loop(scenario)
        assert Dir.listed_members(store) == [("Ana", "Working with interpreters", "")]
    finally:
        app.store.dispose()


def test_refused_plan_and_create_keep_their_text_and_are_retried(settings, store, lock_for):
    app = community_app(settings=settings)
    _short_busy_timeout(app.store)
    sign_in_as(app, "Cora")

    async def scenario():
        _quick(app, "create_saver")
        app.new_name.value = "Family support CoP"
        app.new_domain.value = "Child and family support"
        lock = lock_for(app.store)
        _click(app, "Create community")
        await asyncio.sleep(SETTLE_SECONDS + 0.1)  # the click waits for the last keystrokes
        assert "Not saved yet — retrying" in app.status.message and _unsaved(app)
        assert app.new_name.value == "Family support CoP"
        lock.release()
        assert await until(lambda: not app.create_saver.dirty), "the create was never retried"
        assert "created" in app.status.message and app.new_name.value == ""
        _quick(app, "plan_saver")
        app.p_date.value = datetime.now(UTC).date()
        app.p_topic.value = "Engaging fathers"
        app.p_focus.value = "What helps fathers stay involved?"
        lock = lock_for(app.store)
        _click(app, "Plan session")
        await asyncio.sleep(SETTLE_SECONDS + 0.1)
        assert "Not saved yet — retrying" in app.status.message and _unsaved(app)
        assert app.p_topic.value == "Engaging fathers"
        await asyncio.sleep(0.3)
        lock.release()
        assert await until(lambda: not app.plan_saver.dirty), "the plan was never retried"
        assert "join code" in app.status.message and not _unsaved(app)
        assert app.p_topic.value == "" and app.p_focus.value == ""

    try:
        run_in_loop(scenario)
        upcoming, past = sessions.sessions_of(
            store, *_sessions_of_args(store, app), datetime.now(UTC) - timedelta(days=1)
        )
        assert [s.topic for s in upcoming + past] == ["Engaging fathers"]
    finally:
        app.store.dispose()


def _sessions_of_args(store, app):
    """sessions_of's leading arguments (it is learning who asks: both forms are accepted)."""
    import inspect

    if "who" in inspect.signature(sessions.sessions_of).parameters:
        return (app.person, app.picker.value)
    return (app.picker.value,)


# -- case discussion notes --------------------------------------------------------------------
@pytest.fixture
def notes_view(settings):
    app = case_discussion_app(settings=settings, environ={}, tick_seconds=60)
    _short_busy_timeout(app.store)
    sign_in_as(app, "Fran")
    app.form.summary.value = "A mother of two; the school worries."
    app.form.role_inputs["note_taker"].value = "Fran"
    app.form.start.click()
    assert app.view is not None, app.status.message
    app.view.timer.start_button.click()
    yield app
    app.store.dispose()


def _notes(store) -> list[str]:
    with store.read() as conn:
        return [r.text for r in conn.execute(select(discussion_note)).all()]


def test_a_refused_note_autosave_retries_in_the_background(notes_view, lock_for):
    app = notes_view
    view = app.view

    async def scenario():
        [(box, _, _)] = view._note_boxes.values()
        view.autosave.delay = 0.05
        _quick(view, "autosave")
        lock = lock_for(app.store)
        box.value = "Presenter described the dilemma."
        assert _unsaved(app)
        assert await until(lambda: "Not saved yet — retrying" in app.status.message)
        await asyncio.sleep(0.4)  # several refused retries
        assert view.autosave.dirty and view.autosave.retrying
        assert "Not saved yet — retrying" in app.status.message
        assert _notes(app.store) == []
        lock.release()
        assert await until(lambda: not view.autosave.dirty), "the notes were never retried"
        assert "Notes saved automatically" in app.status.message and not _unsaved(app)

    run_in_loop(scenario)
    assert _notes(app.store) == ["Presenter described the dilemma."]


def test_a_refused_save_notes_stays_on_the_page_and_is_retried(notes_view, lock_for):
    app = notes_view
    view = app.view

    async def scenario():
        [(box, _, _)] = view._note_boxes.values()
        view.autosave.delay = 60
        _quick(view, "autosave")
        box.value = "Grandmother visits daily."
        lock = lock_for(app.store)
        view.save_notes_button.click()
        assert "Not saved yet — retrying" in app.status.message
        app.show_home()  # Back to discussions: stays while the notes are unsaved
        assert app.view is view and "stays open" in app.status.message
        lock.release()
        assert await until(lambda: not view.autosave.dirty), "the notes were never retried"

    run_in_loop(scenario)
    assert _notes(app.store) == ["Grandmother visits daily."]


# -- the page asks before unsaved text is left -----------------------------------------------
def test_the_apps_and_the_template_use_one_class_name():
    from cop_widgets.apps import _base

    assert _base.UNSAVED_CLASS == UNSAVED_CLASS


def test_the_unsaved_class_follows_the_dirty_state(settings, lock_for):
    app = reflection_app(settings=settings)
    _short_busy_timeout(app.store)
    try:
        sign_in_as(app, "Ana")
        app.start_new("rolfe-2001")
        assert not _unsaved(app)
        app.stepper._answer.value = "What happened."
        assert app.autosave.dirty and _unsaved(app)
        lock = lock_for(app.store)
        app.stepper._save.click()
        assert _unsaved(app), "a refused save is still unsaved text"
        lock.release()
        app.stepper._save.click()
        assert not app.autosave.dirty and not _unsaved(app)
    finally:
        app.store.dispose()


def test_the_page_template_asks_before_leaving_unsaved_text():
    page = TEMPLATE.read_text()
    script = page[page.index("beforeunload") - 200 :]
    assert 'addEventListener("beforeunload"' in script
    assert f'document.querySelector(".{UNSAVED_CLASS}")' in script
    assert "preventDefault()" in script and "returnValue" in script
    assert "http" not in script.split("</script>")[0], "nothing from the internet"
