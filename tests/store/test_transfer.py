"""Several servers starting on one store at once migrate it once; a store newer than the code
is refused. Each test runs on SQLite and on PostgreSQL (tests/pg.py)."""

import multiprocessing
import traceback

import pytest
from sqlalchemy import func, insert, inspect, select

from cop_widgets.errors import StoreUnavailable
from cop_widgets.store import migrations, open_store, schema
from cop_widgets.store.maintenance import check_store
from cop_widgets.store.migrations import LATEST

SERVERS = 6


def _server_starting(settings, barrier, out) -> None:
    """One server's start: open the store, wait for the others, then migrate with them."""
    try:
        store = open_store(settings, migrate=False)
        barrier.wait(timeout=60)
        out.put(("ok", migrations.migrate(store)))
        store.dispose()
    except Exception:  # noqa: BLE001 - sent to the test, which asserts there is none
        out.put(("error", traceback.format_exc()))


def test_servers_starting_together_migrate_once(settings):
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(SERVERS), ctx.Queue()
    procs = [
        ctx.Process(target=_server_starting, args=(settings, barrier, out)) for _ in range(SERVERS)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [r for kind, r in results if kind == "error"] == []
    applied = sorted(v for _kind, done in results for v in done)
    assert applied == list(range(1, LATEST + 1))  # every step once, by whichever came first
    assert sum(1 for _kind, done in results if done) == 1  # and all of them by one server
    store = open_store(settings)
    try:
        with store.read() as conn:
            rows = conn.execute(select(schema.schema_migrations.c.version)).scalars().all()
            tables = set(inspect(conn).get_table_names())
        assert sorted(rows) == list(range(1, LATEST + 1))
        assert set(schema.metadata.tables) <= tables
    finally:
        store.dispose()


def test_a_store_newer_than_the_code_is_refused_naming_both_versions(settings):
    store = open_store(settings)
    with store.write() as conn:
        conn.execute(
            insert(schema.schema_migrations).values(
                version=LATEST + 1, name="from a newer CoP Workbook", applied_at="2030-01-01"
            )
        )
    store.dispose()
    with pytest.raises(StoreUnavailable) as refused:
        open_store(settings)
    message = str(refused.value)
    assert f"schema version {LATEST + 1}" in message and f"up to {LATEST})" in message
    assert "Update CoP Workbook" in message and "Nothing was changed" in message
    assert "***" in message or "sqlite" in message  # the store is named, never its password
    schema_line = [h for h in check_store(settings) if h.name == "schema"]
    assert len(schema_line) == 1 and not schema_line[0].ok
    assert f"{LATEST + 1}" in schema_line[0].text and f"up to {LATEST}" in schema_line[0].text
    again = open_store(settings, migrate=False)
    try:
        with again.read() as conn:
            count = conn.execute(
                select(func.count()).select_from(schema.schema_migrations)
            ).scalar()
        assert count == LATEST + 1  # left as it was
    finally:
        again.dispose()


def test_a_store_with_nothing_pending_is_opened_without_migrating(settings):
    open_store(settings).dispose()
    store = open_store(settings, migrate=False)
    try:
        assert migrations.migrate(store) == []
    finally:
        store.dispose()
