"""Checks of a SQLite store file that SQLite itself keeps quiet about, and the operator's tools.

SQLite treats an empty file as a new database and silently drops a `-wal` file it cannot
trust (a bad header, or a first frame that does not match it) — in both cases saved work is
gone without a word. Here, before the store is opened:

- an existing file of 0 bytes, or one that does not start with SQLite's header, is refused
  (StoreFileDamaged names the file and says to restore a backup) instead of becoming an empty
  store; a new store is created whole (header written, then linked into place), so a store
  file is never 0 bytes by our hand;
- a non-empty `-wal` that SQLite would discard is copied aside to
  `<store>-wal.damaged-<UTC time>` and logged before SQLite sees it.

While a server runs, `quick_check` runs at start and every CHECK_EVERY_SECONDS (StoreWatch);
when it fails, the damage marker `<store>-damaged` is written and every process on the store
refuses saves (Store.write) until the store is restored. `store_health` is what `cop check`
prints (server_store_health for PostgreSQL: can it be reached, schema version; its files are
the server's to check); `restore` is `cop data restore`. SQLite only: PostgreSQL has its own
tools.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    delete,
    func,
    select,
)

from cop_widgets.errors import InvalidInput, StoreFileDamaged, StoreUnavailable
from cop_widgets.settings import Settings
from cop_widgets.store import schema

if TYPE_CHECKING:  # db imports this module: the Store type is for annotations only
    from cop_widgets.store.db import Store

log = logging.getLogger("cop_widgets.store")

SQLITE_HEADER = b"SQLite format 3\x00"
WAL_MAGIC = (0x377F0682, 0x377F0683)  # little- and big-endian checksums
WAL_VERSION = 3007000
WAL_HEADER_BYTES = 32
WAL_FRAME_HEADER_BYTES = 24
CHECK_EVERY_SECONDS = 600.0
WAL_LIMIT_BYTES = 64 * 1024 * 1024
MIN_FREE_BYTES = 256 * 1024 * 1024
BACKUP_MAX_AGE_ENV = "COP_BACKUP_MAX_AGE_HOURS"
BACKUP_MAX_AGE_HOURS = 26.0
RESTORE_HINT = "restore the newest good backup with `cop data restore <backup file>`"


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def marker_path(db_path: str | Path) -> Path:
    """The damage marker next to the store: while it exists no process saves to the store."""
    return Path(str(db_path) + "-damaged")


def backups_dir(db_path: str | Path) -> Path:
    return Path(db_path).resolve().parent / "backups"


# -- the store file ------------------------------------------------------------------------------
def inspect_store_file(db_path: str | Path) -> None:
    """Refuse a file that SQLite would take for a new, empty store (0 bytes) or that is not a
    SQLite database at all. A missing file is fine (a new store is created).

    The file is read through SQLite, never with open()/close() of our own: closing a file
    descriptor drops every POSIX lock this process holds on that file, including the locks of
    connections already open on the store (sqlite.org/howtocorrupt.html)."""
    path = Path(db_path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        raise StoreFileDamaged(
            path,
            "is empty (0 bytes), so everything it held is gone; it was not opened as a new store",
        )
    try:
        with closing(sqlite3.connect(_uri(path, "rw"), uri=True, timeout=1.0)) as conn:
            conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name == "SQLITE_NOTADB" or "not a database" in str(exc):
            raise StoreFileDamaged(
                path, "is not a SQLite database (its first bytes are something else)"
            ) from None
        # busy, locked, damaged pages: open_store's own checks report these


def _uri(path: Path, mode: str) -> str:
    return f"{path.resolve().as_uri()}?mode={mode}"


def create_store_file(db_path: str | Path) -> bool:
    """Create a new, empty WAL-mode store file whole (never a 0-byte file), readable by its
    owner only. False when the file exists already (also when another process made it first)."""
    path = Path(db_path)
    if path.exists():
        return False
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        with closing(sqlite3.connect(tmp)) as conn:
            conn.execute("PRAGMA journal_mode = WAL")  # writes the first page
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)


# -- the -wal file -------------------------------------------------------------------------------
def _checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_problem(wal: bytes) -> str | None:
    """Why SQLite would discard everything in this (non-empty) WAL, or None if it would not.

    SQLite ignores a WAL whose header is invalid (magic, version, page size, checksum) and
    replays frames only up to the first one whose salt or checksum does not match, so a WAL
    whose first frame fails adds nothing either."""
    if not wal:
        return None
    if len(wal) < WAL_HEADER_BYTES:
        return f"it is {len(wal)} bytes, shorter than a WAL header"
    magic, version, page_size, _seq, salt1, salt2, ck1, ck2 = struct.unpack(">8I", wal[:32])
    if magic not in WAL_MAGIC:
        return f"its header does not start with a WAL magic number (found {magic:#010x})"
    if version != WAL_VERSION:
        return f"its header names WAL format {version}, not {WAL_VERSION}"
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        return f"its header names an impossible page size ({page_size})"
    big = magic == WAL_MAGIC[1]
    s0, s1 = _checksum(wal[:24], 0, 0, big)
    if (s0, s1) != (ck1, ck2):
        return "its header checksum does not match"
    frame_end = WAL_HEADER_BYTES + WAL_FRAME_HEADER_BYTES + page_size
    if len(wal) < frame_end:
        return None  # no complete frame: nothing committed in it to lose
    frame = wal[WAL_HEADER_BYTES:frame_end]
    _page, _commit, fsalt1, fsalt2, fck1, fck2 = struct.unpack(">6I", frame[:24])
    if (fsalt1, fsalt2) != (salt1, salt2):
        return "its first frame's salt does not match its header"
    s0, s1 = _checksum(frame[:8], s0, s1, big)
    s0, s1 = _checksum(frame[24:], s0, s1, big)
    if (s0, s1) != (fck1, fck2):
        return "its first frame's checksum does not match"
    return None


def _wal_head(wal_path: Path) -> bytes | None:
    """The WAL header and its first frame (all wal_problem reads), or None if there is none."""
    try:
        with open(wal_path, "rb") as fh:
            return fh.read(WAL_HEADER_BYTES + WAL_FRAME_HEADER_BYTES + 65536)
    except FileNotFoundError:
        return None


def keep_discarded_wal(db_path: str | Path) -> Path | None:
    """If the store's -wal is one SQLite would discard, copy it to
    `<store>-wal.damaged-<UTC time>` (the original is left for SQLite) and return the copy."""
    wal_path = Path(str(db_path) + "-wal")
    data = _wal_head(wal_path)
    problem = wal_problem(data) if data is not None else None
    if problem is None:
        return None
    time.sleep(0.05)  # a live writer may be restarting the WAL this instant: look again
    again = _wal_head(wal_path)
    if again is None:
        return None
    if again != data and wal_problem(again) is None:
        return None
    copy = wal_path.with_name(f"{wal_path.name}.damaged-{utc_stamp()}")
    shutil.copy2(wal_path, copy)
    os.chmod(copy, 0o600)
    message = (
        f"The store's write-ahead log {wal_path} cannot be used ({problem}); SQLite will drop "
        f"what it held. A copy was kept as {copy}. Saves made just before this may be missing: "
        f"check the newest entries, or {RESTORE_HINT}."
    )
    log.error(message)
    kept_wal_messages.append(message)
    return copy


# Messages about WAL copies made in this process (`cop` prints them; servers log them).
kept_wal_messages: list[str] = []


# -- quick_check and the damage marker ----------------------------------------------------------
def quick_check(db_path: str | Path, timeout_s: float = 5.0) -> str:
    """'ok', or what PRAGMA quick_check (or opening the file) reported, on a connection of its
    own that never creates a file."""
    uri = _uri(Path(db_path), "rw")
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout_s)) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.Error as exc:
        return f"cannot be read: {exc}"
    return "ok" if rows == ["ok"] else "; ".join(str(r) for r in rows[:3])


def mark_damaged(db_path: str | Path, reason: str) -> Path:
    marker = marker_path(db_path)
    text = (
        f"{datetime.now(UTC).isoformat(timespec='seconds')} the store {db_path} is damaged: "
        f"{reason}\nNo saves are accepted until it is restored: {RESTORE_HINT}.\n"
    )
    if not marker.exists():
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(text)
        log.error(text.strip())
    return marker


def damage_reason(db_path: str | Path) -> str | None:
    """The first line of the damage marker, or None when the store is not marked damaged."""
    try:
        return marker_path(db_path).read_text(errors="replace").splitlines()[0]
    except (FileNotFoundError, IndexError):
        return None


class StoreWatch:
    """quick_check the store now and every `every` seconds in a daemon thread; on failure
    write the damage marker (all processes then refuse saves) and call on_damage(reason)."""

    def __init__(
        self,
        db_path: str | Path,
        every: float = CHECK_EVERY_SECONDS,
        on_damage: Callable[[str], None] | None = None,
    ):
        self.db_path, self.every, self.on_damage = Path(db_path), every, on_damage
        self.last: tuple[str, float] | None = None  # (result, seconds taken)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cop-store-watch", daemon=True)

    def start(self) -> StoreWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def check_now(self) -> str:
        if not self.db_path.exists():
            return "ok"
        started = time.monotonic()
        result = quick_check(self.db_path)
        self.last = (result, time.monotonic() - started)
        if result != "ok" and "locked" not in result:
            mark_damaged(self.db_path, f"quick_check: {result}")
            if self.on_damage is not None:
                self.on_damage(result)
        return result

    def _run(self) -> None:
        while True:
            try:
                self.check_now()
            except Exception:  # noqa: BLE001 - the watch must outlive a failed check
                log.exception("the store check failed to run")
            if self._stop.wait(self.every):
                return


def watch_configured_store(every: float = CHECK_EVERY_SECONDS) -> StoreWatch | None:
    """Start a StoreWatch on the configured SQLite store (for the long-running server)."""
    from sqlalchemy.engine import make_url

    from cop_widgets.settings import load_settings

    try:
        url = make_url(load_settings().database_url)
    except Exception:  # noqa: BLE001 - a bad setting is reported by open_store, not here
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return StoreWatch(url.database, every).start()


# -- is a server using the store? -----------------------------------------------------------------
def store_in_use(db_path: str | Path, wait_s: float = 0.5) -> str | None:
    """Why the store looks in use by a running server (or None). Two tests, either suffices:
    another process holds the write gate, or another process holds SQLite's shared-memory lock
    (every open connection in WAL mode holds a shared lock on the -shm file's DMS byte)."""
    db = Path(db_path)
    gate = Path(str(db) + "-writegate")
    if gate.exists():
        fd = os.open(gate, os.O_RDWR)
        try:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return f"another process is saving to it (it holds {gate})"
                    time.sleep(0.05)
        finally:
            os.close(fd)
    shm = Path(str(db) + "-shm")
    if shm.exists():
        # SQLite takes a POSIX shared lock on byte 128 of -shm ("DMS") while a connection is
        # open; an exclusive lock there is granted only when no other process has it open.
        fd = os.open(shm, os.O_RDWR)
        try:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
            except OSError:
                return f"another process has it open (it holds {shm})"
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, 128)
        finally:
            os.close(fd)
    return None


# -- restore --------------------------------------------------------------------------------------
def verify_backup(backup: Path) -> int:
    """integrity_check the backup file and return its schema version; StoreUnavailable if it
    is not a good backup this version of CoP Workbook can use."""
    from cop_widgets.store.migrations import LATEST

    if not backup.is_file():
        raise StoreUnavailable(f"The backup {backup} does not exist. Nothing was changed.")
    try:
        inspect_store_file(backup)
    except StoreFileDamaged as exc:
        raise StoreUnavailable(f"The backup {exc.path} {exc.what}. Nothing was changed.") from None
    uri = _uri(backup, "ro")
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if result != ["ok"]:
                raise StoreUnavailable(
                    f"The backup {backup} fails integrity_check ({'; '.join(result[:3])}). "
                    "Nothing was changed; choose an older backup."
                )
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreUnavailable(
            f"The backup {backup} cannot be read as a CoP Workbook store ({exc}). "
            "Nothing was changed."
        ) from None
    if not isinstance(version, int) or version < 1 or version > LATEST:
        raise StoreUnavailable(
            f"The backup {backup} has schema version {version!r}; this version of CoP Workbook "
            f"knows 1 to {LATEST}. Nothing was changed; update the software or pick another "
            "backup."
        )
    return version


@dataclass(frozen=True)
class Restored:
    backup: Path
    store: Path
    moved_aside: tuple[Path, ...]
    schema_version: int


def restore(db_path: str | Path, backup: str | Path, *, force: bool = False) -> Restored:
    """Put `backup` in place of the store. Refused while a server uses the store (unless
    force); the backup is verified first; the current store, its -wal, -shm and damage marker
    are moved aside (renamed with `.before-restore-<UTC time>`, never deleted); the copy is
    checked with integrity_check before it is reported restored."""
    db, src = Path(db_path).resolve(), Path(backup).resolve()
    if src == db:
        raise StoreUnavailable(f"{src} is the store itself; give a backup file to restore.")
    version = verify_backup(src)
    if not force:
        busy = store_in_use(db)
        if busy:
            raise StoreUnavailable(
                f"Not restored: the store {db} is in use ({busy}). Stop `cop serve` and "
                "`cop review` first (or, if you are sure nothing runs, add --force). "
                "Nothing was changed."
            )
    stamp = utc_stamp()
    moved: list[Path] = []
    for suffix in ("", "-wal", "-shm", "-damaged"):
        current = Path(str(db) + suffix)
        if current.exists():
            aside = current.with_name(f"{current.name}.before-restore-{stamp}")
            os.rename(current, aside)
            moved.append(aside)
    tmp = db.with_name(f".{db.name}.restoring-{stamp}")
    shutil.copyfile(src, tmp)
    os.chmod(tmp, 0o600)
    with closing(sqlite3.connect(tmp, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    os.rename(tmp, db)
    for leftover in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    result = quick_check(db)
    if result != "ok":
        raise StoreUnavailable(
            f"The restored store {db} fails quick_check ({result}); the previous files are "
            f"kept as {', '.join(map(str, moved)) or 'nothing'}."
        )
    return Restored(src, db, tuple(moved), version)


# -- cop check ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Health:
    ok: bool
    name: str
    text: str
    note: bool = False  # worth saying, not a check (`cop check` prints "note")


def check_store(settings: Settings) -> list[Health]:
    """What `cop check` says about the configured store: a SQLite file's checks
    (store_health), or a database server's (server_store_health). A store not created yet, or
    a setting that cannot be used, is one line, never a traceback."""
    from sqlalchemy.exc import ArgumentError

    from cop_widgets.store.db import store_url

    try:
        url = store_url(settings.database_url)
    except ArgumentError as exc:
        return [
            Health(False, "setting", f"COP_DATABASE_URL is not a usable URL ({exc}). Example: "
                   "sqlite:////srv/cop/cop.sqlite or postgresql://user:password@host/cop")
        ]  # fmt: skip
    if url.get_backend_name() != "sqlite":
        return server_store_health(settings)
    if not url.database or url.database == ":memory:":
        return [Health(True, "store", "in memory, nothing to check", note=True)]
    if not os.path.exists(url.database):
        return [
            Health(True, "store", f"{url.database} does not exist yet (`cop init` creates it)",
                   note=True)
        ]  # fmt: skip
    return store_health(url.database)


def _schema_health(version: int | None, why: str = "") -> Health:
    from cop_widgets.store.migrations import LATEST

    if version == LATEST:
        return Health(True, "schema", f"version {version} (latest)")
    if isinstance(version, int) and version < LATEST:
        return Health(
            False, "schema", f"version {version}, software expects {LATEST}: run `cop init`"
        )
    return Health(False, "schema", f"version {version!r} ({why or 'newer than this software'});"
                  f" this software knows up to {LATEST}")  # fmt: skip


def server_store_health(settings: Settings) -> list[Health]:
    """`cop check` for a store on a database server (PostgreSQL): can it be reached with
    these settings (one plain line if not: db.connection_problem), its schema version, and how
    it sorts text. The checks of a SQLite file (integrity, WAL, free disk, backups) are named
    as skipped: the server has its own tools."""
    from cop_widgets.errors import CopWidgetsError
    from cop_widgets.store.db import open_store
    from cop_widgets.store.migrations import applied_versions

    try:
        store = open_store(settings, migrate=False)
    except CopWidgetsError as exc:
        return [Health(False, "server", str(exc))]
    try:
        with store.read() as conn:
            applied = applied_versions(conn)
            server = collate = None
            if store.is_postgres:
                server = conn.exec_driver_sql("SHOW server_version").scalar()
                collate = conn.exec_driver_sql(
                    "SELECT datcollate FROM pg_database WHERE datname = current_database()"
                ).scalar()
    except CopWidgetsError as exc:
        return [Health(False, "server", f"{store.url}: {exc}")]
    finally:
        store.dispose()
    kind = f"PostgreSQL {server}" if server else store.engine.dialect.name
    out = [Health(True, "server", f"{kind} at {store.url} answers")]
    if not applied:
        out.append(Health(True, "schema", "no CoP Workbook tables yet (`cop init` creates them)",
                          note=True))  # fmt: skip
    else:
        out.append(_schema_health(max(applied)))
    if collate is not None and collate not in ("C", "POSIX", "C.UTF-8", "C.utf8"):
        out.append(
            Health(True, "collation", f"{collate}: lists sort by its language's rules, not "
                   "byte by byte as on SQLite (for the same order: createdb --locale=C)",
                   note=True)
        )  # fmt: skip
    out.append(
        Health(True, "checks", "integrity, WAL, free disk and backup age are checks of a SQLite "
               "file, skipped here: use the server's own (pg_amcheck; backups with pg_dump or "
               "your provider's, and their retention)", note=True)
    )  # fmt: skip
    return out


def newest_backup(folder: Path) -> Path | None:
    found = [p for p in folder.glob("cop-*.sqlite") if p.is_file()] if folder.is_dir() else []
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def backup_max_age_hours(env: Mapping[str, str] | None = None) -> float:
    raw = ((os.environ if env is None else env).get(BACKUP_MAX_AGE_ENV) or "").strip()
    try:
        return float(raw) if raw else BACKUP_MAX_AGE_HOURS
    except ValueError:
        raise StoreUnavailable(
            f"{BACKUP_MAX_AGE_ENV} is {raw!r}; set it to a number of hours."
        ) from None


def store_health(db_path: str | Path, backup_folder: Path | None = None) -> list[Health]:
    """One line per check of the store file: file, damage marker, integrity, schema version,
    WAL size, free disk space, newest backup's age."""
    db = Path(db_path)
    out: list[Health] = []
    try:
        inspect_store_file(db)
    except StoreFileDamaged as exc:
        return [Health(False, "store", str(exc))]
    reason = damage_reason(db)
    if reason:
        out.append(Health(False, "damage", f"{marker_path(db)}: {reason}; {RESTORE_HINT}"))
    result = quick_check(db)
    out.append(
        Health(result == "ok", "integrity", f"quick_check {result}" if result == "ok" else
               f"{db}: quick_check failed: {result}; {RESTORE_HINT}")
    )  # fmt: skip
    try:
        with closing(sqlite3.connect(_uri(db, "rw"), uri=True, timeout=5.0)) as conn:
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    except sqlite3.Error as exc:
        version, why = None, str(exc)
    else:
        why = ""
    out.append(_schema_health(version, why))
    wal = Path(str(db) + "-wal")
    wal_size = wal.stat().st_size if wal.exists() else 0
    head = _wal_head(wal)
    problem = wal_problem(head) if head else None
    if problem:
        out.append(
            Health(False, "wal", f"{wal} cannot be used ({problem}); SQLite will drop it when "
                   "the store is next opened (a copy is then kept next to it)")
        )  # fmt: skip
    out.append(
        Health(
            wal_size <= WAL_LIMIT_BYTES,
            "wal",
            f"{wal_size:,} bytes"
            + (
                ""
                if wal_size <= WAL_LIMIT_BYTES
                else f" (over {WAL_LIMIT_BYTES:,}: something keeps a read open so the WAL is "
                "never checkpointed; restart the servers when the room is quiet)"
            ),
        )
    )
    free = shutil.disk_usage(db.resolve().parent).free
    need = max(MIN_FREE_BYTES, 2 * (db.stat().st_size + wal_size))
    out.append(
        Health(
            free >= need,
            "disk",
            f"{free / 2**20:,.0f} MiB free next to the store"
            + ("" if free >= need else f" (need {need / 2**20:,.0f} MiB: free some space)"),
        )
    )
    folder = backup_folder or backups_dir(db)
    newest = newest_backup(folder)
    limit = backup_max_age_hours()
    if newest is None:
        out.append(
            Health(False, "backup", f"no backup in {folder}: run `cop data backup --every 1h "
                   "--keep 48` (or `cop data backup` from cron)")
        )  # fmt: skip
    else:
        age_h = (time.time() - newest.stat().st_mtime) / 3600
        out.append(
            Health(
                age_h <= limit,
                "backup",
                f"newest {newest} is {age_h:.1f} h old"
                + ("" if age_h <= limit else f" (older than {limit:g} h: is the backup running?)"),
            )
        )
    return out


def secure_delete_on(store: Store, conn: Connection) -> None:
    if store.is_sqlite:
        # Freed cells and pages are overwritten with zeros from here on (this connection only).
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


def scrub(store: Store, vacuum: bool) -> dict[str, int]:
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
        # known by construction: a store file's connection is SQLite's driver's (pysqlite)
        driver_connection = cast(sqlite3.Connection, raw.driver_connection)
        cur = driver_connection.cursor()  # isolation_level None: no implicit transaction
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


def delete_audit_rows(conn: Connection, rows: ColumnElement[bool]) -> int:
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
