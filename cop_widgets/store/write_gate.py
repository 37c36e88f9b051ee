"""A gate in front of SQLite's write lock, shared by every process on the store.

SQLite's busy handler waits by sleeping, longer the longer it has waited (up to 100 ms a time),
so under 20 writers a save that lost a few rounds keeps losing to newcomers: we measured p99
0.5-0.7 s and single saves of 4.8 s (one past the 5 s timeout failed in CI). Writers here first
queue on an flock of a file next to the store; the kernel wakes a waiter the moment the gate is
free, so nobody sleeps through their turn. SQLite's own lock still guards the data (and outside
tools that skip the gate).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cop_widgets.errors import StoreBusy


def gate_path(database: str) -> Path:
    return Path(database + "-writegate")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _Waiter:
    """A blocking flock in a helper thread, so that the caller can give up at its deadline.

    A waiter given up on still gets the lock one day; it then closes the file at once, which
    frees the gate for the next one."""

    def __init__(self, fd: int):
        self.fd = fd
        self.granted = threading.Event()
        self._mutex = threading.Lock()
        self._abandoned = False
        threading.Thread(target=self._wait, name="cop-write-gate", daemon=True).start()

    def _wait(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            pass
        with self._mutex:
            if self._abandoned:
                os.close(self.fd)
            else:
                self.granted.set()

    def wait_until(self, deadline: float) -> bool:
        """True once the lock is held; False (and the file is left to the thread) at deadline."""
        if self.granted.wait(max(deadline - time.monotonic(), 0)):
            return True
        with self._mutex:
            if self.granted.is_set():
                return True
            self._abandoned = True
            return False


@contextmanager
def hold_write_gate(path: Path, deadline: float) -> Iterator[None]:
    """Hold the gate until the block ends; StoreBusy if it is not free by `deadline`
    (a time.monotonic() value). The lock ends with the file handle, also if the process dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if not _try_lock(fd) and not _Waiter(fd).wait_until(deadline):
        raise StoreBusy()
    try:
        yield
    finally:
        os.close(fd)
