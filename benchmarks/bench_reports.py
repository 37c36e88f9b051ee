"""Reports over 100,000 reflections: render_report vs the bare papermill + nbconvert CLI.

In one run, on a scratch store (never data/cop.sqlite) seeded with 100,000 submitted reflections
by 200 practitioners over two years, plus 600 case discussions with roles and ratings:
- bare CLI: `papermill` then `jupyter nbconvert --to html --no-input` on an almost empty
  notebook (the PERFORMANCE.md §5 anchor: ~4.8 s);
- the community report over the whole store with `render_report` (in-process papermill +
  nbconvert), the first call (cold: imports) and warm calls, and with --pdf;
- 10 person reports (a quarter each): 10 x `render_report` (a kernel each) vs
  `render_reports` (one kernel).
Target (issue 6): community report over 100,000 reflections <= 6 s. Prints figures and ratios,
writes benchmarks/results/bench_reports.json; never fails on timing.
Run: .venv/bin/python benchmarks/bench_reports.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "bench_reports.json"
N_REFLECTIONS, N_PEOPLE, N_DISCUSSIONS, N_BATCH = 100_000, 200, 600, 10
START = datetime(2024, 1, 1, tzinfo=UTC)
VISIBILITIES = ("community", "private", "aggregate_only", "supervisor")
FRAMEWORKS = ("rolfe-2001", "gibbs-1988", "kolb-1984", "johns-msr", "brookfield-lenses")
PROTOCOLS = ("three_column_mapping", "consultancy", "tuning", "troika")


def seed(data_dir: Path) -> list[str]:
    from sqlalchemy import insert

    from cop_widgets.services.identity import sign_in
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store
    from cop_widgets.store.schema import (
        discussion,
        discussion_rating,
        discussion_role,
        reflection,
        reflection_answer,
    )

    store = open_store(Settings(data_dir, f"sqlite:///{data_dir / 'cop.sqlite'}", 5000))
    people = [sign_in(store, f"Practitioner {n:03d}", environ={}) for n in range(N_PEOPLE)]
    rows, answers = [], []
    for i in range(N_REFLECTIONS):
        rid, at = str(uuid.uuid4()), (START + timedelta(minutes=10 * i)).isoformat()
        rows.append(
            dict(
                id=rid,
                person_id=people[(i * 7) % N_PEOPLE].id,
                framework_id=FRAMEWORKS[i % 5],
                framework_version=1,
                visibility=VISIBILITIES[i % 4],
                status="submitted",
                revision=2,
                created_at=at,
                updated_at=at,
                submitted_at=at,
                version_no=1,
            )
        )
        for stage in ("what", "so_what", "now_what"):
            answers.append(
                dict(
                    reflection_id=rid,
                    stage_id=stage,
                    text=f"answer {i} {stage} " * 12,
                    passed=False,
                    updated_at=at,
                )
            )
    discussions, roles, ratings = [], [], []
    for j in range(N_DISCUSSIONS):
        did, at = str(uuid.uuid4()), (START + timedelta(hours=29 * j)).isoformat()
        discussions.append(
            dict(
                id=did,
                protocol_id=PROTOCOLS[j % 4],
                protocol_version=1,
                case_summary="a de-identified case",
                facilitator_id=people[j % N_PEOPLE].id,
                created_at=at,
                updated_at=at,
            )
        )
        for role, k in (("facilitator", j), ("note_taker", j + 3), ("presenter", j + 5)):
            name = people[(k * 11) % 40].display_name
            roles.append(
                dict(discussion_id=did, role_id=role, holder_key=name.casefold(), holder_name=name)
            )
        if PROTOCOLS[j % 4] == "three_column_mapping":
            for k in range(8):
                ratings.append(
                    dict(
                        discussion_id=did,
                        phase_id="scale",
                        person_id=people[(j + k) % N_PEOPLE].id,
                        value=(j + 3 * k) % 11,
                        updated_at=at,
                    )
                )
    with store.write() as conn:
        for chunk in range(0, N_REFLECTIONS, 10_000):
            conn.execute(insert(reflection), rows[chunk : chunk + 10_000])
        for chunk in range(0, len(answers), 30_000):
            conn.execute(insert(reflection_answer), answers[chunk : chunk + 30_000])
        conn.execute(insert(discussion), discussions)
        conn.execute(insert(discussion_role), roles)
        conn.execute(insert(discussion_rating), ratings)
    store.dispose()
    return [p.id for p in people]


def bare_cli(scratch: Path, runs: int = 3) -> list[float]:
    """papermill + jupyter nbconvert --to html --no-input on a parameters cell and one print."""
    bin_dir = Path(sys.executable).parent
    src, out = scratch / "bare.ipynb", scratch / "bare_out.ipynb"
    params = nbformat.v4.new_code_cell('session_id = ""')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell("print(session_id)")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, src)
    papermill = [str(bin_dir / "papermill"), str(src), str(out), "-p", "session_id", "bench"]
    nbconvert = [str(bin_dir / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(out)]
    times = []
    for i in range(runs + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        for cmd in (papermill + ["--no-progress-bar"], nbconvert):
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        if i:
            times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="cop-bench-reports-"))
    data_dir = scratch / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    os.environ["COP_DATA_DIR"] = str(data_dir)
    os.environ.pop("COP_DATABASE_URL", None)
    out_dir = scratch / "reports"
    figures: dict[str, object] = {}
    try:
        t0 = time.perf_counter()
        people = seed(data_dir)
        size = (data_dir / "cop.sqlite").stat().st_size / 2**20
        print(
            f"seeded {N_REFLECTIONS:,} reflections, {N_DISCUSSIONS} discussions in "
            f"{time.perf_counter() - t0:.1f} s ({size:.0f} MiB)"
        )

        bare = bare_cli(scratch)
        figures["bare_cli_s"] = bare
        print(
            f"bare papermill + nbconvert CLI: median {statistics.median(bare):.2f} s "
            f"(min {min(bare):.2f}, max {max(bare):.2f})"
        )

        from cop_widgets.reports import data as R
        from cop_widgets.reports.render import render_report, render_reports
        from cop_widgets.store import open_store

        period = {"date_from": "2024-01-01", "date_to": "2025-12-31", "min_n": 5}
        store = open_store()
        t0 = time.perf_counter()
        growth = R.community_growth(store, R.parse_period("2024-01-01", "2025-12-31"), 5)
        queries = time.perf_counter() - t0
        store.dispose()
        print(
            f"community figures (SQL + pandas, in-process): {queries * 1000:.0f} ms; "
            f"{growth.totals['reflections']:,} reflections counted"
        )
        community = []
        for i in range(3):
            done = render_report("community_growth", period, out_dir / f"community-{i}.html")
            community.append(done.seconds)
        cold, warm = community[0], statistics.median(community[1:])
        html_kib = (out_dir / "community-0.html").stat().st_size / 1024
        print(
            f"community report, 100,000 reflections: first {cold:.2f} s (imports papermill), "
            f"then {warm:.2f} s (target <= 6 s); {html_kib:.0f} KiB HTML"
        )
        cli = [sys.executable, "-m", "cop_widgets.cli", "report", "community"]
        cli += ["--from", "2024-01-01", "--to", "2025-12-31", "--out", str(out_dir / "cli")]
        t0 = time.perf_counter()
        subprocess.run(cli, check=True, capture_output=True, timeout=300)
        cli_s = time.perf_counter() - t0
        print(f"`cop report community` as a command (a fresh interpreter): {cli_s:.2f} s")
        figures["community_cli_s"] = cli_s
        pdf = render_report("community_growth", period, out_dir / "community-pdf.html", pdf=True)
        print(f"community report with --pdf: {pdf.seconds:.2f} s")
        figures.update(
            community_cold_s=cold,
            community_warm_s=warm,
            community_pdf_s=pdf.seconds,
            community_queries_ms=queries * 1000,
        )
        print(f"ratio community report (warm) / bare CLI: {warm / statistics.median(bare):.2f}")

        quarter = {"date_from": "2025-01-01", "date_to": "2025-03-31"}
        jobs = [
            ("person_record", {"person_id": pid, **quarter}, out_dir / f"person-{n}.html")
            for n, pid in enumerate(people[:N_BATCH])
        ]
        t0 = time.perf_counter()
        for template, params, out in jobs:
            render_report(template, params, out)
        one_by_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_reports(jobs)
        batch = time.perf_counter() - t0
        entries = (out_dir / "person-0.html").read_text().count('class="cop-entry"')
        print(
            f"{N_BATCH} person reports (a quarter, ~{entries} reflections each): "
            f"{one_by_one:.1f} s one kernel each ({one_by_one / N_BATCH:.2f} s/report), "
            f"{batch:.1f} s in one kernel ({batch / N_BATCH:.2f} s/report); "
            f"speed-up {one_by_one / batch:.2f}x"
        )
        figures.update(person_each_s=one_by_one, person_batch_s=batch, batch_size=N_BATCH)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=2))
        print(f"figures written to {RESULTS}")
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
