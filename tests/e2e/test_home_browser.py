"""The home page in real headless Chromium: the served root leads to it after sign-in, each
role sees its own cards, the join box opens the join page, every app's "Home" leads back, a
phone-width screen (390 px) never scrolls sideways, and axe finds nothing serious."""

import datetime as dt
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pagecheck import PHONE, SHOTS, fit_problems
from tests.e2e.pagecheck import serious_violations as _serious

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOME = "/voila/render/home.ipynb"


def _open_home_from_root(page: Page, server) -> None:
    """The served root, as a person types it: it leads to the home page."""
    page.goto(server.base + "/", wait_until="commit")
    page.locator(".cop-home .cop-cards").wait_for(state="visible", timeout=60_000)
    assert page.url == server.base + HOME


def _card_titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(".cop-card-title").all_inner_texts()]


def _plan_a_session_now(server) -> str:
    """A community with a session starting in half an hour (its code opens now)."""
    from cop_widgets.services import accounts, sessions

    store = server.open_store()
    try:
        host = accounts.find_by_name(store, "Hana Host") or accounts.add_person(
            store, "Hana Host", "facilitator"
        )
        cop = sessions.create_community(store, host, "Northside \u202eCoP")
        starts = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
        return sessions.plan_session(store, host, cop.id, starts, "Working with fathers").join_code
    finally:
        store.dispose()


def _no_sideways_scroll(page: Page) -> None:
    assert fit_problems(page, "home") == []


def test_a_practitioner_finds_their_way_from_the_home_page(page: Page, voila_server):
    code = _plan_a_session_now(voila_server)
    voila_server.sign_in(page, "Pia Practitioner", "practitioner", app="home.ipynb")
    _open_home_from_root(page, voila_server)
    expect(page.locator(".cop-whoami")).to_contain_text("Signed in as Pia Practitioner")
    assert _card_titles(page) == [
        "Join a session", "My page", "My reflections", "Case discussions", "My community",
        "Communities", "Practice library", "Questions between sessions", "Member directory",
    ]  # fmt: skip
    expect(page.locator(".cop-card-people, .cop-card-review")).to_have_count(0)
    assert ".ipynb" not in page.locator(".cop-app").inner_text()
    expect(page.locator(".cop-home-upcoming")).to_contain_text("not in a community yet")

    # the join box: a code typed in lower case, Enter, and the join page takes it
    page.get_by_label("Join code").fill(code.lower())
    page.get_by_label("Join code").press("Enter")
    page.wait_for_url(re.compile(r"/voila/render/session\.ipynb\?code=" + code.lower()))
    expect(page.locator(".cop-app")).to_contain_text("You are in", timeout=60_000)
    expect(page.get_by_role("link", name="open the case discussion")).to_be_visible()

    # every app's header leads home; home now lists the session of Pia's new community
    page.locator(".cop-whoami").get_by_role("link", name="Home").click()
    page.locator(".cop-home .cop-cards").wait_for(state="visible", timeout=60_000)
    assert page.url == voila_server.base + HOME
    expect(page.locator(".cop-home-upcoming")).to_contain_text("Working with fathers")
    expect(page.locator(".cop-home-upcoming bdi").nth(1)).to_have_text("Northside \u202eCoP")

    # a card is a link the keyboard reaches and opens
    card = page.get_by_role("link", name=re.compile("^My reflections"))
    card.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/voila/render/reflection\.ipynb$"))
    page.locator(".cop-new").wait_for(state="visible", timeout=60_000)
    page.locator(".cop-whoami").get_by_role("link", name="Home").click()
    page.locator(".cop-home .cop-cards").wait_for(state="visible", timeout=60_000)

    found = _serious(page, "home, 1280 px")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "home-practitioner-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.reload(wait_until="commit")
    page.locator(".cop-home .cop-cards").wait_for(state="visible", timeout=60_000)
    _no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "home-practitioner-390.png"), full_page=True)
    found += _serious(page, "home, 390 px")
    assert found == []


def test_a_coordinator_sees_people_and_planning(page: Page, voila_server):
    _plan_a_session_now(voila_server)  # a community exists: a global coordinator runs it
    voila_server.sign_in(page, "Cora Coordinator", "coordinator", app="home.ipynb")
    page.set_viewport_size(PHONE)
    _open_home_from_root(page, voila_server)
    titles = _card_titles(page)
    assert "People and sign-in links" in titles and "Plan sessions" in titles
    assert "My community" not in titles and "Review reflections" not in titles
    expect(page.locator(".cop-home-upcoming")).to_contain_text("join code")
    _no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "home-coordinator-390.png"), full_page=True)
    found = _serious(page, "coordinator's home, 390 px")
    # the People card opens the community app with its People panel first
    page.get_by_role("link", name=re.compile("^People and sign-in links")).click()
    page.wait_for_url(re.compile(r"/voila/render/community\.ipynb\?panel=people$"))
    expect(page.locator(".cop-app h2").first).to_have_text("People", timeout=60_000)
    assert found == []
