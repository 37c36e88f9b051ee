"""Reports: figures equal what the store holds, visibility rules, minimum N, safe rendering.

Renders run real kernels (papermill, nbclient): a handful only, ~2-3 s each. The kernel finds
the store through COP_DATA_DIR and COP_DATABASE_URL, which papermill kernels inherit from
os.environ. On SQLite and on PostgreSQL (tests/pg.py BOTH_BACKENDS; the tests of rendering
itself on SQLite only: SQLITE_ONLY there).
"""

from __future__ import annotations

import re
import stat
import uuid
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import text, update

from cop_widgets.cli import main as cop_main
from cop_widgets.content.protocols import load_protocols
from cop_widgets.errors import InvalidInput
from cop_widgets.reports import common_data, community_data, person_data, render
from cop_widgets.reports.params import parse_period
from cop_widgets.services import discussions, feedback, reflections, review, roster
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import discussion, reflection
from tests.conftest import REPO

PROTOCOLS = load_protocols(REPO / "data" / "protocols")
FROM, TO = "2026-01-01", "2026-03-31"
XSS = "<script>window.__pwned=1</script>"
SECONDARY_TEXT = "not shown, so that a smaller figure cannot be worked out"
MARKERS_NEVER_IN_COMMUNITY = (
    "BEN-PRIVATE-MARKER",
    "BEN-COMMUNITY-MARKER",
    "ANA-SUPERVISOR-MARKER",
    "CASE-SUMMARY-MARKER",
    "window.__pwned",
)


# -- seeding ------------------------------------------------------------------------------------
def _submit(store, who, fw, text, visibility, at):
    rid = str(uuid.uuid4())
    reflections.submit(
        store,
        who,
        rid,
        fw,
        {s.id: reflections.Answer(f"{text} ({s.id})") for s in fw.stages},
        visibility,
    )
    with store.write() as conn:
        conn.execute(
            update(reflection)
            .where(reflection.c.id == rid)
            .values(submitted_at=f"{at}T10:00:00.000000+00:00", updated_at=f"{at}T10:00:00+00:00")
        )
    return rid


def _backdate_discussion(store, did, at):
    with store.write() as conn:
        conn.execute(
            update(discussion)
            .where(discussion.c.id == did)
            .values(created_at=f"{at}T09:00:00.000000+00:00")
        )


def seed(store, fw) -> dict:
    """Ana (the record's subject) and five others; supervisor Sue; three discussions."""
    p = {n: find_or_add_person(store, n) for n in ("Ana", "Ben", "Cara", "Dev", "Eli", "Fay")}
    sue = find_or_add_person(store, "Sue")
    roster.assign_supervisee(store, sue.id, p["Ana"].id)
    roster.assign_supervisee(store, sue.id, p["Ben"].id)
    ids = {}
    # Ana: two in the period (one with a script in it), one before it, one draft.
    ids["ana_jan"] = _submit(
        store, p["Ana"], fw, f"ANA-SUPERVISOR-MARKER {XSS}", "supervisor", "2026-01-15"
    )
    ids["ana_feb"] = _submit(store, p["Ana"], fw, "ANA-COMMUNITY-MARKER", "community", "2026-02-10")
    ids["ana_old"] = _submit(store, p["Ana"], fw, "ANA-OUT-OF-PERIOD", "private", "2025-12-20")
    draft = str(uuid.uuid4())
    reflections.save_draft(
        store, p["Ana"], draft, fw, {"what": reflections.Answer("ANA-DRAFT-MARKER")}
    )
    with store.write() as conn:
        conn.execute(
            update(reflection)
            .where(reflection.c.id == draft)
            .values(updated_at="2026-02-20T10:00:00+00:00")
        )
    review.add_feedback(store, sue, ids["ana_jan"], "strength", "RELEASED-MARKER well noticed")
    review.set_depth(store, sue, ids["ana_jan"], "dialogic_reflection")
    review.release(store, sue, ids["ana_jan"])
    review.add_feedback(store, sue, ids["ana_feb"], "resource", "UNRELEASED-MARKER read this")
    # Others: counted (community / aggregate_only) and not counted (private, supervisor).
    ids["ben_private"] = _submit(store, p["Ben"], fw, "BEN-PRIVATE-MARKER", "private", "2026-01-20")
    ids["ben_comm"] = _submit(
        store, p["Ben"], fw, "BEN-COMMUNITY-MARKER", "community", "2026-02-05"
    )
    review.add_feedback(store, sue, ids["ben_comm"], "strength", "BEN-FEEDBACK-MARKER")
    review.release(store, sue, ids["ben_comm"])
    for name, vis, day in (
        ("Cara", "community", "2026-01-03"),
        ("Dev", "aggregate_only", "2026-01-04"),
        ("Dev", "community", "2026-01-28"),
        ("Eli", "community", "2026-01-09"),
        ("Fay", "aggregate_only", "2026-01-31"),
        ("Cara", "aggregate_only", "2026-03-02"),
        ("Eli", "community", "2025-12-31"),
        ("Fay", "supervisor", "2026-03-05"),
    ):
        _submit(store, p[name], fw, f"{name}-TEXT-MARKER", vis, day)
    # Discussions: D1 Ana facilitates (Ben takes notes), D2 without Ana, D3 Ana takes notes.
    mapping, consult, tuning = (
        PROTOCOLS.get(i) for i in ("three_column_mapping", "consultancy", "tuning")
    )
    summary = "CASE-SUMMARY-MARKER a de-identified case"
    d1 = discussions.start_discussion(
        store,
        p["Ana"],
        mapping,
        summary,
        roles={"facilitator": ["Ana"], "note_taker": ["Ben"], "advisor": ["Cara"]},
    )
    discussions.add_action(
        store, p["Ana"], d1.id, "ANA-RECORDED-ACTION book a joint visit", "Ben", None
    )
    scale = mapping.phase("scale")
    for name, value in (("Ana", 3), ("Ben", 5), ("Cara", 5)):
        discussions.rate(store, p[name], d1.id, scale, value)
    d2 = discussions.start_discussion(
        store, p["Ben"], consult, summary, roles={"facilitator": ["Ben"], "note_taker": ["Cara"]}
    )
    discussions.add_action(store, p["Ben"], d2.id, "OTHER-ACTION-MARKER", "Cara", None)
    d3 = discussions.start_discussion(
        store, p["Cara"], tuning, summary, roles={"facilitator": ["Cara"], "note_taker": ["Ana"]}
    )
    import datetime as dt

    discussions.add_action(
        store, p["Cara"], d3.id, "OWNED-BY-ANA share the notes", "ana", dt.date(2026, 4, 1)
    )
    _backdate_discussion(store, d1.id, "2026-01-22")
    _backdate_discussion(store, d2.id, "2026-02-03")
    _backdate_discussion(store, d3.id, "2026-02-15")
    ids.update(d1=d1.id, d2=d2.id, d3=d3.id)
    return {"people": p, "sue": sue, "ids": ids}


@pytest.fixture
def seeded(store, rolfe, data_dir, monkeypatch):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COP_DATABASE_URL", store.settings.database_url)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    return seed(store, rolfe)


# -- reading figures back -----------------------------------------------------------------------
class _Tables(HTMLParser):
    """Cells of every table with data-table, by data-row and data-col, as text."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self._t = self._r = self._c = None
        self._buf: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "data-table" in a:
            self._t = a["data-table"]
            self.tables[self._t] = {}
        elif tag == "tr" and self._t and "data-row" in a:
            self._r = a["data-row"]
            self.tables[self._t][self._r] = {}
        elif tag == "td" and self._r is not None and "data-col" in a:
            self._c, self._buf = a["data-col"], []

    def handle_endtag(self, tag):
        if tag == "td" and self._c:
            self.tables[self._t][self._r][self._c] = " ".join("".join(self._buf).split())
            self._c = None
        elif tag == "tr":
            self._r = None
        elif tag == "table":
            self._t = None

    def handle_data(self, data):
        if self._c:
            self._buf.append(data)


def _rows(store, sql: str, *args) -> list[tuple]:
    """Rows of plain SQL (a `?` for each argument, in order) read with the store's engine and
    none of the report code, on SQLite or PostgreSQL: what a report should show, worked out
    apart from it."""
    params = {f"p{i}": value for i, value in enumerate(args)}
    names = iter(params)
    query = re.sub(r"\?", lambda _mark: f":{next(names)}", sql)
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(query), params)]


def _expected_months(store, min_n: int) -> dict[str, dict[str, str]]:
    """Computed here from raw rows, in Python: counted visibilities, months, minimum N."""
    rows = _rows(store, "SELECT person_id, visibility, status, submitted_at FROM reflection")
    n, people = Counter(), {}
    for pid, vis, status, at in rows:
        if (
            status == "submitted"
            and vis in ("community", "aggregate_only")
            and FROM <= at[:10] <= TO
        ):
            n[at[:7]] += 1
            people.setdefault(at[:7], set()).add(pid)
    hidden = f"fewer than {min_n} — not shown"
    out = {}
    for month in ("2026-01", "2026-02", "2026-03"):
        k = len(people.get(month, ()))
        ok = k == 0 or k >= min_n
        out[month] = {
            "reflections": str(n[month]) if ok else hidden,
            "people": str(k) if ok else hidden,
        }
    # One hidden month could be recovered from the total: the smallest other one hides too.
    if [c["reflections"] for c in out.values()].count(hidden) == 1:
        shown = [m for m, c in out.items() if c["reflections"] not in (hidden, "0")]
        if shown:
            smallest = min(shown, key=lambda m: (int(out[m]["reflections"]), m))
            out[smallest]["reflections"] = SECONDARY_TEXT
    return out


def _self_contained(html: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:)?//", html, re.I)
    assert '<script src="http' not in html and '<link href="http' not in html
    assert "@media print" in html


# -- renders ------------------------------------------------------------------------------------
def test_person_record_holds_only_their_entries_and_released_feedback(seeded, store, tmp_path):
    ana, ids = seeded["people"]["Ana"], seeded["ids"]
    out = tmp_path / "out" / "ana.html"
    done = render.render_report(
        "person_record", {"person_id": ana.id, "date_from": FROM, "date_to": TO}, out, pdf=True
    )
    html = out.read_text()
    _self_contained(html)
    assert "<title>CPD record: Ana · 2026-01-01 to 2026-03-31</title>" in html
    # Her two reflections of the period, every stage's text, oldest first; nothing else.
    assert html.count('class="cop-entry" data-reflection=') == 2
    assert html.index(ids["ana_jan"]) < html.index(ids["ana_feb"])
    for stage in ("what", "so_what", "now_what"):
        assert f"ANA-COMMUNITY-MARKER ({stage})" in html
    for absent in (
        "ANA-OUT-OF-PERIOD",
        "ANA-DRAFT-MARKER",
        "BEN-",
        "Cara-TEXT",
        "UNRELEASED-MARKER",
        "OTHER-ACTION-MARKER",
        "CASE-SUMMARY-MARKER",
    ):
        assert absent not in html, absent
    # The script is text: escaped in the page, never markup.
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert XSS not in html
    # Released feedback exactly as the author sees it in the app.
    for rid in (ids["ana_jan"], ids["ana_feb"]):
        for item in feedback.released_feedback(store, ana, rid):
            assert item.text in html and item.supervisor_name in html
    assert "Dialogic reflection" in html
    assert html.count('data-figure="feedback">1<') == 1
    # Figures equal the store: submitted in the period, per month.
    mine = [
        at
        for pid, status, at in _rows(
            store, "SELECT person_id, status, submitted_at FROM reflection"
        )
        if pid == ana.id and status == "submitted" and FROM <= at[:10] <= TO
    ]
    assert f'data-figure="reflections">{len(mine)}<' in html
    months = _Tables(html).tables["person-months"]
    assert {m: int(c["reflections"]) for m, c in months.items()} == {
        m: sum(at.startswith(m) for at in mine) for m in ("2026-01", "2026-02", "2026-03")
    }
    assert "1 draft changed in this period is not included" in html
    # Discussions she took part in (started D1, noted D3), actions she recorded or owns.
    tables = _Tables(html).tables
    assert set(tables["person-discussions"]) == {ids["d1"], ids["d3"]}
    actions = {c["why"] for c in tables["person-actions"].values()}
    assert actions == {"you recorded it", "you own it"}
    assert "ANA-RECORDED-ACTION" in html and "OWNED-BY-ANA" in html
    # A chart with its text alternative, written atomically with mode 0640, and the PDF.
    images = re.findall(r"<img\b[^>]*>", html)
    assert images and all('src="data:image/png;base64,' in i for i in images)
    assert all('alt="Bar chart of ' in i for i in images)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in out.parent.iterdir()) == ["ana.html", "ana.pdf"]
    pdf = done.pdf.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 1


def test_community_report_figures_match_the_store(seeded, store, tmp_path, capsys):
    rc = cop_main(
        ["report", "community", "--from", FROM, "--to", TO, "--min-n", "2", "--out", str(tmp_path)]
    )
    assert rc == 0, capsys.readouterr().err
    written = capsys.readouterr().out.split()
    out = Path(written[-1])
    assert out.name == "all-communities_2026-01-01_2026-03-31_community-report.html"
    html = out.read_text()
    _self_contained(html)
    for marker in MARKERS_NEVER_IN_COMMUNITY + ("ANA-COMMUNITY-MARKER", "TEXT-MARKER"):
        assert marker not in html, marker
    for name in ("Ana", "Ben", "Cara", "Sue"):
        assert f">{name}<" not in html and f" {name} " not in html
    tables = _Tables(html).tables
    assert tables["reflections-by-month"] == _expected_months(store, 2)
    months = tables["reflections-by-month"]
    assert months["2026-03"]["reflections"] == "fewer than 2 — not shown"
    assert months["2026-02"]["reflections"] == SECONDARY_TEXT  # else 8 - 5 - 2 reveals March
    assert months["2026-02"]["people"] == "2"
    # Totals: counted reflections and people of the period, computed from raw rows.
    counted = [
        (pid, at)
        for pid, vis, status, at in _rows(
            store, "SELECT person_id, visibility, status, submitted_at FROM reflection"
        )
        if status == "submitted"
        and vis in ("community", "aggregate_only")
        and FROM <= at[:10] <= TO
    ]
    assert f'data-figure="reflections">{len(counted)}<' in html
    assert f'data-figure="people">{len({p for p, _ in counted})}<' in html
    # Discussions per month (January has one: hidden), role rotation, ratings spread.
    disc = Counter(at[:7] for (at,) in _rows(store, "SELECT created_at FROM discussion"))
    assert disc == {"2026-01": 1, "2026-02": 2}
    assert f'data-figure="discussions">{sum(disc.values())}<' in html
    assert tables["discussions-by-month"] == {
        "2026-01": {"discussions": "fewer than 2 — not shown"},
        "2026-02": {"discussions": SECONDARY_TEXT},
        "2026-03": {"discussions": "0"},
    }
    roles = _rows(store, "SELECT role_id, holder_key FROM discussion_role")
    for role in ("facilitator", "note_taker"):
        holders = {k for r, k in roles if r == role}
        assert tables["role-rotation"][role]["people"] == str(len(holders))
    spread = tables["ratings-three_column_mapping/scale"]
    assert {v: c["count"] for v, c in spread.items() if c["count"] != "0"} == {"3": "1", "5": "2"}
    assert set(spread) == {str(v) for v in range(11)}
    assert "3 ratings from 3 people" in html
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_failed_render_names_the_cell_and_leaves_no_file(seeded, tmp_path):
    ghost = str(uuid.uuid4())
    out = tmp_path / "out" / "ghost.html"
    with pytest.raises(render.ReportFailed) as err:
        render.render_report(
            "person_record", {"person_id": ghost, "date_from": FROM, "date_to": TO}, out
        )
    message = str(err.value)
    assert "'person_record'" in message and ghost in message and "2026-01-01" in message
    assert "cell 2 'open-store'" in message and "RecordNotFound" in message
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_a_batch_runs_in_one_kernel_and_keeps_people_apart(seeded, tmp_path):
    p = seeded["people"]
    ghost = str(uuid.uuid4())
    jobs = [
        (
            "person_record",
            {"person_id": pid, "date_from": FROM, "date_to": TO},
            tmp_path / f"{n}.html",
        )
        for n, pid in (
            ("ana", p["Ana"].id),
            ("ben", p["Ben"].id),
            ("cara", p["Cara"].id),
            ("ghost", ghost),
        )
    ]
    with pytest.raises(render.ReportFailed) as err:
        render.render_reports(jobs)
    assert ghost in str(err.value) and "'open-store'" in str(err.value)
    assert sorted(f.name for f in tmp_path.glob("*.html")) == ["ana.html", "ben.html", "cara.html"]
    ana, ben, cara = ((tmp_path / f"{n}.html").read_text() for n in ("ana", "ben", "cara"))
    assert "ANA-COMMUNITY-MARKER" in ana and "BEN-" not in ana
    assert "BEN-PRIVATE-MARKER" in ben and "BEN-FEEDBACK-MARKER" in ben
    assert "ANA-COMMUNITY-MARKER" not in ben and "ANA-SUPERVISOR-MARKER" not in ben
    assert "ANA-RECORDED-ACTION" in ben  # Ana recorded it, Ben owns it
    assert "Cara-TEXT-MARKER" in cara and "ANA-" not in cara and "BEN-" not in cara
    assert "<title>CPD record: Ben" in ben
    assert not list(tmp_path.glob(".*.part"))


# -- without a kernel ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"person_id": "Ana", "date_from": FROM, "date_to": TO},
        {"person_id": "x'); import os; os.system('id') #", "date_from": FROM, "date_to": TO},
        {"person_id": str(uuid.uuid4()), "date_from": "2026-1-1", "date_to": TO},
        {"person_id": str(uuid.uuid4()), "date_from": "2026-02-30", "date_to": TO},
        {"person_id": str(uuid.uuid4()), "date_from": "2026-03-01", "date_to": "2026-01-01"},
        {"person_id": str(uuid.uuid4()), "date_from": FROM, "date_to": TO, "title": "x"},
        {"person_id": str(uuid.uuid4()), "date_from": FROM},
        {"person_id": 7, "date_from": FROM, "date_to": TO},
        {"person_id": str(uuid.uuid4()) + "\n", "date_from": FROM, "date_to": TO},
        {"person_id": str(uuid.uuid4()), "date_from": FROM + "\n", "date_to": TO},
        {"person_id": str(uuid.uuid4()), "date_from": "٢٠٢٦-01-01", "date_to": TO},
    ],
)
def test_parameters_are_ids_and_dates_only(params):
    spec = render.report_spec("person_record")
    with pytest.raises(InvalidInput):
        render.check_params(spec, params)


def test_community_parameters_and_template_names_are_checked():
    spec = render.report_spec("community_growth")
    ok = render.check_params(spec, {"date_from": FROM, "date_to": TO, "min_n": 5})
    assert ok == {"date_from": FROM, "date_to": TO, "min_n": 5}
    for bad in ({"min_n": True}, {"min_n": "5"}, {"min_n": 0}, {"min_n": 5.0}):
        with pytest.raises(InvalidInput):
            render.check_params(spec, {"date_from": FROM, "date_to": TO, **bad})
    for name in ("../person_record", "Person_Record", "nope"):
        with pytest.raises(InvalidInput):
            render.report_spec(name)


def test_minimum_n_suppresses_small_figures_before_anything_is_drawn(seeded, store):
    period = parse_period(FROM, TO)
    five = community_data.community_growth(store, period, 5)
    assert five.totals == {"reflections": 8, "people": 6, "discussions": None}
    months = five.reflections_by_month.set_index("month")
    assert months.loc["2026-01"].tolist() == [None, None]  # 5 reflections by 4 people
    assert months.loc["2026-03"].tolist() == [None, None]
    assert all(d.counts is None and d.people is None for d in five.ratings)
    assert list(five.roles["people"]) == [None, None]
    two = community_data.community_growth(store, period, 2)
    by_month = two.reflections_by_month.set_index("month")
    assert by_month.loc["2026-01"].tolist() == [5, 4]
    assert by_month.loc["2026-02"].tolist() == [common_data.SECONDARY, 2]
    assert by_month.loc["2026-03"].tolist() == [None, None]
    assert two.ratings[0].counts == {3: 1, 5: 2}
    one = community_data.community_growth(store, period, 1)
    assert one.reflections_by_month.set_index("month").loc["2026-03"].tolist() == [1, 1]


def test_secondary_suppression_stops_working_out_a_hidden_figure():
    S2 = common_data.SECONDARY
    assert community_data.protect_sum([5, 2, None, 0]) == [5, S2, None, 0]
    assert community_data.protect_sum([5, 2, None, None]) == [5, 2, None, None]
    assert community_data.protect_sum([None, 0, 0]) == [None, 0, 0]
    assert community_data.protect_sum([3, 3, None]) == [S2, 3, None]
    assert community_data.protect_sum([7, 9]) == [7, 9]


def test_hidden_figures_do_not_decide_the_order():
    rows = [
        {"protocol_id": "b", "discussions": None},
        {"protocol_id": "y", "discussions": common_data.SECONDARY},
        {"protocol_id": "z", "discussions": 6},
        {"protocol_id": "a", "discussions": None},
        {"protocol_id": "c", "discussions": 9},
    ]
    assert list(community_data._ordered(rows, "discussions", "protocol_id")["protocol_id"]) == [
        "c",
        "z",
        "a",
        "b",
        "y",
    ]


def test_record_data_is_read_as_the_person(seeded, store):
    ana, ids = seeded["people"]["Ana"], seeded["ids"]
    record = person_data.person_record(store, ana, parse_period(FROM, TO))
    assert list(record.reflections["id"]) == [ids["ana_jan"], ids["ana_feb"]]
    assert set(record.answers["reflection_id"]) == {ids["ana_jan"], ids["ana_feb"]}
    expected = [
        f.text
        for rid in record.reflections["id"]
        for f in feedback.released_feedback(store, ana, rid)
    ]
    assert list(record.feedback["text"]) == expected == ["RELEASED-MARKER well noticed"]
    assert record.drafts == 1
    assert list(record.discussions["id"]) == [ids["d1"], ids["d3"]]
    assert list(record.discussions["roles"]) == [["facilitator"], ["note_taker"]]


def test_atomic_write_leaves_nothing_when_the_pdf_fails(monkeypatch, tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "x",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data", data={"text/html": "<p>hello</p>", "text/plain": "hello"}
                    )
                ],
            )
        ]
    )

    class Broken:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def print(self, html):
            raise render.CopWidgetsError("the PDF could not be printed: printer on fire")

    class Executed:  # the kernel seam: the notebook as if it had run
        def __init__(self, env=None):
            self.env = env

        def execute(self, spec, params):
            return nb

        def close(self):
            pass

    monkeypatch.setattr(render, "ReportKernel", Executed)
    monkeypatch.setattr(render, "PdfPrinter", Broken)
    monkeypatch.setattr(render, "chromium_path", lambda: "chromium")
    out = tmp_path / "r" / "c.html"
    with pytest.raises(render.ReportFailed, match="printer on fire"):
        render.render_report("community_growth", {"date_from": FROM, "date_to": TO}, out, pdf=True)
    assert not out.parent.exists()
    render.render_report("community_growth", {"date_from": FROM, "date_to": TO}, out)
    assert "<p>hello</p>" in out.read_text() and [p.name for p in out.parent.iterdir()] == [
        "c.html"
    ]


def test_unknown_person_is_a_message_and_exit_2(seeded, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cop_main(["report", "person", "Nobody", "--from", FROM, "--to", TO, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "No person matches 'Nobody'" in err and "Traceback" not in err
    rc = cop_main(
        ["report", "person", "Ana", "--from", "01/02/2026", "--to", TO, "--out", str(out)]
    )
    assert rc == 2 and "YYYY-MM-DD" in capsys.readouterr().err
    assert not out.exists()


def test_templates_have_parameters_cells_and_no_outputs():
    for name in render.available_reports():
        nb = nbformat.read(render.REPORTS_DIR / f"{name}.ipynb", as_version=4)
        assert nb.cells[0].metadata.get("tags") == ["parameters"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells)
        assert "matplotlib.use" not in "".join(c.source for c in nb.cells)
