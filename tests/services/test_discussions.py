"""Case discussions in the store: start, roles, the clock, notes, actions and ratings."""

import multiprocessing
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from cop_widgets.content import discussion_clock
from cop_widgets.content.protocols import load_protocols
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import discussions as discussion_service
from cop_widgets.services import sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import migrations, open_store
from cop_widgets.store.schema import cop_session, discussion
from tests.conftest import REPO

PROTOCOLS = load_protocols(REPO / "data" / "protocols")


@pytest.fixture
def consultancy():
    return PROTOCOLS.get("consultancy")


@pytest.fixture
def people(store):
    return {name: find_or_add_person(store, name) for name in ("Fran", "Nadia", "Sam", "Pat")}


@pytest.fixture
def started(store, people, consultancy):
    return discussion_service.start_discussion(
        store,
        people["Fran"],
        consultancy,
        "A mother of two young children; the school reports worries about attendance.",
        "includes family violence",
        {"note_taker": ["Nadia", "Sam"], "presenter": ["Pat"]},
    )


def test_starting_keeps_summary_content_note_and_roles(started, people):
    assert started.status == "open" and started.clock.status == discussion_clock.NOT_STARTED
    assert started.content_note == "includes family violence"
    assert started.holders("note_taker") == ["Nadia", "Sam"]
    assert started.roles_of(people["Fran"]) == {"facilitator"}
    assert started.may_take_notes(people["Nadia"]) and not started.may_run_clock(people["Nadia"])
    assert not started.may_take_notes(people["Pat"])


def test_unknown_role_and_empty_summary_are_refused(store, people, consultancy):
    with pytest.raises(InvalidInput, match="no role 'wizard'"):
        discussion_service.start_discussion(
            store, people["Fran"], consultancy, "summary", roles={"wizard": ["X"]}
        )
    with pytest.raises(InvalidInput, match="case summary"):
        discussion_service.start_discussion(store, people["Fran"], consultancy, "   ")


# -- discussions held in a CoP session ------------------------------------------------------------
SESSION_START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SUMMARY = "A father of three; the school asks how to involve him."


@pytest.fixture
def cop_session_now(store):
    coord = find_or_add_person(store, "Cora Coordinator")
    cop = sessions.create_community(store, coord, "Family support CoP")
    return coord, sessions.plan_session(store, coord, cop.id, SESSION_START, "Engaging fathers")


def _discussion_count(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(discussion)).scalar()


@pytest.fixture
def linked(store, people, consultancy, cop_session_now):
    """Fran joins the session and starts a discussion in it: (the session, the discussion)."""
    _, held_in = cop_session_now
    sessions.join(store, people["Fran"], held_in.join_code, SESSION_START)
    started = discussion_service.start_discussion(
        store, people["Fran"], consultancy, SUMMARY, session_id=held_in.id
    )
    return held_in, started


def test_a_discussion_started_by_an_attendee_is_linked_to_the_session(store, people, linked):
    held_in, started = linked
    assert (
        started.session_id
        == held_in.id
        == discussion_service.get(store, people["Fran"], started.id).session_id
    )
    with store.read() as conn:
        stored = conn.execute(select(discussion.c.session_id)).scalar_one()
    assert stored == held_in.id


def test_a_sessions_discussions_go_to_whom_the_discussion_rule_lets_read_them(
    store, people, consultancy, cop_session_now
):
    """The join page's list (session_discussions: built once, over bind parameters) follows
    the same rule as every other list (list_discussions: built for the person): its starter,
    its role holders by name, the session's attendees until their access ends, and the
    community's coordinators; nobody else."""
    coordinator, held_in = cop_session_now
    for name in ("Fran", "Sam"):
        sessions.join(store, people[name], held_in.join_code, SESSION_START)
    started = discussion_service.start_discussion(
        store, people["Fran"], consultancy, SUMMARY, roles={"note_taker": ["Nadia"]},
        session_id=held_in.id,
    )  # fmt: skip

    def sees(who) -> bool:
        in_session = [d.id for d in discussion_service.session_discussions(store, who, held_in.id)]
        anywhere = [d.id for d in discussion_service.list_discussions(store, who)]
        assert in_session == [d for d in anywhere if d == started.id], who.display_name
        return in_session == [started.id]

    assert all(sees(who) for who in (people["Fran"], people["Nadia"], people["Sam"], coordinator))
    assert not sees(people["Pat"])  # neither there, nor holding a role, nor coordinating
    discussion_service.end_attendee_access(store, people["Fran"], started.id)
    assert not sees(people["Sam"])
    assert all(sees(who) for who in (people["Fran"], people["Nadia"], coordinator))


def test_without_a_session_the_link_is_empty(store, people, consultancy):
    assert (
        discussion_service.start_discussion(store, people["Fran"], consultancy, SUMMARY).session_id
        is None
    )
    assert (
        discussion_service.start_discussion(
            store, people["Fran"], consultancy, SUMMARY, session_id=""
        ).session_id
        is None
    )


def test_a_session_not_attended_is_refused_by_name(store, people, consultancy, cop_session_now):
    _, held_in = cop_session_now
    sessions.join(store, people["Nadia"], held_in.join_code, SESSION_START)  # someone else joined
    with pytest.raises(InvalidInput, match="You have not joined the session “Engaging fathers”"):
        discussion_service.start_discussion(
            store, people["Fran"], consultancy, SUMMARY, session_id=held_in.id
        )
    assert _discussion_count(store) == 0


def test_a_closed_session_is_refused_by_name(store, people, consultancy, cop_session_now):
    coord, held_in = cop_session_now
    sessions.join(store, people["Fran"], held_in.join_code, SESSION_START)
    sessions.close_session(store, coord, held_in.id)
    with pytest.raises(InvalidInput, match="The session “Engaging fathers” is closed") as refused:
        discussion_service.start_discussion(
            store, people["Fran"], consultancy, SUMMARY, session_id=held_in.id
        )
    assert refused.value.field == "session" and _discussion_count(store) == 0


def test_an_unknown_session_id_is_refused(store, people, consultancy):
    unknown = str(uuid.uuid4())
    with pytest.raises(InvalidInput, match=f"No CoP session has the id {unknown}"):
        discussion_service.start_discussion(
            store, people["Fran"], consultancy, SUMMARY, session_id=unknown
        )
    assert _discussion_count(store) == 0


def test_removing_the_session_keeps_the_discussion_unlinked(store, people, linked):
    held_in, started = linked
    with store.write() as conn:
        conn.execute(delete(cop_session).where(cop_session.c.id == held_in.id))
    kept = discussion_service.get(store, people["Fran"], started.id)
    assert kept.session_id is None and kept.case_summary == SUMMARY


def test_only_the_facilitator_runs_the_clock(store, started, people, consultancy):
    n = len(consultancy.phases)
    with pytest.raises(InvalidInput, match="facilitator or timekeeper"):
        discussion_service.run_clock(store, people["Nadia"], started.id, "start", n)
    d = discussion_service.run_clock(store, people["Fran"], started.id, "start", n, now=100)
    assert d.clock.status == discussion_clock.RUNNING


def test_double_click_on_next_moves_one_phase(store, started, people, consultancy):
    n = len(consultancy.phases)
    discussion_service.run_clock(store, people["Fran"], started.id, "start", n, now=0)
    first = discussion_service.run_clock(
        store, people["Fran"], started.id, "next", n, from_index=0, now=10
    )
    second = discussion_service.run_clock(
        store, people["Fran"], started.id, "next", n, from_index=0, now=10.1
    )
    assert first.clock.phase_index == second.clock.phase_index == 1


def test_pause_extend_are_shared_through_the_store(store, started, people, consultancy):
    n, fran = len(consultancy.phases), people["Fran"]
    discussion_service.run_clock(store, fran, started.id, "start", n, now=0)
    discussion_service.run_clock(store, fran, started.id, "extend", n, minutes=2, now=30)
    discussion_service.run_clock(store, fran, started.id, "pause", n, now=60)
    seen_elsewhere = discussion_service.get(store, people["Fran"], started.id).clock
    minutes = consultancy.phases[0].minutes
    assert seen_elsewhere.status == discussion_clock.PAUSED
    assert seen_elsewhere.remaining(minutes, now=9999) == minutes * 60 + 120 - 60


def test_two_note_takers_keep_both_texts(store, started, people):
    phase = (
        "present"
        if "present" in [p.id for p in PROTOCOLS.get("consultancy").phases]
        else PROTOCOLS.get("consultancy").phases[0].id
    )
    a = discussion_service.save_note(
        store, people["Nadia"], str(uuid.uuid4()), started.id, phase, "Nadia's notes"
    )
    b = discussion_service.save_note(
        store, people["Sam"], str(uuid.uuid4()), started.id, phase, "Sam's notes"
    )
    texts = {
        n.author_name: n.text
        for n in discussion_service.notes(store, people["Fran"], started.id, phase)
    }
    assert texts == {"Nadia": "Nadia's notes", "Sam": "Sam's notes"}
    with pytest.raises(RecordNotFound):  # Sam cannot write into Nadia's note
        discussion_service.save_note(store, people["Sam"], a.id, started.id, phase, "overwrite")
    assert b.revision == 1


def test_same_note_from_two_tabs_is_a_reported_conflict(store, started, people):
    phase = PROTOCOLS.get("consultancy").phases[0].id
    note_id = str(uuid.uuid4())
    first = discussion_service.save_note(
        store, people["Nadia"], note_id, started.id, phase, "tab one"
    )
    discussion_service.save_note(
        store,
        people["Nadia"],
        note_id,
        started.id,
        phase,
        "tab one, more",
        expected_revision=first.revision,
    )
    with pytest.raises(RecordLocked, match="another tab"):
        discussion_service.save_note(
            store,
            people["Nadia"],
            note_id,
            started.id,
            phase,
            "tab two",
            expected_revision=first.revision,
        )
    assert (
        discussion_service.notes(store, people["Fran"], started.id, phase)[0].text
        == "tab one, more"
    )


def test_presenter_cannot_take_notes(store, started, people):
    with pytest.raises(InvalidInput, match="note-taker"):
        discussion_service.save_note(
            store, people["Pat"], str(uuid.uuid4()), started.id, "x", "notes"
        )


def test_actions_keep_description_owner_and_due_date(store, started, people):
    import datetime as dt

    discussion_service.add_action(
        store,
        people["Nadia"],
        started.id,
        "Ask about a joint visit",
        "Presenter",
        dt.date(2026, 12, 1),
    )
    with pytest.raises(InvalidInput, match="owns"):
        discussion_service.add_action(store, people["Nadia"], started.id, "No owner", "  ", None)
    [action] = discussion_service.actions(store, people["Fran"], started.id)
    assert (action.description, action.owner, action.due_date) == (
        "Ask about a joint visit",
        "Presenter",
        "2026-12-01",
    )


def test_each_rating_is_kept_and_replaced_not_added(store, people):
    mapping = PROTOCOLS.get("three_column_mapping")
    scale_phase = next(p for p in mapping.phases if p.scale is not None)
    holders = {"note_taker": ["Nadia", "Sam"], "timekeeper": ["Pat"]}
    d = discussion_service.start_discussion(
        store, people["Fran"], mapping, "A family with a new baby.", "", holders
    )
    for name, value in (("Fran", 3), ("Nadia", 6), ("Sam", 6), ("Pat", 9), ("Fran", 4)):
        discussion_service.rate(store, people[name], d.id, scale_phase, value)
    assert discussion_service.ratings(store, people["Fran"], d.id, scale_phase.id) == [4, 6, 6, 9]
    with pytest.raises(InvalidInput, match="from 0 to 10"):
        discussion_service.rate(store, people["Sam"], d.id, scale_phase, 11)


def test_closed_discussion_refuses_notes_then_reopens(store, started, people):
    phase = PROTOCOLS.get("consultancy").phases[0].id
    discussion_service.set_status(store, people["Fran"], started.id, "closed")
    with pytest.raises(RecordLocked, match="closed"):
        discussion_service.save_note(
            store, people["Nadia"], str(uuid.uuid4()), started.id, phase, "late"
        )
    discussion_service.set_status(store, people["Fran"], started.id, "open")
    discussion_service.save_note(
        store, people["Nadia"], str(uuid.uuid4()), started.id, phase, "after reopening"
    )
    assert [n.text for n in discussion_service.notes(store, people["Fran"], started.id, phase)] == [
        "after reopening"
    ]


def test_an_existing_version_one_store_is_migrated(tmp_path, monkeypatch, data_dir):
    settings = Settings(data_dir, f"sqlite:///{tmp_path / 'old.sqlite'}", 5000)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
    old = open_store(settings)
    who = find_or_add_person(old, "Kept Person")
    old.dispose()
    monkeypatch.undo()
    new = open_store(settings)
    with new.read() as conn:
        versions = conn.execute(text("SELECT version FROM schema_migrations")).scalars().all()
        tables = set(conn.execute(text("SELECT name FROM sqlite_master")).scalars())
    assert versions == list(range(1, migrations.LATEST + 1)) and "discussion_note" in tables
    assert find_or_add_person(new, "kept person").id == who.id


def _note_taker(db_url, data_dir, name, discussion_id, phase_id, barrier, out):
    from cop_widgets.services import discussions
    from cop_widgets.services.identity import find_or_add_person

    store = open_store(Settings(Path(data_dir), db_url, 5000))
    who = find_or_add_person(store, name)
    note_id = str(uuid.uuid4())
    barrier.wait()
    for i in range(30):
        discussions.save_note(store, who, note_id, discussion_id, phase_id, f"{name} line {i}")
    out.put(name)


def test_note_takers_saving_at_the_same_moment_lose_nothing(store, settings, started, people):
    phase = PROTOCOLS.get("consultancy").phases[0].id
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(
            target=_note_taker,
            args=(
                settings.database_url,
                str(settings.data_dir),
                name,
                started.id,
                phase,
                barrier,
                out,
            ),
        )
        for name in ("Nadia", "Sam")
    ]
    for p in procs:
        p.start()
    assert sorted(out.get(timeout=60) for _ in procs) == ["Nadia", "Sam"]
    for p in procs:
        p.join(timeout=10)
    texts = {
        n.author_name: n.text
        for n in discussion_service.notes(store, people["Fran"], started.id, phase)
    }
    assert texts == {"Nadia": "Nadia line 29", "Sam": "Sam line 29"}
