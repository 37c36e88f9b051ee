"""`cop report ...`: render reports to HTML (and PDF) from the shared store.

    cop report person PERSON... --from DATE --to DATE [--out DIR] [--pdf]
    cop report community --from DATE --to DATE [--community NAME] [--min-n 5] [--stories]
        [--out DIR] [--pdf]
    cop report session SESSION [--min-n 5] [--out DIR] [--pdf]
    cop report all-sessions --from DATE --to DATE [--min-n 5] [--out DIR] [--pdf]
    cop report library --community NAME [--top 50] [--out DIR] [--pdf]

PERSON is a person id, a display name (any case) or hub:<user>; several people give one report
each, rendered in one kernel. SESSION is a session id or its join code; all-sessions renders
every session that started in the period in one kernel, with a progress bar on stderr.
`library` prints a community's practice handbook: its endorsed practice, then its --top most
endorsed other entries, grouped by topic and tag (published entries only). Dates
are YYYY-MM-DD, both days included. Files are named readably, never by ids (community, date
and topic; community or person and period: reports.render.report_filename), with -2, -3 ...
added rather than replacing a file already there; written to reports/ at the repository root
unless --out says otherwise, readable by the owner and group only. The apps make the same
reports for those allowed (apps/_reports.py). Errors are CopWidgetsError: `cop` prints the
message, exits 2.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "reports"


def add_report_commands(subparsers) -> None:
    """Add `report` and its sub-commands to the `cop` parser's subparsers."""
    report = subparsers.add_parser("report", help="render a report as HTML (and PDF)")
    rsub = report.add_subparsers(dest="report_command", required=True)

    person = rsub.add_parser("person", help="one practitioner's CPD record over a period")
    person.add_argument(
        "person", nargs="+", metavar="PERSON", help="person id, display name or hub:<user>"
    )
    _common(person)
    person.set_defaults(func=cmd_person)

    community = rsub.add_parser("community", help="participation in the community over a period")
    community.add_argument(
        "--community", default=None, metavar="NAME", help="one community (name or id); default: all"
    )
    _common(community)
    _min_n(community, "people or discussions")
    community.add_argument(
        "--stories",
        action="store_true",
        help="also print the value-creation stories their authors shared with the community "
        "(no names or dates; each checked again for identifiers)",
    )
    community.set_defaults(func=cmd_community)

    session = rsub.add_parser("session", help="the group's report of one session")
    session.add_argument("session", metavar="SESSION", help="session id or join code")
    _output(session)
    _min_n(session, "people answered")
    session.set_defaults(func=cmd_session)

    batch = rsub.add_parser("all-sessions", help="a session report for every session in a period")
    _common(batch)
    _min_n(batch, "people answered")
    batch.set_defaults(func=cmd_all_sessions)

    handbook = rsub.add_parser(
        "library",
        help="a community's practice handbook: its endorsed practice and most-endorsed entries",
    )
    handbook.add_argument(
        "--community", required=True, metavar="NAME", help="the community (name or id)"
    )
    handbook.add_argument(
        "--top",
        type=int,
        default=None,
        help="at most this many of the most-endorsed entries besides the endorsed practice "
        "(default 50; 0: the endorsed practice only)",
    )
    _output(handbook)
    handbook.set_defaults(func=cmd_library)


def _min_n(parser, what: str) -> None:
    parser.add_argument(
        "--min-n",
        type=int,
        default=5,
        help=f"hide figures built from fewer {what} than this (default 5)",
    )


def _common(parser) -> None:
    parser.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    _output(parser)


def _output(parser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help=f"folder for the report (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--pdf", action="store_true", help="also print a PDF (headless Chromium)")


def _period(args) -> dict[str, str]:
    from cop_widgets.reports import params as report_params

    period = report_params.parse_period(
        report_params.check_date(args.date_from, "--from").isoformat(),
        report_params.check_date(args.date_to, "--to").isoformat(),
    )
    return {"date_from": period.lo, "date_to": period.end.isoformat()}


@contextmanager
def _booting_kernel():
    """A report kernel launched now, so that it boots while the command finds its records."""
    from cop_widgets.reports.render import ReportKernel

    kernel = ReportKernel()
    try:
        yield kernel
    finally:
        kernel.close()


def _render(
    template: str,
    param_sets: list[dict],
    out_dir: Path | None,
    pdf: bool,
    kernel,
    progress: bool = False,
) -> int:
    from cop_widgets.reports import render

    folder = out_dir or DEFAULT_OUT
    spec = render.report_spec(template)
    taken: set[str] = set()
    store = _open_store()
    try:
        jobs = [
            (
                template,
                params,
                folder
                / render.report_filename(
                    spec, render.check_params(spec, params), store, folder, taken
                ),
            )
            for params in param_sets
        ]
    finally:
        store.dispose()
    if len(jobs) == 1 and not progress:
        done = [render.render_report(*jobs[0], pdf=pdf, kernel=kernel)]
    elif progress:
        from tqdm import tqdm

        # on stderr, so that stdout lists only the files written
        with tqdm(total=len(jobs), unit="report", file=sys.stderr, dynamic_ncols=True) as bar:
            done = render.render_reports(
                jobs, pdf=pdf, on_done=lambda _item: bar.update(), kernel=kernel
            )
    else:
        done = render.render_reports(jobs, pdf=pdf, kernel=kernel)
    for item in done:
        print(f"wrote {item.html}")
        if item.pdf:
            print(f"wrote {item.pdf}")
    return 0


def cmd_person(args) -> int:
    from cop_widgets.services.people import find_person

    period = _period(args)
    with _booting_kernel() as kernel:
        store = _open_store()
        try:
            people = [find_person(store, name) for name in dict.fromkeys(args.person)]
        finally:
            store.dispose()
        ids = list(dict.fromkeys(p.id for p in people))
        params = [{"person_id": pid, **period} for pid in ids]
        return _render("person_record", params, args.out, args.pdf, kernel)


def cmd_community(args) -> int:
    from cop_widgets.reports import params as report_params

    params = {**_period(args), "min_n": report_params.check_min_n(args.min_n)}
    if args.stories:
        params["include_stories"] = 1
    with _booting_kernel() as kernel:
        if args.community:
            store = _open_store()
            try:
                params["community_id"] = _find_community(store, args.community)
            finally:
                store.dispose()
        return _render("community_growth", [params], args.out, args.pdf, kernel)


def _find_community(store, name_or_id: str) -> str:
    from sqlalchemy import func, select

    from cop_widgets.errors import InvalidInput
    from cop_widgets.store.schema import community

    text = name_or_id.strip()
    with store.read() as conn:
        rows = conn.execute(
            select(community.c.id).where(
                (community.c.id == text.lower()) | (func.lower(community.c.name) == text.lower())
            )
        ).all()
    if len(rows) != 1:
        raise InvalidInput(
            "community",
            f"No single community is named {text!r}"
            + (" (several are: give its id)." if rows else ".")
            + " The community app lists them.",
        )
    return rows[0].id


def _open_store():
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    return open_store(load_settings())


def cmd_session(args) -> int:
    from cop_widgets.reports import params as report_params
    from cop_widgets.reports.session_data import find_session

    min_n = report_params.check_min_n(args.min_n)
    with _booting_kernel() as kernel:
        store = _open_store()
        try:
            session_id = find_session(store, args.session)
        finally:
            store.dispose()
        params = [{"session_id": session_id, "min_n": min_n}]
        return _render("session_report", params, args.out, args.pdf, kernel)


def cmd_all_sessions(args) -> int:
    from cop_widgets.reports import params as report_params
    from cop_widgets.reports.session_data import session_ids_between

    dates = _period(args)
    period = report_params.parse_period(dates["date_from"], dates["date_to"])
    min_n = report_params.check_min_n(args.min_n)
    store = _open_store()
    try:
        ids = session_ids_between(store, period.lo, period.hi)
    finally:
        store.dispose()
    if not ids:
        print(f"No session started between {period.lo} and {period.end.isoformat()}.")
        return 0
    params = [{"session_id": sid, "min_n": min_n} for sid in ids]
    with _booting_kernel() as kernel:
        return _render("session_report", params, args.out, args.pdf, kernel, progress=True)


def cmd_library(args) -> int:
    from cop_widgets.reports.library_data import DEFAULT_TOP, check_top

    top = check_top(DEFAULT_TOP if args.top is None else args.top, "--top")
    with _booting_kernel() as kernel:
        store = _open_store()
        try:
            community_id = _find_community(store, args.community)
        finally:
            store.dispose()
        params = [{"community_id": community_id, "top": top}]
        return _render("library_handbook", params, args.out, args.pdf, kernel)
