"""Start-up while the shared store is busy: the app says so and opens the store by itself.

An app factory that meets StoreBusy from open_store passes `busy_start(settings)` as its
start-up error; AppShell.begin sees it, shows STORE_BUSY_MESSAGE and calls retry_opening,
which tries open_store again on the kernel's asyncio loop (in a worker thread, so the page
stays responsive) after 1, 2, 4 ... seconds, capped at RETRY_MAX_SECONDS between tries, until
the store opens; then the app starts as usual (the person is identified only then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cop_widgets.apps._autosave import running_loop
from cop_widgets.apps._kernel_log import send_logs_to_server
from cop_widgets.errors import CopWidgetsError, StoreBusy
from cop_widgets.settings import Settings
from cop_widgets.store import Store

log = logging.getLogger("cop_widgets.apps")

STORE_BUSY_MESSAGE = "The shared store is busy; retrying…"
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 15.0


class BusyStart(str):
    """A start-up message that means: the store was busy; open it again with `opener`."""

    opener: Callable[[], object]

    def __new__(cls, opener: Callable[[], object]) -> BusyStart:
        made = super().__new__(cls, STORE_BUSY_MESSAGE)
        made.opener = opener
        return made


def busy_start(settings) -> BusyStart:
    from cop_widgets.store import open_store

    return BusyStart(lambda: open_store(settings))


@dataclass
class Opened:
    """What an app factory starts from: the settings (the defaults when the configured ones
    could not be read, so a page can still say what is wrong), the store or None, a start-up
    message ("" when all is well; a BusyStart when the store was busy), and what `load` read."""

    settings: Settings
    store: Store | None
    error: str
    loaded: Any = None


def open_for_app(
    settings: Settings | None,
    environ,
    what: str,
    load: Callable[[Settings], Any] | None = None,
) -> Opened:
    """The one way an app opens what it needs: settings, then its data files (`load`, e.g. the
    reflective models), then the store. A problem becomes a message naming `what` ("The
    review app") and the app still builds; a busy store is opened again by itself."""
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    send_logs_to_server()
    loaded, store, error = None, None, ""
    try:
        settings = settings or load_settings(environ)
        loaded = load(settings) if load else None
        store = open_store(settings, check_integrity=False)  # the server checks the file
    except StoreBusy:  # opened by itself once the store is free
        error = busy_start(settings)
    except CopWidgetsError as exc:
        error = f"{what} cannot save right now: {exc}"
    shown = settings or Settings.defaults()
    return Opened(shown, store, error, loaded)


def retry_opening(app, start: BusyStart, then: Callable[[], None]) -> asyncio.Task | None:
    """Show that the store is busy and keep opening it; once open, set app.store and call
    then(). Where no asyncio loop runs (plain Python) the message stays and nothing retries."""
    app.status.show(STORE_BUSY_MESSAGE, "warning")
    loop = running_loop()
    if loop is None:
        return None
    task = loop.create_task(_retry(app, start, then))
    app.store_retry = task  # keep a reference: the loop holds tasks weakly
    return task


async def _retry(app, start: BusyStart, then: Callable[[], None]) -> None:
    delay = RETRY_FIRST_SECONDS
    tries = 0
    while True:
        await asyncio.sleep(delay)
        tries += 1
        try:
            store = await asyncio.to_thread(start.opener)
        except StoreBusy:
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            app.status.show(f"{STORE_BUSY_MESSAGE} (tried {tries} times)", "warning")
            continue
        except CopWidgetsError as exc:
            app.status.show(f"The workbook cannot open the store: {exc}", "error")
            return
        except Exception:  # noqa: BLE001 - shown as a plain message, logged for the operator
            log.exception("opening the store failed")
            app.status.show(
                "The workbook cannot open the store; reload the page, and tell your "
                "facilitator if it keeps happening.",
                "error",
            )
            return
        app.store = store
        app.status.clear()
        then()
        return
