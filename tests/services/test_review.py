"""Supervision and the visibility ladder: who reads what, feedback, release, audit."""

import random
import uuid

import pytest
from sqlalchemy import select

from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import (
    feedback,
    policy,
    reflections,
    review,
    roster,
    sessions,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import audit_event, reflection

VIS = ("private", "supervisor", "facilitator", "community", "aggregate_only")


def _submit(store, who, fw, text, visibility):
    rid = str(uuid.uuid4())
    answers = {s.id: reflections.Answer(text) for s in fw.stages}
    reflections.submit(store, who, rid, fw, answers, visibility=visibility)
    return rid


@pytest.fixture
def pair(store, rolfe):
    sup, ana = find_or_add_person(store, "Sue Supervisor"), find_or_add_person(store, "Ana")
    roster.assign_supervisee(store, sup.id, ana.id)
    rid = _submit(store, ana, rolfe, "What happened at the visit.", "supervisor")
    return sup, ana, rid


def test_forty_practitioners_two_supervisors_each_sees_exactly_their_own(store, rolfe):
    rng = random.Random(7)  # noqa: S311 - test data, not security
    people = [find_or_add_person(store, f"Practitioner {n:02d}") for n in range(40)]
    sups = [find_or_add_person(store, "Supervisor A"), find_or_add_person(store, "Supervisor B")]
    for n, p in enumerate(people):
        roster.assign_supervisee(store, sups[n % 2].id, p.id)
    # three communities, cut across the supervisors' cohorts; practitioners 00-04 belong to none
    host = find_or_add_person(store, "Community host")  # a member of all three, a viewer here
    cops = [sessions.create_community(store, host, f"CoP {k}") for k in range(3)]
    community_of = {p.id: cops[n % 3].id for n, p in enumerate(people) if n >= 5}
    with store.write() as conn:
        for pid, cid in community_of.items():
            policy.add_member(conn, cid, pid)
    truth = {}
    for p in people:
        for i in range(10):
            vis, draft = rng.choice(VIS), rng.random() < 0.2
            rid = str(uuid.uuid4())
            if draft:
                reflections.save_draft(
                    store, p, rid, rolfe, {"what": reflections.Answer(f"draft {i}")}, vis
                )
            else:
                reflections.submit(
                    store,
                    p,
                    rid,
                    rolfe,
                    {s.id: reflections.Answer(f"entry {i}") for s in rolfe.stages},
                    vis,
                )
            truth[rid] = (p.id, vis, "draft" if draft else "submitted")
    cohort = {s.id: {p.id for n, p in enumerate(people) if n % 2 == sups.index(s)} for s in sups}

    def expected(viewer):
        return {
            rid
            for rid, (author, vis, status) in truth.items()
            if author == viewer.id
            or (
                status == "submitted"
                and vis == "community"
                and viewer.id in community_of
                and community_of.get(author) == community_of[viewer.id]
            )
            or (
                status == "submitted"
                and vis == "supervisor"
                and author in cohort.get(viewer.id, set())
            )
        }

    for viewer in people + sups:
        with store.read() as conn:
            got = set(
                conn.execute(
                    select(reflection.c.id).where(policy.reflections_readable_by(viewer))
                ).scalars()
            )
        assert got == expected(viewer), viewer.display_name
        mine = [s for s in reflections.list_mine(store, viewer)]
        assert {m.id for m in mine} == {r for r, t in truth.items() if t[0] == viewer.id}
    for sup in sups:
        queue = review.review_queue(store, sup, page_size=1000)
        want = {
            rid
            for rid, (a, vis, st) in truth.items()
            if a in cohort[sup.id] and st == "submitted" and vis in ("supervisor", "community")
        }
        assert {i.reflection_id for i in queue.items} == want and queue.total == len(want)


def test_feedback_is_released_then_seen_by_the_author_only(store, pair):
    sup, ana, rid = pair
    view = review.open_for_review(store, sup, rid)
    assert view.author_name == "Ana" and view.reflection.answer("what").text
    review.add_feedback(store, sup, rid, "strength", "You named your own part clearly.")
    review.add_feedback(store, sup, rid, "deepening_question", "What did the mother want?")
    review.set_depth(store, sup, rid, "descriptive_reflection")
    assert feedback.released_feedback(store, ana, rid) == []  # not yet released
    review.release(store, sup, rid)
    seen = feedback.released_feedback(store, ana, rid)
    assert [(f.kind, f.supervisor_name) for f in seen] == [
        ("strength", "Sue Supervisor"),
        ("deepening_question", "Sue Supervisor"),
    ]
    other = find_or_add_person(store, "Ben")
    assert feedback.released_feedback(store, other, rid) == []
    with pytest.raises(RecordLocked):
        review.add_feedback(store, sup, rid, "resource", "too late")


def test_release_needs_feedback(store, pair):
    sup, _, rid = pair
    with pytest.raises(InvalidInput, match="at least one"):
        review.release(store, sup, rid)


def test_other_supervisor_and_private_entries_are_refused_and_audited(store, pair, rolfe):
    sup, ana, rid = pair
    other = find_or_add_person(store, "Other Supervisor")
    roster.grant_role(store, other.id, "supervisor")
    private = _submit(store, ana, rolfe, "private words", "private")
    for who, target in ((other, rid), (sup, private)):
        with pytest.raises(RecordNotFound):
            review.open_for_review(store, who, target)
        with pytest.raises(RecordNotFound):
            review.add_feedback(store, who, target, "strength", "forged")
    with store.read() as conn:
        fails = conn.execute(
            select(audit_event.c.action, audit_event.c.actor_id).where(
                audit_event.c.outcome == "authz_fail"
            )
        ).all()
    assert len(fails) == 4 and {a for a, _ in fails} == {"viewed_for_review", "feedback_given"}


def test_queue_filters_and_pages_in_sql(store, pair, rolfe, catalogue):
    sup, ana, _ = pair
    ben = find_or_add_person(store, "Ben")
    roster.assign_supervisee(store, sup.id, ben.id)
    gibbs = catalogue.get("gibbs-1988")
    for _ in range(25):
        _submit(store, ben, gibbs, "ben's", "supervisor")
    assert review.review_queue(store, sup).total == 26
    page2 = review.review_queue(store, sup, supervisee_id=ben.id, page=2)
    assert page2.total == 25 and page2.pages == 2 and len(page2.items) == 5
    assert review.review_queue(store, sup, framework_id="rolfe-2001").total == 1
    first = review.review_queue(store, sup).items
    assert [i.submitted_at for i in first] == sorted((i.submitted_at for i in first), reverse=True)
    review.add_feedback(store, sup, first[0].reflection_id, "strength", "good")
    assert review.review_queue(store, sup, state="feedback drafted").total == 1
    assert review.review_queue(store, sup, state="new").total == 25
    # a page past the end (the filter narrowed the queue) is its last page, never "2 of 1"
    past = review.review_queue(store, sup, supervisee_id=ben.id, page=9)
    assert (past.page, past.pages, len(past.items)) == (2, 2, 5)
    empty = review.review_queue(store, sup, framework_id="no-such-model", page=2)
    assert (empty.page, empty.pages, empty.total, empty.items) == (1, 1, 0, ())


def test_non_supervisor_is_not_authorised_and_audited(store):
    ana = find_or_add_person(store, "Ana")
    with pytest.raises(InvalidInput, match="Not authorised"):
        roster.require_supervisor(store, ana)


def test_audit_never_holds_text(store, pair):
    sup, ana, rid = pair
    review.add_feedback(store, sup, rid, "strength", "UNIQUE-FEEDBACK-CANARY")
    reflections.change_visibility(store, ana, rid, "community")
    with store.read() as conn:
        rows = conn.execute(select(audit_event)).all()
    assert "UNIQUE-FEEDBACK-CANARY" not in repr(rows) and "What happened" not in repr(rows)
    actions = {r.action for r in rows}
    assert {"feedback_given", "visibility_changed"} <= actions


def test_submitted_stays_as_reviewed_and_edits_make_a_new_version(store, pair, rolfe):
    _, ana, rid = pair
    new = reflections.new_version(store, ana, rid)
    reflections.save_draft(
        store, ana, new, rolfe, {"what": reflections.Answer("revised")}, "supervisor"
    )
    assert (
        reflections.get_mine(store, ana, rid).answer("what").text == "What happened at the visit."
    )
    with store.read() as conn:
        row = conn.execute(select(reflection).where(reflection.c.id == new)).one()
    assert (row.version_of, row.version_no, row.status) == (rid, 2, "draft")


def test_only_the_author_changes_visibility(store, pair):
    sup, ana, rid = pair
    with pytest.raises(RecordNotFound):
        reflections.change_visibility(store, sup, rid, "community")
    reflections.change_visibility(store, ana, rid, "private")
    with pytest.raises(RecordNotFound):  # no longer shared
        review.open_for_review(store, sup, rid)
