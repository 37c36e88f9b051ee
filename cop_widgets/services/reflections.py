"""Saving, submitting and listing one person's reflections.

A reflection belongs to its author; every call takes the signed-in Person and touches only that
person's rows. A record id of someone else's is answered as "not found" and audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, insert, select, update

from cop_widgets.content.frameworks import Framework
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, utc_now
from cop_widgets.store.schema import (
    VISIBILITIES,
    attendance,
    community_member,
    cop_session,
    person,
    reflection,
    reflection_answer,
)
from cop_widgets.text import check_answer

PREVIEW_CHARS = 80


@dataclass(frozen=True)
class Answer:
    """One stage's answer: its text, or passed (left out on purpose)."""

    text: str = ""
    passed: bool = False

    @property
    def answered(self) -> bool:
        """Whether there is text (not only spaces)."""
        return bool(self.text.strip())


@dataclass(frozen=True)
class Reflection:
    """A reflection with its answers, by stage id, as stored."""

    id: str
    person_id: str
    framework_id: str
    framework_version: int
    visibility: str
    status: str
    revision: int
    created_at: str
    updated_at: str
    submitted_at: str | None
    answers: tuple[tuple[str, Answer], ...]

    def answer(self, stage_id: str) -> Answer:
        """The answer to that stage (an empty one if there is none)."""
        return dict(self.answers).get(stage_id, Answer())


@dataclass(frozen=True)
class ReflectionSummary:
    """A reflection in its author's list: status, visibility and a short preview."""

    id: str
    framework_id: str
    status: str
    visibility: str
    updated_at: str
    answered_stages: int
    preview: str


@dataclass(frozen=True)
class SaveResult:
    """What a save stored, and one message per stage that could not be stored."""

    reflection: Reflection
    # One message per stage that could not be stored; its previous text stays in the store.
    problems: tuple[str, ...] = ()


def check_visibility(value: str) -> str:
    """The visibility if it is one of VISIBILITIES; else InvalidInput."""
    if value not in VISIBILITIES:
        raise InvalidInput(
            "visibility", f"Visibility {value!r} is not one of: {', '.join(VISIBILITIES)}."
        )
    return value


def _audit_denied(store: Store, who: Person, reflection_id: str) -> None:
    """Record a refused access in its own transaction (the refused one is rolled back)."""
    with store.write() as conn:
        store.audit(
            conn,
            actor_id=who.id,
            action="reflection_access",
            target_kind="reflection",
            target_id=reflection_id,
            outcome="authz_fail",
        )


def save_draft(
    store: Store,
    who: Person,
    reflection_id: str,
    framework: Framework,
    answers: Mapping[str, Answer],
    visibility: str = "private",
) -> SaveResult:
    """Create or update a draft in one transaction; stages that break a text rule are skipped
    (reported in problems) so that everything else is still saved."""
    check_visibility(visibility)
    stage_ids = {s.id for s in framework.stages}
    unknown = set(answers) - stage_ids
    if unknown:
        raise InvalidInput("stage", f"Unknown stage ids for {framework.name}: {sorted(unknown)}")
    good: dict[str, Answer] = {}
    problems: list[str] = []
    for stage in framework.stages:
        if stage.id not in answers:
            continue
        try:
            text = check_answer(answers[stage.id].text, stage.label)
        except InvalidInput as exc:
            problems.append(str(exc))
            continue
        good[stage.id] = Answer(text=text, passed=bool(answers[stage.id].passed))
    now = utc_now()
    with store.write() as conn:
        row = conn.execute(select(reflection).where(reflection.c.id == reflection_id)).first()
        foreign = row is not None and row.person_id != who.id
        if not foreign:
            _save_own(conn, store, who, row, reflection_id, framework, good, visibility, now)
    if foreign:
        _audit_denied(store, who, reflection_id)
        raise RecordNotFound("reflection", reflection_id)
    # read back after the commit: the write lock is held for the changes only
    with store.read() as conn:
        return SaveResult(load_reflection(conn, reflection_id), tuple(problems))


def _save_own(
    conn: Connection,
    store: Store,
    who: Person,
    row: AnyRow | None,
    reflection_id: str,
    framework: Framework,
    good: dict[str, Answer],
    visibility: str,
    now: str,
) -> None:
    if row is None:
        session_id, community_id = _written_in(conn, who, now)
        conn.execute(
            insert(reflection).values(
                id=reflection_id,
                person_id=who.id,
                framework_id=framework.id,
                framework_version=framework.version,
                visibility=visibility,
                status="draft",
                revision=1,
                created_at=now,
                updated_at=now,
                session_id=session_id,
                community_id=community_id,
            )
        )
        store.audit(
            conn,
            actor_id=who.id,
            action="reflection_created",
            target_kind="reflection",
            target_id=reflection_id,
        )
    else:
        if row.status != "draft":
            raise RecordLocked("reflection", reflection_id, "it was submitted")
        if row.framework_id != framework.id:
            raise InvalidInput("framework", "This draft was started with another framework.")
        if row.visibility != visibility:
            store.audit(
                conn,
                actor_id=who.id,
                action="visibility_changed",
                target_kind="reflection",
                target_id=reflection_id,
            )
        conn.execute(
            update(reflection)
            .where(reflection.c.id == reflection_id)
            .values(visibility=visibility, updated_at=now, revision=row.revision + 1)
        )
    _write_answers(conn, reflection_id, good, now)


# A reflection started from an hour before a session the author joined to an hour after it
# ends belongs to that session (the same margin as a case discussion's link).
SESSION_MARGIN = timedelta(minutes=60)


def _written_in(conn: Connection, who: Person, now: str) -> tuple[str | None, str | None]:
    """(session, community) a new reflection belongs to: the session the author is in now, and
    its community; otherwise no session and the author's community if they have exactly one.
    "facilitator" visibility reaches that session's facilitator; "community", its members."""
    moment = datetime.fromisoformat(now)
    joined = conn.execute(
        select(cop_session.c.id, cop_session.c.community_id, cop_session.c.starts_at,
               cop_session.c.duration_minutes)
        .join(attendance, attendance.c.session_id == cop_session.c.id)
        .where(attendance.c.person_id == who.id, cop_session.c.status != "closed")
        .order_by(cop_session.c.starts_at.desc())
    ).all()  # fmt: skip
    for sid, cid, starts, minutes in joined:
        begins = datetime.fromisoformat(starts)
        if (
            begins - SESSION_MARGIN
            <= moment
            <= begins + timedelta(minutes=minutes) + SESSION_MARGIN
        ):
            return sid, cid
    mine = set(
        conn.execute(
            select(community_member.c.community_id).where(community_member.c.person_id == who.id)
        ).scalars()
    )
    return None, (mine.pop() if len(mine) == 1 else None)


def _write_answers(
    conn: Connection, reflection_id: str, answers: dict[str, Answer], now: str
) -> None:
    existing = set(
        conn.execute(
            select(reflection_answer.c.stage_id).where(
                reflection_answer.c.reflection_id == reflection_id
            )
        ).scalars()
    )
    for stage_id, ans in answers.items():
        values = {"text": ans.text, "passed": ans.passed, "updated_at": now}
        if stage_id in existing:
            conn.execute(
                update(reflection_answer)
                .where(
                    and_(
                        reflection_answer.c.reflection_id == reflection_id,
                        reflection_answer.c.stage_id == stage_id,
                    )
                )
                .values(**values)
            )
        else:
            conn.execute(
                insert(reflection_answer).values(
                    reflection_id=reflection_id, stage_id=stage_id, **values
                )
            )


def submit(
    store: Store,
    who: Person,
    reflection_id: str,
    framework: Framework,
    answers: Mapping[str, Answer],
    visibility: str = "private",
) -> Reflection:
    """Save and lock the reflection. Every stage must be answered or passed, and at least one
    answered; a stage whose text cannot be stored stops the submission."""
    saved = save_draft(store, who, reflection_id, framework, answers, visibility)
    if saved.problems:
        raise InvalidInput("answers", "Not submitted: " + " ".join(saved.problems))
    current = saved.reflection
    answered = [s for s in framework.stages if current.answer(s.id).answered]
    if not answered:
        raise InvalidInput(
            "answers", "Not submitted: write an answer for at least one stage first."
        )
    open_stages = [
        s.label
        for s in framework.stages
        if not current.answer(s.id).answered and not current.answer(s.id).passed
    ]
    if open_stages:
        raise InvalidInput(
            "answers",
            "Not submitted: these stages have no answer yet: "
            + ", ".join(open_stages)
            + ". Answer them or choose 'Pass this stage' (no reason needed).",
        )
    now = utc_now()
    with store.write() as conn:
        done = conn.execute(
            update(reflection)
            .where(
                and_(
                    reflection.c.id == reflection_id,
                    reflection.c.person_id == who.id,
                    reflection.c.status == "draft",
                    reflection.c.revision == current.revision,
                )
            )
            .values(
                status="submitted", submitted_at=now, updated_at=now, revision=current.revision + 1
            )
        ).rowcount
        if done != 1:
            raise RecordLocked(
                "reflection",
                reflection_id,
                "it changed while submitting; reopen it from My reflections",
            )
        store.audit(
            conn,
            actor_id=who.id,
            action="reflection_submitted",
            target_kind="reflection",
            target_id=reflection_id,
        )
        return load_reflection(conn, reflection_id)


def load_reflection(conn: Connection, reflection_id: str) -> Reflection:
    """The reflection and its answers, read in conn (no policy check: callers check first)."""
    row = conn.execute(select(reflection).where(reflection.c.id == reflection_id)).first()
    if row is None:
        raise RecordNotFound("reflection", reflection_id)
    answers = conn.execute(
        select(reflection_answer.c.stage_id, reflection_answer.c.text, reflection_answer.c.passed)
        .where(reflection_answer.c.reflection_id == reflection_id)
        .order_by(reflection_answer.c.stage_id)
    ).all()
    return Reflection(
        id=row.id,
        person_id=row.person_id,
        framework_id=row.framework_id,
        framework_version=row.framework_version,
        visibility=row.visibility,
        status=row.status,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_at=row.submitted_at,
        answers=tuple((a.stage_id, Answer(a.text, bool(a.passed))) for a in answers),
    )


def get_mine(store: Store, who: Person, reflection_id: str) -> Reflection:
    """The author's own reflection (anyone else: RecordNotFound, and the attempt is audited)."""
    with store.read() as conn:
        row = conn.execute(
            select(reflection.c.person_id).where(reflection.c.id == reflection_id)
        ).first()
        if row is not None and row.person_id == who.id:
            return load_reflection(conn, reflection_id)
    if row is not None:
        _audit_denied(store, who, reflection_id)
    raise RecordNotFound("reflection", reflection_id)


def list_mine(
    store: Store, who: Person, limit: int = 50, status: str | None = None
) -> list[ReflectionSummary]:
    """The person's reflections, most recently changed first (filtered and limited in SQL);
    `status` ("draft", "submitted") keeps only those."""
    answered = (
        select(
            reflection_answer.c.reflection_id,
            func.count().label("n"),
        )
        .where(func.length(func.trim(reflection_answer.c.text)) > 0)
        .group_by(reflection_answer.c.reflection_id)
        .subquery()
    )
    query = (
        select(reflection, func.coalesce(answered.c.n, 0).label("answered_stages"))
        .outerjoin(answered, answered.c.reflection_id == reflection.c.id)
        .where(reflection.c.person_id == who.id)
        .order_by(reflection.c.updated_at.desc(), reflection.c.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(reflection.c.status == status)
    with store.read() as conn:
        rows = conn.execute(query).all()
        previews = _previews(conn, [r.id for r in rows])
    return [
        ReflectionSummary(
            id=r.id,
            framework_id=r.framework_id,
            status=r.status,
            visibility=r.visibility,
            updated_at=r.updated_at,
            answered_stages=r.answered_stages,
            preview=previews.get(r.id, ""),
        )
        for r in rows
    ]


def _previews(conn: Connection, ids: list[str]) -> dict[str, str]:
    """First words of the longest answer of each reflection, to recognise it in a list."""
    if not ids:
        return {}
    rows = conn.execute(
        select(reflection_answer.c.reflection_id, func.substr(reflection_answer.c.text, 1, 400))
        .where(reflection_answer.c.reflection_id.in_(ids))
        .order_by(reflection_answer.c.reflection_id, func.length(reflection_answer.c.text).desc())
    ).all()
    out: dict[str, str] = {}
    for rid, text in rows:
        if rid not in out and text and text.strip():
            words = " ".join(text.split())
            out[rid] = words[:PREVIEW_CHARS] + ("…" if len(words) > PREVIEW_CHARS else "")
    return out


@dataclass(frozen=True)
class SharedSummary:
    """Another person's submitted reflection shared with the reader, in a list."""

    id: str
    framework_id: str
    author_name: str
    visibility: str
    submitted_at: str
    preview: str


def shared_with_me(store: Store, who: Person, limit: int = 30) -> list[SharedSummary]:
    """Others' submitted reflections shared with `who` as a community member or as the
    session's facilitator (services/policy.py), newest first. Supervisors' reading of those
    shared with them for review is the review app's."""
    query = (
        select(reflection.c.id, reflection.c.framework_id, person.c.display_name,
               reflection.c.visibility, reflection.c.submitted_at)
        .join(person, person.c.id == reflection.c.person_id)
        .where(
            reflection.c.person_id != who.id,
            reflection.c.visibility.in_(("community", "facilitator")),
            policy.reflections_readable_by(who),
        )
        .order_by(reflection.c.submitted_at.desc(), reflection.c.id)
        .limit(limit)
    )  # fmt: skip
    with store.read() as conn:
        rows = conn.execute(query).all()
        previews = _previews(conn, [r.id for r in rows])
    return [SharedSummary(*r, preview=previews.get(r.id, "")) for r in rows]


def read_shared(store: Store, who: Person, reflection_id: str) -> Reflection:
    """Someone else's reflection that `who` may read (policy "reflection.read"); audited."""
    policy.require(store, who, "reflection.read", reflection_id)
    with store.write() as conn:
        store.audit(
            conn,
            actor_id=who.id,
            action="reflection_read",
            target_kind="reflection",
            target_id=reflection_id,
        )
    with store.read() as conn:
        return load_reflection(conn, reflection_id)


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
        new_id = copy_as_new_version(conn, row, utc_now())
        store.audit(
            conn,
            actor_id=author.id,
            action="reflection_versioned",
            target_kind="reflection",
            target_id=new_id,
        )
        return new_id


def copy_as_new_version(conn: Connection, row: AnyRow, now: str, submitted: bool = False) -> str:
    """Inside the caller's write transaction (which checked that `row`, a reflection row, is
    the caller's): its next version, with its answers, its readers and the session and
    community it belongs to (so that it is shared exactly as before); a draft unless
    `submitted`. Returns the new id."""
    new_id = str(uuid.uuid4())
    conn.execute(
        insert(reflection).values(
            id=new_id,
            person_id=row.person_id,
            framework_id=row.framework_id,
            framework_version=row.framework_version,
            visibility=row.visibility,
            status="submitted" if submitted else "draft",
            revision=1,
            created_at=now,
            updated_at=now,
            submitted_at=now if submitted else None,
            version_of=row.id,
            version_no=row.version_no + 1,
            session_id=row.session_id,
            community_id=row.community_id,
        )
    )
    for answer in conn.execute(
        select(reflection_answer).where(reflection_answer.c.reflection_id == row.id)
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
    return new_id
