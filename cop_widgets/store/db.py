"""Connections to the shared store and the transaction rules every write follows.

SQLite (the default) is set up as measured in PERFORMANCE.md §7: WAL, synchronous=NORMAL, a
busy timeout of at least 5 s, foreign keys on, and BEGIN IMMEDIATE for every write so that a
read-then-write save cannot fail half way under concurrent writers.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError

from ..errors import (
    StoreBusy,
    StoreDamaged,
    StoreFailure,
    StoreFileDamaged,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)
from ..settings import Settings, load_settings
from . import maintenance, migrations, schema
from .write_gate import gate_path, hold_write_gate

_WRITE = "cop_write"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _is_lock_error(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    return isinstance(orig, sqlite3.OperationalError) and (
        "database is locked" in text or "database is busy" in text
    )


def store_failure(exc: DBAPIError) -> StoreFailure | None:
    """The project error for a failure of the store itself (busy, full, read-only, damaged, or
    any other operational error), or None for an error that is the caller's to handle
    (IntegrityError: callers catch it to retry; ProgrammingError and the like: a bug)."""
    if not isinstance(exc, OperationalError) and type(exc) is not DatabaseError:
        return None
    orig = getattr(exc, "orig", exc)
    name = getattr(orig, "sqlite_errorname", "") or ""
    text = str(orig).lower()
    if _is_lock_error(exc) or name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreBusy()
    if name == "SQLITE_FULL" or "disk is full" in text or "no space left" in text:
        return StoreFull()
    if name.startswith("SQLITE_READONLY") or "readonly database" in text or "read-only" in text:
        return StoreReadOnly()
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or any(
        words in text for words in ("malformed", "not a database", "corrupt")
    ):
        return StoreDamaged()
    detail = " ".join(str(orig).split())[:160]
    return StoreFailure(
        f"the store could not be used ({detail})",
        "try again, and tell the person who runs the workbook if it keeps happening",
    )


class Store:
    """One engine on the shared store. Use read() for queries and write() for changes."""

    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.is_sqlite = engine.dialect.name == "sqlite"
        database = engine.url.database if self.is_sqlite else None
        self.path = database if database and database != ":memory:" else None
        self._gate = gate_path(database) if self.path else None
        self._damaged: str | None = None  # why this process stopped accepting saves

    @property
    def damaged(self) -> str | None:
        """Why saves are refused (quick_check failed here, or another process marked the store
        damaged), or None while the store is fine."""
        if self._damaged is None and self.path is not None:
            self._damaged = maintenance.damage_reason(self.path)
        return self._damaged

    def mark_damaged(self, reason: str) -> None:
        """Stop accepting saves here and, through the damage marker, in every process."""
        self._damaged = self._damaged or reason
        if self.path is not None:
            maintenance.mark_damaged(self.path, reason)

    def verify(self) -> str:
        """Run quick_check now; on failure stop accepting saves (see mark_damaged)."""
        if self.path is None:
            return "ok"
        result = maintenance.quick_check(self.path, self.settings.busy_timeout_ms / 1000)
        if result != "ok" and "locked" not in result:
            self.mark_damaged(f"quick_check: {result}")
        return result

    def _refuse_if_damaged(self) -> None:
        if self.damaged is not None:
            raise StoreFileDamaged(
                self.path, f"is damaged ({self.damaged}); no saves are accepted until it is restored"
            )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            failure = store_failure(exc)
            if failure is None:
                raise
            raise failure from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its first statement (BEGIN IMMEDIATE).

        If the lock is not granted within the busy timeout, StoreBusy is raised and nothing
        was written. Every other failure of the store (disk full, read-only, damaged, ...) is a
        StoreFailure with a plain message; only IntegrityError (which callers catch to retry)
        and errors that are bugs pass through as they are.
        """
        self._refuse_if_damaged()
        try:
            if self._gate is None:
                with self.engine.connect().execution_options(**{_WRITE: True}) as conn:
                    with conn.begin():
                        yield conn
            else:
                with self._gated_write() as conn:
                    yield conn
        except DBAPIError as exc:
            failure = store_failure(exc)
            if failure is None:
                raise
            if isinstance(failure, StoreDamaged):
                self.mark_damaged(f"a save failed: {' '.join(str(exc.orig).split())[:160]}")
            raise failure from exc

    @contextmanager
    def _gated_write(self) -> Iterator[Connection]:
        """Pass the write gate, then BEGIN IMMEDIATE with what is left of the busy timeout, so
        a save still ends (saved or StoreBusy) within one timeout however long the gate took."""
        timeout_s = self.settings.busy_timeout_ms / 1000
        deadline = time.monotonic() + timeout_s
        with self.engine.connect().execution_options(**{_WRITE: True}) as conn:
            raw = conn.connection.driver_connection
            with hold_write_gate(self._gate, deadline):
                left_ms = int((deadline - time.monotonic()) * 1000)
                shortened = left_ms < self.settings.busy_timeout_ms - 1
                if shortened:
                    raw.execute(f"PRAGMA busy_timeout = {max(left_ms, 1)}")
                try:
                    with conn.begin():
                        yield conn
                finally:
                    if shortened:
                        raw.execute(f"PRAGMA busy_timeout = {int(self.settings.busy_timeout_ms)}")

    def audit(
        self,
        conn: Connection,
        *,
        actor_id: str | None,
        action: str,
        target_kind: str,
        target_id: str | None,
        outcome: str = "ok",
    ) -> None:
        """Append one audit row inside the caller's transaction (ids and verbs, never text)."""
        conn.execute(
            insert(schema.audit_event).values(
                at=utc_now(),
                actor_id=actor_id,
                action=action,
                target_kind=target_kind,
                target_id=target_id,
                outcome=outcome,
            )
        )

    def check_sqlite_settings(self) -> None:
        """Refuse to run on a store configured in a way that loses or corrupts saves."""
        if not self.is_sqlite:
            return
        with self.read() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            quick = conn.exec_driver_sql("PRAGMA quick_check").scalar()
        path = self.engine.url.database
        if quick != "ok":
            self.mark_damaged(f"quick_check: {quick}")
            raise StoreFileDamaged(path, f"is damaged (quick_check: {quick})")
        if str(mode).lower() != "wal" or int(sync) < 1 or int(busy) < 5000:
            raise StoreUnavailable(
                f"The store {path} runs with journal_mode={mode}, synchronous={sync}, "
                f"busy_timeout={busy}; CoP Workbook needs wal, NORMAL or FULL, and >= 5000 ms."
            )

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: str, settings: Settings) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        folder = Path(database).resolve().parent
        # Damage is loud: keep a -wal SQLite would drop, refuse an empty or foreign file.
        maintenance.keep_discarded_wal(database)
        maintenance.inspect_store_file(database)
        reason = maintenance.damage_reason(database)
        if reason:
            raise StoreFileDamaged(
                database, f"was marked damaged ({reason}); no saves are accepted until it is restored"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            # Only the account running the apps reads the store (SQLite gives -wal/-shm the
            # same mode as the database file); created whole, never as a 0-byte file.
            maintenance.create_store_file(database)
        except OSError as exc:
            raise StoreUnavailable(
                f"Cannot create the store folder {folder}: {exc.strerror}. "
                "Set COP_DATA_DIR or COP_DATABASE_URL to a writable place."
            ) from None
    engine = create_engine(
        url, connect_args={"timeout": settings.busy_timeout_ms / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Let SQLAlchemy's begin event emit BEGIN itself (the driver's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(settings.busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # Deleted text is overwritten on disk, whatever the SQLite build's default.
        cur.execute("PRAGMA secure_delete = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN"
        )

    return engine


def open_store(settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """Open the configured store, apply pending migrations and check its settings."""
    settings = settings or load_settings()
    url = settings.database_url
    try:
        if make_url(url).get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, settings)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except ArgumentError as exc:
        raise StoreUnavailable(
            f"COP_DATABASE_URL is not a usable SQLAlchemy URL ({exc}). "
            "Example: sqlite:////srv/cop/cop.sqlite or postgresql+psycopg://user@host/cop"
        ) from None
    store = Store(engine, settings)
    try:
        if migrate:
            migrations.migrate(store.write)
        store.check_sqlite_settings()
    except (StoreBusy, StoreFileDamaged):
        engine.dispose()
        raise
    except DBAPIError as exc:
        engine.dispose()
        raise StoreUnavailable(
            f"The store at {engine.url.render_as_string(hide_password=True)} cannot be "
            f"opened: {exc.orig}. Check the file or the COP_DATABASE_URL setting."
        ) from None
    except StoreDamaged as exc:
        engine.dispose()
        raise StoreFileDamaged(
            engine.url.database, f"is damaged ({exc.reason}); saves are refused until it is restored"
        ) from None
    except StoreFailure as exc:
        engine.dispose()
        raise StoreUnavailable(
            f"The store at {engine.url.render_as_string(hide_password=True)} cannot be "
            f"opened: {exc.reason}. Check the file or the COP_DATABASE_URL setting."
        ) from None
    except StoreUnavailable:
        engine.dispose()
        raise
    return store
