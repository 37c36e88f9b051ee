"""The query string of the page a kernel serves, without importing Voilà into the kernel.

`voila.utils.get_query_string` does the same but pulls Jupyter Server into every participant
kernel (+50 MiB each, measured). With preheated kernels the notebook pauses here until a
person actually opens the page, then Voilà sends the request's details over a websocket.
Protocol and environment names follow voila/utils.py (Voilà 0.5, BSD-3-Clause).

The one message is read with a small WebSocket client of our own (RFC 6455: handshake, frames,
close) on the standard library: the `websockets` package's client adds 1.4 MiB to every
participant kernel (measured), for one message per kernel.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import ssl
import sys
import threading
from urllib.parse import urlsplit

HANDSHAKE_TIMEOUT_S = 5  # the answer to the upgrade; the message itself may take hours
RETRY_FIRST_S, RETRY_MAX_S = 0.2, 5.0  # pauses between connections that brought nothing
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
_TEXT, _BINARY, _CONTINUATION, _CLOSE, _PING = 0x1, 0x2, 0x0, 0x8, 0x9


class _HandshakeRefused(OSError):
    """The server did not switch to the WebSocket protocol."""


def _frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (RFC 6455 5.2: every client frame is masked)."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    length = len(payload)
    if length < 126:
        size = bytes([0x80 | length])
    elif length < 1 << 16:
        size = bytes([0x80 | 126]) + length.to_bytes(2, "big")
    else:
        size = bytes([0x80 | 127]) + length.to_bytes(8, "big")
    return bytes([0x80 | opcode]) + size + mask + masked


async def _handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str
) -> None:
    key = base64.b64encode(os.urandom(16))
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines if line)
    }
    # SHA-1 is what RFC 6455 prescribes for the accept key, not a security measure
    digest = hashlib.sha1(key + _ACCEPT_GUID, usedforsecurity=False).digest()
    accept = base64.b64encode(digest).decode()
    if status.split(" ")[1:2] != ["101"] or headers.get("sec-websocket-accept") != accept:
        raise _HandshakeRefused(f"no WebSocket upgrade: {status}")


async def _first_message(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """The payload of the first data message (its fragments joined); pings are answered."""
    message = bytearray()
    while True:
        first, second = await reader.readexactly(2)
        opcode, length = first & 0x0F, second & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        mask = await reader.readexactly(4) if second & 0x80 else b""
        payload = await reader.readexactly(length)
        if mask:
            payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        if opcode == _CLOSE:
            raise asyncio.IncompleteReadError(bytes(message), None)
        if opcode == _PING:
            writer.write(_frame(0xA, payload))
        elif opcode in (_TEXT, _BINARY, _CONTINUATION):
            message += payload
            if first & 0x80:
                return bytes(message)


async def _request_info(ws_url: str) -> str | None:
    """The first message the server sends on ws_url (ws:// or wss://); None when the server
    cannot be reached, refuses the upgrade or closes first."""
    parts = urlsplit(ws_url)
    secure = parts.scheme == "wss"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=ssl.create_default_context() if secure else None
            ),
            HANDSHAKE_TIMEOUT_S,
        )
    except (OSError, TimeoutError):
        return None
    try:
        await asyncio.wait_for(
            _handshake(reader, writer, f"{host}:{port}", path), HANDSHAKE_TIMEOUT_S
        )
        message = await _first_message(reader, writer)
        writer.write(_frame(_CLOSE, (1000).to_bytes(2, "big")))
        await writer.drain()
        return message.decode("utf-8")
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
            UnicodeDecodeError, ValueError):  # fmt: skip
        return None
    finally:
        writer.close()


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
    result: dict[str, str | None] = {}

    def fetch() -> None:
        result["info"] = asyncio.new_event_loop().run_until_complete(_request_info_in_the_end(url))

    worker = threading.Thread(target=fetch)
    worker.start()
    worker.join()
    info = result.get("info")
    if info:
        for key, value in json.loads(info).items():
            if isinstance(value, str):
                os.environ[key] = value


async def _request_info_in_the_end(
    ws_url: str, first_pause_s: float = RETRY_FIRST_S, max_pause_s: float = RETRY_MAX_S
) -> str:
    """The request's details, however long the server takes: a preheated kernel is of no use
    without them. A server busy starting a room's pools may answer the upgrade late (past
    HANDSHAKE_TIMEOUT_S), and a connection may drop while the kernel waits; each time the
    kernel connects again, after a pause that doubles up to max_pause_s. Voilà keeps the
    details of a page requested while its kernel was not connected, and sends them when it
    connects (serving/launch.py keeps them until the kernel shuts down)."""
    pause = first_pause_s
    tries = 0
    while True:
        info = await _request_info(ws_url)
        if info is not None:
            return info
        tries += 1
        if tries == 1 or tries % 20 == 0:  # for the operator, in the server's log
            _tell_server_log(
                f"cop kernel: the request-details socket failed ({tries} times); trying again"
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, max_pause_s)


def _tell_server_log(line: str) -> None:
    """One line to the server's own log: the kernel's real standard error (ipykernel sends
    sys.stderr to the page; its fileno() is the server's)."""
    try:
        os.write(sys.stderr.fileno(), (line + "\n").encode())
    except (OSError, ValueError, AttributeError):
        pass


def query_string() -> str:
    wait_for_request()
    return os.getenv("QUERY_STRING", "")


def in_preheated_kernel() -> bool:
    """True in a kernel Voilà starts ahead for its pool (it then waits for a page)."""
    return os.getenv("VOILA_PREHEAT", "False") != "False"


def when_requested(callback) -> None:
    """Call callback(query_string) once the page is requested, without holding up the page.

    The wait runs in a thread so that a preheated notebook finishes executing ahead of time;
    the callback then runs on the kernel's own event loop (widgets are changed from there).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None or not in_preheated_kernel():
        callback(query_string())
        return

    def wait() -> None:
        found = query_string()
        loop.call_soon_threadsafe(callback, found)

    threading.Thread(target=wait, daemon=True).start()
