"""Review app with 100,000 reflections in the store: first page and filter changes.

Seeds a scratch store (never data/cop.sqlite) with 100,000 submitted reflections by 200
practitioners, 20 of whom one supervisor supervises, then times, in one process:
- the review app built and signed in up to its first queue page (what follows "kernel ready");
- each filter change (supervisee, model, dates, state, next page): a SQL query and a redraw.
On SQLite (a file) and on PostgreSQL (a throw-away cluster: bench_backends.py), one after the
other in one run; `--backend` picks one. Targets (issue 5): first page <= 1.5 s, filter change
<= 200 ms. Prints the figures and writes benchmarks/results/bench_review_queue.json (figures
per backend); fails only if something broke, never on a timing.
The supervisor is signed in through the kernel's real seam (tests/signin.py: the server's signed
assertion of who opened the page, checked by the app).
Run: .venv/bin/python benchmarks/bench_review_queue.py [--backend sqlite|postgresql|both]
[--smoke]   (--smoke: 1,000 reflections)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench_backends import add_backend_option, chosen_backends, database_url, postgres_cluster
from bench_results import write_results

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests/signin.py, tests/pg.py
RESULTS_FILE = REPO / "benchmarks" / "results" / "bench_review_queue.json"
SMOKE_RESULTS_FILE = REPO / "benchmarks" / "results" / "smoke" / "bench_review_queue.json"
N_REFLECTIONS, N_PEOPLE, N_SUPERVISEES = 100_000, 200, 20
SMOKE_REFLECTIONS = 1_000


def seed(data_dir: Path, n_reflections: int = N_REFLECTIONS, url: str | None = None) -> None:
    """The people, the supervision and the reflections, in the store at `url` (default: the
    SQLite file in data_dir)."""
    from sqlalchemy import insert

    from cop_widgets.services import roster
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store
    from cop_widgets.store.schema import reflection, reflection_answer

    store = open_store(Settings(data_dir, url or f"sqlite:///{data_dir / 'cop.sqlite'}", 5000))
    people = [find_or_add_person(store, f"Practitioner {n:03d}") for n in range(N_PEOPLE)]
    sup = find_or_add_person(store, "Bench Supervisor")
    for p in people[:N_SUPERVISEES]:
        roster.assign_supervisee(store, sup.id, p.id)
    frameworks = ["rolfe-2001", "gibbs-1988", "kolb-1984", "johns-msr", "brookfield-lenses"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows, answers = [], []
    for i in range(n_reflections):
        rid = str(uuid.uuid4())
        at = (start + timedelta(minutes=11 * i)).isoformat()
        rows.append(
            dict(
                id=rid,
                person_id=people[i % N_PEOPLE].id,
                framework_id=frameworks[i % 5],
                framework_version=1,
                visibility=("supervisor", "private", "community")[i % 3],
                status="submitted",
                revision=2,
                created_at=at,
                updated_at=at,
                submitted_at=at,
                version_no=1,
            )
        )
        answers.append(
            dict(
                reflection_id=rid,
                stage_id="what",
                text=f"answer {i} " * 20,
                passed=False,
                updated_at=at,
            )
        )
    with store.write() as conn:
        for chunk in range(0, n_reflections, 10_000):
            conn.execute(insert(reflection), rows[chunk : chunk + 10_000])
            conn.execute(insert(reflection_answer), answers[chunk : chunk + 10_000])
    store.dispose()


def run(backend: str, n_reflections: int, cluster) -> dict | None:
    """Seed a scratch store on `backend`, then time the first page and the filter changes;
    None if the supervisor could not be signed in (a broken run)."""
    scratch = Path(tempfile.mkdtemp(prefix="cop-bench-review-"))
    data_dir = scratch / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    url = database_url(backend, data_dir, cluster)
    app = None
    try:
        t0 = time.perf_counter()
        seed(data_dir, n_reflections, url)
        size = ""
        if backend == "sqlite":
            size = f" ({(data_dir / 'cop.sqlite').stat().st_size / 2**20:.0f} MiB)"
        print(
            f"[{backend}] seeded {n_reflections:,} reflections in "
            f"{time.perf_counter() - t0:.1f} s{size}"
        )
        from cop_widgets.apps.supervisor_review import review_app
        from cop_widgets.settings import load_settings
        from tests.signin import sign_in_as

        # as a kernel of the server finds its store
        os.environ.update(COP_DATA_DIR=str(data_dir), COP_DATABASE_URL=url)
        t0 = time.perf_counter()
        app = review_app(settings=load_settings())
        sign_in_as(app, "Bench Supervisor")
        first = time.perf_counter() - t0
        if app.person is None:
            print(f"[{backend}] sign-in failed:", app.status.message)
            return None
        print(
            f"[{backend}] first page: {first * 1000:.0f} ms (target <= 1500 ms) — {app.pager.value}"
        )
        supervisee = app.f_person.options[3][1]
        changes = [
            ("supervisee", lambda: setattr(app.f_person, "value", supervisee)),
            ("everyone", lambda: setattr(app.f_person, "value", "")),
            ("model", lambda: setattr(app.f_framework, "value", "gibbs-1988")),
            ("from date", lambda: setattr(app.f_since, "value", date(2025, 1, 1))),
            ("to date", lambda: setattr(app.f_until, "value", date(2025, 6, 30))),
            ("state new", lambda: setattr(app.f_state, "value", "new")),
            ("next page", lambda: app.next_button.click()),
            ("any model", lambda: setattr(app.f_framework, "value", "")),
        ]
        timings = []
        for label, change in changes:
            t0 = time.perf_counter()
            change()
            took = (time.perf_counter() - t0) * 1000
            timings.append(took)
            print(f"  filter {label:<11} {took:6.0f} ms  {app.pager.value}")
        print(
            f"[{backend}] filter change: median {statistics.median(timings):.0f} ms, "
            f"max {max(timings):.0f} ms (target <= 200 ms)"
        )
        return {
            "first_page_ms": first * 1000,
            "filter_changes_ms": dict(zip((c[0] for c in changes), timings, strict=True)),
            "filter_change_median_ms": statistics.median(timings),
            "filter_change_max_ms": max(timings),
        }
    finally:
        if app is not None and app.store is not None:
            app.store.dispose()
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help=f"{SMOKE_REFLECTIONS:,} reflections: does it work?"
    )
    add_backend_option(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    backends = chosen_backends(args.backend, smoke)
    n_reflections = SMOKE_REFLECTIONS if smoke else N_REFLECTIONS
    results_file = SMOKE_RESULTS_FILE if smoke else RESULTS_FILE
    results: dict = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "smoke": smoke,
        "reflections": n_reflections,
        "loadavg_start": os.getloadavg(),
        "targets": {"first_page_ms": 1500, "filter_change_ms": 200},
    }
    with postgres_cluster(backends, smoke) as cluster:
        for backend in backends:
            figures = run(backend, n_reflections, cluster)
            if figures is None:
                return 1
            results[backend] = figures
    results["loadavg_end"] = os.getloadavg()
    write_results(results_file, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
