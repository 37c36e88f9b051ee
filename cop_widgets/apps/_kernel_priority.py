"""A page's kernel gives way to the server: it runs at a lower CPU priority than Voilà.

One server process serves every page, its scripts and every kernel's messages; each kernel
works for one person. When a room opens the session page at once, 30 kernels join at the same
moment (about 17 ms of CPU each) while the server still has pages to send, and at equal
priority the server waited its turn among them: on two cores the last of 30 plain page
requests answered after 0.3-0.4 s, against 0.06-0.09 s for kernels that do nothing (measured
without browsers). A kernel at niceness 10 still gets the CPU the server leaves, which on a
training day is most of it. COP_KERNEL_NICE sets how much lower (0-19; 0 leaves kernels as
they are).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger("cop_widgets.apps")

KERNEL_NICE_ENV = "COP_KERNEL_NICE"
DEFAULT_KERNEL_NICE = 10
# Voilà sets this in every kernel it starts for a page, before the notebook runs.
VOILA_KERNEL_ENV = "VOILA_KERNEL_ID"

_given_way = False


def kernel_nice(environ: Mapping[str, str]) -> int:
    """How much lower a page's kernel runs (COP_KERNEL_NICE; a value that is not a whole
    number from 0 to 19 is logged, and the default used)."""
    raw = (environ.get(KERNEL_NICE_ENV) or "").strip()
    if not raw:
        return DEFAULT_KERNEL_NICE
    if raw.isdigit() and int(raw) <= 19:
        return int(raw)
    log.warning(
        "%s is %r; it must be a whole number from 0 to 19 (0: kernels as the server). Using %d.",
        KERNEL_NICE_ENV,
        raw,
        DEFAULT_KERNEL_NICE,
    )
    return DEFAULT_KERNEL_NICE


def give_way_to_the_server(environ: Mapping[str, str] | None = None) -> bool:
    """In a kernel Voilà started for a page, lower this process's CPU priority by
    kernel_nice(), once per process. True when it was lowered (now or before)."""
    global _given_way
    env = os.environ if environ is None else environ
    if _given_way:
        return True
    if VOILA_KERNEL_ENV not in env or not hasattr(os, "nice"):
        return False  # not a page's kernel (a test, a script), or not on a Unix
    step = kernel_nice(env)
    if step == 0:
        return False
    try:
        os.nice(step)
    except OSError as exc:  # a container that forbids it: the kernel runs as it is
        log.warning("could not lower the kernel's CPU priority: %s", exc)
        return False
    _given_way = True
    return True
