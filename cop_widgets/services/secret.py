"""The store's own secret, from which every key the servers need is derived."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import weakref

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import server_secret

# The secret of each open store, once read: it is made once and never changed, and a page's
# sign-in and join asked for it three times (three read transactions per participant).
_read_secrets: weakref.WeakKeyDictionary[Store, str] = weakref.WeakKeyDictionary()


def server_secret_key(store: Store, purpose: str) -> bytes:
    """A key for one purpose (cookies, kernel identity, failure keys), derived from the store's
    secret, which is made on first use. Every server on this store derives the same keys."""
    value = _read_secrets.get(store)
    if value is None:
        value = _store_secret(store)
        _read_secrets[store] = value
    return hmac.new(bytes.fromhex(value), purpose.encode(), hashlib.sha256).digest()


def read_secret_ahead(store: Store) -> None:
    """Read the store's secret now if it exists (never making it), so that the first
    server_secret_key on this store needs no read."""
    if store not in _read_secrets:
        value = _read_store_secret(store)
        if value is not None:
            _read_secrets[store] = value


def _read_store_secret(store: Store) -> str | None:
    with store.read() as conn:
        return conn.execute(
            select(server_secret.c.value).where(server_secret.c.name == "main")
        ).scalar()


def _store_secret(store: Store) -> str:
    value = _read_store_secret(store)
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
            return _store_secret(store)
    return value
