"""The kernel's own WebSocket client (serving/request.py) against a real Tornado server, as Voilà
runs it: the first message whole (short, 16-bit and 64-bit lengths, fragmented), pings
answered, and None (never an exception) when nothing usable comes."""

import asyncio
import json
import socket

import pytest
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler
from tornado.websocket import WebSocketHandler

from cop_widgets.serving.request import _request_info, _request_info_in_the_end


class SendsOnce(WebSocketHandler):
    pongs: list[bytes] = []

    def on_pong(self, data: bytes) -> None:
        SendsOnce.pongs.append(data)

    async def open(self, size: str) -> None:
        payload = json.dumps({"QUERY_STRING": "session=abc&x=" + "é" * int(size)})
        if self.request.query == "ping":
            self.ping(b"are you there")
        if self.request.query == "fragments":
            # write_message sends one frame; fragments go out through the protocol's own writer
            data = payload.encode()
            half = len(data) // 2
            self.ws_connection._write_frame(False, 0x1, data[:half])  # type: ignore[union-attr]
            self.ws_connection._write_frame(True, 0x0, data[half:])  # type: ignore[union-attr]
            return
        await self.write_message(payload)


class ClosesFirst(WebSocketHandler):
    def open(self) -> None:
        self.close()


class NotAWebSocket(RequestHandler):
    def get(self) -> None:
        self.write("plain page")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ask(path: str, port: int | None = None) -> str | None:
    async def scenario() -> str | None:
        server_port = _free_port()
        app = Application(
            [(r"/query/(\d+)", SendsOnce), (r"/closes", ClosesFirst), (r"/plain", NotAWebSocket)]
        )
        server = HTTPServer(app)
        server.listen(server_port, "127.0.0.1")
        try:
            return await asyncio.wait_for(
                _request_info(f"ws://127.0.0.1:{port or server_port}{path}"), 10
            )
        finally:
            server.stop()

    return asyncio.run(scenario())


@pytest.mark.parametrize("size", [1, 100, 40_000])  # 7-bit, 16-bit and 64-bit frame lengths
def test_the_first_message_arrives_whole(size):
    info = _ask(f"/query/{size}")
    assert json.loads(info) == {"QUERY_STRING": "session=abc&x=" + "é" * size}


def test_a_ping_is_answered_and_the_message_still_arrives():
    SendsOnce.pongs.clear()
    assert json.loads(_ask("/query/3?ping"))["QUERY_STRING"].endswith("ééé")
    assert SendsOnce.pongs == [b"are you there"]


def test_a_fragmented_message_is_joined():
    assert json.loads(_ask("/query/500?fragments"))["QUERY_STRING"].endswith("é" * 500)


@pytest.mark.parametrize("path", ["/closes", "/plain", "/missing"])
def test_no_message_is_none_never_an_exception(path):
    assert _ask(path) is None


def test_nobody_listening_is_none():
    assert _ask("/query/1", port=_free_port()) is None


# -- a preheated kernel waits for its page's details however long the server takes ---------------
class SendsOnTheThirdConnection(WebSocketHandler):
    """Closes the first two connections without a word (a server too busy to answer, a dropped
    socket), then sends."""

    connections = 0

    def open(self) -> None:
        SendsOnTheThirdConnection.connections += 1
        if SendsOnTheThirdConnection.connections < 3:
            self.close()
        else:
            self.write_message(json.dumps({"QUERY_STRING": "code=K7M2QX"}))


def test_the_kernel_connects_again_until_the_details_come():
    SendsOnTheThirdConnection.connections = 0

    async def scenario() -> str:
        port = _free_port()
        server = HTTPServer(Application([(r"/query/k", SendsOnTheThirdConnection)]))
        server.listen(port, "127.0.0.1")
        try:
            return await asyncio.wait_for(
                _request_info_in_the_end(f"ws://127.0.0.1:{port}/query/k", 0.01, 0.05), 10
            )
        finally:
            server.stop()

    assert json.loads(asyncio.run(scenario())) == {"QUERY_STRING": "code=K7M2QX"}
    assert SendsOnTheThirdConnection.connections == 3


def test_a_server_that_starts_listening_late_is_waited_for():
    """The kernel asks before the server answers at all (nobody listening yet)."""

    async def scenario() -> str:
        port = _free_port()
        asking = asyncio.create_task(
            _request_info_in_the_end(f"ws://127.0.0.1:{port}/query/7", 0.01, 0.05)
        )
        await asyncio.sleep(0.3)
        assert not asking.done()
        server = HTTPServer(Application([(r"/query/(\d+)", SendsOnce)]))
        server.listen(port, "127.0.0.1")
        try:
            return await asyncio.wait_for(asking, 10)
        finally:
            server.stop()

    assert json.loads(asyncio.run(scenario()))["QUERY_STRING"].endswith("é" * 7)


def test_voila_keeps_a_kernels_details_and_forgets_only_its_own_waiter():
    """serving/launch.py's corrections to Voilà's request-details socket: the details stay
    until the kernel shuts down (a kernel that connects again still gets them), and a closed
    connection removes its own waiter, never another kernel's."""
    from voila.request_info_handler import RequestInfoSocketHandler as Handler

    import cop_widgets.serving.launch  # noqa: F401 - applies the corrections

    class Waiter:
        def __init__(self) -> None:
            self.sent: list = []

        def write_message(self, payload) -> None:
            self.sent.append(payload)

    old, new, other = Waiter(), Waiter(), Waiter()
    saved = dict(Handler._waiters), dict(Handler._cache)
    try:
        Handler._waiters.clear()
        Handler._waiters.update({"k1": new, "k2": other})
        Handler.on_close(old)  # k1's first connection, closed after k1 connected again
        assert Handler._waiters == {"k1": new, "k2": other}
        Handler.on_close(new)
        assert Handler._waiters == {"k2": other}
        Handler.send_updates({"kernel_id": "k2", "payload": {"QUERY_STRING": "x"}})
        assert other.sent == [{"QUERY_STRING": "x"}]
        assert Handler._cache["k2"] == {"QUERY_STRING": "x"}  # for a reconnect
    finally:
        Handler._waiters.clear()
        Handler._waiters.update(saved[0])
        Handler._cache.clear()
        Handler._cache.update(saved[1])


def test_a_preheated_kernel_gets_its_page_details_once_the_page_is_written(monkeypatch):
    """serving/launch.py holds back what Voilà sends the page's kernel until the page's last
    chunk is out and no other page is being written (KERNEL_WAKES), so a room's woken kernels
    do not compete with the pages still being written; a page that fails part-way still hands
    its kernel over."""
    from types import SimpleNamespace

    from voila.request_info_handler import RequestInfoSocketHandler as Handler

    import cop_widgets.serving.launch as launch

    sent: list = []

    class Waiter:
        def write_message(self, payload) -> None:
            sent.append(payload)

    async def voilas_page(handler, path, fail=False):  # Voilà's order: details, then page
        Handler.send_updates({"kernel_id": "k9", "payload": {"QUERY_STRING": "code=K7"}})
        yield "<html>"
        if fail:
            raise ConnectionError("the browser went away")
        yield "</html>"

    page = SimpleNamespace(
        notebook_path="session.ipynb",
        current_user=SimpleNamespace(username="person-1"),
        request=SimpleNamespace(headers={}, protocol="http", host="127.0.0.1:8866"),
    )
    monkeypatch.setattr(launch, "_kernel_identity_key", lambda: b"k" * 32)
    saved = dict(Handler._waiters), dict(Handler._cache)

    async def read_page(fail: bool) -> list[tuple[str, int]]:
        monkeypatch.setattr(
            launch, "_voila_get_generator", lambda h, p: voilas_page(h, p, fail=fail)
        )
        seen = []
        try:
            async for chunk in launch._get_generator(page):
                seen.append((chunk, len(sent)))
        except ConnectionError:
            pass
        seen.append(("written", len(sent)))
        await asyncio.sleep(launch.KernelWakes.QUIET_S * 4)  # the server has gone quiet
        return seen

    try:
        Handler._waiters.clear()
        Handler._waiters["k9"] = Waiter()
        written = [("<html>", 0), ("</html>", 0), ("written", 0)]
        assert asyncio.run(read_page(False)) == written
        assert sent == [{"QUERY_STRING": "code=K7"}]  # once the page was written
        assert Handler._cache["k9"] == {"QUERY_STRING": "code=K7"}  # kept for a reconnect
        sent.clear()
        assert asyncio.run(read_page(True)) == [("<html>", 0), ("written", 0)]
        assert sent == [{"QUERY_STRING": "code=K7"}]
    finally:
        Handler._waiters.clear()
        Handler._waiters.update(saved[0])
        Handler._cache.clear()
        Handler._cache.update(saved[1])


def test_a_rooms_kernels_are_woken_once_its_pages_are_all_written(monkeypatch):
    """A room opening the page at once: no page's kernel is woken while another page is still
    being written (each woken kernel would take a core from the server writing the next page);
    once none is, all of them are. A server that never stops writing pages still wakes a kernel
    within KernelWakes.AT_MOST_S."""
    from voila.request_info_handler import RequestInfoSocketHandler as Handler

    import cop_widgets.serving.launch as launch

    woken: list[tuple[str, float]] = []
    monkeypatch.setattr(
        launch, "_voila_send_updates", lambda cls, msg: woken.append((msg["kernel_id"], now()))
    )
    saved = dict(Handler._cache)
    started = 0.0

    def now() -> float:
        return asyncio.get_running_loop().time() - started

    def details(kernel: str) -> dict:
        return {"kernel_id": kernel, "payload": {"QUERY_STRING": "code=K7"}}

    async def room() -> None:
        nonlocal started
        started = asyncio.get_running_loop().time()
        wakes = launch.KernelWakes()
        monkeypatch.setattr(launch, "KERNEL_WAKES", wakes)
        wakes.writing = 1  # a slow page still going out (a phone on the room's Wi-Fi)
        wakes.add([details("first")])
        await asyncio.sleep(0.1)
        wakes.add([details("second")])
        await asyncio.sleep(0.1)
        assert woken == []  # 0.2 s on: the slow page is still being written
        wakes.writing = 0
        await asyncio.sleep(wakes.QUIET_S * 3)
        assert [kernel for kernel, _ in woken] == ["first", "second"]
        woken.clear()
        # pages without end: the kernel held first is woken after AT_MOST_S all the same
        wakes.writing = 1
        held_at = now()
        wakes.add([details("third")])
        await asyncio.sleep(wakes.AT_MOST_S + wakes.QUIET_S * 3)
        assert [kernel for kernel, _ in woken] == ["third"]
        assert wakes.AT_MOST_S <= woken[0][1] - held_at <= wakes.AT_MOST_S + 2 * wakes.QUIET_S

    try:
        asyncio.run(room())
    finally:
        Handler._cache.clear()
        Handler._cache.update(saved)
