"""Who may read which reflection: the one place the visibility ladder is decided.

private          the author only
supervisor       the author and the author's named supervisors (once submitted)
facilitator      the author and the session's facilitator (sessions arrive later: until then,
                 the author only)
community        every signed-in member (once submitted)
aggregate_only   nobody individually; only counted in summaries

Every read path of another person's reflection builds its query with `readable_by` or asks
`may_read`; nothing else in the code decides this.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select

from ..store.schema import reflection, supervision
from .identity import Person


def supervises(supervisor_id: str):
    """SQL: the reflection's author is a supervisee of supervisor_id."""
    return exists().where(
        supervision.c.supervisor_id == supervisor_id,
        supervision.c.supervisee_id == reflection.c.person_id,
    )


def readable_by(viewer: Person) -> ColumnElement[bool]:
    """A WHERE clause on `reflection` selecting exactly what viewer may read."""
    submitted = reflection.c.status == "submitted"
    return or_(
        reflection.c.person_id == viewer.id,
        and_(submitted, reflection.c.visibility == "community"),
        and_(submitted, reflection.c.visibility == "supervisor", supervises(viewer.id)),
    )


def shared_for_review(supervisor: Person) -> ColumnElement[bool]:
    """What a supervisor's review queue holds: supervisees' submitted, shared reflections."""
    return and_(
        reflection.c.status == "submitted",
        reflection.c.visibility.in_(("supervisor", "community")),
        reflection.c.person_id != supervisor.id,
        supervises(supervisor.id),
    )


def may_read(conn: Connection, viewer: Person, reflection_id: str) -> bool:
    query = select(reflection.c.id).where(reflection.c.id == reflection_id, readable_by(viewer))
    return conn.execute(query).first() is not None


def may_review(conn: Connection, supervisor: Person, reflection_id: str) -> bool:
    query = select(reflection.c.id).where(
        reflection.c.id == reflection_id, shared_for_review(supervisor)
    )
    return conn.execute(query).first() is not None
