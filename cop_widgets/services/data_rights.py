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

import csv
import io
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, delete, false, func, insert, or_, select
from sqlalchemy import update as sql_update

from ..errors import InvalidInput, RecordNotFound, StoreUnavailable
from ..store import Store, migrations
from ..store import schema as S
from ..store.db import utc_now
from ..text import clean_display_name
from .identity import Person

ERASED_KEY = "erased:"
ERASED_NAME = "(erased person)"
EXPORT_FORMAT = "cop-workbook-export"
EXPORT_FORMAT_VERSION = 1
EXPORT_JSON = "export.json"
DISCUSSION_KEPT = "discussion_kept_blanked"
RETENTION_TABLES = ("reflection_answer", "feedback", "review", "reflection", "discussion_note")
_SAFE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# The group's own records: no person's data in them; erasing their creator leaves them with
# created_by set to NULL by the database (ON DELETE SET NULL).
GROUP_TABLES = ("community", "cop_session")

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
    "discussion_note",
    "discussion_action",
    "discussion_role",
    "discussion",
    "person_role",
    "supervision",
    "supervisor_preference",
    "comment_bank",
    "audit_event",
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
    p = S.person.c
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
    row = conn.execute(select(S.person).where(S.person.c.id == person_id)).first()
    if row is None:
        raise RecordNotFound("person", person_id)
    return row


def _role_key(conn: Connection, row) -> str | None:
    """The casefolded name that discussion_role rows of this person carry, or None when another
    person has the same name (then those rows cannot be told apart and are left alone)."""
    key = row.display_name.casefold()
    names = conn.execute(
        select(S.person.c.display_name).where(
            S.person.c.id != row.id, S.person.c.identity_key != ERASED_KEY
        )
    ).scalars()
    return None if any(n.casefold() == key for n in names) else key


def _ownership(conn: Connection, row) -> dict[str, ColumnElement]:
    """For each table, the WHERE clause selecting this person's rows (export and erasure)."""
    pid = row.id
    own = select(S.reflection.c.id).where(S.reflection.c.person_id == pid).scalar_subquery()
    key = _role_key(conn, row)
    return {
        # Feedback and reviews on their reflections (about them) and those they wrote (theirs).
        "feedback": or_(S.feedback.c.reflection_id.in_(own), S.feedback.c.supervisor_id == pid),
        "review": or_(S.review.c.reflection_id.in_(own), S.review.c.supervisor_id == pid),
        "reflection_answer": S.reflection_answer.c.reflection_id.in_(own),
        "reflection": S.reflection.c.person_id == pid,
        "discussion_rating": S.discussion_rating.c.person_id == pid,
        "attendance": S.attendance.c.person_id == pid,
        "session_role": S.session_role.c.person_id == pid,
        # anonymous answers carry no person and so are not theirs to export or erase
        "session_response": S.session_response.c.person_id == pid,
        "session_answered": S.session_answered.c.person_id == pid,
        "commitment": S.commitment.c.person_id == pid,
        "member_profile": S.member_profile.c.person_id == pid,
        "discussion_note": S.discussion_note.c.author_id == pid,
        "discussion_action": S.discussion_action.c.created_by == pid,
        "discussion_role": (S.discussion_role.c.holder_key == key) if key else false(),
        "discussion": S.discussion.c.facilitator_id == pid,
        "person_role": S.person_role.c.person_id == pid,
        "supervision": or_(
            S.supervision.c.supervisor_id == pid, S.supervision.c.supervisee_id == pid
        ),
        "supervisor_preference": S.supervisor_preference.c.supervisor_id == pid,
        "comment_bank": S.comment_bank.c.supervisor_id == pid,
        "audit_event": S.audit_event.c.actor_id == pid,
        "sign_in_link": S.sign_in_link.c.person_id == pid,
        "passphrase": S.passphrase.c.person_id == pid,
        "web_session": S.web_session.c.person_id == pid,
        "person": S.person.c.id == pid,
    }


def _table(name: str) -> Table:
    return S.metadata.tables[name]


# -- export ------------------------------------------------------------------------------------


def export_person(store: Store, person_id: str) -> dict[str, Any]:
    """Everything of this person's, as plain JSON-ready values: ``{"tables": {name: [row]}}``.

    The export is audited ("person_exported"); the audit rows in it are those where the person
    is the actor, read before that event is written.
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
                {k: v for k, v in r._mapping.items() if k not in _NOT_EXPORTED} for r in rows
            ]
    with store.write() as conn:
        store.audit(
            conn,
            actor_id=None,
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
    if name in S.metadata.tables:
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


def write_export(export: dict[str, Any], out_dir: Path | str) -> list[Path]:
    """Write ``<out_dir>/<person id>/export.json`` and one ``<table>.csv`` per table.

    UTF-8 without escaping, keys sorted, files mode 0600 in a folder mode 0700. export.json
    keeps every value byte for byte; in the CSV files a text that a spreadsheet would run as a
    formula (starting with = + - @, a tab or a carriage return) gets a leading apostrophe.
    """
    folder = export_folder(out_dir, export["person_id"])
    Path(out_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.mkdir(exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    written: list[Path] = []
    body = json.dumps(export, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    path = folder / EXPORT_JSON
    _write_private(path, body.encode("utf-8"))
    written.append(path)
    for name, rows in sorted(export["tables"].items()):
        path = folder / f"{name}.csv"
        _write_private(path, _csv_bytes(export_columns(name, rows), rows))
        written.append(path)
    return written


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
        select(S.person.c.id).where(S.person.c.identity_key == ERASED_KEY)
    ).scalar()
    if found is not None:
        return found
    pid = str(uuid.uuid4())
    conn.execute(
        insert(S.person).values(
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
            select(S.discussion.c.id)
            .where(S.discussion.c.facilitator_id == person_id)
            .order_by(S.discussion.c.id)
        ).scalars()
    )
    if not started:
        return [], []
    shared: set[str] = set()
    for table, who in (
        (S.discussion_note, S.discussion_note.c.author_id),
        (S.discussion_action, S.discussion_action.c.created_by),
        (S.discussion_rating, S.discussion_rating.c.person_id),
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
    where["discussion"] = S.discussion.c.id.in_(solo) if solo else false()
    if solo:
        where["discussion_role"] = or_(
            where["discussion_role"], S.discussion_role.c.discussion_id.in_(solo)
        )
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
    counts[DISCUSSION_KEPT] = len(shared)
    return counts


def _blank_discussions(conn: Connection, ids: list[str]) -> None:
    placeholder = _placeholder(conn)
    conn.execute(
        sql_update(S.discussion)
        .where(S.discussion.c.id.in_(ids))
        .values(
            case_summary="",
            content_note="",
            facilitator_id=placeholder,
            updated_at=utc_now(),
            revision=S.discussion.c.revision + 1,
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


def retention_cutoffs(
    reflections_days: int | None, discussion_notes_days: int | None, now: datetime
) -> tuple[str | None, str | None]:
    r = _check_days("reflections", reflections_days)
    n = _check_days("discussion notes", discussion_notes_days)
    return (
        None if r is None else _stamp(now - timedelta(days=r)),
        None if n is None else _stamp(now - timedelta(days=n)),
    )


def apply_retention(
    store: Store,
    reflections_days: int | None,
    discussion_notes_days: int | None,
    now: datetime,
    *,
    dry_run: bool = False,
    vacuum: bool = True,
) -> dict[str, int]:
    """Delete reflections (with answers, feedback, reviews) last changed before
    ``now - reflections_days`` and discussion notes last changed before
    ``now - discussion_notes_days``. None keeps them forever. Returns rows per table.

    Times compare as stored text (UTC ISO 8601 with microseconds, as utc_now writes them). One
    "retention_applied" audit event per run that is not a dry run; the counts are returned,
    not audited. A naive ``now`` is taken as UTC. Deleted text is scrubbed as in erase_person
    (secure_delete, VACUUM when anything was deleted, WAL truncated).
    """
    reflections_cut, notes_cut = retention_cutoffs(reflections_days, discussion_notes_days, now)
    where: dict[str, ColumnElement] = {name: false() for name in RETENTION_TABLES}
    if reflections_cut is not None:
        expired = (
            select(S.reflection.c.id)
            .where(S.reflection.c.updated_at < reflections_cut)
            .scalar_subquery()
        )
        where["reflection_answer"] = S.reflection_answer.c.reflection_id.in_(expired)
        where["feedback"] = S.feedback.c.reflection_id.in_(expired)
        where["review"] = S.review.c.reflection_id.in_(expired)
        where["reflection"] = S.reflection.c.updated_at < reflections_cut
    if notes_cut is not None:
        where["discussion_note"] = S.discussion_note.c.updated_at < notes_cut
    counts: dict[str, int] = {}
    if dry_run:
        with store.read() as conn:
            for name in RETENTION_TABLES:
                counts[name] = conn.execute(
                    select(func.count()).select_from(_table(name)).where(where[name])
                ).scalar_one()
        return counts
    with store.write() as conn:
        _secure_delete_on(store, conn)
        for name in RETENTION_TABLES:
            counts[name] = conn.execute(delete(_table(name)).where(where[name])).rowcount
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
            for t in S.metadata.sorted_tables
        }
