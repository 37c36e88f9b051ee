"""Reports meet what people type: direction overrides stay inside the typed text, a 4,000-
character word is printed whole, CJK and full-width brackets print in a font that has them,
table headers stay with their rows on paper, and month labels never overlap. Real renders and
real PDFs (Debian's chromium; pdftotext and pdffonts from poppler-utils, installed with the
Noto fonts by scripts/ensure-chromium)."""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import nbformat
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextPath
from sqlalchemy import update

from cop_widgets.content.protocols import load_protocols
from cop_widgets.reports import common_blocks, community_blocks, render
from cop_widgets.reports import html as report_html
from cop_widgets.reports.params import Period
from cop_widgets.services import discussions, reflections, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import discussion_action
from tests.conftest import REPO

RLO, PDF_CHAR = "\u202e", "\u202c"
LONG_WORD = "0123456789" * 400  # 4,000 characters, no place to break
CJK = "（全角の括弧）家族支援"
PAGE_FOOTER = re.compile(r"^Page \d+ of \d+$")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is missing: run `bash scripts/ensure-chromium` (poppler-utils)")
    return path


def _pdf_text(pdf: bytes, tmp_path) -> list[str]:
    """The PDF's text, page by page, without the page footers."""
    path = tmp_path / f"{uuid.uuid4()}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        "\n".join(line for line in page.splitlines() if not PAGE_FOOTER.match(line.strip()))
        for page in out.split("\f")
        if page.strip()
    ]


def _pdf_words(pdf: bytes, tmp_path) -> tuple[list[tuple[str, float]], float]:
    """Every word of the PDF with its right edge (points), and the page width."""
    path = tmp_path / f"{uuid.uuid4()}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        [_tool("pdftotext"), "-bbox", "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    width = float(re.search(r'<page width="([0-9.]+)"', out).group(1))
    words = [
        (html.unescape(text), float(x_max))
        for x_max, text in re.findall(r'<word xMin="[0-9.]+" yMin="[0-9.]+" xMax="([0-9.]+)" '
                                      r'yMax="[0-9.]+">([^<]*)</word>', out)
    ]  # fmt: skip
    return words, width


def _outside_isolation(page: str) -> str:
    """The page with every <bdi>…</bdi> and the <title> cut out."""
    page = re.sub(r"<title>.*?</title>", "", page, flags=re.S)
    return re.sub(r"<bdi>.*?</bdi>", "", page, flags=re.S)


def _env(store) -> dict[str, str]:
    return render.kernel_env(store.settings)


# -- direction ----------------------------------------------------------------------------------
def test_a_right_to_left_override_in_a_topic_stays_inside_it(store):
    host = find_or_add_person(store, "Cora")
    made = sessions.create_community(store, host, f"Family {RLO}support CoP")
    topic = f"Safety {RLO}planning"
    session = sessions.plan_session(
        store, host, made.id, datetime.now(UTC) - timedelta(hours=1), topic
    )
    sessions.set_session_roles(store, host, session.id, {"facilitator": host.id})
    sessions.plan_session(
        store, host, made.id, datetime.now(UTC) + timedelta(days=7), f"Next {RLO}one"
    )
    done = render.render_in_memory(
        "session_report", {"session_id": session.id}, pdf=False, env=_env(store)
    )
    page = done.html.decode("utf-8")
    assert page.count(RLO) >= 4  # topic, community (twice), next session: all kept exactly
    assert f"<h1>Session report: <bdi>{topic}</bdi></h1>" in page
    assert RLO not in _outside_isolation(page), "typed text outside a <bdi>"
    # the tab's title isolates it with FSI … PDI (no markup there)
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert f"\u2068{topic}\u2069" in title and title.endswith(session.starts_at.date().isoformat())
    assert "bdi { unicode-bidi: isolate; }" in page


# -- long words, fonts, tables on paper ---------------------------------------------------------
def test_a_long_word_and_cjk_print_whole_in_a_font_that_has_them(store, rolfe, tmp_path):
    ana = find_or_add_person(store, "Ana")
    answers = {
        s.id: reflections.Answer(f"{CJK} {LONG_WORD} end" if i == 0 else "Short.")
        for i, s in enumerate(rolfe.stages)
    }
    reflections.submit(store, ana, str(uuid.uuid4()), rolfe, answers, "private")
    consult = load_protocols(REPO / "data" / "protocols").get("consultancy")
    run = discussions.start_discussion(
        store, ana, consult, "A case.", roles={"facilitator": ["Ana"]}
    )
    discussions.add_action(store, ana, run.id, "placeholder", "Ana", None)
    with store.write() as conn:  # longer than the app allows, as an older store might hold
        conn.execute(update(discussion_action).values(description=f"Action {LONG_WORD}"))
    today = datetime.now(UTC).date()
    period = {"date_from": (today - timedelta(days=2)).isoformat(), "date_to": today.isoformat()}
    done = render.render_in_memory(
        "person_record", {"person_id": ana.id, **period}, pdf=True, env=_env(store)
    )
    assert done.pdf is not None, done.pdf_problem
    words, page_width = _pdf_words(done.pdf, tmp_path)
    # nothing runs past the paper's edge (text there is cut off in print, and lost)
    assert max(x_max for _, x_max in words) < page_width - 20
    # the answer and the actions table's row, each wrapped over many lines: every digit there
    pieces = [w for w, _ in words if w.isdigit() and len(w) > 4]  # (a year has 4 digits)
    assert sum(map(len, pieces)) == 2 * len(LONG_WORD)
    assert LONG_WORD in "".join(pieces)  # the answer's (one column) in reading order
    text = re.sub(r"\s+", "", "".join(_pdf_text(done.pdf, tmp_path)))
    assert re.sub(r"\s+", "", CJK) in text
    # drawn with a font that has the glyphs (Chromium names the fonts it used for the answer)
    fonts = _fonts_used(done.html.decode("utf-8"), "dd.cop-text")
    assert fonts.get("Noto Sans CJK JP", 0) >= len(CJK) - 1, fonts  # not boxes
    assert fonts.get("Noto Sans", 0) >= 10, fonts  # the report's own first font


def _fonts_used(page: str, selector: str) -> dict[str, int]:
    """{font family: glyphs drawn} for the element, as Chromium lays the page out for print."""
    from playwright.sync_api import sync_playwright

    from cop_widgets.chromium import CHROMIUM_ARGS, chromium_path

    def look() -> dict[str, int]:  # in a thread: Playwright's loop is not pytest's
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                tab = browser.new_page(java_script_enabled=False)
                tab.set_content(page)
                tab.emulate_media(media="print")
                cdp = tab.context.new_cdp_session(tab)
                cdp.send("DOM.enable")
                cdp.send("CSS.enable")
                root = cdp.send("DOM.getDocument")["root"]["nodeId"]
                node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})
                used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
                return {f["familyName"]: f["glyphCount"] for f in used["fonts"]}
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(look).result(timeout=120)


def _table_page(tables: int) -> str:
    """A report page of many small tables, each after a paragraph of a different height, so
    that some header would fall at the foot of a page."""
    parts = []
    for k in range(tables):
        parts.append(f'<p style="height:{(k * 13) % 60 + 4}mm;margin:0">Filler {k}</p>')
        parts.append(
            report_html.table(
                f"t{k}",
                f"Caption{k}",
                [("month", f"Head{k}"), ("n", "Figure")],
                [(str(i), f"Row{k}x{i}", {"n": str(i)}) for i in range(3)],
            )
        )
    output = nbformat.v4.new_output(
        "display_data", data={"text/html": "".join(parts), "text/plain": "tables"}
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[output])])
    return render.to_html(render.report_spec("community_growth"), nb)


def test_printed_tables_keep_their_header_with_their_rows(tmp_path):
    page = _table_page(40)
    assert "thead { display: table-header-group; }" in page
    with render.PdfPrinter() as printer:
        pdf = printer.print(page)
    pages = _pdf_text(pdf, tmp_path)
    assert len(pages) > 5
    for number, text in enumerate(pages, 1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        last = lines[-1]
        # a page may end with a row or a filler paragraph, never a caption or a header alone
        assert not re.match(r"^(Caption\d+|Head\d+|Figure|Head\d+ Figure)$", last), (
            f"page {number} ends with {last!r}:\n{text}"
        )


# -- charts ---------------------------------------------------------------------------------------
def _months(n: int) -> list[str]:
    start = date(2025, 12, 1)
    end = date(start.year + (start.month - 1 + n - 1) // 12, (start.month - 1 + n - 1) % 12 + 1, 1)
    return Period(start, end).months


@pytest.mark.parametrize("n", [5, 6, 12, 24, 36])
def test_month_labels_of_a_bar_chart_never_overlap(n):
    months = _months(n)
    fig = common_blocks.bar_figure(
        common_blocks.month_ticks(months), [1] * n, "Reflections submitted"
    )
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    boxes = sorted(
        (t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels() if t.get_text()),
        key=lambda b: b.x0,
    )
    assert len(boxes) >= min(n, 12)  # a year's months are all labelled
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert a.x1 < b.x0, f"labels overlap: {a} and {b}"
        assert abs(a.y1 - b.y1) < 1  # horizontal, top-aligned


@pytest.mark.parametrize("n", [6, 12, 24, 60])
def test_month_labels_of_a_line_chart_never_overlap(n):
    months = _months(n)
    labels = [community_blocks._short_month(m) for m in months]
    svg = base64.b64decode(
        report_html.line_svg(
            labels, [report_html.Series("Before", [3.0] * n, "#000")], 1, 5, "Mean"
        )
    ).decode()
    drawn = [
        (float(x), label)
        for x, label in re.findall(r'<text x="([0-9.]+)" y="[0-9.]+" text-anchor="middle"[^>]*>'
                                   r"([A-Z][a-z]{2} [0-9]{4})</text>", svg)
    ]  # fmt: skip
    assert drawn and drawn[0][1] == labels[0]
    font = FontProperties(family="DejaVu Sans")
    width = {lab: TextPath((0, 0), lab, size=11, prop=font).get_extents().width for lab in labels}
    for (x1, a), (x2, b) in zip(drawn, drawn[1:], strict=False):
        assert x2 - x1 > (width[a] + width[b]) / 2 + 2, f"{a} and {b} overlap"
