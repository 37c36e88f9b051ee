"""Reports over 100,000 reflections: render_report vs the bare papermill + nbconvert CLI.

In one run, on a scratch store (never data/cop.sqlite) seeded with 100,000 submitted reflections
by 200 practitioners over two years, plus 600 case discussions with roles and ratings:
- bare CLI: `papermill` then `jupyter nbconvert --to html --no-input` on an almost empty
  notebook (the PERFORMANCE.md §5 anchor: ~4.8 s);
- the community report over the whole store with `render_report` (in-process papermill +
  nbconvert), the first call (cold: imports) and warm calls, and with --pdf;
- 10 person reports (a quarter each): 10 x `render_report` (a kernel each) vs
  `render_reports` (one kernel).
- session reports, on a second scratch store with one community of 40 people and 50 weekly
  sessions (everyone joins, checks in and out, follows up last week's commitment; a consultancy
  discussion with notes and actions in each), seeded through the services: `cop report session
  CODE` for one 40-person session (a fresh interpreter, as a facilitator runs it) and
  `cop report all-sessions` for the batch of 50 (one kernel).
Targets (issue 6): community report over 100,000 reflections <= 6 s; a 40-person session report
<= 3 s; a batch of 50 session reports <= 60 s. Prints figures and ratios against the bare CLI
measured in the same run, writes benchmarks/results/bench_reports.json; never fails on timing.
Run: .venv/bin/python benchmarks/bench_reports.py [--part all|community|sessions] [--smoke]
(--smoke: every step once, small: 1,000 reflections, 1 person report, 1 session of 5 people,
no warm-ups; figures go to benchmarks/results/smoke/. Fails only if a step broke.)
"""

from __future__ import annotations

import argparse
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
from bench_results import write_results

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "bench_reports.json"
SMOKE_RESULTS = REPO / "benchmarks" / "results" / "smoke" / "bench_reports.json"
N_REFLECTIONS, N_PEOPLE, N_DISCUSSIONS, N_BATCH = 100_000, 200, 600, 10
ROOM, N_SESSIONS = 40, 50
# runs of each timed step, and whether a first, unmeasured run warms the caches
BARE_RUNS, COMMUNITY_RUNS, SESSION_RUNS, WARM_UP = 3, 3, 5, True
SMOKE = dict(
    N_REFLECTIONS=1_000,
    N_DISCUSSIONS=20,
    N_BATCH=1,
    ROOM=5,
    N_SESSIONS=1,
    BARE_RUNS=1,
    COMMUNITY_RUNS=1,
    SESSION_RUNS=1,
    WARM_UP=False,
)
START = datetime(2024, 1, 1, tzinfo=UTC)
VISIBILITIES = ("community", "private", "aggregate_only", "supervisor")
FRAMEWORKS = ("rolfe-2001", "gibbs-1988", "kolb-1984", "johns-msr", "brookfield-lenses")
PROTOCOLS = ("three_column_mapping", "consultancy", "tuning", "troika")


def seed(data_dir: Path) -> list[str]:
    from sqlalchemy import insert

    from cop_widgets.services.identity import find_or_add_person
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
    people = [find_or_add_person(store, f"Practitioner {n:03d}") for n in range(N_PEOPLE)]
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


def seed_sessions(data_dir: Path) -> list:
    """One community, ROOM people, N_SESSIONS weekly sessions, through the services."""
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.content.session_items import load_item_sets
    from cop_widgets.services import checkins
    from cop_widgets.services import discussions as discussion_service
    from cop_widgets.services import sessions as session_service
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(Settings(data_dir, f"sqlite:///{data_dir / 'cop.sqlite'}", 5000))
    sets = load_item_sets(data_dir / "session_items")[0]
    consultancy = load_protocols(data_dir / "protocols").get("consultancy")
    people = [find_or_add_person(store, f"Member {n:02d}") for n in range(ROOM)]
    cop = session_service.create_community(store, people[0], "Bench CoP", "Family support practice")
    words = ("hopeful", "tired", "connected", "curious", "heard", "stretched")
    sessions = []
    for k in range(N_SESSIONS):
        at = START + timedelta(weeks=k, hours=10)
        session = session_service.plan_session(
            store, people[0], cop.id, at, f"Practice theme {k}", "What helps?", "consultancy"
        )
        sessions.append(session)
        for i, p in enumerate(people):
            session_service.join(store, p, session.join_code, at)
            checkins.submit_answers(
                store,
                p,
                session.id,
                sets["checkin"],
                {"wellbeing": 1 + i % 5, "confidence_reflect_then": 1 + i % 3},
            )
            for c in checkins.open_commitments(store, p, session.id):
                checkins.follow_up(store, p, c.id, session.id, ("yes", "partly", "no")[i % 3], "ok")
            checkins.submit_answers(
                store,
                p,
                session.id,
                sets["checkout"],
                {
                    "confidence_reflect_now": 2 + i % 4,
                    "confidence_discuss_now": 3,
                    "useful": 3 + i % 3,
                    "safe": 4 + i % 2,
                    "one_word": words[(i + k) % len(words)],
                    "resource": f"Guide {i % 4}" if i % 5 == 0 else "",
                    "commitment": "Ask the family what they want first",
                },
            )
        run = discussion_service.start_discussion(
            store,
            people[k % ROOM],
            consultancy,
            "A de-identified dilemma",
            roles={"note_taker": [people[(k + 1) % ROOM].display_name]},
            summary_checked=True,
            session_id=session.id,
        )
        for phase in ("discuss", "respond", "debrief"):
            discussion_service.save_note(
                store,
                people[(k + 1) % ROOM],
                str(uuid.uuid4()),
                run.id,
                phase,
                f"Notes of {phase}: begin with the family's own words.",
            )
        discussion_service.add_action(
            store, people[k % ROOM], run.id, "Share the checklist", "Facilitator", None
        )
        session_service.close_session(store, people[0], session.id)
    store.dispose()
    return sessions


def bare_cli(scratch: Path, runs: int = BARE_RUNS) -> list[float]:
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
    for i in range(runs + WARM_UP):  # the first is a warm-up
        t0 = time.perf_counter()
        for cmd in (papermill + ["--no-progress-bar"], nbconvert):
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        if i >= WARM_UP:
            times.append(time.perf_counter() - t0)
    return times


def community_part(scratch: Path, figures: dict, bare: list[float]) -> None:
    data_dir = scratch / "data"
    out_dir = scratch / "reports"
    t0 = time.perf_counter()
    people = seed(data_dir)
    size = (data_dir / "cop.sqlite").stat().st_size / 2**20
    print(
        f"seeded {N_REFLECTIONS:,} reflections, {N_DISCUSSIONS} discussions in "
        f"{time.perf_counter() - t0:.1f} s ({size:.0f} MiB)"
    )

    from cop_widgets.reports import community_data
    from cop_widgets.reports.params import parse_period
    from cop_widgets.reports.render import render_report, render_reports
    from cop_widgets.store import open_store

    period = {"date_from": "2024-01-01", "date_to": "2025-12-31", "min_n": 5}
    store = open_store()
    t0 = time.perf_counter()
    growth = community_data.community_growth(store, parse_period("2024-01-01", "2025-12-31"), 5)
    queries = time.perf_counter() - t0
    store.dispose()
    print(
        f"community figures (SQL + pandas, in-process): {queries * 1000:.0f} ms; "
        f"{growth.totals['reflections']:,} reflections counted"
    )
    community = []
    for i in range(COMMUNITY_RUNS):
        done = render_report("community_growth", period, out_dir / f"community-{i}.html")
        community.append(done.seconds)
    cold = community[0]
    warm = statistics.median(community[1:]) if len(community) > 1 else cold
    html_kib = (out_dir / "community-0.html").stat().st_size / 1024
    print(
        f"community report, {N_REFLECTIONS:,} reflections: first {cold:.2f} s (imports papermill), "
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


def session_part(scratch: Path, figures: dict, bare: list[float]) -> None:
    data_dir = scratch / "sessions-data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    env = {**os.environ, "COP_DATA_DIR": str(data_dir)}
    out_dir = scratch / "session-reports"
    t0 = time.perf_counter()
    sessions = seed_sessions(data_dir)
    print(
        f"seeded {N_SESSIONS} sessions of {ROOM} people through the services in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    cop = [sys.executable, "-m", "cop_widgets.cli", "report"]
    one = []
    for i in range(SESSION_RUNS + WARM_UP):  # the first is a warm-up (disk cache)
        t0 = time.perf_counter()
        subprocess.run(
            [*cop, "session", sessions[-1].join_code, "--out", str(out_dir / f"one-{i}")],
            check=True,
            capture_output=True,
            timeout=300,
            env=env,
        )
        if i >= WARM_UP:
            one.append(time.perf_counter() - t0)
    page = next((out_dir / f"one-{int(WARM_UP)}").glob("*.html"))
    print(
        f"`cop report session CODE`, {ROOM} people: median {statistics.median(one):.2f} s "
        f"(min {min(one):.2f}, max {max(one):.2f}; target <= 3 s); "
        f"{page.stat().st_size / 1024:.0f} KiB HTML, {page.read_text().count('<img')} charts"
    )
    first = START.date().isoformat()
    last = (START + timedelta(weeks=N_SESSIONS)).date().isoformat()
    t0 = time.perf_counter()
    done = subprocess.run(
        [*cop, "all-sessions", "--from", first, "--to", last, "--out", str(out_dir / "batch")],
        check=True,
        capture_output=True,
        timeout=900,
        env=env,
        text=True,
    )
    batch = time.perf_counter() - t0
    written = len(list((out_dir / "batch").glob("*.html")))
    assert written == N_SESSIONS == done.stdout.count("wrote "), (written, done.stdout[-300:])
    print(
        f"`cop report all-sessions`, {written} session reports: {batch:.1f} s "
        f"({batch / written:.2f} s/report; target <= 60 s)"
    )
    median_bare = statistics.median(bare)
    print(
        f"ratios against the bare CLI ({median_bare:.2f} s): one session report "
        f"{statistics.median(one) / median_bare:.2f}; batch of {written} "
        f"{batch / (written * median_bare):.2f} of {written} bare runs"
    )
    figures.update(session_cli_s=one, sessions_batch_s=batch, sessions_batch_size=written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "community", "sessions"), default="all")
    parser.add_argument("--smoke", action="store_true", help="every step once, small")
    args = parser.parse_args(argv)
    part, results_file = args.part, SMOKE_RESULTS if args.smoke else RESULTS
    if args.smoke:
        globals().update(SMOKE)
    scratch = Path(tempfile.mkdtemp(prefix="cop-bench-reports-"))
    data_dir = scratch / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    os.environ["COP_DATA_DIR"] = str(data_dir)
    os.environ.pop("COP_DATABASE_URL", None)
    # a part run keeps the other part's last figures
    figures: dict[str, object] = (
        json.loads(results_file.read_text()) if results_file.exists() else {}
    )
    figures["smoke"] = args.smoke
    try:
        # a noisy machine makes every figure here slower: say how busy it was
        print(f"load average at start (1, 5, 15 min): {os.getloadavg()}")
        bare = bare_cli(scratch, BARE_RUNS)
        figures["bare_cli_s"] = bare
        print(
            f"bare papermill + nbconvert CLI: median {statistics.median(bare):.2f} s "
            f"(min {min(bare):.2f}, max {max(bare):.2f})"
        )

        if part in ("all", "community"):
            community_part(scratch, figures, bare)
        if part in ("all", "sessions"):
            session_part(scratch, figures, bare)
        figures["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        figures["loadavg_end"] = os.getloadavg()
        print(f"load average at the end: {figures['loadavg_end']} (2 cores: above ~1 is noise)")
        write_results(results_file, figures)
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
