"""The practice library in real headless Chromium: one member adds an entry from the home page's
card; another member, on a phone-width screen, finds it by searching a word of its text and
endorses it."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.pagecheck import PHONE, fit_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = "Texting fathers before a home visit"
BODY = "A short text the day before made the visit calmer: he knew why we were coming."


def _community(server) -> None:
    """An open community with two members."""
    from cop_widgets.services import accounts, membership, sessions

    store = server.open_store()
    try:
        host = accounts.add_person(store, "Lena Library", "practitioner")
        made = sessions.create_community(store, host, "Fathers' practice CoP")
        membership.set_join_policy(store, host, made.id, "open", False)
        membership.join(store, accounts.add_person(store, "Bo Browser", "practitioner"), made.id)
    finally:
        store.dispose()


def test_a_member_adds_an_entry_another_finds_and_endorses_it(page: Page, browser, voila_server):
    _community(voila_server)
    voila_server.sign_in(page, "Lena Library", app="home.ipynb")
    page.get_by_role("link", name=re.compile("^Practice library")).click()
    page.wait_for_url(re.compile(r"/voila/render/library\.ipynb$"))
    page.locator(".cop-lib-form-save").wait_for(state="visible", timeout=60_000)
    page.locator(".cop-lib-form-title input").fill(TITLE)
    page.locator(".cop-lib-form-body textarea").fill(BODY)
    page.get_by_label("Working with fathers").check()
    page.locator(".cop-lib-form-save").click()
    expect(page.locator(".cop-status")).to_contain_text("Added to the library")
    expect(page.locator(".cop-lib-entry h2")).to_have_text(TITLE)

    other = browser.new_context(viewport=PHONE)
    try:
        phone = other.new_page()
        voila_server.sign_in(phone, "Bo Browser", app="library.ipynb")
        search = phone.locator(".cop-lib-search input")
        search.fill("calmer")
        search.press("Enter")
        found = phone.locator(".cop-lib-open")
        expect(found).to_have_count(1)
        expect(found).to_have_text(TITLE)
        found.click()
        phone.locator(".cop-lib-endorse").click()
        expect(phone.locator(".cop-lib-entry")).to_contain_text(
            "1 member found this helped their practice"
        )
        expect(phone.locator(".cop-lib-unendorse")).to_be_visible()
        assert fit_problems(phone, "library entry, 390 px") == []
    finally:
        other.close()
    with voila_server.db() as db:
        endorsed = db.execute(
            "SELECT count(*) FROM library_endorsement e JOIN library_entry l ON l.id = e.entry_id "
            "WHERE l.title = ?",
            (TITLE,),
        ).fetchone()
    assert endorsed[0] == 1
