"""Forged requests: another person's ids sent to each app's handlers (as a crafted widget message
or a stale button would) and each service called by an actor without the right. Nothing in the
store changes, the person sees a plain refusal, and a refusal of a policy rule is audited."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import UTC, datetime, timedelta

import ipywidgets as W
import pytest
from sqlalchemy import select

from cop_widgets.apps.case_discussion import case_discussion_app
from cop_widgets.apps.community import community_app
from cop_widgets.apps.library import library_app
from cop_widgets.apps.questions import questions_app
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.apps.run_sheet import run_sheet_app
from cop_widgets.apps.supervisor_review import review_app
from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.content.protocols import load_protocols
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.errors import CopWidgetsError, NotAllowed
from cop_widgets.services import (
    board,
    checkins,
    discussions,
    library,
    person_export,
    questions,
    reflections,
    report_access,
    review,
    roster,
    sessions,
    value_stories,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import schema
from tests.conftest import REPO
from tests.signin import sign_in_as

PROTOCOLS = load_protocols(REPO / "data" / "protocols")
CONSULTANCY = PROTOCOLS.get("consultancy")
ITEM_SETS = list(load_item_sets(REPO / "data" / "session_items")[0].values())


class World:
    """Community A with a session, a discussion held in it and Ana's reflections; Sam runs
    community B, is a supervisor (not Ana's) and a coordinator of nothing else."""

    def __init__(self, store, rolfe):
        now = datetime.now(UTC)
        self.cora = find_or_add_person(store, "Cora Coordinator")
        self.ana = find_or_add_person(store, "Ana Author")
        self.sam = find_or_add_person(store, "Sam Stranger")
        roster.grant_role(store, self.sam.id, "supervisor")
        sue = find_or_add_person(store, "Sue Supervisor")
        roster.assign_supervisee(store, sue.id, self.ana.id)
        self.cop_a = sessions.create_community(store, self.cora, "Community A")
        self.cop_b = sessions.create_community(store, self.sam, "Community B")
        self.session = sessions.plan_session(
            store, self.cora, self.cop_a.id, now + timedelta(minutes=5), "Session A1"
        )
        sessions.join(store, self.ana, self.session.join_code, now)
        self.discussion = discussions.start_discussion(
            store,
            self.ana,
            CONSULTANCY,
            "A de-identified case.",
            roles={"note_taker": ["Ana Author"]},
            session_id=self.session.id,
        )
        answers = {s.id: reflections.Answer("Ana's own words.") for s in rolfe.stages}
        self.draft = str(uuid.uuid4())
        reflections.save_draft(store, self.ana, self.draft, rolfe, answers, "private")
        self.private = str(uuid.uuid4())
        reflections.submit(store, self.ana, self.private, rolfe, answers, "private")
        self.for_supervisor = str(uuid.uuid4())
        reflections.submit(store, self.ana, self.for_supervisor, rolfe, answers, "supervisor")
        # Ana's value-creation story, saved as an intention that has come back to her today
        story = load_frameworks(REPO / "data" / "frameworks").get(value_stories.VALUE_STORY)
        self.story, self.today = str(uuid.uuid4()), now.date()
        told = {s: reflections.Answer("Ana's own words.") for s in ("activity", "potential")}
        value_stories.save_as_intention(
            store, self.ana, self.story, story, told, "private", self.today, self.today
        )
        sessions.open_checkout(store, self.cora, self.session.id)
        checkout = next(s for s in ITEM_SETS if s.id == "checkout")
        checkins.submit_answers(
            store, self.ana, self.session.id, checkout, {"commitment": "Ask first"}
        )
        [self.commitment] = checkins.my_commitments(store, self.ana)
        # Ana's practice insight in the discussion, and a library draft of hers
        insight = next(p for p in CONSULTANCY.phases if p.insight)
        self.insight = discussions.save_note(
            store, self.ana, str(uuid.uuid4()), self.discussion.id, insight.id, "Ask first."
        )
        self.library_draft = library.contribute(
            store, self.ana, str(uuid.uuid4()), self.cop_a.id, "approach", "Ask first", "Text."
        ).id
        with store.write() as conn:  # as library.draft_from_note leaves it, after the session
            conn.execute(
                schema.library_entry.update()
                .where(schema.library_entry.c.id == self.library_draft)
                .values(status="draft")
            )
        # Ana's question to community A, which Cora answered
        self.question = questions.ask(
            store, self.ana, str(uuid.uuid4()), self.cop_a.id, "Ana's question",
            "Ana's own words.", confirmed=True,
        ).id  # fmt: skip
        self.answer = questions.answer(
            store, self.cora, str(uuid.uuid4()), self.question, "Try a short text first."
        ).id


@pytest.fixture
def world(store, rolfe):
    return World(store, rolfe)


def _rows(store) -> dict[str, list[tuple]]:
    """Every row of every table but the audit log (which records the refusals)."""
    with store.read() as conn:
        return {
            t.name: sorted(map(repr, conn.execute(select(t)).all()))
            for t in schema.metadata.sorted_tables
            if t.name != "audit_event"
        }


def _refusals(store, actor_id: str) -> list[tuple[str, str]]:
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(schema.audit_event.c.action, schema.audit_event.c.target_id).where(
                    schema.audit_event.c.actor_id == actor_id,
                    schema.audit_event.c.outcome == "refused",
                )
            ).all()
        ]


# -- each app's handlers, given another person's ids --------------------------------------------
def _community(settings, w):
    app = community_app(settings=settings, environ={})
    sign_in_as(app, w.sam)
    start = datetime.now(UTC) + timedelta(days=1)
    return app, [
        ("show_roles", (w.session.id,), ("session.view", w.session.id)),
        ("_close_session", (w.session.id,), ("session.manage", w.session.id)),
        (
            "_save_roles",
            (w.session.id, {"facilitator": w.sam.id}),
            ("session.manage", w.session.id),
        ),
        (
            "_store_plan",
            (w.cop_a.id, start, ("Forged topic", ""), "consultancy", 60),
            ("community.manage", w.cop_a.id),
        ),
    ]


def _discussion(settings, w):
    app = case_discussion_app(settings=settings, environ={})
    sign_in_as(app, w.sam)
    return app, [("open_discussion", (w.discussion.id,), ("discussion.read", w.discussion.id))]


def _reflection(settings, w):
    app = reflection_app(settings=settings, environ={})
    sign_in_as(app, w.sam)
    return app, [
        ("open_reflection", (w.draft,), None),
        ("read_shared", (w.private,), ("reflection.read", w.private)),
        ("_change_visibility", (w.private, "private"), None),
        ("_revise", (w.private,), None),
        (
            "_plan_return",
            (w.story, W.DatePicker(value=w.today)),
            ("value_story.return", w.story),
        ),
    ]


def _review(settings, w):
    app = review_app(settings=settings, environ={})
    sign_in_as(app, w.sam)
    return app, [
        ("open_reflection", (w.for_supervisor,), None),
        ("_depth", (w.for_supervisor, "descriptive_reflection"), None),
        ("_release", (w.for_supervisor,), None),
    ]


def _run_sheet(settings, w):
    app = run_sheet_app(settings=settings, environ={})
    app.query = f"session={w.session.id}"  # the query string only chooses a record
    sign_in_as(app, w.sam)
    return app, [
        ("open_checkout", (), None),
        ("save_roles", (), None),
        ("start_discussion", (), None),
        ("close_session", (), None),
        ("make_library_draft", (w.insight.id,), None),
    ]


def _library(settings, w):
    app = library_app(settings=settings, environ={})
    sign_in_as(app, w.sam)
    return app, [
        ("open_entry", (w.library_draft,), ("library.read", w.library_draft)),
        ("_publish", (w.library_draft,), ("library.publish", w.library_draft)),
    ]


def _questions(settings, w):
    app = questions_app(settings=settings, environ={})
    sign_in_as(app, w.sam)
    q = w.question
    return app, [
        ("open_question", (q,), ("question.read", q)),
        ("_store_answer", (("forged",), q, str(uuid.uuid4())), ("question.answer", q)),
        ("_helped", (w.answer, True), ("question.mark_helped", q)),
        ("_save_to_library", (q,), ("question.save_to_library", q)),
        ("_withdraw", (q,), ("question.withdraw", q)),
    ]


@pytest.mark.parametrize(
    "make_app", [_community, _discussion, _reflection, _review, _run_sheet, _library, _questions]
)
def test_an_apps_handlers_refuse_another_persons_ids(store, settings, world, make_app):
    app, calls = make_app(settings, world)
    for name, args, audited in calls:
        before = _rows(store)
        refused_before = _refusals(store, world.sam.id)
        app.status.clear()
        app.guard(getattr(app, name), *args)
        message = app.status.message
        assert "You may not" in message or "No " in message, (name, message)
        assert "Traceback" not in message and "Something went wrong" not in message, name
        assert _rows(store) == before, f"{name} changed the store"
        if audited:
            assert _refusals(store, world.sam.id)[len(refused_before) :] == [audited], name
    # the refused ids' material never reached the stranger's page
    assert "Ana's own words." not in repr(app.body.children)
    assert "A de-identified case." not in repr(app.body.children)


# -- each service, called by an actor who lacks the right -------------------------------------
def _service_calls(w):
    s, a, d = w.session.id, w.cop_a.id, w.discussion.id
    phase = CONSULTANCY.phases[0]
    later = datetime.now(UTC) + timedelta(days=2)
    return [
        ("session.manage", s, lambda st, who: sessions.close_session(st, who, s)),
        ("session.manage", s, lambda st, who: sessions.set_session_roles(st, who, s, {})),
        ("session.manage", s, lambda st, who: sessions.attendees(st, who, s)),
        ("session.view", s, lambda st, who: sessions.get_session(st, who, s)),
        ("session.view", s, lambda st, who: sessions.session_roles(st, who, s)),
        ("community.view", a, lambda st, who: sessions.members(st, who, a)),
        ("community.view", a, lambda st, who: sessions.role_history(st, who, a)),
        ("community.view", a, lambda st, who: sessions.attendance_counts(st, who, a)),
        ("community.manage", a, lambda st, who: sessions.plan_session(st, who, a, later, "Forged")),
        ("community.manage", a, lambda st, who: sessions.add_member(st, who, a, who.id, "member")),
        ("discussion.read", d, lambda st, who: discussions.get(st, who, d)),
        ("discussion.read", d, lambda st, who: discussions.notes(st, who, d)),
        ("discussion.read", d, lambda st, who: discussions.actions(st, who, d)),
        ("discussion.read", d, lambda st, who: discussions.ratings(st, who, d, phase.id)),
        (
            "discussion.read",
            d,
            lambda st, who: discussions.save_note(
                st, who, str(uuid.uuid4()), d, phase.id, "forged"
            ),
        ),
        (
            "discussion.read",
            d,
            lambda st, who: discussions.add_action(
                st, who, d, "Forged", "Sam", dt.date(2027, 1, 1)
            ),
        ),
        ("discussion.read", d, lambda st, who: discussions.set_status(st, who, d, "closed")),
        (
            "discussion.read",
            d,
            lambda st, who: discussions.run_clock(st, who, d, "start", len(CONSULTANCY.phases)),
        ),
        (
            "discussion.read",
            d,
            lambda st, who: discussions.set_roles(
                st, who, d, CONSULTANCY, {"facilitator": ["Sam"]}
            ),
        ),
        ("discussion.end_access", d, lambda st, who: discussions.end_attendee_access(st, who, d)),
        ("reflection.read", w.private, lambda st, who: reflections.read_shared(st, who, w.private)),
        ("session.manage", s, lambda st, who: sessions.open_checkout(st, who, s)),
        ("session.manage", s, lambda st, who: sessions.session_to_run(st, who, s)),
        ("session.manage", s, lambda st, who: board.board_state(st, who, s, ITEM_SETS, 3)),
        ("session.manage", s, lambda st, who: board.shown_state(st, who, s, ITEM_SETS, 3)),
        ("report.session", s, lambda st, who: report_access.session_report(st, who, s)),
        (
            "report.community",
            a,
            lambda st, who: report_access.community_report(st, who, a, "2026-01-01", "2026-12-31"),
        ),
        (
            "report.person",
            w.ana.id,
            lambda st, who: report_access.person_record(
                st, who, w.ana.id, "2026-01-01", "2026-12-31"
            ),
        ),
        ("report.library", a, lambda st, who: report_access.library_handbook(st, who, a)),
        ("report.library", a, lambda st, who: report_access.report_job(st, who, "library", a)),
        (
            "person.export",
            w.ana.id,
            lambda st, who: person_export.export_my_data(st, who, w.ana.id),
        ),
        (
            "library.draft_from_discussion",
            d,
            lambda st, who: library.draft_from_note(st, who, w.insight.id, PROTOCOLS),
        ),
        (
            "library.draft_from_discussion",
            d,
            lambda st, who: library.discussion_sources(st, who, d, PROTOCOLS),
        ),
        (
            "library.draft_from_session",
            s,
            lambda st, who: library.session_sources(st, who, s, PROTOCOLS, ITEM_SETS, 3),
        ),
        (
            "library.draft_from_session",
            s,
            lambda st, who: library.draft_from_resource(st, who, s, "0" * 32, ITEM_SETS, 3),
        ),
        (
            "library.publish",
            w.library_draft,
            lambda st, who: library.publish(st, who, w.library_draft),
        ),
        *_question_calls(w),
    ]


def _question_calls(w):
    a, q, answer = w.cop_a.id, w.question, w.answer
    return [
        (
            "question.ask",
            a,
            lambda st, who: questions.ask(st, who, str(uuid.uuid4()), a, "Forged", "forged"),
        ),
        ("question.read", q, lambda st, who: questions.get(st, who, q)),
        ("question.read", q, lambda st, who: questions.thread(st, who, q)),
        ("community.view", a, lambda st, who: questions.questions(st, who, community_id=a)),
        (
            "question.answer",
            q,
            lambda st, who: questions.answer(st, who, str(uuid.uuid4()), q, "forged"),
        ),
        ("question.mark_helped", q, lambda st, who: questions.mark_helped(st, who, answer)),
        ("question.mark_helped", q, lambda st, who: questions.unmark_helped(st, who, answer)),
        ("question.withdraw", q, lambda st, who: questions.withdraw(st, who, q)),
        ("question.save_to_library", q, lambda st, who: questions.draft_texts(st, who, q)),
        ("question.save_to_library", q, lambda st, who: questions.save_to_library(st, who, q)),
    ]


def test_every_service_refuses_an_actor_without_the_right_and_audits_it(store, world):
    for rule, target, call in _service_calls(world):
        before = _rows(store)
        refused_before = _refusals(store, world.sam.id)
        with pytest.raises(NotAllowed):
            call(store, world.sam)
        assert _rows(store) == before, f"{rule} on {target} changed the store"
        assert _refusals(store, world.sam.id)[len(refused_before) :] == [(rule, target)], rule


def test_owned_records_answer_not_found_to_anyone_else(store, world):
    """A person's own drafts and reviews are looked up by owner: another person's id is simply
    not found, so a forged id does not even reveal that the record exists."""
    for call in (
        lambda: reflections.get_mine(store, world.sam, world.draft),
        lambda: reflections.change_visibility(store, world.sam, world.private, "community"),
        lambda: reflections.new_version(store, world.sam, world.private),
        lambda: review.open_for_review(store, world.sam, world.for_supervisor),
        lambda: review.set_depth(store, world.sam, world.for_supervisor, "descriptive_reflection"),
        lambda: review.release(store, world.sam, world.for_supervisor),
        lambda: review.add_feedback(store, world.sam, world.for_supervisor, "strength", "forged"),
        lambda: checkins.follow_up(store, world.sam, world.commitment.id, None, "yes", "forged"),
        # someone else's value-creation story: not found (and audited as refused)
        lambda: value_stories.return_of(store, world.sam, world.story),
        lambda: value_stories.plan_return(store, world.sam, world.story, world.today, world.today),
        lambda: value_stories.complete_return(store, world.sam, world.story, "forged", ""),
    ):
        before = _rows(store)
        with pytest.raises(CopWidgetsError) as caught:
            call()
        assert any(
            w in str(caught.value) for w in ("No reflection", "No commitment", "You may not")
        )
        assert _rows(store) == before
