"""Adding a row that is kept once, however often it is asked for, and auditing the addition:
an endorsement, a request to join, a session's attendance, a role, a supervision. Asking
again changes nothing and is not audited again."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, Table, insert, select

from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow


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
    found = conn.execute(
        select(table).where(*(table.c[column] == value for column, value in key.items()))
    ).first()
    if found is None:
        conn.execute(insert(table).values({**key, **values}))
        store.audit(
            conn, actor_id=actor_id, action=action, target_kind=target_kind, target_id=target_id
        )
    return found
