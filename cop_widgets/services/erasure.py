"""Erasing a person (RELIABILITY.md §4): every row of theirs deleted in one write transaction.

A discussion they started in which others took part is kept for the others with its free text
blanked and its facilitator moved to one placeholder person. Audit rows are never changed (the
database refuses); one tombstone event is appended. Their person id stays in old audit rows,
where it no longer links to a name or any text. On SQLite deleted bytes are not gone until
overwritten: erasure runs with ``PRAGMA secure_delete = ON``, then VACUUM, then
``PRAGMA wal_checkpoint(TRUNCATE)`` so that old page images leave the -wal file too.
"""

from __future__ import annotations

import html
import uuid
from pathlib import Path

from sqlalchemy import (
    Connection,
    delete,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy import update as sql_update

from cop_widgets.errors import InvalidInput
from cop_widgets.services.person_tables import (
    ERASED_KEY,
    ERASED_NAME,
    PERSON_TABLES,
    library_entries_of,
    ownership,
    person_row,
    questions_of,
    role_key,
    table_named,
)
from cop_widgets.store import Store, schema, search
from cop_widgets.store.db import AnyRow, utc_now
from cop_widgets.store.maintenance import scrub, secure_delete_on

DISCUSSION_KEPT = "discussion_kept_blanked"


OWNER_REPLACED = "action_owner_name_replaced"


def _placeholder(conn: Connection) -> str:
    """The one person that takes the place of an erased facilitator (made on first use)."""
    found: str | None = conn.execute(
        select(schema.person.c.id).where(schema.person.c.identity_key == ERASED_KEY)
    ).scalar()
    if found is not None:
        return found
    pid = str(uuid.uuid4())
    conn.execute(
        insert(schema.person).values(
            id=pid,
            identity_key=ERASED_KEY,
            display_name=ERASED_NAME,
            role="practitioner",
            created_at=utc_now(),
        )
    )
    return pid


def _shared_discussions(conn: Connection, person_id: str) -> tuple[list[str], list[str]]:
    """Discussions this person started: (only theirs, also used by others). Others took part
    when someone else wrote a note, recorded an action or gave a rating."""
    started = list(
        conn.execute(
            select(schema.discussion.c.id)
            .where(schema.discussion.c.facilitator_id == person_id)
            .order_by(schema.discussion.c.id)
        ).scalars()
    )
    if not started:
        return [], []
    shared: set[str] = set()
    for table, who in (
        (schema.discussion_note, schema.discussion_note.c.author_id),
        (schema.discussion_action, schema.discussion_action.c.created_by),
        (schema.discussion_rating, schema.discussion_rating.c.person_id),
    ):
        shared.update(
            conn.execute(
                select(table.c.discussion_id)
                .where(table.c.discussion_id.in_(started), who != person_id)
                .distinct()
            ).scalars()
        )
    return [d for d in started if d not in shared], [d for d in started if d in shared]


def _erasure(conn: Connection, row: AnyRow, *, dry_run: bool) -> dict[str, int]:
    where = ownership(conn, row)
    solo, shared = _shared_discussions(conn, row.id)
    # A discussion only they used goes, with its role rows; a shared one is kept (below).
    where["discussion"] = schema.discussion.c.id.in_(solo) if solo else false()
    if solo:
        where["discussion_role"] = or_(
            where["discussion_role"], schema.discussion_role.c.discussion_id.in_(solo)
        )
    # Their entries go whole: with others' comments and endorsements on them (not exported:
    # those are the others' own).
    entries = library_entries_of(row.id)
    for name in ("library_comment", "library_endorsement"):
        table = table_named(name)
        where[name] = or_(where[name], table.c.entry_id.in_(entries))
    # Their questions go whole: with the answers others gave them (not exported either).
    where["question_answer"] = or_(
        where["question_answer"], schema.question_answer.c.question_id.in_(questions_of(row.id))
    )
    counts: dict[str, int] = {}
    for name in PERSON_TABLES:
        if name == "audit_event":
            continue  # never changed
        table = table_named(name)
        if dry_run:
            counts[name] = conn.execute(
                select(func.count()).select_from(table).where(where[name])
            ).scalar_one()
        else:
            counts[name] = conn.execute(delete(table).where(where[name])).rowcount
        if name == "discussion" and shared and not dry_run:
            _blank_discussions(conn, shared)  # before the person row goes (foreign key)
        if name == "library_entry" and counts[name] and not dry_run:
            search.purge_search_index(conn)  # no word of theirs stays in the search index
    counts[DISCUSSION_KEPT] = len(shared)
    counts[OWNER_REPLACED] = _replace_owner_name(conn, row, dry_run)
    return counts


def _replace_owner_name(conn: Connection, row: AnyRow, dry_run: bool) -> int:
    """Actions others recorded with this person as their owner keep the action but not the
    name (a free-text field: a new person of the same name must not inherit them)."""
    key = role_key(conn, row)
    if key is None:
        return 0
    a = schema.discussion_action.c
    ids = [i for i, owner in conn.execute(select(a.id, a.owner)) if owner.casefold() == key]
    if ids and not dry_run:
        conn.execute(
            sql_update(schema.discussion_action).where(a.id.in_(ids)).values(owner=ERASED_NAME)
        )
    return len(ids)


def files_naming(folder: Path | str, person_id: str, display_name: str) -> list[Path]:
    """Generated reports in `folder` that hold this person: their id in the file name (a CPD
    record) or their id or name in an HTML report's text."""
    root = Path(folder)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if person_id in path.name:
            found.append(path)
        elif path.suffix in (".html", ".csv", ".json"):
            body = path.read_text(encoding="utf-8", errors="replace")
            if person_id in body or (display_name and html.escape(display_name) in body):
                found.append(path)
    return found


def _blank_discussions(conn: Connection, ids: list[str]) -> None:
    placeholder = _placeholder(conn)
    conn.execute(
        sql_update(schema.discussion)
        .where(schema.discussion.c.id.in_(ids))
        .values(
            case_summary="",
            content_note="",
            facilitator_id=placeholder,
            updated_at=utc_now(),
            revision=schema.discussion.c.revision + 1,
        )
    )


def erasure_preview(store: Store, person_id: str) -> dict[str, int]:
    """What ``erase_person`` would remove, per table; nothing is changed."""
    with store.read() as conn:
        row = person_row(conn, person_id)
        _refuse_placeholder(row)
        return _erasure(conn, row, dry_run=True)


def _refuse_placeholder(row: AnyRow) -> None:
    if row.identity_key == ERASED_KEY:
        raise InvalidInput(
            "person", "That is the placeholder for erased people; it holds no one's data."
        )


def erase_person(store: Store, person_id: str, *, vacuum: bool = True) -> dict[str, int]:
    """Delete every row of this person's in one write transaction; return rows per table.

    Kept: discussions they started in which others took part (summary and content note
    blanked, facilitator moved to the "(erased person)" placeholder; key
    ``discussion_kept_blanked``) and the audit log, which gains one "person_erased" event.

    On SQLite the deletes run with secure_delete on (it stays on for that pooled connection),
    and after the commit the database is VACUUMed and the WAL checkpointed and truncated.
    VACUUM is on by default because secure_delete zeroes only what this transaction frees: an
    earlier version of the same text (a draft saved, then rewritten) was freed by an ordinary
    connection and, where SQLite is built without SECURE_DELETE (python.org and most builds;
    Debian's libsqlite3 has it on), stays in the file's free space until the page is reused.
    tests/services/test_erasure.py shows such a copy surviving with ``vacuum=False``. VACUUM
    rewrites the whole file (it needs free disk space of about the store's size). Keys
    ``vacuumed`` and ``wal_truncated`` are 0 when the store was too busy for that step (the
    erasure itself is committed; the next erase or retention run finishes the job).
    """
    with store.write() as conn:
        row = person_row(conn, person_id)
        _refuse_placeholder(row)
        secure_delete_on(store, conn)
        counts = _erasure(conn, row, dry_run=False)
        store.audit(
            conn,
            actor_id=None,
            action="person_erased",
            target_kind="person",
            target_id=person_id,
        )
    counts.update(scrub(store, vacuum))
    return counts
