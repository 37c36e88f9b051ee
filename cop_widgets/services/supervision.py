"""Supervision: the roster (roles and supervisees), the review queue, feedback and release.

A supervisor reads only what policy.shared_for_review allows; every opening for review, every
piece of feedback, every release and every refused attempt is audited (ids only, never text).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, delete, func, insert, select, update

from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.services.reflections import Reflection, _load, check_visibility
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import (
    DEPTH_LEVELS,
    FEEDBACK_KINDS,
    ROLES,
    comment_bank,
    feedback,
    person,
    person_role,
    reflection,
    reflection_answer,
    review,
    supervision,
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


# -- roster -------------------------------------------------------------------------------------
def roles_of(store: Store, person_id: str) -> set[str]:
    with store.read() as conn:
        granted = set(
            conn.execute(
                select(person_role.c.role).where(person_role.c.person_id == person_id)
            ).scalars()
        )
    return granted | {"practitioner"}


def highest_role(store: Store, person_id: str) -> str:
    """The role shown beside a person's name: the most responsible one they hold."""
    held = roles_of(store, person_id)
    return next(r for r in reversed(ROLES) if r in held)


def grant_role(store: Store, person_id: str, role: str) -> None:
    if role not in ROLES:
        raise InvalidInput("role", f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    with store.write() as conn:
        if conn.execute(select(person.c.id).where(person.c.id == person_id)).first() is None:
            raise RecordNotFound("person", person_id)
        key = and_(person_role.c.person_id == person_id, person_role.c.role == role)
        if conn.execute(select(person_role.c.role).where(key)).first() is None:
            conn.execute(insert(person_role).values(person_id=person_id, role=role))
            store.audit(
                conn,
                actor_id=None,
                action="role_granted",
                target_kind="person",
                target_id=person_id,
            )


def assign_supervisee(store: Store, supervisor_id: str, supervisee_id: str) -> None:
    if supervisor_id == supervisee_id:
        raise InvalidInput("supervisee", "A person cannot supervise themselves.")
    grant_role(store, supervisor_id, "supervisor")
    with store.write() as conn:
        key = and_(
            supervision.c.supervisor_id == supervisor_id,
            supervision.c.supervisee_id == supervisee_id,
        )
        if conn.execute(select(supervision.c.supervisor_id).where(key)).first() is None:
            conn.execute(
                insert(supervision).values(supervisor_id=supervisor_id, supervisee_id=supervisee_id)
            )
            store.audit(
                conn,
                actor_id=None,
                action="supervisee_assigned",
                target_kind="person",
                target_id=supervisee_id,
            )


def supervisees(store: Store, supervisor: Person) -> list[tuple[str, str]]:
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(person.c.id, person.c.display_name)
                .join(supervision, supervision.c.supervisee_id == person.c.id)
                .where(supervision.c.supervisor_id == supervisor.id)
                .order_by(person.c.display_name)
            ).all()
        ]


def require_supervisor(store: Store, who: Person) -> None:
    if "supervisor" not in roles_of(store, who.id):
        with store.write() as conn:
            store.audit(
                conn,
                actor_id=who.id,
                action="review_app_open",
                target_kind="person",
                target_id=who.id,
                outcome="authz_fail",
            )
        raise InvalidInput(
            "role",
            "Not authorised: the review app is for supervisors. Ask your "
            "coordinator to add you to the roster.",
        )


def is_anonymised(store: Store, supervisor: Person) -> bool:
    with store.read() as conn:
        value = conn.execute(
            select(supervisor_preference.c.anonymised).where(
                supervisor_preference.c.supervisor_id == supervisor.id
            )
        ).scalar()
    return bool(value)


def set_anonymised(store: Store, supervisor: Person, anonymised: bool) -> None:
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
    reflection_id: str
    number: int  # derived from the id, stable: shown instead of the name when anonymised
    author_id: str
    author_name: str
    framework_id: str
    submitted_at: str
    review_state: str  # "new", "feedback drafted", "released"


@dataclass(frozen=True)
class QueuePage:
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
        total = conn.execute(select(func.count()).select_from(reflection).where(*where)).scalar()
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
    return QueuePage(items, total, page, max(1, -(-total // page_size)))


# -- one reflection under review ---------------------------------------------------------------
@dataclass(frozen=True)
class FeedbackItem:
    id: str
    kind: str
    text: str
    created_at: str


@dataclass(frozen=True)
class ReviewView:
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


def _review_view(conn, supervisor: Person, reflection_id: str) -> ReviewView:
    refl = _load(conn, reflection_id)
    name = conn.execute(select(person.c.display_name).where(person.c.id == refl.person_id)).scalar()
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


def _ensure_review(conn, supervisor: Person, reflection_id: str):
    key = and_(review.c.reflection_id == reflection_id, review.c.supervisor_id == supervisor.id)
    row = conn.execute(select(review).where(key)).first()
    if row is None:
        conn.execute(
            insert(review).values(
                reflection_id=reflection_id, supervisor_id=supervisor.id, created_at=utc_now()
            )
        )
        row = conn.execute(select(review).where(key)).first()
    return key, row


def add_feedback(
    store: Store, supervisor: Person, reflection_id: str, kind: str, text: str
) -> ReviewView:
    if kind not in FEEDBACK_KINDS:
        raise InvalidInput("kind", f"Feedback is one of: {', '.join(KIND_LABELS.values())}.")
    body = check_answer(text, KIND_LABELS[kind], limit=MAX_FEEDBACK_CHARS).strip()
    if not body:
        raise InvalidInput("feedback", "Write the feedback first.")
    with store.write() as conn:
        if policy.may_review_reflection(conn, supervisor, reflection_id):
            _, row = _ensure_review(conn, supervisor, reflection_id)
            if row.released_at:
                raise RecordLocked("feedback", reflection_id, "it was already released")
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
    if level is not None and level not in DEPTH_LEVELS:
        raise InvalidInput("depth", "Choose one of the four Hatton & Smith levels, or none.")
    with store.write() as conn:
        if policy.may_review_reflection(conn, supervisor, reflection_id):
            key, row = _ensure_review(conn, supervisor, reflection_id)
            if row.released_at:
                raise RecordLocked("review", reflection_id, "it was already released")
            conn.execute(update(review).where(key).values(depth_level=level))
            return _review_view(conn, supervisor, reflection_id)
    raise _denied(store, supervisor, reflection_id, "depth_set")


def release(store: Store, supervisor: Person, reflection_id: str) -> ReviewView:
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
    with store.write() as conn:
        conn.execute(
            delete(comment_bank).where(
                comment_bank.c.id == comment_id, comment_bank.c.supervisor_id == supervisor.id
            )
        )


# -- the author's side --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleasedFeedback:
    supervisor_name: str
    kind: str
    text: str
    depth_level: str | None
    released_at: str


def released_feedback(store: Store, author: Person, reflection_id: str) -> list[ReleasedFeedback]:
    """Feedback the author may see: released, on their own reflection."""
    with store.read() as conn:
        rows = conn.execute(
            select(
                person.c.display_name,
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
            .where(
                feedback.c.reflection_id == reflection_id,
                reflection.c.person_id == author.id,
                review.c.released_at.is_not(None),
            )
            .order_by(review.c.released_at, feedback.c.created_at)
        ).all()
    return [ReleasedFeedback(*r) for r in rows]


def _unseen_feedback(author: Person):
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


def change_visibility(store: Store, author: Person, reflection_id: str, visibility: str) -> None:
    """The author may change who reads an entry at any time; every change is audited."""
    check_visibility(visibility)
    with store.write() as conn:
        row = conn.execute(
            select(reflection.c.person_id, reflection.c.visibility).where(
                reflection.c.id == reflection_id
            )
        ).first()
        if row is None or row.person_id != author.id:
            store.audit(
                conn,
                actor_id=author.id,
                action="visibility_changed",
                target_kind="reflection",
                target_id=reflection_id,
                outcome="authz_fail",
            )
            found = False
        else:
            found = True
            if row.visibility != visibility:
                conn.execute(
                    update(reflection)
                    .where(reflection.c.id == reflection_id)
                    .values(visibility=visibility, updated_at=utc_now())
                )
                store.audit(
                    conn,
                    actor_id=author.id,
                    action="visibility_changed",
                    target_kind="reflection",
                    target_id=reflection_id,
                )
    if not found:
        raise RecordNotFound("reflection", reflection_id)


def new_version(store: Store, author: Person, reflection_id: str) -> str:
    """A submitted reflection stays as reviewed; editing it starts a draft copy (a new version)."""
    with store.write() as conn:
        row = conn.execute(select(reflection).where(reflection.c.id == reflection_id)).first()
        if row is None or row.person_id != author.id:
            raise RecordNotFound("reflection", reflection_id)
        if row.status != "submitted":
            raise InvalidInput(
                "status", "Only a submitted reflection gets a new version; keep editing the draft."
            )
        new_id, now = str(uuid.uuid4()), utc_now()
        conn.execute(
            insert(reflection).values(
                id=new_id,
                person_id=author.id,
                framework_id=row.framework_id,
                framework_version=row.framework_version,
                visibility=row.visibility,
                status="draft",
                revision=1,
                created_at=now,
                updated_at=now,
                version_of=row.id,
                version_no=row.version_no + 1,
            )
        )
        for answer in conn.execute(
            select(reflection_answer).where(reflection_answer.c.reflection_id == reflection_id)
        ).all():
            conn.execute(
                insert(reflection_answer).values(
                    reflection_id=new_id,
                    stage_id=answer.stage_id,
                    text=answer.text,
                    passed=answer.passed,
                    updated_at=now,
                )
            )
        store.audit(
            conn,
            actor_id=author.id,
            action="reflection_versioned",
            target_kind="reflection",
            target_id=new_id,
        )
        return new_id
