"""Copy a whole store to another database: `cop data migrate --to URL` (SQLite to PostgreSQL,
and back).

Every table (schema.py's and schema_migrations), every row with its ids, times and audit
events, value for value, parents before children (foreign-key order), in batches. The source
is read in one snapshot; the target is written in one write transaction, so a copy that fails
half way leaves the target as it was. Both stores are opened first (and so migrated to this
version of the software); the target's own schema_migrations rows are replaced by the
source's, which say when each step was applied to this data.

A target that holds any row is refused, unless `replace`: then all of its rows are deleted in
that same transaction first (the append-only audit log too: the copy brings the source's).
Neither store may be in use by a server while it is copied (in_use): saves made after the
snapshot would be missing from the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, create_engine, delete, func, insert, inspect, select
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from cop_widgets.errors import CopWidgetsError, StoreUnavailable
from cop_widgets.store import maintenance, schema
from cop_widgets.store.db import Store, connection_problem, shown_url, store_failure, store_url

BATCH_ROWS = 1000


@dataclass(frozen=True)
class Copied:
    rows: dict[str, int]  # table -> rows copied
    schema_version: int

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy_order(store: Store) -> list[Table]:
    """The tables to copy, parents first: schema_migrations, then schema.py's in foreign-key
    order (those the store has)."""
    with store.read() as conn:
        present = set(inspect(conn).get_table_names())
    return [t for t in schema.metadata.sorted_tables if t.name in present]


def row_counts(store: Store, tables: list[Table]) -> dict[str, int]:
    with store.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables
        }


def in_use(url: str) -> str | None:
    """Why the store at `url` looks in use by a server or another tool, or None. SQLite: the
    write gate or the -shm lock (maintenance.store_in_use); PostgreSQL: another connection to
    the same database. (A URL open_store cannot use is None here: open_store says why.)"""
    parsed = store_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:":
            return None
        return maintenance.store_in_use(path)
    if parsed.get_backend_name() != "postgresql":
        return None
    try:
        engine = create_engine(
            parsed,
            poolclass=NullPool,
            connect_args={"connect_timeout": 10, "application_name": "cop"},
        )
    except ImportError:
        return None
    try:
        with engine.connect() as conn:
            others = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).scalar_one()
    except DBAPIError as exc:
        raise connection_problem(parsed, exc) from None
    finally:
        engine.dispose()
    return f"{others} other connection(s) to it" if others else None


def usable_url(url: str) -> bool:
    try:
        store_url(url)
    except ArgumentError:
        return False
    return True


def same_store(a: str, b: str) -> bool:
    try:
        ua, ub = store_url(a), store_url(b)
    except ArgumentError:
        return False
    return (ua.get_backend_name(), ua.host, ua.port, ua.database) == (
        ub.get_backend_name(),
        ub.host,
        ub.port,
        ub.database,
    )


def check_target(source: Store, target: Store, *, replace: bool = False) -> list[Table]:
    """The tables to copy; StoreUnavailable if the target lacks one, or holds any row (and
    not `replace`)."""
    tables = copy_order(source)
    present = set(copy_order(target))
    missing = [t.name for t in tables if t not in present]
    if missing:
        raise StoreUnavailable(
            f"The store at {target.url} has no table {', '.join(missing)}; open it with this "
            "version of CoP Workbook first (`cop init`). Nothing was copied."
        )
    held = {n: c for n, c in row_counts(target, tables).items() if c and n != "schema_migrations"}
    if held and not replace:
        shown = ", ".join(f"{name} {n}" for name, n in sorted(held.items()))
        raise StoreUnavailable(
            f"The store at {target.url} is not empty ({shown}). Nothing was copied. Copy into "
            "an empty database, or add --force to delete everything in it first."
        )
    return tables


def copy_store(
    source: Store,
    target: Store,
    *,
    replace: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> Copied:
    """Copy every row of `source` into `target` (see the module docstring). progress(table,
    rows) is called after each batch."""
    tables = check_target(source, target, replace=replace)
    copied: dict[str, int] = {}
    with source.read() as src, target.write() as dst:
        version = src.execute(select(func.max(schema.schema_migrations.c.version))).scalar()
        _empty(dst, tables)
        for table in tables:
            copied[table.name] = 0
            for batch in _batches(src, table):
                try:
                    dst.execute(insert(table), batch)
                except DBAPIError as exc:
                    if store_failure(exc) is not None:
                        raise  # the target's own trouble (busy, gone, full): write() says it
                    raise _unstorable(table, batch, target, exc) from None
                copied[table.name] += len(batch)
                if progress is not None:
                    progress(table.name, len(batch))
        _restart_counters(dst, tables)
    return Copied(copied, int(version or 0))


def _batches(conn: Connection, table: Table) -> Iterator[list[dict[str, Any]]]:
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(yield_per=BATCH_ROWS).execute(select(table).order_by(*order))
    for part in result.partitions():
        yield [dict(row._mapping) for row in part]


def _empty(conn: Connection, tables: list[Table]) -> None:
    """Delete every row of the target, children first. The audit log's append-only trigger
    would refuse: PostgreSQL's TRUNCATE does not fire it; on SQLite the triggers are dropped
    and made again from their own text, inside this transaction."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
        conn.exec_driver_sql(f"TRUNCATE {names}")
        return
    with _audit_triggers_lifted(conn):
        for table in reversed(tables):
            conn.execute(delete(table))


@contextmanager
def _audit_triggers_lifted(conn: Connection) -> Iterator[None]:
    triggers = (
        conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'trigger' AND tbl_name = 'audit_event'"
        ).all()
        if conn.dialect.name == "sqlite"
        else []
    )
    for name, _sql in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _name, sql in triggers:
        conn.exec_driver_sql(sql)


def _restart_counters(conn: Connection, tables: list[Table]) -> None:
    """PostgreSQL's sequences of integer keys (audit_event.seq, ...) continue after the copied
    rows (an explicit id does not move them). SQLite's rowid already follows max(id)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or keys[0].type.python_type is not int:
            continue
        key = keys[0]
        # a NULL sequence (schema_migrations.version has none) leaves it at that
        sequence = func.pg_get_serial_sequence(table.name, key.name)
        top = func.max(key)
        conn.execute(
            select(func.setval(sequence, func.coalesce(top, 1), top.is_not(None))).select_from(
                table
            )
        )


def _unstorable(
    table: Table, batch: list[dict[str, Any]], target: Store, exc: DBAPIError
) -> Exception:
    keys = [c.name for c in table.primary_key.columns]
    first = ", ".join(f"{k}={batch[0].get(k)!r}" for k in keys)
    detail = " ".join(str(exc.orig).split())[:200]
    return CopWidgetsError(
        f"A row of {table.name} (in the batch from {first}) cannot be stored in {target.url}: "
        f"{detail}. Nothing was copied; correct that row in the source and copy again."
    )


def describe(url: str) -> str:
    try:
        return shown_url(store_url(url))
    except ArgumentError:
        return "(not a URL)"
