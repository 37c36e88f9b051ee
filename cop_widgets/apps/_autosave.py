"""Autosave: save a draft a few seconds after typing starts, at most once per interval."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Autosave:
    """Calls save() `delay` seconds after the first change since the last save.

    In a Voilà or Jupyter kernel the asyncio loop is running and the timer fires by itself;
    where no loop runs (plain Python, tests) flush() saves at once.
    """

    def __init__(self, save: Callable[[], None], delay: float = 3.0):
        self._save = save
        self.delay = delay
        self.dirty = False
        self._timer: asyncio.TimerHandle | None = None

    def touch(self) -> None:
        self.dirty = True
        if self._timer is not None:
            return
        loop = running_loop()
        if loop is not None:
            self._timer = loop.call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        if self.dirty:
            self.dirty = False
            self._save()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.dirty = False


def running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None
    return loop if loop.is_running() else None


class Ticker:
    """Calls fn every `every` seconds on the kernel's event loop (live views of shared state)."""

    def __init__(self, fn: Callable[[], None], every: float = 1.0):
        self._fn = fn
        self.every = every
        self._task: asyncio.Task | None = None

    def start(self) -> bool:
        loop = running_loop()
        if loop is None or self._task is not None:
            return False
        self._task = loop.create_task(self._run())
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            self._fn()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
