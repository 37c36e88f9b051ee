"""Work that waits until the page has what it shows first.

A preheated kernel signs its person in while the browser is still loading the page's scripts;
everything it builds then competes with that load for the machine's two cores, and every
widget it has made by the time the page connects goes into the page's first render. Parts of a
page below what the person came for (the library's entry form, its drafts and Tag menu counts)
are therefore built once the page has connected and fetched the widgets' state (ipywidgets'
"request_states" on its control comm): they then arrive as new widgets after the first render.

Without a kernel's loop (plain Python, tests driving an app) or once the page is connected, the
work runs at once; a page that never connects runs it after FALLBACK_S anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import ipywidgets as W

from cop_widgets.apps._autosave import running_loop
from cop_widgets.apps._base import _return_freed_memory_soon

FALLBACK_S = 5.0
_pending: list[Callable[[], None]] = []
_hooked = False


def page_connected() -> bool:
    """True once a page has opened this kernel's widget control comm."""
    return W.Widget._control_comm is not None


def when_page_connected(work: Callable[[], None]) -> None:
    """Run `work` once the page has fetched the widgets' state (at once if it has, or with no
    kernel loop). `work` must guard its own failures (AppShell.guard)."""
    loop = running_loop()
    if loop is None or page_connected():
        work()
        return
    _hook_control_comm()
    _pending.append(work)
    loop.call_later(FALLBACK_S, _run_pending)


def _run_pending() -> None:
    ran = bool(_pending)
    while _pending:
        _pending.pop(0)()
    if ran:  # what the work freed goes back to the system, as after the sign-in
        _return_freed_memory_soon()


def _hook_control_comm() -> None:
    """Wrap ipywidgets' handler of the control comm (registered when the page opens it, after
    this) so that the pending work runs right after the state is sent."""
    global _hooked
    if _hooked:
        return
    original = W.Widget._handle_control_comm_msg  # a classmethod, bound to Widget

    def handle(cls, msg) -> None:
        original(msg)
        if msg.get("content", {}).get("data", {}).get("method") == "request_states":
            try:  # after this handler: the state reply is on its way first
                asyncio.get_running_loop().call_soon(_run_pending)
            except RuntimeError:
                _run_pending()

    W.Widget._handle_control_comm_msg = classmethod(handle)
    _hooked = True
