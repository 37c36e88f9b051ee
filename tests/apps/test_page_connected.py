"""Work held until the page has fetched the widgets' state (apps/_page_connected.py)."""

from __future__ import annotations

import asyncio

import ipywidgets as W
import pytest

from cop_widgets.apps import _page_connected as connected


class ControlComm:
    """The page's end of ipywidgets' control comm, as far as the kernel sees it: what it sent."""

    def __init__(self):
        self.sent: list[dict] = []

    def send(self, data=None, buffers=None, **_):
        self.sent.append(data)


@pytest.fixture
def fresh(monkeypatch):
    """No page connected yet, nothing pending, ipywidgets' own handler restored afterwards."""
    monkeypatch.setattr(W.Widget, "_control_comm", None)
    monkeypatch.setattr(W.Widget, "_handle_control_comm_msg", W.Widget._handle_control_comm_msg)
    monkeypatch.setattr(connected, "_hooked", False)
    monkeypatch.setattr(connected, "_pending", [])


def request_states() -> None:
    """What ipywidgets does when the page asks for the state (the comm calls its handler)."""
    W.Widget._handle_control_comm_msg({"content": {"data": {"method": "request_states"}}})


def test_without_a_kernel_loop_the_work_runs_at_once(fresh):
    ran = []
    connected.when_page_connected(lambda: ran.append("built"))
    assert ran == ["built"]


def test_in_a_kernel_the_work_waits_for_the_page_and_follows_the_state(fresh):
    ran: list[str] = []
    comm = ControlComm()

    async def kernel():
        W.Label("shown first")
        connected.when_page_connected(lambda: ran.append(f"built after {len(comm.sent)} send"))
        await asyncio.sleep(0.05)
        assert ran == []  # no page yet: held
        W.Widget._control_comm = comm  # the page opens the control comm, then asks
        request_states()
        assert ran == []  # the state goes first; the work runs after this handler
        await asyncio.sleep(0)
        # once connected, new work runs at once
        connected.when_page_connected(lambda: ran.append("later"))

    asyncio.run(kernel())
    assert comm.sent[0]["method"] == "update_states"
    assert ran == ["built after 1 send", "later"]


def test_a_page_that_never_connects_gets_the_work_after_the_fallback(fresh, monkeypatch):
    monkeypatch.setattr(connected, "FALLBACK_S", 0.05)
    ran: list[str] = []

    async def kernel():
        connected.when_page_connected(lambda: ran.append("built"))
        await asyncio.sleep(0.2)

    asyncio.run(kernel())
    assert ran == ["built"]
    assert connected._pending == []


def test_the_work_runs_once_when_both_the_page_and_the_fallback_come(fresh, monkeypatch):
    monkeypatch.setattr(connected, "FALLBACK_S", 0.05)
    ran: list[str] = []

    async def kernel():
        connected.when_page_connected(lambda: ran.append("built"))
        W.Widget._control_comm = ControlComm()
        request_states()
        await asyncio.sleep(0.2)

    asyncio.run(kernel())
    assert ran == ["built"]


def test_a_waiting_kernel_sends_no_state_change_until_its_page_connects(fresh, monkeypatch):
    monkeypatch.setattr(W.Widget, "send_state", W.Widget.send_state)  # restored afterwards
    monkeypatch.setattr(connected, "_holding_state", False)
    label = W.Label("made ahead")
    sent: list[dict] = []
    monkeypatch.setattr(label.comm, "send", lambda data=None, buffers=None, **_: sent.append(data))
    connected.send_no_state_until_connected()
    connected.send_no_state_until_connected()  # a second app on the page: wrapped once

    label.value = "changed while no page is connected"
    assert sent == []  # nobody would receive it

    comm = ControlComm()
    W.Widget._control_comm = comm
    request_states()  # the page connects: it is given the change with every widget's state
    states = comm.sent[0]["states"]
    assert states[label.model_id]["state"]["value"] == "changed while no page is connected"

    label.value = "changed with the page connected"
    assert sent == [
        {
            "method": "update",
            "state": {"value": "changed with the page connected"},
            "buffer_paths": [],
        }
    ]
