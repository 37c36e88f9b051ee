"""Data rights: find a person, export everything of theirs, erase it, apply retention, back up.

Each function is a plain function over a Store. The rules (RELIABILITY.md §4):

- An export holds every row of the person's own and nothing written by anyone else; other people
  appear only as ids (the supervisor who wrote feedback on the person's reflection, the other
  side of a supervision link).
- Erasure deletes every row of theirs in one write transaction. A discussion they started in
  which others took part is kept for the others with its free text blanked and its facilitator
  moved to one placeholder person. Audit rows are never changed (the database refuses); one
  tombstone event is appended. Their person id stays in old audit rows, where it no longer
  links to a name or any text.
- On SQLite deleted bytes are not gone until overwritten: erasure and retention run with
  ``PRAGMA secure_delete = ON``, then VACUUM (see ``erase_person``), then
  ``PRAGMA wal_checkpoint(TRUNCATE)`` so that old page images leave the -wal file too.
- Backups use SQLite's online backup API and are checked with ``PRAGMA integrity_check``.

Roles in a discussion are held by name (discussion_role.holder_key is a casefolded display name),
not by person id. A role row is taken as the person's when its key equals their casefolded
display name and no other person has that name; when two people share a name it cannot be told
whose the row is, so it is neither exported nor erased.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
import sqlite3
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy import update as sql_update

from cop_widgets.errors import InvalidInput, RecordNotFound, StoreUnavailable
from cop_widgets.services import library, policy
from cop_widgets.services.identity import Person
from cop_widgets.store import Store, migrations, schema
from cop_widgets.store.db import utc_now
from cop_widgets.text import clean_display_name

ERASED_KEY = "erased:"
ERASED_NAME = "(erased person)"
EXPORT_FORMAT = "cop-workbook-export"
EXPORT_FORMAT_VERSION = 1
EXPORT_JSON = "export.json"
DISCUSSION_KEPT = "discussion_kept_blanked"
OWNER_REPLACED = "action_owner_name_replaced"
_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# The group's own records: no person's data in them; erasing their creator leaves them with
# created_by set to NULL by the database (ON DELETE SET NULL). The board's snapshot holds
# summaries of at least the minimum group, never one person's answer.
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
# Secrets' hashes are not the person's data to take away: exports show that they exist only.
_NOT_EXPORTED = {"token_hash", "hash"}


# -- finding a person ------------------------------------------------------------------------


def _not_found(who: str) -> RecordNotFound:
    exc = RecordNotFound("person", who)
    exc.args = (
        f"No person matches {who!r}. Give their person id, their display name (any case) "
        "or hub:<user name>.",
    )
    return exc


def find_person(store: Store, who: str) -> Person:
    """The one person named by an id, a display name (any case) or ``hub:<user>``.

    ``local:<name>`` picks the standalone identity only. A bare name that matches both a
    standalone person and a Hub user is refused as ambiguous, with the ids to choose from.
    """
    if not isinstance(who, str) or not who.strip():
        raise InvalidInput("person", "Name the person: their id, display name or hub:<user>.")
    raw = who.strip()
    p = schema.person.c
    cols = (p.id, p.display_name, p.role, p.identity_key)
    keys: list[str] = []
    if raw.startswith("hub:"):
        keys.append(raw)
    elif raw.startswith("local:"):
        keys.append("local:" + clean_display_name(raw[len("local:") :]).casefold())
    else:
        # JupyterHub lower-cases user names by default (Authenticator.normalize_username).
        keys.extend(dict.fromkeys((f"hub:{raw}", f"hub:{raw.lower()}")))
        try:
            keys.append("local:" + clean_display_name(raw).casefold())
        except InvalidInput:
            pass
    with store.read() as conn:
        row = conn.execute(select(*cols).where(p.id == raw)).first()
        if row is not None:
            return Person(row.id, row.display_name, row.role)
        rows = conn.execute(
            select(*cols).where(p.identity_key.in_(keys)).order_by(p.identity_key)
        ).all()
    if not rows:
        raise _not_found(raw)
    if len(rows) > 1:
        choices = "; ".join(f"{r.identity_key} (id {r.id})" for r in rows)
        raise InvalidInput(
            "person",
            f"{raw!r} matches {len(rows)} people: {choices}. Give the id, or hub:<user> or "
            "local:<name>, instead.",
        )
    return Person(rows[0].id, rows[0].display_name, rows[0].role)


def _person_row(conn: Connection, person_id: str):
    row = conn.execute(select(schema.person).where(schema.person.c.id == person_id)).first()
    if row is None:
        raise RecordNotFound("person", person_id)
    return row


def _role_key(conn: Connection, row) -> str | None:
    """The casefolded name that discussion_role rows of this person carry, or None when another
    person has the same name (then those rows cannot be told apart and are left alone)."""
    key = row.display_name.casefold()
    names = conn.execute(
        select(schema.person.c.display_name).where(
            schema.person.c.id != row.id, schema.person.c.identity_key != ERASED_KEY
        )
    ).scalars()
    return None if any(n.casefold() == key for n in names) else key


def _ownership(conn: Connection, row) -> dict[str, ColumnElement]:
    """For each table, the WHERE clause selecting this person's rows (export and erasure)."""
    pid = row.id
    own = (
        select(schema.reflection.c.id).where(schema.reflection.c.person_id == pid).scalar_subquery()
    )
    entries = _library_entries_of(pid)
    key = _role_key(conn, row)
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


def _library_entries_of(person_id: str):
    return (
        select(schema.library_entry.c.id)
        .where(schema.library_entry.c.author_id == person_id)
        .scalar_subquery()
    )


def _exported(value: Any) -> Any:
    # an attachment's bytes: base64 text, so that export.json and the CSV files hold them
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(value).decode("ascii")
    return value


def _table(name: str) -> Table:
    return schema.metadata.tables[name]


# -- export ------------------------------------------------------------------------------------


def export_person(store: Store, person_id: str, actor_id: str | None = None) -> dict[str, Any]:
    """Everything of this person's, as plain JSON-ready values: ``{"tables": {name: [row]}}``.

    The export is audited ("person_exported", by `actor_id`: None for the operator's command);
    the audit rows in it are those where the person is the actor, read before that event is
    written.
    """
    with store.read() as conn:
        row = _person_row(conn, person_id)
        where = _ownership(conn, row)
        tables: dict[str, list[dict[str, Any]]] = {}
        for name in PERSON_TABLES:
            table = _table(name)
            rows = conn.execute(
                select(table).where(where[name]).order_by(*table.primary_key.columns)
            ).all()
            tables[name] = [
                {k: _exported(v) for k, v in r._mapping.items() if k not in _NOT_EXPORTED}
                for r in rows
            ]
    with store.write() as conn:
        store.audit(
            conn,
            actor_id=actor_id,
            action="person_exported",
            target_kind="person",
            target_id=person_id,
        )
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "schema_version": migrations.LATEST,
        "person_id": person_id,
        "exported_at": utc_now(),
        "tables": tables,
    }


def export_columns(name: str, rows: list[dict[str, Any]]) -> list[str]:
    """CSV header for one table of an export: the schema's column order."""
    if name in schema.metadata.tables:
        return [c.name for c in _table(name).columns if c.name not in _NOT_EXPORTED]
    return sorted({k for r in rows for k in r})


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600), replacing any earlier one atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The value as a CSV cell a spreadsheet shows as text: a leading apostrophe before text
    that would start a formula (OWASP). export.json keeps every value exactly."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_bytes(header: list[str], rows: Iterable[dict[str, Any]]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: csv_cell(v) for k, v in r.items()})
    return buf.getvalue().encode("utf-8")


def export_folder(out_dir: Path | str, person_id: str) -> Path:
    if not _SAFE_FOLDER.match(person_id or ""):
        raise InvalidInput("person", f"{person_id!r} cannot be used as a folder name.")
    return Path(out_dir) / person_id


def export_files(export: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(file name, bytes) of an export: ``export.json``, then one ``<table>.csv`` per table.

    UTF-8 without escaping, keys sorted. export.json keeps every value byte for byte; in the
    CSV files a text that a spreadsheet would run as a formula (starting with = + - @, a tab or
    a carriage return) gets a leading apostrophe.
    """
    body = json.dumps(export, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    files = [(EXPORT_JSON, body.encode("utf-8"))]
    for name, rows in sorted(export["tables"].items()):
        files.append((f"{name}.csv", _csv_bytes(export_columns(name, rows), rows)))
    return files


def write_export(export: dict[str, Any], out_dir: Path | str) -> list[Path]:
    """Write ``<out_dir>/<person id>/`` with export_files(export): files mode 0600 in a folder
    mode 0700."""
    folder = export_folder(out_dir, export["person_id"])
    Path(out_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.mkdir(exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    written: list[Path] = []
    for name, data in export_files(export):
        path = folder / name
        _write_private(path, data)
        written.append(path)
    return written


def export_my_data(store: Store, who: Person | None, person_id: str | None = None) -> bytes:
    """A zip (in memory, nothing written to disk) of everything of `who`'s own: the same
    files as `cop data export`. Policy "person.export": a person's own data only (person_id
    defaults to theirs; anyone else's is refused and audited)."""
    target = person_id if person_id is not None else (who.id if who else None)
    policy.require(store, who, "person.export", target)
    export = export_person(store, target, actor_id=who.id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in export_files(export):
            archive.writestr(name, data)
    return buffer.getvalue()


# -- scrubbing freed pages (SQLite) ------------------------------------------------------------


def _secure_delete_on(store: Store, conn: Connection) -> None:
    if store.is_sqlite:
        # Freed cells and pages are overwritten with zeros from here on (this connection only).
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


def _scrub(store: Store, vacuum: bool) -> dict[str, int]:
    """After a committed delete: optionally VACUUM, then copy every page into the database file
    and truncate the -wal to zero bytes.

    Returns ``vacuumed`` (0 if VACUUM could not get the store, e.g. busy) and ``wal_truncated``
    (0 if a reader kept the WAL from being truncated: old page images may then stay in it until
    the next checkpoint). The delete itself is committed either way.
    """
    if not store.is_sqlite:
        return {}
    done = {"vacuumed": 0, "wal_truncated": 0}
    raw = store.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()  # isolation_level None: no implicit transaction
        try:
            if vacuum:
                try:
                    cur.execute("VACUUM")
                    done["vacuumed"] = 1
                except sqlite3.OperationalError:
                    pass
            try:
                busy, _log, _moved = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                done["wal_truncated"] = int(busy == 0)
            except sqlite3.OperationalError:
                pass
        finally:
            cur.close()
    finally:
        raw.close()
    return done


# -- erasure -------------------------------------------------------------------------------------


def _placeholder(conn: Connection) -> str:
    """The one person that takes the place of an erased facilitator (made on first use)."""
    found = conn.execute(
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


def _erasure(conn: Connection, row, *, dry_run: bool) -> dict[str, int]:
    where = _ownership(conn, row)
    solo, shared = _shared_discussions(conn, row.id)
    # A discussion only they used goes, with its role rows; a shared one is kept (below).
    where["discussion"] = schema.discussion.c.id.in_(solo) if solo else false()
    if solo:
        where["discussion_role"] = or_(
            where["discussion_role"], schema.discussion_role.c.discussion_id.in_(solo)
        )
    # Their entries go whole: with others' comments and endorsements on them (not exported:
    # those are the others' own).
    entries = _library_entries_of(row.id)
    for name in ("library_comment", "library_endorsement"):
        table = _table(name)
        where[name] = or_(where[name], table.c.entry_id.in_(entries))
    counts: dict[str, int] = {}
    for name in PERSON_TABLES:
        if name == "audit_event":
            continue  # never changed
        table = _table(name)
        if dry_run:
            counts[name] = conn.execute(
                select(func.count()).select_from(table).where(where[name])
            ).scalar_one()
        else:
            counts[name] = conn.execute(delete(table).where(where[name])).rowcount
        if name == "discussion" and shared and not dry_run:
            _blank_discussions(conn, shared)  # before the person row goes (foreign key)
        if name == "library_entry" and counts[name] and not dry_run:
            library.purge_search_index(conn)  # no word of theirs stays in the search index
    counts[DISCUSSION_KEPT] = len(shared)
    counts[OWNER_REPLACED] = _replace_owner_name(conn, row, dry_run)
    return counts


def _replace_owner_name(conn: Connection, row, dry_run: bool) -> int:
    """Actions others recorded with this person as their owner keep the action but not the
    name (a free-text field: a new person of the same name must not inherit them)."""
    key = _role_key(conn, row)
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
        row = _person_row(conn, person_id)
        _refuse_placeholder(row)
        return _erasure(conn, row, dry_run=True)


def _refuse_placeholder(row) -> None:
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
    tests/test_data_rights.py shows such a copy surviving with ``vacuum=False``. VACUUM rewrites
    the whole file (it needs free disk space of about the store's size). Keys ``vacuumed`` and
    ``wal_truncated`` are 0 when the store was too busy for that step (the erasure itself is
    committed; the next erase or retention run finishes the job).
    """
    with store.write() as conn:
        row = _person_row(conn, person_id)
        _refuse_placeholder(row)
        _secure_delete_on(store, conn)
        counts = _erasure(conn, row, dry_run=False)
        store.audit(
            conn,
            actor_id=None,
            action="person_erased",
            target_kind="person",
            target_id=person_id,
        )
    counts.update(_scrub(store, vacuum))
    return counts


# -- retention -----------------------------------------------------------------------------------


def _check_days(what: str, days: int | None) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidInput("retention", f"The retention period for {what} is not whole days.")
    if days < 1:
        raise InvalidInput(
            "retention",
            f"The retention period for {what} is {days} days; it must be at least 1 day "
            "(leave it unset to keep them).",
        )
    return days


def _stamp(moment: datetime) -> str:
    """The stored form of a time (utc_now's): UTC, microseconds, +00:00; sorts as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class RetentionClass:
    """One class of personal data with its own retention period (unset: kept)."""

    name: str  # key in apply_retention's periods
    env: str  # the setting an operator uses
    what: str  # plain words, for messages and the README
    unit_days: int = 1  # 365 for a period given in years


RETENTION_CLASSES = (
    RetentionClass("reflections", "COP_RETAIN_REFLECTIONS_DAYS", "reflections (with answers, "
                   "reviews and feedback), by last change"),
    RetentionClass("discussion_notes", "COP_RETAIN_DISCUSSION_NOTES_DAYS",
                   "case discussion notes, by last change"),
    RetentionClass("case_summaries", "COP_RETAIN_CASE_SUMMARIES_DAYS",
                   "case summaries and content notes (blanked; the discussion stays)"),
    RetentionClass("actions", "COP_RETAIN_ACTIONS_DAYS", "case discussion actions"),
    RetentionClass("checkin_text", "COP_RETAIN_CHECKIN_TEXT_DAYS",
                   "written check-in and check-out answers (blanked; scores stay)"),
    RetentionClass("debriefs", "COP_RETAIN_DEBRIEFS_DAYS", "private check-out debriefs"),
    RetentionClass("commitments", "COP_RETAIN_COMMITMENTS_DAYS",
                   "commitments and their follow-up"),
    RetentionClass("directory", "COP_RETAIN_DIRECTORY_DAYS",
                   "directory entries, by last change"),
    RetentionClass("audit", "COP_RETAIN_AUDIT_YEARS", "audit events", unit_days=365),
)  # fmt: skip
RETENTION = {c.name: c for c in RETENTION_CLASSES}
# tables retention may change, in the order it works (children before parents)
RETENTION_TABLES = (
    "reflection_answer",
    "feedback",
    "review",
    "reflection",
    "discussion_note",
    "discussion",
    "discussion_action",
    "session_response",
    "commitment",
    "member_profile",
    "audit_event",
)


def retention_cutoffs(periods: Mapping[str, int | None], now: datetime) -> dict[str, str]:
    """Class name -> stored-time cutoff (older is removed) for every class with a period."""
    cuts: dict[str, str] = {}
    for name, period in periods.items():
        cls = RETENTION.get(name)
        if cls is None:
            raise InvalidInput("retention", f"Unknown retention class {name!r}.")
        days = _check_days(cls.what, period)
        if days is not None:
            cuts[name] = _stamp(now - timedelta(days=days * cls.unit_days))
    return cuts


def _retention_steps(cuts: dict[str, str]) -> list[tuple[str, ColumnElement, dict | None]]:
    """(table, rows, None to delete them or the values to blank them with)."""
    steps: list[tuple[str, ColumnElement, dict | None]] = []
    if "reflections" in cuts:
        old = schema.reflection.c.updated_at < cuts["reflections"]
        expired = select(schema.reflection.c.id).where(old).scalar_subquery()
        steps += [
            ("reflection_answer", schema.reflection_answer.c.reflection_id.in_(expired), None),
            ("feedback", schema.feedback.c.reflection_id.in_(expired), None),
            ("review", schema.review.c.reflection_id.in_(expired), None),
            ("reflection", old, None),
        ]
    if "discussion_notes" in cuts:
        cut = schema.discussion_note.c.updated_at < cuts["discussion_notes"]
        steps.append(("discussion_note", cut, None))
    if "case_summaries" in cuts:
        d = schema.discussion.c
        old = and_(
            d.updated_at < cuts["case_summaries"], or_(d.case_summary != "", d.content_note != "")
        )
        steps.append(("discussion", old, {"case_summary": "", "content_note": ""}))
    if "actions" in cuts:
        steps.append(("discussion_action", schema.discussion_action.c.created_at < cuts["actions"],
                      None))  # fmt: skip
    r = schema.session_response.c
    if "checkin_text" in cuts:  # anonymous answers keep only the session's date
        old = and_(r.person_id.is_(None), r.value_text.is_not(None),
                   r.answered_on < cuts["checkin_text"][:10])  # fmt: skip
        steps.append(("session_response", old, {"value_text": None}))
    if "debriefs" in cuts:
        old = and_(r.person_id.is_not(None), r.answered_on < cuts["debriefs"][:10])
        steps.append(("session_response", old, None))
    if "commitments" in cuts:
        steps.append(("commitment", schema.commitment.c.created_at < cuts["commitments"], None))
    if "directory" in cuts:
        steps.append(
            ("member_profile", schema.member_profile.c.updated_at < cuts["directory"], None)
        )
    if "audit" in cuts:
        steps.append(("audit_event", schema.audit_event.c.at < cuts["audit"], None))
    return steps


def apply_retention(
    store: Store,
    periods: Mapping[str, int | None],
    now: datetime,
    *,
    dry_run: bool = False,
    vacuum: bool = True,
) -> dict[str, int]:
    """Remove what is older than each class's period (RETENTION_CLASSES; None or missing
    keeps it). Returns rows per table ("<table> blanked" where text was blanked instead).

    Times compare as stored text (UTC ISO 8601 with microseconds, as utc_now writes them;
    check-in answers keep only their session's date). One "retention_applied" audit event per
    run that is not a dry run. Audit events older than their period are the one change the
    append-only audit table allows, here only. A naive ``now`` is taken as UTC. Deleted text is
    scrubbed as in erase_person (secure_delete, VACUUM when anything changed, WAL truncated).
    """
    steps = _retention_steps(retention_cutoffs(periods, now))
    counts: dict[str, int] = {name: 0 for name in RETENTION_TABLES[:5]}

    def key(table: str, blank: dict | None) -> str:
        return table if blank is None else f"{table} blanked"

    if dry_run:
        with store.read() as conn:
            for table, rows, blank in steps:
                counts[key(table, blank)] = (
                    counts.get(key(table, blank), 0)
                    + conn.execute(
                        select(func.count()).select_from(_table(table)).where(rows)
                    ).scalar_one()
                )
        return counts
    with store.write() as conn:
        _secure_delete_on(store, conn)
        for table, rows, blank in steps:
            if table == "audit_event":
                done = _delete_old_audit(conn, rows)
            elif blank is None:
                done = conn.execute(delete(_table(table)).where(rows)).rowcount
            else:
                done = conn.execute(sql_update(_table(table)).where(rows).values(**blank)).rowcount
            counts[key(table, blank)] = counts.get(key(table, blank), 0) + done
        store.audit(
            conn,
            actor_id=None,
            action="retention_applied",
            target_kind="store",
            target_id=None,
        )
    if any(counts.values()):
        counts.update(_scrub(store, vacuum))
    return counts


def _delete_old_audit(conn: Connection, rows: ColumnElement) -> int:
    """The audit table refuses deletes (a trigger); retention lifts that for this one statement
    inside its own transaction and puts it back before the commit."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
        done = conn.execute(delete(schema.audit_event).where(rows)).rowcount
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
        )
        return done
    conn.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    done = conn.execute(delete(schema.audit_event).where(rows)).rowcount
    conn.exec_driver_sql("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    return done


# -- backup --------------------------------------------------------------------------------------


def _backup_path(dest: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        path = dest / (f"cop-{stamp}.sqlite" if n == 1 else f"cop-{stamp}-{n}.sqlite")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise StoreUnavailable(f"Too many backups named cop-{stamp}*.sqlite in {dest}.")


def backup(store: Store, dest_dir: Path | str) -> Path:
    """Copy the live store with SQLite's online backup API to ``dest_dir/cop-<UTC>.sqlite``.

    Safe while others write: the copy is one consistent snapshot (WAL readers do not block
    writers). The copy is a single file (journal_mode DELETE, no -wal needed), mode 0600, and
    must pass ``PRAGMA integrity_check``, else StoreUnavailable names it.
    """
    if not store.is_sqlite:
        raise InvalidInput(
            "store",
            "cop data backup copies SQLite stores only; back up a "
            f"{store.engine.dialect.name} store with its own tools (e.g. pg_dump).",
        )
    source_file = store.engine.url.database
    if not source_file or source_file == ":memory:":
        raise InvalidInput("store", "An in-memory store has no file to back up.")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = _backup_path(dest)
    timeout = store.settings.busy_timeout_ms / 1000
    try:
        with (
            closing(sqlite3.connect(source_file, timeout=timeout)) as src,
            closing(sqlite3.connect(path, timeout=timeout, isolation_level=None)) as dst,
        ):
            src.backup(dst)  # pages=-1: one step, one read snapshot of the source
            dst.execute("PRAGMA journal_mode = DELETE")
            result = [r[0] for r in dst.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.Error as exc:
        path.unlink(missing_ok=True)
        raise StoreUnavailable(f"The backup to {path} failed: {exc}. Nothing was kept.") from None
    if result != ["ok"]:
        raise StoreUnavailable(
            f"The backup {path} failed integrity_check ({'; '.join(result[:3])}). Do not rely "
            "on it; check the store itself with `cop init` and try again."
        )
    with store.write() as conn:
        store.audit(conn, actor_id=None, action="backup_made", target_kind="store", target_id=None)
    return path


def count_rows(store: Store) -> dict[str, int]:
    """Rows per table of the schema (used to compare a backup with its source)."""
    with store.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in schema.metadata.sorted_tables
        }
