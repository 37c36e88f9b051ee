"""The library grows from sessions, in real headless Chromium: after a finished session the
facilitator's run sheet offers its practice insight; one key press makes it a library draft;
the link opens the draft in the library for editing; she saves and publishes it. Another
member, on a phone-width screen, does not find the draft, then finds the published entry by a
word of it. The run sheet and the draft fit 390 px and pass axe."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import REPO
from tests.e2e.pagecheck import PHONE, fit_problems, serious_violations, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INSIGHT = "Invite the father to write the first goal of the plan himself; he stays involved."
CASE = "A family where the father has never come to a planning meeting."
TITLE = "Fathers write the first goal"


def _finished_session(server) -> str:
    """A closed session of an open community: Fay facilitated, Nia took the notes of its
    consultancy discussion (an insight, and a note of another phase); Bo is a member."""
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.services import accounts, discussions, membership, sessions

    consultancy = load_protocols(REPO / "data" / "protocols").get("consultancy")
    insight = next(p for p in consultancy.phases if p.insight)
    other = next(p for p in consultancy.phases if p.notes and not p.insight)
    store = server.open_store()
    try:
        fay = accounts.add_person(store, "Fay Drafts", "facilitator")
        nia = accounts.add_person(store, "Nia Drafts")
        bo = accounts.add_person(store, "Bo Drafts")
        cop = sessions.create_community(store, fay, "Drafting fathers CoP")
        membership.set_join_policy(store, fay, cop.id, "open", False)
        now = datetime.now(UTC)
        session = sessions.plan_session(
            store, fay, cop.id, now - timedelta(minutes=30), "Fathers in planning", "",
            "consultancy",
        )  # fmt: skip
        for who in (fay, nia, bo):
            sessions.join(store, who, session.join_code, now)
        sessions.set_session_roles(
            store, fay, session.id, {"facilitator": fay.id, "note_taker": nia.id}
        )
        talk = discussions.start_discussion(
            store, fay, consultancy, CASE, roles={"note_taker": ["Nia Drafts"]},
            session_id=session.id,
        )  # fmt: skip
        discussions.save_note(store, nia, str(uuid.uuid4()), talk.id, insight.id, INSIGHT)
        discussions.save_note(store, nia, str(uuid.uuid4()), talk.id, other.id, "Other phase.")
        sessions.close_session(store, fay, session.id)
        return session.id
    finally:
        store.dispose()


def test_an_insight_from_a_finished_session_becomes_a_library_entry(
    page: Page, browser, voila_server
):
    session_id = _finished_session(voila_server)
    page.set_default_timeout(30_000)
    voila_server.sign_in(
        page, "Fay Drafts", "facilitator", app=f"run_sheet.ipynb?session={session_id}"
    )
    offers = page.locator(".cop-drafts")
    offers.wait_for(state="visible", timeout=60_000)
    expect(offers).to_contain_text(INSIGHT)
    expect(offers).not_to_contain_text("Other phase.")
    expect(page.locator(".cop-run-sheet")).not_to_contain_text(CASE)
    page.set_viewport_size(PHONE)
    settle(page)
    found = fit_problems(page, "run sheet drafts, 390 px") + serious_violations(page, "run sheet")
    page.set_viewport_size({"width": 1280, "height": 800})

    make = page.locator(".cop-draft-note .cop-draft-make")
    make.focus()
    page.keyboard.press("Enter")  # a button, by keyboard
    expect(page.locator(".cop-status")).to_contain_text("Library draft made")
    link = page.locator(".cop-draft-open")
    expect(link).to_have_text("Open your draft in the library")
    assert re.fullmatch(r"library\.ipynb\?entry=[0-9a-f-]{36}", link.get_attribute("href"))

    # another member, on a phone: the draft is nowhere for them
    other = browser.new_context(viewport=PHONE)
    try:
        phone = other.new_page()
        phone.set_default_timeout(30_000)
        voila_server.sign_in(phone, "Bo Drafts", app="library.ipynb")
        search = phone.locator(".cop-lib-search input")
        search.fill("father")
        search.press("Enter")
        expect(phone.locator(".cop-lib-results")).to_contain_text("Nothing matches")
        expect(phone.locator(".cop-lib-drafts")).not_to_contain_text("My drafts")

        # the link opens the draft in the library, ready to edit
        with page.context.expect_page() as opened:
            link.click()
        draft = opened.value
        draft.set_default_timeout(30_000)
        entry = draft.locator(".cop-lib-entry")
        entry.locator(".cop-lib-form-save").wait_for(state="visible", timeout=60_000)
        expect(entry).to_contain_text("Draft: only you see it")
        expect(entry.locator(".cop-lib-form-body textarea")).to_have_value(INSIGHT)
        entry.locator(".cop-lib-form-title input").fill(TITLE)
        entry.locator(".cop-lib-form-save").click()
        expect(draft.locator(".cop-status")).to_contain_text("Draft saved (version 2)")
        draft.set_viewport_size(PHONE)
        settle(draft)
        found += fit_problems(draft, "library draft, 390 px")
        found += serious_violations(draft, "library draft")
        entry.locator(".cop-lib-publish").click()
        expect(draft.locator(".cop-status")).to_contain_text("Published")
        expect(entry).not_to_contain_text("Draft: only you see it")

        # now the other member finds it by a word of it
        phone.locator(".cop-lib-search-button").click()
        result = phone.locator(".cop-lib-open")
        expect(result).to_have_count(1)
        expect(result).to_have_text(TITLE)
        result.click()
        expect(phone.locator(".cop-lib-entry")).to_contain_text(INSIGHT)
        expect(phone.locator(".cop-lib-endorse")).to_be_visible()
    finally:
        other.close()
    with voila_server.db() as db:
        row = db.execute(
            "SELECT status, source_kind, session_id FROM library_entry WHERE title = ?", (TITLE,)
        ).fetchone()
    assert tuple(row) == ("published", "note", session_id)
    assert found == [], "\n".join(found)
