"""The case discussion app driven headlessly: start (in a session), clock, notes, ratings."""

import datetime as dt
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cop_widgets.apps.case_discussion import case_discussion_app
from cop_widgets.services import sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import open_store
from cop_widgets.store.schema import discussion, discussion_action, discussion_note
from tests.signin import sign_in_as


@pytest.fixture
def make_app(settings):
    def make(name: str):
        app = case_discussion_app(settings=settings)
        sign_in_as(app, name)
        return app

    return make


def _start(
    app, protocol="consultancy", summary="A mother of two; the school worries.", note="", roles=None
):
    form = app.form
    form.protocol.value = protocol
    form.summary.value = summary
    form.content_note.value = note
    for role_id, names in (roles or {}).items():
        form.role_inputs[role_id].value = names
    form.start.click()


def test_facilitator_and_note_taker_share_one_discussion(make_app):
    fran, nadia = make_app("Fran"), make_app("Nadia")
    _start(fran, roles={"note_taker": "Nadia", "presenter": "Pat"})
    assert "Discussion started" in fran.status.message
    view = fran.view
    assert view.timer.controls.layout.display is None  # Fran runs the clock
    view.timer.start_button.click()
    assert view.timer.clock.status == "running"

    nadia.show_home()
    [open_button] = [
        w
        for row in nadia.body.children[1].children
        for w in row.children
        if getattr(w, "description", "") == "Open"
    ]
    open_button.click()
    nview = nadia.view
    assert nview.timer.controls.layout.display == "none"  # Nadia does not
    assert nview.timer.clock.status == "running"
    [(note_id, (box, _, _))] = nview._note_boxes.items()
    box.value = "Presenter described the dilemma."
    nview.autosave.flush()
    assert "Notes saved automatically" in nadia.status.message

    view.timer.next_button.click()
    view.timer.next_button.click()  # a double click is one click
    assert view.timer.clock.phase_index == 1
    nview.refresh()  # what the 1-second ticker does in a kernel
    assert nview.timer.clock.phase_index == 1 and "Phase 2 of" in nview.timer.heading.value

    nview.action_text.value = "Ask about a joint visit"
    nview.action_owner.value = "Presenter"
    nview.action_due.value = dt.date(2026, 12, 4)
    nview.add_action()
    with fran.store.read() as conn:
        notes = conn.execute(select(discussion_note.c.text)).scalars().all()
        actions = conn.execute(select(discussion_action.c.owner)).scalars().all()
    assert notes == ["Presenter described the dilemma."] and actions == ["Presenter"]
    view.refresh()
    assert "Ask about a joint visit" in view.actions_box.children[0].value


def test_summary_with_identifiers_needs_a_check_before_it_is_saved(make_app):
    fran = make_app("Fran")
    _start(fran, summary="Jayden Smith (DOB 12/03/2017) lives at 14 Wattle St, Dubbo.")
    assert fran.view is None
    assert "check the highlighted words" in fran.status.message
    assert (
        "<mark" in fran.form.deid.findings.value and "14 Wattle St" in fran.form.deid.findings.value
    )
    with fran.store.read() as conn:
        assert conn.execute(select(discussion)).first() is None
    fran.form.deid.confirm.value = True
    fran.form.start.click()
    assert fran.view is not None


def test_names_said_aloud_are_checked_but_never_saved(make_app):
    fran = make_app("Fran")
    fran.form.names_mentioned.value = "Kirra"
    _start(fran, summary="the carer said kirra was settling in")
    assert fran.view is None and "kirra" in fran.form.deid.findings.value
    with fran.store.read() as conn:
        assert "Kirra" not in str(conn.execute(select(discussion)).all())


def test_content_note_hides_the_case_until_asked(make_app):
    fran = make_app("Fran")
    _start(fran, note="includes family violence")
    view = fran.view
    assert "includes family violence" in view.case_box.value
    assert "A mother of two" not in view.case_box.value
    view.show_case.click()
    assert "A mother of two" in view.case_box.value


def test_step_out_hides_the_case_and_records_nothing(make_app):
    fran = make_app("Fran")
    _start(fran)
    with fran.store.read() as conn:
        before = conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar()
    fran.banner.toggle.click()
    assert fran.view.content.layout.display == "none"
    assert fran.banner.toggle.description == "Step back in"
    fran.banner.toggle.click()
    assert fran.view.content.layout.display is None
    with fran.store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar() == before


def test_mapping_keeps_columns_and_everyones_rating(make_app):
    fran, nadia = make_app("Fran"), make_app("Nadia")
    _start(fran, protocol="three_column_mapping", roles={"note_taker": "Nadia"})
    fran.view.timer.start_button.click()
    protocol = fran.view.protocol
    map_index = next(i for i, p in enumerate(protocol.phases) if p.columns)
    for _ in range(map_index):
        fran.view.timer._last_next = float("-inf")  # clicks a second apart
        fran.view.timer.next_button.click()
    nadia.open_discussion(fran.view.discussion.id)
    boxes = {column: box for box, column, _ in nadia.view._note_boxes.values()}
    assert set(boxes) == {"worries", "working_well", "next_steps"}
    boxes["worries"].value = "Unexplained bruising last winter."
    boxes["working_well"].value = "Grandmother visits daily."
    nadia.view.save_notes("now")
    scale_index = next(i for i, p in enumerate(protocol.phases) if p.scale)
    while fran.view.timer.clock.phase_index < scale_index:
        fran.view.timer._last_next = float("-inf")
        fran.view.timer.next_button.click()
    nadia.view.refresh()
    nadia.view.ratings_widget.points.value = "6"
    fran.view.refresh()
    fran.view.ratings_widget.points.value = "3"
    assert "2 rating(s): lowest 3, highest 6" in fran.view.ratings_widget.spread.value


def test_closed_discussion_keeps_the_note_takers_text(make_app):
    fran, nadia = make_app("Fran"), make_app("Nadia")
    _start(fran, roles={"note_taker": "Nadia"})
    nadia.open_discussion(fran.view.discussion.id)
    fran.view.toggle_closed()
    [(box, _, _)] = nadia.view._note_boxes.values()
    box.value = "typed after closing"
    nadia.view.save_notes_button.click()
    assert "closed" in nadia.status.message
    assert box.value == "typed after closing"


# -- a discussion held in a CoP session ------------------------------------------------------------
@pytest.fixture
def session_now(settings):
    """A session that started a few minutes ago, planned by a coordinator (services only)."""
    store = open_store(settings)
    coord = find_or_add_person(store, "Cora Coordinator")
    cop = sessions.create_community(store, coord, "Family support CoP")
    planned = sessions.plan_session(
        store, coord, cop.id, datetime.now(UTC) - timedelta(minutes=5), "Fathers <& carers>"
    )
    yield store, coord, planned
    store.dispose()


def test_a_discussion_started_in_a_joined_session_is_linked_to_it(settings, session_now):
    store, _, planned = session_now
    app = case_discussion_app(settings=replace(settings, timezone="Australia/Sydney"))
    sign_in_as(app, "Fran")
    sessions.join(store, app.person, planned.join_code, datetime.now(UTC))
    app.show_home()  # what the home page shows after joining in the session app

    choice = app.form.session
    assert choice.description == "Part of session"
    local = planned.starts_at.astimezone(ZoneInfo("Australia/Sydney"))
    assert choice.options == (
        ("Not part of a session", ""),
        (f"Fathers <& carers> · {local:%H:%M}", planned.id),
    )
    assert choice.value == planned.id  # the only one: preselected
    _start(app)
    assert "Discussion started" in app.status.message
    header = app.view.content.children[0].value
    assert "Part of the session “Fathers &lt;&amp; carers&gt;”" in header
    db_file = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as raw:
        [(stored,)] = raw.execute("SELECT session_id FROM discussion").fetchall()
    assert stored == planned.id


def test_without_a_joined_session_nothing_is_preselected(make_app, session_now):
    store, coord, planned = session_now
    fran = make_app("Fran")  # has not joined
    assert fran.form.session.options == (("Not part of a session", ""),)
    sessions.join(store, fran.person, planned.join_code, datetime.now(UTC))
    second = sessions.plan_session(
        store, coord, planned.community_id, datetime.now(UTC), "Second room"
    )
    sessions.join(store, fran.person, second.join_code, datetime.now(UTC))
    fran.show_home()
    assert fran.form.session.value == "" and len(fran.form.session.options) == 3
    _start(fran)
    assert fran.view.discussion.session_id is None
    assert "Part of the session" not in fran.view.content.children[0].value


def test_a_session_closed_before_starting_is_reported_and_the_summary_kept(make_app, session_now):
    store, coord, planned = session_now
    fran = make_app("Fran")
    sessions.join(store, fran.person, planned.join_code, datetime.now(UTC))
    fran.show_home()
    assert fran.form.session.value == planned.id
    sessions.close_session(store, coord, planned.id)  # meanwhile, in the community app
    _start(fran, summary="A grandmother caring for two; the carer allowance stopped.")
    assert fran.view is None
    assert "The session “Fathers <& carers>” is closed" in fran.status.message
    assert fran.status.kind == "error"
    assert fran.form.summary.value == "A grandmother caring for two; the carer allowance stopped."
    assert fran.form.session.options == (("Not part of a session", ""),)
    with store.read() as conn:
        assert conn.execute(select(discussion)).first() is None
    fran.form.start.click()  # started again, now outside any session
    assert fran.view is not None and fran.view.discussion.session_id is None


def test_after_the_session_the_facilitator_ends_attendees_access(settings, session_now):
    store, _, planned = session_now
    fran = case_discussion_app(settings=settings)
    sign_in_as(fran, "Fran")
    ana = case_discussion_app(settings=settings)
    sign_in_as(ana, "Ana Attendee")
    for app in (fran, ana):
        sessions.join(store, app.person, planned.join_code, datetime.now(UTC))
    fran.show_home()
    _start(fran)
    held = fran.view.discussion.id
    ana.show_home()
    assert "cop-open-discussion" in repr(ana.body.children)  # an attendee opens the case
    ana.open_discussion(held)
    assert ana.view.end_access_button.layout.display == "none"  # not hers to end
    assert fran.view.end_access_button.layout.display is None
    fran.view.end_access_button.click()
    assert "no longer open this case" in fran.status.message
    assert fran.view.end_access_button.layout.display == "none"
    ana.show_home()
    assert "cop-open-discussion" not in repr(ana.body.children)
    ana.guard(ana.open_discussion, held)  # a stale button or a forged id: refused
    assert "You may not read a case discussion" in ana.status.message


# The start form's widgets are made with the app (in a preheated kernel, before the request):
# sign-in made 57 widgets before (each a message opening it on the page), 2 now (the list).
MOST_WIDGETS_MADE_AT_SIGN_IN = 4


def test_the_start_form_is_made_before_the_request_and_offers_the_persons_sessions(
    settings, session_now
):
    from ipywidgets.widgets.widget import _instances as live_widgets

    store, _, planned = session_now
    fran = find_or_add_person(store, "Fran")
    sessions.join(store, fran, planned.join_code, datetime.now(UTC))
    app = case_discussion_app(settings=settings)
    before = set(live_widgets)
    sign_in_as(app, fran)
    made = set(live_widgets) - before
    assert len(made) <= MOST_WIDGETS_MADE_AT_SIGN_IN, len(made)
    assert app.form in app.body.children
    assert app.form.session.value == planned.id  # the session Fran joined, preselected
    _start(app)
    assert app.view is not None and app.view.discussion.session_id == planned.id
    app.show_home()  # back to the list: a fresh form, nothing of the last one's text
    assert app.form.summary.value == "" and app.form.session.value == planned.id
