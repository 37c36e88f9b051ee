"""Every served page, as a person who sees the most on it (a coordinator running a session
now), at 1280×800 and at a phone's 390×844 in real Chromium: a screenshot of each
(build/screenshots/), no sideways scrolling, no control beyond the window's edge, and axe finds
nothing serious or critical. New workbooks are covered as soon as they are served. (The review
server's page: tests/e2e/test_review_browser.py, beside the review server's other tests.)"""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import served_notebooks
from tests.e2e.pagecheck import DESKTOP, check_both_sizes

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


def test_every_participant_page_fits_a_phone_and_passes_axe(page: Page, voila_server):
    name = "Edie Everypage"
    page.set_viewport_size(DESKTOP)
    voila_server.sign_in_link(name, "coordinator")  # her account, then her session now
    ids = _a_session_now(voila_server, name)
    notebooks = served_notebooks()
    # signing in leads her to the first page; she opens each of the others in turn
    first = notebooks[0]
    voila_server.sign_in(page, name, "coordinator", app=first + _query(first, ids))
    found: list[str] = []
    for notebook in notebooks:
        if notebook != first:
            voila_server.open_app(page, notebook, _query(notebook, ids))
        page.wait_for_load_state("load")
        found += check_both_sizes(page, notebook.removesuffix(".ipynb"))
    assert found == [], "\n".join(found)
