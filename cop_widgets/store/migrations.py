"""Versioned schema migrations, applied in order on start inside one write transaction each.

A migration is never edited once released: a change to the schema is a new entry at the end.
Tables are created from their current definitions in schema.py, so a migration that adds a
column to an existing table adds it only where it is missing (an older store).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Connection, MetaData, Table, insert, inspect, select

from cop_widgets.store import schema

if TYPE_CHECKING:  # db imports this module: the Store type is for annotations only
    from cop_widgets.store.db import Store


def _v1_initial(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.person])
    # The reflection table as released in version 1: its links to sessions and communities
    # (added with community scopes) point at tables of migration 4.
    _create_as_released(conn, schema.reflection, without=("session_id", "community_id"))
    for index in schema.reflection.indexes:
        index.create(conn, checkfirst=True)
    schema.metadata.create_all(conn, tables=[schema.reflection_answer, schema.audit_event])
    if conn.dialect.name == "sqlite":
        # The audit log is append-only: the database itself refuses changes and deletions.
        for verb in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
            )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE FUNCTION audit_event_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$BEGIN RAISE EXCEPTION 'audit_event is append-only'; END$$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()"
        )


def _v2_case_discussions(conn: Connection) -> None:
    # The discussion table as released in version 2: its link to a session (migration 7)
    # points at a table of migration 4, which PostgreSQL would refuse to reference here.
    _create_as_released(conn, schema.discussion, without=("session_id",))
    schema.metadata.create_all(
        conn,
        tables=[
            schema.discussion_role,
            schema.discussion_note,
            schema.discussion_action,
            schema.discussion_rating,
        ],
    )


def _create_as_released(conn: Connection, table: Table, without: tuple[str, ...]) -> None:
    """Create table (if missing) without columns that a later migration adds, with the same
    checks and foreign keys otherwise."""
    if inspect(conn).has_table(table.name):
        return
    released = MetaData()
    for parent in {fk.column.table for fk in table.foreign_keys if fk.parent.name not in without}:
        parent.to_metadata(released)
    columns = [c._copy() for c in table.columns if c.name not in without]
    checks = [c._copy() for c in table.constraints if isinstance(c, CheckConstraint)]
    Table(table.name, released, *columns, *checks).create(conn)


def _v3_supervision(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[
            schema.person_role,
            schema.supervision,
            schema.review,
            schema.feedback,
            schema.comment_bank,
            schema.supervisor_preference,
        ],
    )
    # A reflection changed after review becomes a new version that points at the old one.
    _add_missing_columns(
        conn,
        "reflection",
        {
            "version_of": "VARCHAR(36)",
            "version_no": "INTEGER NOT NULL DEFAULT 1",
        },
    )


def _v4_sessions(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[schema.community, schema.cop_session, schema.attendance, schema.session_role],
    )


def _v5_checkins(conn: Connection) -> None:
    schema.metadata.create_all(
        conn, tables=[schema.session_response, schema.session_answered, schema.commitment]
    )


def _v6_directory(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.member_profile])


def _v7_discussion_session(conn: Connection) -> None:
    # Creates the table only where it is missing (then with the link already in it).
    schema.metadata.create_all(conn, tables=[schema.discussion])
    # SQLite adds a REFERENCES column only with a NULL default, which this one has.
    _add_missing_columns(
        conn,
        "discussion",
        {"session_id": "VARCHAR(36) REFERENCES cop_session(id) ON DELETE SET NULL"},
    )
    schema.discussion_by_session.create(conn, checkfirst=True)


def _v8_accounts(conn: Connection) -> None:
    from cop_widgets.text import name_skeleton  # the one definition of "looks the same"

    schema.metadata.create_all(
        conn,
        tables=[
            schema.server_secret,
            schema.sign_in_link,
            schema.passphrase,
            schema.web_session,
            schema.sign_in_failure,
        ],
    )
    _add_missing_columns(conn, "person", {"name_skeleton": "VARCHAR(200)"})
    schema.person_by_skeleton.create(conn, checkfirst=True)
    # Everyone keeps their data; nobody gets a login until a coordinator issues a link.
    p = schema.person.c
    for pid, shown in conn.execute(select(p.id, p.display_name).where(p.name_skeleton.is_(None))):
        conn.execute(
            schema.person.update().where(p.id == pid).values(name_skeleton=name_skeleton(shown))
        )


def _community_scopes(conn: Connection) -> None:
    """Per-community membership, the reflection's session and community, and the end of a
    discussion's attendee access. Existing communities keep everyone who belonged: the
    creator coordinates; attendees and role holders of its sessions are members."""
    schema.metadata.create_all(conn, tables=[schema.community_member])
    _add_missing_columns(
        conn,
        "reflection",
        {
            "session_id": "VARCHAR(36) REFERENCES cop_session(id) ON DELETE SET NULL",
            "community_id": "VARCHAR(36) REFERENCES community(id) ON DELETE SET NULL",
        },
    )
    _add_missing_columns(conn, "discussion", {"attendee_access_ended_at": "VARCHAR(40)"})
    now = datetime.now(UTC).isoformat()
    member, c, s = schema.community_member, schema.community.c, schema.cop_session.c
    rows: set[tuple[str, str, str]] = set()
    for cid, creator in conn.execute(select(c.id, c.created_by).where(c.created_by.is_not(None))):
        rows |= {(cid, creator, "coordinator"), (cid, creator, "member")}
    for table in (schema.attendance, schema.session_role):
        found = select(s.community_id, table.c.person_id).join(
            schema.cop_session, s.id == table.c.session_id
        )
        rows |= {(cid, pid, "member") for cid, pid in conn.execute(found)}
    present = set(conn.execute(select(member.c.community_id, member.c.person_id, member.c.role)))
    new = [
        {"community_id": cid, "person_id": pid, "role": role, "added_at": now}
        for cid, pid, role in sorted(rows - present)
    ]
    if new:
        conn.execute(insert(member), new)


def _unlinkable_answers(conn: Connection) -> None:
    """Anonymous answers that cannot be tied to a person by storage order, key or time, and
    the board's stepped snapshot.

    An older store keeps session_response as migration 5 made it: a rowid table (rowids follow
    insertion order, and each person's answers were inserted in one block next to their "has
    answered" row) with the hour of the answer. It is rebuilt in the shape of schema.py
    (WITHOUT ROWID, keyed by session, item and a fresh random id, the session's date as the
    only time) from its rows in a shuffled order. The old pages are zeroed (secure_delete is
    on) and left free: VACUUM, the operator's step in the README, gives them back.
    """
    import secrets
    import uuid

    schema.metadata.create_all(conn, tables=[schema.board_snapshot])
    present = {c["name"] for c in inspect(conn).get_columns("session_response")}
    if "created_hour" not in present:
        return  # made by migration 5 from the current definition: already this shape
    rows = conn.exec_driver_sql(
        "SELECT r.session_id, r.item_set, r.item_id, r.person_id, r.value_int, r.value_text, "
        "substr(COALESCE(s.starts_at, r.created_hour), 1, 10) "
        "FROM session_response r LEFT JOIN cop_session s ON s.id = r.session_id"
    ).all()
    conn.exec_driver_sql("DROP TABLE session_response")
    schema.metadata.create_all(conn, tables=[schema.session_response])
    new = [
        {
            "id": str(uuid.uuid4()),
            "session_id": sid,
            "item_set": item_set,
            "item_id": item_id,
            "person_id": pid,
            "value_int": number,
            "value_text": text,
            "answered_on": day,
        }
        for sid, item_set, item_id, pid, number, text, day in rows
    ]
    secrets.SystemRandom().shuffle(new)
    if new:
        conn.execute(insert(schema.session_response), new)


def _add_missing_columns(conn: Connection, table: str, columns: dict[str, str]) -> None:
    """ALTER TABLE for columns an older store lacks. A new store already has them: earlier
    migrations create tables from the current definitions in schema.py."""
    present = {c["name"] for c in inspect(conn).get_columns(table)}
    for name, ddl in columns.items():
        if name not in present:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")


def _feedback_seen(conn: Connection) -> None:
    # released feedback is "new" for its author until they open the reflection
    _add_missing_columns(conn, "review", {"author_seen_at": "VARCHAR(40)"})


def _checkout_opened(conn: Connection) -> None:
    # the facilitator opens check-out for the room; until then the join page does not offer it
    _add_missing_columns(conn, "cop_session", {"checkout_opened_at": "VARCHAR(40)"})


# The library's full-text index on SQLite: an FTS5 table keyed by library_entry.search_key and
# kept in step with the entry by triggers, so that every change (a save, a revision, an
# erasure, a cascade from a removed community) updates it in the same transaction.
LIBRARY_SEARCH_SQLITE = (
    "CREATE VIRTUAL TABLE library_search USING fts5(title, body, tags, "
    "tokenize = 'porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER library_search_insert AFTER INSERT ON library_entry "
    "WHEN new.search_key IS NOT NULL BEGIN "
    "INSERT INTO library_search (rowid, title, body, tags) "
    "VALUES (new.search_key, new.title, new.body, new.tag_text); END",
    "CREATE TRIGGER library_search_update AFTER UPDATE OF title, body, tag_text, search_key "
    "ON library_entry BEGIN "
    "DELETE FROM library_search WHERE rowid = old.search_key; "
    "INSERT INTO library_search (rowid, title, body, tags) "
    "SELECT new.search_key, new.title, new.body, new.tag_text "
    "WHERE new.search_key IS NOT NULL; END",
    "CREATE TRIGGER library_search_delete AFTER DELETE ON library_entry BEGIN "
    "DELETE FROM library_search WHERE rowid = old.search_key; END",
)
# PostgreSQL searches the entry's own columns (services/library.py uses the same expression,
# so that this index serves it).
LIBRARY_SEARCH_POSTGRES = (
    "CREATE INDEX library_entry_search ON library_entry USING GIN "
    "(to_tsvector('english', title || ' ' || body || ' ' || tag_text))"
)


def _membership_and_library(conn: Connection) -> None:
    """How people join a community (open, or by request approved by its coordinators; whether
    it is cross-agency), pending requests, and the practice library.

    Communities made before this step are "by request": until now nobody could join one
    except through its coordinators or a session's join code, and its members may have shared
    reflections with "the community" on that understanding; opening it is their
    coordinators' choice (on the Communities page), not this upgrade's."""
    _add_missing_columns(
        conn,
        "community",
        {
            "join_policy": "VARCHAR(10) NOT NULL DEFAULT 'request' "
            "CHECK (join_policy IN ('open', 'request'))",
            "cross_agency": "BOOLEAN NOT NULL DEFAULT '0'",
        },
    )
    schema.metadata.create_all(
        conn,
        tables=[
            schema.membership_request,
            schema.library_entry,
            schema.library_revision,
            schema.library_tag,
            schema.library_endorsement,
            schema.library_comment,
            schema.library_attachment,
        ],
    )
    if conn.dialect.name == "sqlite":
        for statement in LIBRARY_SEARCH_SQLITE:
            conn.exec_driver_sql(statement)
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(LIBRARY_SEARCH_POSTGRES)


def _library_drafts(conn: Connection) -> None:
    """A library entry's status (a draft is its author's alone until published; every entry
    made before this step was published) and the session material it came from."""
    _add_missing_columns(
        conn,
        "library_entry",
        {
            "status": "VARCHAR(10) NOT NULL DEFAULT 'published' "
            "CHECK (status IN ('draft', 'published'))",
            "source_kind": "VARCHAR(10) CHECK (source_kind IS NULL OR source_kind IN "
            "('note', 'resource'))",
            "source_discussion_id": "VARCHAR(36) REFERENCES discussion (id) ON DELETE SET NULL",
            "source_note_id": "VARCHAR(36) REFERENCES discussion_note (id) ON DELETE SET NULL",
        },
    )


def _value_story_returns(conn: Connection) -> None:
    # a value-creation story saved as an intention comes back to its author on the day they
    # chose, until they complete it (services/value_stories.py)
    _add_missing_columns(
        conn, "reflection", {"return_on": "VARCHAR(10)", "returned_at": "VARCHAR(40)"}
    )


def _questions(conn: Connection) -> None:
    # a member asks their community a practice question between sessions; members answer, the
    # asker marks what helped, and the thread may become a library draft (services/questions.py)
    schema.metadata.create_all(conn, tables=[schema.question, schema.question_answer])


MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "people, reflections, answers, audit", _v1_initial),
    (2, "case discussions: roles, notes, actions, ratings", _v2_case_discussions),
    (3, "supervision: roles, supervisees, reviews, feedback, comment bank", _v3_supervision),
    (4, "communities, session series, attendance, session roles", _v4_sessions),
    (5, "check-in and check-out answers, commitments and follow-up", _v5_checkins),
    (6, "member directory (opt-in)", _v6_directory),
    (7, "case discussions linked to the CoP session they were held in", _v7_discussion_session),
    (8, "accounts: sign-in links, passphrases, web sessions, failed tries", _v8_accounts),
    (9, "community scopes: members, reflection and discussion links", _community_scopes),
    (10, "anonymous answers unlinkable; the board's stepped snapshot", _unlinkable_answers),
    (11, "released feedback marked new until its author opens it", _feedback_seen),
    (12, "check-out opened for the room by the facilitator", _checkout_opened),
    (13, "joining communities (open or by request); the practice library", _membership_and_library),
    (14, "library drafts made from a session's insights and resources", _library_drafts),
    (15, "value-creation stories that come back to their authors", _value_story_returns),
    (16, "questions between sessions", _questions),
)
LATEST = MIGRATIONS[-1][0]


def applied_versions(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("schema_migrations"):
        return set()
    return set(conn.execute(select(schema.schema_migrations.c.version)).scalars())


def _known() -> int:
    # the newest step this code has (read at call time: tests shorten MIGRATIONS)
    return max(version for version, _name, _step in MIGRATIONS)


def _refuse_newer(store: Store, applied: set[int]) -> None:
    from cop_widgets.errors import StoreUnavailable

    newest = max(applied, default=0)
    if newest > _known():
        raise StoreUnavailable(
            f"The store at {store.url} has schema version {newest}, newer than this version of "
            f"CoP Workbook knows (up to {_known()}): a newer CoP Workbook has used it. Update "
            "CoP Workbook here (every server on one store runs the same version). Nothing was "
            "changed."
        )


def _all_applied(applied: set[int]) -> bool:
    return all(version in applied for version, _name, _step in MIGRATIONS)


def migrate(store: Store) -> list[int]:
    """Apply every pending migration to `store` (a db.Store); return the versions applied now.

    On SQLite the first look is one write transaction (so opening a store that another
    process keeps locked is StoreBusy, which apps wait out). On PostgreSQL it is a read when
    every step is applied: there a write transaction takes the store's one write lock, and 40
    kernels or servers opening the store together would queue behind each other for a look
    that changes nothing. With something pending, store.migration_lock()
    is held across all the steps (SQLite: the write gate; PostgreSQL: an advisory lock), so
    that of several servers starting together one migrates and the others, let in after it,
    find every step applied. Each step is one write transaction of its own (store.write():
    BEGIN IMMEDIATE on SQLite) that looks again whether it is applied. A store at a newer
    version than this code knows is refused (StoreUnavailable naming both versions) and left
    as it was.
    """
    if not store.is_sqlite:
        with store.read() as conn:
            applied = applied_versions(conn)
        _refuse_newer(store, applied)
        if _all_applied(applied):
            return []
    with store.write() as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_migrations])
        applied = applied_versions(conn)
    _refuse_newer(store, applied)
    if _all_applied(applied):
        return []
    done: list[int] = []
    with store.migration_lock():
        for version, name, step in MIGRATIONS:
            with store.write() as conn:
                if version in applied_versions(conn):
                    continue
                step(conn)
                conn.execute(
                    insert(schema.schema_migrations).values(
                        version=version, name=name, applied_at=datetime.now(UTC).isoformat()
                    )
                )
                done.append(version)
    return done
