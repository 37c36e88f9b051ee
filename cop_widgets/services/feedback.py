"""Feedback as its author sees it: what supervisors released on their reflections, what is
new since they last looked, and marking it seen. Nothing unreleased is ever read here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, select, update

from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import AnySelect, utc_now
from cop_widgets.store.schema import (
    feedback,
    person,
    reflection,
    review,
)


# -- the author's side --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleasedFeedback:
    """One piece of released feedback as its author reads it."""

    supervisor_name: str
    kind: str
    text: str
    depth_level: str | None
    released_at: str


def released_feedback_select() -> AnySelect:
    """Feedback supervisors released, with who wrote it and the review's depth: the one query
    that the author's view here and the person record (reports.person_data) both narrow down
    with a ``.where`` for whose and when. Unreleased feedback is never in it."""
    return (
        select(
            feedback.c.reflection_id,
            person.c.display_name.label("supervisor_name"),
            feedback.c.kind,
            feedback.c.text,
            review.c.depth_level,
            review.c.released_at,
        )
        .join(
            review,
            and_(
                review.c.reflection_id == feedback.c.reflection_id,
                review.c.supervisor_id == feedback.c.supervisor_id,
            ),
        )
        .join(reflection, reflection.c.id == feedback.c.reflection_id)
        .join(person, person.c.id == feedback.c.supervisor_id)
        .where(review.c.released_at.is_not(None))
    )


def released_feedback(store: Store, author: Person, reflection_id: str) -> list[ReleasedFeedback]:
    """Feedback the author may see: released, on their own reflection."""
    with store.read() as conn:
        rows = conn.execute(
            released_feedback_select()
            .where(feedback.c.reflection_id == reflection_id, reflection.c.person_id == author.id)
            .order_by(review.c.released_at, feedback.c.created_at)
        ).all()
    return [ReleasedFeedback(*r[1:]) for r in rows]


def _unseen_feedback(author: Person) -> ColumnElement[bool]:
    """Released reviews of the author's reflections that the author has not opened since."""
    return and_(
        reflection.c.person_id == author.id,
        review.c.released_at.is_not(None),
        (review.c.author_seen_at.is_(None)) | (review.c.author_seen_at < review.c.released_at),
    )


def new_feedback(store: Store, author: Person) -> set[str]:
    """Ids of the author's reflections with released feedback they have not opened yet."""
    with store.read() as conn:
        return set(
            conn.execute(
                select(review.c.reflection_id)
                .join(reflection, reflection.c.id == review.c.reflection_id)
                .where(_unseen_feedback(author))
            ).scalars()
        )


@dataclass(frozen=True)
class FeedbackNotice:
    """Released feedback on one of the author's reflections: who gave it, when, and whether
    the author has opened that reflection since (new until then)."""

    reflection_id: str
    framework_id: str
    released_at: str
    supervisor_names: tuple[str, ...]
    new: bool


def feedback_on_mine(store: Store, author: Person, limit: int = 20) -> list[FeedbackNotice]:
    """The author's own reflections with released feedback, the new ones first, then the most
    recently released (filtered and limited in SQL; only released feedback, only theirs)."""
    unseen = _unseen_feedback(author)
    with store.read() as conn:
        rows = conn.execute(
            select(
                review.c.reflection_id,
                reflection.c.framework_id,
                review.c.released_at,
                person.c.display_name,
                unseen.label("new"),
            )
            .join(reflection, reflection.c.id == review.c.reflection_id)
            .join(person, person.c.id == review.c.supervisor_id)
            .where(reflection.c.person_id == author.id, review.c.released_at.is_not(None))
            .order_by(unseen.desc(), review.c.released_at.desc(), review.c.reflection_id)
            .limit(limit)
        ).all()
    found: dict[str, FeedbackNotice] = {}
    for rid, framework_id, released_at, name, new in rows:
        seen = found.get(rid)
        if seen is None:
            found[rid] = FeedbackNotice(rid, framework_id, released_at, (name,), bool(new))
        else:  # a second supervisor's feedback on the same reflection
            found[rid] = FeedbackNotice(
                rid, framework_id, max(seen.released_at, released_at),
                (*seen.supervisor_names, name), seen.new or bool(new),
            )  # fmt: skip
    return list(found.values())


def mark_feedback_seen(store: Store, author: Person, reflection_id: str) -> None:
    """The author opened the reflection: its released feedback is no longer new (only the
    author's own reflection is marked; nothing is written when nothing was new)."""
    if reflection_id not in new_feedback(store, author):
        return
    with store.write() as conn:
        conn.execute(
            update(review)
            .where(
                review.c.reflection_id == reflection_id,
                review.c.released_at.is_not(None),
                review.c.reflection_id.in_(
                    select(reflection.c.id).where(
                        reflection.c.id == reflection_id, reflection.c.person_id == author.id
                    )
                ),
            )
            .values(author_seen_at=utc_now())
        )
