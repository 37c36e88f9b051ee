"""Many writers at once on the shared store (RELIABILITY.md, test 1 and 2).

40 processes, each opening the store as a kernel does, call the project's save function 200
times without pause (half new drafts, half updates of the draft just made: read-then-write),
while a supervisor's review queue (10,000 reflections seeded) loads every 2 s. On SQLite it
runs twice: with the write gate (what the apps use) and without it (SQLite's own busy handler
only), so the figures sit side by side; on PostgreSQL (a throw-away cluster, bench_backends.py)
once, with the write lock the apps use (an advisory lock). `--backend` picks the stores
(default: both when PostgreSQL's binaries are installed). Targets: 0 lost or "busy" saves,
p95 < 50 ms, p99 < 250 ms, none > 5 s, integrity_check ok (SQLite), WAL < 16 MB (SQLite).
Prints the figures and writes benchmarks/results/bench_saves.json (figures per backend); fails
only if something broke (a writer or the reader crashed, a save failed other than "busy", a
confirmed save lost, integrity not ok), never on a timing.
Run: .venv/bin/python benchmarks/bench_saves.py [--processes N] [--saves N]
[--backend sqlite|postgresql|both] [--smoke]
(--smoke: 4 processes x 20 saves over 1,000 seeded reflections)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
SEEDED_REFLECTIONS = 10_000  # for the reader: the review queue of 20 supervisees
RESULTS_FILE = REPO / "benchmarks" / "results" / "bench_saves.json"
SMOKE_RESULTS_FILE = REPO / "benchmarks" / "results" / "smoke" / "bench_saves.json"
SMOKE = {"processes": 4, "saves": 20, "seeded": 1_000}
# What a save may answer under this load without the benchmark being broken ("not saved yet").
BUSY_ERRORS = {"StoreBusy"}

from bench_backends import (  # noqa: E402
    add_backend_option,
    chosen_backends,
    database_url,
    postgres_cluster,
)
from bench_results import write_results  # noqa: E402
from bench_review_queue import seed as seed_review_queue  # noqa: E402


def _until_not_busy(step):
    """step(), tried again while the store is busy, as an app kernel opens the store
    (apps/_startup.retry_opening: "The shared store is busy; retrying…", after 1, 2, 4 ... s);
    (its value, how many times it was busy)."""
    from cop_widgets.errors import StoreBusy

    busy, pause = 0, 1.0
    while True:
        try:
            return step(), busy
        except StoreBusy:
            busy += 1
            if busy > 6:  # a minute and more: broken, not busy
                raise
            time.sleep(pause)
            pause = min(pause * 2, 15.0)


def _writer(db_url, data_dir, name, saves, gated, barrier, out):
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.services import reflections
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    # Opening: 40 processes at once, each looking at the schema in a write transaction
    # (migrations.migrate) and adding its person; busy there is counted, not a failed save.
    store, busy_opening = _until_not_busy(
        lambda: open_store(Settings(Path(data_dir), db_url, 5000))
    )
    if not gated:
        store._gate = None  # benchmark seam: SQLite's busy handler alone
    fw = load_frameworks(Path(data_dir) / "frameworks").get("rolfe-2001")
    who, busy_adding = _until_not_busy(lambda: find_or_add_person(store, name))
    barrier.wait()
    seconds, ids, errors = [], [], []
    for i in range(saves // 2):
        rid, saved = str(uuid.uuid4()), 0
        for stage in ("what", "so_what"):
            started = time.perf_counter()
            try:
                reflections.save_draft(store, who, rid, fw, {stage: reflections.Answer(f"{i}")})
                saved += 1
            except Exception as exc:  # noqa: BLE001 - counted and printed
                errors.append(type(exc).__name__)
            seconds.append(time.perf_counter() - started)
        if saved:
            ids.append(rid)  # confirmed to its writer: must be in the store
    out.put((seconds, ids, errors, busy_opening + busy_adding))
    store.dispose()


def _reader(db_url, data_dir, stop, out):
    from cop_widgets.services import review
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store, _busy = _until_not_busy(lambda: open_store(Settings(Path(data_dir), db_url, 5000)))
    sup = find_or_add_person(store, "Bench Supervisor")  # made by the review-queue seed (a read)
    loads, wal_max = [], 0
    # SQLite's write-ahead log (PostgreSQL's is the server's)
    wal = Path(db_url.removeprefix("sqlite:///") + "-wal") if db_url.startswith("sqlite") else None
    while not stop.is_set():
        started = time.perf_counter()
        review.review_queue(store, sup)
        loads.append(time.perf_counter() - started)
        wal_max = max(wal_max, wal.stat().st_size if wal and wal.exists() else 0)
        stop.wait(2)
    out.put((loads, wal_max))
    store.dispose()


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(int(p * len(values)), len(values) - 1)]


def _collect(out, procs, timeout_s: float) -> list:
    """Every writer's figures; a writer that died (an exception, a broken barrier) is a broken
    benchmark, not a wait of many minutes."""
    results, deadline = [], time.monotonic() + timeout_s
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                for p in procs:
                    p.terminate()
                raise RuntimeError(
                    f"writers failed (exit codes {dead})" if dead else "writers timed out"
                ) from None
    return results


def run(
    processes: int,
    saves: int,
    gated: bool,
    seeded: int = SEEDED_REFLECTIONS,
    backend: str = "sqlite",
    cluster=None,
) -> dict:
    """One run on a new store of `backend` (cluster: bench_backends.postgres_cluster's, for
    PostgreSQL). gated=False: SQLite's busy handler without the write gate (SQLite only)."""
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    scratch = Path(tempfile.mkdtemp(prefix="cop-bench-saves-"))
    data_dir = scratch / "data"
    shutil.copytree(REPO / "data" / "frameworks", data_dir / "frameworks")
    url = database_url(backend, data_dir, cluster)
    open_store(Settings(data_dir, url, 5000)).dispose()
    seed_review_queue(data_dir, seeded, url)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(processes, timeout=300)  # a writer that fails to start breaks it
    out, reads, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    reader = ctx.Process(target=_reader, args=(url, str(data_dir), stop, reads))
    reader.start()
    procs = [
        ctx.Process(target=_writer, args=(url, str(data_dir), f"w{n}", saves, gated, barrier, out))
        for n in range(processes)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    try:
        results = _collect(out, procs, 600)
    except BaseException:
        stop.set()
        reader.join(30)
        raise
    wall = time.perf_counter() - started
    for p in procs:
        p.join()
    stop.set()
    loads, wal_max = reads.get(timeout=60)
    reader.join()
    seconds = [s for r in results for s in r[0]]
    confirmed = {i for r in results for i in r[1]}
    errors = [e for r in results for e in r[2]]
    busy_starting = sum(r[3] for r in results)
    stored, check = _stored_ids(url, data_dir)
    shutil.rmtree(scratch)
    if cluster is not None:
        cluster.drop_database(url.rsplit("/", 1)[1])
    return {
        "wall": wall,
        "busy_starting": busy_starting,  # StoreBusy opening the store or adding the writer
        "saves": len(seconds),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "lost": len(confirmed - stored),
        "p50": _pct(seconds, 0.50),
        "p95": _pct(seconds, 0.95),
        "p99": _pct(seconds, 0.99),
        "max": max(seconds),
        "integrity": check,
        "reads_p95": _pct(loads, 0.95) if loads else float("nan"),
        "wal_mib": wal_max / 2**20 if backend == "sqlite" else None,
    }


def _stored_ids(url: str, data_dir: Path) -> tuple[set[str], str | None]:
    """The reflection ids in the store, read apart from the project's code, and SQLite's
    integrity_check (None on PostgreSQL: the server keeps its own files whole)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(data_dir / "cop.sqlite") as raw:
            stored = {r[0] for r in raw.execute("SELECT id FROM reflection")}
            return stored, raw.execute("PRAGMA integrity_check").fetchone()[0]
    import psycopg
    from sqlalchemy import make_url

    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password,
        dbname=parsed.database,
    ) as raw:  # fmt: skip
        return {r[0] for r in raw.execute("SELECT id FROM reflection")}, None


# The runs of each store: (label, key in the results, through the write gate or lock).
RUNS = {
    "sqlite": [
        ("SQLite, with the gate", "with_gate", True),
        ("SQLite alone", "sqlite_alone", False),
    ],
    "postgresql": [("PostgreSQL, write lock", "with_lock", True)],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=40)
    ap.add_argument("--saves", type=int, default=200)
    ap.add_argument("--smoke", action="store_true", help="a small run: does it work?")
    add_backend_option(ap)
    args = ap.parse_args(argv)
    backends = chosen_backends(args.backend, args.smoke)
    seeded = SEEDED_REFLECTIONS
    if args.smoke:
        args.processes, args.saves, seeded = SMOKE["processes"], SMOKE["saves"], SMOKE["seeded"]
    print(f"{args.processes} processes x {args.saves} saves, {os.cpu_count()} cores")
    figures: dict = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "smoke": args.smoke,
        "processes": args.processes,
        "saves_each": args.saves,
        "seeded_reflections": seeded,
        "loadavg_start": os.getloadavg(),
    }
    broken = []
    with postgres_cluster(backends, args.smoke) as cluster:
        for backend in backends:
            figures[backend] = {}
            for label, key, gated in RUNS[backend]:
                r = run(args.processes, args.saves, gated, seeded, backend, cluster)
                figures[backend][key] = r
                wal = f"; WAL peak {r['wal_mib']:.1f} MiB" if r["wal_mib"] is not None else ""
                if r["busy_starting"]:
                    wal += f"; busy {r['busy_starting']} times while the writers started"
                print(
                    f"{label:<23} {r['saves']} saves in {r['wall']:.1f} s, {r['errors']} not "
                    f"saved, {r['lost']} lost; p50 {r['p50'] * 1000:.1f} ms, "
                    f"p95 {r['p95'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms, "
                    f"max {r['max'] * 1000:.0f} ms; integrity {r['integrity'] or 'n/a'}; "
                    f"review-queue load p95 {r['reads_p95'] * 1000:.0f} ms{wal}"
                )
                unexpected = set(r["error_kinds"]) - BUSY_ERRORS
                if unexpected:
                    broken.append(f"{label}: saves failed with {sorted(unexpected)}")
                if r["lost"] or r["integrity"] not in ("ok", None):
                    broken.append(f"{label}: {r['lost']} lost, integrity {r['integrity']}")
    figures["loadavg_end"] = os.getloadavg()
    results_file = SMOKE_RESULTS_FILE if args.smoke else RESULTS_FILE
    write_results(results_file, figures)
    if broken:
        print("benchmark broke: " + "; ".join(broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
