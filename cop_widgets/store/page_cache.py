"""A page's kernel keeps SQLite's page cache small.

SQLite keeps up to 2 MiB of the file's pages per connection (its default cache_size, -2000
KiB), and keeps them between transactions. A page that reads widely fills it: the library's
first page (its count of the readable entries and its Tag menu) does at 20,000 entries, and the
2 MiB then stay in that person's kernel, times each kernel of a room on one laptop. The
operating system keeps the file's pages in its own cache for every process, so a page read
again from there is a copy, not a disk read. With 256 KiB the library kernel held 1.5-1.8 MiB
less after sign-in; the CPU time of its first page (newest and most endorsed first), of
searches and of the Tag menu stayed within about 10 % of 2 MiB's, which is the noise of this
2-core machine (interleaved, 15 and 21 rounds; 2026-11-28, 20,000 entries,
benchmarks/bench_library.py's store).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from cop_widgets.store.db import Store

KERNEL_CACHE_KIB = 256
_SET = "cop_small_cache"  # on a pooled connection's info (kept while that connection lives)


def keep_page_cache_small(store: Store) -> None:
    """From now on each connection of `store` holds at most KERNEL_CACHE_KIB of the file's
    pages (SQLite's PRAGMA cache_size; nothing on PostgreSQL, whose server keeps the cache).
    Set when a connection is next handed out of the pool, so also on those opened before this
    call. Calling it again changes nothing."""
    if store.is_sqlite and not event.contains(store.engine, "checkout", _on_checkout):
        event.listen(store.engine, "checkout", _on_checkout)


def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    if not record.info.get(_SET):
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA cache_size = -{KERNEL_CACHE_KIB}")
        cursor.close()
        record.info[_SET] = True
