"""The query string of the page a kernel serves, without importing Voilà into the kernel.

`voila.utils.get_query_string` does the same but pulls Jupyter Server into every participant
kernel (+50 MiB each, measured). With preheated kernels the notebook pauses here until a
person actually opens the page, then Voilà sends the request's details over a websocket.
Protocol and environment names follow voila/utils.py (Voilà 0.5, BSD-3-Clause).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading


async def _request_info(ws_url: str) -> str | bytes | None:
    import websockets  # a dependency of Voilà; imported only in preheated kernels

    try:
        async with websockets.connect(ws_url, open_timeout=5) as socket:
            return await socket.recv()
    except (OSError, TimeoutError):
        return None


# Voilà's query socket has one waiter per kernel: a second connection would take the first's
# place and leave it waiting for ever, so every caller shares one fetch.
_fetch_lock = threading.Lock()
_fetched = False


def wait_for_request() -> None:
    """In a preheated kernel, block until the page is requested and copy its details into
    os.environ; elsewhere (plain Voilà, Jupyter, tests) return at once."""
    global _fetched
    if os.getenv("VOILA_PREHEAT", "False") == "False":
        return
    with _fetch_lock:
        if not _fetched:
            _fetch_request_info()
            _fetched = True


def _fetch_request_info() -> None:
    protocol = os.getenv("VOILA_WS_PROTOCOL", "ws")
    host = os.getenv("VOILA_APP_IP", "127.0.0.1")
    port = os.getenv("VOILA_APP_PORT", "8866")
    base = os.getenv("VOILA_WS_BASE_URL", os.getenv("VOILA_SERVER_URL", "/"))
    url = f"{protocol}://{host}:{port}{base}voila/query/{os.getenv('VOILA_KERNEL_ID')}"
    result: dict[str, str | bytes | None] = {}

    def fetch() -> None:
        result["info"] = asyncio.new_event_loop().run_until_complete(_request_info(url))

    worker = threading.Thread(target=fetch)
    worker.start()
    worker.join()
    info = result.get("info")
    if info:
        for key, value in json.loads(info).items():
            if isinstance(value, str):
                os.environ[key] = value


def query_string() -> str:
    wait_for_request()
    return os.getenv("QUERY_STRING", "")


def when_requested(callback) -> None:
    """Call callback(query_string) once the page is requested, without holding up the page.

    The wait runs in a thread so that a preheated notebook finishes executing ahead of time;
    the callback then runs on the kernel's own event loop (widgets are changed from there).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None or os.getenv("VOILA_PREHEAT", "False") == "False":
        callback(query_string())
        return

    def wait() -> None:
        found = query_string()
        loop.call_soon_threadsafe(callback, found)

    threading.Thread(target=wait, daemon=True).start()
