"""The session page's join: what a kernel does once its page is requested is small (a room of
30 joins at once on two cores), and what it shows is the session's, at once."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import ipywidgets as W
from ipywidgets.widgets.widget import _instances as live_widgets
from sqlalchemy import event

from cop_widgets.apps._autosave import Ticker
from cop_widgets.apps.session import session_app
from cop_widgets.services import sessions
from cop_widgets.services.identity import find_or_add_person
from tests.services.test_checkins import two_sessions  # noqa: F401 - a fixture
from tests.signin import sign_in_as

# Every widget made at the join is messages to the page while the room's kernels share the
# CPU: the view's widgets are made with the app (in a preheated kernel, before the request).
MOST_WIDGETS_MADE_AT_THE_JOIN = 2
# Every model the kernel holds is fetched and created by the page as it opens: widgets that
# never change their own layout or style share the page's (SharedLook). 31 today; 65 before.
MOST_MODELS_AFTER_THE_JOIN = 35
# Sign-in, the join's checks, its write, and what the page shows: a transaction each (the
# reads share a snapshot, Store.snapshot; 10 before it), while 30 kernels join at once.
MOST_TRANSACTIONS_AT_THE_JOIN = 4
# Each changed widget is a message from the kernel to the page, which the server also reads (its
# activity watch): the join by the link changes the header, the session's text, the page's body
# and the status line. 7 before the join row, the code field and the check-in's box were left
# as they are on a join that goes through.
MOST_STATE_MESSAGES_AT_THE_JOIN = 4
# Every joined page asks every few seconds whether check-out is open or the case discussion
# started: the session's discussions, the rule session.view (one statement, 3 before), and the
# check-out's time. 5 statements before.
MOST_STATEMENTS_A_POLL = 3


def _models_in(widget: W.Widget, seen: set[str]) -> set[str]:
    """The ids of `widget`'s model and of every model it refers to, however deep."""
    seen.add(widget.model_id)
    for name in widget.keys:
        value = getattr(widget, name, None)
        for part in value if isinstance(value, list | tuple) else [value]:
            if isinstance(part, W.Widget) and part.model_id not in seen:
                _models_in(part, seen)
    return seen


@contextmanager
def _state_messages() -> Iterator[list[tuple[str, object]]]:
    """(widget class, what changed) of every state message the widgets send meanwhile."""
    sent: list[tuple[str, object]] = []
    send_state = W.Widget.send_state

    def recorded(widget: W.Widget, key=None) -> None:
        sent.append((type(widget).__name__, key))
        send_state(widget, key)

    W.Widget.send_state = recorded
    try:
        yield sent
    finally:
        W.Widget.send_state = send_state


def test_a_join_fills_widgets_made_before_the_request(settings, two_sessions):  # noqa: F811
    _, first, _ = two_sessions
    before_app = set(live_widgets)
    app = session_app(settings=settings)
    try:
        app.query = f"code={first.join_code}"
        before = set(live_widgets)
        begun: list[object] = []

        def count(conn) -> None:
            begun.append(conn)

        ana = find_or_add_person(app.store, "Ana")
        event.listen(app.store.engine, "begin", count)
        with _state_messages() as sent:
            sign_in_as(app, ana)
        event.remove(app.store.engine, "begin", count)
        made = set(live_widgets) - before
        assert app.joined is not None, app.status.message
        assert len(made) <= MOST_WIDGETS_MADE_AT_THE_JOIN, len(made)
        assert len(begun) <= MOST_TRANSACTIONS_AT_THE_JOIN, len(begun)
        assert len(sent) <= MOST_STATE_MESSAGES_AT_THE_JOIN, sent
        assert app.body.children == tuple(app.joined_view)
        assert "<h2>First</h2>" in app.info.value
        assert "CoP ·" in app.info.value  # the community's name, read with the session
        assert app.form_box.children and app.form_box.children[0] is app.form  # check-in
        assert app.checkout_button.layout.display == "none"
        shown = _models_in(app, set())
        kept = set(live_widgets) - before_app  # all the kernel would send the page
        assert len(kept) <= MOST_MODELS_AFTER_THE_JOIN, len(kept)
        assert shown <= kept
    finally:
        app.store.dispose()


def test_a_joined_page_asks_for_the_room_in_few_statements(settings, two_sessions):  # noqa: F811
    _, first, _ = two_sessions
    app = session_app(settings=settings)
    try:
        app.query = f"code={first.join_code}"
        sign_in_as(app, "Ana")
        assert app.joined is not None, app.status.message
        statements: list[str] = []

        def count(conn, cursor, statement, *_) -> None:
            if not statement.lstrip().upper().startswith("BEGIN"):  # the transaction's own
                statements.append(statement)

        event.listen(app.store.engine, "before_cursor_execute", count)
        try:
            app.poll()
        finally:
            event.remove(app.store.engine, "before_cursor_execute", count)
        assert 0 < len(statements) <= MOST_STATEMENTS_A_POLL, statements
        assert app.checkout_button.layout.display == "none"  # it asked, and it is not open
    finally:
        app.store.dispose()


def test_a_late_joiner_sees_an_open_check_out_at_once(store, settings, two_sessions):  # noqa: F811
    coord, first, _ = two_sessions
    sessions.open_checkout(store, coord, first.id)
    app = session_app(settings=settings)
    try:
        app.query = f"code={first.join_code}"
        sign_in_as(app, "Ben")
        assert app.joined is not None, app.status.message
        assert app.checkout_button.layout.display is None
        assert app.checkout_note.value == ""
        # the button's layout is its own: nothing else on the page was shown or hidden with it
        others = (app.info, app.form_box, app.body, app.status, app.form.send)
        assert all(w.layout is not app.checkout_button.layout for w in others)
        assert all(w.layout.display is None for w in others)
    finally:
        app.store.dispose()


def test_pages_that_join_together_ask_for_the_room_at_spread_times(settings):
    """Each joined page asks every few seconds whether check-out is open; a room's pages,
    joined in the same second, ask at spread times rather than all at once every period."""
    app = session_app(settings=settings)
    app.store.dispose()
    assert app.ticker.spread

    async def first_calls(tickers: int, every: float) -> list[float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        calls: list[asyncio.Future] = [loop.create_future() for _ in range(tickers)]
        running = []
        for call in calls:

            def tick(call: asyncio.Future = call) -> None:
                if not call.done():
                    call.set_result(loop.time() - started)

            ticker = Ticker(tick, every=every, spread=True)
            assert ticker.start()
            running.append(ticker)
        try:
            return list(await asyncio.gather(*calls))
        finally:
            for ticker in running:
                ticker.stop()

    every = 0.2
    waits = asyncio.run(first_calls(20, every))
    assert all(every <= wait < 2 * every + 0.15 for wait in waits), waits
    assert max(waits) - min(waits) > every / 4, waits  # not all in the same instant
    assert Ticker(lambda: None, every=every).first_wait() == every  # unspread: one period
