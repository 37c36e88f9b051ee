"""Communities and session series: planning, join codes, attendance, calendar, rotation."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cop_widgets.errors import InvalidInput
from cop_widgets.services import sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import attendance

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def series(store):
    coord = find_or_add_person(store, "Cora Coordinator")
    cop = sessions.create_community(
        store,
        coord,
        "Family support CoP",
        "Child and family support",
        "Learn from each other's practice",
    )
    first = sessions.plan_session(
        store, coord, cop.id, NOW, "Engaging fathers", "What helps?", "consultancy"
    )
    second = sessions.plan_session(
        store, coord, cop.id, NOW + timedelta(days=28), "Cumulative harm"
    )
    return coord, cop, first, second


def test_codes_are_short_unambiguous_and_unique(series):
    _, _, first, second = series
    for code in (first.join_code, second.join_code):
        assert len(code) == 6 and set(code) <= set(sessions.CODE_ALPHABET)
    assert first.join_code != second.join_code


def test_joining_records_attendance_once(store, series):
    coord, _, first, _ = series
    ana = find_or_add_person(store, "Ana")
    sessions.join(store, ana, first.join_code.lower(), NOW)
    sessions.join(store, ana, f" {first.join_code[:3]}-{first.join_code[3:]} ", NOW)
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(attendance)).scalar() == 1
    assert sessions.attendees(store, coord, first.id) == [(ana.id, "Ana")]


def test_a_first_join_writes_each_row_with_one_statement_and_a_second_writes_nothing(store, series):
    """A room joins at once, each join holding the store's write lock: the attendance and the
    membership are each one INSERT … ON CONFLICT DO NOTHING (no look first), audited once; a
    second join finds both there, adds nothing and audits nothing."""
    from sqlalchemy import event

    from cop_widgets.store.schema import audit_event, community_member

    _, cop, first, _ = series
    ana = find_or_add_person(store, "Ana")
    written: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if words[0].upper() in ("INSERT", "UPDATE", "DELETE") and any(
            table.name in statement for table in (attendance, community_member, audit_event)
        ):
            written.append(" ".join(words[:3]).lower())

    def counts() -> tuple[int, int, int]:
        with store.read() as conn:
            return tuple(  # type: ignore[return-value]
                conn.execute(select(func.count()).select_from(table)).scalar()
                for table in (attendance, community_member, audit_event)
            )

    members_before, audits_before = counts()[1:]
    event.listen(store.engine, "before_cursor_execute", record)
    try:
        sessions.join(store, ana, first.join_code, NOW)
        assert written == [
            "insert into attendance",
            "insert into audit_event",
            "insert into community_member",
        ]
        assert counts() == (1, members_before + 1, audits_before + 1)
        written.clear()
        sessions.join(store, ana, first.join_code, NOW)
        # both rows were there: the two tries changed nothing
        assert written == ["insert into attendance", "insert into community_member"]
        assert counts() == (1, members_before + 1, audits_before + 1)
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    with store.read() as conn:
        roles = conn.execute(
            select(community_member.c.role).where(
                community_member.c.person_id == ana.id, community_member.c.community_id == cop.id
            )
        ).scalars()
        assert list(roles) == ["member"]


@pytest.mark.parametrize(
    ("code", "when", "message"),
    [
        ("ZZZZZZ", NOW, "No session has the code ZZZZZZ"),
        ("", NOW, "Enter the join code"),
        (None, NOW + timedelta(days=2), "which has ended"),
        (None, NOW - timedelta(days=3), "the code opens the day before"),
    ],
)
def test_wrong_expired_or_early_codes_get_a_clear_message(store, series, code, when, message):
    _, _, first, _ = series
    with pytest.raises(InvalidInput, match=message):
        sessions.join(
            store, find_or_add_person(store, "Ana"), first.join_code if code is None else code, when
        )


def test_closed_session_code_has_ended(store, series):
    coord, _, first, _ = series
    sessions.close_session(store, coord, first.id)
    with pytest.raises(InvalidInput, match="has ended"):
        sessions.join(store, find_or_add_person(store, "Ana"), first.join_code, NOW)


def test_upcoming_and_past(store, series):
    coord, cop, first, second = series
    upcoming, past = sessions.sessions_of(store, coord, cop.id, NOW + timedelta(days=1))
    assert [s.id for s in upcoming] == [second.id] and [s.id for s in past] == [first.id]


def test_calendar_has_one_event_per_session_with_escaping_and_folding(store, series):
    coord, cop, first, second = series
    sessions.plan_session(
        store,
        coord,
        cop.id,
        NOW + timedelta(days=56),
        'Risk; safety, and "voice"',
        "A very long focus question " * 8,
    )
    upcoming, past = sessions.sessions_of(store, coord, cop.id, NOW - timedelta(days=1))
    ics = sessions.calendar_ics(cop, upcoming, "http://127.0.0.1:8866/voila/render/session.ipynb")
    assert ics.count("BEGIN:VEVENT") == 3 and ics.startswith("BEGIN:VCALENDAR\r\n")
    assert "DTSTART:20261201T090000Z" in ics and "DTEND:20261201T103000Z" in ics
    assert "Risk\\; safety\\, and" in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    assert f"code={first.join_code}" in ics.replace("\r\n ", "")


def test_rotation_favours_those_who_held_a_role_least():
    people = [("a", "Ana"), ("b", "Ben"), ("c", "Cal"), ("d", "Dee"), ("e", "Eve")]
    history = {
        "a": Counter(facilitator=3),
        "b": Counter(facilitator=1, note_taker=2),
        "c": Counter(presenter=1),
    }
    chosen = sessions.suggest_roles(people, history)
    assert chosen["facilitator"] in {"c", "d", "e"} and chosen["facilitator"] != "a"
    assert len(set(chosen.values())) == 4  # four different people
    assert chosen["note_taker"] != "b"


def test_rotation_over_a_series_spreads_the_facilitator_role(store, series):
    coord, cop, *_ = series
    people = [find_or_add_person(store, n) for n in ("Ana", "Ben", "Cal", "Dee")]
    held = Counter()
    for week in range(8):
        s = sessions.plan_session(store, coord, cop.id, NOW + timedelta(days=7 * week), f"W{week}")
        for p in people:
            sessions.join(store, p, s.join_code, s.starts_at)
        chosen = sessions.suggest_roles(
            sessions.attendees(store, coord, s.id), sessions.role_history(store, coord, cop.id)
        )
        sessions.set_session_roles(store, coord, s.id, chosen)
        held[chosen["facilitator"]] += 1
    assert sorted(held.values()) == [2, 2, 2, 2]


def test_sessions_to_link_are_joined_open_and_current_newest_first(store, series):
    coord, cop, first, second = series  # first starts at NOW for 90 minutes, second in 4 weeks
    overlapping = sessions.plan_session(
        store, coord, cop.id, NOW + timedelta(minutes=30), "Overlap"
    )
    closed = sessions.plan_session(store, coord, cop.id, NOW, "Closed early")
    sessions.plan_session(store, coord, cop.id, NOW, "Not joined")
    ana = find_or_add_person(store, "Ana")
    for s in (first, second, overlapping, closed):
        sessions.join(store, ana, s.join_code, s.starts_at)
    sessions.close_session(store, coord, closed.id)

    def linkable(at):
        return [s.topic for s in sessions.sessions_to_link_now(store, ana, at)]

    assert linkable(NOW) == ["Overlap", "Engaging fathers"]
    # an hour either side of the session's own time, no more
    assert linkable(NOW - timedelta(minutes=60)) == ["Engaging fathers"]
    assert linkable(NOW - timedelta(minutes=61)) == []
    end_of_first = first.ends_at + timedelta(minutes=60)
    assert linkable(end_of_first) == ["Overlap", "Engaging fathers"]
    assert linkable(end_of_first + timedelta(minutes=1)) == ["Overlap"]
    assert linkable(NOW + timedelta(days=28)) == ["Cumulative harm"]
    assert sessions.sessions_to_link_now(store, find_or_add_person(store, "Ben"), NOW) == []


def test_sessions_to_link_need_a_time_zone(store):
    with pytest.raises(InvalidInput, match="time zone"):
        sessions.sessions_to_link_now(
            store, find_or_add_person(store, "Ana"), datetime(2026, 12, 1, 9, 0)
        )
