"""What the person record holds (one practitioner's CPD record, read as that practitioner
would): pandas reads with every filter in SQL.

Report parameters are ids and ISO dates only (``check_id``, ``parse_period``); nothing a person
typed is ever a parameter.

The record holds:
- their own submitted reflections in the period (all visibilities: they are the author), with
  the text of each stage; drafts are only counted;
- feedback on those reflections once released (the rule of ``supervision.released_feedback``);
- discussions started in the period that they took part in (facilitated, held a role, kept a
  note, rated, recorded or own an action), with the actions they own or recorded. No case
  summary, no other person's notes.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd
from sqlalchemy import and_, exists, func, or_, select

from cop_widgets.errors import RecordNotFound
from cop_widgets.reports.params import Period, check_id
from cop_widgets.services.feedback import released_feedback_select
from cop_widgets.services.identity import Person
from cop_widgets.services.person_tables import role_key
from cop_widgets.store import Store
from cop_widgets.store.schema import (
    discussion,
    discussion_action,
    discussion_note,
    discussion_rating,
    discussion_role,
    feedback,
    person,
    reflection,
    reflection_answer,
    review,
)


# -- the store -----------------------------------------------------------------------------------
def _read(store: Store, query) -> pd.DataFrame:
    with store.read() as conn:
        return pd.read_sql(query, conn)


def report_person(store: Store, person_id: object) -> Person | None:
    """The person a record is for: None when no id was given (an empty template run)."""
    if person_id in ("", None):
        return None
    pid = check_id(person_id, "person_id")
    with store.read() as conn:
        row = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role).where(person.c.id == pid)
        ).first()
    if row is None:
        raise RecordNotFound("person", pid)
    return Person(*row)


def role_holder_key(store: Store, who: Person) -> str | None:
    """The casefolded name by which discussion roles and action owners name this person, or
    None when another person has the same name (the rule export and erasure use)."""
    with store.read() as conn:
        return role_key(conn, who)


# -- person record -------------------------------------------------------------------------------
# The columns of each frame, in order: read a frame's rows with common_data.frame_rows(frame, Row).
class ReflectionRow(NamedTuple):
    id: str
    framework_id: str
    framework_version: int
    visibility: str
    submitted_at: str
    version_no: int


class AnswerRow(NamedTuple):
    reflection_id: str
    stage_id: str
    text: str
    passed: bool


class FeedbackRow(NamedTuple):
    reflection_id: str
    supervisor_name: str
    kind: str
    text: str
    depth_level: str | None
    released_at: str


class MonthRow(NamedTuple):
    month: str  # YYYY-MM
    reflections: int


class DiscussionRow(NamedTuple):
    id: str
    protocol_id: str
    created_at: str
    status: str
    started: bool  # the person facilitated it
    roles: list[str]  # the role ids the person held


class ActionRow(NamedTuple):
    id: str
    discussion_id: str
    protocol_id: str
    discussion_at: str
    description: str
    owner: str
    due_date: str | None
    created_at: str
    owned: bool
    recorded: bool


@dataclass(frozen=True)
class PersonRecord:
    person: Person | None
    period: Period
    reflections: pd.DataFrame  # ReflectionRow: submitted in the period, oldest first
    answers: pd.DataFrame  # AnswerRow
    feedback: pd.DataFrame  # FeedbackRow
    drafts: int  # drafts changed in the period (counted, not shown)
    by_month: pd.DataFrame  # MonthRow
    discussions: pd.DataFrame  # DiscussionRow
    actions: pd.DataFrame  # ActionRow


def _mine(who: Person, period: Period):
    r = reflection.c
    return and_(r.person_id == who.id, r.status == "submitted", period.where(r.submitted_at))


def person_reflections(store: Store, who: Person, period: Period) -> pd.DataFrame:
    r = reflection.c
    return _read(
        store,
        select(
            r.id, r.framework_id, r.framework_version, r.visibility, r.submitted_at, r.version_no
        )
        .where(_mine(who, period))
        .order_by(r.submitted_at, r.id),
    )


def person_answers(store: Store, who: Person, period: Period) -> pd.DataFrame:
    a = reflection_answer.c
    return _read(
        store,
        select(a.reflection_id, a.stage_id, a.text, a.passed)
        .join(reflection, reflection.c.id == a.reflection_id)
        .where(_mine(who, period))
        .order_by(a.reflection_id, a.stage_id),
    )


def person_feedback(store: Store, who: Person, period: Period) -> pd.DataFrame:
    """Released feedback on the person's reflections of the period (the author's own view's
    query, services.feedback)."""
    query = released_feedback_select().where(_mine(who, period))
    return _read(
        store,
        query.order_by(
            feedback.c.reflection_id, review.c.released_at, feedback.c.created_at, feedback.c.id
        ),
    )


def person_drafts(store: Store, who: Person, period: Period) -> int:
    r = reflection.c
    with store.read() as conn:
        return conn.execute(
            select(func.count())
            .select_from(reflection)
            .where(r.person_id == who.id, r.status == "draft", period.where(r.updated_at))
        ).scalar_one()


def person_actions(store: Store, who: Person, period: Period, key: str | None) -> pd.DataFrame:
    """Actions of the period's discussions that the person owns (by name) or recorded."""
    a, d = discussion_action.c, discussion.c
    in_period = period.where(d.created_at)
    with store.read() as conn:
        # Owners are names typed by a note-taker: matched in Python (casefold), ids only first.
        candidates = conn.execute(
            select(a.id, a.owner, a.created_by)
            .join(discussion, d.id == a.discussion_id)
            .where(in_period)
        ).all()
    owned = {c.id for c in candidates if key is not None and c.owner.casefold() == key}
    recorded = {c.id for c in candidates if c.created_by == who.id}
    ids = sorted(owned | recorded)
    frame = _read(
        store,
        select(
            a.id,
            a.discussion_id,
            d.protocol_id,
            d.created_at.label("discussion_at"),
            a.description,
            a.owner,
            a.due_date,
            a.created_at,
        )
        .join(discussion, d.id == a.discussion_id)
        .where(a.id.in_(ids))
        .order_by(d.created_at, a.created_at, a.id),
    )
    frame["owned"] = frame["id"].isin(owned)
    frame["recorded"] = frame["id"].isin(recorded)
    return frame


def person_discussions(
    store: Store, who: Person, period: Period, key: str | None, action_discussions=()
) -> pd.DataFrame:
    d = discussion.c
    took_part = [
        d.facilitator_id == who.id,
        exists().where(
            discussion_note.c.discussion_id == d.id, discussion_note.c.author_id == who.id
        ),
        exists().where(
            discussion_rating.c.discussion_id == d.id, discussion_rating.c.person_id == who.id
        ),
        exists().where(
            discussion_action.c.discussion_id == d.id, discussion_action.c.created_by == who.id
        ),
        d.id.in_(list(action_discussions)),
    ]
    if key is not None:
        took_part.append(
            exists().where(
                discussion_role.c.discussion_id == d.id, discussion_role.c.holder_key == key
            )
        )
    frame = _read(
        store,
        select(d.id, d.protocol_id, d.created_at, d.status, d.facilitator_id)
        .where(period.where(d.created_at), or_(*took_part))
        .order_by(d.created_at, d.id),
    )
    held: dict[str, list[str]] = {i: [] for i in frame["id"]}
    if key is not None and held:
        with store.read() as conn:
            for did, role_id in conn.execute(
                select(discussion_role.c.discussion_id, discussion_role.c.role_id)
                .join(discussion, d.id == discussion_role.c.discussion_id)
                .where(period.where(d.created_at), discussion_role.c.holder_key == key)
                .order_by(discussion_role.c.role_id)
            ).all():
                if did in held:
                    held[did].append(role_id)
    frame["started"] = frame["facilitator_id"] == who.id
    frame["roles"] = [held[i] for i in frame["id"]]
    return frame.drop(columns=["facilitator_id"])


def person_record(store: Store, who: Person | None, period: Period) -> PersonRecord:
    """Everything one person's CPD record shows, read as that person may read it."""
    if who is None:
        empty = pd.DataFrame()
        return PersonRecord(
            None,
            period,
            empty,
            empty,
            empty,
            0,
            _monthly(period, empty, "reflections"),
            empty,
            empty,
        )
    reflections = person_reflections(store, who, period)
    key = role_holder_key(store, who)
    actions = person_actions(store, who, period, key)
    return PersonRecord(
        person=who,
        period=period,
        reflections=reflections,
        answers=person_answers(store, who, period),
        feedback=person_feedback(store, who, period),
        drafts=person_drafts(store, who, period),
        by_month=_monthly(period, reflections, "reflections"),
        discussions=person_discussions(store, who, period, key, set(actions["discussion_id"])),
        actions=actions,
    )


def _monthly(period: Period, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    counts: dict[Hashable, int] = {}
    if len(frame):
        counts = frame["submitted_at"].str.slice(0, 7).value_counts().to_dict()
    return pd.DataFrame(
        {"month": period.months, column: [int(counts.get(m, 0)) for m in period.months]}
    )


# -- the person's sessions and commitments (person record) --------------------------------------
class AttendedRow(NamedTuple):
    session_id: str
    starts_at: str
    community: str
    topic: str
    roles: list[str]  # the role ids the person held


class CommitmentRow(NamedTuple):
    text: str
    made_at: str  # the session's start
    topic: str
    tried: str | None  # yes, partly, no; None until followed up
    followup_text: str | None
    followed_up_at: str | None


@dataclass(frozen=True)
class PersonSessions:
    attended: pd.DataFrame  # AttendedRow
    commitments: pd.DataFrame  # CommitmentRow


def person_sessions(store: Store, who: Person | None, period: Period) -> PersonSessions:
    """Sessions the person joined that started in the period, with the roles they held, and
    the commitments they made at them with their own follow-up. Theirs only."""
    from cop_widgets.store.schema import (
        attendance,
        commitment,
        community,
        cop_session,
        session_role,
    )

    if who is None:
        empty = pd.DataFrame()
        return PersonSessions(empty, empty)
    s = cop_session.c
    attended = _read(
        store,
        select(s.id.label("session_id"), s.starts_at, community.c.name.label("community"), s.topic)
        .join(attendance, attendance.c.session_id == s.id)
        .join(community, community.c.id == s.community_id)
        .where(attendance.c.person_id == who.id, period.where(s.starts_at))
        .order_by(s.starts_at, s.id),
    )
    held: dict[str, list[str]] = {sid: [] for sid in attended["session_id"]}
    if held:
        with store.read() as conn:
            for sid, role in conn.execute(
                select(session_role.c.session_id, session_role.c.role_id)
                .where(
                    session_role.c.person_id == who.id,
                    session_role.c.session_id.in_(list(held)),
                )
                .order_by(session_role.c.role_id)
            ).all():
                held[sid].append(role)
    attended["roles"] = [held[sid] for sid in attended["session_id"]]
    c = commitment.c
    commitments = _read(
        store,
        select(
            c.text,
            s.starts_at.label("made_at"),
            s.topic,
            c.tried,
            c.followup_text,
            c.followed_up_at,
        )
        .join(cop_session, s.id == c.session_id)
        .where(c.person_id == who.id, period.where(s.starts_at))
        .order_by(s.starts_at, c.created_at, c.id),
    )
    return PersonSessions(attended, commitments)
