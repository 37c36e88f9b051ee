"""Adding a row that is kept once, however often it is asked for, and auditing the addition:
an endorsement, a request to join, a session's attendance, a role, a supervision. Asking
again changes nothing and is not audited again."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from sqlalchemy import Connection, Insert, Table, bindparam, insert, select

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
    found = conn.execute(find, dict(key)).first()
    if found is None:
        conn.execute(add, {**key, **values})
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
