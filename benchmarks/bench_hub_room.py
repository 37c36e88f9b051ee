"""Benchmark (not a test): two servers behind the Hub serving a room of 60, against one server
behind the Hub serving a room of 30 (issue 17).

A real JupyterHub runs the shipped deploy/jupyterhub_config.py as the Hub end-to-end tests run
it (tests/e2e/hub.py: free ports, a temporary folder, test users with the dummy authenticator),
its participants' servers as managed `cop serve --hub` services on one PostgreSQL store (the
tests' own cluster, tests/pg.py, started durable as bench_backends.py does for full runs; a new,
empty database per run, which the services migrate between them). Two runs, one Hub each:

  two  /services/cop/ and /services/cop-2/, a room of 60: 30 people on each server (3 real
       Chromium pages + 27 HTTP GETs each), all 60 at once;
  one  /services/cop/ alone, a room of 30 (3 real pages + 27 GETs), the same session page.

Each server's kernel pools are preheated as `cop serve --hub` does for the room it serves
(COP_POOL_SIZE = its people: that many kernels for each room page, 1 for each other page).
Everyone is signed in beforehand through the Hub (its login form, then the service's OAuth, over
HTTP), as a room is when people signed in at the door; each Chromium context gets every cookie
that sign-in left, each GET sends them. The room is measured exactly as bench_room.py measures
it (its real_page with the in-page TTI mark, http_get, prove_live). The figure: the ratio of
the median real page's time to interactive (TTI), two servers / one.

    .venv/bin/python benchmarks/bench_hub_room.py            # 60 on two servers, 30 on one
    .venv/bin/python benchmarks/bench_hub_room.py --smoke    # 4 on two (1 page + 1 GET each), 2

Without PostgreSQL's binaries or the Hub's proxy (scripts/ensure-hub-proxy) it prints why and
exits 0. Otherwise exit 0 whatever the figures; non-zero only if something broke (the Hub, a
server, a page, a load, a join).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import signal
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import bench_room
import httpx
import psutil
from bench_backends import postgres_cluster, why_no_postgres
from bench_results import write_results
from bench_room import (
    COP_READY,
    http_get,
    load_figures,
    prove_live,
    real_page,
    warm_file_cache,
)
from playwright.async_api import async_playwright

from cop_widgets.chromium import CHROMIUM_ARGS, chromium_path
from cop_widgets.room import load as room_load
from cop_widgets.room.load import (
    OTHERS_CPU_NOISY_PERCENT,
    MemorySampler,
    ServerFailed,
    cpu_by_part,
    cpu_seconds,
    kernel_processes,
    process_tree,
    wait_quiet,
)
from cop_widgets.services import sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.serving import REVIEW_DIR, ROOM_NOTEBOOKS, WORKBOOKS_DIR
from cop_widgets.serving.paths import served_notebooks

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests/e2e/hub.py, tests/pg.py
RESULTS_FILE = REPO / "benchmarks" / "results" / "bench_hub_room.json"
SMOKE_RESULTS_FILE = REPO / "benchmarks" / "results" / "smoke" / "bench_hub_room.json"
PER_SERVER, PAGES_PER_SERVER = 30, 3  # people on each server; of them, real Chromium pages
SMOKE_PER_SERVER, SMOKE_PAGES_PER_SERVER = 2, 1
# Which run first (BENCH_HUB_ROOM_ORDER=one,two to swap): the second has warmer caches.
RUN_ORDER = tuple(os.environ.get("BENCH_HUB_ROOM_ORDER", "two,one").split(","))
# The smoke run (make bench-smoke, in the test command) only checks that the benchmark works:
# the two-server run takes every path of it (run() with servers=2, the report, the JSON); the
# one-server run is the same run() with servers=1 and would add a Hub start to CI.
SMOKE_RUN_ORDER = ("two",)
RUNS = {"two": 2, "one": 1}  # run -> servers behind the Hub
# Two pools of 99 kernels (3 x 30 + 9) and the review server's start on 2 cores.
POOL_TIMEOUT_S, SMOKE_POOL_TIMEOUT_S = 900, 300
READY_TIMEOUT_S = 300  # each service answering through the Hub's proxy while its pools fill
QUIET_TIMEOUT_S = 120  # ~200 idle kernels may never drop below wait_quiet's 5 % of a core
SIGN_INS_AT_ONCE = 6
SESSION_PAGE = "voila/render/session.ipynb"
COORDINATOR = "room-coordinator"
PARTICIPANT = "participant-{:02d}"  # Hub user names; the server shows them as display names
KERNEL_MIB = 75  # an idle kernel's RSS, about (bench_room.json: 68-70 MiB), for the warning


class BenchError(ServerFailed):
    """Something broke: no figures."""


# -- signing in through the Hub -----------------------------------------------------------------
@dataclass(frozen=True)
class HubPerson:
    """A Hub user signed in through the Hub's login form and one service's OAuth, holding every
    cookie that left (the Hub's session, the service's token). Used where bench_room.py uses a
    bench_signin.SignedInPerson: `name`, `playwright_cookies()`, `cookies()`."""

    name: str
    service: str  # the service's prefix, e.g. /services/cop-2/
    jar: tuple[tuple[str, str, str, bool], ...]  # (name, value, path, httpOnly) per cookie

    def playwright_cookies(self) -> list[dict]:
        return [
            {"name": n, "value": v, "domain": "127.0.0.1", "path": p, "httpOnly": http_only}
            for n, v, p, http_only in self.jar
        ]

    def cookies(self) -> dict[str, str]:
        """What a browser sends to the service's pages: the cookies whose path covers them."""
        return {n: v for n, v, p, _ in self.jar if self.service.startswith(p)}


FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')


async def hub_sign_in(base: str, service: str, user: str) -> HubPerson:
    """`user` opens the service as a stranger, is sent to the Hub's login form, signs in, and
    comes back through the service's OAuth callback (which sets its cookie and records the
    sign-in). The callback's last redirect, to the home page, is not followed: it would take a
    kernel, and people here open the join link instead."""
    callback = service + "oauth_callback"
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        response = await client.get(service)
        for _ in range(12):
            path = urlsplit(str(response.url)).path
            if response.is_redirect and path == callback:
                break
            if response.is_redirect:
                response = await client.get(
                    urljoin(str(response.url), response.headers["location"])
                )
            elif response.status_code == 200 and path == "/hub/login":
                action, xsrf = FORM_ACTION.search(response.text), XSRF_FIELD.search(response.text)
                if not (action and xsrf):
                    raise BenchError(f"{user}: the Hub's login page has no form")
                form = {"username": user, "password": "any password", "_xsrf": xsrf.group(1)}
                response = await client.post(
                    urljoin(str(response.url), html.unescape(action.group(1))), data=form
                )
            else:
                raise BenchError(f"{user}: sign-in stopped at {path} (HTTP {response.status_code})")
        else:
            raise BenchError(f"{user}: sign-in never reached {callback}")
        jar = tuple(
            (c.name, c.value or "", c.path, c.has_nonstandard_attr("HttpOnly"))
            for c in client.cookies.jar
        )
    person = HubPerson(user, service, jar)
    if not any(p.startswith("/services/") and service.startswith(p) for _, _, p, _ in jar):
        raise BenchError(f"{user}: {callback} set no cookie for {service}")
    return person


def sign_everyone_in(base: str, who: list[tuple[str, str]]) -> list[HubPerson]:
    """(user, service prefix) pairs signed in, a few at a time (before the timed part)."""

    async def all_of_them() -> list[HubPerson]:
        gate = asyncio.Semaphore(SIGN_INS_AT_ONCE)

        async def one(user: str, service: str) -> HubPerson:
            async with gate:
                return await hub_sign_in(base, service, user)

        return list(await asyncio.gather(*(one(user, service) for user, service in who)))

    return asyncio.run(all_of_them())


# -- the Hub and its pools ----------------------------------------------------------------------
def kernels_expected(servers: int, pool_size: int) -> int:
    """Kernels started ahead: per participants' server `pool_size` for each room page and 1 for
    each other page (serving.voila_command), and the review server's 1 per page."""
    per_server = sum(
        pool_size if name in ROOM_NOTEBOOKS else 1 for name in served_notebooks(WORKBOOKS_DIR)
    )
    return servers * per_server + len(served_notebooks(REVIEW_DIR))


def wait_pools(hub, kernels: int, timeout_s: float) -> float:
    """Seconds from now until the Hub's services hold `kernels` kernels and have gone quiet."""
    started = time.monotonic()
    deadline, said = started + timeout_s, started
    while (found := len(kernel_processes(hub.proc.pid))) < kernels:
        if hub.proc.poll() is not None:
            raise BenchError(f"JupyterHub exited with {hub.proc.returncode}\n{hub_log_tail(hub)}")
        if time.monotonic() > deadline:
            raise BenchError(
                f"{found} of {kernels} kernels after {timeout_s:.0f} s\n{hub_log_tail(hub)}"
            )
        if time.monotonic() - said > 15:
            print(f"  {found} of {kernels} kernels started", flush=True)
            said = time.monotonic()
        time.sleep(1.0)
    settle()
    return time.monotonic() - started


def settle() -> None:
    """wait_quiet, bounded: a Hub's worth of idle kernels may keep our tree above its 5 %."""
    try:
        wait_quiet(QUIET_TIMEOUT_S)
    except ServerFailed:
        print(f"note: our processes never went quiet in {QUIET_TIMEOUT_S} s; going on", flush=True)


def idle_cpu_percent(seconds: float = 3.0) -> dict[str, float]:
    """CPU used over `seconds` (% of one core): our tree (Hub, proxy, servers, kernels), others."""
    machine_before, ours_before = cpu_seconds(with_self=False)
    time.sleep(seconds)
    machine_after, ours_after = cpu_seconds(with_self=False)
    ours = (ours_after - ours_before) / seconds * 100
    return {
        "ours": ours,
        "others": max(0.0, (machine_after - machine_before) / seconds * 100 - ours),
    }


def hub_log_tail(hub, lines: int = 20) -> str:
    hub.log.flush()
    return "\n".join(Path(hub.log.name).read_text(errors="replace").splitlines()[-lines:])


def hub_log_count(hub, text: str) -> int:
    """How many lines of the Hub's log hold `text`."""
    hub.log.flush()
    return sum(text in line for line in Path(hub.log.name).read_text(errors="replace").splitlines())


def hub_log_errors(hub, last: int = 20) -> list[str]:
    """The last error lines of the Hub's log (its services and their kernels write there)."""
    hub.log.flush()
    text = Path(hub.log.name).read_text(errors="replace")
    errors = [line[:300] for line in text.splitlines() if re.search(r"Error|Traceback|\[E ", line)]
    return errors[-last:]


# -- the room -----------------------------------------------------------------------------------
async def hub_burst(
    hub, rooms: dict[str, tuple[str, list[HubPerson]]], pages_each: int, postgres_pid: int | None
) -> dict:
    """Every server's room at once, one browser for all the real pages (as bench_room.py's
    room_burst, over several servers): {service: (url, people)}; the first `pages_each` people
    of each room are real pages, the rest GETs."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        warm_up = await browser.new_context()  # the browser process warm (the Hub's login page)
        await (await warm_up.new_page()).goto(hub.url("/hub/login"))
        await warm_up.close()
        total = sum(len(people) for _, people in rooms.values())
        limits = httpx.Limits(max_connections=total + 5, max_keepalive_connections=total + 5)
        async with httpx.AsyncClient(limits=limits) as client:
            start = asyncio.Event()
            tasks = {
                service: (
                    [
                        asyncio.create_task(real_page(browser, url, COP_READY, who, start))
                        for who in people[:pages_each]
                    ],
                    [
                        asyncio.create_task(http_get(client, url, who, start))
                        for who in people[pages_each:]
                    ],
                )
                for service, (url, people) in rooms.items()
            }
            await asyncio.sleep(1.0)  # every context and page exists before the burst
            settle()
            machine_before, ours_before = cpu_seconds()
            parts_before = cpu_by_part(hub.proc.pid)
            postgres_before = tree_cpu_seconds(postgres_pid)
            started = time.perf_counter()
            start.set()
            done = {
                service: (await asyncio.gather(*pages), await asyncio.gather(*gets))
                for service, (pages, gets) in tasks.items()
            }
            wall = time.perf_counter() - started
            parts_after = cpu_by_part(hub.proc.pid)
            postgres_cpu = tree_cpu_seconds(postgres_pid) - postgres_before
            machine_after, ours_after = cpu_seconds()
        for page_results, _ in done.values():
            for result in page_results:
                page, context, who = result.pop("page"), result.pop("context"), result.pop("who")
                if result["ok"]:
                    try:  # "cop": the session page's checks (named, joined, check-out opens)
                        result["live_action_s"] = await prove_live(page, "cop", who)
                    except Exception as exc:  # noqa: BLE001 - reported as a failed load
                        result["ok"] = False
                        result["error"] = f"not live: {type(exc).__name__}: {str(exc)[:150]}"
                await context.close()
        await browser.close()
    # the PostgreSQL server is no child of ours (pg_ctl starts it on its own): not "others"
    others = (machine_after - machine_before) - (ours_after - ours_before) - postgres_cpu
    return {
        "by_server": {s: {"pages": p, "gets": g} for s, (p, g) in done.items()},
        "wall_all_done_s": wall,
        "others_cpu_percent": max(0.0, others / wall * 100),
        # "server": the Hub, its proxy and the cop services; "kernels": every service's kernels
        "burst_cpu_s": {k: parts_after[k] - parts_before[k] for k in parts_after}
        | {"postgresql": postgres_cpu},
    }


def postgres_pid(cluster) -> int | None:
    """The cluster's postmaster (the first line of its postmaster.pid)."""
    try:
        return int((cluster.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def tree_cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds so far of a process and its children (0 without one)."""
    total = 0.0
    for proc in process_tree(pid) if pid else []:
        with suppress(psutil.NoSuchProcess):
            total += sum(proc.cpu_times()[:2])
    return total


# -- a run --------------------------------------------------------------------------------------
def run(
    label: str,
    servers: int,
    per_server: int,
    pages_each: int,
    pool_timeout_s: float,
    cluster,
    tmp: Path,
) -> dict:
    """One Hub with `servers` participants' servers on a new database, a room of
    servers x per_server joining one session at once."""
    from tests.e2e.hub import Hub

    room = servers * per_server
    services = ["/services/cop/"] + [f"/services/cop-{n}/" for n in range(2, servers + 1)]
    participants = [PARTICIPANT.format(n) for n in range(1, room + 1)]
    users = {COORDINATOR: ["cop-coordinators"]} | dict.fromkeys(participants, ["cop-practitioners"])
    kernels = kernels_expected(servers, per_server)
    available = psutil.virtual_memory().available / 2**20
    print(
        f"\n{label}: a JupyterHub with {servers} cop server(s), a room of {room}; "
        f"{kernels} kernels to start ahead (about {kernels * KERNEL_MIB / 1024:.1f} GiB; "
        f"{available / 1024:.1f} GiB available)",
        flush=True,
    )
    if kernels * KERNEL_MIB > available * 0.8:
        print("WARNING: the kernels may not fit this machine's free memory", flush=True)
    database = cluster.create_database()  # empty: the services migrate it between them
    folder = tmp / label
    folder.mkdir()
    started = time.monotonic()
    try:
        hub = Hub(
            folder,
            users,
            servers=servers,
            database_url=cluster.url(database),
            pool_size=per_server,
            ready_timeout=READY_TIMEOUT_S,
        )
    except BaseException:
        cluster.drop_database(database)
        raise
    hub_ready = time.monotonic() - started
    sampler = MemorySampler(hub.proc.pid)
    sampler.start()
    store = None
    try:
        print(f"{label}: the Hub and its services answer after {hub_ready:.1f} s", flush=True)
        # the coordinator (as tests/e2e/test_two_servers.py makes one: anyone may start a
        # community) plans the session on now and opens its check-out, with which each real
        # page proves its kernel live
        store = hub.open_store()
        coordinator = find_or_add_person(store, f"hub:{COORDINATOR}")
        community = sessions.create_community(store, coordinator, "Hub room bench CoP")
        session = sessions.plan_session(
            store, coordinator, community.id, datetime.now(UTC), "Hub room bench session"
        )
        sessions.open_checkout(store, coordinator, session.id)
        filled = wait_pools(hub, kernels, pool_timeout_s)
        print(f"{label}: {kernels} kernels started and executed {filled:.1f} s later", flush=True)
        # Signed in once the pools are ready, so each run's people sign in the same while
        # before their burst (within the Hub's and the services' 5-minute caches of who they
        # are), however long its pools took.
        signing_in = time.monotonic()
        people = sign_everyone_in(
            hub.base, [(user, services[n // per_server]) for n, user in enumerate(participants)]
        )
        signed_in = time.monotonic() - signing_in
        print(f"{label}: {room} people signed in through the Hub in {signed_in:.1f} s", flush=True)
        settle()
        idle = idle_cpu_percent()
        query = f"?code={session.join_code}"
        rooms = {
            service: (
                hub.url(f"{service}{SESSION_PAGE}{query}"),
                people[n * per_server : (n + 1) * per_server],
            )
            for n, service in enumerate(services)
        }
        burst = asyncio.run(hub_burst(hub, rooms, pages_each, postgres_pid(cluster)))
        bench_room.ROOM = room  # what joined_in_store waits for
        joined = bench_room.joined_in_store(store, session.id)
        log_errors = hub_log_errors(hub) if joined < room else []
        store_waits = hub_log_count(hub, "waits on the store")  # joins the store held back
        # kernels that had to connect again for their page's details (serving/request.py)
        socket_retries = hub_log_count(hub, "request-details socket failed")
        if log_errors:  # for the next run to find why some did not join
            print(f"{label}: the Hub's log's errors (last 20):", *log_errors, sep="\n")
    except Exception:
        print(f"{label}: the Hub's log ends:\n{hub_log_tail(hub, 40)}", file=sys.stderr)
        raise
    finally:
        memory = sampler.finish()
        if store is not None:
            store.dispose()
        hub.stop()
        cluster.drop_database(database)
    loads = burst["by_server"].values()
    figures = {
        "servers": servers,
        "room": room,
        "browser_pages": servers * pages_each,
        "pool_size_per_server": per_server,
        "kernels_started_ahead": kernels,
        "hub_ready_s": hub_ready,
        "pools_executed_after_s": filled,
        "sign_in_s": signed_in,
        "idle_cpu_percent_before_burst": idle,
        **load_figures(
            [r for s in loads for r in s["pages"]], [r for s in loads for r in s["gets"]]
        ),
        "joined_in_store": joined,
        "hub_log_errors": log_errors,  # when not everyone joined
        "joins_that_waited_on_the_store": store_waits,
        "kernels_that_connected_again_for_their_request": socket_retries,
        "by_server": {
            service: load_figures(s["pages"], s["gets"])
            for service, s in burst["by_server"].items()
        },
        "wall_all_done_s": burst["wall_all_done_s"],
        "others_cpu_percent": burst["others_cpu_percent"],
        "burst_cpu_s": burst["burst_cpu_s"],
        "memory_peak": memory,
        "loads": burst["by_server"],
    }
    ttis = " ".join(
        f"{r['tti_s']:.2f}" if "tti_s" in r else "failed" for s in loads for r in s["pages"]
    )
    print(
        f"{label}: page TTIs {ttis} s; GETs median "
        f"{figures['get'].get('median', float('nan')):.2f} s; failures "
        f"{figures['page_failures'] + figures['get_failures']}; joined {joined} of {room} "
        f"({store_waits} joins waited on the store, {socket_retries} kernels connected again "
        "for their page's details); "
        f"other processes' CPU {burst['others_cpu_percent']:.0f} % (before the burst: ours "
        f"{idle['ours']:.0f} %, others {idle['others']:.0f} % of a core)",
        flush=True,
    )
    return figures


def print_report(results: dict) -> None:
    def cell(figure: dict, key: str) -> str:
        return f"{figure[key]:8.2f}" if figure.get("n") else f"{'–':>8s}"

    print(
        "\nThe session page's join link behind JupyterHub, everyone signed in through the Hub "
        "beforehand, all at once: real Chromium pages (TTI until the joined session's topic "
        "first renders) and HTTP GETs (until the page is complete); pools preheated for each "
        f"server's people; one PostgreSQL store; {os.cpu_count()} cores. Seconds."
    )
    print(
        f"{'':10s}{'room':>5s}{'TTI med':>8s}{'p95':>8s}{'max':>8s} |{'GET med':>8s}{'p95':>8s}"
        f" | failures  joined  kernels RSS peak  others' CPU"
    )
    order = [label for label in RUN_ORDER if label in results]
    for label in order:
        fig = results[label]
        mem = fig["memory_peak"]
        print(
            f"{label + ' server' + ('s' if fig['servers'] > 1 else ''):10s}{fig['room']:5d}"
            f"{cell(fig['tti'], 'median')}{cell(fig['tti'], 'p95')}{cell(fig['tti'], 'max')} |"
            f"{cell(fig['get'], 'median')}{cell(fig['get'], 'p95')} | "
            f"{fig['page_failures']}+{fig['get_failures']:<2d}/{fig['room']:<3d} "
            f"{fig['joined_in_store']:3d}/{fig['room']:<3d} "
            f"{mem['kernels']:4d} = {mem['kernels_rss_mib'] / 1024:4.1f} GiB   "
            f"{fig['others_cpu_percent']:4.0f} %"
        )
        for service, part in fig["by_server"].items():
            print(
                f"  {service:20s}TTI median {cell(part['tti'], 'median')}  GET median "
                f"{cell(part['get'], 'median')}  failures {part['page_failures']}+"
                f"{part['get_failures']}"
            )
    for label in order:
        fig = results[label]
        print(
            f"{label}: first bytes {cell(fig['commit'], 'median')}  load event"
            f"{cell(fig['load_event'], 'median')}  kernel websocket"
            f"{cell(fig['kernel_socket'], 'median')}  check-out opened after TTI"
            f"{cell(fig['live_action'], 'median')} (medians); burst CPU-s "
            + "  ".join(f"{k} {v:.2f}" for k, v in fig["burst_cpu_s"].items())
            + f"; pools ready after {fig['pools_executed_after_s']:.0f} s"
        )
        for error in fig["errors"]:
            print(f"{label}: a failed load: {error}")
    two, one = results.get("two", {}).get("tti", {}), results.get("one", {}).get("tti", {})
    if two.get("n") and one.get("n"):
        results["tti_median_ratio_two_one"] = two["median"] / one["median"]
        print(
            f"median TTI, two servers with {results['two']['room']} / one server with "
            f"{results['one']['room']}: "
            f"{two['median']:.2f} / {one['median']:.2f} s = "
            f"{results['tti_median_ratio_two_one']:.2f}"
        )
    noisy = [k for k in order if results[k]["others_cpu_percent"] > OTHERS_CPU_NOISY_PERCENT]
    if noisy:
        print(
            f"WARNING: during the {' and '.join(noisy)} burst other processes used more than "
            f"{OTHERS_CPU_NOISY_PERCENT} % of a core: TTI is noisy, rerun on a quiet machine."
        )


def why_not_here() -> str | None:
    from tests.e2e.hub import find_proxy

    why = why_no_postgres()
    if why:
        return why
    if find_proxy() is None:
        return "the Hub's proxy (configurable-http-proxy) is missing: bash scripts/ensure-hub-proxy"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a room of {2 * SMOKE_PER_SERVER} on two servers ({SMOKE_PAGES_PER_SERVER} page "
        "each), the two-server run only: checks that the benchmark works; figures go to "
        "benchmarks/results/smoke/",
    )
    smoke = parser.parse_args(argv).smoke
    why = why_not_here()
    if why:
        print(f"bench_hub_room skipped: {why}")
        return 0
    if smoke:  # its timings are not figures: no waiting for other processes to go quiet
        room_load.PATIENCE_FOR_OTHERS_S = 0
    per_server, pages_each, pool_timeout = (
        (SMOKE_PER_SERVER, SMOKE_PAGES_PER_SERVER, SMOKE_POOL_TIMEOUT_S)
        if smoke
        else (PER_SERVER, PAGES_PER_SERVER, POOL_TIMEOUT_S)
    )
    # SIGTERM must unwind through the finally blocks that stop the Hub and the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load_at_start = os.getloadavg()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in load_at_start)}")
    print(f"warmed the file cache: {warm_file_cache() / 2**20:.0f} MiB of Voilà's files read")
    results: dict = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-hub-room-") as tmp,
        postgres_cluster(["postgresql"], smoke=smoke) as cluster,
    ):
        try:
            for label in SMOKE_RUN_ORDER if smoke else RUN_ORDER:
                results[label] = run(
                    label, RUNS[label], per_server, pages_each, pool_timeout, cluster, Path(tmp)
                )
                settle()  # one Hub's kernels gone before the next one's pools fill
        except ServerFailed as exc:
            print(f"benchmark broke: {exc}", file=sys.stderr)
            return 1
    print_report(results)
    results["setup"] = {
        "smoke": smoke,
        "people_per_server": per_server,
        "pages_per_server": pages_each,
        "order": list(SMOKE_RUN_ORDER if smoke else RUN_ORDER),
        "store": "postgresql" + ("" if smoke else " (durable: on disk, fsync on)"),
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_results(SMOKE_RESULTS_FILE if smoke else RESULTS_FILE, results)
    broke = [
        f"{label}: {fig['page_failures'] + fig['get_failures']} of {fig['room']} loads failed, "
        f"{fig['joined_in_store']} of {fig['room']} joined"
        for label, fig in results.items()
        if label in RUNS
        and (fig["page_failures"] or fig["get_failures"] or fig["joined_in_store"] < fig["room"])
    ]
    if broke:
        print("benchmark broke: " + "; ".join(broke), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
