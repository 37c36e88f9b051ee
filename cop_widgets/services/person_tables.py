"""Where a person's material lives, table by table: the rules export, erasure and retention
share (RELIABILITY.md §4).

Every table is a person's (PERSON_TABLES), a group's (GROUP_TABLES) or the system's
(SYSTEM_TABLES); ``ownership`` says which rows of each table are a given person's.

Roles in a discussion are held by name (discussion_role.holder_key is a casefolded display name),
not by person id. A role row is taken as the person's when its key equals their casefolded
display name and no other person has that name; when two people share a name it cannot be told
whose the row is, so it is neither exported nor erased.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    ScalarSelect,
    Table,
    false,
    or_,
    select,
)

from cop_widgets.errors import RecordNotFound
from cop_widgets.store import schema
from cop_widgets.store.db import AnyRow

# The group's own records: no person's data in them; erasing their creator leaves them with
# created_by set to NULL by the database (ON DELETE SET NULL). The board's snapshot holds
# summaries of at least the minimum group, never one person's answer.
# identity_key and display name of the one placeholder person erased people's shared records
# point to
ERASED_KEY = "erased:"
ERASED_NAME = "(erased person)"
GROUP_TABLES = ("community", "cop_session", "board_snapshot")


# Tables of one person's data, in the order an export lists them and erasure deletes them
# (children before parents, so that foreign keys hold at every step).
PERSON_TABLES = (
    "feedback",
    "review",
    "reflection_answer",
    "reflection",
    "discussion_rating",
    "attendance",
    "session_role",
    "session_response",
    "session_answered",
    "commitment",
    "member_profile",
    # questions between sessions: a question is its asker's and an answer its writer's, so
    # erasing a person deletes their questions (with every answer on them) and their answers
    # elsewhere; "this helped" on their answers goes with them
    "question_answer",
    "question",
    # the practice library: an entry's text is its author's, so erasing them deletes their
    # entries (with every version, tag, attachment, and others' endorsements and comments on
    # them), their comments and endorsements elsewhere; a mark they set is kept, unattributed
    "library_attachment",
    "library_comment",
    "library_endorsement",
    "library_tag",
    "library_revision",
    "library_entry",
    "membership_request",
    "discussion_note",
    "discussion_action",
    "discussion_role",
    "discussion",
    "person_role",
    "supervision",
    "supervisor_preference",
    "comment_bank",
    "audit_event",
    "community_member",
    "sign_in_link",
    "passphrase",
    "web_session",
    "person",
)


# The servers' own records, holding no person's data: the store's secret, and failed sign-in
# tries keyed by a keyed hash (never a name or an address in the clear).
SYSTEM_TABLES = ("server_secret", "sign_in_failure")


def person_row(conn: Connection, person_id: str) -> AnyRow:
    """The person's row (every column of `person`); RecordNotFound if there is none."""
    row = conn.execute(select(schema.person).where(schema.person.c.id == person_id)).first()
    if row is None:
        raise RecordNotFound("person", person_id)
    return row


class NamedPerson(Protocol):
    """A person row or a Person: what role_key needs of either."""

    @property
    def id(self) -> str: ...

    @property
    def display_name(self) -> str: ...


def role_key(conn: Connection, row: NamedPerson) -> str | None:
    """The casefolded name that discussion_role rows of this person carry, or None when another
    person has the same name (then those rows cannot be told apart and are left alone)."""
    key = row.display_name.casefold()
    names = conn.execute(
        select(schema.person.c.display_name).where(
            schema.person.c.id != row.id, schema.person.c.identity_key != ERASED_KEY
        )
    ).scalars()
    return None if any(n.casefold() == key for n in names) else key


def ownership(conn: Connection, row: AnyRow) -> dict[str, ColumnElement[bool]]:
    """For each table, the WHERE clause selecting this person's rows (export and erasure)."""
    pid = row.id
    own = (
        select(schema.reflection.c.id).where(schema.reflection.c.person_id == pid).scalar_subquery()
    )
    entries = library_entries_of(pid)
    key = role_key(conn, row)
    return {
        # Feedback and reviews on their reflections (about them) and those they wrote (theirs).
        "feedback": or_(
            schema.feedback.c.reflection_id.in_(own), schema.feedback.c.supervisor_id == pid
        ),
        "review": or_(schema.review.c.reflection_id.in_(own), schema.review.c.supervisor_id == pid),
        "reflection_answer": schema.reflection_answer.c.reflection_id.in_(own),
        "reflection": schema.reflection.c.person_id == pid,
        "discussion_rating": schema.discussion_rating.c.person_id == pid,
        "attendance": schema.attendance.c.person_id == pid,
        "session_role": schema.session_role.c.person_id == pid,
        # anonymous answers carry no person and so are not theirs to export or erase
        "session_response": schema.session_response.c.person_id == pid,
        "session_answered": schema.session_answered.c.person_id == pid,
        "commitment": schema.commitment.c.person_id == pid,
        "member_profile": schema.member_profile.c.person_id == pid,
        "question_answer": schema.question_answer.c.author_id == pid,
        "question": schema.question.c.asker_id == pid,
        "library_attachment": schema.library_attachment.c.entry_id.in_(entries),
        "library_comment": schema.library_comment.c.author_id == pid,
        "library_endorsement": schema.library_endorsement.c.person_id == pid,
        "library_tag": schema.library_tag.c.entry_id.in_(entries),
        "library_revision": schema.library_revision.c.entry_id.in_(entries),
        "library_entry": schema.library_entry.c.author_id == pid,
        "membership_request": schema.membership_request.c.person_id == pid,
        "discussion_note": schema.discussion_note.c.author_id == pid,
        "discussion_action": schema.discussion_action.c.created_by == pid,
        "discussion_role": (schema.discussion_role.c.holder_key == key) if key else false(),
        "discussion": schema.discussion.c.facilitator_id == pid,
        "person_role": schema.person_role.c.person_id == pid,
        "supervision": or_(
            schema.supervision.c.supervisor_id == pid, schema.supervision.c.supervisee_id == pid
        ),
        "supervisor_preference": schema.supervisor_preference.c.supervisor_id == pid,
        "comment_bank": schema.comment_bank.c.supervisor_id == pid,
        "audit_event": schema.audit_event.c.actor_id == pid,
        "community_member": schema.community_member.c.person_id == pid,
        "sign_in_link": schema.sign_in_link.c.person_id == pid,
        "passphrase": schema.passphrase.c.person_id == pid,
        "web_session": schema.web_session.c.person_id == pid,
        "person": schema.person.c.id == pid,
    }


def library_entries_of(person_id: str) -> ScalarSelect[Any]:
    """SQL: the ids of the library entries this person wrote (for an IN clause)."""
    return (
        select(schema.library_entry.c.id)
        .where(schema.library_entry.c.author_id == person_id)
        .scalar_subquery()
    )


def questions_of(person_id: str) -> ScalarSelect[Any]:
    """SQL: the ids of the questions this person asked (for an IN clause)."""
    return (
        select(schema.question.c.id)
        .where(schema.question.c.asker_id == person_id)
        .scalar_subquery()
    )


def table_named(name: str) -> Table:
    """The store's table of that name."""
    return schema.metadata.tables[name]
