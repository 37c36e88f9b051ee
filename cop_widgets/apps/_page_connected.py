"""Work that waits until the page has what it shows first.

A preheated kernel signs its person in while the browser is still loading the page's scripts;
everything it builds then competes with that load for the machine's two cores, and every
widget it has made by the time the page connects goes into the page's first render. Parts of a
page below what the person came for (the library's entry form, its drafts and Tag menu counts)
are therefore built once the page has connected and fetched the widgets' state (ipywidgets'
"request_states" on its control comm): they then arrive as new widgets after the first render.

Without a kernel's loop (plain Python, tests driving an app) or once the page is connected, the
work runs at once; a page that never connects runs it after FALLBACK_S anyway.

A preheated kernel also sends no widget's state change before its page connects
(send_no_state_until_connected): nobody receives it then (no page is connected to the kernel's
messages), and the page's "request_states" brings every widget's whole state as it is when
asked. A room's kernels each change a few widgets at the sign-in and join, all before their
pages connect: each change sent cost the kernel serialising, signing and handing a message to
its publishing thread, 30 kernels at once on two cores (measured on 2026-11-29, 30 signed-in
GETs of the join page at once: the 30 kernels' CPU 0.23-0.27 s in three bursts with the changes
sent, 0.14-0.19 s in five without).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import ipywidgets as W

from cop_widgets.apps._autosave import running_loop
from cop_widgets.apps._memory import return_freed_memory_soon

FALLBACK_S = 5.0
_pending: list[Callable[[], None]] = []
_hooked = False
_holding_state = False


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
        return_freed_memory_soon()


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


def send_no_state_until_connected() -> None:
    """From now on, until a page has opened this kernel's widget control comm, widgets' state
    changes are not sent (the page asks for every widget's whole state once it connects). Only
    for a kernel that waits for its page (Voilà's pool, AppShell.begin): Voilà's page opens the
    control comm before it renders any widget (ipywidgets 8's protocol; its fallback for old
    kernels asks each widget after the control comm was opened, so also after this lets
    changes through). Once a page has connected, every change is sent as before."""
    global _holding_state
    if _holding_state:
        return
    send_state = W.Widget.send_state

    def send_state_once_connected(self, key=None) -> None:
        if page_connected():
            send_state(self, key)

    W.Widget.send_state = send_state_once_connected
    _holding_state = True
