"""A page's kernel keeps SQLite's page cache small (store/page_cache.py): the library page's
first page would otherwise hold 2 MiB of the file's pages in each kernel."""

import pytest

from cop_widgets.store import open_store
from cop_widgets.store.page_cache import KERNEL_CACHE_KIB, keep_page_cache_small

SQLITE_DEFAULT_KIB = 2000
BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)


def _cache_kib(conn) -> int:
    return -conn.exec_driver_sql("PRAGMA cache_size").scalar_one()


def test_every_connection_of_the_store_keeps_the_small_cache(settings, store):
    with store.read() as conn:  # opened before: open_store's own checks used it
        assert _cache_kib(conn) == SQLITE_DEFAULT_KIB
    keep_page_cache_small(store)
    keep_page_cache_small(store)  # again: nothing more
    assert len(store.engine.pool.dispatch.checkout) == 1
    with store.read() as conn:
        assert _cache_kib(conn) == KERNEL_CACHE_KIB
    with store.write() as conn:
        assert _cache_kib(conn) == KERNEL_CACHE_KIB
    with store.read() as first, store.read() as second:  # the second one is opened now
        assert _cache_kib(first) == _cache_kib(second) == KERNEL_CACHE_KIB
    store.engine.dispose()  # connections opened again (as after a dropped one) get it too
    with store.read() as conn:
        assert _cache_kib(conn) == KERNEL_CACHE_KIB
    other = open_store(settings)  # another store of the same process keeps SQLite's default
    try:
        with other.read() as conn:
            assert _cache_kib(conn) == SQLITE_DEFAULT_KIB
    finally:
        other.dispose()


@BOTH
def test_a_postgresql_store_is_left_as_it_is(store):
    keep_page_cache_small(store)
    assert len(store.engine.pool.dispatch.checkout) == (1 if store.is_sqlite else 0)
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
