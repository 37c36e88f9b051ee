"""A coordinator plans a session in the browser; participants join by its link."""

import urllib.request
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from cop_widgets.reports.render import REPORTS_DIR
from tests.e2e.pagecheck import leave_the_field_until_the_kernel_has_it

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def new_page(browser):
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda d: d.accept())
    return page


def test_plan_then_join_by_link_counts_each_person_once(page: Page, browser, voila_server):
    voila_server.sign_in(page, "Cora Coordinator", "coordinator", app="community.ipynb")
    page.locator(".cop-new-name input").fill("Family support CoP")
    page.locator(".cop-create").click()
    expect(page.locator(".cop-status")).to_contain_text("created")
    # today at noon (UTC, the default zone): the code is open for a day either side
    page.locator(".cop-plan-date input").fill(f"{datetime.now(UTC):%Y-%m-%d}")
    page.locator(".cop-plan-time input").fill("12:00")
    topic = page.locator(".cop-plan-topic input")
    topic.fill("Engaging fathers")
    leave_the_field_until_the_kernel_has_it(page, topic)
    page.locator(".cop-plan-plan").click()
    expect(page.locator(".cop-status")).to_contain_text("join code")
    code = page.locator(".cop-join-code").first.inner_text()
    assert len(code) == 6

    other = new_page(browser)
    join_link = voila_server.url("session.ipynb") + f"?code={code}"
    # signed out, the join link goes through the sign-in page and on to the session
    other.goto(join_link)
    assert other.url.startswith(voila_server.base + "/login?")
    expect(other.get_by_role("heading", name="New here? Create your account")).to_be_visible()
    voila_server.sign_in(other, "Pat Participant", app=f"session.ipynb?code={code}")
    expect(other.locator(".cop-app")).to_contain_text("attendance is recorded")
    # the same person opens the link again, now signed in: straight to the session
    voila_server.open_app(other, "session.ipynb", f"?code={code}")
    expect(other.locator(".cop-app")).to_contain_text("attendance is recorded")
    voila_server.open_app(other, "session.ipynb", "?code=WRONG2")
    expect(other.locator(".cop-status")).to_contain_text("No session has the code WRONG2")
    other.context.close()

    with voila_server.db() as db:
        joined = db.execute(
            "SELECT p.display_name FROM attendance a JOIN person p ON p.id = a.person_id "
            "JOIN cop_session s ON s.id = a.session_id WHERE s.join_code = ?",
            (code,),
        ).fetchall()
    assert [r[0] for r in joined] == ["Pat Participant"]


def test_report_templates_are_never_rendered_for_a_browser(page: Page, voila_server):
    # package data (never in the served folder); their old URLs, reports/..., serve nothing
    templates = sorted(REPORTS_DIR.glob("*.ipynb"))
    assert templates, "cop_widgets/reports/notebooks/ holds the report templates"
    # signed out: the sign-in page, nothing of the template
    for template in templates:
        url = voila_server.url(f"reports/{template.name}")
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310
            assert urlsplit(answer.url).path == "/login"
            assert "jupyter-config-data" not in answer.read().decode()
    # signed in: still not rendered (the browser's own cookie, through Playwright's requests)
    voila_server.sign_in(page, "Rita Reports", app="directory.ipynb")
    for template in templates:
        refused = page.request.get(voila_server.url(f"reports/{template.name}"), timeout=30_000)
        assert refused.status == 404, template.name
    assert page.request.get(voila_server.url("directory.ipynb")).status == 200


def test_board_updates_after_reveal_and_only_past_the_minimum_group(browser, voila_server):
    from cop_widgets.services import sessions
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(
        Settings(voila_server.data_dir, f"sqlite:///{voila_server.data_dir / 'cop.sqlite'}", 5000)
    )
    coord = find_or_add_person(store, "Board Coordinator")
    cop = sessions.create_community(store, coord, "Board CoP")
    session = sessions.plan_session(store, coord, cop.id, datetime.now(UTC), "Board session")
    fran = find_or_add_person(store, "Board Facilitator")
    sessions.add_member(
        store, coord, cop.id, fran.id, "member"
    )  # roles go to the community's members
    sessions.set_session_roles(store, coord, session.id, {"facilitator": fran.id})
    sessions.open_checkout(store, coord, session.id)  # the room goes straight to its check-out
    store.dispose()

    board = new_page(browser)
    voila_server.sign_in(board, "Board Facilitator", app="board.ipynb")
    board.locator(".cop-board-code input").fill(session.join_code)
    board.locator(".cop-board-open").click()
    expect(board.locator(".cop-board-counts")).to_contain_text("0 joined")

    for n, (rating, word) in enumerate([("5", "clear"), ("3", "tired"), ("4", "clear")]):
        page = new_page(browser)
        voila_server.sign_in(
            page, f"Board Participant {n}", app=f"session.ipynb?code={session.join_code}"
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
    voila_server.sign_in(page, "Lou Local", app="session.ipynb")
    expect(page.locator(".cop-whoami")).to_contain_text("Signed in as Lou Local")
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
