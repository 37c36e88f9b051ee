"""The review app and the author's view of released feedback, driven headlessly."""

import uuid
from dataclasses import replace

from cop_widgets.apps.reflection import reflection_app
from cop_widgets.apps.supervisor_review import review_app
from cop_widgets.services import reflections
from cop_widgets.services.identity import find_or_add_person
from tests.find_widgets import buttons
from tests.signin import sign_in_as
from tests.submit_for_review import submit_for_review


def _setup(store, rolfe):
    answers = {
        "what": reflections.Answer("A short visit."),
        "so_what": reflections.Answer("", passed=True),
        "now_what": reflections.Answer("Plan:\nphone first.\nThen visit."),
    }
    return submit_for_review(store, rolfe, answers)


def test_supervisor_reviews_gives_feedback_and_releases(store, settings, rolfe):
    _, _, rid = _setup(store, rolfe)
    app = review_app(settings=settings)
    sign_in_as(app, "Sue Supervisor")
    assert "1 reflection(s)" in app.pager.value
    buttons(app.body, "Open")[0].click()
    page = app.body.children[0].value
    assert "A short visit." in page and "(brief (one line))" in page and "(passed)" in page
    app.fb_kind.value = "strength"
    app.fb_text.value = "You kept the child in view."
    buttons(app.body, "Add feedback")[0].click()
    assert "Feedback added" in app.status.message
    app.fb_text.value = "Which research helps here?"
    app.fb_kind.value = "deepening_question"
    buttons(app.body, "Save to my comment bank")[0].click()
    assert len(app.fb_bank.options) == 2
    assert app.fb_text.value == "Which research helps here?"  # a copy in the bank, text stays
    buttons(app.body, "Add feedback")[0].click()
    assert "Feedback added" in app.status.message and app.fb_text.value == ""
    buttons(app.body, "Release feedback to the author")[0].click()  # asks first
    buttons(app.body, "Yes, release")[0].click()
    assert "Feedback released" in app.status.message

    author = reflection_app(settings=settings)
    sign_in_as(author, "Ana")
    author.open_reflection(rid)
    panel = author.body.children[-1]
    assert "You kept the child in view." in panel.children[0].value
    assert "Sue Supervisor" in panel.children[0].value


def test_practitioner_gets_not_authorised_and_sees_no_queue(store, settings, rolfe):
    _setup(store, rolfe)
    app = review_app(settings=settings)
    sign_in_as(app, "Ana")
    assert app.status.kind == "error" and "Not authorised" in app.status.message
    assert app.person is None and not hasattr(app, "queue_box")


def test_anonymised_review_shows_numbers_not_names(store, settings, rolfe):
    _setup(store, rolfe)
    app = review_app(settings=settings)
    sign_in_as(app, "Sue Supervisor")
    app.anonymised.value = True
    listing = app.queue_box.children[0].children[1].value
    assert "Ana" not in listing and "Reflection #" in listing
    again = review_app(settings=settings)
    sign_in_as(again, "Sue Supervisor")
    assert again.anonymised.value is True  # a per-supervisor option, kept


def test_forged_open_of_a_private_reflection_changes_nothing(store, settings, rolfe):
    sup, ana, _ = _setup(store, rolfe)
    private = str(uuid.uuid4())
    reflections.submit(
        store, ana, private, rolfe, {s.id: reflections.Answer("mine only") for s in rolfe.stages}
    )
    app = review_app(settings=settings)
    sign_in_as(app, "Sue Supervisor")
    app.guard(app.open_reflection, private)  # as a forged widget message would
    assert "No reflection with id" in app.status.message and app.current is None


def test_author_raising_visibility_reruns_the_check(store, settings, rolfe):
    ana = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    reflections.submit(
        store,
        ana,
        rid,
        rolfe,
        {s.id: reflections.Answer("Rang her on 0412 345 678.") for s in rolfe.stages},
    )
    app = reflection_app(settings=settings)
    sign_in_as(app, "Ana")
    app.open_reflection(rid)
    app._change_visibility(rid, "community")
    assert "Not changed yet" in app.status.message
    assert reflections.get_mine(store, ana, rid).visibility == "private"
    app.deid.confirm.value = True
    app._change_visibility(rid, "community")
    assert reflections.get_mine(store, ana, rid).visibility == "community"


def test_the_review_apps_header_leads_home_to_the_participants_server(store, settings, rolfe):
    _setup(store, rolfe)
    app = review_app(settings=settings)
    sign_in_as(app, "Sue Supervisor")
    assert 'href="http://127.0.0.1:8866/"' in app.header.value and ">Home</a>" in app.header.value
    room = review_app(settings=replace(settings, public_url="https://10.1.2.3:8866"))
    sign_in_as(room, "Sue Supervisor")
    assert 'href="https://10.1.2.3:8866/"' in room.header.value
    odd = review_app(settings=replace(settings, home_url="javascript:alert(1)"))
    sign_in_as(odd, "Sue Supervisor")
    assert "javascript" not in odd.header.value and "Home" not in odd.header.value
