"""Communities and their session series: plan, join by code, attendance, calendar, rotation.

A community (a CoP) has a domain and a purpose; its sessions are dated meetings with a topic,
a focus question, a protocol and a short join code. Joining records attendance once per person.
Roles rotate: the suggestion favours whoever has held a role least (distributed leadership).
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cop_widgets.content.roles import SESSION_ROLES
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.accounts import check_join_tries, record_join_code_failure
from cop_widgets.services.add_once import add_once
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, utc_now
from cop_widgets.store.schema import (
    COMMUNITY_ROLES,
    attendance,
    community,
    community_member,
    cop_session,
    person,
    session_role,
)
from cop_widgets.text import check_answer

# No 0/O, 1/I/L: codes are read aloud and typed from a slide.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
# A code works from the day before its session until a day after it starts.
CODE_OPENS_BEFORE = timedelta(days=1)
CODE_EXPIRES_AFTER = timedelta(days=1)
# A discussion can be linked to a session from an hour before it starts to an hour after it
# ends: groups gather early and overrun.
LINK_MARGIN = timedelta(minutes=60)


@dataclass(frozen=True)
class Community:
    """A community of practice: its name, domain and purpose."""

    id: str
    name: str
    domain: str
    purpose: str


@dataclass(frozen=True)
class Session:
    """A CoP session: when, its topic and focus, its protocol, join code and status."""

    id: str
    community_id: str
    starts_at: datetime
    duration_minutes: int
    topic: str
    focus_question: str
    protocol_id: str | None
    join_code: str
    status: str
    checkout_opened_at: str | None = None  # UTC; participants' check-out shows from then
    community_name: str = ""  # filled where it is read with the session (a join)

    @property
    def ends_at(self) -> datetime:
        """When it ends: its start plus its duration."""
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def session_from_row(row: AnyRow) -> Session:
    """A Session from a cop_session row."""
    return Session(
        row.id,
        row.community_id,
        datetime.fromisoformat(row.starts_at),
        row.duration_minutes,
        row.topic,
        row.focus_question,
        row.protocol_id,
        row.join_code,
        row.status,
        row.checkout_opened_at,
    )


def _short(text: str, field: str, limit: int, required: bool = True) -> str:
    value = check_answer(text or "", field, limit=limit).strip()
    if required and not value:
        raise InvalidInput(field, f"Enter the {field.lower()}.")
    return value


def create_community(
    store: Store, who: Person, name: str, domain: str = "", purpose: str = ""
) -> Community:
    """Create a community; its creator coordinates it ("community.create": anyone signed in)."""
    policy.require(store, who, "community.create", None)
    made = Community(
        str(uuid.uuid4()),
        _short(name, "Name", 120),
        _short(domain, "Domain", 2000, False),
        _short(purpose, "Purpose", 2000, False),
    )
    with store.write() as conn:
        conn.execute(
            insert(community).values(
                id=made.id,
                name=made.name,
                domain=made.domain,
                purpose=made.purpose,
                created_by=who.id,
                created_at=utc_now(),
            )
        )
        # whoever starts a community runs it: its first coordinator and member
        policy.add_member(conn, made.id, who.id, "coordinator")
        policy.add_member(conn, made.id, who.id, "member")
        store.audit(
            conn,
            actor_id=who.id,
            action="community_created",
            target_kind="community",
            target_id=made.id,
        )
    return made


def communities(store: Store, who: Person) -> list[Community]:
    """The communities `who` may see (policy: members; every one for a global coordinator)."""
    with store.read() as conn:
        visible = policy.communities_visible_to(conn, who)
        query = select(
            community.c.id, community.c.name, community.c.domain, community.c.purpose
        ).order_by(community.c.name)
        if visible is not None:
            query = query.where(visible)
        rows = conn.execute(query).all()
    return [Community(*r) for r in rows]


def runs_community(store: Store, who: Person, community_id: str) -> bool:
    """Whether `who` plans, assigns roles and sees join codes here (policy "community.manage")."""
    with store.read() as conn:
        return policy.allowed(conn, who, "community.manage", community_id)


def runs_session(store: Store, who: Person, session_id: str) -> bool:
    """Whether `who` runs this session (policy "session.manage"): the run sheet is theirs."""
    with store.read() as conn:
        return policy.allowed(conn, who, "session.manage", session_id)


def member_roles(store: Store, who: Person, community_id: str) -> list[tuple[str, str, str]]:
    """(person id, name, roles) of everyone in the community, for those who may see it."""
    policy.require(store, who, "community.view", community_id)
    with store.read() as conn:
        rows = conn.execute(
            select(person.c.id, person.c.display_name, community_member.c.role)
            .join(community_member, community_member.c.person_id == person.c.id)
            .where(community_member.c.community_id == community_id)
            .order_by(person.c.display_name)
        ).all()
    held: dict[tuple[str, str], list[str]] = {}
    for pid, name, role in rows:
        held.setdefault((pid, name), []).append(role)
    order = {r: i for i, r in enumerate(COMMUNITY_ROLES)}
    return [
        (pid, name, ", ".join(sorted(roles, key=order.__getitem__)))
        for (pid, name), roles in held.items()
    ]


def add_member(store: Store, who: Person, community_id: str, person_id: str, role: str) -> None:
    """A community's facilitator or coordinator adds a person as member, facilitator or
    coordinator of it."""
    if role not in COMMUNITY_ROLES:
        raise InvalidInput("role", f"A community role is one of {', '.join(COMMUNITY_ROLES)}.")
    policy.require(store, who, "community.manage", community_id)
    with store.write() as conn:
        if conn.execute(select(person.c.id).where(person.c.id == person_id)).first() is None:
            raise RecordNotFound("person", person_id)
        policy.add_member(conn, community_id, person_id, "member")
        policy.add_member(conn, community_id, person_id, role)
        store.audit(
            conn,
            actor_id=who.id,
            action="community_member_added",
            target_kind="person",
            target_id=person_id,
        )


def plan_session(
    store: Store,
    who: Person,
    community_id: str,
    starts_at: datetime,
    topic: str,
    focus_question: str = "",
    protocol_id: str | None = None,
    duration_minutes: int = 90,
) -> Session:
    """Plan a session of the community ("community.manage": its facilitators and
    coordinators; global coordinators); it gets a new join code."""
    policy.require(store, who, "community.manage", community_id)
    if starts_at.tzinfo is None:
        raise InvalidInput("start", "The start time needs a time zone.")
    if not 15 <= int(duration_minutes) <= 480:
        raise InvalidInput("duration", "A session lasts between 15 and 480 minutes.")
    topic = _short(topic, "Topic", 200)
    focus = _short(focus_question, "Focus question", 1000, False)
    for _ in range(5):  # a clash of random codes is rare; try again rather than fail
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        sid = str(uuid.uuid4())
        try:
            with store.write() as conn:
                if (
                    conn.execute(
                        select(community.c.id).where(community.c.id == community_id)
                    ).first()
                    is None
                ):
                    raise RecordNotFound("community", community_id)
                conn.execute(
                    insert(cop_session).values(
                        id=sid,
                        community_id=community_id,
                        starts_at=starts_at.astimezone(UTC).isoformat(),
                        duration_minutes=int(duration_minutes),
                        topic=topic,
                        focus_question=focus,
                        protocol_id=protocol_id or None,
                        join_code=code,
                        status="planned",
                        created_at=utc_now(),
                    )
                )
                store.audit(
                    conn,
                    actor_id=who.id,
                    action="session_planned",
                    target_kind="session",
                    target_id=sid,
                )
            return _get_session(store, sid)
        except IntegrityError:
            continue
    raise RecordLocked("session", community_id, "no free join code was found; try again")


def session_by_code(store: Store, who: Person, code: str) -> Session:
    """The session with this join code, for someone who runs it (the board, the run sheet)."""
    wanted = normalise_code(code)
    with store.read() as conn:
        row = conn.execute(_SESSION_BY_CODE, {"code": wanted}).first()
    if row is None:
        raise InvalidInput("join code", f"No session has the code {wanted or '(empty)'}.")
    policy.require(store, who, "session.manage", row.id)
    return session_from_row(row)


def get_session(store: Store, who: Person, session_id: str) -> Session:
    """The session's time, topic and state; the join code only for those who run it."""
    policy.require(store, who, "session.view", session_id)
    found = _get_session(store, session_id)
    with store.read() as conn:
        runs = policy.may_manage_session(conn, who, session_id)
    return found if runs else replace(found, join_code="")


def _get_session(store: Store, session_id: str) -> Session:
    with store.read() as conn:
        row = conn.execute(select(cop_session).where(cop_session.c.id == session_id)).first()
    if row is None:
        raise RecordNotFound("session", session_id)
    return session_from_row(row)


def sessions_of(
    store: Store, who: Person, community_id: str, now: datetime
) -> tuple[list[Session], list[Session]]:
    """(upcoming, past) sessions of a community `who` may see: upcoming soonest first, past
    most recent first. Join codes are shown only to those who run the community (for the
    others the code is "")."""
    policy.require(store, who, "community.view", community_id)
    with store.read() as conn:
        runs = policy.may_manage_community(conn, who, community_id)
        rows = conn.execute(
            select(cop_session)
            .where(cop_session.c.community_id == community_id)
            .order_by(cop_session.c.starts_at)
        ).all()
    every = [
        session_from_row(r) if runs else replace(session_from_row(r), join_code="") for r in rows
    ]
    upcoming = [s for s in every if s.ends_at >= now and s.status != "closed"]
    past = [s for s in reversed(every) if s not in upcoming]
    return upcoming, past


def close_session(store: Store, who: Person, session_id: str) -> None:
    """Close the session: no more answers or joining ("session.manage"); audited."""
    policy.require(store, who, "session.manage", session_id)
    with store.write() as conn:
        done = conn.execute(
            update(cop_session).where(cop_session.c.id == session_id).values(status="closed")
        ).rowcount
        if not done:
            raise RecordNotFound("session", session_id)
        store.audit(
            conn,
            actor_id=who.id,
            action="session_closed",
            target_kind="session",
            target_id=session_id,
        )


# -- the run sheet: one session, run by its facilitator -------------------------------------
def session_to_run(store: Store, who: Person, session_id: str) -> Session:
    """The session with its join code, for someone who runs it (the run sheet); anyone else
    is refused (audited), whatever id they give."""
    policy.require(store, who, "session.manage", session_id)
    return _get_session(store, session_id)


def open_checkout(store: Store, who: Person, session_id: str) -> Session:
    """The facilitator opens check-out for the room: from now on the join page offers each
    participant their check-out. Opening it again keeps the first time."""
    policy.require(store, who, "session.manage", session_id)
    with store.write() as conn:
        row = conn.execute(
            select(cop_session.c.status, cop_session.c.topic).where(cop_session.c.id == session_id)
        ).first()
        if row is None:
            raise RecordNotFound("session", session_id)
        if row.status == "closed":
            raise InvalidInput(
                "check-out",
                f"“{row.topic}” is closed, so no check-out can be taken any more.",
            )
        opened = conn.execute(
            update(cop_session)
            .where(cop_session.c.id == session_id, cop_session.c.checkout_opened_at.is_(None))
            .values(checkout_opened_at=utc_now())
        ).rowcount
        if opened:
            store.audit(
                conn,
                actor_id=who.id,
                action="session_checkout_opened",
                target_kind="session",
                target_id=session_id,
            )
    return _get_session(store, session_id)


def checkout_open(store: Store, who: Person, session_id: str) -> bool:
    """Whether the facilitator has opened check-out (asked by the join page every few
    seconds, so one small read), for anyone who may see the session."""
    policy.require(store, who, "session.view", session_id)
    with store.read() as conn:
        opened = conn.execute(_CHECKOUT_OPENED_AT, {"session": session_id}).scalar()
    return opened is not None


def role_candidates(store: Store, who: Person, session_id: str) -> list[tuple[str, str]]:
    """(person id, name) of whoever may take a role in the session: the community's members
    (so roles can be given before anyone joins) and its attendees, by name."""
    policy.require(store, who, "session.manage", session_id)
    with store.read() as conn:
        community_id = conn.execute(
            select(cop_session.c.community_id).where(cop_session.c.id == session_id)
        ).scalar()
        in_community = select(community_member.c.person_id).where(
            community_member.c.community_id == community_id
        )
        came = select(attendance.c.person_id).where(attendance.c.session_id == session_id)
        rows = conn.execute(
            select(person.c.id, person.c.display_name).where(
                person.c.id.in_(in_community) | person.c.id.in_(came)
            )
        ).all()
    return sorted(((r.id, r.display_name) for r in rows), key=lambda c: c[1].casefold())


# Built once (bind parameters): every page of a room runs them when it joins, and the join page
# asks for the check-out every few seconds.
_SESSION_BY_CODE = (
    select(cop_session, community.c.name.label("community_name"))
    .join(community, community.c.id == cop_session.c.community_id)
    .where(cop_session.c.join_code == bindparam("code"))
)
_CHECKOUT_OPENED_AT = select(cop_session.c.checkout_opened_at).where(
    cop_session.c.id == bindparam("session")
)


def normalise_code(code: str) -> str:
    """A join code as compared: letters and digits only, upper case, at most 12."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())[:12]


def check_join_code(store: Store, code: str, now: datetime) -> Session:
    """The open session with this code, or InvalidInput saying why not. Only reads: a wrong
    code never opens a write transaction."""
    wanted = normalise_code(code)
    if not wanted:
        raise InvalidInput("join code", "Enter the join code shown by your facilitator.")
    with store.read() as conn:
        row = conn.execute(_SESSION_BY_CODE, {"code": wanted}).first()
    if row is None:
        raise InvalidInput(
            "join code",
            f"No session has the code {wanted}. Check it with "
            "your facilitator (letters and digits, no O or I).",
        )
    found = replace(session_from_row(row), community_name=row.community_name)
    if found.status == "closed" or now > found.starts_at + CODE_EXPIRES_AFTER:
        raise InvalidInput(
            "join code", f"The code {wanted} was for “{found.topic}”, which has ended."
        )
    if now < found.starts_at - CODE_OPENS_BEFORE:
        raise InvalidInput(
            "join code",
            f"“{found.topic}” starts on "
            f"{found.starts_at:%d %b %Y %H:%M} UTC; the code opens the day "
            "before.",
        )
    return found


def join(store: Store, who: Person, code: str, now: datetime) -> Session:
    """Record attendance (once per person) for the session with this code. Wrong codes are
    counted with the person's failed sign-ins: after too many, further tries wait."""
    with store.snapshot():  # the two checks read in one transaction
        check_join_tries(store, who.id)
        try:
            found = check_join_code(store, code, now)
        except InvalidInput:
            if normalise_code(code):
                record_join_code_failure(store, who.id)
            raise
    with store.write() as conn:
        add_once(
            store,
            conn,
            attendance,
            {"session_id": found.id, "person_id": who.id},
            {"joined_at": utc_now()},
            actor_id=who.id,
            action="session_joined",
            target_kind="session",
            target_id=found.id,
        )
        # the code is the community's invitation: whoever joins a session belongs to it
        policy.add_member(conn, found.community_id, who.id, "member")
        return found


def attendees(store: Store, who: Person, session_id: str) -> list[tuple[str, str]]:
    """(person id, name) of who joined, first first: for those who run the session."""
    policy.require(store, who, "session.manage", session_id)
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(person.c.id, person.c.display_name)
                .join(attendance, attendance.c.person_id == person.c.id)
                .where(attendance.c.session_id == session_id)
                .order_by(attendance.c.joined_at)
            ).all()
        ]


def sessions_to_link_now(store: Store, who: Person, now: datetime) -> list[Session]:
    """Sessions this person joined that are not closed and whose time (widened by LINK_MARGIN
    either side) includes now: the ones a discussion started now may belong to. Newest first."""
    if now.tzinfo is None:
        raise InvalidInput("now", "The current time needs a time zone.")
    with store.read() as conn:
        rows = conn.execute(
            select(cop_session)
            .join(attendance, attendance.c.session_id == cop_session.c.id)
            .where(attendance.c.person_id == who.id, cop_session.c.status != "closed")
        ).all()
    joined = [session_from_row(r) for r in rows]
    current = [s for s in joined if s.starts_at - LINK_MARGIN <= now <= s.ends_at + LINK_MARGIN]
    return sorted(current, key=lambda s: s.starts_at, reverse=True)


def members(store: Store, who: Person, community_id: str) -> list[tuple[str, str]]:
    """Everyone who belongs to the community (added, or joined one of its sessions)."""
    policy.require(store, who, "community.view", community_id)
    with store.read() as conn:
        ids = set(
            conn.execute(
                select(community_member.c.person_id).where(
                    community_member.c.community_id == community_id
                )
            ).scalars()
        )
        if not ids:
            return []
        return [
            tuple(r)
            for r in conn.execute(
                select(person.c.id, person.c.display_name)
                .where(person.c.id.in_(ids))
                .order_by(person.c.display_name)
            ).all()
        ]


def role_history(store: Store, who: Person, community_id: str) -> dict[str, Counter[str]]:
    """person id -> Counter of role ids held in this community's sessions."""
    policy.require(store, who, "community.view", community_id)
    in_community = select(cop_session.c.id).where(cop_session.c.community_id == community_id)
    with store.read() as conn:
        rows = conn.execute(
            select(session_role.c.person_id, session_role.c.role_id).where(
                session_role.c.session_id.in_(in_community)
            )
        ).all()
    history: dict[str, Counter[str]] = {}
    for pid, role in rows:
        history.setdefault(pid, Counter())[role] += 1
    return history


def suggest_roles(
    candidates: list[tuple[str, str]], history: dict[str, Counter[str]]
) -> dict[str, str]:
    """role id -> person id: for each role, whoever has held it least (then fewest roles
    overall, then name); nobody gets two roles while others have none."""
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for role_id, _ in SESSION_ROLES:
        free = [c for c in candidates if c[0] not in taken] or candidates
        if not free:
            break
        pid, _ = min(
            free,
            key=lambda c: (
                history.get(c[0], Counter())[role_id],
                sum(history.get(c[0], Counter()).values()),
                c[1].casefold(),
            ),
        )
        chosen[role_id] = pid
        taken.add(pid)
    return chosen


def set_session_roles(store: Store, who: Person, session_id: str, roles: dict[str, str]) -> None:
    """Who facilitates, presents, keeps time and takes notes: members of the community only."""
    known = {r for r, _ in SESSION_ROLES}
    if set(roles) - known:
        raise InvalidInput("role", f"Unknown roles: {sorted(set(roles) - known)}.")
    policy.require(store, who, "session.manage", session_id)
    with store.write() as conn:
        community_id = conn.execute(
            select(cop_session.c.community_id).where(cop_session.c.id == session_id)
        ).scalar()
        in_community = set(
            conn.execute(
                select(community_member.c.person_id).where(
                    community_member.c.community_id == community_id
                )
            ).scalars()
        )
        if {pid for pid in roles.values() if pid} - in_community:
            raise InvalidInput(
                "role", "Session roles go to members of the community; add the person first."
            )
        conn.execute(delete(session_role).where(session_role.c.session_id == session_id))
        for role_id, pid in roles.items():
            if pid:
                conn.execute(
                    insert(session_role).values(
                        session_id=session_id, role_id=role_id, person_id=pid
                    )
                )
        store.audit(
            conn,
            actor_id=who.id,
            action="session_roles_set",
            target_kind="session",
            target_id=session_id,
        )


def session_roles(store: Store, who: Person, session_id: str) -> dict[str, str]:
    """role id -> person id of the session's role holders."""
    policy.require(store, who, "session.view", session_id)
    with store.read() as conn:
        return dict(
            conn.execute(
                select(session_role.c.role_id, session_role.c.person_id).where(
                    session_role.c.session_id == session_id
                )
            ).all()
        )


def attendance_counts(store: Store, who: Person, community_id: str) -> dict[str, int]:
    """session id -> how many joined it (counts only, for whoever may see the community)."""
    policy.require(store, who, "community.view", community_id)
    with store.read() as conn:
        return dict(
            conn.execute(
                select(attendance.c.session_id, func.count())
                .join(cop_session, cop_session.c.id == attendance.c.session_id)
                .where(cop_session.c.community_id == community_id)
                .group_by(attendance.c.session_id)
            ).all()
        )


# -- calendar -----------------------------------------------------------------------------------
def _ics_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545: lines of at most 75 octets, continued with a leading space."""
    out: list[str] = []
    current = b""
    for ch in line:
        encoded = ch.encode("utf-8")
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def calendar_ics(the_community: Community, sessions: list[Session], join_url: str = "") -> str:
    """An iCalendar file (RFC 5545) of the community's sessions, with their join codes and
    link when given."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//CoP Workbook//Session series//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_ics_text(the_community.name)}",
    ]
    for s in sessions:
        description = s.focus_question + (f"\nJoin code: {s.join_code}" if s.join_code else "")
        if join_url:
            description += f"\n{join_url}?code={s.join_code}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{s.id}@cop-workbook",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{s.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"DTEND:{s.ends_at.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{_ics_text(f'{the_community.name}: {s.topic}')}",
            f"DESCRIPTION:{_ics_text(description)}",
            "STATUS:CANCELLED"
            if s.status == "closed" and s.starts_at > datetime.now(UTC)
            else "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
