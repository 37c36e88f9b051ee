"""Every served page, as a person who sees the most on it (a coordinator running a session
now), at 1280×800 and at a phone's 390×844 in real Chromium: a screenshot of each
(build/screenshots/), no sideways scrolling, no control beyond the window's edge, and axe finds
nothing serious or critical. New workbooks are covered as soon as they are served."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import served_notebooks
from tests.e2e.pagecheck import DESKTOP, PHONE, fit_problems, screenshot, serious_violations

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


def _check_both_sizes(page: Page, name: str) -> list[str]:
    found = serious_violations(page, f"{name}, 1280 px") + fit_problems(page, f"{name}, 1280 px")
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)  # the layout settles after the resize
    found += serious_violations(page, f"{name}, 390 px") + fit_problems(page, f"{name}, 390 px")
    screenshot(page, f"{name}-390")
    page.set_viewport_size(DESKTOP)
    return found


def test_every_participant_page_fits_a_phone_and_passes_axe(page: Page, voila_server):
    name = "Edie Everypage"
    page.set_viewport_size(DESKTOP)
    voila_server.sign_in(page, name, "coordinator", app="home.ipynb")
    ids = _a_session_now(voila_server, name)
    found: list[str] = []
    for notebook in served_notebooks():
        voila_server.open_app(page, notebook, _query(notebook, ids))
        page.wait_for_load_state("load")
        found += _check_both_sizes(page, notebook.removesuffix(".ipynb"))
    assert found == [], "\n".join(found)


def test_the_review_page_fits_a_phone_and_passes_axe(page: Page, review_server):
    page.set_viewport_size(DESKTOP)
    review_server.sign_in(page, "Suki Supervisor", "supervisor", app="supervisor_review.ipynb")
    page.wait_for_load_state("load")
    found = _check_both_sizes(page, "supervisor_review")
    assert found == [], "\n".join(found)
