"""The store's own secret, from which every key the servers need is derived."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import server_secret


def server_secret_key(store: Store, purpose: str) -> bytes:
    """A key for one purpose (cookies, kernel identity, failure keys), derived from the store's
    secret, which is made on first use. Every server on this store derives the same keys."""
    with store.read() as conn:
        value = conn.execute(
            select(server_secret.c.value).where(server_secret.c.name == "main")
        ).scalar()
    if value is None:
        try:
            with store.write() as conn:
                value = conn.execute(
                    select(server_secret.c.value).where(server_secret.c.name == "main")
                ).scalar()
                if value is None:
                    value = secrets.token_hex(32)
                    conn.execute(
                        insert(server_secret).values(name="main", value=value, created_at=utc_now())
                    )
        except IntegrityError:  # another server made it first (PostgreSQL)
            return server_secret_key(store, purpose)
    return hmac.new(bytes.fromhex(value), purpose.encode(), hashlib.sha256).digest()
