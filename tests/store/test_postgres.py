"""The store on a real PostgreSQL server (tests/pg.py): its schema, many writers, a server that
goes away and comes back, settings that cannot work, data rights, and `cop data migrate`
between SQLite and PostgreSQL. The store, service and policy tests also run on PostgreSQL (the
`[postgresql]` runs of the modules in tests/pg.py BOTH_BACKENDS); this file has what is
PostgreSQL's own.

COP_PG_WRITERS and COP_PG_SAVES size the many-writers test: by default 20 processes x 10
(each a new draft, then a change to it: 400 write transactions by 20 writers at once); the
issue's full size is COP_PG_WRITERS=40 COP_PG_SAVES=200 (16,000 transactions: 85 s on 2
cores, where the writers and the server share them; it passes, nothing lost).
"""

from __future__ import annotations

import asyncio
import importlib.util
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, insert, inspect, select, text

from cop_widgets.apps.reflection import reflection_app
from cop_widgets.cli import main as cop_main
from cop_widgets.cli.demo import seed_demo, seed_demo_community
from cop_widgets.errors import StoreBusy, StoreOffline, StoreUnavailable
from cop_widgets.services import erasure, reflections, retention
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import open_store, schema
from cop_widgets.store.maintenance import check_store
from cop_widgets.store.migrations import LATEST
from tests.conftest import REPO
from tests.personal_data import NOW, X_NAME, _age, person_columns, seed
from tests.pg import PostgresServer, free_port, postgres_bin
from tests.signin import sign_in_as
from tests.store.test_db import _writer, assert_writers_lost_nothing
from tests.test_save_failures import run_in_loop, until

WRITERS = int(os.environ.get("COP_PG_WRITERS", "20"))
SAVES = int(os.environ.get("COP_PG_SAVES", "10"))


@pytest.fixture
def pg_store(pg_settings):
    store = open_store(pg_settings)
    yield store
    store.dispose()


def _dump(store) -> str:
    """Every value of every table, as text."""
    with store.read() as conn:
        return "\n".join(
            repr(tuple(row))
            for t in schema.metadata.sorted_tables
            for row in conn.execute(select(t))
        )


# -- the schema ----------------------------------------------------------------------------------
def test_every_table_and_column_of_schema_py_is_made_on_postgresql(pg_store):
    with pg_store.read() as conn:
        found = inspect(conn)
        for table in schema.metadata.sorted_tables:
            columns = [c["name"] for c in found.get_columns(table.name)]
            assert sorted(columns) == sorted(c.name for c in table.columns), table.name
        indexes = [ix["name"] for ix in found.get_indexes("discussion")]
        versions = conn.execute(select(schema.schema_migrations.c.version)).scalars().all()
    assert indexes.count("discussion_by_session") == 1
    assert sorted(versions) == list(range(1, LATEST + 1))


def test_the_audit_log_refuses_changes_on_postgresql(pg_store):
    who = find_or_add_person(pg_store, "Ana")
    reflections.save_draft(
        pg_store, who, str(uuid.uuid4()), _rolfe(), {"what": reflections.Answer("x")}
    )
    for statement in ("UPDATE audit_event SET outcome = 'forged'", "DELETE FROM audit_event"):
        with pytest.raises(Exception, match="append-only"):
            with pg_store.write() as conn:
                conn.execute(text(statement))
    with pg_store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.audit_event)).scalar() > 0


def _rolfe():
    from cop_widgets.content.frameworks import load_frameworks

    return load_frameworks(REPO / "data" / "frameworks").get("rolfe-2001")


# -- many writers --------------------------------------------------------------------------------
@pytest.mark.slow
def test_many_processes_saving_at_once_lose_nothing_on_postgresql(pg_store, pg_settings):
    """Each writer creates a draft and then changes it (a read-then-write), WRITERS processes
    at once; every save confirmed is there, none failed (a busy answer tried again, as the app
    does)."""
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(WRITERS), ctx.Queue()
    args = (pg_settings.database_url, str(pg_settings.data_dir))
    procs = [
        ctx.Process(target=_writer, args=(*args, f"writer {n}", SAVES, barrier, out))
        for n in range(WRITERS)
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    took = time.monotonic() - started
    print(f"{WRITERS} writers x {SAVES} x 2 saves on PostgreSQL: {took:.1f} s")
    confirmed = assert_writers_lost_nothing(results, WRITERS, SAVES)
    with pg_store.read() as conn:
        rows = conn.execute(select(schema.reflection.c.id)).scalars().all()
        answers = conn.execute(select(func.count()).select_from(schema.reflection_answer)).scalar()
        revisions = set(conn.execute(select(schema.reflection.c.revision)).scalars())
    assert len(rows) == len(set(rows)) == WRITERS * SAVES and set(rows) == confirmed
    assert answers == 2 * WRITERS * SAVES
    assert revisions == {2}  # the second save of each saw the first: no lost update


def test_a_save_kept_waiting_past_the_busy_timeout_says_not_saved_yet(postgres_server, pg_store):
    """Another connection holds the write lock (as a long save would): the save gives up after
    the busy timeout with StoreBusy, nothing of it written; once free, it saves."""
    import psycopg

    from cop_widgets.store.db import PG_WRITE_LOCK

    pg_store.settings = replace(pg_store.settings, busy_timeout_ms=600)
    who = find_or_add_person(pg_store, "Ana")
    rid = str(uuid.uuid4())
    reflections.save_draft(pg_store, who, rid, _rolfe(), {"what": reflections.Answer("first")})
    url = pg_store.engine.url
    holder = psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=postgres_server.password,
        dbname=url.database,
    )  # fmt: skip
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (PG_WRITE_LOCK,))
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="Not saved yet") as busy:
            reflections.save_draft(
                pg_store, who, rid, _rolfe(), {"what": reflections.Answer("second")}
            )
        assert 0.5 < time.monotonic() - started < 3
        assert type(busy.value) is StoreBusy  # the lock, not the server
        assert reflections.get_mine(pg_store, who, rid).answer("what").text == "first"
    finally:
        holder.rollback()
        holder.close()
    reflections.save_draft(pg_store, who, rid, _rolfe(), {"what": reflections.Answer("second")})
    assert reflections.get_mine(pg_store, who, rid).answer("what").text == "second"


def test_opening_a_migrated_store_does_not_wait_for_the_write_lock(postgres_server, pg_store):
    """30 kernels opening the store at once look at its schema without queueing on the one
    write lock: with a save holding it, opening still succeeds (before: StoreBusy)."""
    import psycopg

    from cop_widgets.store.db import PG_WRITE_LOCK

    url = pg_store.engine.url
    holder = psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=postgres_server.password,
        dbname=url.database,
    )  # fmt: skip
    try:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (PG_WRITE_LOCK,))
        opened = open_store(replace(pg_store.settings, busy_timeout_ms=600))
        opened.dispose()
    finally:
        holder.rollback()
        holder.close()


# -- the server goes away ------------------------------------------------------------------------
@pytest.fixture
def own_server(postgres_server):
    """A PostgreSQL server of this test's own, to stop and start (the session's stays up)."""
    server = PostgresServer(postgres_bin())
    yield server
    server.close()


def test_a_server_restart_during_saves_is_not_saved_yet_then_saved(own_server, data_dir):
    """Saves go on in a loop while the server stops: those refused say "not saved yet" (a kind
    of busy, so the app keeps the text and retries), nothing is half saved, and once the server
    is back the same save goes through."""
    name = own_server.create_database()
    store = open_store(Settings(data_dir, own_server.url(name), 5000))
    rolfe, who = _rolfe(), None
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    confirmed: list[str] = []
    refused: list[Exception] = []
    stop = threading.Event()

    def save_loop() -> None:
        n = 0
        while not stop.is_set():
            text_now = f"draft {n}"
            try:
                reflections.save_draft(
                    store, who, rid, rolfe, {"what": reflections.Answer(text_now)}
                )
                confirmed.append(text_now)
                n += 1
            except StoreBusy as exc:
                refused.append(exc)
                time.sleep(0.05)  # the text stays "typed": the same n is tried again

    loop = threading.Thread(target=save_loop)
    loop.start()
    try:
        assert _wait(lambda: len(confirmed) >= 5)
        own_server.stop("fast")  # ends every connection, as a restart or failover does
        assert _wait(lambda: refused, timeout=30)
        saved_while_down = len(confirmed)
        time.sleep(0.5)
        own_server.start()
        assert _wait(lambda: len(confirmed) >= saved_while_down + 5, timeout=30)
    finally:
        stop.set()
        loop.join(timeout=30)
    assert all(isinstance(e, StoreOffline) for e in refused), refused
    assert "not saved yet" in str(refused[0]).lower()
    assert "your text is kept" in refused[0].kept_message()
    assert reflections.get_mine(store, who, rid).answer("what").text == confirmed[-1]
    store.dispose()


def test_a_save_waits_out_a_short_restart_within_the_busy_timeout(own_server, data_dir):
    """Store.write() tries a lost connection again (with backoff) while the busy timeout
    lasts: a restart shorter than that is invisible to the person."""
    name = own_server.create_database()
    # a longer busy timeout than the 5 s floor: a loaded test machine may start slowly
    store = open_store(Settings(data_dir, own_server.url(name), 15_000))
    who = find_or_add_person(store, "Ana")
    rid = str(uuid.uuid4())
    reflections.save_draft(store, who, rid, _rolfe(), {"what": reflections.Answer("before")})
    own_server.stop("fast")
    back = threading.Timer(0.5, own_server.start)
    back.start()
    started = time.monotonic()
    reflections.save_draft(store, who, rid, _rolfe(), {"what": reflections.Answer("during")})
    back.join()
    assert time.monotonic() - started < 15.5
    assert reflections.get_mine(store, who, rid).answer("what").text == "during"
    store.dispose()


def test_the_reflection_app_keeps_the_text_while_the_server_is_away(own_server, data_dir):
    """The app's own path (Autosave): the server stops as the person saves; the page says
    "Not saved yet — retrying" and that the text is kept; once the server is back the retry
    saves it."""
    name = own_server.create_database()
    app = reflection_app(settings=Settings(data_dir, own_server.url(name), 5000), environ={})
    # each refused try gives up after 0.3 s (the product waits the 5 s busy timeout)
    app.store.settings = replace(app.store.settings, busy_timeout_ms=300)
    typed = "What happened: the visit ran short. ünïcode ✓"

    async def scenario():
        sign_in_as(app, "Ana")
        app.start_new("rolfe-2001")
        app.autosave.delay = 60  # only the save button and the retries save
        app.autosave.retry_first, app.autosave.retry_max = 0.05, 0.2
        app.stepper._answer.value = typed
        own_server.stop("fast")
        app.stepper._save.click()
        assert app.autosave.dirty and app.autosave.retrying
        assert app.status.kind == "error"
        assert "Not saved yet — retrying" in app.status.message
        assert "The database server does not answer just now — your text is kept" in (
            app.status.message
        )
        await asyncio.sleep(0.5)  # retries, each refused
        assert app.autosave.dirty and app.stepper._answer.value == typed
        await asyncio.to_thread(own_server.start)
        assert await until(lambda: not app.autosave.dirty, 20)

    try:
        run_in_loop(scenario)
        with app.store.read() as conn:
            saved = conn.execute(select(schema.reflection_answer.c.text)).scalars().all()
        assert [t for t in saved if t] == [typed]
    finally:
        app.store.dispose()


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


# -- settings that cannot work: one message, no traceback ----------------------------------------
def test_a_wrong_password_is_one_message_naming_the_user(postgres_server, pg_settings):
    name = pg_settings.database_url.rsplit("/", 1)[1]
    wrong = postgres_server.url(name, password="wrong")  # noqa: S106 - a wrong one on purpose
    with pytest.raises(StoreUnavailable) as refused:
        open_store(replace(pg_settings, database_url=wrong))
    message = str(refused.value)
    assert "refused the password of user 'cop'" in message and "COP_DATABASE_URL" in message
    assert "wrong" not in message and "***" in message  # never the password


def test_a_missing_database_says_to_create_it(postgres_server, pg_settings):
    url = postgres_server.url("no_such_store")
    with pytest.raises(StoreUnavailable, match="no database 'no_such_store'.*createdb"):
        open_store(replace(pg_settings, database_url=url))


def test_an_unreachable_server_is_a_kind_of_busy_with_the_address(pg_settings):
    port = free_port()  # nobody listens there
    url = f"postgresql://cop:secret@127.0.0.1:{port}/cop"
    started = time.monotonic()
    with pytest.raises(StoreOffline) as offline:
        open_store(replace(pg_settings, database_url=url))
    assert time.monotonic() - started < 10
    message = str(offline.value)
    assert f"no database server answers at 127.0.0.1:{port} (connection refused)" in message
    assert "secret" not in message
    assert isinstance(offline.value, StoreBusy)  # apps wait it out (apps/_startup.py)


def test_another_database_or_a_missing_driver_is_one_message(data_dir):
    base = Settings(data_dir, "", 5000)
    with pytest.raises(StoreUnavailable, match=r"names a mysql store \(mysql://u:\*\*\*@h/x\)"):
        open_store(replace(base, database_url="mysql://u:pw@h/x"))
    if importlib.util.find_spec("psycopg2") is None:
        with pytest.raises(StoreUnavailable, match=r"driver \(psycopg2\) is not installed"):
            open_store(replace(base, database_url="postgresql+psycopg2://u:pw@h/x"))


def test_cop_check_says_what_is_wrong_in_one_line(
    postgres_server, pg_settings, monkeypatch, capsys
):
    """`cop check` with a wrong password (in a child process, as an operator runs it), a URL
    that is not one, and a good store: each a line, exit 1 / 1 / 0, never a traceback."""
    name = pg_settings.database_url.rsplit("/", 1)[1]
    open_store(pg_settings).dispose()
    wrong = postgres_server.url(name, password="wrong")  # noqa: S106 - wrong on purpose
    runs = {
        "password": _cop("check", settings=replace(pg_settings, database_url=wrong)),
        "not a url": _cop_here(
            monkeypatch, capsys, "check",
            settings=replace(pg_settings, database_url="postgres ql:/nowhere"),
        ),
        "good": _cop_here(
            monkeypatch, capsys, "check", settings=replace(pg_settings, database_url=(
                pg_settings.database_url.replace("postgresql+psycopg://", "postgresql://"))),
        ),
    }  # fmt: skip
    for case, done in runs.items():
        assert "Traceback" not in done.stdout + done.stderr, case
    assert runs["password"].returncode == 1
    assert (
        "error store server: The store at postgresql+psycopg://cop:***@" in runs["password"].stdout
    )
    assert "refused the password of user 'cop'" in runs["password"].stdout
    assert runs["not a url"].returncode == 1
    assert "error store setting: COP_DATABASE_URL is not a usable URL" in runs["not a url"].stdout
    good = runs["good"]
    assert good.returncode == 0, good.stdout
    assert "ok    store server: PostgreSQL 1" in good.stdout
    assert f"ok    store schema: version {LATEST} (latest)" in good.stdout
    assert "note  store checks: integrity, WAL, free disk and backup age" in good.stdout


def test_check_store_in_process_names_the_collation(pg_store, pg_settings):
    lines = {h.name: h for h in check_store(pg_settings)}
    assert lines["server"].ok and lines["schema"].ok
    assert "collation" not in lines  # the test server sorts as SQLite does (C)


# -- data rights on PostgreSQL -------------------------------------------------------------------
def test_erasure_on_postgresql_leaves_no_row_and_no_text_of_theirs(pg_store):
    w = seed(pg_store, _rolfe())
    needles = [*w.canaries.values(), X_NAME]
    # all there before, but the draft's first text: rewritten since (an old row version)
    assert [n for n in needles if n not in _dump(pg_store)] == [w.canaries["draft"]]
    others = list(w.others.values())

    counts = erasure.erase_person(pg_store, w.x.id)

    dump = _dump(pg_store)
    assert [n for n in needles if n in dump] == []
    assert all(o in dump for o in others)  # everyone else's text stays
    for table, column in person_columns():
        if table.name != "audit_event":
            with pg_store.read() as conn:
                assert conn.execute(select(column).where(column == w.x.id)).all() == []
    with pg_store.read() as conn:
        last = conn.execute(
            select(schema.audit_event).order_by(schema.audit_event.c.seq.desc()).limit(1)
        ).one()
    assert (last.action, last.target_id, last.actor_id) == ("person_erased", w.x.id, None)
    assert "vacuumed" not in counts  # SQLite's scrub; PostgreSQL: the README's VACUUM FULL
    assert counts["reflection"] == len(w.x_reflections)


def test_retention_on_postgresql_deletes_expired_rows_and_their_text(pg_store):
    w = seed(pg_store, _rolfe())
    for rid in w.x_reflections:
        _age(pg_store, schema.reflection, "updated_at", 400, id=rid)
    with pg_store.write() as conn:  # the audit log so far is old (its guard lifted to age it)
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        conn.execute(text("UPDATE audit_event SET at = '2019-01-01T00:00:00.000000+00:00'"))
        conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
        old_audit = conn.execute(select(func.count()).select_from(schema.audit_event)).scalar()
    periods = {"reflections": 30, "audit": 5}  # audit: years
    preview = retention.apply_retention(pg_store, periods, NOW, dry_run=True)
    counts = retention.apply_retention(pg_store, periods, NOW)
    assert counts == preview and counts["reflection"] == len(w.x_reflections)
    assert counts["audit_event"] == old_audit
    dump = _dump(pg_store)
    assert w.canaries["answer"] not in dump and w.canaries["draft"] not in dump
    assert all(o in dump for o in w.others.values())
    with pg_store.read() as conn:
        left = set(conn.execute(select(schema.reflection.c.id)).scalars())
        actions = conn.execute(select(schema.audit_event.c.action)).scalars().all()
    assert left == {w.y_reflection, w.z_reflection}
    assert actions == ["retention_applied"]
    with pytest.raises(Exception, match="append-only"):  # the guard is back
        with pg_store.write() as conn:
            conn.execute(text("DELETE FROM audit_event"))


# -- cop data migrate ------------------------------------------------------------------------------
def _filled_sqlite(data_dir) -> Settings:
    """A SQLite store with a bit of everything: the demo (people, reflections, a community,
    sessions, check-ins), the data-rights world (discussions, notes, supervision), an erasure
    (audit events, the placeholder) and failed sign-ins (an integer key)."""
    settings = Settings(data_dir, f"sqlite:///{data_dir / 'cop.sqlite'}", 5000)
    store = open_store(settings)
    from cop_widgets.content.frameworks import load_frameworks

    seed_demo(store, load_frameworks(settings.frameworks_dir))
    seed_demo_community(store, settings)
    w = seed(store, _rolfe())
    erasure.erase_person(store, w.z.id)
    at = datetime(2026, 5, 1, tzinfo=UTC)
    with store.write() as conn:
        conn.execute(
            insert(schema.sign_in_failure),
            [
                {"key_hash": f"k{n}", "at": (at + timedelta(minutes=n)).isoformat()}
                for n in range(3)
            ],
        )
    store.dispose()
    return settings


def _tables(settings) -> dict[str, list[tuple]]:
    """Every row of every table, ordered by primary key."""
    store = open_store(settings)
    try:
        with store.read() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))]
                for t in schema.metadata.sorted_tables
            }
    finally:
        store.dispose()


def _cop(*args, settings, **env):
    return subprocess.run(
        [sys.executable, "-m", "cop_widgets.cli", *args],
        env=dict(
            os.environ,
            COP_DATA_DIR=str(settings.data_dir),
            COP_DATABASE_URL=settings.database_url,
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def _cop_here(monkeypatch, capsys, *args, settings):
    """`cop ...` in this process (quicker than a child): exit status, stdout, stderr."""
    monkeypatch.setenv("COP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COP_DATABASE_URL", settings.database_url)
    capsys.readouterr()
    code = cop_main(list(args))
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def test_cop_data_migrate_copies_sqlite_to_postgresql_and_back_row_for_row(
    pg_settings, postgres_server, data_dir, tmp_path, monkeypatch, capsys
):
    source = _filled_sqlite(data_dir)
    before = _tables(source)
    assert all(before[t] for t in ("person", "reflection", "audit_event", "sign_in_failure"))

    there = _cop("data", "migrate", "--to", pg_settings.database_url, settings=source)
    assert there.returncode == 0, there.stderr
    total = sum(len(rows) for rows in before.values())
    assert f"copied {total:,} rows of {len(before)} tables" in there.stdout
    assert "copying" in there.stderr and "rows" in there.stderr  # tqdm's bar, on stderr
    assert postgres_server.password not in there.stdout + there.stderr
    assert _tables(pg_settings) == before

    back_settings = Settings(data_dir, f"sqlite:///{tmp_path / 'back' / 'cop.sqlite'}", 5000)
    back = _cop_here(
        monkeypatch, capsys, "data", "migrate", "--to", back_settings.database_url,
        settings=pg_settings,
    )  # fmt: skip
    assert back.returncode == 0, back.stderr
    assert _tables(back_settings) == before

    # the copy is a working store: new rows (and audit events) continue after the copied ones
    store = open_store(pg_settings)
    try:
        who = find_or_add_person(store, "After the move")
        reflections.save_draft(
            store, who, str(uuid.uuid4()), _rolfe(), {"what": reflections.Answer("new")}
        )
        with store.write() as conn:
            conn.execute(insert(schema.sign_in_failure).values(key_hash="new", at="2026-06-01"))
        with store.read() as conn:
            seqs = conn.execute(select(schema.audit_event.c.seq)).scalars().all()
    finally:
        store.dispose()
    assert len(seqs) == len(set(seqs)) > len(before["audit_event"])


def test_cop_data_migrate_refuses_a_store_that_is_not_empty_unless_forced(
    pg_settings, data_dir, monkeypatch, capsys
):
    source = _filled_sqlite(data_dir)
    target = open_store(pg_settings)
    find_or_add_person(target, "Already here")
    target.dispose()

    refused = _cop_here(
        monkeypatch, capsys, "data", "migrate", "--to", pg_settings.database_url, settings=source
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "is not empty (audit_event 1, person 1)" in refused.stderr
    assert "copying" not in refused.stderr  # refused before the progress bar
    assert "Nothing was copied" in refused.stderr and "--force" in refused.stderr
    target = open_store(pg_settings)
    with target.read() as conn:
        names = conn.execute(select(schema.person.c.display_name)).scalars().all()
    target.dispose()
    assert names == ["Already here"]

    forced = _cop_here(
        monkeypatch, capsys, "data", "migrate", "--to", pg_settings.database_url, "--force",
        settings=source,
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert _tables(pg_settings) == _tables(source)  # what was there is gone


def test_cop_data_migrate_refuses_a_store_in_use_and_itself(
    pg_settings, data_dir, monkeypatch, capsys
):
    source = _filled_sqlite(data_dir)
    itself = _cop_here(
        monkeypatch, capsys, "data", "migrate", "--to", source.database_url, settings=source
    )
    assert itself.returncode == 2 and "names the store itself" in itself.stderr
    bad = _cop_here(monkeypatch, capsys, "data", "migrate", "--to", "post gres:/x", settings=source)
    assert bad.returncode == 2 and "--to is not a database URL" in bad.stderr
    busy = open_store(pg_settings)  # a server on the target
    try:
        with busy.read() as conn:
            conn.execute(select(1)).all()
        in_use = _cop_here(
            monkeypatch, capsys, "data", "migrate", "--to", pg_settings.database_url,
            settings=source,
        )  # fmt: skip
    finally:
        busy.dispose()
    assert (
        in_use.returncode == 2 and "other connection(s) to it). Stop `cop serve`" in in_use.stderr
    )
    assert "Nothing was changed" in in_use.stderr


def test_retention_and_erasure_commands_tell_the_operator_about_vacuum_full(
    pg_settings, monkeypatch, capsys
):
    store = open_store(pg_settings)
    find_or_add_person(store, "Ana")
    store.dispose()
    done = _cop_here(
        monkeypatch, capsys, "data", "erase", "--person", "Ana", "--yes", settings=pg_settings
    )
    assert done.returncode == 0, done.stderr
    assert "VACUUM FULL" in done.stderr and "write-ahead log" in done.stderr
