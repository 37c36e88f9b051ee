"""A rendered report opened in real Chromium: a reflection's markup is text, nothing runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cop_widgets.reports.render import render_report
from cop_widgets.services import reflections
from cop_widgets.services.identity import find_or_add_person

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOADS = {
    "what": "<script>window.__pwned=1</script>",
    "so_what": '<img src=x onerror="window.__pwned=2">',
    "now_what": "</dd></dl></article><script>window.__pwned=3</script><b>bold?</b>",
}


def _open(context, report):
    """The report file in a new page, with the requests it made and the script errors seen."""
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    return page, requests, errors


def test_a_script_in_a_reflection_is_shown_as_text_and_never_runs(
    browser, store, rolfe, data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    ana = find_or_add_person(store, "Ana <b>")
    reflections.submit(
        store,
        ana,
        str(uuid.uuid4()),
        rolfe,
        {stage: reflections.Answer(text) for stage, text in PAYLOADS.items()},
        "private",
    )
    today = datetime.now(UTC).date()
    period = {"date_from": (today - timedelta(days=1)).isoformat(), "date_to": today.isoformat()}
    done = render_report("person_record", {"person_id": ana.id, **period}, tmp_path / "ana.html")

    context = browser.new_context()
    try:
        page, requests, errors = _open(context, done.html)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        for text in PAYLOADS.values():
            shown = page.locator(".cop-text", has_text=text)
            assert shown.count() == 1 and shown.is_visible(), text
        assert page.locator("img[src='x']").count() == 0
        assert page.locator(".cop-entry b").count() == 0
        assert page.title().startswith("CPD record: Ana <b>")
        assert page.locator("h1").inner_text() == "CPD record: Ana <b>"
        # The page is self-contained: only itself and embedded images were loaded.
        assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
        assert errors == []
    finally:
        context.close()


def _pages(pdf: bytes) -> int:
    import re

    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_session_report_in_chromium_shows_markup_as_text_and_prints_whole(
    browser, store, data_dir, tmp_path, monkeypatch
):
    from cop_widgets.reports.render import render_reports
    from tests.reports.test_session_report import XSS, seed_room

    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    room = seed_room(store, people=8)
    quiet = seed_room(store, people=3, answer=False, discuss=False)
    full, short = render_reports(
        [
            ("session_report", {"session_id": room["today"].id}, tmp_path / "full.html"),
            ("session_report", {"session_id": quiet["today"].id}, tmp_path / "short.html"),
        ],
        pdf=True,
    )
    context = browser.new_context(viewport={"width": 690, "height": 1000})
    try:
        page, requests, errors = _open(context, full.html)
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("script").count() == 0
        assert page.locator("h1").inner_text() == f"Session report: Neglect {XSS}"
        assert page.title() == f"Session report · Neglect {XSS} · {room['today'].starts_at.date()}"
        for shown in (
            page.locator("[data-insight]", has_text=f"Start with what the parent wants {XSS}"),
            page.locator("[data-table=actions] th", has_text=f"Share the checklist {XSS}"),
            page.locator("[data-resource]", has_text=f"Practice guide {XSS}"),
        ):
            assert shown.count() == 1 and shown.is_visible()
        # Every chart has a text alternative; the page loaded nothing but itself.
        images = page.locator("img")
        assert images.count() == 3  # one confidence pair, two reactions
        assert all(len(images.nth(i).get_attribute("alt") or "") > 40 for i in range(3))
        assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
        assert errors == []
        # Printed: as many A4 pages as the print layout is tall (265 mm of page each), or one
        # more where a chart or a table row moved whole to the next page.
        counts = []
        for done in (full, short):
            page.goto(done.html.as_uri())
            page.emulate_media(media="print")
            tall = page.evaluate("document.documentElement.scrollHeight")
            at_least = -(-tall // round(265 / 25.4 * 96))
            counts.append(_pages(done.pdf.read_bytes()))
            assert at_least <= counts[-1] <= at_least + 1, (done.pdf.name, tall, counts[-1])
        assert counts[1] <= 2 < counts[0]  # the report of a session nobody answered is short
    finally:
        context.close()


def test_a_coordinator_makes_the_community_report_in_the_community_app(page, voila_server):
    """The community app's "Community report": the button, the progress line while the report
    is made in the page's kernel, then the two downloads with readable names."""
    from cop_widgets.services import accounts, sessions

    link = voila_server.sign_in_link("Rhea Coordinator")  # adds her
    store = voila_server.open_store()
    try:
        rhea = accounts.find_by_name(store, "Rhea Coordinator")
        sessions.create_community(store, rhea, "Kinship Carers CoP")
    finally:
        store.dispose()
    assert link
    voila_server.sign_in(page, "Rhea Coordinator", app="community.ipynb")
    page.get_by_role("heading", name="Community report").wait_for(timeout=60_000)
    page.get_by_role("button", name="Make the report").click()
    page.get_by_text("Making the report…").wait_for(timeout=30_000)
    html_link = page.locator("a.cop-report-download").first
    html_link.wait_for(timeout=120_000)
    name = html_link.get_attribute("download")
    assert name.startswith("kinship-carers-cop_") and name.endswith("_community-report.html")
    pdf = page.locator('a.cop-report-download[download$=".pdf"]')
    assert pdf.get_attribute("download") == name.replace(".html", ".pdf")
    with page.expect_download() as got:
        html_link.click()
    body = Path(got.value.path()).read_text(encoding="utf-8")
    assert "Community growth: <bdi>Kinship Carers CoP</bdi>" in body
    assert page.get_by_role("button", name="Make the report").is_enabled()
