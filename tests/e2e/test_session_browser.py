"""A coordinator plans a session in the browser; participants join by its link."""

import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from .conftest import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(page: Page, url: str, name: str) -> None:
    page.goto(url, wait_until="commit")
    page.locator(".cop-name input").wait_for(state="visible", timeout=60_000)
    page.locator(".cop-name input").fill(name)
    page.locator(".cop-start").click()
    expect(page.locator(".cop-name input")).to_be_hidden()  # signed in


def test_plan_then_join_by_link_counts_each_person_once(page: Page, browser, voila_server):
    sign_in(page, voila_server.url("community.ipynb"), "Cora Coordinator")
    page.locator(".cop-new-name input").fill("Family support CoP")
    page.locator(".cop-create").click()
    expect(page.locator(".cop-status")).to_contain_text("created")
    # today at noon (UTC, the default zone): the code is open for a day either side
    page.locator(".cop-plan-date input").fill(f"{datetime.now(UTC):%Y-%m-%d}")
    page.locator(".cop-plan-time input").fill("12:00")
    page.locator(".cop-plan-topic input").fill("Engaging fathers")
    page.locator(".cop-plan-plan").click()
    expect(page.locator(".cop-status")).to_contain_text("join code")
    code = page.locator(".cop-join-code").first.inner_text()
    assert len(code) == 6

    other = browser.new_context().new_page()
    other.on("dialog", lambda d: d.accept())
    for _ in range(2):  # the same person opens the link twice
        sign_in(other, voila_server.url("session.ipynb") + f"?code={code}", "Pat Participant")
        expect(other.locator(".cop-app")).to_contain_text("attendance is recorded")
    other.goto(voila_server.url("session.ipynb") + "?code=WRONG2", wait_until="commit")
    other.locator(".cop-name input").fill("Pat Participant")
    other.locator(".cop-start").click()
    expect(other.locator(".cop-status")).to_contain_text("No session has the code WRONG2")
    other.context.close()

    with voila_server.db() as db:
        joined = db.execute(
            "SELECT p.display_name FROM attendance a JOIN person p ON p.id = a.person_id "
            "JOIN cop_session s ON s.id = a.session_id WHERE s.join_code = ?",
            (code,),
        ).fetchall()
    assert [r[0] for r in joined] == ["Pat Participant"]


def test_report_templates_are_never_rendered_for_a_browser(voila_server):
    templates = sorted((REPO / "workbooks" / "reports").glob("*.ipynb"))
    assert templates, "workbooks/reports/ holds the report templates"
    for template in templates:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(voila_server.url(f"reports/{template.name}"), timeout=30)  # noqa: S310
        assert refused.value.code == 404


def test_board_updates_after_reveal_and_only_past_the_minimum_group(browser, voila_server):
    from cop_widgets.services import sessions as X
    from cop_widgets.services.identity import sign_in as store_sign_in
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(
        Settings(voila_server.data_dir, f"sqlite:///{voila_server.data_dir / 'cop.sqlite'}", 5000)
    )
    coord = store_sign_in(store, "Board Coordinator", environ={})
    cop = X.create_community(store, coord, "Board CoP")
    session = X.plan_session(store, coord, cop.id, datetime.now(UTC), "Board session")
    fran = store_sign_in(store, "Board Facilitator", environ={})
    X.set_session_roles(store, coord, session.id, {"facilitator": fran.id})
    store.dispose()

    board = browser.new_context().new_page()
    board.on("dialog", lambda d: d.accept())
    sign_in(board, voila_server.url("board.ipynb"), "Board Facilitator")
    board.locator(".cop-board-code input").fill(session.join_code)
    board.locator(".cop-board-open").click()
    expect(board.locator(".cop-board-counts")).to_contain_text("0 joined")

    for n, (rating, word) in enumerate([("5", "clear"), ("3", "tired"), ("4", "clear")]):
        page = browser.new_context().new_page()
        page.on("dialog", lambda d: d.accept())
        sign_in(
            page,
            voila_server.url("session.ipynb") + f"?code={session.join_code}",
            f"Board Participant {n}",
        )
        page.locator(".cop-checkout").click()
        page.locator(".cop-item-useful button", has_text=rating).click()
        page.locator(".cop-item-one_word input").fill(word)
        page.locator(".cop-send-checkout").click()
        expect(page.locator(".cop-status")).to_contain_text("is saved")
        page.context.close()
        # the board follows within about a second, without a reload
        expect(board.locator(".cop-board-counts")).to_contain_text(
            f"Check-out: {n + 1}", timeout=5_000
        )
        if n == 0:
            expect(board.locator(".cop-app")).to_contain_text("hidden until you reveal")
            board.locator(".cop-board-reveal").click()
        if n < 2:
            expect(board.locator(".cop-app")).to_contain_text("fewer than 3, not shown")
    expect(board.locator(".cop-app")).to_contain_text(
        "3 rating(s): lowest 3, highest 5", timeout=5_000
    )
    expect(board.locator(".cop-words").first).to_contain_text("clear (2)")
    board.context.close()


def test_join_page_loads_only_local_files_and_only_the_widget_front_end(page: Page, voila_server):
    """Every participant's browser fetches what the page lists, at once, in a room: nothing
    from the internet, and no front-end extension the apps do not use (syntax highlighting)."""
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, voila_server.url("session.ipynb"), "Lou Local")
    expect(page.locator(".cop-status")).to_contain_text("Signed in as Lou Local")
    origin = voila_server.base
    foreign = [u for u in requested if not u.startswith((origin, "ws://127.0.0.1", "data:"))]
    assert requested and foreign == []
    extensions = {
        u.split("/labextensions/")[1].split("/static/")[0]
        for u in requested
        if "/labextensions/" in u
    }
    assert extensions == {
        "@jupyter-widgets/jupyterlab-manager",
        "@voila-dashboards/widgets-manager8",
    }
