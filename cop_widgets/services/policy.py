"""The rule book: who may do what to which record. Services ask it before every read and change
of a person's material; apps never decide access themselves.

Scopes. A person holds global roles (person_role: coordinator, facilitator, supervisor, and
practitioner for everyone) and per-community roles (community_member: member, facilitator,
coordinator). A global coordinator coordinates every community. A community's facilitators and
coordinators run it: plan and close its sessions, see their join codes, assign session roles,
open the live board, and add members. Joining one of its sessions with the code makes a person
a member. The facilitator named for a session runs that session too.

Case discussions. Their case summary, notes and actions are read by the person who started the
discussion, by its role holders, and, when the discussion was held in a CoP session, by that
session's attendees and the community's coordinators; the starter or a session facilitator can
end the attendees' access after the session (`end_attendee_access`). Changing the clock and
roles, and keeping notes, stay with the discussion's own role rules (discussions.py).

Reflections. The visibility ladder (reflections_readable_by): private — the author only;
supervisor — and the author's named supervisors, once submitted; facilitator — and the
facilitator of the session the reflection is linked to, once submitted; community — and the
members of the community it is shared with (when it names none: of the author's communities),
once submitted; aggregate_only — the author only, counted in summaries.

Joining. Every community is listed to everyone signed in (name, domain, purpose, size, next
date). An open one is joined by anyone signed in; one by request is asked to join, and its
coordinators approve. A member may leave (the service refuses the last coordinator).

The practice library. A community's entries are read by its members (and global
coordinators); its members contribute, comment and endorse (not their own entries); the author
revises or withdraws; its facilitators and coordinators mark its endorsed practice. After a
session, its facilitator or note-taker (and a discussion's facilitator or note-taker, for that
discussion's practice insights) turns an insight or a shared resource into a draft entry: a
draft is read by its author alone, and never listed, searched or counted, until its author
publishes it. Its members (and global coordinators) make the community's practice handbook,
which holds only published entries they read in the library already.

Questions between sessions. A community's questions are read by its members (and global
coordinators); its members ask and answer; the asker marks the answers that helped, and withdraws
the question; the asker and the community's facilitators and coordinators, while members, save a
thread to the library as a draft of their own.

Value-creation stories. A story saved as an intention comes back to its author alone: only
they plan its return, see it when it is due and complete it (services/value_stories.py); for
anyone else its id is "not found" (require_own), as for every record of a person's own.

Every refusal raises NotAllowed and is audited (actor, action, target; never text).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    exists,
    insert,
    or_,
    select,
)

from cop_widgets.content.roles import LEADING_ROLES
from cop_widgets.errors import NotAllowed, RecordNotFound
from cop_widgets.services.add_once import insert_if_new
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import (
    LIBRARY_STATUSES,
    attendance,
    community,
    community_member,
    cop_session,
    discussion,
    discussion_role,
    library_entry,
    person_role,
    question,
    reflection,
    session_role,
    supervision,
)

MANAGING = ("facilitator", "coordinator")
# the reflective model whose stories come back to their authors (data/frameworks/value_story.yaml)
VALUE_STORY = "value-creation-story"
DRAFT, PUBLISHED = LIBRARY_STATUSES  # a library entry's status


# -- facts about a person -------------------------------------------------------------------
# Built once, with bind parameters: SQLAlchemy then reuses each one's cache key and compiled
# form. Every page's checks read these, and building a statement anew for each call cost more
# than running it (a room's joins: ~0.1 ms a statement).
_GLOBAL_ROLES = select(person_role.c.role).where(person_role.c.person_id == bindparam("person"))
_COMMUNITY_ROLES = select(community_member.c.role).where(
    community_member.c.person_id == bindparam("person"),
    community_member.c.community_id == bindparam("community"),
)
_SESSION_COMMUNITY = select(cop_session.c.community_id).where(
    cop_session.c.id == bindparam("session")
)
_FACILITATES_SESSION = select(session_role.c.person_id).where(
    session_role.c.session_id == bindparam("session"),
    session_role.c.role_id == "facilitator",
    session_role.c.person_id == bindparam("person"),
)
_ADD_MEMBER = insert(community_member)
# Rule session.view in one statement: every joined session page asks it every few seconds
# (sessions.checkout_open), 30 or 40 pages at once in a room. It took three (the session's
# community, then the person's global and community roles, then attendance).
_PERSON: BindParameter[str] = bindparam("person")
_VIEWS_SESSION = select(cop_session.c.id).where(
    cop_session.c.id == bindparam("session"),
    or_(
        exists().where(person_role.c.person_id == _PERSON, person_role.c.role == "coordinator"),
        exists().where(
            community_member.c.community_id == cop_session.c.community_id,
            community_member.c.person_id == _PERSON,
        ),
        exists().where(
            attendance.c.session_id == cop_session.c.id, attendance.c.person_id == _PERSON
        ),
        exists().where(
            session_role.c.session_id == cop_session.c.id,
            session_role.c.role_id == "facilitator",
            session_role.c.person_id == _PERSON,
        ),
    ),
)


def global_roles(conn: Connection, person_id: str) -> set[str]:
    """The person's global roles (coordinator, facilitator, supervisor), and practitioner."""
    held = set(conn.execute(_GLOBAL_ROLES, {"person": person_id}).scalars())
    return held | {"practitioner"}


def community_roles(conn: Connection, person_id: str, community_id: str) -> set[str]:
    """The person's roles in that community (member, facilitator, coordinator), if any."""
    return set(
        conn.execute(_COMMUNITY_ROLES, {"person": person_id, "community": community_id}).scalars()
    )


def _session_community(conn: Connection, session_id: str) -> str | None:
    return conn.execute(_SESSION_COMMUNITY, {"session": session_id}).scalar()


def _facilitates_session(conn: Connection, person_id: str, session_id: str) -> bool:
    found = conn.execute(_FACILITATES_SESSION, {"session": session_id, "person": person_id})
    return found.first() is not None


# -- the rules: (conn, who, target id) -> bool ------------------------------------------------
def may_create_community(conn: Connection, who: Person, _target: str | None = None) -> bool:
    """Rule community.create: anyone signed in."""
    # Leadership is shared: anyone may start a community of practice, and runs only that one.
    return True


def may_view_community(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule community.view: its members, facilitators and coordinators; global coordinators."""
    return "coordinator" in global_roles(conn, who.id) or (
        community_id is not None and bool(community_roles(conn, who.id, community_id))
    )


def may_manage_community(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule community.manage: its facilitators and coordinators; global coordinators."""
    return "coordinator" in global_roles(conn, who.id) or (
        community_id is not None
        and bool(community_roles(conn, who.id, community_id) & set(MANAGING))
    )


def may_manage_session(conn: Connection, who: Person, session_id: str | None) -> bool:
    """Rule session.manage: plan, close, assign roles, see the join code, open the live board."""
    if session_id is None:
        return False
    community_id = _session_community(conn, session_id)
    if community_id is None:
        return False
    return may_manage_community(conn, who, community_id) or _facilitates_session(
        conn, who.id, session_id
    )


def may_view_session(conn: Connection, who: Person, session_id: str | None) -> bool:
    """Rule session.view: its time, topic and role holders; whoever may see its community, or
    attended it; and its facilitator (one statement: _VIEWS_SESSION)."""
    if session_id is None:
        return False
    found = conn.execute(_VIEWS_SESSION, {"session": session_id, "person": who.id})
    return found.first() is not None


def may_read_discussion(conn: Connection, who: Person, discussion_id: str | None) -> bool:
    """Rule discussion.read: whom discussions_readable_by lets read it."""
    return (
        conn.execute(
            select(discussion.c.id).where(
                discussion.c.id == discussion_id, discussions_readable_by(who)
            )
        ).first()
        is not None
    )


def may_end_attendee_access(conn: Connection, who: Person, discussion_id: str | None) -> bool:
    """Rule discussion.end_access: its starter; whoever runs its session."""
    row = conn.execute(
        select(discussion.c.facilitator_id, discussion.c.session_id).where(
            discussion.c.id == discussion_id
        )
    ).first()
    if row is None:
        return False
    if row.facilitator_id == who.id:
        return True
    return row.session_id is not None and may_manage_session(conn, who, row.session_id)


def may_read_reflection(conn: Connection, who: Person, reflection_id: str | None) -> bool:
    """Rule reflection.read: whom reflections_readable_by lets read it."""
    query = select(reflection.c.id).where(
        reflection.c.id == reflection_id, reflections_readable_by(who)
    )
    return conn.execute(query).first() is not None


def may_review_reflection(conn: Connection, who: Person, reflection_id: str | None) -> bool:
    """Rule reflection.review: the author's supervisors, for what shared_for_review holds."""
    query = select(reflection.c.id).where(reflection.c.id == reflection_id, shared_for_review(who))
    return conn.execute(query).first() is not None


def may_use_review(conn: Connection, who: Person, _target: str | None = None) -> bool:
    """Rule review.open: supervisors."""
    return "supervisor" in global_roles(conn, who.id)


def may_manage_people(conn: Connection, who: Person, _target: str | None = None) -> bool:
    """Rule people.manage: global coordinators."""
    return "coordinator" in global_roles(conn, who.id)


def may_export_person(conn: Connection, who: Person, person_id: str | None) -> bool:
    """Rule person.export: that person only."""
    # From the app, a person takes away their own data only; an operator exports anyone's
    # with `cop data export` where the store is, not through a page.
    return person_id is not None and person_id == who.id


def _coordinates(conn: Connection, who: Person, community_id: str | None) -> bool:
    """A coordinator of that (existing) community, or a global coordinator."""
    if (
        community_id is None
        or not conn.execute(select(community.c.id).where(community.c.id == community_id)).first()
    ):
        return False
    return "coordinator" in global_roles(conn, who.id) or "coordinator" in community_roles(
        conn, who.id, community_id
    )


def may_report_session(conn: Connection, who: Person, session_id: str | None) -> bool:
    """Rule report.session: whoever runs the session (the run sheet ends with it)."""
    return may_manage_session(conn, who, session_id)


def may_report_community(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule report.community: its coordinators; global coordinators."""
    return _coordinates(conn, who, community_id)


def may_report_person(conn: Connection, who: Person, person_id: str | None) -> bool:
    """Rule report.person: that person only."""
    # A CPD record holds a person's own writing and feedback: theirs alone to print.
    return person_id == who.id


def may_report_library(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule report.library: the members of that (existing) community; global coordinators."""
    # The handbook holds only what each of them reads in the library already: its published
    # entries (never a draft), as the library shows them.
    if (
        community_id is None
        or not conn.execute(select(community.c.id).where(community.c.id == community_id)).first()
    ):
        return False
    return may_view_community(conn, who, community_id)


# -- joining and leaving a community (the Communities page) ---------------------------------
def _join_policy(conn: Connection, community_id: str | None) -> str | None:
    return conn.execute(
        select(community.c.join_policy).where(community.c.id == community_id)
    ).scalar()


def may_browse_communities(conn: Connection, who: Person, _target: str | None = None) -> bool:
    """Rule community.browse: anyone signed in."""
    # How people find a community: its name, domain, purpose, next date and size (never its
    # members' names, sessions' topics or join codes) are listed to everyone signed in.
    return True


def may_join_community(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule community.join: anyone signed in, when the community is open."""
    return _join_policy(conn, community_id) == "open"


def may_request_to_join(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule community.request: anyone not a member yet, when the community is by request."""
    return (
        community_id is not None
        and _join_policy(conn, community_id) == "request"
        and not community_roles(conn, who.id, community_id)
    )


def may_approve_members(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule community.approve: approve or decline requests to join, and choose how people
    join; its coordinators and global coordinators."""
    return _coordinates(conn, who, community_id)


def may_leave_community(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule community.leave: its members themselves."""
    # (leaving as its last coordinator is refused by the service, with what to do instead)
    return community_id is not None and bool(community_roles(conn, who.id, community_id))


# -- the practice library -------------------------------------------------------------------
def _entry(conn: Connection, entry_id: str | None) -> Row[Any, Any, Any] | None:
    """The entry's community_id, author_id and status (None: no such entry)."""
    return conn.execute(
        select(
            library_entry.c.community_id, library_entry.c.author_id, library_entry.c.status
        ).where(library_entry.c.id == entry_id)
    ).first()


def _published(conn: Connection, entry_id: str | None) -> Row[Any, Any, Any] | None:
    """The entry (as _entry) when it is published; a draft is nobody's but its author's."""
    row = _entry(conn, entry_id)
    return row if row is not None and row.status == PUBLISHED else None


def may_contribute_to_library(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule library.contribute: the community's members."""
    return community_id is not None and bool(community_roles(conn, who.id, community_id))


def may_read_library_entry(conn: Connection, who: Person, entry_id: str | None) -> bool:
    """Rule library.read: the members of its community; global coordinators. A draft: its
    author only."""
    row = _entry(conn, entry_id)
    if row is None:
        return False
    if row.status != PUBLISHED:
        return bool(row.author_id == who.id)
    return may_view_community(conn, who, row.community_id)


def may_revise_library_entry(conn: Connection, who: Person, entry_id: str | None) -> bool:
    """Rule library.revise: its author."""
    row = _entry(conn, entry_id)
    return row is not None and row.author_id == who.id


def may_endorse_library_entry(conn: Connection, who: Person, entry_id: str | None) -> bool:
    """Rule library.endorse: the members of its community other than its author."""
    # "This helped my practice" comes from other members: an author's own vote would only
    # move their entry up the "most endorsed" list.
    row = _published(conn, entry_id)
    return (
        row is not None
        and row.author_id != who.id
        and bool(community_roles(conn, who.id, row.community_id))
    )


def may_comment_on_library_entry(conn: Connection, who: Person, entry_id: str | None) -> bool:
    """Rule library.comment: the members of its community."""
    row = _published(conn, entry_id)
    return row is not None and bool(community_roles(conn, who.id, row.community_id))


def may_mark_library_entry(conn: Connection, who: Person, entry_id: str | None) -> bool:
    """Rule library.mark: its community's facilitators and coordinators; global coordinators."""
    row = _published(conn, entry_id)
    return row is not None and may_manage_community(conn, who, row.community_id)


def may_publish_library_draft(conn: Connection, who: Person, entry_id: str | None) -> bool:
    """Rule library.publish: the draft's author, while a member of its community."""
    row = _entry(conn, entry_id)
    return (
        row is not None
        and row.status == DRAFT
        and row.author_id == who.id
        and bool(community_roles(conn, who.id, row.community_id))
    )


def _holds_session_role(
    conn: Connection, person_id: str, session_id: str, roles: Iterable[str]
) -> bool:
    return (
        conn.execute(
            select(session_role.c.person_id).where(
                session_role.c.session_id == session_id,
                session_role.c.person_id == person_id,
                session_role.c.role_id.in_(roles),
            )
        ).first()
        is not None
    )


def may_draft_from_session(conn: Connection, who: Person, session_id: str | None) -> bool:
    """Rule library.draft_from_session: the session's facilitator or note-taker, while a
    member of its community (the draft is an entry of that community's library)."""
    if session_id is None:
        return False
    community_id = _session_community(conn, session_id)
    return (
        community_id is not None
        and _holds_session_role(conn, who.id, session_id, LEADING_ROLES)
        and bool(community_roles(conn, who.id, community_id))
    )


def may_draft_from_discussion(conn: Connection, who: Person, discussion_id: str | None) -> bool:
    """Rule library.draft_from_discussion: for a discussion held in a session, its facilitator
    or note-taker, and whoever may draft from that session; each a member of its community."""
    row = conn.execute(
        select(discussion.c.facilitator_id, discussion.c.session_id).where(
            discussion.c.id == discussion_id
        )
    ).first()
    if row is None or row.session_id is None:
        return False
    if may_draft_from_session(conn, who, row.session_id):
        return True
    community_id = _session_community(conn, row.session_id)
    # discussion roles are held by name (discussion_role.holder_key), as discussions.py does
    leads = row.facilitator_id == who.id or (
        conn.execute(
            select(discussion_role.c.role_id).where(
                discussion_role.c.discussion_id == discussion_id,
                discussion_role.c.holder_key == who.display_name.casefold(),
                discussion_role.c.role_id.in_(LEADING_ROLES),
            )
        ).first()
        is not None
    )
    return leads and community_id is not None and bool(community_roles(conn, who.id, community_id))


# -- questions between sessions ----------------------------------------------------------------
def _question(conn: Connection, question_id: str | None) -> Row[Any, Any] | None:
    """The question's community_id and asker_id (None: no such question)."""
    return conn.execute(
        select(question.c.community_id, question.c.asker_id).where(question.c.id == question_id)
    ).first()


def may_ask_question(conn: Connection, who: Person, community_id: str | None) -> bool:
    """Rule question.ask: the community's members."""
    return community_id is not None and bool(community_roles(conn, who.id, community_id))


def may_read_question(conn: Connection, who: Person, question_id: str | None) -> bool:
    """Rule question.read: the members of its community; global coordinators."""
    row = _question(conn, question_id)
    return row is not None and may_view_community(conn, who, row.community_id)


def may_answer_question(conn: Connection, who: Person, question_id: str | None) -> bool:
    """Rule question.answer: the members of its community (its asker too, to add to it)."""
    row = _question(conn, question_id)
    return row is not None and bool(community_roles(conn, who.id, row.community_id))


def may_mark_helped(conn: Connection, who: Person, question_id: str | None) -> bool:
    """Rule question.mark_helped: its asker."""
    row = _question(conn, question_id)
    return row is not None and row.asker_id == who.id


def may_withdraw_question(conn: Connection, who: Person, question_id: str | None) -> bool:
    """Rule question.withdraw: its asker."""
    return may_mark_helped(conn, who, question_id)


def may_save_question_to_library(conn: Connection, who: Person, question_id: str | None) -> bool:
    """Rule question.save_to_library: its asker and its community's facilitators and
    coordinators, while members of it (the draft is an entry of that community's library)."""
    row = _question(conn, question_id)
    if row is None:
        return False
    roles = community_roles(conn, who.id, row.community_id)
    return bool(roles) and (row.asker_id == who.id or bool(roles & set(MANAGING)))


# -- value-creation stories that come back --------------------------------------------------
def may_return_to_value_story(conn: Connection, who: Person, reflection_id: str | None) -> bool:
    """Rule value_story.return: the story's author (a reflection of the value-creation model)."""
    query = select(reflection.c.id).where(reflection.c.id == reflection_id, value_stories_of(who))
    return conn.execute(query).first() is not None


# -- the same rules as SQL, for lists ----------------------------------------------------------
def _member_of(community_col: ColumnElement[str], person_id: str) -> ColumnElement[bool]:
    return exists().where(
        community_member.c.community_id == community_col,
        community_member.c.person_id == person_id,
    )


def supervises(supervisor_id: str) -> ColumnElement[bool]:
    """SQL: the reflection's author is a supervisee of supervisor_id."""
    return exists().where(
        supervision.c.supervisor_id == supervisor_id,
        supervision.c.supervisee_id == reflection.c.person_id,
    )


def reflections_readable_by(viewer: Person) -> ColumnElement[bool]:
    """A WHERE clause on `reflection` selecting exactly what viewer may read."""
    submitted = reflection.c.status == "submitted"
    facilitates = exists().where(
        session_role.c.session_id == reflection.c.session_id,
        session_role.c.role_id == "facilitator",
        session_role.c.person_id == viewer.id,
    )
    return or_(
        reflection.c.person_id == viewer.id,
        and_(submitted, reflection.c.visibility == "supervisor", supervises(viewer.id)),
        and_(submitted, reflection.c.visibility == "facilitator", facilitates),
        and_(submitted, reflection.c.visibility == "community", _shares_community(viewer.id)),
    )


def _shares_community(viewer_id: str) -> ColumnElement[bool]:
    """SQL: the viewer belongs to the community the reflection is shared with or, where it
    names none (written before communities had members), to one of its author's."""
    author = community_member.alias("author_membership")
    shared_with_author = exists().where(
        author.c.person_id == reflection.c.person_id,
        community_member.c.community_id == author.c.community_id,
        community_member.c.person_id == viewer_id,
    )
    return or_(
        and_(
            reflection.c.community_id.is_not(None), _member_of(reflection.c.community_id, viewer_id)
        ),
        and_(reflection.c.community_id.is_(None), shared_with_author),
    )


def shared_for_review(supervisor: Person) -> ColumnElement[bool]:
    """What a supervisor's review queue holds: supervisees' submitted, shared reflections."""
    return and_(
        reflection.c.status == "submitted",
        reflection.c.visibility.in_(("supervisor", "community")),
        reflection.c.person_id != supervisor.id,
        supervises(supervisor.id),
    )


def discussions_readable_by(viewer: Person) -> ColumnElement[bool]:
    """A WHERE clause on `discussion`: the starter, its role holders (matched by name, as
    roles are named in the discussion), attendees of its session until their access ends,
    and the coordinators of that session's community."""
    return _discussions_readable(viewer.id, viewer.display_name.casefold())


def _discussions_readable(
    viewer_id: str | BindParameter[str], key: str | BindParameter[str]
) -> ColumnElement[bool]:
    holds_role = exists().where(
        discussion_role.c.discussion_id == discussion.c.id, discussion_role.c.holder_key == key
    )
    attended = exists().where(
        attendance.c.session_id == discussion.c.session_id, attendance.c.person_id == viewer_id
    )
    coordinates = exists().where(
        cop_session.c.id == discussion.c.session_id,
        community_member.c.community_id == cop_session.c.community_id,
        community_member.c.person_id == viewer_id,
        community_member.c.role == "coordinator",
    )
    return or_(
        discussion.c.facilitator_id == viewer_id,
        holds_role,
        and_(attended, discussion.c.attendee_access_ended_at.is_(None)),
        coordinates,
    )


def communities_visible_to(conn: Connection, viewer: Person) -> ColumnElement[bool] | None:
    """A WHERE clause on `community` (None: every community, for a global coordinator)."""
    from cop_widgets.store.schema import community

    if "coordinator" in global_roles(conn, viewer.id):
        return None
    return _member_of(community.c.id, viewer.id)


def library_readable_by(conn: Connection, viewer: Person) -> ColumnElement[bool] | None:
    """A WHERE clause on `library_entry` (rule "library.read") for lists, searches and counts:
    the published entries of the viewer's communities (of every community, for a global
    coordinator). Drafts are never among them, not even the viewer's own (library_drafts_of)."""
    published = library_entry.c.status == PUBLISHED
    if "coordinator" in global_roles(conn, viewer.id):
        return published
    return and_(published, _member_of(library_entry.c.community_id, viewer.id))


def questions_readable_by(conn: Connection, viewer: Person) -> ColumnElement[bool] | None:
    """A WHERE clause on `question` (rule "question.read") for lists and counts: the questions
    of the viewer's communities (None: every community's, for a global coordinator)."""
    if "coordinator" in global_roles(conn, viewer.id):
        return None
    return _member_of(question.c.community_id, viewer.id)


def library_drafts_of(author: Person) -> ColumnElement[bool]:
    """A WHERE clause on `library_entry`: the author's own drafts, which only they read."""
    return and_(library_entry.c.status == DRAFT, library_entry.c.author_id == author.id)


def value_stories_of(author: Person) -> ColumnElement[bool]:
    """A WHERE clause on `reflection` (rule "value_story.return"): the author's own
    value-creation stories, whose returns only they plan, see and complete."""
    return _value_stories_of(author.id)


def _value_stories_of(author_id: str | BindParameter[str]) -> ColumnElement[bool]:
    return and_(reflection.c.person_id == author_id, reflection.c.framework_id == VALUE_STORY)


# The same clauses over bind parameters, for statements built once that the pages asked most
# often run (a room's join page): execute them with viewer_params(who).
_VIEWER: BindParameter[str] = bindparam("viewer")
_VIEWER_KEY: BindParameter[str] = bindparam("viewer_key")
DISCUSSIONS_READABLE_BY_VIEWER = _discussions_readable(_VIEWER, _VIEWER_KEY)
VALUE_STORIES_OF_VIEWER = _value_stories_of(_VIEWER)


def viewer_params(who: Person) -> dict[str, str]:
    """The bind parameters of the clauses above for this person."""
    return {"viewer": who.id, "viewer_key": who.display_name.casefold()}


# -- small groups ------------------------------------------------------------------------------
# A summary of fewer than the minimum group (COP_MIN_GROUP on screens, --min-n in reports) could
# unmask someone; a figure that moves in steps smaller than it unmasks by difference.
def large_enough(people: int, min_group: int) -> bool:
    """Whether a summary built from `people` answers (or people) may be shown."""
    return people >= min_group


def figure_or_none(value: int, base: int, min_group: int) -> int | None:
    """A count to show, or None when the group it comes from has 1 to min_group - 1 people
    (an empty group shows 0: nothing to unmask)."""
    return int(value) if base == 0 or large_enough(base, min_group) else None


def may_move_on(shown_at: int | None, answers_now: int, min_group: int) -> bool:
    """Secondary suppression: a shown summary is replaced only by one of at least the minimum
    group more answers, so the difference between two summaries is itself a large group."""
    if not large_enough(answers_now, min_group):
        return False
    return shown_at is None or large_enough(answers_now - shown_at, min_group)


# -- the table of actions: the matrix test and the README are made from it --------------------
@dataclass(frozen=True)
class Rule:
    """One action of the rule book: its id, its plain words, and the check that decides it."""

    id: str  # what services pass to require() and the audit log records
    action: str  # plain words: "You may not <action>."
    target_kind: str
    check: Callable[[Connection, Person, str | None], bool]
    who: str  # plain words for the README's "who can see what"


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "community.create",
            "create a community",
            "community",
            may_create_community,
            "anyone signed in (who then coordinates that community only)",
        ),
        Rule(
            "community.view",
            "see a community and its sessions",
            "community",
            may_view_community,
            "its members, facilitators and coordinators; global coordinators",
        ),
        Rule(
            "community.manage",
            "run a community (plan, add members)",
            "community",
            may_manage_community,
            "its facilitators and coordinators; global coordinators",
        ),
        Rule(
            "session.view",
            "see a session and who holds its roles",
            "session",
            may_view_session,
            "whoever may see its community; its attendees",
        ),
        Rule(
            "session.manage",
            "run a session (join code, roles, board, close)",
            "session",
            may_manage_session,
            "its community's facilitators and coordinators, the session's facilitator; "
            "global coordinators",
        ),
        Rule(
            "discussion.read",
            "read a case discussion",
            "discussion",
            may_read_discussion,
            "its starter and role holders; its session's attendees (until the facilitator "
            "ends their access) and community coordinators",
        ),
        Rule(
            "discussion.end_access",
            "end attendees' access to a case discussion",
            "discussion",
            may_end_attendee_access,
            "its starter; whoever runs its session",
        ),
        Rule(
            "reflection.read",
            "read a reflection",
            "reflection",
            may_read_reflection,
            "its author; once submitted, by visibility: named supervisors (supervisor), "
            "the linked session's facilitator (facilitator), the community's members "
            "(community); nobody else (private, aggregate only)",
        ),
        Rule(
            "reflection.review",
            "review a reflection and give feedback",
            "reflection",
            may_review_reflection,
            "the author's named supervisors, for submitted reflections shared as supervisor "
            "or community",
        ),
        Rule("review.open", "open the review queue", "review", may_use_review, "supervisors"),
        Rule(
            "people.manage",
            "add people and issue sign-in links",
            "person",
            may_manage_people,
            "global coordinators",
        ),
        Rule(
            "person.export",
            "download a person's data",
            "person",
            may_export_person,
            "that person only (operators use `cop data export`)",
        ),
        Rule(
            "report.session",
            "make the report of a session",
            "session",
            may_report_session,
            "whoever runs the session: its facilitator, its community's facilitators and "
            "coordinators; global coordinators",
        ),
        Rule(
            "report.community",
            "make a community's report",
            "community",
            may_report_community,
            "its coordinators; global coordinators",
        ),
        Rule(
            "report.person",
            "make a person's CPD record",
            "person",
            may_report_person,
            "that person only",
        ),
        Rule(
            "report.library",
            "make a community's practice handbook",
            "community",
            may_report_library,
            "the members of its community; global coordinators",
        ),
        Rule(
            "community.browse",
            "see the list of communities",
            "community",
            may_browse_communities,
            "anyone signed in (name, domain, purpose, next date and size; not its members, "
            "topics or join codes)",
        ),
        Rule(
            "community.join",
            "join this community",
            "community",
            may_join_community,
            "anyone signed in, when the community is open (or with a session's join code)",
        ),
        Rule(
            "community.request",
            "ask to join this community",
            "community",
            may_request_to_join,
            "anyone signed in who is not a member, when the community is by request",
        ),
        Rule(
            "community.approve",
            "approve requests to join a community or change how people join it",
            "community",
            may_approve_members,
            "its coordinators; global coordinators",
        ),
        Rule(
            "community.leave",
            "leave a community",
            "community",
            may_leave_community,
            "its members themselves (not its last coordinator)",
        ),
        Rule(
            "library.contribute",
            "add to a community's practice library",
            "community",
            may_contribute_to_library,
            "its members",
        ),
        Rule(
            "library.read",
            "read a practice library entry",
            "library_entry",
            may_read_library_entry,
            "the members of its community; global coordinators (a draft: its author only)",
        ),
        Rule(
            "library.revise",
            "revise or withdraw a practice library entry",
            "library_entry",
            may_revise_library_entry,
            "its author",
        ),
        Rule(
            "library.endorse",
            "endorse a practice library entry",
            "library_entry",
            may_endorse_library_entry,
            "the members of its community other than its author",
        ),
        Rule(
            "library.comment",
            "comment on a practice library entry",
            "library_entry",
            may_comment_on_library_entry,
            "the members of its community",
        ),
        Rule(
            "library.mark",
            "mark an entry as the community's endorsed practice",
            "library_entry",
            may_mark_library_entry,
            "its community's facilitators and coordinators; global coordinators",
        ),
        Rule(
            "library.draft_from_session",
            "make library drafts from this session's practice insights and shared resources",
            "session",
            may_draft_from_session,
            "the session's facilitator and note-taker (members of its community)",
        ),
        Rule(
            "library.draft_from_discussion",
            "make library drafts from this case discussion's practice insights",
            "discussion",
            may_draft_from_discussion,
            "for a discussion held in a session: its facilitator and note-taker, and the "
            "session's (members of its community)",
        ),
        Rule(
            "library.publish",
            "publish this library draft",
            "library_entry",
            may_publish_library_draft,
            "the draft's author, while a member of its community",
        ),
        Rule(
            "value_story.return",
            "plan, see or complete the return to this value-creation story",
            "reflection",
            may_return_to_value_story,
            "the story's author",
        ),
        Rule(
            "question.ask",
            "ask this community a question",
            "community",
            may_ask_question,
            "its members",
        ),
        Rule(
            "question.read",
            "read this question and its answers",
            "question",
            may_read_question,
            "the members of its community; global coordinators",
        ),
        Rule(
            "question.answer",
            "answer this question",
            "question",
            may_answer_question,
            "the members of its community",
        ),
        Rule(
            "question.mark_helped",
            "mark which answers to this question helped",
            "question",
            may_mark_helped,
            "its asker",
        ),
        Rule(
            "question.withdraw",
            "withdraw this question",
            "question",
            may_withdraw_question,
            "its asker",
        ),
        Rule(
            "question.save_to_library",
            "save this question and its answers to the library as a draft",
            "question",
            may_save_question_to_library,
            "its asker and its community's facilitators and coordinators, while members",
        ),
    )
}


def allowed(conn: Connection, who: Person | None, rule_id: str, target_id: str | None) -> bool:
    """Whether `who` (None: nobody signed in) may do the rule's action to the record; an
    unknown rule id is refused."""
    rule = RULES.get(rule_id)
    return who is not None and rule is not None and rule.check(conn, who, target_id)


def require(store: Store, who: Person | None, rule_id: str, target_id: str | None) -> None:
    """Raise NotAllowed (audited: actor, rule, target, "refused") unless `who` may do it."""
    with store.read() as conn:
        if allowed(conn, who, rule_id, target_id):
            return
    rule = RULES.get(rule_id)
    with store.write() as conn:
        store.audit(
            conn,
            actor_id=who.id if who else None,
            action=rule_id,
            target_kind=rule.target_kind if rule else "unknown",
            target_id=target_id,
            outcome="refused",
        )
    raise NotAllowed(rule.action, rule.who) if rule else NotAllowed("do that")


def require_own(
    store: Store, who: Person | None, rule_id: str, target_id: str | None, kind: str
) -> None:
    """As require, for a person's own records (audited the same way), but the refusal is
    RecordNotFound(kind): a forged id does not even reveal that the record exists."""
    try:
        require(store, who, rule_id, target_id)
    except NotAllowed:
        raise RecordNotFound(kind, target_id or "") from None


def add_member(conn: Connection, community_id: str, person_id: str, role: str = "member") -> None:
    """Inside a caller's write transaction: give a person a role in a community (idempotent)."""
    row = {"community_id": community_id, "person_id": person_id, "role": role}
    # one statement where the store has INSERT … ON CONFLICT (a room's joins: 30 at once)
    add_if_new = insert_if_new(conn.dialect.name, community_member, tuple(row))
    if add_if_new is not None:
        conn.execute(add_if_new, {**row, "added_at": utc_now()}).first()  # read to the end
    elif role not in community_roles(conn, person_id, community_id):
        conn.execute(_ADD_MEMBER, {**row, "added_at": utc_now()})


def readme_table() -> str:
    """The README's "who can see what": one row per rule, in the words the app refuses with."""
    rows = ["| to … | who may |", "| --- | --- |"]
    rows += [f"| {rule.action} | {rule.who} |" for rule in RULES.values()]
    return "\n".join(rows)
