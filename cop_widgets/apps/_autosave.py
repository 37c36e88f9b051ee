"""Autosave: save a draft a few seconds after typing starts; retry what the store refused."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from cop_widgets.errors import StoreFailure

log = logging.getLogger("cop_widgets.apps")


class Autosave:
    """Keeps a change marked unsaved until the store confirms it, and saves it by itself.

    touch() marks a change and saves it `delay` seconds later; run() saves now (or runs another
    saving action, such as a submit). `dirty` is cleared only after a save succeeded. When the
    store fails (a StoreFailure: busy, disk full, ...) the change stays dirty and the same
    action is tried again in the background after `retry_first` seconds, then twice as long
    each time up to `retry_max`, until it succeeds; on_failure(exc) tells the person each time.
    Any other error (a rule of the input) also leaves the change dirty; run() raises it.

    In a Voilà or Jupyter kernel the asyncio loop is running and the timers fire by themselves;
    where no loop runs (plain Python, tests) flush() saves at once.

    With delay=None nothing is saved by itself: touch() only marks typed text as not yet stored
    (a form sent with a button); run(action) stores it and retries a refused action as above.
    on_dirty(dirty) is called whenever `dirty` changes (the page's "unsaved text" marker).
    """

    def __init__(
        self,
        save: Callable[[], None] | None,
        delay: float | None = 3.0,
        on_failure: Callable[[Exception], None] | None = None,
        retry_first: float = 2.0,
        retry_max: float = 30.0,
    ):
        self._save = save
        self.delay = delay
        self.on_failure = on_failure
        self.retry_first, self.retry_max = retry_first, retry_max
        self.on_dirty: Callable[[bool], None] | None = None
        self._dirty = False
        self.failure: StoreFailure | None = None  # the store's last refusal, while retrying
        self.next_try_in: float | None = None  # seconds to the scheduled save, None if none
        self._retry_action: Callable[[], None] | None = None
        self._next_retry: float | None = None  # None: retry_first
        self._changes = 0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def dirty(self) -> bool:
        """True while a change is not yet confirmed by the store."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        changed, self._dirty = value != self._dirty, value
        if changed and self.on_dirty is not None:
            self.on_dirty(value)

    @property
    def retrying(self) -> bool:
        """True while a save the store refused is waiting for its next try."""
        return self._retry_action is not None

    def touch(self) -> None:
        self.dirty = True
        self._changes += 1
        if self._timer is None and self.delay is not None:
            self._schedule(self.delay)

    def run(self, action: Callable[[], None] | None = None) -> bool:
        """Save now with `action` (default: the save this was made with). True once the store
        took it; False when the store refused it (then it stays dirty, is retried in the
        background and on_failure was told). Other errors are raised, the change kept dirty."""
        action = action or self._save
        if action is None:  # nothing to save with: the change stays marked
            return not self.dirty
        self._unschedule()
        changes = self._changes
        try:
            action()
        except StoreFailure as exc:
            self.dirty = True
            self.failure = exc
            self._retry_action = action
            delay = self._next_retry or self.retry_first
            self._next_retry = min(delay * 2, self.retry_max)
            self._schedule(delay)
            if self.on_failure is not None:
                self.on_failure(exc)
            return False
        except BaseException:
            self._retry_action, self.failure = None, None
            self._next_retry = None
            raise
        self._retry_action, self.failure = None, None
        self._next_retry = None
        if self._changes == changes:
            self.dirty = False
        elif self._timer is None and self.delay is not None:  # changed while saving: saved next
            self._schedule(self.delay)
        return True

    def flush(self) -> bool:
        """Save a pending change now (the retried action if one waits). True when nothing is
        left unsaved."""
        if not self.dirty:
            return True
        return self.run(self._retry_action)

    def _fire(self) -> None:
        self._timer, self.next_try_in = None, None
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - a timer has nobody to raise to
            log.exception("saving in the background failed")
            if self.on_failure is not None:
                self.on_failure(exc)

    def _schedule(self, delay: float) -> None:
        loop = running_loop()
        if loop is not None:
            self._timer = loop.call_later(delay, self._fire)
            self.next_try_in = delay

    def _unschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self.next_try_in = None, None

    def cancel(self) -> None:
        """Drop the pending change on purpose (it was saved, or is not to be saved)."""
        self._unschedule()
        self._retry_action, self.failure = None, None
        self._next_retry = None
        self.dirty = False


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running this code (a kernel's, which runs widget handlers), else None.

    Only the loop of this very call: a loop merely set for the thread may be running
    elsewhere (Playwright's sync API keeps one turning in a greenlet of the main thread), and
    timers put on it would fire only when that loop next turns."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Ticker:
    """Calls fn every `every` seconds on the kernel's event loop (live views of shared state).
    `spread`: the first call comes after one period and a random part of another, so the pages
    of a room, opened together, do not all ask the store in the same instant every period."""

    def __init__(self, fn: Callable[[], None], every: float = 1.0, spread: bool = False):
        self._fn = fn
        self.every = every
        self.spread = spread
        self._task: asyncio.Task | None = None

    def start(self) -> bool:
        loop = running_loop()
        if loop is None or self._task is not None:
            return False
        self._task = loop.create_task(self._run())
        return True

    def first_wait(self) -> float:
        return self.every * (1 + random.random()) if self.spread else self.every  # noqa: S311

    async def _run(self) -> None:
        await asyncio.sleep(self.first_wait())
        while True:
            self._fn()
            await asyncio.sleep(self.every)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
