"""Joining and leaving communities: the Communities page (the hub).

Every signed-in person sees the list of communities (name, domain, purpose, internal or
cross-agency, the date of the next session, how many members), which is how people find one;
what happens inside (session topics, members' names, join codes, the library) stays with its
members. A community is open (anyone signed in joins at once) or by request (its coordinators
approve). Joining a session with its code keeps making a person a member (sessions.join). A
member may leave, except the last coordinator, who first makes someone else coordinator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Connection, delete, func, select, update

from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.add_once import add_once
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import JOIN_POLICIES, community, community_member, cop_session, person
from cop_widgets.store.schema import membership_request as request_table

JOIN_POLICY_LABELS = {"open": "Open: anyone joins", "request": "By request: you approve"}


@dataclass(frozen=True)
class Listed:
    """One community as the hub shows it to `who`."""

    id: str
    name: str
    domain: str
    purpose: str
    join_policy: str  # open | request
    cross_agency: bool
    members: int
    next_session_at: datetime | None  # the date is shown to everyone
    next_topic: str  # "" unless `who` may see the community's sessions
    my_roles: tuple[str, ...]  # () when not a member
    requested: bool  # `who` asked to join and waits
    pending: int  # requests waiting, for those who approve them (else 0)
    approves: bool  # `who` approves requests and chooses how people join

    @property
    def member(self) -> bool:
        """Whether `who` belongs to the community (any role)."""
        return bool(self.my_roles)


@dataclass(frozen=True)
class Request:
    """A request to join a community, for its coordinators to approve or decline."""

    person_id: str
    name: str
    requested_at: str


def communities(store: Store, who: Person, now: datetime | None = None) -> list[Listed]:
    """Every community, by name, as `who` may see it (policy "community.browse"): its members'
    names, its sessions' topics and join codes are not in it for those outside."""
    policy.require(store, who, "community.browse", None)
    now = now or datetime.now(UTC)
    m = community_member.c
    with store.read() as conn:
        rows = conn.execute(
            select(
                community.c.id,
                community.c.name,
                community.c.domain,
                community.c.purpose,
                community.c.join_policy,
                community.c.cross_agency,
            ).order_by(community.c.name, community.c.id)
        ).all()
        counts: dict[str, int] = dict(
            conn.execute(
                select(m.community_id, func.count(func.distinct(m.person_id))).group_by(
                    m.community_id
                )
            ).all()
        )
        mine: dict[str, list[str]] = {}
        for cid, role in conn.execute(select(m.community_id, m.role).where(m.person_id == who.id)):
            mine.setdefault(cid, []).append(role)
        asked = set(
            conn.execute(
                select(request_table.c.community_id).where(request_table.c.person_id == who.id)
            ).scalars()
        )
        waiting: dict[str, int] = dict(
            conn.execute(
                select(request_table.c.community_id, func.count()).group_by(
                    request_table.c.community_id
                )
            ).all()
        )
        # the next session of each community that has not ended (ends are checked below)
        upcoming = conn.execute(
            select(
                cop_session.c.community_id,
                cop_session.c.starts_at,
                cop_session.c.duration_minutes,
                cop_session.c.topic,
            )
            .where(cop_session.c.status != "closed")
            .order_by(cop_session.c.starts_at)
        ).all()
        sees = {r.id: policy.may_view_community(conn, who, r.id) for r in rows}
        approves = {r.id: policy.may_approve_members(conn, who, r.id) for r in rows}
    nxt: dict[str, tuple[datetime, str]] = {}
    for cid, starts, minutes, topic in upcoming:
        start = datetime.fromisoformat(starts)
        if cid not in nxt and start.timestamp() + minutes * 60 >= now.timestamp():
            nxt[cid] = (start, topic)
    order = {r: i for i, r in enumerate(("member", "facilitator", "coordinator"))}
    return [
        Listed(
            id=r.id,
            name=r.name,
            domain=r.domain,
            purpose=r.purpose,
            join_policy=r.join_policy,
            cross_agency=bool(r.cross_agency),
            members=counts.get(r.id, 0),
            next_session_at=nxt[r.id][0] if r.id in nxt else None,
            next_topic=nxt[r.id][1] if r.id in nxt and sees[r.id] else "",
            my_roles=tuple(sorted(mine.get(r.id, ()), key=lambda x: order.get(x, 9))),
            requested=r.id in asked,
            pending=waiting.get(r.id, 0) if approves[r.id] else 0,
            approves=approves[r.id],
        )
        for r in rows
    ]


def community_name(conn: Connection, community_id: str) -> str:
    """The community's name, read in the caller's transaction; RecordNotFound if there is none."""
    found: str | None = conn.execute(
        select(community.c.name).where(community.c.id == community_id)
    ).scalar()
    if found is None:
        raise RecordNotFound("community", community_id)
    return found


def join(store: Store, who: Person, community_id: str) -> None:
    """Join an open community (policy "community.join"); joining again changes nothing."""
    policy.require(store, who, "community.join", community_id)
    with store.write() as conn:
        community_name(conn, community_id)
        if not policy.community_roles(conn, who.id, community_id):
            policy.add_member(conn, community_id, who.id, "member")
            store.audit(
                conn,
                actor_id=who.id,
                action="community_joined",
                target_kind="community",
                target_id=community_id,
            )
        conn.execute(delete(request_table).where(_request_key(community_id, who.id)))


def _request_key(community_id: str, person_id: str) -> ColumnElement[bool]:
    return (request_table.c.community_id == community_id) & (request_table.c.person_id == person_id)


def request_to_join(store: Store, who: Person, community_id: str) -> None:
    """Ask to join a community that is by request (policy "community.request"); its
    coordinators see the request. Asking again keeps the first request."""
    policy.require(store, who, "community.request", community_id)
    with store.write() as conn:
        community_name(conn, community_id)
        add_once(
            store,
            conn,
            request_table,
            {"community_id": community_id, "person_id": who.id},
            {"requested_at": utc_now()},
            actor_id=who.id,
            action="community_join_requested",
            target_kind="community",
            target_id=community_id,
        )


def withdraw_request(store: Store, who: Person, community_id: str) -> None:
    """Take back one's own request to join (only `who`'s own request is touched)."""
    with store.write() as conn:
        gone = conn.execute(delete(request_table).where(_request_key(community_id, who.id)))
        if gone.rowcount:
            store.audit(
                conn,
                actor_id=who.id,
                action="community_join_request_withdrawn",
                target_kind="community",
                target_id=community_id,
            )


def pending_requests(store: Store, who: Person, community_id: str) -> list[Request]:
    """Who asked to join, first first (policy "community.approve")."""
    policy.require(store, who, "community.approve", community_id)
    with store.read() as conn:
        rows = conn.execute(
            select(request_table.c.person_id, person.c.display_name, request_table.c.requested_at)
            .join(person, person.c.id == request_table.c.person_id)
            .where(request_table.c.community_id == community_id)
            .order_by(request_table.c.requested_at, person.c.display_name)
        ).all()
    return [Request(*r) for r in rows]


def decide(store: Store, who: Person, community_id: str, person_id: str, approve: bool) -> bool:
    """Approve (the person becomes a member) or decline a request to join (policy
    "community.approve"). Returns False when there was no such request (already decided, or
    withdrawn), and changes nothing then."""
    policy.require(store, who, "community.approve", community_id)
    with store.write() as conn:
        key = _request_key(community_id, person_id)
        if conn.execute(delete(request_table).where(key)).rowcount == 0:
            return False
        if approve:
            policy.add_member(conn, community_id, person_id, "member")
        store.audit(
            conn,
            actor_id=who.id,
            action="community_join_approved" if approve else "community_join_declined",
            target_kind="person",
            target_id=person_id,
        )
    return True


def leave(store: Store, who: Person, community_id: str) -> None:
    """Leave a community: every role in it goes (policy "community.leave"). Its last
    coordinator is refused, with what to do first, so a community is never left without one
    (a global coordinator does not count: they are not part of the community)."""
    policy.require(store, who, "community.leave", community_id)
    m = community_member.c
    with store.write() as conn:
        name = community_name(conn, community_id)
        coordinators = set(
            conn.execute(
                select(m.person_id).where(m.community_id == community_id, m.role == "coordinator")
            ).scalars()
        )
        if coordinators == {who.id}:
            raise InvalidInput(
                "leave",
                f"You are the only coordinator of “{name}”, so you cannot leave it yet: make "
                "another member its coordinator first (in the community app), then leave.",
            )
        conn.execute(
            delete(community_member).where(m.community_id == community_id, m.person_id == who.id)
        )
        store.audit(
            conn,
            actor_id=who.id,
            action="community_left",
            target_kind="community",
            target_id=community_id,
        )


def set_join_policy(
    store: Store, who: Person, community_id: str, join_policy: str, cross_agency: bool
) -> None:
    """Choose how people join (open or by request) and whether the community is cross-agency
    (policy "community.approve"). Opening a community lets in everyone who was waiting."""
    if join_policy not in JOIN_POLICIES:
        raise InvalidInput("join policy", "Choose open or by request.")
    policy.require(store, who, "community.approve", community_id)
    with store.write() as conn:
        community_name(conn, community_id)
        conn.execute(
            update(community)
            .where(community.c.id == community_id)
            .values(join_policy=join_policy, cross_agency=bool(cross_agency))
        )
        if join_policy == "open":
            waiting = conn.execute(
                select(request_table.c.person_id).where(
                    request_table.c.community_id == community_id
                )
            ).scalars()
            for pid in list(waiting):
                policy.add_member(conn, community_id, pid, "member")
            conn.execute(delete(request_table).where(request_table.c.community_id == community_id))
        store.audit(
            conn,
            actor_id=who.id,
            action="community_join_policy_set",
            target_kind="community",
            target_id=community_id,
        )
