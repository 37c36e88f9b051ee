"""Every served page, as a person who sees the most on it (a coordinator running a session
now), at 1280×800 and at a phone's 390×844 in real Chromium: a screenshot of each
(build/screenshots/), no sideways scrolling, no control beyond the window's edge, and axe finds
nothing serious or critical. Each page's front end comes in the page bundle
(serving/page_bundle.py): no page fetches one of its chunks on its own. New workbooks are covered
as soon as they are served. (The review server's page: tests/e2e/test_review_browser.py, beside
the review server's other tests.)

With COP_RECORD_PAGE_CHUNKS=1 (after an upgrade of Voilà or ipywidgets), the server runs without
the bundle and this test writes the chunks the pages fetched to serving/page_chunks.json."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest
from playwright.sync_api import Page

from cop_widgets.serving.page_bundle import CHUNKS_FILE, RECORD_ENV, ROUTE
from tests.e2e.conftest import served_notebooks
from tests.e2e.pagecheck import DESKTOP, check_both_sizes

# A chunk of Voilà's front end, or of a lab extension (its remoteEntry.js is not a chunk: Voilà
# loads it to find the extension's modules).
CORE_CHUNK = re.compile(r"/voila/static/(\d+\.voila\.js)$")
EXTENSION_CHUNK = re.compile(r"/voila/labextensions/(.+?)/(static/[^/]+\.js)$")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _a_session_now(server, name: str) -> dict[str, str]:
    """A community this person coordinates, with a session open now that they joined."""
    from cop_widgets.services import accounts, sessions

    store = server.open_store()
    try:
        host = accounts.find_by_name(store, name)
        cop = sessions.create_community(store, host, "Every page CoP")
        starts = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        made = sessions.plan_session(store, host, cop.id, starts, "Looking at every page")
        sessions.join(store, host, made.join_code, dt.datetime.now(dt.UTC))
        return {"code": made.join_code, "session": made.id}
    finally:
        store.dispose()


def _query(notebook: str, ids: dict[str, str]) -> str:
    """What a page is opened with when a person follows the app's own link to it."""
    return {
        "session.ipynb": f"?code={ids['code']}",
        "board.ipynb": f"?code={ids['code']}",
        "run_sheet.ipynb": f"?session={ids['session']}",
    }.get(notebook, "")


# What shows that a page whose lower parts follow its first render (apps/_page_connected.py)
# is whole: the library's entry form comes after its first page of entries.
COMPLETE_WHEN = {"library.ipynb": ".cop-lib-form-save"}


def test_every_participant_page_fits_a_phone_and_passes_axe(page: Page, voila_server):
    name = "Edie Everypage"
    page.set_viewport_size(DESKTOP)
    voila_server.sign_in_link(name, "coordinator")  # her account, then her session now
    ids = _a_session_now(voila_server, name)
    notebooks = served_notebooks()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url.split("?")[0]))
    # signing in leads her to the first page; she opens each of the others in turn
    first = notebooks[0]
    voila_server.sign_in(page, name, "coordinator", app=first + _query(first, ids))
    found: list[str] = []
    for notebook in notebooks:
        if notebook != first:
            voila_server.open_app(page, notebook, _query(notebook, ids))
        page.wait_for_load_state("load")
        if notebook in COMPLETE_WHEN:  # parts built once the page has connected: checked too
            page.locator(COMPLETE_WHEN[notebook]).first.wait_for(timeout=30_000)
        found += check_both_sizes(page, notebook.removesuffix(".ipynb"))
    assert found == [], "\n".join(found)
    chunks = _chunks(requested)
    if os.environ.get(RECORD_ENV) == "1":
        _record(chunks)
        return
    fetched_alone = chunks["core"] + [
        f"{extension}/{name}" for extension, names in chunks["labextensions"].items()
        for name in names
    ]  # fmt: skip
    assert fetched_alone == [], (
        f"pages fetched these chunks on their own, not from the page bundle: {fetched_alone}. "
        f"Record the list again: {RECORD_ENV}=1 .venv/bin/python -m pytest {__file__}"
    )
    assert any(f"/{ROUTE}" in url for url in requested), "no page loaded the page bundle"


def _chunks(urls: list[str]) -> dict:
    """The chunks among the URLs, in the order first asked for."""
    core: list[str] = []
    extensions: dict[str, list[str]] = {}
    for url in urls:
        if found := CORE_CHUNK.search(url):
            core += [found[1]] if found[1] not in core else []
        elif (found := EXTENSION_CHUNK.search(url)) and "/remoteEntry." not in found[2]:
            names = extensions.setdefault(found[1], [])
            names += [found[2]] if found[2] not in names else []
    return {"core": core, "labextensions": extensions}


def _record(chunks: dict) -> None:
    import voila

    assert chunks["core"], "no chunk was fetched: is the server's page bundle off?"
    recorded = {
        "how": f"the chunks every served page fetched: {RECORD_ENV}=1 .venv/bin/python -m "
        "pytest tests/e2e/test_every_page.py (serving/page_bundle.py)",
        "voila": voila.__version__,
        **chunks,
    }
    CHUNKS_FILE.write_text(json.dumps(recorded, indent=1) + "\n", encoding="utf-8")
    print(f"recorded {len(chunks['core'])} of Voilà's chunks and", {
        extension: len(names) for extension, names in chunks["labextensions"].items()
    }, "in", CHUNKS_FILE)  # fmt: skip
