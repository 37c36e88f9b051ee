"""Tables of the shared store, as SQLAlchemy Core metadata (portable to PostgreSQL).

Ids are application-made UUID strings so a retried save cannot create a duplicate. Times are
UTC, ISO 8601 strings with offset, written by the application; ordering uses the database's
own row sequence where order matters. The shapes leave room for sessions, discussions,
ratings and feedback: each will hang off person and reflection by id.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

VISIBILITIES = ("private", "supervisor", "facilitator", "community", "aggregate_only")
STATUSES = ("draft", "submitted")
ROLES = ("practitioner", "facilitator", "supervisor", "coordinator")

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(120), nullable=False),
    Column("applied_at", String(40), nullable=False),
)

person = Table(
    "person",
    metadata,
    Column("id", String(36), primary_key=True),
    # "hub:<user>" under JupyterHub, "local:<casefolded name>" standalone: one row per identity.
    Column("identity_key", String(200), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    Column("role", String(20), nullable=False, server_default="practitioner"),
    Column("created_at", String(40), nullable=False),
    # the display name reduced to how it looks (text.name_skeleton): two people whose names
    # look alike are refused (added by migration 8)
    Column("name_skeleton", String(200)),
    CheckConstraint(f"role IN {ROLES}", name="person_role_known"),
)
person_by_skeleton = Index("person_by_skeleton", person.c.name_skeleton)

reflection = Table(
    "reflection",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("person.id"), nullable=False),
    Column("framework_id", String(64), nullable=False),
    Column("framework_version", Integer, nullable=False),
    Column("visibility", String(20), nullable=False, server_default="private"),
    Column("status", String(12), nullable=False, server_default="draft"),
    # Bumped on every save: lets a later writer detect a change it did not see.
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("submitted_at", String(40)),
    # added by migration 3 (see migrations._v3_supervision)
    Column("version_of", String(36)),
    Column("version_no", Integer, nullable=False, server_default="1"),
    # added with community scopes: the CoP session it was written for ("facilitator"
    # visibility: that session's facilitator) and the community it is shared with
    # ("community" visibility: that community's members)
    Column("session_id", String(36), ForeignKey("cop_session.id", ondelete="SET NULL")),
    Column("community_id", String(36), ForeignKey("community.id", ondelete="SET NULL")),
    # added by migration 15: a value-creation story saved as an intention comes back to its
    # author from return_on (YYYY-MM-DD) on, until they complete it (returned_at: then its
    # applied and realised cycles are a new version)
    Column("return_on", String(10)),
    Column("returned_at", String(40)),
    CheckConstraint(f"visibility IN {VISIBILITIES}", name="reflection_visibility_known"),
    CheckConstraint(f"status IN {STATUSES}", name="reflection_status_known"),
)
Index("reflection_by_person", reflection.c.person_id, reflection.c.updated_at)

reflection_answer = Table(
    "reflection_answer",
    metadata,
    Column(
        "reflection_id",
        String(36),
        ForeignKey("reflection.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("stage_id", String(64), primary_key=True),
    Column("text", Text, nullable=False, server_default=""),
    # A pass needs no reason and is kept apart from an empty answer.
    Column("passed", Boolean, nullable=False, server_default="0"),
    Column("updated_at", String(40), nullable=False),
)

# Append-only: who did what to which record, and whether it worked. Never free text.
audit_event = Table(
    "audit_event",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("actor_id", String(36)),
    Column("action", String(40), nullable=False),
    Column("target_kind", String(40), nullable=False),
    Column("target_id", String(36)),
    Column("outcome", String(20), nullable=False),
)

# -- case discussions (migration 2) ---------------------------------------------------------------
DISCUSSION_STATUSES = ("open", "closed")
CLOCK_STATUSES = ("not_started", "running", "paused", "finished")

discussion = Table(
    "discussion",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("protocol_id", String(64), nullable=False),
    Column("protocol_version", Integer, nullable=False),
    Column("case_summary", Text, nullable=False, server_default=""),
    # e.g. "includes family violence": shown before anyone reads the case
    Column("content_note", String(200), nullable=False, server_default=""),
    # True once the author confirmed the de-identification check of the summary
    Column("summary_checked", Boolean, nullable=False, server_default="0"),
    Column("facilitator_id", String(36), ForeignKey("person.id"), nullable=False),
    Column("status", String(12), nullable=False, server_default="open"),
    Column("phase_index", Integer, nullable=False, server_default="0"),
    Column("clock_status", String(12), nullable=False, server_default="not_started"),
    Column("running_since", Float),
    Column("elapsed_before", Float, nullable=False, server_default="0"),
    Column("extra_seconds", Integer, nullable=False, server_default="0"),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("closed_at", String(40)),
    # added by migration 7: the CoP session the discussion was held in, if any. Removing the
    # session keeps the discussion (it is the group's record of the case, not the session's).
    Column("session_id", String(36), ForeignKey("cop_session.id", ondelete="SET NULL")),
    # added with community scopes: when the facilitator ended the session's attendees' access
    # to the case (its starter and role holders keep it)
    Column("attendee_access_ended_at", String(40)),
    CheckConstraint(f"status IN {DISCUSSION_STATUSES}", name="discussion_status_known"),
    CheckConstraint(f"clock_status IN {CLOCK_STATUSES}", name="discussion_clock_known"),
)
# A session report gathers its discussions by this.
discussion_by_session = Index("discussion_by_session", discussion.c.session_id)

discussion_role = Table(
    "discussion_role",
    metadata,
    Column(
        "discussion_id",
        String(36),
        ForeignKey("discussion.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role_id", String(64), primary_key=True),
    # casefolded display name: how a person signing in is matched to the role
    Column("holder_key", String(200), primary_key=True),
    Column("holder_name", String(80), nullable=False),
)

# One row per note-taker's note for a phase (and column): two note-takers never overwrite
# each other; each keeps a revision so that one person's two tabs are caught as a conflict.
discussion_note = Table(
    "discussion_note",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "discussion_id", String(36), ForeignKey("discussion.id", ondelete="CASCADE"), nullable=False
    ),
    Column("phase_id", String(64), nullable=False),
    Column("column_id", String(64), nullable=False, server_default=""),
    Column("author_id", String(36), ForeignKey("person.id"), nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)
Index("discussion_note_by_phase", discussion_note.c.discussion_id, discussion_note.c.phase_id)

discussion_action = Table(
    "discussion_action",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "discussion_id", String(36), ForeignKey("discussion.id", ondelete="CASCADE"), nullable=False
    ),
    Column("description", Text, nullable=False),
    Column("owner", String(80), nullable=False),
    Column("due_date", String(10)),
    Column("created_by", String(36), ForeignKey("person.id"), nullable=False),
    Column("created_at", String(40), nullable=False),
)

discussion_rating = Table(
    "discussion_rating",
    metadata,
    Column(
        "discussion_id",
        String(36),
        ForeignKey("discussion.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("phase_id", String(64), primary_key=True),
    Column("person_id", String(36), ForeignKey("person.id"), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# -- supervision and privacy (migration 3) ----------------------------------------------------
FEEDBACK_KINDS = ("strength", "deepening_question", "resource")
# Hatton & Smith (1995), holistic: one level per reviewed reflection, never a league table.
DEPTH_LEVELS = (
    "descriptive_writing",
    "descriptive_reflection",
    "dialogic_reflection",
    "critical_reflection",
)

person_role = Table(
    "person_role",
    metadata,
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), primary_key=True),
    CheckConstraint(f"role IN {ROLES}", name="person_role_known"),
)

supervision = Table(
    "supervision",
    metadata,
    Column(
        "supervisor_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "supervisee_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    ),
)

review = Table(
    "review",
    metadata,
    Column(
        "reflection_id",
        String(36),
        ForeignKey("reflection.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "supervisor_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("depth_level", String(40)),
    Column("created_at", String(40), nullable=False),
    Column("released_at", String(40)),
    # when the author last opened the reflection after its feedback was released ("new" until)
    Column("author_seen_at", String(40)),
    CheckConstraint(
        f"depth_level IS NULL OR depth_level IN {DEPTH_LEVELS}", name="review_depth_known"
    ),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "reflection_id", String(36), ForeignKey("reflection.id", ondelete="CASCADE"), nullable=False
    ),
    Column(
        "supervisor_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), nullable=False
    ),
    Column("kind", String(30), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    CheckConstraint(f"kind IN {FEEDBACK_KINDS}", name="feedback_kind_known"),
)
Index("feedback_by_reflection", feedback.c.reflection_id)

comment_bank = Table(
    "comment_bank",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "supervisor_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), nullable=False
    ),
    Column("kind", String(30), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

supervisor_preference = Table(
    "supervisor_preference",
    metadata,
    Column(
        "supervisor_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    ),
    # Review by number, not name, to lessen bias.
    Column("anonymised", Boolean, nullable=False, server_default="0"),
)

# -- communities, session series and attendance (migration 4) ---------------------------------
SESSION_STATUSES = ("planned", "closed")
JOIN_POLICIES = ("open", "request")

community = Table(
    "community",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("domain", Text, nullable=False, server_default=""),
    Column("purpose", Text, nullable=False, server_default=""),
    # The group's record, not its creator's: erasing the creator leaves it, unattributed.
    Column("created_by", String(36), ForeignKey("person.id", ondelete="SET NULL")),
    Column("created_at", String(40), nullable=False),
    # added by migration 13: how people join (open: anyone signed in; request: its
    # coordinators approve), and whether its members come from more than one agency
    Column("join_policy", String(10), nullable=False, server_default="request"),
    Column("cross_agency", Boolean, nullable=False, server_default="0"),
    CheckConstraint(f"join_policy IN {JOIN_POLICIES}", name="community_join_policy_known"),
)

cop_session = Table(
    "cop_session",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "community_id", String(36), ForeignKey("community.id", ondelete="CASCADE"), nullable=False
    ),
    Column("starts_at", String(40), nullable=False),  # UTC, ISO 8601
    Column("duration_minutes", Integer, nullable=False, server_default="90"),
    Column("topic", String(200), nullable=False),
    Column("focus_question", Text, nullable=False, server_default=""),
    Column("protocol_id", String(64)),
    Column("join_code", String(12), nullable=False, unique=True),
    Column("status", String(12), nullable=False, server_default="planned"),
    Column("created_at", String(40), nullable=False),
    # when the facilitator opened check-out for the room (UTC): participants' forms show then
    Column("checkout_opened_at", String(40)),
    CheckConstraint(f"status IN {SESSION_STATUSES}", name="cop_session_status_known"),
)
Index("cop_session_by_community", cop_session.c.community_id, cop_session.c.starts_at)

# Who belongs to a community, and who runs it: per community, not global. A global
# coordinator (person_role) coordinates every community.
COMMUNITY_ROLES = ("member", "facilitator", "coordinator")
community_member = Table(
    "community_member",
    metadata,
    Column(
        "community_id", String(36), ForeignKey("community.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(20), primary_key=True),
    Column("added_at", String(40), nullable=False),
    CheckConstraint(f"role IN {COMMUNITY_ROLES}", name="community_member_role_known"),
)
Index("community_member_by_person", community_member.c.person_id)

attendance = Table(
    "attendance",
    metadata,
    Column(
        "session_id", String(36), ForeignKey("cop_session.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("joined_at", String(40), nullable=False),
)

session_role = Table(
    "session_role",
    metadata,
    Column(
        "session_id", String(36), ForeignKey("cop_session.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("role_id", String(64), primary_key=True),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
)

# -- check-in, check-out and commitments (migration 5) -----------------------------------------
# An answer to an anonymous item has no person_id at all; who has answered a set is kept apart
# (session_answered) so that nobody answers twice and no answer can be traced to a person.
# Unlinkable as stored, too (migration 10): no rowid (WITHOUT ROWID on SQLite), a random key,
# only the session's date as time, and services/checkins.py writes the anonymous answers in
# their own transaction, rewriting the session's anonymous rows in a shuffled order, so
# neither key, file position nor time follows the order in which people answered. Only a
# private item (the debrief) keeps its person_id.
session_response = Table(
    "session_response",
    metadata,
    Column("id", String(36), nullable=False),  # random (uuid4), new at every rewrite
    Column(
        "session_id", String(36), ForeignKey("cop_session.id", ondelete="CASCADE"), nullable=False
    ),
    Column("item_set", String(64), nullable=False),
    Column("item_id", String(64), nullable=False),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE")),
    Column("value_int", Integer),
    Column("value_text", Text),
    # The session's date (YYYY-MM-DD): no finer time that could match an answer to a person.
    Column("answered_on", String(10), nullable=False),
    PrimaryKeyConstraint("session_id", "item_set", "item_id", "id"),
    sqlite_with_rowid=False,
)

session_answered = Table(
    "session_answered",
    metadata,
    Column(
        "session_id", String(36), ForeignKey("cop_session.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("item_set", String(64), primary_key=True),
)

commitment = Table(
    "commitment",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
    Column(
        "session_id", String(36), ForeignKey("cop_session.id", ondelete="CASCADE"), nullable=False
    ),
    Column("text", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    # filled at a later session's check-in: did you try it? what happened?
    Column("followup_session_id", String(36), ForeignKey("cop_session.id", ondelete="SET NULL")),
    Column("tried", String(10)),
    Column("followup_text", Text),
    Column("followed_up_at", String(40)),
    CheckConstraint("tried IS NULL OR tried IN ('yes', 'partly', 'no')", name="commitment_tried"),
)

# What the live room board has shown (migration 10): per item, the summary and how many answers
# it holds. It moves on only by at least the minimum group of new answers, so the room can
# never read one person's answer from a change; aggregates of at least that group, no person.
board_snapshot = Table(
    "board_snapshot",
    metadata,
    Column(
        "session_id", String(36), ForeignKey("cop_session.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("item_set", String(64), primary_key=True),
    Column("item_id", String(64), primary_key=True),
    Column("answers", Integer, nullable=False),
    Column("summary", Text, nullable=False),  # JSON: sorted scale values, or [word, count] pairs
)

# -- member directory (migration 6) ----------------------------------------------------------
member_profile = Table(
    "member_profile",
    metadata,
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    # Nobody appears in the directory until they choose to.
    Column("listed", Boolean, nullable=False, server_default="0"),
    Column("offers", Text, nullable=False, server_default=""),
    Column("wants", Text, nullable=False, server_default=""),
    Column("updated_at", String(40), nullable=False),
)

# -- accounts and sign-in (migration 8) -------------------------------------------------------
# Secrets are kept only as hashes (links, session cookies) or Argon2 hashes (passphrases).
# The server secret signs cookies and the identity a server hands its kernels; every server on
# this store shares it, so one sign-in serves the participants' and the review server.
server_secret = Table(
    "server_secret",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("created_at", String(40), nullable=False),
)

sign_in_link = Table(
    "sign_in_link",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("used_at", String(40)),
    Column("revoked_at", String(40)),
    Column("created_by", String(36), ForeignKey("person.id", ondelete="SET NULL")),
)
Index("sign_in_link_by_person", sign_in_link.c.person_id)

passphrase = Table(
    "passphrase",
    metadata,
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("hash", String(200), nullable=False),
    Column("set_at", String(40), nullable=False),
)

web_session = Table(
    "web_session",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    # how the person signed in: link, passphrase, register
    Column("via", String(20), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
)
Index("web_session_by_person", web_session.c.person_id)

# One row per failed sign-in or join-code try, keyed by a hash of the name or client address:
# counted over a sliding window to slow guessing; old rows are pruned as new ones arrive.
sign_in_failure = Table(
    "sign_in_failure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False),
    Column("at", String(40), nullable=False),
)
Index("sign_in_failure_by_key", sign_in_failure.c.key_hash, sign_in_failure.c.at)


# -- membership requests and the practice library (migration 13) -------------------------------
# A request to join a community that its coordinators approve; only pending ones are kept (an
# approval makes a member row, a decline or withdrawal deletes the request).
membership_request = Table(
    "membership_request",
    metadata,
    Column(
        "community_id", String(36), ForeignKey("community.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("requested_at", String(40), nullable=False),
)

LIBRARY_KINDS = ("story", "tool", "approach", "summary", "link")
LIBRARY_STATUSES = ("draft", "published")
LIBRARY_SOURCES = ("note", "resource")  # a practice-insight note; a shared resource

# An entry of a community's shared repertoire, as it reads now (its latest revision). Its text
# is its author's: erasing the author deletes it (data_rights). On SQLite a full-text index
# (library_search, FTS5, made by migration 13) follows title, body and tag_text through
# triggers, keyed by search_key: an explicit number, as VACUUM may renumber plain rowids.
library_entry = Table(
    "library_entry",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "community_id", String(36), ForeignKey("community.id", ondelete="CASCADE"), nullable=False
    ),
    Column("author_id", String(36), ForeignKey("person.id"), nullable=False),
    # the session it came from, if any; removing the session keeps the entry
    Column("session_id", String(36), ForeignKey("cop_session.id", ondelete="SET NULL")),
    Column("kind", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False, server_default=""),
    Column("url", String(2000), nullable=False, server_default=""),
    # the tags as words (topic labels and free tags, one per line): what search matches
    Column("tag_text", Text, nullable=False, server_default=""),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    # marked as the community's endorsed practice by one of its facilitators or coordinators
    Column("marked_at", String(40)),
    Column("marked_by", String(36), ForeignKey("person.id", ondelete="SET NULL")),
    Column("search_key", Integer, unique=True),
    # migration 14: a draft (made from a session's practice insight or shared resource, see
    # services/library.py) is its author's alone until they publish it; older entries are
    # published. What it came from: the kind of source and the discussion and note, if any.
    Column("status", String(10), nullable=False, server_default="published"),
    Column("source_kind", String(10)),
    Column("source_discussion_id", String(36), ForeignKey("discussion.id", ondelete="SET NULL")),
    Column("source_note_id", String(36), ForeignKey("discussion_note.id", ondelete="SET NULL")),
    CheckConstraint(f"kind IN {LIBRARY_KINDS}", name="library_entry_kind_known"),
    CheckConstraint(f"status IN {LIBRARY_STATUSES}", name="library_entry_status_known"),
    CheckConstraint(
        f"source_kind IS NULL OR source_kind IN {LIBRARY_SOURCES}",
        name="library_entry_source_known",
    ),
)
Index("library_entry_by_community", library_entry.c.community_id, library_entry.c.created_at)
Index("library_entry_by_author", library_entry.c.author_id)

# Every version of an entry, the first included: the entry's "History".
library_revision = Table(
    "library_revision",
    metadata,
    Column(
        "entry_id", String(36), ForeignKey("library_entry.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("revision", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False, server_default=""),
    Column("url", String(2000), nullable=False, server_default=""),
    Column("tag_text", Text, nullable=False, server_default=""),
    # how many likely identifiers the author confirmed do not identify anyone (0: none found)
    Column("confirmed_findings", Integer, nullable=False, server_default="0"),
    Column("created_at", String(40), nullable=False),
)

# An entry's tags: a topic's id (data/library_topics.yaml) or a free tag, in lower case.
library_tag = Table(
    "library_tag",
    metadata,
    Column(
        "entry_id", String(36), ForeignKey("library_entry.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("tag", String(60), primary_key=True),
    Column("topic", Boolean, nullable=False, server_default="0"),
)
Index("library_tag_by_tag", library_tag.c.tag)

# "This helped my practice": one per person and entry, and it can be taken back.
library_endorsement = Table(
    "library_endorsement",
    metadata,
    Column(
        "entry_id", String(36), ForeignKey("library_entry.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("person_id", String(36), ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", String(40), nullable=False),
)

library_comment = Table(
    "library_comment",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "entry_id", String(36), ForeignKey("library_entry.id", ondelete="CASCADE"), nullable=False
    ),
    Column("author_id", String(36), ForeignKey("person.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("confirmed_findings", Integer, nullable=False, server_default="0"),
    Column("created_at", String(40), nullable=False),
)
Index("library_comment_by_entry", library_comment.c.entry_id, library_comment.c.created_at)

# Small files attached to an entry, kept in the store itself so that they go with backup,
# export and erasure; their type is checked from their first bytes, not their name.
library_attachment = Table(
    "library_attachment",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "entry_id", String(36), ForeignKey("library_entry.id", ondelete="CASCADE"), nullable=False
    ),
    Column("file_name", String(200), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("library_attachment_by_entry", library_attachment.c.entry_id)


# -- questions between sessions (migration 16) ----------------------------------------------------
# A practice question a member asks their community between sessions, and the answers other
# members give. Its text is its asker's, an answer's its author's (erasing a person deletes
# their questions, with every answer on them, and their answers elsewhere). Each text passed
# the de-identification check; confirmed_findings counts what its writer confirmed.
question = Table(
    "question",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "community_id", String(36), ForeignKey("community.id", ondelete="CASCADE"), nullable=False
    ),
    Column("asker_id", String(36), ForeignKey("person.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("confirmed_findings", Integer, nullable=False, server_default="0"),
    Column("created_at", String(40), nullable=False),
    # its last activity (asked, answered, an answer marked as helped): what retention goes by
    Column("updated_at", String(40), nullable=False),
    # when the asker last opened it: answers after that are new to them
    Column("asker_seen_at", String(40)),
    # the library draft made from the thread (its saver's entry); withdrawing it frees the
    # thread to be saved again
    Column("library_entry_id", String(36), ForeignKey("library_entry.id", ondelete="SET NULL")),
)
Index("question_by_community", question.c.community_id, question.c.created_at)
Index("question_by_asker", question.c.asker_id)

question_answer = Table(
    "question_answer",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "question_id", String(36), ForeignKey("question.id", ondelete="CASCADE"), nullable=False
    ),
    Column("author_id", String(36), ForeignKey("person.id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("confirmed_findings", Integer, nullable=False, server_default="0"),
    Column("created_at", String(40), nullable=False),
    # set by the asker: "this helped"; cleared when they take it back
    Column("helped_at", String(40)),
)
Index("question_answer_by_question", question_answer.c.question_id, question_answer.c.created_at)
Index("question_answer_by_author", question_answer.c.author_id)
