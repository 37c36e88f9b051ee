"""A training day, as the operator sees it: the sessions of one day and how many each expects.

For `cop serve --room` and `cop rehearse`, run by whoever runs the server on the store's own
machine (no person signs in: like `accounts.all_people`, the operator's view). Only a session's
time, topic, join code and head counts are read; nobody's material.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cop_widgets.services.sessions import Session, session_from_row
from cop_widgets.store import Store
from cop_widgets.store.schema import attendance, community, community_member, cop_session


@dataclass(frozen=True)
class PlannedSession:
    """One session of the day as the operator sees it: the session, its community's name,
    and how many are expected."""

    session: Session
    community: str
    # Who is expected: the members of its community (facilitators and coordinators too), or
    # the number who have already joined if that is more.
    expected: int


def sessions_on(store: Store, day: date, timezone: str) -> list[PlannedSession]:
    """The sessions (not closed) that start on `day` in `timezone`, earliest first."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, zone).astimezone(UTC)
    # Stored as UTC ISO text: a day's margin either side in SQL, the exact day in Python.
    members = (
        select(func.count(func.distinct(community_member.c.person_id)))
        .where(community_member.c.community_id == cop_session.c.community_id)
        .scalar_subquery()
        .label("members")
    )
    joined = (
        select(func.count())
        .where(attendance.c.session_id == cop_session.c.id)
        .scalar_subquery()
        .label("joined")
    )
    with store.read() as conn:
        rows = conn.execute(
            select(cop_session, community.c.name.label("community_name"), members, joined)
            .join(community, community.c.id == cop_session.c.community_id)
            .where(
                cop_session.c.status != "closed",
                cop_session.c.starts_at >= (start - timedelta(days=1)).isoformat(),
                cop_session.c.starts_at < (end + timedelta(days=1)).isoformat(),
            )
            .order_by(cop_session.c.starts_at)
        ).all()
    found = []
    for row in rows:
        session = session_from_row(row)
        if start <= session.starts_at < end:
            found.append(PlannedSession(session, row.community_name, max(row.members, row.joined)))
    return found
