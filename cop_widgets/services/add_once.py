"""Adding a row that is kept once, however often it is asked for, and auditing the addition:
an endorsement, a request to join, a session's attendance, a role, a supervision. Asking
again changes nothing and is not audited again."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from sqlalchemy import Connection, Insert, Table, UniqueConstraint, bindparam, insert, select

from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, AnySelect


def add_once(
    store: Store,
    conn: Connection,
    table: Table,
    key: Mapping[str, object],
    values: Mapping[str, object],
    *,
    actor_id: str | None,
    action: str,
    target_kind: str,
    target_id: str,
) -> AnyRow | None:
    """Inside the caller's write transaction: add the row `key` + `values` to `table` unless
    a row with these `key` columns is there already, and audit the addition. Returns the row
    that was there (the caller may check whose it is), None when this call added it."""
    find, add = _statements(table, tuple(key))
    add_if_new = insert_if_new(conn.dialect.name, table, tuple(key))
    if add_if_new is not None:  # one statement when the row is new (a room's joins, 30 at once)
        added = conn.execute(add_if_new, {**key, **values}).first() is not None
        found = None if added else conn.execute(find, dict(key)).first()
    else:
        found = conn.execute(find, dict(key)).first()
        if found is None:
            conn.execute(add, {**key, **values})
    if found is None:
        store.audit(
            conn, actor_id=actor_id, action=action, target_kind=target_kind, target_id=target_id
        )
    return found


@cache
def _statements(table: Table, key_columns: tuple[str, ...]) -> tuple[AnySelect, Insert]:
    """The table's find-by-key and insert, built once per table and key (a room's joins run
    them 30 at once; building them anew cost more than running them)."""
    find = select(table).where(*(table.c[column] == bindparam(column) for column in key_columns))
    return find, insert(table)


@cache
def insert_if_new(dialect: str, table: Table, key_columns: tuple[str, ...]) -> Insert | None:
    """`INSERT … ON CONFLICT (key) DO NOTHING RETURNING key` for `table` (a row back when it
    added one, none when the key was there: psycopg's rowcount says -1 either way), where the
    store's dialect has it (SQLite, PostgreSQL) and `key_columns` are the table's primary key
    or one of its unique keys; None otherwise (the caller then finds and inserts, two
    statements). A conflict on any other unique key still raises."""
    if not _is_unique_key(table, set(key_columns)):
        return None
    # Each dialect's module imported on first use: PostgreSQL's costs a SQLite store's every
    # kernel ~2 MiB (measured: idle kernel 68.7 → 71.0 MiB with it imported here at the top).
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        statement: Insert = sqlite.insert(table).on_conflict_do_nothing(
            index_elements=list(key_columns)
        )
    elif dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        statement = postgresql.insert(table).on_conflict_do_nothing(
            index_elements=list(key_columns)
        )
    else:
        return None
    return statement.returning(*(table.c[column] for column in key_columns))


def _is_unique_key(table: Table, columns: set[str]) -> bool:
    keys = [{c.name for c in table.primary_key.columns}]
    keys += [
        {c.name for c in constraint.columns}
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    keys += [{c.name for c in index.columns} for index in table.indexes if index.unique]
    return columns in keys
