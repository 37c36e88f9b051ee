"""Questions between sessions in real headless Chromium: one member asks her community a
question; another, on a phone-width screen, answers it; she marks the answer as one that helped
and saves the thread to the library, where it waits among her drafts."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import report_browser_errors
from tests.e2e.pagecheck import PHONE, fit_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = "Fathers who miss home visits"
QUESTION = "He has missed three visits. What do you try first, before writing to him?"
ANSWER = "A short text the day before, saying why we come, made the next visit happen."


def _community(server) -> None:
    """An open community with two members."""
    from cop_widgets.services import accounts, membership, sessions

    store = server.open_store()
    try:
        host = accounts.add_person(store, "Quinn Asker", "practitioner")
        made = sessions.create_community(store, host, "Between sessions CoP")
        membership.set_join_policy(store, host, made.id, "open", False)
        membership.join(store, accounts.add_person(store, "Rae Answerer", "practitioner"), made.id)
    finally:
        store.dispose()


def test_a_member_asks_another_answers_and_the_thread_goes_to_the_library(
    page: Page, browser, voila_server
):
    _community(voila_server)
    page.set_default_timeout(30_000)
    voila_server.sign_in(page, "Quinn Asker", app="questions.ipynb")
    page.locator(".cop-q-form-save").wait_for(state="visible", timeout=60_000)
    page.locator(".cop-q-form-title input").fill(TITLE)
    page.locator(".cop-q-form-body textarea").fill(QUESTION)
    page.locator(".cop-q-form-save").click()
    expect(page.locator(".cop-status")).to_contain_text("Your question is with your community")
    expect(page.locator(".cop-q-thread h2")).to_have_text(TITLE)

    other = browser.new_context(viewport=PHONE)
    try:
        phone = other.new_page()
        report_browser_errors(phone)
        phone.set_default_timeout(30_000)
        voila_server.sign_in(phone, "Rae Answerer", app="questions.ipynb")
        expect(phone.locator(".cop-q-list")).to_contain_text("Waiting for an answer (1)")
        phone.locator(".cop-q-open", has_text=TITLE).click()
        phone.locator(".cop-q-answer-text textarea").fill(ANSWER)
        phone.locator(".cop-q-answer-send").click()
        expect(phone.locator(".cop-status")).to_contain_text("Your answer is added")
        expect(phone.locator(".cop-q-answer")).to_contain_text(ANSWER)
        assert fit_problems(phone, "questions thread, 390 px") == []
    finally:
        other.close()

    # the asker, back on her list: the new answer is counted; she opens it and marks it
    page.locator(".cop-q-back").click()
    expect(page.locator(".cop-q-list")).to_contain_text("1 new answer")
    page.locator(".cop-q-open", has_text=TITLE).click()
    expect(page.locator(".cop-q-answer")).to_contain_text(ANSWER)
    page.locator(".cop-q-helped").click()
    expect(page.locator(".cop-q-unhelped")).to_be_visible()
    page.locator(".cop-q-save-library").click()
    expect(page.locator(".cop-status")).to_contain_text("Saved to the library as your draft")
    link = page.locator(".cop-q-library-link")
    expect(link).to_have_text("Open your draft in the library")
    assert re.fullmatch(r"library\.ipynb\?entry=[0-9a-f-]{36}", link.get_attribute("href"))

    # her library: the draft is there, for her to edit and publish
    voila_server.open_app(page, "library.ipynb")
    drafts = page.locator(".cop-lib-drafts")
    expect(drafts).to_contain_text("My drafts (1)")
    expect(drafts.locator(".cop-lib-draft")).to_contain_text(TITLE)
    with voila_server.db() as db:
        row = db.execute(
            "SELECT e.status, e.body, a.helped_at FROM question q "
            "JOIN library_entry e ON e.id = q.library_entry_id "
            "JOIN question_answer a ON a.question_id = q.id WHERE q.title = ?",
            (TITLE,),
        ).fetchone()
    assert row["status"] == "draft" and ANSWER in row["body"] and row["helped_at"]
