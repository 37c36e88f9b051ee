"""The permission matrix: every role × every rule of services/policy.py × record state, on a
real SQLite store; it prints the matrix, and the README's "who can see what" table is the
policy's own."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.content.protocols import load_protocols
from cop_widgets.errors import NotAllowed
from cop_widgets.services import (
    discussions,
    library,
    membership,
    policy,
    questions,
    reflections,
    roster,
    sessions,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import audit_event, library_entry, reflection
from tests.conftest import REPO

ROLES = (
    "global coordinator",
    "community coordinator",
    "community facilitator",
    "session facilitator",
    "member (attended)",
    "author",
    "supervisor",
    "other community",
    "practitioner",
    "signed out",
)


@pytest.fixture
def world(store, rolfe):
    now = datetime.now(UTC)
    p = {name: find_or_add_person(store, name.title()) for name in ROLES if name != "signed out"}
    p["signed out"] = None
    roster.grant_role(store, p["global coordinator"].id, "coordinator")
    roster.grant_role(store, p["supervisor"].id, "supervisor")
    roster.assign_supervisee(store, p["supervisor"].id, p["author"].id)
    host = p["community coordinator"]
    cop_a = sessions.create_community(store, host, "Community A")
    cop_b = sessions.create_community(store, p["other community"], "Community B")
    sessions.add_member(store, host, cop_a.id, p["community facilitator"].id, "facilitator")
    session = sessions.plan_session(store, host, cop_a.id, now + timedelta(minutes=5), "Session A1")
    for who in ("session facilitator", "member (attended)", "author"):
        sessions.join(store, p[who], session.join_code, now)
    sessions.set_session_roles(
        store,
        host,
        session.id,
        {"facilitator": p["session facilitator"].id, "note_taker": p["member (attended)"].id},
    )
    consultancy = load_protocols(REPO / "data" / "protocols").get("consultancy")
    in_session = discussions.start_discussion(
        store, p["session facilitator"], consultancy, "A de-identified case.",
        roles={"note_taker": ["Author"]}, session_id=session.id,
    )  # fmt: skip
    solo = discussions.start_discussion(
        store, p["author"], consultancy, "Another case.", roles={"note_taker": ["Practitioner"]}
    )
    answers = {s.id: reflections.Answer("Text.") for s in rolfe.stages}
    refl = {}
    for vis in ("private", "supervisor", "facilitator", "community", "aggregate_only"):
        rid = f"00000000-0000-4000-8000-0000000000{len(refl):02d}"
        reflections.submit(store, p["author"], rid, rolfe, answers, vis)
        refl[f"submitted {vis}"] = rid
    draft = "00000000-0000-4000-8000-0000000000d0"
    reflections.save_draft(store, p["author"], draft, rolfe, answers, "community")
    refl["draft community"] = draft
    story = load_frameworks(REPO / "data" / "frameworks").get(policy.VALUE_STORY)
    told = "00000000-0000-4000-8000-0000000000f1"  # the author's value-creation story
    reflections.submit(
        store, p["author"], told, story, {s.id: reflections.Answer("Told.") for s in story.stages}
    )
    with store.write() as conn:  # the author wrote them for session A1, shared with community A
        conn.execute(reflection.update().values(session_id=session.id, community_id=cop_a.id))
    membership.set_join_policy(
        store, p["other community"], cop_b.id, "open", False
    )  # A: by request
    entry = library.contribute(
        store, p["author"], "00000000-0000-4000-8000-0000000000e1", cop_a.id, "story",
        "What helped", "A practice story.",
    ).id  # fmt: skip
    draft = library.contribute(
        store, p["author"], "00000000-0000-4000-8000-0000000000e2", cop_a.id, "story",
        "Not yet", "A draft from a session.",
    ).id  # fmt: skip
    with store.write() as conn:  # as library.draft_from_note leaves it
        conn.execute(
            library_entry.update().where(library_entry.c.id == draft).values(status="draft")
        )
    asked = questions.ask(
        store, p["author"], "00000000-0000-4000-8000-0000000000a1", cop_a.id, "A question",
        "What would you try?",
    ).id  # fmt: skip
    records = {
        "community.create": {"-": None},
        "community.view": {"own community": cop_a.id, "other community": cop_b.id},
        "community.manage": {"own community": cop_a.id, "other community": cop_b.id},
        "session.view": {"session A1": session.id},
        "session.manage": {"session A1": session.id},
        "discussion.read": {"held in A1": in_session.id, "not in a session": solo.id},
        "discussion.end_access": {"held in A1": in_session.id},
        "reflection.read": refl,
        "reflection.review": refl,
        "review.open": {"-": None},
        "people.manage": {"-": None},
        "person.export": {
            "the author's data": p["author"].id,
            "a coordinator's own data": p["global coordinator"].id,
        },
        "report.session": {"session A1": session.id},
        "report.community": {"own community": cop_a.id, "other community": cop_b.id},
        "report.person": {"author's record": p["author"].id},
        "report.library": {
            "own community": cop_a.id,
            "other community": cop_b.id,
            "no such community": "00000000-0000-4000-8000-0000000000c0",
        },
        "community.browse": {"-": None},
        "community.join": {"open community": cop_b.id, "by-request community": cop_a.id},
        "community.request": {"open community": cop_b.id, "by-request community": cop_a.id},
        "community.approve": {"own community": cop_a.id, "other community": cop_b.id},
        "community.leave": {"own community": cop_a.id, "other community": cop_b.id},
        "library.contribute": {"own community": cop_a.id, "other community": cop_b.id},
        "library.read": {"entry in A": entry, "draft in A": draft},
        "library.revise": {"entry in A": entry, "draft in A": draft},
        "library.endorse": {"entry in A": entry, "draft in A": draft},
        "library.comment": {"entry in A": entry, "draft in A": draft},
        "library.mark": {"entry in A": entry, "draft in A": draft},
        "library.publish": {"entry in A": entry, "draft in A": draft},
        "library.draft_from_session": {"session A1": session.id},
        "library.draft_from_discussion": {"held in A1": in_session.id, "not in a session": solo.id},
        "value_story.return": {
            "author's story": told,
            "another model's reflection": refl["submitted community"],
        },
        "question.ask": {"own community": cop_a.id, "other community": cop_b.id},
        "question.read": {"question in A": asked},
        "question.answer": {"question in A": asked},
        "question.mark_helped": {"question in A": asked},
        "question.withdraw": {"question in A": asked},
        "question.save_to_library": {"question in A": asked},
    }
    return p, records


Y, N = True, False
# role order as in ROLES:
#  glob-coord, com-coord, com-fac, sess-fac, member, author, supervisor, other-com, pract, out
EXPECTED = {
    ("community.create", "-"): (Y, Y, Y, Y, Y, Y, Y, Y, Y, N),
    ("community.view", "own community"): (Y, Y, Y, Y, Y, Y, N, N, N, N),
    ("community.view", "other community"): (Y, N, N, N, N, N, N, Y, N, N),
    ("community.manage", "own community"): (Y, Y, Y, N, N, N, N, N, N, N),
    ("community.manage", "other community"): (Y, N, N, N, N, N, N, Y, N, N),
    ("session.view", "session A1"): (Y, Y, Y, Y, Y, Y, N, N, N, N),
    ("session.manage", "session A1"): (Y, Y, Y, Y, N, N, N, N, N, N),
    ("discussion.read", "held in A1"): (N, Y, N, Y, Y, Y, N, N, N, N),
    ("discussion.read", "not in a session"): (N, N, N, N, N, Y, N, N, Y, N),
    ("discussion.end_access", "held in A1"): (Y, Y, Y, Y, N, N, N, N, N, N),
    ("reflection.read", "submitted private"): (N, N, N, N, N, Y, N, N, N, N),
    ("reflection.read", "submitted supervisor"): (N, N, N, N, N, Y, Y, N, N, N),
    ("reflection.read", "submitted facilitator"): (N, N, N, Y, N, Y, N, N, N, N),
    ("reflection.read", "submitted community"): (N, Y, Y, Y, Y, Y, N, N, N, N),
    ("reflection.read", "submitted aggregate_only"): (N, N, N, N, N, Y, N, N, N, N),
    ("reflection.read", "draft community"): (N, N, N, N, N, Y, N, N, N, N),
    ("reflection.review", "submitted private"): (N,) * 10,
    ("reflection.review", "submitted supervisor"): (N, N, N, N, N, N, Y, N, N, N),
    ("reflection.review", "submitted facilitator"): (N,) * 10,
    ("reflection.review", "submitted community"): (N, N, N, N, N, N, Y, N, N, N),
    ("reflection.review", "submitted aggregate_only"): (N,) * 10,
    ("reflection.review", "draft community"): (N,) * 10,
    ("review.open", "-"): (N, N, N, N, N, N, Y, N, N, N),
    ("people.manage", "-"): (Y, N, N, N, N, N, N, N, N, N),
    # self only: a coordinator exports another person's data with `cop data export`
    ("person.export", "the author's data"): (N, N, N, N, N, Y, N, N, N, N),
    ("person.export", "a coordinator's own data"): (Y, N, N, N, N, N, N, N, N, N),
    ("report.session", "session A1"): (Y, Y, Y, Y, N, N, N, N, N, N),
    ("report.community", "own community"): (Y, Y, N, N, N, N, N, N, N, N),
    ("report.community", "other community"): (Y, N, N, N, N, N, N, Y, N, N),
    ("report.person", "author's record"): (N, N, N, N, N, Y, N, N, N, N),
    # the handbook holds only what the community's members read in its library already
    ("report.library", "own community"): (Y, Y, Y, Y, Y, Y, N, N, N, N),
    ("report.library", "other community"): (Y, N, N, N, N, N, N, Y, N, N),
    ("report.library", "no such community"): (N,) * 10,
    # the hub lists every community; joining an open one needs nothing more
    ("community.browse", "-"): (Y, Y, Y, Y, Y, Y, Y, Y, Y, N),
    ("community.join", "open community"): (Y, Y, Y, Y, Y, Y, Y, Y, Y, N),
    ("community.join", "by-request community"): (N,) * 10,
    ("community.request", "open community"): (N,) * 10,
    ("community.request", "by-request community"): (Y, N, N, N, N, N, Y, Y, Y, N),
    ("community.approve", "own community"): (Y, Y, N, N, N, N, N, N, N, N),
    ("community.approve", "other community"): (Y, N, N, N, N, N, N, Y, N, N),
    ("community.leave", "own community"): (N, Y, Y, Y, Y, Y, N, N, N, N),
    ("community.leave", "other community"): (N, N, N, N, N, N, N, Y, N, N),
    ("library.contribute", "own community"): (N, Y, Y, Y, Y, Y, N, N, N, N),
    ("library.contribute", "other community"): (N, N, N, N, N, N, N, Y, N, N),
    ("library.read", "entry in A"): (Y, Y, Y, Y, Y, Y, N, N, N, N),
    ("library.revise", "entry in A"): (N, N, N, N, N, Y, N, N, N, N),
    ("library.endorse", "entry in A"): (N, Y, Y, Y, Y, N, N, N, N, N),
    ("library.comment", "entry in A"): (N, Y, Y, Y, Y, Y, N, N, N, N),
    ("library.mark", "entry in A"): (Y, Y, Y, N, N, N, N, N, N, N),
    # a draft (made from a session's insight) is its author's alone until published
    ("library.read", "draft in A"): (N, N, N, N, N, Y, N, N, N, N),
    ("library.revise", "draft in A"): (N, N, N, N, N, Y, N, N, N, N),
    ("library.endorse", "draft in A"): (N,) * 10,
    ("library.comment", "draft in A"): (N,) * 10,
    ("library.mark", "draft in A"): (N,) * 10,
    ("library.publish", "draft in A"): (N, N, N, N, N, Y, N, N, N, N),
    ("library.publish", "entry in A"): (N,) * 10,
    # the session's facilitator and note-taker (the member); for a discussion, also its own
    # note-taker (the author); never a discussion held in no session
    ("library.draft_from_session", "session A1"): (N, N, N, Y, Y, N, N, N, N, N),
    ("library.draft_from_discussion", "held in A1"): (N, N, N, Y, Y, Y, N, N, N, N),
    ("library.draft_from_discussion", "not in a session"): (N,) * 10,
    # a story comes back to its author alone; a reflection of another model never does
    ("value_story.return", "author's story"): (N, N, N, N, N, Y, N, N, N, N),
    ("value_story.return", "another model's reflection"): (N,) * 10,
    # questions between sessions: its community's members ask, read and answer (a global
    # coordinator reads them); the asker marks what helped and withdraws; the asker and the
    # community's facilitators and coordinators save a thread to the library, while members
    ("question.ask", "own community"): (N, Y, Y, Y, Y, Y, N, N, N, N),
    ("question.ask", "other community"): (N, N, N, N, N, N, N, Y, N, N),
    ("question.read", "question in A"): (Y, Y, Y, Y, Y, Y, N, N, N, N),
    ("question.answer", "question in A"): (N, Y, Y, Y, Y, Y, N, N, N, N),
    ("question.mark_helped", "question in A"): (N, N, N, N, N, Y, N, N, N, N),
    ("question.withdraw", "question in A"): (N, N, N, N, N, Y, N, N, N, N),
    ("question.save_to_library", "question in A"): (N, Y, Y, N, N, Y, N, N, N, N),
}


def test_every_rule_has_rows_in_the_matrix(world):
    _, records = world
    assert set(records) == set(policy.RULES)
    assert {(rule, state) for rule, states in records.items() for state in states} == set(EXPECTED)


def test_permission_matrix(store, world, capsys):
    people, records = world
    got = {}
    with store.read() as conn:
        for (rule, state), _ in EXPECTED.items():
            target = records[rule][state]
            got[rule, state] = tuple(policy.allowed(conn, people[r], rule, target) for r in ROLES)
    width = max(len(f"{rule} · {state}") for rule, state in EXPECTED)
    with capsys.disabled():
        print("\n" + " " * width + " | " + " | ".join(r[:10].ljust(10) for r in ROLES))
        for key, row in got.items():
            marks = " | ".join(("yes" if ok else "-").ljust(10) for ok in row)
            print(f"{key[0]} · {key[1]}".ljust(width) + " | " + marks)
    wrong = {k: (got[k], EXPECTED[k]) for k in EXPECTED if got[k] != EXPECTED[k]}
    assert not wrong, "\n".join(f"{k}: got {g}, expected {e}" for k, (g, e) in wrong.items())


def test_a_refusal_is_audited_and_changes_nothing(store, world):
    people, records = world
    session_id = records["session.manage"]["session A1"]
    member = people["member (attended)"]
    with pytest.raises(NotAllowed, match="You may not run a session"):
        sessions.close_session(store, member, session_id)
    with pytest.raises(NotAllowed):
        sessions.set_session_roles(store, member, session_id, {"facilitator": member.id})
    with pytest.raises(NotAllowed):
        sessions.session_by_code(
            store,
            member,
            sessions.get_session(store, people["global coordinator"], session_id).join_code,
        )
    assert sessions.get_session(store, member, session_id).status != "closed"
    with store.read() as conn:
        refused = conn.execute(
            select(audit_event.c.action, audit_event.c.target_id).where(
                audit_event.c.actor_id == member.id, audit_event.c.outcome == "refused"
            )
        ).all()
    assert [tuple(r) for r in refused] == [("session.manage", session_id)] * 3


def test_members_see_sessions_but_not_their_join_codes(store, world):
    people, records = world
    cop_a = records["community.view"]["own community"]
    now = datetime.now(UTC)
    upcoming, _ = sessions.sessions_of(store, people["member (attended)"], cop_a, now)
    assert upcoming and all(s.join_code == "" for s in upcoming)
    upcoming, _ = sessions.sessions_of(store, people["community facilitator"], cop_a, now)
    assert all(len(s.join_code) == 6 for s in upcoming)
    with pytest.raises(NotAllowed):
        sessions.sessions_of(store, people["practitioner"], cop_a, now)
    assert [c.name for c in sessions.communities(store, people["practitioner"])] == []
    assert [c.name for c in sessions.communities(store, people["member (attended)"])] == [
        "Community A"
    ]


def test_a_session_stays_visible_to_whoever_attended_it_after_leaving(store, world):
    """Rule session.view in its one statement: attendance alone is enough (the matrix's
    attendee is also a member); neither attendance nor a role is not; nor is an unknown id."""
    people, records = world
    session_id = records["session.view"]["session A1"]
    cop_a = records["community.view"]["own community"]
    attendee = people["member (attended)"]
    membership.leave(store, attendee, cop_a)
    with store.read() as conn:
        assert not policy.allowed(conn, attendee, "community.view", cop_a)
        assert policy.allowed(conn, attendee, "session.view", session_id)
        assert not policy.allowed(conn, people["practitioner"], "session.view", session_id)
        assert not policy.allowed(conn, people["global coordinator"], "session.view", "no-such")
        assert not policy.allowed(conn, attendee, "session.view", None)


def test_the_facilitator_ends_attendees_access_to_the_case(store, world):
    people, records = world
    held = records["discussion.read"]["held in A1"]
    member = people["member (attended)"]
    assert held in {d.id for d in discussions.list_discussions(store, member)}
    with pytest.raises(NotAllowed):
        discussions.end_attendee_access(store, member, held)
    discussions.end_attendee_access(store, people["session facilitator"], held)
    assert held not in {d.id for d in discussions.list_discussions(store, member)}
    with pytest.raises(NotAllowed):
        discussions.open_discussion(store, member, held)
    assert discussions.open_discussion(store, people["session facilitator"], held).id == held


def test_readme_carries_the_policy_table():
    readme = (Path(REPO) / "README.md").read_text(encoding="utf-8")
    assert policy.readme_table() in readme, (
        "run: python -c 'from cop_widgets.services import "
        "policy; print(policy.readme_table())' and paste it under “Who can see what”"
    )


@pytest.mark.parametrize(
    ("shown_at", "now", "min_group", "moves"),
    [(None, 4, 5, False), (None, 5, 5, True), (5, 9, 5, False), (5, 10, 5, True), (7, 12, 5, True)],
)
def test_small_groups_and_summaries_that_move_by_difference(shown_at, now, min_group, moves):
    assert policy.may_move_on(shown_at, now, min_group) is moves
    assert policy.figure_or_none(3, 4, 5) is None and policy.figure_or_none(3, 5, 5) == 3
    assert policy.figure_or_none(0, 0, 5) == 0  # an empty group unmasks nobody
