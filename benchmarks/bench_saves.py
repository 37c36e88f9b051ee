"""Many writers at once on the shared store (RELIABILITY.md, test 1 and 2).

40 processes, each opening the store as a kernel does, call the project's save function 200
times without pause (half new drafts, half updates of the draft just made: read-then-write),
while a supervisor's review queue (10,000 reflections seeded) loads every 2 s. Runs twice in
one go: with the write gate (what the apps use) and without it (SQLite's own busy handler
only), so the figures sit side by side. Targets: 0 lost or "busy" saves, p95 < 50 ms,
p99 < 250 ms, none > 5 s, integrity_check ok, WAL < 16 MB. Prints the figures and writes
benchmarks/results/bench_saves.json; fails only if something broke (a writer or the reader
crashed, a save failed other than "busy", a confirmed save lost, integrity not ok), never on a
timing.
Run: .venv/bin/python benchmarks/bench_saves.py [--processes N] [--saves N] [--smoke]
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

from bench_results import write_results  # noqa: E402
from bench_review_queue import seed as seed_review_queue  # noqa: E402


def _writer(db_url, data_dir, name, saves, gated, barrier, out):
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.services import reflections
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(Settings(Path(data_dir), db_url, 5000))
    if not gated:
        store._gate = None  # benchmark seam: SQLite's busy handler alone
    fw = load_frameworks(Path(data_dir) / "frameworks").get("rolfe-2001")
    who = find_or_add_person(store, name)
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
    out.put((seconds, ids, errors))
    store.dispose()


def _reader(db_url, data_dir, stop, out):
    from cop_widgets.services import review
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(Settings(Path(data_dir), db_url, 5000))
    sup = find_or_add_person(store, "Bench Supervisor")  # made by the review-queue seed
    loads, wal_max = [], 0
    wal = Path(db_url.removeprefix("sqlite:///") + "-wal")
    while not stop.is_set():
        started = time.perf_counter()
        review.review_queue(store, sup)
        loads.append(time.perf_counter() - started)
        wal_max = max(wal_max, wal.stat().st_size if wal.exists() else 0)
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


def run(processes: int, saves: int, gated: bool, seeded: int = SEEDED_REFLECTIONS) -> dict:
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    scratch = Path(tempfile.mkdtemp(prefix="cop-bench-saves-"))
    data_dir = scratch / "data"
    shutil.copytree(REPO / "data" / "frameworks", data_dir / "frameworks")
    url = f"sqlite:///{data_dir / 'cop.sqlite'}"
    open_store(Settings(data_dir, url, 5000)).dispose()
    seed_review_queue(data_dir, seeded)
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
    with sqlite3.connect(data_dir / "cop.sqlite") as raw:
        stored = {r[0] for r in raw.execute("SELECT id FROM reflection")}
        check = raw.execute("PRAGMA integrity_check").fetchone()[0]
    shutil.rmtree(scratch)
    return {
        "wall": wall,
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
        "wal_mib": wal_max / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=40)
    ap.add_argument("--saves", type=int, default=200)
    ap.add_argument("--smoke", action="store_true", help="a small run: does it work?")
    args = ap.parse_args(argv)
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
    for gated in (True, False):
        r = run(args.processes, args.saves, gated, seeded)
        figures["with_gate" if gated else "sqlite_alone"] = r
        print(
            f"{'with the gate   ' if gated else 'SQLite alone    '} "
            f"{r['saves']} saves in {r['wall']:.1f} s, {r['errors']} not saved, {r['lost']} lost; "
            f"p50 {r['p50'] * 1000:.1f} ms, p95 {r['p95'] * 1000:.1f} ms, "
            f"p99 {r['p99'] * 1000:.1f} ms, max {r['max'] * 1000:.0f} ms; "
            f"integrity {r['integrity']}; review-queue load p95 {r['reads_p95'] * 1000:.0f} ms; "
            f"WAL peak {r['wal_mib']:.1f} MiB"
        )
        label = "with the gate" if gated else "SQLite alone"
        unexpected = set(r["error_kinds"]) - BUSY_ERRORS
        if unexpected:
            broken.append(f"{label}: saves failed with {sorted(unexpected)}")
        if r["lost"] or r["integrity"] != "ok":
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
