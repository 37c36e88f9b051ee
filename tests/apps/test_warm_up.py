"""A preheated session kernel rehearses its first request on a scratch twin of the store
(apps/_warm_up.py): the real join then finds its statements compiled, and the real store is
left exactly as it was."""

from sqlalchemy import event, func, select

from cop_widgets.apps import session as session_page
from cop_widgets.apps._warm_up import rehearse_first_request
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.store.schema import metadata
from tests.services.test_checkins import two_sessions  # noqa: F401 - a fixture
from tests.signin import assertion_environ


def _row_counts(store) -> dict[str, int]:
    with store.read() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(table)).scalar()
            for name, table in metadata.tables.items()
        }


def _executed(store, do) -> list[tuple[str, object]]:
    """(SQL, execution context) of every statement `do()` ran on the store."""
    run: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        run.append((statement, context))

    event.listen(store.engine, "after_cursor_execute", seen)
    try:
        do()
    finally:
        event.remove(store.engine, "after_cursor_execute", seen)
    return run


def _compiled_at_first_use(store, do) -> int:
    """How many statements `do()` had to compile (not found in the store's cache)."""
    return sum(
        1
        for _, context in _executed(store, do)
        if context is not None and context.cache_hit == context.dialect.CACHE_MISS
    )


def _first_request(store, settings, who, code):
    """The page's first request, as the server asks it: for a person signed in with a web
    session of theirs (opened here, before the request)."""
    from cop_widgets.services import accounts

    signed_in = accounts.use_link(store, accounts.issue_link(store, who.id), "127.0.0.1", 1)
    environ = assertion_environ(store, who, signed_in.session_id)
    item_sets, _ = load_item_sets(settings.data_dir / "session_items")
    return lambda: session_page._first_request(store, environ, f"code={code}", settings, item_sets)


def test_the_rehearsal_compiles_the_join_and_leaves_the_store_as_it_was(
    store,
    settings,
    two_sessions,  # noqa: F811
):
    from cop_widgets.services.identity import find_or_add_person

    _, first, _ = two_sessions
    ana, ben = find_or_add_person(store, "Ana"), find_or_add_person(store, "Ben")
    # without a rehearsal: the first join compiles most of its statements
    cold = _compiled_at_first_use(store, _first_request(store, settings, ana, first.join_code))
    assert cold >= 10, cold
    ben_opens_the_page = _first_request(store, settings, ben, first.join_code)
    store.engine.clear_compiled_cache()  # from here, only what the rehearsal compiles
    before = _row_counts(store)
    item_sets, _ = load_item_sets(settings.data_dir / "session_items")
    assert rehearse_first_request(
        store,
        session_page._stand_in,
        lambda twin, environ, query: session_page._first_request(
            twin, environ, query, settings, item_sets
        ),
    )
    assert _row_counts(store) == before  # nothing of the rehearsal reached the store
    # the real page's identity check (its web session too), join and reads: all compiled
    assert _compiled_at_first_use(store, ben_opens_the_page) == 0


def test_a_rehearsal_that_fails_is_logged_and_changes_nothing(store, caplog):
    def broken(twin, environ, query):
        raise RuntimeError("a bug in the page's first request")

    before = _row_counts(store)
    assert not rehearse_first_request(store, session_page._stand_in, broken)
    assert _row_counts(store) == before
    assert "rehearsing the page's first request failed" in caplog.text


def test_the_rehearsal_reads_the_real_stores_secret_ahead_and_never_makes_one(
    store,
    settings,
    two_sessions,  # noqa: F811
):
    from cop_widgets.services.identity import current_person, find_or_add_person
    from cop_widgets.store import open_store
    from cop_widgets.store.schema import server_secret

    def no_rehearsal(twin, environ, query):
        return None

    # a store that has no secret yet: none is made ahead (the server makes it when it starts)
    with store.write() as conn:
        conn.execute(server_secret.delete())
    before = _row_counts(store)
    rehearse_first_request(store, session_page._stand_in, no_rehearsal)
    assert _row_counts(store) == before
    # a served store has one: a kernel's own store object reads it while waiting for its page
    ana = find_or_add_person(store, "Ana")
    environ = assertion_environ(store, ana)  # makes the secret, as the server does
    kernels_store = open_store(settings)
    try:
        served = _row_counts(kernels_store)
        rehearse_first_request(kernels_store, session_page._stand_in, no_rehearsal)
        assert _row_counts(kernels_store) == served
        run = [
            sql
            for sql, _ in _executed(kernels_store, lambda: current_person(kernels_store, environ))
        ]
        assert run and not [sql for sql in run if "server_secret" in sql], run
    finally:
        kernels_store.dispose()
