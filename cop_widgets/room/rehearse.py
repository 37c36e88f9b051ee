"""`cop rehearse`: a room of N people, simulated tonight, to know whether tomorrow's server holds.

Without --url it starts a server of its own, served as `cop serve --room --people N` serves (the
same command line, kernels started ahead for N people), on a scratch copy of the store in a
private temporary folder (SQLite's backup API, read-only on the real file), so rehearsal
accounts and answers never reach the real store or its reports; the copy is deleted at the end.
With --url it rehearses against a running server whose store this machine opens (same settings),
in a session and community of its own, and erases its accounts afterwards.

N participants each really sign in with a one-time personal link (the sign-in page, its form and
cookie), open the session's join link, check in, and check out once the facilitator opens
check-out. K of them are real headless Chromium pages (Playwright); the others are lightweight
clients: an HTTP client that signs in and loads the join page (the server renders it and runs its
kernel), then opens the kernel's websocket, reads the widgets' state as Voilà's page does
(ipywidgets' control comm) and sends what a browser sends: field values and clicks. They do not
fetch Voilà's scripts (a browser's first visit reads about 1.3 MB of them, gzipped: the report
gives the Chromium pages' figure).

Figures, per app: time to interactive (join link requested until the joined session is shown),
save round trip (Send pressed until "saved" is shown), kernels alive, memory per kernel and in
total, CPU seconds by part, failures; then a verdict naming the limit (CPU, memory, kernels).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urlsplit

import psutil

from cop_widgets.errors import CopWidgetsError
from cop_widgets.room.load import (
    MemorySampler,
    RoomServer,
    ServerFailed,
    cpu_by_part,
    kernel_processes,
    machine_busy_seconds,
    marked_tti_s_async,
    ready_mark_script,
    rss_mib,
    stats,
)

if TYPE_CHECKING:  # annotations only: each is imported where used (playwright only for browsers)
    from playwright.async_api import Page
    from tornado.websocket import WebSocketClientConnection
    from tqdm import tqdm

# Targets a room is held to: issue 4's median wait to join, twice that for the slowest
# twentieth, a save shown within a second.
TTI_MEDIAN_TARGET_S = 3.0
TTI_P95_TARGET_S = 6.0
SAVE_P95_TARGET_S = 1.0
CPU_BUSY_LIMIT = 0.90  # the machine busy this share of all its cores while people joined
MEMORY_FREE_LIMIT = 0.10  # less than this share of memory left free at the busiest moment
# The schedule, compressed: everyone opens the join link at once, checks in within a few
# seconds, stays, and checks out within a few seconds once the facilitator opens check-out.
CHECKIN_SPREAD_S = 4.0
HOLD_S = 3.0
CHECKOUT_SPREAD_S = 4.0
PAGE_TIMEOUT_S = 180.0
SAVE_TIMEOUT_S = 60.0
CHECKOUT_APPEARS_S = 30.0  # the join page looks for an opened check-out every few seconds
PARTICIPANT = "Rehearsal participant {:02d}"
FACILITATOR = "Rehearsal facilitator"
REHEARSAL_COMMUNITY = "Rehearsal (cop rehearse)"
APP = "session page (join link)"
WIDGET_CONTROL = "jupyter.widget.control"


@dataclass(frozen=True)
class Options:
    people: int
    browsers: int = 2
    session: str = ""
    url: str = ""
    json_path: str = ""


@dataclass
class Participant:
    name: str
    link: str  # the one-time sign-in token
    browser: bool
    result: dict = field(default_factory=lambda: {"ok": True, "saves": []})

    def fail(self, step: str, exc: BaseException | str) -> None:
        if self.result["ok"]:
            text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
            self.result.update(ok=False, step=step, error=str(text).splitlines()[0][:200])


class RehearsalError(CopWidgetsError):
    """The rehearsal could not run (bad input, no server, no Chromium): one line, exit 2."""


# -- the store: a scratch copy, the session, the accounts -----------------------------------------
def sqlite_path(database_url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def copy_store(source: Path, dest: Path) -> None:
    """SQLite's online backup of `source` into `dest`, opening the real file read-only: with
    no WAL beside it (nothing has it open) as immutable, which creates no file next to it;
    otherwise read-only through its WAL, so what a running server has written is copied too."""
    wal = Path(f"{source}-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    src = sqlite3.connect(f"{source.resolve().as_uri()}?{mode}", uri=True)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def scratch_data(settings, tmp: Path) -> Path:
    """A data folder in `tmp`: the content files and a copy of the store (nothing written to
    the real one)."""
    source = sqlite_path(settings.database_url)
    if source is None:
        raise RehearsalError(
            "cop rehearse copies a SQLite store; this one is not (COP_DATABASE_URL): rehearse "
            "against a running server with --url."
        )
    data = tmp / "data"
    shutil.copytree(
        settings.data_dir,
        data,
        # .cache: the real server's parsed copy (its own is written in the scratch copy)
        ignore=shutil.ignore_patterns("*.sqlite*", "backups", "*.before-restore-*", ".cache"),
    )
    if source.exists():
        copy_store(source, data / "cop.sqlite")
    return data


def prepare(store, settings, opts: Options, own_server: bool, now: datetime):
    """(the session to rehearse, the facilitator, the participants, what was done) in `store`."""
    from cop_widgets.services import accounts, roster, sessions
    from cop_widgets.services.room import sessions_on

    facilitator = _account(store, FACILITATOR)
    roster.grant_role(store, facilitator.id, "coordinator")  # may plan and run sessions
    notes = []
    chosen = None
    if opts.session:
        try:
            chosen = sessions.session_by_code(store, facilitator, opts.session)
        except CopWidgetsError:
            raise RehearsalError(
                f"--session {opts.session}: no session has this join code in the store."
            ) from None
    elif own_server:
        today = sessions_on(store, now.astimezone(_zone(settings)).date(), settings.timezone)
        chosen = next((p.session for p in today if _joinable(store, p.session, now)), None)
    if chosen is not None and own_server and _joinable(store, chosen, now):
        session = chosen
        notes.append(f"rehearsing “{session.topic}” ({session.join_code}) on a scratch copy")
    else:
        # a session of its own: starting now (a code opens only near its session), in the
        # chosen session's community on a scratch copy, else in a community of its own
        topic = f"Rehearsal: {chosen.topic}" if chosen else "Rehearsal"
        if chosen is not None and own_server:
            community_id = chosen.community_id
        else:
            community_id = _rehearsal_community(store, facilitator)
        session = sessions.plan_session(
            store, facilitator, community_id, now, topic[:200],
            protocol_id=chosen.protocol_id if chosen else None,
        )  # fmt: skip
        if chosen is not None:
            notes.append(
                f"“{chosen.topic}” ({chosen.join_code}) starts "
                f"{chosen.starts_at.astimezone(_zone(settings)):%a %d %b %H:%M}: rehearsed as "
                f"“{topic}”, starting now"
            )
        elif own_server:
            notes.append("no session is open to join today: rehearsing one planned now")
        else:
            notes.append(f"rehearsing a session planned now in “{REHEARSAL_COMMUNITY}”")
    people = []
    for n in range(1, opts.people + 1):
        who = _account(store, PARTICIPANT.format(n))
        people.append(
            Participant(who.display_name, accounts.issue_link(store, who.id), n <= opts.browsers)
        )
    return session, facilitator, people, notes


def _zone(settings):
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.timezone)


def _joinable(store, session, now) -> bool:
    from cop_widgets.services import sessions

    try:
        sessions.check_join_code(store, session.join_code, now)
        return True
    except CopWidgetsError:
        return False


def _account(store, name: str):
    from cop_widgets.services import accounts

    return accounts.find_by_name(store, name) or accounts.add_person(store, name)


def _rehearsal_community(store, facilitator) -> str:
    from cop_widgets.services import sessions

    for found in sessions.communities(store, facilitator):
        if found.name == REHEARSAL_COMMUNITY:
            return found.id
    made = sessions.create_community(
        store, facilitator, REHEARSAL_COMMUNITY, purpose="Made by `cop rehearse`."
    )
    return made.id


def open_checkout(store, facilitator, session_id: str) -> None:
    """What the facilitator's run sheet does: open check-out for the room."""
    from cop_widgets.services import sessions

    sessions.open_checkout(store, facilitator, session_id)


# -- a lightweight participant: HTTP and the kernel's websocket -----------------------------------
class LightClient:
    """Signs in, loads a page (the server runs its kernel), then talks to the kernel as Voilà's
    page does: the widgets' state through ipywidgets' control comm, then updates and clicks."""

    def __init__(self, base: str, http):
        self.base, self.http = base.rstrip("/"), http
        self.cookies: dict[str, str] = {}
        self.models: dict[str, dict] = {}
        self.changed = asyncio.Condition()
        self.ws: WebSocketClientConnection | None = None
        self.kernel_id = ""
        self.session = uuid.uuid4().hex
        self._reader: asyncio.Task | None = None
        self._replies: set[str] = set()

    # HTTP, with the cookies a browser would keep
    async def fetch(self, path: str, method: str = "GET", body: dict | None = None):
        from tornado.httpclient import HTTPRequest

        request = HTTPRequest(
            self.base + path,
            method=method,
            body=urlencode(body) if body is not None else None,
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())},
            follow_redirects=False,
            request_timeout=PAGE_TIMEOUT_S,
            connect_timeout=30,
            validate_cert=False,  # the operator's own server, often with a self-made certificate
        )
        response = await self.http.fetch(request, raise_error=False)
        for header in response.headers.get_list("Set-Cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    async def sign_in(self, link: str, next_path: str) -> None:
        page = await self.fetch(f"/login?{urlencode({'link': link, 'next': next_path})}")
        if page.code != 200:
            raise RuntimeError(f"the sign-in page answered {page.code}{_alert(page)}")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.body.decode())
        done = await self.fetch(
            "/login",
            "POST",
            {"_xsrf": xsrf.group(1) if xsrf else "", "action": "link", "link": link,
             "next": next_path},
        )  # fmt: skip
        if done.code not in (301, 302, 303) or "cop_session" not in self.cookies:
            raise RuntimeError(f"signing in with the link was refused ({done.code}){_alert(done)}")

    async def open_page(self, path: str) -> None:
        page = await self.fetch(path)
        if page.code != 200:
            where = page.headers.get("Location", "")
            raise RuntimeError(f"the page answered {page.code}" + (f" ({where})" if where else ""))
        found = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page.body.decode())
        if found is None:
            raise RuntimeError("the page names no kernel")
        self.kernel_id = found.group(1)

    # the kernel's websocket
    async def connect(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        scheme = "wss" if self.base.startswith("https") else "ws"
        url = (
            f"{scheme}{self.base[self.base.index(':') :]}/api/kernels/{self.kernel_id}/channels"
            f"?session_id={self.session}"
        )
        request = HTTPRequest(
            url,
            headers={
                "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                "Origin": self.base,
            },
            validate_cert=False,
            connect_timeout=30,
            request_timeout=PAGE_TIMEOUT_S,
        )
        self.ws = await websocket_connect(request, max_message_size=64 * 2**20)
        self._reader = asyncio.ensure_future(self._read())
        await self.request(
            "kernel_info_request", {}, reply="kernel_info_reply", timeout=PAGE_TIMEOUT_S
        )
        control = uuid.uuid4().hex
        self.send(
            "comm_open",
            {"comm_id": control, "target_name": WIDGET_CONTROL, "data": {}},
            metadata={"version": "1.0.0"},
        )
        self.send("comm_msg", {"comm_id": control, "data": {"method": "request_states"}})
        await self.wait(lambda: bool(self.models), PAGE_TIMEOUT_S, "the widgets' state")

    def send(self, msg_type: str, content: dict, metadata: dict | None = None) -> str:
        msg_id = uuid.uuid4().hex
        message = {
            "header": {
                "msg_id": msg_id, "msg_type": msg_type, "username": "", "session": self.session,
                "date": datetime.now(UTC).isoformat(), "version": "5.3",
            },
            "parent_header": {}, "metadata": metadata or {}, "content": content,
            "channel": "shell", "buffers": [],
        }  # fmt: skip
        self._socket().write_message(json.dumps(message))
        return msg_id

    def _socket(self) -> WebSocketClientConnection:
        if self.ws is None:
            raise RuntimeError("the kernel's websocket is not open yet (connect first)")
        return self.ws

    async def request(self, msg_type: str, content: dict, reply: str, timeout: float) -> None:
        sent = self.send(msg_type, content)
        await self.wait(lambda: sent in self._replies, timeout, reply)

    async def _read(self) -> None:
        try:
            while (raw := await self._socket().read_message()) is not None:
                msg = _decode(raw)
                if msg is not None:
                    self._take(msg)
                async with self.changed:
                    self.changed.notify_all()
        finally:
            async with self.changed:  # a waiter learns that the socket closed
                self.changed.notify_all()

    def _take(self, msg: dict) -> None:
        """Keep the widgets' state as the kernel changes it."""
        kind, content = msg["header"].get("msg_type"), msg.get("content", {})
        if kind and kind.endswith("_reply"):
            self._replies.add(msg.get("parent_header", {}).get("msg_id"))
        elif kind == "comm_open" and content.get("target_name") == "jupyter.widget":
            self.models[content["comm_id"]] = dict(content.get("data", {}).get("state", {}))
        elif kind == "comm_msg":
            data = content.get("data", {})
            if data.get("method") == "update_states":
                for model_id, model in data.get("states", {}).items():
                    self.models[model_id] = dict(model.get("state", {}))
            elif data.get("method") in ("update", "echo_update"):
                self.models.setdefault(content["comm_id"], {}).update(data.get("state", {}))
        elif kind == "comm_close":
            self.models.pop(content.get("comm_id"), None)

    async def wait(self, check, timeout: float, what: str):
        async def until():
            async with self.changed:
                while not check():
                    if self._reader is not None and self._reader.done():
                        raise RuntimeError(f"the kernel's websocket closed, waiting for {what}")
                    await self.changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no {what} after {timeout:.0f} s") from None
        return check()

    # the widgets, found as the page's CSS classes name them
    def find(self, css_class: str) -> str | None:
        for model_id, state in self.models.items():
            if css_class in state.get("_dom_classes", ()):
                return model_id
        return None

    def with_prefix(self, prefix: str) -> list[str]:
        return [
            m
            for m, s in self.models.items()
            if any(c.startswith(prefix) for c in s.get("_dom_classes", ()))
        ]

    def status(self) -> str:
        """The status line's message (its HTML, tags and all: the kind is a class in it)."""
        found = self.find("cop-status")
        return self.models[found].get("value", "") if found else ""

    async def saved(self, what: str, before: str) -> None:
        """Until the status line says `what` is saved, or raise with what it says instead."""

        def answered() -> bool:
            now = self.status()
            return now != before and ("is saved" in now or "cop-status-error" in now)

        await self.wait(answered, SAVE_TIMEOUT_S, f"“{what} is saved”")
        if f"{what} is saved" not in self.status():
            raise RuntimeError(re.sub(r"<[^>]+>", "", self.status()).strip()[:200])

    def shown(self, model_id: str) -> bool:
        layout = self.models.get(model_id, {}).get("layout", "")
        ref = layout.removeprefix("IPY_MODEL_") if isinstance(layout, str) else ""
        return self.models.get(ref, {}).get("display") != "none"

    def update(self, model_id: str, **state) -> None:
        self.send(
            "comm_msg",
            {"comm_id": model_id, "data": {"method": "update", "state": state, "buffer_paths": []}},
        )

    def click(self, model_id: str) -> None:
        self.send(
            "comm_msg",
            {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}},
        )

    async def close(self) -> None:
        """Leave as a closing tab does: the unload beacon, then the socket."""
        if self.kernel_id:
            with suppress(Exception):
                await self.fetch(
                    f"/voila/api/shutdown/{self.kernel_id}",
                    "POST",
                    {"_xsrf": self.cookies.get("_xsrf", "")},
                )
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()


def _decode(raw) -> dict | None:
    if isinstance(raw, str):
        return json.loads(raw)
    # Jupyter's legacy binary frame: a count, offsets, then the JSON message and its buffers
    count = int.from_bytes(raw[:4], "big")
    offsets = [int.from_bytes(raw[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
    end = offsets[1] if count > 1 else len(raw)
    return json.loads(raw[offsets[0] : end]) if count else None


def _alert(response) -> str:
    found = re.search(r'role="alert">([^<]+)<', (response.body or b"").decode(errors="replace"))
    return f": {found.group(1)}" if found else ""


async def light_join(p: Participant, client: LightClient, path: str) -> None:
    started = time.perf_counter()
    await client.sign_in(p.link, path)
    p.result["sign_in_s"] = time.perf_counter() - started
    started = time.perf_counter()
    await client.open_page(path)
    await client.connect()
    await client.wait(
        lambda: "Joined" in client.status() and client.find("cop-send-checkin") is not None,
        PAGE_TIMEOUT_S,
        "joined session",
    )
    p.result["tti_s"] = time.perf_counter() - started
    p.result["kernel_id"] = client.kernel_id


# what the status line says once a form is stored ("Your check-in is saved.")
SAVED_AS = {"checkin": "check-in", "checkout": "check-out"}


async def light_send(
    p: Participant, client: LightClient, item_set: str, among: set[str] | None = None
) -> None:
    """Fill the form (a rating for each scale, a short text for each text) and send it."""
    rng = random.Random(p.name + item_set)  # noqa: S311 - answers, not secrets
    for model_id in client.with_prefix("cop-item-"):
        if among is not None and model_id not in among:
            continue  # an earlier form's widget
        state = client.models[model_id]
        if "_options_labels" in state:
            client.update(model_id, index=rng.randrange(len(state["_options_labels"])))
        elif "value" in state and isinstance(state["value"], str):
            client.update(model_id, value=f"rehearsal {rng.randrange(1000)}")
    send = client.find(f"cop-send-{item_set}")
    if send is None:
        raise RuntimeError(f"no {item_set} form")
    before = client.status()
    started = time.perf_counter()
    client.click(send)
    await client.saved(SAVED_AS.get(item_set, item_set), before)
    p.result["saves"].append(time.perf_counter() - started)


async def light_checkout(p: Participant, client: LightClient) -> None:
    await client.wait(
        lambda: (b := client.find("cop-checkout")) is not None and client.shown(b),
        CHECKOUT_APPEARS_S,
        "check-out button",
    )
    before = set(client.models)
    checkout = client.find("cop-checkout")
    if checkout is None:
        raise RuntimeError("no check-out button")
    client.click(checkout)
    await client.wait(lambda: client.find("cop-send-checkout") is not None, SAVE_TIMEOUT_S, "form")
    await light_send(p, client, "checkout", among=set(client.models) - before)


# -- a real page --------------------------------------------------------------------------------
# the joined session's topic: the first thing the join page shows once joined (as bench_room)
JOINED_TOPIC = ".cop-app h2"

# What crossed the network for the page so far (sign-in page excluded: a new document), headers
# included: a phone's first visit to the join page on the room's Wi-Fi.
DOWNLOADED_JS = """() => performance.getEntriesByType('resource')
  .concat(performance.getEntriesByType('navigation'))
  .reduce((sum, entry) => sum + (entry.transferSize || 0), 0)"""


async def page_join(p: Participant, page, base: str, path: str) -> None:
    """Sign in with the person's link, then open the join link. Time to interactive: from just
    before that goto until the joined session's topic first shows, on the page's own clock
    (load.ready_mark_script; Playwright's polling lands up to 0.5 s late), once the page says
    "Joined" and shows the check-in form (made in the same update as the topic)."""
    started = time.perf_counter()
    await page.goto(f"{base}/login?{urlencode({'link': p.link, 'next': path})}")
    await page.get_by_role("button", name=f"Sign in as {p.name}").click()
    await page.get_by_role("link", name="Not now: continue").wait_for()
    p.result["sign_in_s"] = time.perf_counter() - started
    await page.add_init_script(ready_mark_script(JOINED_TOPIC))
    started, started_epoch = time.perf_counter(), time.time()
    await page.goto(base + path, wait_until="commit", timeout=PAGE_TIMEOUT_S * 1000)
    await page.locator(".cop-status", has_text="Joined").wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    await page.locator(".cop-send-checkin").wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    p.result["tti_polled_s"] = time.perf_counter() - started
    p.result["tti_s"] = await marked_tti_s_async(page, started_epoch, p.result["tti_polled_s"])
    p.result["download_mib"] = await page.evaluate(DOWNLOADED_JS) / 2**20
    found = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', await page.content())
    if found:
        p.result["kernel_id"] = found.group(1)


async def page_send(p: Participant, page, item_set: str) -> None:
    rng = random.Random(p.name + item_set)  # noqa: S311 - answers, not secrets
    form = page.locator(".cop-app")
    for group in await form.locator(".widget-toggle-buttons").all():
        buttons = group.locator("button")
        await buttons.nth(rng.randrange(await buttons.count())).click()
    texts = "[class*='cop-item-'] input[type=text], [class*='cop-item-'] textarea"
    for box in await form.locator(texts).all():
        await box.fill(f"rehearsal {rng.randrange(1000)}")
    started = time.perf_counter()
    await page.locator(f".cop-send-{item_set}").click()
    saved = f"{SAVED_AS.get(item_set, item_set)} is saved"
    await page.locator(".cop-status", has_text=saved).wait_for(timeout=SAVE_TIMEOUT_S * 1000)
    p.result["saves"].append(time.perf_counter() - started)


async def page_checkout(p: Participant, page) -> None:
    await page.locator(".cop-checkout").wait_for(state="visible", timeout=CHECKOUT_APPEARS_S * 1000)
    await page.locator(".cop-checkout").click()
    await page.locator(".cop-send-checkout").wait_for(timeout=SAVE_TIMEOUT_S * 1000)
    await page_send(p, page, "checkout")


# -- the room -----------------------------------------------------------------------------------
@dataclass
class Room:
    base: str
    path: str  # the join link's path and query
    people: list[Participant]
    server_pid: int | None
    open_checkout: Callable[[], None]  # the facilitator's click (run in a thread)
    progress: tqdm


async def drive(room: Room) -> dict:
    from tornado.httpclient import AsyncHTTPClient

    figures: dict = {}
    http = AsyncHTTPClient(force_instance=True, max_clients=len(room.people) + 10)
    playwright = browser = None
    clients: dict[str, LightClient] = {}
    pages: dict[str, Page] = {}
    try:
        if any(p.browser for p in room.people):
            from playwright.async_api import async_playwright

            from cop_widgets.chromium import CHROMIUM_ARGS, chromium_path

            playwright = await async_playwright().start()
            try:
                browser = await playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
                )
            except Exception as exc:  # noqa: BLE001 - said in one line, nothing left running
                raise RehearsalError(
                    f"Chromium did not start ({_first_line(exc)[:200]}): check `chromium "
                    "--headless --version`, or use --browsers 0."
                ) from None
        for p in room.people:
            if p.browser:
                assert browser is not None  # launched above: someone in the room uses one
                context = await browser.new_context(ignore_https_errors=True)
                page = await context.new_page()
                page.set_default_timeout(SAVE_TIMEOUT_S * 1000)
                page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
                pages[p.name] = page
            else:
                clients[p.name] = LightClient(room.base, http)

        async def step(p: Participant, name: str, action) -> bool:
            if not p.result["ok"]:
                return False
            try:
                await action()
                room.progress.update(1)
                return True
            except Exception as exc:  # noqa: BLE001 - a participant's failure is a figure
                p.fail(name, exc)
                return False

        async def join(p: Participant):
            if p.browser:
                await step(p, "join", lambda: page_join(p, pages[p.name], room.base, room.path))
            else:
                await step(p, "join", lambda: light_join(p, clients[p.name], room.path))

        async def checkin(p: Participant):
            await asyncio.sleep(random.uniform(0, CHECKIN_SPREAD_S))  # noqa: S311
            if p.browser:
                await step(p, "check-in", lambda: page_send(p, pages[p.name], "checkin"))
            else:
                await step(p, "check-in", lambda: light_send(p, clients[p.name], "checkin"))

        async def checkout(p: Participant):
            await asyncio.sleep(random.uniform(0, CHECKOUT_SPREAD_S))  # noqa: S311
            if p.browser:
                await step(p, "check-out", lambda: page_checkout(p, pages[p.name]))
            else:
                await step(p, "check-out", lambda: light_checkout(p, clients[p.name]))

        busy_before, parts_before = machine_busy_seconds(), cpu_by_part(room.server_pid)
        started = time.perf_counter()
        await asyncio.gather(*(join(p) for p in room.people))
        figures["join_wall_s"] = time.perf_counter() - started
        busy_after, parts_after = machine_busy_seconds(), cpu_by_part(room.server_pid)
        figures["join_cpu_s"] = {k: parts_after[k] - parts_before[k] for k in parts_after}
        figures["join_machine_busy"] = (busy_after - busy_before) / (
            figures["join_wall_s"] * (psutil.cpu_count() or 1)
        )
        await asyncio.gather(*(checkin(p) for p in room.people))
        await asyncio.sleep(HOLD_S)
        figures["hold"] = snapshot(
            room.server_pid, [p.result["kernel_id"] for p in room.people if "kernel_id" in p.result]
        )
        await asyncio.get_running_loop().run_in_executor(None, room.open_checkout)
        await asyncio.gather(*(checkout(p) for p in room.people))
        figures["drive_wall_s"] = time.perf_counter() - started
        parts_end = cpu_by_part(room.server_pid)
        figures["drive_cpu_s"] = {k: parts_end[k] - parts_before[k] for k in parts_end}
    finally:
        for client in clients.values():
            await client.close()
        for page in pages.values():
            with suppress(Exception):
                await page.context.close()
        if browser is not None:
            with suppress(Exception):
                await browser.close()
        if playwright is not None:
            with suppress(Exception):
                await playwright.stop()
        http.close()
    return figures


def snapshot(server_pid: int | None, their_kernels: list[str]) -> dict:
    """Kernels alive and memory, at the moment everyone is in the room: all the server's
    kernels (the participants' and those started ahead), and which participants' kernels
    (by the kernel id their page was given) still run."""
    memory = psutil.virtual_memory()
    found: dict[str, object] = {
        "machine_total_mib": memory.total / 2**20,
        "machine_available_mib": memory.available / 2**20,
        "participants_kernels": len(their_kernels),
    }
    if server_pid:
        procs = kernel_processes(server_pid)
        kernels = [rss_mib(k) for k in procs]
        lines = []
        for proc in procs:
            with suppress(psutil.Error):
                lines.append(" ".join(proc.cmdline()))
        alive = [k for k in their_kernels if any(k in line for line in lines)]
        found |= {
            "kernels": len(kernels),
            "participants_kernels_alive": len(alive),
            "kernel_rss_mib": stats(kernels),
            "kernels_rss_mib": sum(kernels),
            "server_rss_mib": rss_mib(psutil.Process(server_pid)),
        }
    return found


# -- the verdict --------------------------------------------------------------------------------
def verdict(report: dict) -> tuple[bool, str, str]:
    """(holds, limit or "", one plain sentence) from a rehearsal's figures."""
    n = report["people"]
    app = report["apps"][APP]
    tti, saves, failed = app["tti"], app["save"], app["failures"]
    hold, peak = report.get("hold", {}), report.get("memory_peak", {})
    joined = n - len([f for f in failed if f["step"] == "join"])
    limits = []
    alive = hold.get("participants_kernels_alive")
    kernel_errors = [f["error"] for f in failed if "kernel" in f["error"].lower()]
    if alive is not None and alive < joined:
        limits.append(f"kernels ({alive} still running for the {joined} who joined)")
    elif kernel_errors:
        limits.append(f"kernels ({kernel_errors[0]})")
    total = hold.get("machine_total_mib") or psutil.virtual_memory().total / 2**20
    free = peak.get("available_min_mib", hold.get("machine_available_mib", total))
    if free < MEMORY_FREE_LIMIT * total:
        limits.append(f"memory ({free / 1024:.1f} of {total / 1024:.1f} GiB left free)")
    busy = report.get("join_machine_busy", 0.0)
    if busy >= CPU_BUSY_LIMIT:
        limits.append(
            f"the CPU (busy {busy:.0%} of {psutil.cpu_count()} cores while people joined)"
        )
    limit = limits[0] if limits else ""
    because = f"; the limit is {limit}" if limit else ""
    if failed:
        first = failed[0]
        text = (
            f"this server does not hold {n} participants: {len(failed)} of {n} failed (first "
            f"at {first['step']}: {first['error']}){because or '; see the failures above'}."
        )
        return False, limit, text
    slow = []
    if tti["median"] > TTI_MEDIAN_TARGET_S:
        slow.append(f"the median wait to join was {tti['median']:.1f} s (target 3 s)")
    if tti["p95"] > TTI_P95_TARGET_S:
        slow.append(f"the slowest twentieth waited {tti['p95']:.1f} s (target 6 s)")
    if saves.get("n") and saves["p95"] > SAVE_P95_TARGET_S:
        slow.append(f"saves took up to {saves['p95']:.1f} s to show (target 1 s)")
    if slow:
        quiet = "; no limit was reached: rehearse again when the machine is quiet"
        text = f"this server is too slow for {n} participants: {'; '.join(slow)}{because or quiet}."
        return False, limit, text
    text = (
        f"this server holds {n} participants: the median wait to join was {tti['median']:.1f} s "
        f"(slowest {tti['max']:.1f} s), saves showed within {saves.get('max', 0):.2f} s, no "
        "failures" + (f"; the nearest limit: {limit}." if limit else ".")
    )
    return True, limit, text


def summarise(opts: Options, people: list[Participant], figures: dict, extra: dict) -> dict:
    failures = [
        {"who": p.name, "step": p.result["step"], "error": p.result["error"]}
        for p in people
        if not p.result["ok"]
    ]

    def timings(key: str, kind: bool | None = None) -> list[float]:
        return [
            p.result[key] for p in people if key in p.result and (kind is None or p.browser == kind)
        ]

    report = {
        "people": opts.people,
        "browsers": sum(p.browser for p in people),
        "apps": {
            APP: {
                "tti": stats(timings("tti_s")),
                "tti_browser": stats(timings("tti_s", True)),
                "tti_light": stats(timings("tti_s", False)),
                # the pages' TTI as Playwright's polling saw it (before the in-page mark)
                "tti_browser_polled": stats(timings("tti_polled_s", True)),
                "sign_in": stats(timings("sign_in_s")),
                "download_mib": stats(timings("download_mib")),
                "save": stats([s for p in people for s in p.result["saves"]]),
                "failures": failures,
            }
        },
        **figures,
        **extra,
    }
    holds, limit, sentence = verdict(report)
    report["verdict"] = {"holds": holds, "limit": limit, "text": sentence}
    return report


def print_report(report: dict, out=sys.stdout) -> None:
    def line(label: str, figure: dict, unit: str = "s") -> str:
        if not figure.get("n"):
            return f"  {label:22s} –"
        return (
            f"  {label:22s} median {figure['median']:.2f} {unit}   p95 {figure['p95']:.2f} {unit}"
            f"   max {figure['max']:.2f} {unit}   ({figure['n']})"
        )

    n, k = report["people"], report["browsers"]
    print(
        f"\nRehearsal of {n} participants ({k} Chromium page{'s' if k != 1 else ''}, {n - k} "
        f"lightweight client{'s' if n - k != 1 else ''}) on {report['url']}",
        file=out,
    )
    for note in report.get("notes", []):
        print(f"  {note}", file=out)
    if "server_ready_s" in report:
        print(
            f"  the server was ready {report['server_ready_s']:.0f} s after it started "
            f"({report['kernels_ahead']} kernels started ahead)",
            file=out,
        )
    for name, app in report["apps"].items():
        print(f"app: {name}", file=out)
        print(line("time to interactive", app["tti"]), file=out)
        print(line("  Chromium pages", app["tti_browser"]), file=out)
        print(line("  lightweight clients", app["tti_light"]), file=out)
        print(line("sign-in", app["sign_in"]), file=out)
        if app.get("download_mib", {}).get("n"):
            mib = app["download_mib"]["median"]
            print(
                f"  first visit's download {mib:.1f} MiB (Chromium pages, median): "
                f"{n} people about {n * mib:.0f} MiB on the room's network",
                file=out,
            )
        print(line("save round trip", app["save"]), file=out)
        print(f"  failures               {len(app['failures'])}", file=out)
        for failure in app["failures"][:5]:
            print(f"    {failure['who']} at {failure['step']}: {failure['error']}", file=out)
    hold = report.get("hold", {})
    if "kernels" in hold:
        per = hold["kernel_rss_mib"]
        print(
            f"kernels alive with everyone in: {hold['kernels']} "
            f"(memory per kernel median {per.get('median', 0):.0f} MiB, max "
            f"{per.get('max', 0):.0f} MiB)",
            file=out,
        )
        total = hold["kernels_rss_mib"] + hold["server_rss_mib"]
        lowest = report["memory_peak"]["available_min_mib"]
        spare = lowest - MEMORY_FREE_LIMIT * hold["machine_total_mib"]
        more = max(0, int(spare / max(per.get("median", 1), 1)))
        print(
            f"memory: kernels {hold['kernels_rss_mib'] / 1024:.2f} GiB + server "
            f"{hold['server_rss_mib']:.0f} MiB = {total / 1024:.2f} GiB; machine "
            f"{hold['machine_available_mib'] / 1024:.1f} of {hold['machine_total_mib'] / 1024:.1f}"
            f" GiB free (lowest during the run {lowest / 1024:.1f} GiB: room for about {more}"
            " more kernels, one for each app a participant has open)",
            file=out,
        )
    else:
        print(
            "kernels and server memory: not visible from here (the server runs elsewhere)", file=out
        )
    cores = psutil.cpu_count() or 1
    for label, key in (("while people joined", "join_cpu_s"), ("whole rehearsal", "drive_cpu_s")):
        parts = report.get(key, {})
        print(
            f"CPU seconds {label}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
            + (
                f" (machine busy {report['join_machine_busy']:.0%} of {cores} cores, "
                f"{report['join_wall_s']:.1f} s)"
                if key == "join_cpu_s"
                else ""
            ),
            file=out,
        )
    if k:
        print(
            f"  (the {k} Chromium page{'s' if k != 1 else ''} ran on this machine: in the room, "
            "browsers run on people's own devices)",
            file=out,
        )
    print(f"verdict: {report['verdict']['text']}", file=out, flush=True)


# -- the command --------------------------------------------------------------------------------
def run(opts: Options) -> int:
    """Rehearse; 0 when the server holds the room, 1 when it does not, RehearsalError (exit 2)
    when it cannot be rehearsed. Everything it started is stopped, also on Ctrl-C or SIGTERM."""
    from tqdm import tqdm

    from cop_widgets.services import sessions
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    if opts.people < 1:
        raise RehearsalError("--people: give how many people to simulate, at least 1.")
    browsers = min(max(opts.browsers, 0), opts.people)
    if opts.browsers < 0:
        raise RehearsalError("--browsers: give how many real Chromium pages, 0 or more.")
    opts = Options(opts.people, browsers, opts.session, opts.url.rstrip("/"), opts.json_path)
    if browsers:
        from cop_widgets.chromium import chromium_path

        chromium_path()  # "chromium is needed …" before anything starts
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            raise RehearsalError(
                "cop rehearse drives real Chromium pages with Playwright, which is not "
                "installed: pip install playwright, or use --browsers 0."
            ) from None
    if opts.url:
        _probe(opts.url)
    settings = load_settings()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    tmp = Path(tempfile.mkdtemp(prefix="cop-rehearse-"))  # private: the copy holds personal data
    server = sampler = store = None
    try:
        now = datetime.now(UTC)
        if opts.url:
            base, store_settings = opts.url, settings
            where = f"{opts.url}, whose store is {settings.database_url} (rehearsal accounts "
            where += "are erased afterwards)"
        else:
            data = scratch_data(settings, tmp)
            store_settings = load_settings(
                {"COP_DATA_DIR": str(data), "COP_TIMEZONE": settings.timezone}
            )
            where = ""
        store = open_store(store_settings)
        session, facilitator, people, notes = prepare(
            store, store_settings, opts, not opts.url, now
        )
        if not opts.url:
            print("starting a server on a scratch copy of the store …", file=sys.stderr, flush=True)
            server, pools = _start_server(store_settings, opts.people, tmp)
            base = server.url().rstrip("/")
            where = f"{base}, a scratch copy of {sqlite_path(settings.database_url)}"
            with tqdm(
                total=pools, desc="kernels started ahead", unit="kernel", file=sys.stderr
            ) as bar:
                ready = server.wait_pool_executed(
                    pools,
                    timeout_s=120 + 6 * pools,
                    progress=lambda n: bar.update(max(0, n - bar.n)),
                )
            extra = {"server_ready_s": ready, "kernels_ahead": pools}
        else:
            extra = {}
        server_pid = server.proc.pid if server else _local_server_pid(opts.url)
        sampler = MemorySampler(server_pid)
        sampler.start()
        path = f"/voila/render/session.ipynb?code={quote(session.join_code)}"
        with tqdm(
            total=opts.people * 3, desc="participants' steps", unit="step", file=sys.stderr
        ) as bar:
            room = Room(
                base, path, people, server_pid,
                lambda: open_checkout(store, facilitator, session.id), bar,
            )  # fmt: skip
            figures = asyncio.run(drive(room))
        memory = sampler.finish()
        report = summarise(
            opts, people, figures,
            {"url": where, "session": session.join_code, "notes": notes, "memory_peak": memory,
             **extra},
        )  # fmt: skip
        if opts.url:  # its session closed, its people erased: only its counts stay
            with suppress(CopWidgetsError):
                sessions.close_session(store, facilitator, session.id)
            _erase(store, [facilitator.display_name, *(p.name for p in people)])
        print_report(report)
        if opts.json_path:
            Path(opts.json_path).write_text(json.dumps(report, indent=1, default=str))
        return 0 if report["verdict"]["holds"] else 1
    except ServerFailed as exc:
        raise RehearsalError(f"the rehearsal server did not start: {_first_line(exc)}") from None
    finally:
        if sampler is not None:
            sampler.finish()
        if server is not None:
            server.stop()
        if store is not None:
            store.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm(*_):
    raise SystemExit(143)  # unwinds through the finally blocks that stop the server


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    tail = [line for line in text[1:] if line.strip()]
    return text[0] + (f" ({tail[-1].strip()[:160]})" if tail else "") if text else repr(exc)


def _start_server(settings, people: int, tmp: Path) -> tuple[RoomServer, int]:
    """A server like `cop serve --room --people N`, on 127.0.0.1 over the scratch copy."""
    from cop_widgets.room.mode import room_pools
    from cop_widgets.serving import (
        ROOM_NOTEBOOKS,
        WORKBOOKS_DIR,
        voila_environment,
        with_parsed_content,
    )
    from cop_widgets.serving.paths import served_notebooks

    others = len([n for n in served_notebooks(WORKBOOKS_DIR) if n not in ROOM_NOTEBOOKS])
    pools = room_pools(people, psutil.virtual_memory().available / 2**20, others)
    env = {k: v for k, v in voila_environment().items() if not k.startswith("COP_")}
    env |= {"COP_DATA_DIR": str(settings.data_dir), "COP_TIMEZONE": settings.timezone}
    env = with_parsed_content(env)  # as `cop serve` does, in the scratch copy's .cache/
    server = RoomServer("rehearsal", env, tmp, pool_sizes=tuple(pools.sizes.items()))
    server.wait_answering(path="login")
    return server, pools.kernels


def _probe(url: str) -> None:
    """A server answers at `url` with its sign-in page, or one line saying what is wrong."""
    import urllib.error
    import urllib.request

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RehearsalError(
            f"--url {url}: give the server's address, such as http://192.168.1.20:8866."
        )
    try:
        import ssl

        context = ssl._create_unverified_context() if parts.scheme == "https" else None  # noqa: S323
        with urllib.request.urlopen(f"{url}/login", timeout=10, context=context) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise RehearsalError(
            f"the server at {url} answered {exc.code} ({exc.reason}) to its sign-in page: see "
            "its log, or rehearse without --url on a scratch copy."
        ) from None
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise RehearsalError(
            f"no server answers at {url} ({reason}): start it with `cop serve`, or leave out "
            "--url to rehearse on a server of its own."
        ) from None


def _local_server_pid(url: str) -> int | None:
    """The process listening on the URL's port, if it runs on this machine and we may see it."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ours = {"localhost", "127.0.0.1", "::1"} | {
        a.address for addrs in psutil.net_if_addrs().values() for a in addrs
    }
    if parts.hostname not in ours:
        return None
    with suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return conn.pid
    return None


def _erase(store, names: list[str]) -> None:
    from cop_widgets.services import accounts, erasure

    for name in names:
        who = accounts.find_by_name(store, name)
        if who is not None:
            with suppress(CopWidgetsError):
                erasure.erase_person(store, who.id, vacuum=False)


__all__ = ["Options", "RehearsalError", "run", "verdict"]
