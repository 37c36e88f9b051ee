"""Case discussions: start one from a protocol, run its clock, keep notes, actions and ratings.

Who may do what is decided here: the person who started the discussion and anyone named as its
facilitator or timekeeper run the clock; those and the note-takers keep notes; every
participant may rate a scale phase once (changing their own rating later).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, insert, select, update

from cop_widgets.content import discussion_clock
from cop_widgets.content.protocols import Phase, Protocol
from cop_widgets.content.roles import DISCUSSION_ROLES, LEADING_ROLES
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, AnySelect, utc_now
from cop_widgets.store.schema import (
    attendance,
    cop_session,
    discussion,
    discussion_action,
    discussion_note,
    discussion_rating,
    discussion_role,
    person,
)
from cop_widgets.text import check_answer, clean_display_name

CLOCK_ROLES = ("facilitator", "timekeeper")
MAX_CONTENT_NOTE = 200
MAX_ACTION_TEXT = 1000


@dataclass(frozen=True)
class Discussion:
    """A case discussion as its readers see it: case, clock, role holders and status."""

    id: str
    protocol_id: str
    protocol_version: int
    case_summary: str
    content_note: str
    summary_checked: bool
    facilitator_id: str
    status: str
    clock: discussion_clock.Clock
    roles: tuple[tuple[str, str], ...]  # (role id, holder name)
    created_at: str
    session_id: str | None = None  # the CoP session it was held in, if any
    attendee_access_ended_at: str | None = None  # after it, the session's attendees lose it

    def holders(self, role_id: str) -> list[str]:
        """The names holding that role."""
        return [name for rid, name in self.roles if rid == role_id]

    def roles_of(self, who: Person) -> set[str]:
        """The roles `who` holds here (by name; facilitator also when they started it)."""
        key = who.display_name.casefold()
        mine = {rid for rid, name in self.roles if name.casefold() == key}
        if who.id == self.facilitator_id:
            mine.add("facilitator")
        return mine

    def may_run_clock(self, who: Person) -> bool:
        """Whether `who` holds a role that runs the clock (CLOCK_ROLES)."""
        return bool(self.roles_of(who) & set(CLOCK_ROLES))

    def may_take_notes(self, who: Person) -> bool:
        """Whether `who` keeps notes and actions: a leading role (LEADING_ROLES)."""
        return bool(self.roles_of(who) & set(LEADING_ROLES))


@dataclass(frozen=True)
class Note:
    """One note of a discussion's phase (and column), with its author and revision."""

    id: str
    phase_id: str
    column_id: str
    author_id: str
    author_name: str
    text: str
    revision: int
    updated_at: str


@dataclass(frozen=True)
class Action:
    """An action agreed in a discussion: what, who owns it, and by when."""

    id: str
    description: str
    owner: str
    due_date: str | None
    created_at: str


@dataclass(frozen=True)
class DiscussionSummary:
    """A discussion in a list: its protocol, who started it, status and date."""

    id: str
    protocol_id: str
    facilitator_name: str
    status: str
    created_at: str


def _clock_of(row: AnyRow) -> discussion_clock.Clock:
    return discussion_clock.Clock(
        phase_index=row.phase_index,
        status=row.clock_status,
        running_since=row.running_since,
        elapsed_before=row.elapsed_before,
        extra_seconds=row.extra_seconds,
    )


def _load(conn: Connection, discussion_id: str) -> Discussion:
    row = conn.execute(select(discussion).where(discussion.c.id == discussion_id)).first()
    if row is None:
        raise RecordNotFound("discussion", discussion_id)
    roles = conn.execute(
        select(discussion_role.c.role_id, discussion_role.c.holder_name)
        .where(discussion_role.c.discussion_id == discussion_id)
        .order_by(discussion_role.c.role_id, discussion_role.c.holder_key)
    ).all()
    return Discussion(
        id=row.id,
        protocol_id=row.protocol_id,
        protocol_version=row.protocol_version,
        case_summary=row.case_summary,
        content_note=row.content_note,
        summary_checked=bool(row.summary_checked),
        facilitator_id=row.facilitator_id,
        status=row.status,
        clock=_clock_of(row),
        roles=tuple((r.role_id, r.holder_name) for r in roles),
        created_at=row.created_at,
        session_id=row.session_id,
        attendee_access_ended_at=row.attendee_access_ended_at,
    )


def get(store: Store, who: Person, discussion_id: str) -> Discussion:
    """The discussion as it stands now, for someone who may read it."""
    policy.require(store, who, "discussion.read", discussion_id)
    with store.read() as conn:
        return _load(conn, discussion_id)


def _clean_roles(protocol: Protocol, roles: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    known = {r.id for r in protocol.roles} | {rid for rid, _ in DISCUSSION_ROLES}
    out: list[tuple[str, str]] = []
    for role_id, names in roles.items():
        if role_id not in known:
            raise InvalidInput("role", f"{protocol.name} has no role {role_id!r}.")
        for name in names:
            if name and name.strip():
                out.append((role_id, clean_display_name(name)))
    return out


def _check_session_link(conn: Connection, who: Person, session_id: str) -> None:
    """A discussion joins a session only if its starter attended it or runs it (the run
    sheet starts it) and it is not closed."""
    found = conn.execute(
        select(cop_session.c.topic, cop_session.c.status).where(cop_session.c.id == session_id)
    ).first()
    if found is None:
        raise InvalidInput(
            "session",
            f"No CoP session has the id {session_id}. Choose a session from the list, or "
            "“Not part of a session”.",
        )
    attended = conn.execute(
        select(attendance.c.person_id).where(
            attendance.c.session_id == session_id, attendance.c.person_id == who.id
        )
    ).first()
    if attended is None and not policy.allowed(conn, who, "session.manage", session_id):
        raise InvalidInput(
            "session",
            f"You have not joined the session “{found.topic}”. Join it with its code in the "
            "session app first, or choose “Not part of a session”.",
        )
    if found.status == "closed":
        raise InvalidInput(
            "session",
            f"The session “{found.topic}” is closed, so no discussion can be added to it. "
            "Choose another session, or “Not part of a session”.",
        )


def start_discussion(
    store: Store,
    who: Person,
    protocol: Protocol,
    case_summary: str,
    content_note: str = "",
    roles: Mapping[str, Sequence[str]] | None = None,
    summary_checked: bool = False,
    session_id: str | None = None,
) -> Discussion:
    """Create an open discussion; the person starting it facilitates and runs the clock.

    With session_id it is recorded as held in that CoP session (see _check_session_link)."""
    summary = check_answer(case_summary, "Case summary")
    if not summary:
        raise InvalidInput("case summary", "Write a short de-identified case summary first.")
    note = check_answer(content_note, "Content note", limit=MAX_CONTENT_NOTE).strip()
    holders = _clean_roles(protocol, roles or {})
    discussion_id, now = str(uuid.uuid4()), utc_now()
    session_id = session_id or None
    with store.write() as conn:
        # Checked inside the write: the session may have been closed since the form was shown.
        if session_id is not None:
            _check_session_link(conn, who, session_id)
        conn.execute(
            insert(discussion).values(
                id=discussion_id,
                protocol_id=protocol.id,
                protocol_version=protocol.version,
                case_summary=summary,
                content_note=note,
                summary_checked=summary_checked,
                facilitator_id=who.id,
                status="open",
                created_at=now,
                updated_at=now,
                session_id=session_id,
            )
        )
        _add_holders(conn, discussion_id, holders)
        store.audit(
            conn,
            actor_id=who.id,
            action="discussion_started",
            target_kind="discussion",
            target_id=discussion_id,
        )
        return _load(conn, discussion_id)


def set_roles(
    store: Store,
    who: Person,
    discussion_id: str,
    protocol: Protocol,
    roles: Mapping[str, Sequence[str]],
) -> Discussion:
    """Replace the role holders (facilitators only)."""
    holders = _clean_roles(protocol, roles)
    policy.require(store, who, "discussion.read", discussion_id)
    with store.write() as conn:
        current = _load(conn, discussion_id)
        _require(current.may_run_clock(who), "change roles")
        conn.execute(
            delete(discussion_role).where(discussion_role.c.discussion_id == discussion_id)
        )
        _add_holders(conn, discussion_id, holders)
        return _load(conn, discussion_id)


def _add_holders(conn: Connection, discussion_id: str, holders: list[tuple[str, str]]) -> None:
    """Record the role holders; a name given twice for a role (in any case: it is matched
    casefolded when a person signs in) is recorded once, as first written."""
    seen = set()
    for role_id, name in holders:
        if (role_id, name.casefold()) in seen:
            continue
        seen.add((role_id, name.casefold()))
        conn.execute(
            insert(discussion_role).values(
                discussion_id=discussion_id,
                role_id=role_id,
                holder_key=name.casefold(),
                holder_name=name,
            )
        )


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise InvalidInput("role", f"Only the facilitator or timekeeper can {what}.")


def open_discussion(store: Store, who: Person, discussion_id: str) -> Discussion:
    """A discussion `who` may read (services/policy.py: "discussion.read")."""
    return get(store, who, discussion_id)


def may_end_attendee_access(store: Store, who: Person, discussion: Discussion) -> bool:
    """Whether to offer `who` the "end attendees' access" control for this discussion."""
    if discussion.session_id is None or discussion.attendee_access_ended_at is not None:
        return False
    with store.read() as conn:
        return policy.allowed(conn, who, "discussion.end_access", discussion.id)


def end_attendee_access(store: Store, who: Person, discussion_id: str) -> Discussion:
    """After the session: its attendees no longer open the case (its starter, role holders and
    the community's coordinators still do)."""
    policy.require(store, who, "discussion.end_access", discussion_id)
    with store.write() as conn:
        conn.execute(
            update(discussion)
            .where(discussion.c.id == discussion_id)
            .values(attendee_access_ended_at=utc_now())
        )
        store.audit(
            conn,
            actor_id=who.id,
            action="discussion_access_ended",
            target_kind="discussion",
            target_id=discussion_id,
        )
        return _load(conn, discussion_id)


def _readable_summaries(who: Person) -> AnySelect:
    """The discussions `who` may read, as DiscussionSummary's columns (callers sort them)."""
    return _summaries_where(policy.discussions_readable_by(who))


def _summaries_where(readable: ColumnElement[bool]) -> AnySelect:
    return (
        select(
            discussion.c.id,
            discussion.c.protocol_id,
            person.c.display_name,
            discussion.c.status,
            discussion.c.created_at,
        )
        .join(person, person.c.id == discussion.c.facilitator_id)
        .where(readable)
    )


# built once: each joined page asks every few seconds whether its session's discussion started
_SESSION_DISCUSSIONS = (
    _summaries_where(policy.DISCUSSIONS_READABLE_BY_VIEWER)
    .where(discussion.c.session_id == bindparam("session"))
    .order_by(discussion.c.created_at.desc())
)


def list_discussions(store: Store, who: Person, limit: int = 30) -> list[DiscussionSummary]:
    """The newest discussions `who` may read, open ones first."""
    query = (
        _readable_summaries(who)
        .order_by(discussion.c.status.desc(), discussion.c.created_at.desc())
        .limit(limit)
    )
    with store.read() as conn:
        return [DiscussionSummary(*row) for row in conn.execute(query).all()]


def session_discussions(store: Store, who: Person, session_id: str) -> list[DiscussionSummary]:
    """The discussions held in a session that `who` may read, newest first: what its join
    page links to."""
    params = {**policy.viewer_params(who), "session": session_id}
    with store.read() as conn:
        return [DiscussionSummary(*row) for row in conn.execute(_SESSION_DISCUSSIONS, params)]


CLOCK_ACTIONS = ("start", "pause", "resume", "extend", "next")


def run_clock(
    store: Store,
    who: Person,
    discussion_id: str,
    action: str,
    phase_count: int,
    from_index: int | None = None,
    minutes: int = 0,
    now: float | None = None,
) -> Discussion:
    """Apply one clock action atomically; `from_index` makes "next" safe to double-click."""
    if action not in CLOCK_ACTIONS:
        raise InvalidInput("clock", f"Unknown clock action {action!r}.")
    now = time.time() if now is None else now
    policy.require(store, who, "discussion.read", discussion_id)
    with store.write() as conn:
        current = _load(conn, discussion_id)
        if current.status != "open":
            raise RecordLocked("discussion", discussion_id, "it is closed; reopen it first")
        _require(current.may_run_clock(who), "run the clock")
        clock = current.clock
        if action == "start":
            new = discussion_clock.start(clock, now)
        elif action == "pause":
            new = discussion_clock.pause(clock, now)
        elif action == "resume":
            new = discussion_clock.resume(clock, now)
        elif action == "extend":
            new = discussion_clock.extend(clock, minutes)
        else:
            new = discussion_clock.next_phase(
                clock, clock.phase_index if from_index is None else from_index, phase_count, now
            )
        if new != clock:
            conn.execute(
                update(discussion)
                .where(discussion.c.id == discussion_id)
                .values(
                    phase_index=new.phase_index,
                    clock_status=new.status,
                    running_since=new.running_since,
                    elapsed_before=new.elapsed_before,
                    extra_seconds=new.extra_seconds,
                    updated_at=utc_now(),
                    revision=discussion.c.revision + 1,
                )
            )
        return _load(conn, discussion_id)


def set_status(store: Store, who: Person, discussion_id: str, status: str) -> Discussion:
    """Close a discussion (no more notes or clock) or reopen it."""
    if status not in ("open", "closed"):
        raise InvalidInput("status", f"Unknown discussion status {status!r}.")
    policy.require(store, who, "discussion.read", discussion_id)
    with store.write() as conn:
        current = _load(conn, discussion_id)
        _require(current.may_run_clock(who), "close or reopen the discussion")
        conn.execute(
            update(discussion)
            .where(discussion.c.id == discussion_id)
            .values(
                status=status,
                updated_at=utc_now(),
                closed_at=utc_now() if status == "closed" else None,
            )
        )
        store.audit(
            conn,
            actor_id=who.id,
            action=f"discussion_{status}",
            target_kind="discussion",
            target_id=discussion_id,
        )
        return _load(conn, discussion_id)


def save_note(
    store: Store,
    who: Person,
    note_id: str,
    discussion_id: str,
    phase_id: str,
    text: str,
    column_id: str = "",
    expected_revision: int | None = None,
) -> Note:
    """Create or update this person's note. Another person's note is never touched; the same
    note changed elsewhere since `expected_revision` is refused as a conflict, text kept."""
    body = check_answer(text, "Notes")
    now = utc_now()
    policy.require(store, who, "discussion.read", discussion_id)
    with store.write() as conn:
        current = _load(conn, discussion_id)
        if current.status != "open":
            raise RecordLocked(
                "discussion",
                discussion_id,
                "it is closed; your text is still here, copy it if you need it",
            )
        if not current.may_take_notes(who):
            raise InvalidInput("role", "Only the note-taker or the facilitator keeps notes.")
        row = conn.execute(select(discussion_note).where(discussion_note.c.id == note_id)).first()
        if row is None:
            conn.execute(
                insert(discussion_note).values(
                    id=note_id,
                    discussion_id=discussion_id,
                    phase_id=phase_id,
                    column_id=column_id,
                    author_id=who.id,
                    text=body,
                    revision=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            if row.author_id != who.id or row.discussion_id != discussion_id:
                raise RecordNotFound("note", note_id)
            if expected_revision is not None and row.revision != expected_revision:
                raise RecordLocked(
                    "note",
                    note_id,
                    "it was changed in another tab or device since you opened it. Your text is "
                    "still here: copy it, then reopen the discussion to see both",
                )
            conn.execute(
                update(discussion_note)
                .where(discussion_note.c.id == note_id)
                .values(text=body, revision=row.revision + 1, updated_at=now)
            )
        saved = conn.execute(
            select(discussion_note, person.c.display_name)
            .join(person, person.c.id == discussion_note.c.author_id)
            .where(discussion_note.c.id == note_id)
        ).one()  # written just above, in this transaction
    return _note(saved)


def _note(row: AnyRow) -> Note:
    return Note(
        id=row.id,
        phase_id=row.phase_id,
        column_id=row.column_id,
        author_id=row.author_id,
        author_name=row.display_name,
        text=row.text,
        revision=row.revision,
        updated_at=row.updated_at,
    )


def notes(store: Store, who: Person, discussion_id: str, phase_id: str | None = None) -> list[Note]:
    """Everyone's notes (of one phase), for someone who may read the discussion."""
    policy.require(store, who, "discussion.read", discussion_id)
    query = (
        select(discussion_note, person.c.display_name)
        .join(person, person.c.id == discussion_note.c.author_id)
        .where(discussion_note.c.discussion_id == discussion_id)
        .order_by(discussion_note.c.created_at, discussion_note.c.id)
    )
    if phase_id is not None:
        query = query.where(discussion_note.c.phase_id == phase_id)
    with store.read() as conn:
        return [_note(r) for r in conn.execute(query).all()]


def add_action(
    store: Store,
    who: Person,
    discussion_id: str,
    description: str,
    owner: str,
    due_date: dt.date | None,
) -> Action:
    """Record an action in an open discussion. Whoever may read it (policy
    "discussion.read") and holds a leading role: the note-taker or the facilitator."""
    text = check_answer(description, "Action", limit=MAX_ACTION_TEXT).strip()
    if not text:
        raise InvalidInput("action", "Describe the action in a few words.")
    owner_name = clean_display_name(owner) if owner and owner.strip() else ""
    if not owner_name:
        raise InvalidInput("owner", "Name who owns the action (a role or a name).")
    if due_date is not None and not isinstance(due_date, dt.date):
        raise InvalidInput("due date", "The due date is not a date; pick one from the calendar.")
    action = Action(
        str(uuid.uuid4()), text, owner_name, due_date.isoformat() if due_date else None, utc_now()
    )
    policy.require(store, who, "discussion.read", discussion_id)
    with store.write() as conn:
        current = _load(conn, discussion_id)
        if current.status != "open":
            raise RecordLocked("discussion", discussion_id, "it is closed")
        if not current.may_take_notes(who):
            raise InvalidInput("role", "Only the note-taker or the facilitator records actions.")
        conn.execute(
            insert(discussion_action).values(
                id=action.id,
                discussion_id=discussion_id,
                description=action.description,
                owner=action.owner,
                due_date=action.due_date,
                created_by=who.id,
                created_at=action.created_at,
            )
        )
    return action


def amend_action(
    store: Store, who: Person, discussion_id: str, action_id: str, description: str, owner: str
) -> None:
    """Replace the text and owner of an action this person recorded (for example with the last
    words that reached the server after "Add action" was pressed)."""
    text = check_answer(description, "Action", limit=MAX_ACTION_TEXT).strip()
    owner_name = clean_display_name(owner) if owner and owner.strip() else ""
    if not text or not owner_name:
        raise InvalidInput("action", "Describe the action and name who owns it.")
    policy.require(store, who, "discussion.read", discussion_id)
    with store.write() as conn:
        current = _load(conn, discussion_id)
        if current.status != "open":
            raise RecordLocked("discussion", discussion_id, "it is closed")
        changed = conn.execute(
            update(discussion_action)
            .where(
                discussion_action.c.id == action_id,
                discussion_action.c.discussion_id == discussion_id,
                discussion_action.c.created_by == who.id,
            )
            .values(description=text, owner=owner_name)
        ).rowcount
    if changed != 1:
        raise RecordNotFound("action", action_id)


def actions(store: Store, who: Person, discussion_id: str) -> list[Action]:
    """The discussion's actions, oldest first (policy "discussion.read")."""
    policy.require(store, who, "discussion.read", discussion_id)
    with store.read() as conn:
        rows = conn.execute(
            select(
                discussion_action.c.id,
                discussion_action.c.description,
                discussion_action.c.owner,
                discussion_action.c.due_date,
                discussion_action.c.created_at,
            )
            .where(discussion_action.c.discussion_id == discussion_id)
            .order_by(discussion_action.c.created_at, discussion_action.c.id)
        ).all()
    return [Action(*r) for r in rows]


def rate(store: Store, who: Person, discussion_id: str, phase: Phase, value: int) -> None:
    """Keep this person's rating on a scale phase (one per person; a new one replaces theirs)."""
    scale = phase.scale
    if scale is None:
        raise InvalidInput("rating", f"{phase.label} has no scale to rate.")
    if isinstance(value, bool) or not isinstance(value, int) or not scale.min <= value <= scale.max:
        raise InvalidInput("rating", f"Choose a number from {scale.min} to {scale.max}.")
    now = utc_now()
    key = and_(
        discussion_rating.c.discussion_id == discussion_id,
        discussion_rating.c.phase_id == phase.id,
        discussion_rating.c.person_id == who.id,
    )
    policy.require(store, who, "discussion.read", discussion_id)
    with store.write() as conn:
        if _load(conn, discussion_id).status != "open":
            raise RecordLocked("discussion", discussion_id, "it is closed")
        if conn.execute(select(discussion_rating.c.value).where(key)).first() is None:
            conn.execute(
                insert(discussion_rating).values(
                    discussion_id=discussion_id,
                    phase_id=phase.id,
                    person_id=who.id,
                    value=value,
                    updated_at=now,
                )
            )
        else:
            conn.execute(update(discussion_rating).where(key).values(value=value, updated_at=now))


def ratings(store: Store, who: Person, discussion_id: str, phase_id: str) -> list[int]:
    """The ratings given on a scale phase, sorted, without who gave them (policy
    "discussion.read")."""
    policy.require(store, who, "discussion.read", discussion_id)
    with store.read() as conn:
        return sorted(
            conn.execute(
                select(discussion_rating.c.value).where(
                    discussion_rating.c.discussion_id == discussion_id,
                    discussion_rating.c.phase_id == phase_id,
                )
            ).scalars()
        )
