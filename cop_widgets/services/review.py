"""Supervision review: the supervisor's queue of reflections shared with them, opening one,
feedback, depth of reflection, release, the comment bank and the anonymised view.

A supervisor reads only what policy.shared_for_review allows; every opening for review, every
piece of feedback, every release and every refused attempt is audited (ids only, never text).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, select, update

from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.services.reflections import Reflection, load_reflection
from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, utc_now
from cop_widgets.store.schema import (
    DEPTH_LEVELS,
    FEEDBACK_KINDS,
    comment_bank,
    feedback,
    person,
    reflection,
    review,
    supervisor_preference,
)
from cop_widgets.text import check_answer

PAGE_SIZE = 20


MAX_FEEDBACK_CHARS = 5000


KIND_LABELS = {
    "strength": "Strength",
    "deepening_question": "Deepening question",
    "resource": "Resource",
}


DEPTH_LABELS = {
    "descriptive_writing": "Descriptive writing (not yet reflective)",
    "descriptive_reflection": "Descriptive reflection",
    "dialogic_reflection": "Dialogic reflection",
    "critical_reflection": "Critical reflection",
}


def is_anonymised(store: Store, supervisor: Person) -> bool:
    """Whether the supervisor chose to see their queue without names."""
    with store.read() as conn:
        value = conn.execute(
            select(supervisor_preference.c.anonymised).where(
                supervisor_preference.c.supervisor_id == supervisor.id
            )
        ).scalar()
    return bool(value)


def set_anonymised(store: Store, supervisor: Person, anonymised: bool) -> None:
    """Keep the supervisor's choice of seeing their queue with or without names."""
    with store.write() as conn:
        key = supervisor_preference.c.supervisor_id == supervisor.id
        if conn.execute(select(supervisor_preference).where(key)).first() is None:
            conn.execute(
                insert(supervisor_preference).values(
                    supervisor_id=supervisor.id, anonymised=anonymised
                )
            )
        else:
            conn.execute(update(supervisor_preference).where(key).values(anonymised=anonymised))


# -- the queue ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueItem:
    """One reflection in a supervisor's review queue."""

    reflection_id: str
    number: int  # derived from the id, stable: shown instead of the name when anonymised
    author_id: str
    author_name: str
    framework_id: str
    submitted_at: str
    review_state: str  # "new", "feedback drafted", "released"


@dataclass(frozen=True)
class QueuePage:
    """One page of the review queue: its items, how many in all, which page of how many."""

    items: tuple[QueueItem, ...]
    total: int
    page: int
    pages: int


def review_queue(
    store: Store,
    supervisor: Person,
    *,
    supervisee_id: str | None = None,
    framework_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
    state: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """Newest first, filtered and paginated in SQL."""
    mine = review.c.supervisor_id == supervisor.id
    released = (
        select(review.c.released_at)
        .where(review.c.reflection_id == reflection.c.id, mine)
        .scalar_subquery()
    )
    drafted = (
        select(func.count())
        .select_from(feedback)
        .where(
            feedback.c.reflection_id == reflection.c.id, feedback.c.supervisor_id == supervisor.id
        )
        .scalar_subquery()
    )
    where = [policy.shared_for_review(supervisor)]
    if supervisee_id:
        where.append(reflection.c.person_id == supervisee_id)
    if framework_id:
        where.append(reflection.c.framework_id == framework_id)
    if since:
        where.append(reflection.c.submitted_at >= since.isoformat())
    if until:
        where.append(
            reflection.c.submitted_at < date.fromordinal(until.toordinal() + 1).isoformat()
        )
    if state == "released":
        where.append(released.is_not(None))
    elif state == "new":
        where.append(and_(released.is_(None), drafted == 0))
    elif state == "feedback drafted":
        where.append(and_(released.is_(None), drafted > 0))
    elif state:
        raise InvalidInput("state", f"Unknown review state {state!r}.")
    page = max(1, int(page))
    with store.read() as conn:
        total = conn.execute(
            select(func.count()).select_from(reflection).where(*where)
        ).scalar_one()
        pages = max(1, -(-total // page_size))
        page = min(page, pages)  # a page past the end (the queue shrank, a filter narrowed it)
        rows = conn.execute(
            select(
                reflection.c.id,
                reflection.c.person_id,
                person.c.display_name,
                reflection.c.framework_id,
                reflection.c.submitted_at,
                released.label("released_at"),
                drafted.label("drafted"),
            )
            .join(person, person.c.id == reflection.c.person_id)
            .where(*where)
            .order_by(reflection.c.submitted_at.desc(), reflection.c.id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
    items = tuple(
        QueueItem(
            reflection_id=r.id,
            number=int(r.id.replace("-", "")[:6], 16) % 100000,
            author_id=r.person_id,
            author_name=r.display_name,
            framework_id=r.framework_id,
            submitted_at=r.submitted_at,
            review_state=(
                "released" if r.released_at else "feedback drafted" if r.drafted else "new"
            ),
        )
        for r in rows
    )
    return QueuePage(items, total, page, pages)


# -- one reflection under review ---------------------------------------------------------------
@dataclass(frozen=True)
class FeedbackItem:
    """One piece of feedback the supervisor wrote on a reflection."""

    id: str
    kind: str
    text: str
    created_at: str


@dataclass(frozen=True)
class ReviewView:
    """A reflection under review: the reflection, its author, this supervisor's feedback and
    the review's state."""

    reflection: Reflection
    author_name: str
    feedback: tuple[FeedbackItem, ...]
    depth_level: str | None
    released_at: str | None


def _denied(store: Store, who: Person, reflection_id: str, action: str) -> RecordNotFound:
    with store.write() as conn:
        store.audit(
            conn,
            actor_id=who.id,
            action=action,
            target_kind="reflection",
            target_id=reflection_id,
            outcome="authz_fail",
        )
    return RecordNotFound("reflection", reflection_id)


def open_for_review(store: Store, supervisor: Person, reflection_id: str) -> ReviewView:
    """The reflection with this supervisor's feedback so far, for a supervisor the policy
    lets review it ("reflection.review"); the viewing is audited, a refusal too."""
    with store.write() as conn:
        allowed = policy.may_review_reflection(conn, supervisor, reflection_id)
        if allowed:
            store.audit(
                conn,
                actor_id=supervisor.id,
                action="viewed_for_review",
                target_kind="reflection",
                target_id=reflection_id,
            )
            return _review_view(conn, supervisor, reflection_id)
    raise _denied(store, supervisor, reflection_id, "viewed_for_review")


def _review_view(conn: Connection, supervisor: Person, reflection_id: str) -> ReviewView:
    refl = load_reflection(conn, reflection_id)
    # the author: reflection.person_id is a foreign key, so the row is there
    name = conn.execute(
        select(person.c.display_name).where(person.c.id == refl.person_id)
    ).scalar_one()
    items = conn.execute(
        select(feedback.c.id, feedback.c.kind, feedback.c.text, feedback.c.created_at)
        .where(feedback.c.reflection_id == reflection_id, feedback.c.supervisor_id == supervisor.id)
        .order_by(feedback.c.created_at, feedback.c.id)
    ).all()
    state = conn.execute(
        select(review.c.depth_level, review.c.released_at).where(
            review.c.reflection_id == reflection_id, review.c.supervisor_id == supervisor.id
        )
    ).first()
    return ReviewView(
        refl,
        name,
        tuple(FeedbackItem(*i) for i in items),
        state.depth_level if state else None,
        state.released_at if state else None,
    )


def _ensure_review(
    conn: Connection, supervisor: Person, reflection_id: str
) -> tuple[ColumnElement[bool], AnyRow]:
    key = and_(review.c.reflection_id == reflection_id, review.c.supervisor_id == supervisor.id)
    row = conn.execute(select(review).where(key)).first()
    if row is None:
        conn.execute(
            insert(review).values(
                reflection_id=reflection_id, supervisor_id=supervisor.id, created_at=utc_now()
            )
        )
        row = conn.execute(select(review).where(key)).one()  # inserted just above
    return key, row


def _unreleased_review(
    conn: Connection, supervisor: Person, reflection_id: str, what: str
) -> ColumnElement[bool]:
    """The key of this supervisor's review of the reflection (made if missing); once it is
    released, refused (RecordLocked): its `what` ("feedback", "review") no longer changes."""
    key, row = _ensure_review(conn, supervisor, reflection_id)
    if row.released_at:
        raise RecordLocked(what, reflection_id, "it was already released")
    return key


def add_feedback(
    store: Store, supervisor: Person, reflection_id: str, kind: str, text: str
) -> ReviewView:
    """Add a piece of feedback to an unreleased review ("reflection.review": the author's
    supervisors, for reflections shared with them)."""
    if kind not in FEEDBACK_KINDS:
        raise InvalidInput("kind", f"Feedback is one of: {', '.join(KIND_LABELS.values())}.")
    body = check_answer(text, KIND_LABELS[kind], limit=MAX_FEEDBACK_CHARS).strip()
    if not body:
        raise InvalidInput("feedback", "Write the feedback first.")
    with store.write() as conn:
        if policy.may_review_reflection(conn, supervisor, reflection_id):
            _unreleased_review(conn, supervisor, reflection_id, "feedback")
            fid = str(uuid.uuid4())
            conn.execute(
                insert(feedback).values(
                    id=fid,
                    reflection_id=reflection_id,
                    supervisor_id=supervisor.id,
                    kind=kind,
                    text=body,
                    created_at=utc_now(),
                )
            )
            store.audit(
                conn,
                actor_id=supervisor.id,
                action="feedback_given",
                target_kind="reflection",
                target_id=reflection_id,
            )
            return _review_view(conn, supervisor, reflection_id)
    raise _denied(store, supervisor, reflection_id, "feedback_given")


def set_depth(
    store: Store, supervisor: Person, reflection_id: str, level: str | None
) -> ReviewView:
    """Set the review's depth of reflection (a Hatton & Smith level, or None) before it is
    released ("reflection.review")."""
    if level is not None and level not in DEPTH_LEVELS:
        raise InvalidInput("depth", "Choose one of the four Hatton & Smith levels, or none.")
    with store.write() as conn:
        if policy.may_review_reflection(conn, supervisor, reflection_id):
            key = _unreleased_review(conn, supervisor, reflection_id, "review")
            conn.execute(update(review).where(key).values(depth_level=level))
            return _review_view(conn, supervisor, reflection_id)
    raise _denied(store, supervisor, reflection_id, "depth_set")


def release(store: Store, supervisor: Person, reflection_id: str) -> ReviewView:
    """Release this supervisor's feedback to the author; at least one piece is needed
    ("reflection.review"). Releasing again changes nothing."""
    with store.write() as conn:
        if policy.may_review_reflection(conn, supervisor, reflection_id):
            key, row = _ensure_review(conn, supervisor, reflection_id)
            has_feedback = conn.execute(
                select(func.count())
                .select_from(feedback)
                .where(
                    feedback.c.reflection_id == reflection_id,
                    feedback.c.supervisor_id == supervisor.id,
                )
            ).scalar()
            if not has_feedback:
                raise InvalidInput("feedback", "Add at least one piece of feedback first.")
            if not row.released_at:
                conn.execute(update(review).where(key).values(released_at=utc_now()))
                store.audit(
                    conn,
                    actor_id=supervisor.id,
                    action="feedback_released",
                    target_kind="reflection",
                    target_id=reflection_id,
                )
            return _review_view(conn, supervisor, reflection_id)
    raise _denied(store, supervisor, reflection_id, "feedback_released")


# -- comment bank -------------------------------------------------------------------------------
def bank(store: Store, supervisor: Person) -> list[tuple[str, str, str]]:
    """The supervisor's own saved comments: (id, kind, text), by kind."""
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(comment_bank.c.id, comment_bank.c.kind, comment_bank.c.text)
                .where(comment_bank.c.supervisor_id == supervisor.id)
                .order_by(comment_bank.c.kind, comment_bank.c.created_at)
            ).all()
        ]


def add_to_bank(store: Store, supervisor: Person, kind: str, text: str) -> None:
    """Save a comment to the supervisor's own comment bank, for reuse."""
    if kind not in FEEDBACK_KINDS:
        raise InvalidInput("kind", "Unknown feedback kind.")
    body = check_answer(text, "Saved comment", limit=MAX_FEEDBACK_CHARS).strip()
    if not body:
        raise InvalidInput("comment", "Write the comment first.")
    with store.write() as conn:
        conn.execute(
            insert(comment_bank).values(
                id=str(uuid.uuid4()),
                supervisor_id=supervisor.id,
                kind=kind,
                text=body,
                created_at=utc_now(),
            )
        )


def remove_from_bank(store: Store, supervisor: Person, comment_id: str) -> None:
    """Remove one of the supervisor's own saved comments (nobody else's)."""
    with store.write() as conn:
        conn.execute(
            delete(comment_bank).where(
                comment_bank.c.id == comment_id, comment_bank.c.supervisor_id == supervisor.id
            )
        )
