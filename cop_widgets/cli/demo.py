"""Demo content for a first run: one practitioner with a submitted and a draft reflection, and a
demo community of practice with a past session (joined, checked in and out, a case discussion
with notes and an action) and an upcoming one, so that every app and report has something real
to show."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.services import reflections, roster
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import Store
from cop_widgets.store.schema import community, discussion, reflection

DEMO_NAME = "Demo practitioner"
DEMO_SUPERVISOR = "Demo supervisor"
DEMO_COORDINATOR = "Demo coordinator"
DEMO_COMMUNITY = "Demo community of practice"
DEMO_MEMBERS = tuple(f"Demo member {n}" for n in range(1, 7))
# Fixed ids so that seeding twice (two servers starting at once) cannot duplicate anything.
_SUBMITTED_ID = str(uuid.UUID("00000000-0000-4000-8000-00000000d301"))
_DRAFT_ID = str(uuid.UUID("00000000-0000-4000-8000-00000000d302"))


def seed_demo(store: Store, catalogue: Catalogue) -> bool:
    """Add the demo reflections to an empty store; return True if anything was added."""
    with store.read() as conn:
        if conn.execute(select(func.count()).select_from(reflection)).scalar():
            return False
    rolfe, gibbs = catalogue.get("rolfe-2001"), catalogue.get("gibbs-1988")
    if rolfe is None or gibbs is None:
        return False
    who = find_or_add_person(store, DEMO_NAME)
    supervisor = find_or_add_person(store, DEMO_SUPERVISOR)
    roster.assign_supervisee(store, supervisor.id, who.id)
    A = reflections.Answer
    reflections.submit(
        store,
        who,
        _SUBMITTED_ID,
        rolfe,
        {
            "what": A(
                "A home visit with a young parent (the mother) and her two-year-old. I came to "
                "talk about the nursery placement; she was guarded and the visit ran short."
            ),
            "so_what": A(
                "I led with the agency's agenda before asking how her week had been. The "
                "guardedness made sense: the last worker she met removed an older child."
            ),
            "now_what": A(
                "Next visit I will open with her priorities, explain my role plainly and "
                "ask my supervisor about a joint visit with the family support worker."
            ),
        },
        visibility="supervisor",
    )
    reflections.save_draft(
        store,
        who,
        _DRAFT_ID,
        gibbs,
        {
            "description": A(
                "A case conference where the school and the family support service "
                "disagreed about whether the child's attendance had improved."
            ),
            "feelings": A("", passed=True),
        },
    )
    return True


def seed_demo_community(store: Store, settings, now: datetime | None = None) -> bool:
    """A demo CoP with last week's session (closed, with answers and a linked discussion),
    today's (starting in about half an hour) and next week's; only into a store that has no
    community yet."""
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.content.session_items import load_item_sets
    from cop_widgets.services import checkins, discussions, sessions

    with store.read() as conn:
        if conn.execute(select(func.count()).select_from(community)).scalar():
            return False
    consultancy = load_protocols(settings.protocols_dir).get("consultancy")
    sets = load_item_sets(settings.data_dir / "session_items")[0]
    if consultancy is None or not {"checkin", "checkout"} <= set(sets):
        return False
    now = now or datetime.now(UTC)
    host = find_or_add_person(store, DEMO_NAME)
    members = [host, *(find_or_add_person(store, name) for name in DEMO_MEMBERS)]
    coordinator = find_or_add_person(store, DEMO_COORDINATOR)
    roster.grant_role(store, coordinator.id, "coordinator")
    cop = sessions.create_community(
        store,
        host,
        DEMO_COMMUNITY,
        "Family support and out-of-home-care prevention",
        "Practitioners learn from each other's cases, keep what works, and try it.",
    )
    last_week = (now - timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)
    past = sessions.plan_session(
        store,
        host,
        cop.id,
        last_week,
        "Engaging fathers",
        "How do we keep fathers in the conversation when services talk mostly to mothers?",
        consultancy.id,
    )
    sessions.plan_session(
        store,
        host,
        cop.id,
        last_week + timedelta(days=14),
        "Working with neglect",
        "What helps a family notice the small changes?",
        "tuning",
    )
    # today's, starting soon: a newcomer can open its run sheet from the home page at once
    soon = now + timedelta(minutes=30)
    sessions.plan_session(
        store,
        host,
        cop.id,
        soon.replace(minute=soon.minute - soon.minute % 5, second=0, microsecond=0),
        "Today's practice session",
        "Bring a case where the family's own words changed the plan.",
        consultancy.id,
    )
    for who in members[1:]:  # the demo community's members, added by its coordinator
        sessions.add_member(store, host, cop.id, who.id, "member")
    sessions.set_session_roles(
        store, host, past.id, {"facilitator": host.id, "note_taker": members[1].id}
    )
    words = ("hopeful", "heard", "stretched", "hopeful", "curious", "heard", "hopeful")
    for i, who in enumerate(members):
        sessions.join(store, who, past.join_code, last_week)
        checkins.submit_answers(
            store,
            who,
            past.id,
            sets["checkin"],
            {
                "wellbeing": 3 + i % 2,
                "confidence_reflect_then": 2 + i % 2,
                "confidence_discuss_then": 2 + i % 3,
            },
        )
        checkins.submit_answers(
            store,
            who,
            past.id,
            sets["checkout"],
            {
                "confidence_reflect_now": 3 + i % 2,
                "confidence_discuss_now": 4 - i % 2,
                "useful": 4 + i % 2,
                "safe": 4 + (i + 1) % 2,
                "one_word": words[i],
                "resource": "Fatherhood Institute practice guides" if i in (1, 4) else "",
                "commitment": "Invite the father to the next home visit by name.",
            },
        )
    run = discussions.start_discussion(
        store,
        host,
        consultancy,
        "A worker is visiting a family where the father works nights and has never been at a "
        "visit. The mother says he does not want to be involved. Focus question: how do I "
        "reach him without undermining her?",
        roles={"presenter": [members[2].display_name], "note_taker": [members[1].display_name]},
        summary_checked=True,
        session_id=past.id,
    )
    for phase_id, text in (
        (
            "respond",
            "Ask the mother what the father is good at with the children, then "
            "ask to meet him at a time that suits his shifts.",
        ),
        (
            "debrief",
            "The silent group discussion helped; next time keep probing questions shorter.",
        ),
    ):
        discussions.save_note(store, members[1], str(uuid.uuid4()), run.id, phase_id, text)
    discussions.add_action(
        store,
        members[1],
        run.id,
        "Share a short guide on engaging fathers",
        "Facilitator",
        (now + timedelta(days=7)).date(),
    )
    # The discussion ran through every phase during last week's session.
    clock_at = last_week.timestamp() + 15 * 60
    discussions.run_clock(store, host, run.id, "start", len(consultancy.phases), now=clock_at)
    for index, phase in enumerate(consultancy.phases):
        clock_at += phase.minutes * 60
        discussions.run_clock(
            store, host, run.id, "next", len(consultancy.phases), index, now=clock_at
        )
    discussions.set_status(store, host, run.id, "closed")
    opened = datetime.fromtimestamp(last_week.timestamp() + 10 * 60, UTC).isoformat()
    ended = datetime.fromtimestamp(clock_at, UTC).isoformat()
    with store.write() as conn:
        conn.execute(
            update(discussion)
            .where(discussion.c.id == run.id)
            .values(created_at=opened, updated_at=ended, closed_at=ended)
        )
    sessions.close_session(store, host, past.id)
    return True
