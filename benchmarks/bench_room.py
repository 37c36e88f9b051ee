"""Benchmark (not a test): a room of 30 joining a session at once, and the live board's latency.

Issue 4: 30 people open the join link at the same moment. A few of them are real Chromium
pages, the rest plain HTTP GETs (the `mixed` scenario of PERFORMANCE.md §3: 30 real pages on
2 cores measure Chromium, not the server). Targets (issue 16; issue 4 had 3 s): the median
participant's time to interactive (TTI) <= 2.5 s with no failures, and within 1.10 of bare
Voilà's in the same run; the board shows a saved check-out within 1 s (median). Both rooms run
ROUNDS times in alternating order and their pages are pooled.

    .venv/bin/python benchmarks/bench_room.py            # the room of 30
    .venv/bin/python benchmarks/bench_room.py --smoke    # a room of 2: does it still work?

Everyone is signed in before the timed part (bench_signin.py: accounts and web sessions made
through the services, the signed `cop_session` cookie put in each browser context and GET), as
a room is when people have signed in earlier in the day.

One run, one server at a time (60 preheated kernels at once would not fit 2 cores):
  1. the join page (`session.ipynb?code=CODE`) served by the project's own command line over a
     folder holding only that notebook, pool of 30 preheated kernels; 3 pages + 27 GETs;
  2. the same-run anchor: a bare ipywidgets notebook (Button + Textarea) served the same way
     (saved as `session.ipynb` in its own folder, so it gets the same pool of 30, same URL);
  3. the board (`board.ipynb`, pool of 1) open as the session's facilitator while this process
     saves 10 check-outs through the service layer: time until the board shows each new count.

Exit 0 whatever the figures; non-zero only if something broke (a server, a page, a load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nbformat
from bench_signin import SignedInPerson, sign_in
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from playwright.async_api import async_playwright
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from cop_widgets.chromium import CHROMIUM_ARGS, chromium_path
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.room import load as room_load
from cop_widgets.room.load import (
    OTHERS_CPU_NOISY_PERCENT,
    READY_AT_JS,
    MemorySampler,
    PoolIncomplete,
    RoomServer,
    cpu_by_part,
    cpu_seconds,
    host_speed_s,
    kernel_processes,
    ready_mark_script,
    stats,
    wait_quiet,
)
from cop_widgets.room.load import ServerFailed as BenchError  # something broke: no figures
from cop_widgets.services import checkins, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.serving import WORKBOOKS_DIR, voila_environment, with_parsed_content
from cop_widgets.settings import load_settings
from cop_widgets.store import open_store
from cop_widgets.store.schema import attendance

REPO = Path(__file__).resolve().parents[1]
RESULTS_FILE = REPO / "benchmarks" / "results" / "bench_room.json"
SMOKE_RESULTS_FILE = REPO / "benchmarks" / "results" / "smoke" / "bench_room.json"
ROOM = 30
BROWSER_PAGES = 3  # real Chromium pages in the room; the other 27 are plain HTTP GETs
POOL_SIZE = ROOM  # one pre-executed kernel per person (the refill waits fill_delay: 600 s)
# --smoke (make bench-smoke): the same run, small, to show that every part still works: one
# real page and one GET at once in each room, one board save.
SMOKE_ROOM, SMOKE_BROWSER_PAGES, SMOKE_BOARD_SAVES = 2, 1, 1
PAGE_TIMEOUT_S = 180  # bare Voilà's default took ~19 s for this burst, 30 real pages ~2 min
POOL_TIMEOUT_S = 360  # 30 kernels starting and executing on 2 cores
# jupyter_client gives up on a kernel that died at start 5 times in a row (port clashes, seen in
# 2 of 4 runs on a busy day); such a pool stays a kernel short, so its server is started again.
POOL_STARTS = 2
BOARD_SAVES = 10
BOARD_TIMEOUT_S = 15
# Issue 16: the room of 30 within 2.5 s median (issue 4 had 3 s) and within 1.10 of bare Voilà.
TTI_TARGET_S = 2.5
TTI_RATIO_TARGET = 1.10
# Which room runs first (BENCH_ROOM_ORDER=bare,cop to swap): the second runs on warmer caches
# (Chromium's and Voilà's files read once already), so the rounds alternate the order.
ROOM_ORDER = tuple(os.environ.get("BENCH_ROOM_ORDER", "cop,bare").split(","))
# Rounds of both rooms (BENCH_ROOM_ROUNDS; --smoke: 1). One round's 3 pages gave medians 0.5 s
# apart from one run to the next (bare 2.55 and 3.09 s on a quiet machine, the same hour), so
# the figures pool every round's pages: 12 real pages and 108 GETs per room by default. An even
# number, so that each room comes first in as many rounds as the other: with 3, the session
# page came first twice, and over six runs on 2026-11-29 its rounds as the first room had a
# median of 2.43 s (12 rounds) against 2.24 s as the second (9); bare's 2.11 and 2.15 s.
ROUNDS = int(os.environ.get("BENCH_ROOM_ROUNDS", "4"))
# An untimed round of both rooms first (BENCH_ROOM_WARM_UP=0: none; --smoke: none), kept in the
# results as `warm_up_round`, outside the figures, as benchmark tools set warm-up iterations
# aside. The run's first burst, when it was the session page's, was mostly slower than its
# later rounds (2.40-2.67 s in six runs on 2026-11-29 against a median of 2.23 s; 2.06-2.80 s
# as the warm-up since); the cause is not found (benchmarks/README.md, 2026-11-29 11:20).
WARM_UP_ROUND = os.environ.get("BENCH_ROOM_WARM_UP", "1").strip() != "0"
# A round in which other processes (the host's other tenants) took more than
# OTHERS_CPU_NOISY_PERCENT of a core during either room's burst compares the rooms under
# unequal conditions (a run on 2026-11-28: 78 % during the session room's burst, 8 % during
# bare's, medians 6.03 s and 2.68 s): it is run again, at most BENCH_ROOM_REPEATS times in a run,
# and kept in the results as a noisy round, outside the figures.
ROUND_REPEATS = int(os.environ.get("BENCH_ROOM_REPEATS", "3"))
BOARD_TARGET_S = 1.0
# PERFORMANCE.md §3, `mixed`, 30 loads with 3 real pages, heavy notebook, plain `voila`.
BARE_DEFAULT_S, BARE_BEST_TUNED_S = 19.2, 3.36
BARE_SOURCE = """import ipywidgets as w
b = w.Button(description="Click")
t = w.Textarea()
b.on_click(lambda _: setattr(t, 'value', 'clicked 1'))
display(w.VBox([b, t]))"""
# Every GET must come back with the rendered widgets, not an error page.
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
FACILITATOR = "Room Facilitator"
PARTICIPANT = "Room Participant {:02d}"
# What shows the session page is usable: the joined session's topic (the app joins by itself
# once it knows who opened the join link); the bare page's button.
COP_READY = ".cop-app h2"
BARE_READY = ".widget-button"
CHECKOUT_ANSWERS = {"useful": 4, "safe": 5, "one_word": "clear"}
PAGE_MARKS_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    ready: window.__readyAt || null,
    load: nav && nav.loadEventStart ? performance.timeOrigin + nav.loadEventStart : null,
    // what crossed the network for the page until now (headers included), and decoded
    sent: performance.getEntriesByType('resource').concat([nav || {}])
      .reduce((sum, entry) => sum + (entry.transferSize || 0), 0),
    decoded: performance.getEntriesByType('resource').concat([nav || {}])
      .reduce((sum, entry) => sum + (entry.decodedBodySize || 0), 0),
  };
}"""
BOARD_COUNT_JS = """n => {
  const el = document.querySelector('.cop-board-counts');
  const m = el && el.textContent.match(/Check-out: (\\d+)/);
  return m !== null && Number(m[1]) >= n;
}"""


class Server(RoomServer):
    """One Voilà server over a folder, started with the project's own command line
    (cop_widgets.room.load, shared with `cop rehearse`), with a pool of `pool_size` kernels."""

    def __init__(self, label: str, folder: Path, pool_size: int, env: dict, log_dir: Path):
        self.pool_size = pool_size
        super().__init__(label, env, log_dir, workbooks=folder, pool_size=pool_size)

    def wait_pool_executed(self) -> float:
        return super().wait_pool_executed(self.pool_size, POOL_TIMEOUT_S)


# -- the room -----------------------------------------------------------------------------------
async def real_page(
    browser, url: str, ready: str, who: SignedInPerson, start: asyncio.Event
) -> dict:
    """One participant, already signed in (their cookie), in a fresh context (cold cache). TTI:
    from just before goto until the first rendering of `ready` in view, read from the page's
    own clock (load.ready_mark_script)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_cookies(who.playwright_cookies())
    page = await context.new_page()
    await page.add_init_script(ready_mark_script(ready))
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)[:200]))
    # The kernel's websocket opens after the load event; the widgets render once it is up.
    kernel_socket: list[float] = []
    page.on(
        "websocket",
        lambda socket: "/channels" in socket.url and kernel_socket.append(time.perf_counter()),
    )
    result: dict = {"ok": False, "page": page, "context": context, "who": who}
    await start.wait()
    started, started_epoch = time.perf_counter(), time.time()
    try:
        # commit only: Voilà's load event waits for the kernel (PERFORMANCE.md gotcha 6)
        await page.goto(url, wait_until="commit", timeout=PAGE_TIMEOUT_S * 1000)
        result["commit_s"] = time.perf_counter() - started
        await page.locator(ready).first.wait_for(state="visible", timeout=PAGE_TIMEOUT_S * 1000)
        # what the runs before the in-page mark reported as TTI (Playwright's polling)
        result["tti_polled_s"] = time.perf_counter() - started
        with suppress(PlaywrightTimeoutError):  # the mark follows within a frame or two
            await page.wait_for_function(READY_AT_JS, timeout=5_000)
        marks = await page.evaluate(PAGE_MARKS_JS)
        if marks["ready"]:
            result["tti_s"] = marks["ready"] / 1000 - started_epoch
        else:  # never seen by the observer (e.g. below the fold): the coarser figure, flagged
            result["tti_s"], result["tti_from_polling"] = result["tti_polled_s"], True
        if marks["load"]:
            # Load event: the page has streamed and its scripts and styles have loaded.
            result["load_s"] = marks["load"] / 1000 - started_epoch
        result["sent_mib"], result["decoded_mib"] = marks["sent"] / 2**20, marks["decoded"] / 2**20
        result["ok"] = True
    except Exception as exc:  # noqa: BLE001 - a failed load is a figure of the run
        result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if kernel_socket:
        result["kernel_socket_s"] = kernel_socket[0] - started
    if errors:
        result["page_errors"] = errors[:3]
    return result


async def http_get(
    client: httpx.AsyncClient, url: str, who: SignedInPerson, start: asyncio.Event
) -> dict:
    """A participant whose browser is elsewhere, signed in (their cookie): the server's work,
    until the page is complete. A redirect to the sign-in page is a failure."""
    cookie = "; ".join(f"{k}={v}" for k, v in who.cookies().items())
    await start.wait()
    started = time.perf_counter()
    try:
        response = await client.get(url, headers={"Cookie": cookie}, timeout=PAGE_TIMEOUT_S)
        seconds = time.perf_counter() - started
        ok = response.status_code == 200 and WIDGET_MIME in response.text
        result = {"ok": ok, "get_s": seconds, "status": response.status_code}
        if not ok:
            rendered = WIDGET_MIME in response.text
            result["error"] = f"HTTP {response.status_code}, widgets rendered: {rendered}"
        return result
    except Exception as exc:  # noqa: BLE001 - a failed load is a figure of the run
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}


async def prove_live(page, label: str, who: SignedInPerson) -> float:
    """After TTI: one action through the kernel (open the check-out form / click), so a page
    that shows widgets but has no live kernel counts as a failure. The session page must also
    name its signed-in person and say it joined them."""
    started = time.perf_counter()
    if label == "cop":
        await page.locator(".cop-whoami", has_text=who.name).wait_for(timeout=60_000)
        await page.locator(".cop-status", has_text="Joined").wait_for(timeout=60_000)
        await page.locator(".cop-checkout").click()
        await page.locator(".cop-send-checkout").wait_for(timeout=60_000)
    else:
        await page.locator(".widget-button").first.click()
        await page.wait_for_function(
            "() => Array.from(document.querySelectorAll('textarea'))"
            ".some(t => t.value === 'clicked 1')",
            timeout=60_000,
        )
    return time.perf_counter() - started


async def room_burst(server: Server, url: str, ready: str, people: list[SignedInPerson]) -> dict:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        # Warm the browser process on the tree page (it takes no kernel).
        warm_up = await browser.new_context()
        await (await warm_up.new_page()).goto(server.url())
        await warm_up.close()
        # Warm this process's HTTP client the same way, on a client of its own (the burst's
        # connections stay new): the run's first burst sent its GETs 0.24 s after the start,
        # later ones 0.03-0.13 s, as the first request imports and builds what later ones reuse.
        async with httpx.AsyncClient() as warm_client:
            await warm_client.get(server.url())
        limits = httpx.Limits(max_connections=ROOM + 5, max_keepalive_connections=ROOM + 5)
        async with httpx.AsyncClient(limits=limits) as client:
            start = asyncio.Event()
            pages = [
                asyncio.create_task(real_page(browser, url, ready, who, start))
                for who in people[:BROWSER_PAGES]
            ]
            gets = [
                asyncio.create_task(http_get(client, url, who, start))
                for who in people[BROWSER_PAGES:ROOM]
            ]
            await asyncio.sleep(1.0)  # every context and page exists before the burst
            wait_quiet(60)
            speed = host_speed_s()
            machine_before, ours_before = cpu_seconds()
            parts_before = cpu_by_part(server.proc.pid)
            started = time.perf_counter()
            start.set()
            page_results = await asyncio.gather(*pages)
            get_results = await asyncio.gather(*gets)
            wall = time.perf_counter() - started
            parts_after = cpu_by_part(server.proc.pid)
            machine_after, ours_after = cpu_seconds()
        for result in page_results:
            page, context, who = result.pop("page"), result.pop("context"), result.pop("who")
            if result["ok"]:
                try:
                    result["live_action_s"] = await prove_live(page, server.label, who)
                except Exception as exc:  # noqa: BLE001 - reported as a failed load
                    result["ok"] = False
                    result["error"] = f"not live: {type(exc).__name__}: {str(exc)[:150]}"
            await context.close()
        await browser.close()
    others = (machine_after - machine_before) - (ours_after - ours_before)
    return {
        "pages": page_results,
        "gets": get_results,
        "wall_all_done_s": wall,
        "others_cpu_percent": max(0.0, others / wall * 100),
        "host_speed_s": speed,
        "burst_cpu_s": {k: parts_after[k] - parts_before[k] for k in parts_after},
    }


def start_room_server(label: str, folder: Path, env: dict, tmp: Path):
    """(server, its memory sampler, seconds until its pool was executed, starts needed)."""
    attempt = 1
    while True:
        server = Server(label, folder, POOL_SIZE, env, tmp)
        sampler = MemorySampler(server.proc.pid)
        sampler.start()
        try:
            server.wait_answering()
            return server, sampler, server.wait_pool_executed(), attempt
        except BaseException as exc:
            sampler.finish()
            server.stop()
            if not isinstance(exc, PoolIncomplete) or attempt == POOL_STARTS:
                raise
            print(f"{exc}; starting the server again", flush=True)
            wait_quiet(60)
        attempt += 1


def load_figures(pages: list[dict], gets: list[dict]) -> dict:
    """The figures of a room's loads (real pages and GETs): timings, failures, first errors.
    bench_hub_room.py reports its rooms with these too."""
    failures = [r for r in [*pages, *gets] if not r["ok"]]
    return {
        "tti": stats([r["tti_s"] for r in pages if "tti_s" in r]),
        "commit": stats([r["commit_s"] for r in pages if "commit_s" in r]),
        "load_event": stats([r["load_s"] for r in pages if "load_s" in r]),
        "kernel_socket": stats([r["kernel_socket_s"] for r in pages if "kernel_socket_s" in r]),
        "tti_polled": stats([r["tti_polled_s"] for r in pages if "tti_polled_s" in r]),
        "live_action": stats([r["live_action_s"] for r in pages if "live_action_s" in r]),
        # a first visit's download until TTI (a fresh context: nothing cached)
        "sent_mib": stats([r["sent_mib"] for r in pages if "sent_mib" in r]),
        "decoded_mib": stats([r["decoded_mib"] for r in pages if "decoded_mib" in r]),
        "get": stats([r["get_s"] for r in gets if "get_s" in r]),
        "page_failures": sum(not r["ok"] for r in pages),
        "get_failures": sum(not r["ok"] for r in gets),
        "errors": [r["error"] for r in failures][:5],
    }


def run_room(
    label: str,
    folder: Path,
    query: str,
    ready: str,
    people: list[SignedInPerson],
    env: dict,
    tmp: Path,
) -> dict:
    notebook = next(folder.glob("*.ipynb")).name
    server, sampler, filled, starts = start_room_server(label, folder, env, tmp)
    try:
        idle_rss = [p.memory_info().rss / 2**20 for p in kernel_processes(server.proc.pid)]
        print(
            f"{label}: pool of {POOL_SIZE} executed {filled:.1f} s after start "
            f"(kernel RSS median {statistics.median(idle_rss):.0f} MiB)",
            flush=True,
        )
        clashes = server.port_clashes()
        if clashes:
            print(f"{label}: {clashes} kernel(s) died at start on a port clash", flush=True)
        url = server.url(f"voila/render/{notebook}{query}")
        burst = asyncio.run(room_burst(server, url, ready, people))
    finally:
        memory = sampler.finish()
        stopped = server.stop()
    pages, gets = burst["pages"], burst["gets"]
    figures = {
        "pool_executed_after_s": filled,
        "server_starts": starts,
        "idle_kernel_rss_mib_median": statistics.median(idle_rss),
        "kernel_start_port_clashes": clashes,
        **load_figures(pages, gets),
        "wall_all_done_s": burst["wall_all_done_s"],
        "others_cpu_percent": burst["others_cpu_percent"],
        "host_speed_s": burst["host_speed_s"],
        "burst_cpu_s": burst["burst_cpu_s"],
        "memory_peak": memory,
        "server_stop": stopped,
        "pages": pages,
        "gets": gets,
    }
    tti = figures["tti"]
    page_ttis = " ".join(f"{r['tti_s']:.2f}" if "tti_s" in r else "failed" for r in pages)
    print(
        f"{label}: page TTIs {page_ttis} s; "
        f"GETs median {figures['get'].get('median', float('nan')):.2f} s; "
        f"failures {figures['page_failures'] + figures['get_failures']}; "
        f"other processes' CPU {burst['others_cpu_percent']:.0f} %"
        + (f"; median TTI {tti['median']:.2f} s" if tti["n"] else ""),
        flush=True,
    )
    return figures


# -- the board ----------------------------------------------------------------------------------
def run_board(store, settings, session, facilitator: SignedInPerson, env: dict, tmp: Path) -> dict:
    folder = tmp / "board"
    folder.mkdir()
    shutil.copy(WORKBOOKS_DIR / "board.ipynb", folder / "board.ipynb")
    checkout = load_item_sets(settings.data_dir / "session_items")[0]["checkout"]
    server = Server("board", folder, 1, env, tmp)
    latencies, saves = [], []
    try:
        server.wait_answering()
        server.wait_pool_executed()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
            )
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies([facilitator.playwright_cookie()])  # signed in earlier
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.on("dialog", lambda dialog: dialog.accept())
            page.goto(server.url("voila/render/board.ipynb"), wait_until="commit")
            page.locator(".cop-whoami", has_text=FACILITATOR).wait_for()
            page.locator(".cop-board-code input").fill(session.join_code)
            page.locator(".cop-board-open").click()
            page.wait_for_function(BOARD_COUNT_JS, arg=0)
            spread = random.Random(4)  # noqa: S311 - spreads saves over the 1 s board tick
            for n in range(1, BOARD_SAVES + 1):
                time.sleep(spread.uniform(0.3, 1.3))
                who = find_or_add_person(store, f"Board Participant {n}")
                sessions.join(store, who, session.join_code, datetime.now(UTC))
                started = time.perf_counter()
                checkins.submit_answers(store, who, session.id, checkout, CHECKOUT_ANSWERS)
                saved = time.perf_counter()
                try:
                    page.wait_for_function(
                        BOARD_COUNT_JS, arg=n, polling="raf", timeout=BOARD_TIMEOUT_S * 1000
                    )
                except Exception as exc:
                    raise server.failure(
                        f"the board never showed check-out {n}: {str(exc).splitlines()[0]}"
                    ) from exc
                latencies.append(time.perf_counter() - saved)
                saves.append(saved - started)
                print(f"  board save {n}: shown after {latencies[-1]:.3f} s", flush=True)
            browser.close()
    except BenchError:
        raise
    except Exception as exc:
        raise server.failure(f"board: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    finally:
        stopped = server.stop()
    return {
        "server_stop": stopped,
        "latency": stats(latencies),
        "save": stats(saves),
        "latencies_s": latencies,
    }


# -- the run ------------------------------------------------------------------------------------
def prepare(tmp: Path) -> tuple[dict, Path, Path, Path]:
    data_dir, cop_dir, bare_dir = tmp / "data", tmp / "cop", tmp / "bare"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    cop_dir.mkdir()
    shutil.copy(WORKBOOKS_DIR / "session.ipynb", cop_dir / "session.ipynb")
    bare_dir.mkdir()
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(BARE_SOURCE)], metadata={"kernelspec": kernelspec}
        ),
        # Same file name as the join page: the project's serving gives the room-sized pool to
        # its room notebooks by name (kernel_pools_config) and 1 kernel to any other, so this
        # is what serves the bare notebook exactly the same way, at the same URL.
        bare_dir / "session.ipynb",
    )
    env = {k: v for k, v in voila_environment().items() if not k.startswith("COP_")}
    env["COP_DATA_DIR"] = str(data_dir)  # a scratch store: never the real data/cop.sqlite
    env = with_parsed_content(env)  # as `cop serve` does: kernels need not import yaml
    env.pop("JUPYTERHUB_USER", None)  # standalone mode: people sign in (serving/auth.py)
    return env, data_dir, cop_dir, bare_dir


def plan_room_session(store, coordinator, community_id: str, facilitator, number: int):
    """A session of the bench's community, its check-out open (each page proves its kernel live
    by opening the form). One per round, so each round's attendance is counted on its own."""
    session = sessions.plan_session(
        store, coordinator, community_id, datetime.now(UTC), f"Room bench session {number}"
    )
    sessions.set_session_roles(store, coordinator, session.id, {"facilitator": facilitator.id})
    sessions.open_checkout(store, coordinator, session.id)
    return session


def measure(tmp: Path) -> dict:
    env, data_dir, cop_dir, bare_dir = prepare(tmp)
    settings = load_settings({"COP_DATA_DIR": str(data_dir)})
    store = open_store(settings)
    try:
        coordinator = sign_in(store, "Room Coordinator", "coordinator").person
        community = sessions.create_community(store, coordinator, "Room bench CoP")
        facilitator = sign_in(store, FACILITATOR)
        sessions.add_member(store, coordinator, community.id, facilitator.person.id, "facilitator")
        # Signed in before the timed part, one person (and browser) each; the bare room's
        # server reads the same cookies (same store), so both rooms pay for the same check.
        people = [sign_in(store, PARTICIPANT.format(n)) for n in range(1, ROOM + 1)]
        rooms = {"cop": (cop_dir, COP_READY), "bare": (bare_dir, BARE_READY)}
        rounds: dict[str, list[dict]] = {label: [] for label in rooms}
        noisy: list[dict] = []
        first_session = None
        number, planned = 0, 0
        warm_up: dict[str, dict] = {}
        if WARM_UP_ROUND:
            planned += 1
            session = plan_room_session(
                store, coordinator, community.id, facilitator.person, planned
            )
            for label in ROOM_ORDER:
                folder, ready = rooms[label]
                print(f"warm-up round (untimed): {label}", flush=True)
                query = f"?code={session.join_code}"
                warm_up[label] = _round_summary(
                    run_room(label, folder, query, ready, people, env, tmp)
                )
                wait_quiet(60)
        while number < ROUNDS:
            number += 1
            planned += 1
            session = plan_room_session(
                store, coordinator, community.id, facilitator.person, planned
            )
            first_session = first_session or session
            order = ROOM_ORDER if number % 2 else ROOM_ORDER[::-1]
            this_round: dict[str, dict] = {}
            for label in order:
                folder, ready = rooms[label]
                print(f"round {number} of {ROUNDS}: {label}", flush=True)
                query = f"?code={session.join_code}"
                figures = run_room(label, folder, query, ready, people, env, tmp)
                if label == "cop":
                    figures["joined_in_store"] = joined_in_store(store, session.id)
                this_round[label] = figures
                wait_quiet(60)  # the server's kernels are gone before the next pool fills
            others = max(figures["others_cpu_percent"] for figures in this_round.values())
            if others > OTHERS_CPU_NOISY_PERCENT and len(noisy) < ROUND_REPEATS:
                print(
                    f"round {number}: other processes took {others:.0f} % of a core during a "
                    "burst; the round is run again (kept as noisy, outside the figures)",
                    flush=True,
                )
                noisy.append({label: _round_summary(f) for label, f in this_round.items()})
                number -= 1
                continue
            for label, figures in this_round.items():
                rounds[label].append(figures)
        results = {label: pooled(rounds[label]) for label in rooms}
        results["noisy_rounds"] = noisy
        results["warm_up_round"] = warm_up
        results["board"] = run_board(store, settings, first_session, facilitator, env, tmp)
    finally:
        store.dispose()
    return results


def _round_summary(figures: dict) -> dict:
    """What the results keep of a round outside the figures (the warm-up, or run again for
    noise)."""
    return {
        "tti_median_s": figures["tti"].get("median"),
        "others_cpu_percent": figures["others_cpu_percent"],
        "host_speed_s": figures["host_speed_s"],
        "failures": figures["page_failures"] + figures["get_failures"],
    }


ROUND_KEYS = ("tti", "load_event", "commit", "kernel_socket", "get", "page_failures")
ROUND_KEYS += ("get_failures", "wall_all_done_s", "others_cpu_percent", "burst_cpu_s")
ROUND_KEYS += ("host_speed_s",)


def pooled(rounds: list[dict]) -> dict:
    """One room's figures over all its rounds: timings from every round's pages and GETs
    together; for the rest the worst round (joined, memory, stopping) or the median."""
    pages = [page for figures in rounds for page in figures["pages"]]
    gets = [get for figures in rounds for get in figures["gets"]]
    worst_memory = max(rounds, key=lambda figures: figures["memory_peak"]["kernels_rss_mib"])
    slowest_stop = max(rounds, key=lambda figures: figures["server_stop"]["stop_s"])
    pooled_figures = {
        "rounds": [{key: figures[key] for key in ROUND_KEYS} for figures in rounds],
        "pool_executed_after_s": statistics.median(f["pool_executed_after_s"] for f in rounds),
        "server_starts": max(figures["server_starts"] for figures in rounds),
        "idle_kernel_rss_mib_median": statistics.median(
            figures["idle_kernel_rss_mib_median"] for figures in rounds
        ),
        "kernel_start_port_clashes": sum(f["kernel_start_port_clashes"] for f in rounds),
        **load_figures(pages, gets),
        "wall_all_done_s": statistics.median(f["wall_all_done_s"] for f in rounds),
        "others_cpu_percent": max(figures["others_cpu_percent"] for figures in rounds),
        "burst_cpu_s": {
            part: statistics.median(figures["burst_cpu_s"][part] for figures in rounds)
            for part in rounds[0]["burst_cpu_s"]
        },
        "memory_peak": worst_memory["memory_peak"],
        "server_stop": slowest_stop["server_stop"],
        "pages": pages,
        "gets": gets,
    }
    if "joined_in_store" in rounds[0]:
        # each round joins the room to its own session: the round with fewest joined counts
        pooled_figures["joined_in_store"] = min(f["joined_in_store"] for f in rounds)
        for summary, figures in zip(pooled_figures["rounds"], rounds, strict=True):
            summary["joined_in_store"] = figures["joined_in_store"]
    return pooled_figures


def joined_in_store(store, session_id: str, timeout_s: float = 30) -> int:
    """Attendance recorded for the room: every page opened (a GET too) is a kernel that, told
    who asked, joins them; the GETs' kernels do it after their page has been sent."""
    deadline = time.monotonic() + timeout_s
    while True:
        with store.read() as conn:  # the operator's count, not a person's view
            joined = conn.execute(
                select(func.count()).where(attendance.c.session_id == session_id)
            ).scalar()
        if joined >= ROOM or time.monotonic() > deadline:
            return joined
        time.sleep(0.5)


def print_report(results: dict) -> None:
    def cell(figure: dict, key: str) -> str:
        return f"{figure[key]:8.2f}" if figure.get("n") else f"{'–':>8s}"

    print(
        f"\nRoom of {ROOM} at once, {ROUNDS} round(s) of each room in alternating order, figures "
        f"over all rounds; everyone signed in beforehand: {BROWSER_PAGES} Chromium pages "
        "(fresh contexts with their sign-in cookie; TTI until the first rendering of the joined "
        f"session's topic / bare's button) + {ROOM - BROWSER_PAGES} HTTP GETs (until the page is "
        f"complete); pool_size={POOL_SIZE} preheated, {os.cpu_count()} cores. Seconds; 'load' is "
        "the real pages' load event, median (page streamed, its scripts and styles loaded)."
    )
    print(
        f"{'':6s}{'TTI med':>8s}{'p95':>8s}{'max':>8s} |{'load':>8s} |{'GET med':>8s}{'p95':>8s}"
        f"{'max':>8s} | failures  kernels RSS peak  others' CPU"
    )
    for label in ("cop", "bare"):
        fig = results[label]
        tti, get = fig["tti"], fig["get"]
        mem = fig["memory_peak"]
        print(
            f"{label:6s}{cell(tti, 'median')}{cell(tti, 'p95')}{cell(tti, 'max')} |"
            f"{cell(fig['load_event'], 'median')} |"
            f"{cell(get, 'median')}{cell(get, 'p95')}{cell(get, 'max')} | "
            f"{fig['page_failures']}+{fig['get_failures']:<2d}/{ROOM}  "
            f"{mem['kernels']:3d} = {mem['kernels_rss_mib'] / 1024:4.1f} GiB   "
            f"{fig['others_cpu_percent']:4.0f} %"
        )
    print("where a real page's time goes (medians, seconds from goto):")
    for label in ("cop", "bare"):
        fig = results[label]
        print(
            f"  {label:6s}first bytes{cell(fig['commit'], 'median')}  load event"
            f"{cell(fig['load_event'], 'median')}  kernel websocket"
            f"{cell(fig['kernel_socket'], 'median')}"
            f"  TTI{cell(fig['tti'], 'median')}  (Playwright's polled TTI, the method before "
            f"the in-page mark:{cell(fig['tti_polled'], 'median')})"
        )
    print(
        "each round's median TTI, in the order run, and the host's speed just before it "
        "(seconds for a fixed loop, lower is faster):"
    )
    for label in ("cop", "bare"):
        rounds = results[label]["rounds"]
        print(
            f"  {label:6s}"
            + "  ".join(
                (f"{r['tti']['median']:5.2f}" if r["tti"].get("n") else "    –")
                + f" ({r['host_speed_s']:.3f})"
                for r in rounds
            )
        )
    print("CPU seconds used during a burst, by part, median over rounds (2 cores: the browser's")
    print("share is why a room is slower than one page; participants' browsers run elsewhere):")
    for label in ("cop", "bare"):
        parts = results[label]["burst_cpu_s"]
        print(f"  {label:6s}" + "  ".join(f"{k} {v:5.2f}" for k, v in parts.items()))
    cop, bare = results["cop"]["tti"], results["bare"]["tti"]
    if cop.get("n") and bare.get("n"):
        ratio = cop["median"] / bare["median"]
        results["tti_ratio_cop_bare"] = ratio
        print(
            f"TTI median ratio session page / bare Voilà (same run, same flags): {ratio:.2f} "
            f"(target <= {TTI_RATIO_TARGET:.2f}: "
            f"{'met' if ratio <= TTI_RATIO_TARGET else 'MISSED'})"
        )
    if cop.get("n"):
        met = cop["median"] <= TTI_TARGET_S and not (
            results["cop"]["page_failures"] or results["cop"]["get_failures"]
        )
        print(
            f"median participant's TTI {cop['median']:.2f} s, target <= {TTI_TARGET_S} s with "
            f"no failures: {'met' if met else 'MISSED'}  (bare Voilà default {BARE_DEFAULT_S} s, "
            f"best tuned bare {BARE_BEST_TUNED_S} s: PERFORMANCE.md §3 mixed)"
        )
    for label in ("cop", "bare"):
        sent, decoded = results[label]["sent_mib"], results[label]["decoded_mib"]
        if sent.get("n"):
            print(
                f"  {label:6s}a first visit downloads {sent['median']:.2f} MiB until TTI "
                f"({decoded['median']:.2f} MiB decoded): {ROOM} people "
                f"{ROOM * sent['median']:.0f} MiB on the room's network"
            )
    live = results["cop"]["live_action"].get("median", float("nan"))
    print(
        f"{results['cop']['joined_in_store']} of {ROOM} signed-in participants joined "
        "(attendance in the store: pages and GETs; the round with fewest); on the real pages, "
        f"opening the check-out form after TTI took {live:.2f} s (median)"
    )
    board = results["board"]["latency"]
    print(
        f"board: a saved check-out shown after median {board['median']:.3f} s, max "
        f"{board['max']:.3f} s over {board['n']} saves (target median <= {BOARD_TARGET_S:.0f} s: "
        f"{'met' if board['median'] <= BOARD_TARGET_S else 'MISSED'}; the board ticks every 1 s)"
    )
    print(
        f"pool of {POOL_SIZE} ready (kernels started and executed, machine quiet) after: "
        + ", ".join(f"{k} {results[k]['pool_executed_after_s']:.0f} s" for k in ("cop", "bare"))
        + "; servers stopped in: "
        + ", ".join(
            f"{k} {results[k]['server_stop']['stop_s']:.1f} s"
            + (" (SIGKILL after 30 s)" if results[k]["server_stop"]["killed_after_sigterm"] else "")
            for k in ("cop", "bare", "board")
        )
    )
    if results.get("warm_up_round"):
        print(
            "warm-up round (untimed, outside the figures): "
            + ", ".join(
                f"{label} median {fig['tti_median_s']:.2f} s"
                for label, fig in results["warm_up_round"].items()
            )
        )
    for number, again in enumerate(results.get("noisy_rounds", []), 1):
        print(
            f"run again for noise ({number}): "
            + ", ".join(
                f"{label} median {fig['tti_median_s']:.2f} s with others' CPU "
                f"{fig['others_cpu_percent']:.0f} %"
                for label, fig in again.items()
            )
        )
    noisy = [
        label
        for label in ("cop", "bare")
        if results[label]["others_cpu_percent"] > OTHERS_CPU_NOISY_PERCENT
    ]
    if noisy:
        print(
            f"WARNING: during the {' and '.join(noisy)} burst other processes used more than "
            f"{OTHERS_CPU_NOISY_PERCENT} % of a core: TTI is noisy, rerun on a quiet machine."
        )


def warm_file_cache() -> int:
    """Read Voilà's templates, bundles and lab extensions once, as a server that has shown a
    page before has them in the page cache: otherwise the room that runs first pays for reading
    them from disk and the second does not (measured: ~0.6-1 s of the first room's TTI)."""
    from jupyter_core.paths import jupyter_path

    read = 0
    for folder in {*jupyter_path("voila"), *jupyter_path("labextensions")}:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                read += len(path.read_bytes())
    return read


def main(argv: list[str] | None = None) -> int:
    global ROOM, BROWSER_PAGES, POOL_SIZE, BOARD_SAVES, ROUNDS, ROUND_REPEATS, WARM_UP_ROUND
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a room of {SMOKE_ROOM} ({SMOKE_BROWSER_PAGES} pages), {SMOKE_BOARD_SAVES} board "
        "saves: checks that the benchmark works; figures go to benchmarks/results/smoke/",
    )
    smoke = parser.parse_args(argv).smoke
    results_file = SMOKE_RESULTS_FILE if smoke else RESULTS_FILE
    if smoke:
        ROOM, BROWSER_PAGES, BOARD_SAVES = SMOKE_ROOM, SMOKE_BROWSER_PAGES, SMOKE_BOARD_SAVES
        POOL_SIZE, ROUNDS = ROOM, 1
        ROUND_REPEATS = 0  # the smoke run checks that it works; its timings are not figures
        WARM_UP_ROUND = False
        room_load.PATIENCE_FOR_OTHERS_S = 0
    # SIGTERM must unwind through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"warmed the file cache: {warm_file_cache() / 2**20:.0f} MiB of Voilà's files read")
    with tempfile.TemporaryDirectory(prefix="bench-room-") as tmp:
        try:
            results = measure(Path(tmp))
        except BenchError as exc:
            print(f"benchmark broke: {exc}", file=sys.stderr)
            return 1
    print_report(results)
    results["setup"] = {
        "smoke": smoke,
        "room": ROOM,
        "browser_pages": BROWSER_PAGES,
        "pool_size": POOL_SIZE,
        "board_saves": BOARD_SAVES,
        "rounds": ROUNDS,
        "warm_up_round": WARM_UP_ROUND,
        "order": list(ROOM_ORDER),
        "cpus": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "targets": {
            "tti_median_s": TTI_TARGET_S,
            "tti_ratio": TTI_RATIO_TARGET,
            "board_median_s": BOARD_TARGET_S,
        },
        "anchors_performance_md": {
            "bare_default_s": BARE_DEFAULT_S,
            "bare_best_s": BARE_BEST_TUNED_S,
        },
    }
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=1))
    print(f"wrote {results_file.relative_to(REPO)}")
    warm_up = results["warm_up_round"].values()
    failures = sum(
        results[k]["page_failures"] + results[k]["get_failures"] for k in ("cop", "bare")
    ) + sum(figures["failures"] for figures in warm_up)
    if failures:
        loads = 2 * ROOM * ROUNDS + ROOM * len(warm_up)
        print(f"benchmark broke: {failures} of {loads} loads failed", file=sys.stderr)
        return 1
    if results["cop"]["joined_in_store"] < ROOM:
        print(
            f"benchmark broke: {results['cop']['joined_in_store']} of {ROOM} signed-in "
            "participants joined the session",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
