"""Connections to the shared store and the transaction rules every write follows.

SQLite (the default) is set up as measured in PERFORMANCE.md §7: WAL, synchronous=NORMAL, a
busy timeout of at least 5 s, foreign keys on, and BEGIN IMMEDIATE for every write so that a
read-then-write save cannot fail half way under concurrent writers.

PostgreSQL (`COP_DATABASE_URL=postgresql://...`, the `postgres` extra) keeps the same promises:
every write first takes one transaction-level advisory lock (the counterpart of BEGIN
IMMEDIATE: writers take turns, in the order they came, so a read-then-write save sees every
save committed before it), waiting at most the busy timeout; every read is one REPEATABLE
READ snapshot (as a SQLite read transaction is).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias, cast

from sqlalchemy import (
    Connection,
    Engine,
    RootTransaction,
    Row,
    Select,
    create_engine,
    event,
    insert,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    IntegrityError,
    OperationalError,
)
from sqlalchemy.pool import ConnectionPoolEntry

from cop_widgets.errors import (
    CopWidgetsError,
    StoreBusy,
    StoreDamaged,
    StoreFailure,
    StoreFileDamaged,
    StoreFull,
    StoreOffline,
    StoreReadOnly,
    StoreUnavailable,
)
from cop_widgets.settings import Settings, load_settings
from cop_widgets.store import maintenance, migrations, schema
from cop_widgets.store.write_gate import gate_path, hold_write_gate

_WRITE = "cop_write"
# built once: every audited change runs it (its parameters per call)
_ADD_AUDIT_EVENT = insert(schema.audit_event)
POSTGRES_DRIVER = "postgresql+psycopg"
# PostgreSQL advisory lock keys (advisory locks are per database): the lock every write takes
# first, and the one migrate() holds across all its steps.
PG_WRITE_LOCK = 0x636F_7077  # "copw"
PG_MIGRATE_LOCK = 0x636F_706D  # "copm"
# Waiting out a transient failure before a connection is had or the write lock is held
# (PostgreSQL), all within the busy timeout: tries at a deadlock or serialization failure, and
# the pauses between tries (doubled each time, with jitter).
RETRY_TRIES = 5
RETRY_FIRST_S = 0.05
RETRY_MAX_PAUSE_S = 0.5
# SQLSTATEs that mean "try again": serialization failure, deadlock, lock or statement timeout,
# too many connections.
_PG_BUSY = {"40001", "40P01", "55P03", "57014", "53300"}
# The server went away or is going: admin shutdown, crash shutdown, cannot connect now.
_PG_OFFLINE = {"57P01", "57P02", "57P03"}

# A result row, and a query, of any number of columns: for helpers that several queries share
# (SQLAlchemy types them by their columns: Row[str, int] and Select[str, int] for select(a, b)).
AnyRow: TypeAlias = Row[*tuple[Any, ...]]
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def store_url(raw: str) -> URL:
    """The SQLAlchemy URL of COP_DATABASE_URL. postgresql:// and postgres:// mean psycopg 3
    (SQLAlchemy's own default there is psycopg2, which is not a dependency)."""
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername=POSTGRES_DRIVER)
    return url


def shown_url(url: URL | str) -> str:
    """The URL for messages: never the password."""
    return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)


def _is_lock_error(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    return isinstance(orig, sqlite3.OperationalError) and (
        "database is locked" in text or "database is busy" in text
    )


def _sqlstate(exc: BaseException) -> str:
    return getattr(getattr(exc, "orig", exc), "sqlstate", None) or ""


def _is_postgres_error(exc: DBAPIError) -> bool:
    return type(exc.orig).__module__.split(".")[0] == "psycopg"


def _postgres_failure(exc: DBAPIError) -> StoreFailure | None:
    state = _sqlstate(exc)
    if isinstance(exc, IntegrityError) or state.startswith("23"):
        return None  # the caller's: they catch it to retry
    if state in _PG_BUSY:
        return StoreBusy()
    if state == "53100":
        return StoreFull()
    if state == "25006":  # a read-only transaction: a standby, or default_transaction_read_only
        return StoreReadOnly()
    if (
        exc.connection_invalidated
        or state.startswith("08")
        or state in _PG_OFFLINE
        or (not state and isinstance(exc, OperationalError))
    ):
        return StoreOffline()
    if isinstance(exc, OperationalError) or state[:2] in ("53", "58", "XX"):
        # resources, the system, damage: the server's to mend (nothing to latch here: the
        # damage marker is a SQLite file's)
        detail = " ".join(str(exc.orig).split())[:160]
        return StoreFailure(
            f"the database server could not do it ({detail})",
            "try again, and tell the person who runs the workbook if it keeps happening",
        )
    return None  # a bug (ProgrammingError, DataError, ...): raised as it is


def store_failure(exc: DBAPIError) -> StoreFailure | None:
    """The project error for a failure of the store itself (busy, full, read-only, damaged, the
    database server gone, or any other operational error), or None for an error that is the
    caller's to handle (IntegrityError: callers catch it to retry; ProgrammingError and the
    like: a bug)."""
    if _is_postgres_error(exc):
        return _postgres_failure(exc)
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


def connection_problem(url: URL, exc: BaseException) -> CopWidgetsError:
    """One plain message for a database server that cannot be used at start (`cop check`,
    `cop serve`, an app opening the store): unreachable (StoreOffline: a kind of busy, so apps
    keep trying), or refused (StoreUnavailable: a setting to fix). Never the password."""
    orig = getattr(exc, "orig", exc)
    detail = " ".join(str(orig).split())
    low = detail.lower()
    state = _sqlstate(exc)
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    store = f"The store at {shown_url(url)}"
    if state == "28P01" or "password authentication failed" in low:
        return StoreUnavailable(
            f"{store} cannot be opened: the server at {where} refused the password of user "
            f"{url.username!r}. Correct the password in COP_DATABASE_URL."
        )
    if "no password supplied" in low or "password is required" in low:
        return StoreUnavailable(
            f"{store} cannot be opened: the server at {where} asks for a password and "
            "COP_DATABASE_URL gives none. Add it: postgresql://user:password@host/database."
        )
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return StoreUnavailable(
            f"{store} cannot be opened: there is no database {url.database!r} on the server "
            f"at {where}. Create it (createdb {url.database}) or correct the database name in "
            "COP_DATABASE_URL."
        )
    if state.startswith("28") or ("role" in low and "does not exist" in low):
        return StoreUnavailable(
            f"{store} cannot be opened: the server at {where} does not let user "
            f"{url.username!r} in ({_server_says(detail)}). Correct the user in "
            "COP_DATABASE_URL, or ask the database's administrator for access."
        )
    if "could not translate host name" in low or "name or service not known" in low:
        return StoreUnavailable(
            f"{store} cannot be opened: the host name {url.host!r} is not known. Correct the "
            "host in COP_DATABASE_URL."
        )
    says = _server_says(detail)
    if state in _PG_OFFLINE | _PG_BUSY or any(words in low for words in _NOT_NOW):
        return StoreOffline(
            f"{store} cannot be used just now: the server at {where} is not taking connections "
            f"({says}). Try again in a moment; tell the database's administrator if it lasts."
        )
    if "fatal:" in low or (state and not state.startswith("08")):
        return StoreUnavailable(
            f"{store} cannot be opened: {says}. Check the COP_DATABASE_URL setting and the "
            "database server."
        )
    if not any(words in low for words in _NO_ANSWER):
        return StoreUnavailable(
            f"{store} cannot be opened ({says}). Check the COP_DATABASE_URL setting."
        )
    why = (
        "connection refused"
        if "refused" in low
        else "no answer in time"
        if "timeout" in low or "timed out" in low
        else says
    )
    return StoreOffline(
        f"{store} cannot be reached: no database server answers at {where} ({why}). Start "
        "the database server, or correct the host and port in COP_DATABASE_URL."
    )


# a server that answers but takes no connections now (starting, stopping, full)
_NOT_NOW = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "too many clients",
    "remaining connection slots",
)
# no server answers at that address
_NO_ANSWER = (
    "refused",
    "timeout",
    "timed out",
    "could not connect",
    "no route to host",
    "network is unreachable",
    "server closed the connection",
    "no such file or directory",  # a Unix socket that is not there
)


def _server_says(detail: str) -> str:
    # psycopg: 'connection failed: connection to server at "h" (..), port p failed: FATAL: ...'
    return detail.rsplit("FATAL:", 1)[-1].strip()[:200] or detail[:200]


class Store:
    """One engine on the shared store. Use read() for queries and write() for changes."""

    def __init__(self, engine: Engine, settings: Settings):
        self.engine = engine
        self.settings = settings
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.is_postgres = engine.dialect.name == "postgresql"
        database = engine.url.database if self.is_sqlite else None
        self.path = database if database and database != ":memory:" else None
        self._gate = gate_path(self.path) if self.path else None
        self._damaged: str | None = None  # why this process stopped accepting saves
        # this thread's: .gate_held (migrate() holds the gate), .snapshot (snapshot()'s connection)
        self._local = threading.local()

    @property
    def url(self) -> str:
        """The store's URL for messages (without the password)."""
        return shown_url(self.engine.url)

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
                self.path,
                f"is damaged ({self.damaged}); no saves are accepted until it is restored",
            )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one snapshot (SQLite's read transaction; REPEATABLE READ, read
        only, on PostgreSQL), so several queries in it agree with each other. Inside
        `snapshot()` (same thread) it is the snapshot's own."""
        shared = getattr(self._local, "snapshot", None)
        if shared is not None:
            try:
                yield shared
            except DBAPIError as exc:
                failure = store_failure(exc)
                if failure is None:
                    raise
                raise failure from exc
            return
        try:
            if self.is_postgres:
                conn = self._connect(
                    time.monotonic() + self.settings.busy_timeout_ms / 1000,
                    isolation_level="REPEATABLE READ",
                    postgresql_readonly=True,
                )
            else:
                conn = self.engine.connect()
            with conn:
                yield conn
        except DBAPIError as exc:
            failure = store_failure(exc)
            if failure is None:
                raise
            raise failure from exc

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction for every `read()` in this block, in this thread: a page that
        reads what it shows through several services (each with its checks) begins and ends
        one transaction instead of one each (a room of 30 joins at once on two cores). Its
        reads do not see what a write made after it began: begin it after the writes."""
        if getattr(self._local, "snapshot", None) is not None:  # the outer one serves
            yield
            return
        with self.read() as conn:
            self._local.snapshot = conn
            try:
                yield
            finally:
                self._local.snapshot = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its first statement (BEGIN IMMEDIATE;
        on PostgreSQL the write advisory lock): writers take turns, so what a save reads
        stays true until it commits.

        If the lock is not granted within the busy timeout, StoreBusy is raised and nothing
        was written. Every other failure of the store (disk full, read-only, damaged, the
        database server gone: StoreOffline, ...) is a StoreFailure with a plain message; only
        IntegrityError (which callers catch to retry) and errors that are bugs pass through as
        they are.

        PostgreSQL: a server that does not answer, a deadlock or a serialization failure met
        before the lock is held is tried again here, with backoff, within the busy timeout.
        One met inside the caller's block cannot be: that block may have read what changed,
        and a `with` block cannot be run again, so it is StoreBusy or StoreOffline (nothing
        written) and the app's retry (Autosave) saves it again. Writers of this code never
        meet one another's: the write lock puts them in turn.
        """
        self._refuse_if_damaged()
        try:
            if self.is_postgres:
                with self._postgres_write() as conn:
                    yield conn
            elif self._gate is None or getattr(self._local, "gate_held", False):
                with self.engine.connect().execution_options(**{_WRITE: True}) as conn:
                    with conn.begin():
                        yield conn
            else:
                with self._gated_write(self._gate) as conn:
                    yield conn
        except DBAPIError as exc:
            failure = store_failure(exc)
            if failure is None:
                raise
            if isinstance(failure, StoreDamaged):
                self.mark_damaged(f"a save failed: {' '.join(str(exc.orig).split())[:160]}")
            raise failure from exc

    @contextmanager
    def _gated_write(self, gate: Path) -> Iterator[Connection]:
        """Pass the write gate, then BEGIN IMMEDIATE with what is left of the busy timeout, so
        a save still ends (saved or StoreBusy) within one timeout however long the gate took."""
        timeout_s = self.settings.busy_timeout_ms / 1000
        deadline = time.monotonic() + timeout_s
        with self.engine.connect().execution_options(**{_WRITE: True}) as conn:
            # known by construction: a connection just opened on SQLite's driver (pysqlite)
            raw = cast(sqlite3.Connection, conn.connection.driver_connection)
            with hold_write_gate(gate, deadline):
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

    @contextmanager
    def _postgres_write(self) -> Iterator[Connection]:
        conn, transaction = self._postgres_locked(
            PG_WRITE_LOCK, self.settings.busy_timeout_ms / 1000
        )
        with conn:
            with transaction:
                yield conn

    def _postgres_locked(self, key: int, wait_s: float) -> tuple[Connection, RootTransaction]:
        """A connection in a READ COMMITTED transaction that holds advisory lock `key` (each
        statement after it sees every commit made before the lock was granted). Waits at most
        wait_s in all: lock_timeout is what is left of it. On the way, a server that does not
        answer is tried again until then, a deadlock or serialization failure RETRY_TRIES
        times, each after a pause that doubles."""
        deadline = time.monotonic() + wait_s
        pause, tries = RETRY_FIRST_S, 0
        while True:
            conn = self._connect(deadline, isolation_level="READ COMMITTED")
            try:
                transaction = conn.begin()
                left_ms = max(int((deadline - time.monotonic()) * 1000), 1)
                # one round trip (two whole numbers of ours, no text from anyone)
                conn.exec_driver_sql(
                    f"SET LOCAL lock_timeout = {left_ms}; SELECT pg_advisory_xact_lock({int(key)})"
                )
                return conn, transaction
            except DBAPIError as exc:
                conn.close()
                tries += 1
                again = isinstance(store_failure(exc), StoreOffline) or (
                    _sqlstate(exc) in ("40001", "40P01") and tries < RETRY_TRIES
                )
                if not again or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, no secret
                pause = min(pause * 2, RETRY_MAX_PAUSE_S)

    def _connect(self, deadline: float, **options: Any) -> Connection:
        """engine.connect() (a pooled connection, pinged first), tried again while the server
        does not answer (a restart, a failover) until `deadline`, after pauses that double."""
        pause = RETRY_FIRST_S
        while True:
            try:
                return self.engine.connect().execution_options(**options)
            except DBAPIError as exc:
                if not isinstance(store_failure(exc), StoreOffline):
                    raise
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, no secret
                pause = min(pause * 2, RETRY_MAX_PAUSE_S)

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Held by migrations.migrate() across all its steps, so that of N servers starting
        together on one store one migrates and the others then find every step applied.
        SQLite: the write gate (each step's BEGIN IMMEDIATE in this thread then skips it);
        PostgreSQL: pg_advisory_xact_lock in a transaction of its own, open until the last
        step is done (it ends with the connection, also if this process dies). Waits at most
        the busy timeout, then StoreBusy."""
        wait_s = self.settings.busy_timeout_ms / 1000
        if self.is_postgres:
            try:
                conn, transaction = self._postgres_locked(PG_MIGRATE_LOCK, wait_s)
            except DBAPIError as exc:
                raise (store_failure(exc) or exc) from exc
            with conn:
                with transaction:
                    yield
        elif self._gate is not None and not getattr(self._local, "gate_held", False):
            with hold_write_gate(self._gate, time.monotonic() + wait_s):
                self._local.gate_held = True
                try:
                    yield
                finally:
                    self._local.gate_held = False
        else:
            yield

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
            _ADD_AUDIT_EVENT,
            {
                "at": utc_now(),
                "actor_id": actor_id,
                "action": action,
                "target_kind": target_kind,
                "target_id": target_id,
                "outcome": outcome,
            },
        )

    def check_sqlite_settings(self, integrity: bool = True) -> None:
        """Refuse to run on a store configured in a way that loses or corrupts saves; with
        `integrity`, also on a file that fails quick_check (which reads every page)."""
        if not self.is_sqlite:
            return
        with self.read() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
        # Without `integrity`, damage found later is still loud: a marked store refuses saves,
        # and a write that meets a corrupt page marks it (StoreDamaged).
        quick = self._quick_check() if integrity else "ok"
        path = self.engine.url.database
        if quick != "ok":
            self.mark_damaged(f"quick_check: {quick}")
            raise StoreFileDamaged(path, f"is damaged (quick_check: {quick})")
        if str(mode).lower() != "wal" or int(sync) < 1 or int(busy) < 5000:
            raise StoreUnavailable(
                f"The store {path} runs with journal_mode={mode}, synchronous={sync}, "
                f"busy_timeout={busy}; CoP Workbook needs wal, NORMAL or FULL, and >= 5000 ms."
            )

    def _quick_check(self) -> str:
        """PRAGMA quick_check's answer ("ok", or what is wrong)."""
        try:
            with self.read() as conn:
                quick = conn.exec_driver_sql("PRAGMA quick_check").scalar()
        except StoreDamaged as exc:  # quick_check may stop at the damage instead of listing it
            quick = " ".join(str(getattr(exc.__cause__, "orig", exc.__cause__)).split())
        return str(quick)

    def dispose(self) -> None:
        self.engine.dispose()


def scratch_twin(store: Store) -> Store | None:
    """An empty in-memory SQLite store with `store`'s schema (its own CREATE statements, read
    from sqlite_master) and settings, or None when `store` is not SQLite. Nothing of `store` is
    written, and no row of it is read. share_compiled_statements(twin, store) then makes what
    runs on the twin compile for `store` too: the session page rehearses its first request on
    it in a preheated kernel (apps/_warm_up.py)."""
    if not store.is_sqlite:
        return None
    with store.read() as conn:
        creates = conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid"
        ).all()
    # a virtual table (full-text search) makes its own shadow tables, named after it
    virtual = [name for _, name, sql in creates if sql.upper().startswith("CREATE VIRTUAL")]
    engine = _sqlite_engine("sqlite://", store.settings)
    with engine.begin() as conn:
        for kind, name, sql in creates:
            if kind == "table" and any(name.startswith(f"{v}_") for v in virtual):
                continue
            conn.exec_driver_sql(sql)
    return Store(engine, store.settings)


def share_compiled_statements(twin: Store, store: Store) -> None:
    """From now on, statements the twin runs are compiled with `store`'s dialect into its
    compiled-statement cache (both SQLite, one driver), where `store` finds them compiled."""
    twin.engine.dialect = store.engine.dialect
    twin.engine._compiled_cache = store.engine._compiled_cache


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
                database,
                f"was marked damaged ({reason}); no saves are accepted until it is restored",
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
    def _on_connect(
        dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry
    ) -> None:  # pragma: no cover - exercised by every test
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
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN"
        )

    return engine


def _postgres_engine(url: URL, settings: Settings) -> Engine:
    # An unreachable host fails within about one busy timeout instead of the system's minutes.
    connect_args: dict[str, object] = {"application_name": "cop-workbook"}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = max(round(settings.busy_timeout_ms / 1000), 2)
    try:
        # pre-ping: a connection the server dropped (a restart) is replaced, not used
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except ImportError as exc:
        raise StoreUnavailable(
            f"COP_DATABASE_URL names a PostgreSQL store ({shown_url(url)}), but its driver "
            f"({exc.name or url.drivername}) is not installed. Use postgresql://... (psycopg 3) "
            "and install it with: pip install 'cop-workbook[postgres]' (in the project's "
            "folder: pip install -e '.[postgres]')."
        ) from None


def _check_server(engine: Engine) -> None:
    """Connect once, so that a wrong URL, a refused password or a server that does not answer
    is one plain message at start (connection_problem), not a traceback on every page."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:
        engine.dispose()
        raise connection_problem(engine.url, exc) from None


def open_store(
    settings: Settings | None = None, *, migrate: bool = True, check_integrity: bool = True
) -> Store:
    """Open the configured store, apply pending migrations and check its settings.

    check_integrity=False skips SQLite's quick_check (it reads every page of the file) and
    trusts the damage mark instead: app kernels open the store this way, 30 at once when a room
    joins, because the server checks the file when it starts and every 10 minutes and marks it
    damaged for every process (maintenance.watch_configured_store)."""
    settings = settings or load_settings()
    url = settings.database_url
    try:
        parsed = store_url(url)
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, settings)
        elif parsed.get_backend_name() == "postgresql":
            engine = _postgres_engine(parsed, settings)
        else:
            raise StoreUnavailable(
                f"COP_DATABASE_URL names a {parsed.get_backend_name()} store "
                f"({shown_url(parsed)}); CoP Workbook keeps its store in SQLite (sqlite:///...) "
                "or PostgreSQL (postgresql://...)."
            )
    except ArgumentError as exc:
        raise StoreUnavailable(
            f"COP_DATABASE_URL is not a usable SQLAlchemy URL ({exc}). "
            "Example: sqlite:////srv/cop/cop.sqlite or postgresql://user:password@host/cop"
        ) from None
    store = Store(engine, settings)
    if not store.is_sqlite:
        _check_server(engine)
    try:
        if migrate:
            migrations.migrate(store)
        store.check_sqlite_settings(integrity=check_integrity)
    except (StoreBusy, StoreFileDamaged):
        engine.dispose()
        raise
    except DBAPIError as exc:
        engine.dispose()
        raise StoreUnavailable(
            f"The store at {store.url} cannot be "
            f"opened: {exc.orig}. Check the file or the COP_DATABASE_URL setting."
        ) from None
    except StoreDamaged as exc:
        engine.dispose()
        raise StoreFileDamaged(
            engine.url.database,
            f"is damaged ({exc.reason}); saves are refused until it is restored",
        ) from None
    except StoreFailure as exc:
        engine.dispose()
        raise StoreUnavailable(
            f"The store at {store.url} cannot be "
            f"opened: {exc.reason}. Check the file or the COP_DATABASE_URL setting."
        ) from None
    except StoreUnavailable:
        engine.dispose()
        raise
    return store
