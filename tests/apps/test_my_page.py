"""My page, in-process on a real SQLite store: each section shows the signed-in person's own
items and never another person's; feedback is new until opened; a follow-up is saved here (and
kept, retried, when the store refuses it); the export holds my rows and none of anyone else's;
a refused export is audited."""

import asyncio
import base64
import io
import json
import re
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from cop_widgets.apps.home import home_app
from cop_widgets.apps.my_page import my_page_app
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.errors import NotAllowed
from cop_widgets.services import (
    checkins,
    person_export,
    reflections,
    review,
    roster,
    sessions,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import audit_event, commitment
from tests.services.test_checkins import SETS
from tests.signin import sign_in_as
from tests.test_save_failures import _short_busy_timeout, run_in_loop, until

ANA_PROMISE = "Ask the child first <b>ANA-PROMISE</b> \u202edesrever"
BEN_PROMISE = "BEN-PROMISE-CANARY: call the school"
ANA_DRAFT = "ANA-DRAFT what happened at the visit"
BEN_DRAFT = "BEN-DRAFT-CANARY a private draft"


@pytest.fixture
def world(store, rolfe):
    """Ana and Ben, practitioners of one community, each with a commitment from the last
    session, a draft and a reflection with feedback their supervisor released."""
    now = datetime.now(UTC)
    cora = find_or_add_person(store, "Cora Convenor")
    cop = sessions.create_community(store, cora, "Northside CoP")
    last = sessions.plan_session(store, cora, cop.id, now - timedelta(hours=3), "Last time")
    nxt = sessions.plan_session(
        store, cora, cop.id, now + timedelta(days=2), "Working with fathers"
    )
    sue = find_or_add_person(store, "Sue Supervisor")
    people = {}
    for name, promise, draft in (("Ana", ANA_PROMISE, ANA_DRAFT), ("Ben", BEN_PROMISE, BEN_DRAFT)):
        who = find_or_add_person(store, name)
        sessions.join(store, who, last.join_code, now - timedelta(hours=3))
        checkins.submit_answers(store, who, last.id, SETS["checkout"], {"commitment": promise})
        roster.assign_supervisee(store, sue.id, who.id)
        draft_id = str(uuid.uuid4())
        first = rolfe.stages[0].id
        reflections.save_draft(
            store, who, draft_id, rolfe, {first: reflections.Answer(draft)}, "supervisor"
        )
        shared = str(uuid.uuid4())
        answers = {s.id: reflections.Answer(f"{name} wrote this.") for s in rolfe.stages}
        reflections.submit(store, who, shared, rolfe, answers, "supervisor")
        review.add_feedback(store, sue, shared, "strength", f"Good noticing, {name}.")
        review.release(store, sue, shared)
        people[name] = {"person": who, "draft": draft_id, "shared": shared}
    return {"cora": cora, "sue": sue, "cop": cop, "last": last, "next": nxt, **people}


@pytest.fixture
def open_page(settings):
    opened = []

    def open_as(who, query=""):
        app = my_page_app(settings=settings)
        app.query = query
        sign_in_as(app, who)
        opened.append(app)
        return app

    yield open_as
    for app in opened:
        app.store.dispose()


def _text(app) -> str:
    """Every HTML the page (or a part of it) shows, as one string."""
    found = []

    def walk(w):
        if hasattr(w, "value") and isinstance(w.value, str):
            found.append(w.value)
        for child in getattr(w, "children", ()):
            walk(child)

    walk(app)
    return "\n".join(found)


def _section(app, key):
    [box] = [b for b in app.body.children if f"cop-my-{key}" in b._dom_classes]
    return box


def _section_text(app, key) -> str:
    return _text(_section(app, key))


def _row_of(app, commitment_id):
    return app._followup_rows[commitment_id]


def _commitment_id(store, who) -> str:
    with store.read() as conn:
        return conn.execute(
            select(commitment.c.id).where(commitment.c.person_id == who.id)
        ).scalar_one()


# -- each section: mine, never another person's ---------------------------------------------------
def test_every_section_is_labelled_and_shows_mine_only(world, open_page):
    ana, ben = world["Ana"], world["Ben"]
    app = open_page(ana["person"])
    assert app.status.kind != "error", app.status.message
    headings = [
        re.search(r"<h2>([^<]*)</h2>", _section_text(app, key)).group(1)
        for key in ("upcoming", "commitments", "drafts", "feedback", "record", "export")
    ]
    assert headings == [
        "Upcoming sessions", "My commitments", "My drafts", "Feedback", "My CPD record", "My data",
    ]  # fmt: skip

    upcoming = _section_text(app, "upcoming")
    assert "Working with fathers" in upcoming and "Northside CoP" in upcoming
    assert world["next"].join_code not in upcoming  # codes are for those who run it

    commitments = _section_text(app, "commitments")
    assert "ANA-PROMISE" in commitments and "BEN-PROMISE" not in commitments
    # my own text is shown as text, isolated for direction
    assert "&lt;b&gt;ANA-PROMISE&lt;/b&gt;" in commitments and "<b>ANA" not in commitments
    assert "<bdi>Ask the child first" in commitments
    assert "Last time" in commitments and "Open" in commitments

    drafts = _section_text(app, "drafts")
    assert "ANA-DRAFT" in drafts and "BEN-DRAFT" not in drafts
    assert f'href="reflection.ipynb?reflection={ana["draft"]}"' in drafts
    assert ben["draft"] not in _text(app)

    feedback = _section_text(app, "feedback")
    assert f"reflection.ipynb?reflection={ana['shared']}" in feedback
    assert ben["shared"] not in _text(app)
    assert "Sue Supervisor" in feedback and "What? So what? Now what?" in feedback
    assert ".ipynb" not in re.sub(r"<[^>]*>", "", unescape(_text(app)))  # no file name as text


def test_empty_sections_say_so_plainly(store, open_page):
    app = open_page("Nadia Newcomer")
    assert "not in a community yet" in _section_text(app, "upcoming")
    assert "No commitments yet" in _section_text(app, "commitments")
    assert "<p>No drafts.</p>" in _section_text(app, "drafts")
    assert "<p>No feedback yet.</p>" in _section_text(app, "feedback")


# What is the same for everyone (the sections, the data export) is made with the app, in a
# preheated kernel before the request: sign-in made 60 widgets for a newcomer before, 37 now
# (most of them the CPD record's report panel, which is the person's).
MOST_WIDGETS_MADE_AT_SIGN_IN = 40


def test_the_parts_alike_for_everyone_are_made_before_the_request(store, settings):
    from ipywidgets.widgets.widget import _instances as live_widgets

    app = my_page_app(settings=settings)
    try:
        before = set(live_widgets)
        sign_in_as(app, "Nadia Newcomer")
        made = set(live_widgets) - before
        assert len(made) <= MOST_WIDGETS_MADE_AT_SIGN_IN, len(made)
        assert list(app.body.children) == app.sections and len(app.sections) == 7
        assert app.export_button in app.export_box.children
        assert "No commitments yet" in _section_text(app, "commitments")
    finally:
        app.store.dispose()


def test_home_page_has_a_my_page_card_for_everyone(store, settings):
    app = home_app(settings=settings)
    sign_in_as(app, "Nadia Newcomer")
    assert 'class="cop-card cop-card-mine" href="my_page.ipynb"' in app.cards_view.value
    app.store.dispose()


def test_my_cpd_record_is_made_on_demand_for_me_only(world, open_page):
    ana = world["Ana"]["person"]
    app = open_page(ana)
    [panel] = [w for w in app.record_box.children if hasattr(w, "target_id")]
    assert (panel.kind, panel.target_id) == ("person", ana.id)
    assert panel.button.description == "My CPD record"
    assert panel.date_from is not None and panel.date_to is not None  # a period to choose
    assert panel.links.value == ""  # nothing is rendered until asked for


# -- upcoming sessions: the join link while a session is on -------------------------------------
def test_a_join_link_only_for_a_session_on_now(store, world, open_page):
    now = datetime.now(UTC)
    on = sessions.plan_session(
        store, world["cora"], world["cop"].id, now + timedelta(minutes=20), "On now"
    )
    host = open_page(world["cora"])
    shown = _section_text(host, "upcoming")
    assert f'href="session.ipynb?code={on.join_code}"' in shown  # on now: the join link
    assert world["next"].join_code not in shown  # in two days: no link yet
    assert "On now" in shown
    member = open_page(world["Ana"]["person"])
    shown = _section_text(member, "upcoming")
    assert on.join_code not in shown  # a member types the code the facilitator shows
    assert 'action="session.ipynb"' in shown and '<label for="cop-my-code">' in shown


# -- feedback: new until opened -----------------------------------------------------------------
def test_feedback_is_new_until_its_reflection_is_opened(world, open_page, settings):
    ana, ben = world["Ana"], world["Ben"]
    assert 'cop-new-feedback">New</strong>' in _section_text(open_page(ana["person"]), "feedback")

    # Ben tries Ana's link: refused (audited), and her feedback stays new
    intruder = reflection_app(settings=settings, environ={})
    intruder.query = f"reflection={ana['shared']}"
    sign_in_as(intruder, ben["person"])
    assert intruder.status.kind == "error" and intruder.stepper is None
    intruder.store.dispose()
    assert 'cop-new-feedback">New</strong>' in _section_text(open_page(ana["person"]), "feedback")

    # Ana follows the link: the reflection opens with its feedback, and is no longer new
    opened = reflection_app(settings=settings, environ={})
    opened.query = f"reflection={ana['shared']}"
    sign_in_as(opened, ana["person"])
    assert opened.stepper is not None and opened.draft_id == ana["shared"]
    assert "Good noticing, Ana." in _text(opened)
    opened.store.dispose()
    after = _section_text(open_page(ana["person"]), "feedback")
    assert "cop-new-feedback" not in after and ana["shared"] in after
    # Ben's own feedback is still new for him
    assert 'cop-new-feedback">New</strong>' in _section_text(open_page(ben["person"]), "feedback")


def test_refused_link_to_another_persons_reflection_is_audited(world, settings, store):
    intruder = reflection_app(settings=settings, environ={})
    intruder.query = f"reflection={world['Ana']['draft']}"
    sign_in_as(intruder, world["Ben"]["person"])
    intruder.store.dispose()
    with store.read() as conn:
        refused = conn.execute(
            select(audit_event.c.actor_id, audit_event.c.outcome).where(
                audit_event.c.target_id == world["Ana"]["draft"],
                audit_event.c.outcome != "ok",
            )
        ).all()
    assert [(a, o) for a, o in refused] == [(world["Ben"]["person"].id, "authz_fail")]


# -- drafts: the link reopens where I stopped ---------------------------------------------------
def test_a_draft_link_reopens_it_where_i_stopped_with_its_sharing_choice(world, settings):
    ana = world["Ana"]
    app = reflection_app(settings=settings, environ={})
    app.query = f"reflection={ana['draft']}"
    sign_in_as(app, ana["person"])
    try:
        assert app.draft_id == ana["draft"] and not app.stepper.read_only
        assert app.stepper.stage_index == 1  # stage 1 is answered: the next one
        assert app.stepper.visibility == "supervisor"
        assert "Continuing your draft" in app.status.message
    finally:
        app.store.dispose()


# -- commitments: follow-up recorded here ---------------------------------------------------------
def test_a_follow_up_is_saved_here_and_shown_with_its_state(world, open_page, store):
    ana, ben = world["Ana"]["person"], world["Ben"]["person"]
    app = open_page(ana)
    cid = _commitment_id(store, ana)
    row = _row_of(app, cid)
    row.happened.value = "It changed the visit."
    row.children[3].click()  # Save, with no choice made: said next to it, the text stays
    assert "Choose yes, partly or not yet" in row.note.value
    assert row.happened.value == "It changed the visit." and app.unsaved
    row.tried.value = "partly"
    row.children[3].click()
    with store.read() as conn:
        mine = conn.execute(select(commitment).where(commitment.c.id == cid)).one()
        bens = conn.execute(select(commitment).where(commitment.c.person_id == ben.id)).one()
    assert (mine.tried, mine.followup_text) == ("partly", "It changed the visit.")
    assert mine.followup_session_id is None and mine.followed_up_at
    assert bens.followed_up_at is None  # Ben's is his to follow up
    assert not app.unsaved and "follow-up is saved" in app.status.message
    done = _section_text(app, "commitments")
    assert "Tried it partly" in done and "It changed the visit." in done
    # it no longer comes back at a later session's check-in
    assert checkins.open_commitments(store, ana, world["next"].id) == []
    # and shows with its state when the page is opened again
    again = _section_text(open_page(ana), "commitments")
    assert "Tried it partly" in again and "Open</strong>" not in again


def test_nobody_follows_up_another_persons_commitment(world, store):
    from cop_widgets.errors import RecordNotFound

    cid = _commitment_id(store, world["Ana"]["person"])
    with pytest.raises(RecordNotFound):
        checkins.follow_up(store, world["Ben"]["person"], cid, None, "yes", "Not mine.")
    assert checkins.my_commitments(store, world["Ana"]["person"])[0].open


def test_a_refused_follow_up_stays_on_the_page_and_is_retried(world, settings, store, lock_for):
    ana = world["Ana"]["person"]
    app = my_page_app(settings=settings)
    _short_busy_timeout(app.store)
    sign_in_as(app, ana)
    cid = _commitment_id(store, ana)
    row = _row_of(app, cid)
    row.saver.retry_first, row.saver.retry_max = 0.05, 0.2

    async def scenario():
        row.tried.value = "yes"
        row.happened.value = "We asked her first."
        assert app.unsaved
        lock = lock_for(app.store)
        row.children[3].click()
        assert "Not saved yet — retrying" in app.status.message
        assert "Not saved yet" in row.note.value  # said next to the button too
        assert row.happened.value == "We asked her first." and app.unsaved
        await asyncio.sleep(0.3)
        assert checkins.my_commitments(store, ana)[0].open
        lock.release()
        assert await until(lambda: not row.saver.dirty), "the retry never stored it"
        assert not app.unsaved

    try:
        run_in_loop(scenario)
        [saved] = checkins.my_commitments(store, ana)
        assert (saved.tried, saved.followup_text) == ("yes", "We asked her first.")
    finally:
        app.store.dispose()


# -- my data ---------------------------------------------------------------------------------------
def _zip_of(app) -> zipfile.ZipFile:
    link = app.export_link.value
    name = re.search(r'download="([^"]+)"', link).group(1)
    assert re.fullmatch(r"my-cop-workbook-data_\d{4}-\d{2}-\d{2}\.zip", name)
    data = re.search(r'href="data:application/zip;base64,([^"]+)"', link).group(1)
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(data)))


def test_the_export_holds_my_rows_and_none_of_another_persons(world, open_page, store):
    ana, ben = world["Ana"]["person"], world["Ben"]["person"]
    app = open_page(ana)
    assert app.export_link.value == ""  # made only when asked for
    app.export_button.click()
    assert app.status.kind == "ok", app.status.message
    archive = _zip_of(app)
    names = archive.namelist()
    assert "export.json" in names and "commitment.csv" in names and "reflection.csv" in names
    export = json.loads(archive.read("export.json"))
    assert export["person_id"] == ana.id
    assert [c["text"] for c in export["tables"]["commitment"]] == [ANA_PROMISE]
    drafts = [a["text"] for a in export["tables"]["reflection_answer"]]
    assert ANA_DRAFT in drafts
    everything = b"".join(archive.read(n) for n in names).decode("utf-8")
    for other in (ben.id, BEN_PROMISE, BEN_DRAFT, "Ben wrote this."):
        assert other not in everything
    assert "ANA-PROMISE" in archive.read("commitment.csv").decode("utf-8")
    # the export is audited with Ana as its actor
    with store.read() as conn:
        events = conn.execute(
            select(audit_event.c.actor_id).where(
                audit_event.c.action == "person_exported", audit_event.c.target_id == ana.id
            )
        ).all()
    assert [e.actor_id for e in events] == [ana.id]


def test_anothers_data_is_refused_and_the_refusal_audited(world, store):
    ana, cora = world["Ana"]["person"], world["cora"]
    roster.grant_role(store, cora.id, "coordinator")  # even a global coordinator: the command only
    with pytest.raises(NotAllowed, match="download a person's data"):
        person_export.export_my_data(store, cora, ana.id)
    with pytest.raises(NotAllowed):
        person_export.export_my_data(store, None)
    with store.read() as conn:
        refused = conn.execute(
            select(audit_event.c.actor_id, audit_event.c.target_id).where(
                audit_event.c.action == "person.export", audit_event.c.outcome == "refused"
            )
        ).all()
        exported = conn.execute(
            select(audit_event.c.seq).where(audit_event.c.action == "person_exported")
        ).all()
    assert (cora.id, ana.id) in [tuple(r) for r in refused] and (None, None) in [
        tuple(r) for r in refused
    ]
    assert exported == []  # nothing was exported


def test_a_busy_store_says_the_export_was_not_made(world, settings, lock_for):
    app = my_page_app(settings=settings)
    _short_busy_timeout(app.store)
    sign_in_as(app, world["Ana"]["person"])
    lock = lock_for(app.store)
    try:
        app.export_button.click()
        assert "export was not made" in app.export_link.value
        assert app.status.kind == "error" and "Traceback" not in app.status.message
    finally:
        lock.release()
        app.store.dispose()
