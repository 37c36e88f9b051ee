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
    ForeignKey,
    Index,
    Integer,
    MetaData,
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
    CheckConstraint(f"role IN {ROLES}", name="person_role_known"),
)

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
