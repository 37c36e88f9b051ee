"""Typed text is never lost when the store refuses it (issue #12, part 1).

A refused "Save draft" or "Submit" stays marked unsaved and is tried again in the background
until the store takes it; "Back to my reflections" waits for the save; every store failure is a
project error with a plain message; a button that takes a field's text keeps keystrokes that
reach the kernel after the click. Failures are real: a second connection holds the store's write
lock (saves then time out after a short busy timeout), or the store may not grow
(`PRAGMA max_page_count`, which SQLite reports as "database or disk is full").
"""

import asyncio
import dataclasses
import sqlite3
import threading
import time

import ipywidgets as W
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, OperationalError

from cop_widgets.apps.case_discussion import case_discussion_app
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.errors import (
    StoreBusy,
    StoreDamaged,
    StoreFailure,
    StoreFull,
    StoreReadOnly,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.db import store_failure
from cop_widgets.store.schema import discussion_action, reflection, reflection_answer
from tests.signin import sign_in_as

BUSY_MS = 200  # how long a save waits for the lock in these tests (the product's floor is 5 s)
TEXT = "What happened — the visit ran short.\nShe said “not today”; ünïcode ✓ stays."


def sign_in(app, name: str) -> None:
    sign_in_as(app, name)


def _short_busy_timeout(store) -> None:
    """Saves give up after BUSY_MS instead of 5 s, so that a test can watch several retries."""
    store.settings = dataclasses.replace(store.settings, busy_timeout_ms=BUSY_MS)
    event.listen(
        store.engine,
        "connect",
        lambda dbapi_conn, _rec: dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}"),
    )
    store.engine.dispose()


def _disk_full(store) -> None:
    """From now on the store file may not grow by a single page: SQLite says the disk is full."""

    def cap(dbapi_conn, _rec):
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(store.engine, "connect", cap)
    store.engine.dispose()


def run_in_loop(scenario) -> None:
    """Run `scenario()` on an asyncio loop of its own, as a kernel runs the app's timers."""
    failures = []

    def main():
        try:
            asyncio.run(scenario())
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            failures.append(exc)

    # A thread of its own: no other test's event loop can be running there.
    worker = threading.Thread(target=main)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the scenario did not end"
    if failures:
        raise failures[0]


async def until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def _saved(store) -> tuple[list, dict[str, str]]:
    with store.read() as conn:
        rows = conn.execute(select(reflection)).all()
        answers = conn.execute(select(reflection_answer)).all()
    return rows, {a.stage_id: a.text for a in answers if a.text}


@pytest.fixture
def app(settings):
    app = reflection_app(settings=settings, environ={})
    _short_busy_timeout(app.store)
    yield app
    app.store.dispose()


def _quick_retries(app) -> None:
    app.autosave.delay = 60  # only a retry may save in these tests
    app.autosave.retry_first, app.autosave.retry_max = 0.05, 0.2


# -- the failed-save trap -------------------------------------------------------------------------
def test_a_refused_save_draft_stays_unsaved_and_is_retried_until_saved(app, lock_for):
    async def scenario():
        sign_in(app, "Ana")
        app.start_new("rolfe-2001")
        _quick_retries(app)
        app.stepper._answer.value = TEXT
        lock = lock_for(app.store)
        app.stepper._save.click()
        assert app.autosave.dirty, "a refused save must stay marked unsaved"
        assert app.status.kind == "error"
        assert "Not saved yet — retrying" in app.status.message
        assert "Another save is in progress" in app.status.message
        assert app.autosave.retrying and app.autosave.next_try_in == pytest.approx(0.05)
        await asyncio.sleep(0.6)  # several retries, each refused
        assert app.autosave.dirty and "Not saved yet — retrying" in app.status.message
        assert _saved(app.store) == ([], {})
        lock.release()
        assert await until(lambda: not app.autosave.dirty), "the retry never saved it"
        assert not app.autosave.retrying and app.autosave.next_try_in is None
        assert app.status.kind == "ok" and "Draft saved at" in app.status.message

    run_in_loop(scenario)
    rows, answers = _saved(app.store)
    assert [r.status for r in rows] == ["draft"] and answers == {"what": TEXT}


def test_retries_back_off_and_are_capped(app, lock_for):
    async def scenario():
        sign_in(app, "Ana")
        app.start_new("rolfe-2001")
        app.autosave.delay = 60
        app.autosave.retry_first, app.autosave.retry_max = 0.05, 0.2
        app.stepper._answer.value = TEXT
        lock_for(app.store)
        waits = []
        tell = app.autosave.on_failure

        def spy(exc):
            waits.append(app.autosave.next_try_in)
            tell(exc)

        app.autosave.on_failure = spy
        app.stepper._save.click()
        assert await until(lambda: len(waits) >= 5), waits
        assert waits[:5] == pytest.approx([0.05, 0.1, 0.2, 0.2, 0.2])
        assert app.autosave.dirty and "Not saved yet — retrying" in app.status.message

    run_in_loop(scenario)


def test_a_refused_submit_stays_unsaved_and_is_retried_until_submitted(app, lock_for):
    texts = {"what": TEXT, "so_what": "It mattered\nbecause…", "now_what": "Ask first. ✓"}

    async def scenario():
        sign_in(app, "Ana")
        app.start_new("rolfe-2001")
        _quick_retries(app)
        for index, stage_id in enumerate(texts):
            app.stepper.go(index)
            app.stepper._answer.value = texts[stage_id]
        lock = lock_for(app.store)
        app.stepper._submit.click()
        assert await until(lambda: "Not saved yet" in app.status.message)
        assert "Not saved yet — retrying" in app.status.message
        assert app.autosave.dirty and app.autosave.retrying
        assert not app.stepper.read_only
        await asyncio.sleep(0.4)
        assert _saved(app.store) == ([], {})
        lock.release()
        assert await until(lambda: not app.autosave.dirty), "the retry never submitted it"
        assert "Submitted at" in app.status.message and app.stepper.read_only

    run_in_loop(scenario)
    rows, answers = _saved(app.store)
    assert [r.status for r in rows] == ["submitted"] and answers == texts


def test_back_to_my_reflections_waits_until_the_text_is_saved(app, lock_for):
    sign_in(app, "Ana")
    app.start_new("rolfe-2001")
    app.stepper._answer.value = TEXT
    lock = lock_for(app.store)
    app.stepper._save.click()  # refused: the text stays unsaved
    assert app.autosave.dirty
    stepper = app.stepper
    for _ in range(2):  # pressing Back again while the store still refuses changes nothing
        stepper._close.click()
        assert app.stepper is stepper and stepper in app.body.children
        assert app.status.kind == "error" and "this page stays open" in app.status.message
        assert "your text is kept" in app.status.message
        assert stepper._answer.value == TEXT and app.autosave.dirty
    assert _saved(app.store) == ([], {})
    lock.release()
    stepper._close.click()
    assert app.stepper is None and "My reflections" in app.body.children[-2].value
    assert _saved(app.store)[1] == {"what": TEXT}


def test_a_refused_submit_then_back_does_not_lose_the_text(app, lock_for):
    texts = {"what": TEXT, "so_what": "Because.", "now_what": "Next time, ask first."}
    sign_in(app, "Ana")
    app.start_new("rolfe-2001")
    for index, stage_id in enumerate(texts):
        app.stepper.go(index)
        app.stepper._answer.value = texts[stage_id]
    lock = lock_for(app.store)
    app.stepper._submit.click()  # no event loop here: runs at once, and is refused
    assert "Not saved yet" in app.status.message and app.autosave.dirty
    app.stepper._close.click()
    assert app.stepper is not None, "left the page with the text unsaved"
    lock.release()
    app.stepper._close.click()
    assert app.stepper is None and _saved(app.store)[1] == texts


# -- store failures as plain messages ---------------------------------------------------------
def test_disk_full_is_a_plain_message_and_the_text_is_kept(app):
    sign_in(app, "Ana")
    app.start_new("rolfe-2001")
    _disk_full(app.store)
    long_text = "A long reflection. " * 2000  # needs new pages in the file
    app.stepper._answer.value = long_text
    app.stepper._save.click()
    assert app.status.kind == "error"
    assert (
        "The server's disk is full — your text is kept; tell the person who runs the workbook."
        in app.status.message
    )
    assert "Something went wrong" not in app.status.message
    assert app.autosave.dirty and app.stepper._answer.value == long_text


def test_disk_full_raises_a_project_error_from_store_write(store):
    _disk_full(store)
    with pytest.raises(StoreFull, match="the server's disk is full") as caught:
        with store.write() as conn:
            conn.exec_driver_sql("CREATE TABLE needs_a_new_page (x TEXT)")
    assert isinstance(caught.value, StoreFailure)


def test_a_new_person_on_a_full_store_is_not_told_their_text_is_kept(app):
    _disk_full(app.store)
    for n in range(2000):  # fill the pages the person table still has room in
        try:
            find_or_add_person(app.store, f"Filler {n}")
        except Exception:  # noqa: BLE001 - the store is full now
            break
    else:
        pytest.fail("the store never filled up")
    app.guard(sign_in, app, "Newcomer")
    assert app.status.kind == "error" and "disk is full" in app.status.message
    assert "text" not in app.status.message.lower()


def _driver_error(kind, message: str, errorname: str):
    orig = sqlite3.OperationalError(message)
    orig.sqlite_errorname = errorname
    return kind("INSERT ...", {}, orig)


@pytest.mark.parametrize(
    ("message", "errorname", "expected", "words"),
    [
        ("database is locked", "SQLITE_BUSY", StoreBusy, "another save is in progress"),
        ("database or disk is full", "SQLITE_FULL", StoreFull, "disk is full"),
        ("attempt to write a readonly database", "SQLITE_READONLY", StoreReadOnly, "read-only"),
        ("database disk image is malformed", "SQLITE_CORRUPT", StoreDamaged, "damaged"),
        ("file is not a database", "SQLITE_NOTADB", StoreDamaged, "damaged"),
        ("disk I/O error", "SQLITE_IOERR_WRITE", StoreFailure, "disk I/O error"),
    ],
)
def test_every_store_failure_has_a_plain_message(message, errorname, expected, words):
    failure = store_failure(_driver_error(OperationalError, message, errorname))
    assert type(failure) is expected and words in str(failure)
    assert str(failure).startswith("Not saved yet: ")
    assert "tell the person who runs the workbook" in str(failure).lower() or expected is StoreBusy
    assert "your text is kept" in failure.kept_message()


def test_an_integrity_error_stays_the_callers_to_handle():
    assert (
        store_failure(_driver_error(IntegrityError, "UNIQUE constraint", "SQLITE_CONSTRAINT"))
        is None
    )


# -- a button that takes a field's text ------------------------------------------------------------
@pytest.fixture
def discussion_view(settings):
    app = case_discussion_app(settings=settings, environ={}, tick_seconds=60)
    sign_in(app, "Fran")
    app.form.summary.value = "A mother of two; the school worries."
    app.form.start.click()
    assert "Discussion started" in app.status.message, app.status.message
    yield app.view
    app.store.dispose()


def _browser_sends(field, value: str) -> None:
    """A value update from the browser, as the kernel receives it over the widget's comm."""
    field.set_state({"value": value})


def _add_button(view):
    [button] = [w for w in view._form.children[1].children if isinstance(w, W.Button)]
    return button


def _actions(view) -> list[tuple[str, str]]:
    with view.app.store.read() as conn:
        rows = conn.execute(
            select(discussion_action.c.description, discussion_action.c.owner).order_by(
                discussion_action.c.created_at
            )
        ).all()
    return [tuple(r) for r in rows]


def test_action_fields_send_their_value_before_the_click(discussion_view):
    # The browser holds back a continuously updated field's newest value while the kernel is
    # busy and sends it after the click; a field sent when the person leaves it is not held.
    assert discussion_view.action_text.continuous_update is False
    assert discussion_view.action_owner.continuous_update is False


def test_words_that_arrive_after_add_action_are_kept_in_the_action(discussion_view):
    view = discussion_view
    _browser_sends(view.action_text, "Call the fa")  # the kernel was busy: only this arrived
    _browser_sends(view.action_owner, "Presenter")
    _add_button(view).click()
    _browser_sends(view.action_text, "Call the family before Friday")  # the rest, late
    assert _actions(view) == [("Call the family before Friday", "Presenter")]
    assert view.action_text.value == "" and view.action_owner.value == ""
    assert view.app.status.kind == "ok" and "Action added" in view.app.status.message
    # the next action is a new entry, not the rest of the last one
    _browser_sends(view.action_text, "Book an interpreter")
    assert view.action_text.value == "Book an interpreter"
    assert len(_actions(view)) == 1


def test_the_next_action_typed_right_after_add_action_is_not_taken_half_typed(discussion_view):
    view = discussion_view

    async def scenario():
        _browser_sends(view.action_text, "Call the family")
        _browser_sends(view.action_owner, "Presenter")
        _add_button(view).click()
        # the person starts the next action at once; its words come in while the kernel works
        _browser_sends(view.action_text, "Ask the sch")
        await asyncio.sleep(0.6)
        _browser_sends(view.action_text, "Ask the school nurse")

    run_in_loop(scenario)
    assert _actions(view) == [("Call the family", "Presenter")]
    assert view.action_text.value == "Ask the school nurse", "the next action was lost"


def test_an_action_that_is_refused_keeps_its_text_in_the_field(discussion_view, lock_for):
    view = discussion_view
    _short_busy_timeout(view.app.store)
    _browser_sends(view.action_text, "Call the family")
    _browser_sends(view.action_owner, "Presenter")
    lock = lock_for(view.app.store)
    _add_button(view).click()
    assert "Not saved yet" in view.app.status.message
    assert view.action_text.value == "Call the family" and view.action_owner.value == "Presenter"
    lock.release()
    _add_button(view).click()
    assert _actions(view) == [("Call the family", "Presenter")]
