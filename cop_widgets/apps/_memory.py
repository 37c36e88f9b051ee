"""A kernel's freed heap, given back to the system once start-up or a sign-in is done."""

from __future__ import annotations

import asyncio
import ctypes

TRIM_AFTER_SECONDS = 0.5


def return_freed_memory_soon() -> None:
    """Soon, give the heap pages that start-up freed back to the system.

    glibc keeps freed pages for reuse; a participant kernel's start-up (imports, queries,
    widget state) frees about 1 MiB that it never needs again, times 30 kernels in a room.
    Run a moment later on the kernel's loop, so the page's first messages are not held up;
    once when the app is built (a preheated kernel then waits for its page) and once when
    the person is signed in."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop (tests driving an app directly): nothing to hand back
        return
    loop.call_later(TRIM_AFTER_SECONDS, _trim_heap)


def _trim_heap() -> None:
    # no gc.collect() first: it costs ~35 ms of CPU per kernel (30 kernels joining at once) and
    # finds next to nothing; malloc_trim takes ~0.2 ms
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):  # not glibc (macOS, musl): its allocator decides
        pass
