"""My page in real headless Chromium at a phone's width: a practitioner with a commitment and
released feedback opens it from the home page, sees both (the feedback marked new), the page
never scrolls sideways, and axe finds nothing serious."""

import datetime as dt
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_home_browser import PHONE, SHOTS, _no_sideways_scroll, _serious

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "Mia Mypage"
PROMISE = "Ask the young person what they want first"


def _seed(server) -> None:
    """Mia took part in a session (a commitment at check-out), and her supervisor released
    feedback on a reflection she shared."""
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.content.session_items import load_item_sets
    from cop_widgets.services import (
        accounts,
        checkins,
        reflections,
        review,
        roster,
        sessions,
    )

    store = server.open_store()
    try:
        mia = accounts.add_person(store, NAME, "practitioner")
        host = accounts.add_person(store, "Hugo Host", "facilitator")
        cop = sessions.create_community(store, host, "Eastside CoP")
        now = dt.datetime.now(dt.UTC)
        held = sessions.plan_session(
            store, host, cop.id, now - dt.timedelta(hours=2), "Fathers' voices"
        )
        sessions.plan_session(
            store, host, cop.id, now + dt.timedelta(days=7), "Working with schools"
        )
        sessions.join(store, mia, held.join_code, now - dt.timedelta(hours=2))
        sets, _ = load_item_sets(server.data_dir / "session_items")
        checkins.submit_answers(store, mia, held.id, sets["checkout"], {"commitment": PROMISE})
        rolfe = load_frameworks(server.data_dir / "frameworks").get("rolfe-2001")
        rid = str(uuid.uuid4())
        answers = {s.id: reflections.Answer("What I noticed.") for s in rolfe.stages}
        reflections.submit(store, mia, rid, rolfe, answers, "supervisor")
        sue = accounts.add_person(store, "Sula Supervisor", "supervisor")
        roster.assign_supervisee(store, sue.id, mia.id)
        review.add_feedback(store, sue, rid, "strength", "You listened closely.")
        review.release(store, sue, rid)
    finally:
        store.dispose()


def test_a_practitioner_opens_my_page_from_home_at_phone_width(page: Page, voila_server):
    _seed(voila_server)
    page.set_viewport_size(PHONE)
    voila_server.sign_in(page, NAME, app="home.ipynb")
    page.locator(".cop-home .cop-cards").wait_for(state="visible", timeout=60_000)
    page.get_by_role("link", name=re.compile("^My page")).click()
    page.wait_for_url(re.compile(r"/voila/render/my_page\.ipynb$"))
    page.locator(".cop-my-export-button").wait_for(state="visible", timeout=60_000)

    commitments = page.locator(".cop-my-commitments")
    expect(commitments).to_contain_text(PROMISE)
    expect(commitments.get_by_label("What happened? (a note, if you like)")).to_be_visible()
    expect(page.locator(".cop-my-feedback-link")).to_contain_text("Read the feedback")
    expect(page.locator(".cop-my-page .cop-new-feedback")).to_have_text("New")
    expect(page.locator(".cop-my-upcoming")).to_contain_text("Working with schools")
    expect(page.locator(".cop-my-drafts")).to_contain_text("No drafts.")

    _no_sideways_scroll(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "my-page-390.png"))
    page.locator(".cop-my-export-button").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "my-page-390-end.png"))
    assert _serious(page, "my page, 390 px") == []
