"""A rendered report opened in real Chromium: a reflection's markup is text, nothing runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cop_widgets.reports.render import render_report
from cop_widgets.services import reflections as R
from cop_widgets.services.identity import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOADS = {
    "what": "<script>window.__pwned=1</script>",
    "so_what": '<img src=x onerror="window.__pwned=2">',
    "now_what": "</dd></dl></article><script>window.__pwned=3</script><b>bold?</b>",
}


def test_a_script_in_a_reflection_is_shown_as_text_and_never_runs(
    browser, store, rolfe, data_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("COP_DATABASE_URL", raising=False)
    ana = sign_in(store, "Ana <b>", environ={})
    R.submit(
        store,
        ana,
        str(uuid.uuid4()),
        rolfe,
        {stage: R.Answer(text) for stage, text in PAYLOADS.items()},
        "private",
    )
    today = datetime.now(UTC).date()
    period = {"date_from": (today - timedelta(days=1)).isoformat(), "date_to": today.isoformat()}
    done = render_report("person_record", {"person_id": ana.id, **period}, tmp_path / "ana.html")

    context = browser.new_context()
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(done.html.as_uri())
        page.wait_for_load_state("load")
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
