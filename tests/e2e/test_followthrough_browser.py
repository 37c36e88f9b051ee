"""Follow-through in the browser: a commitment made at one session's check-out comes back at the
next session's check-in, and the answer is kept."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COMMITMENT = "Ask the father what <b>he</b> wants from the next visit"


def test_last_sessions_commitment_comes_back_and_the_answer_is_kept(browser, voila_server):
    from cop_widgets.services import sessions
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(
        Settings(voila_server.data_dir, f"sqlite:///{voila_server.data_dir / 'cop.sqlite'}", 5000)
    )
    coord = find_or_add_person(store, "Series Coordinator")
    cop = sessions.create_community(store, coord, "Follow-through CoP")
    now = datetime.now(UTC)
    first = sessions.plan_session(
        store, coord, cop.id, now - timedelta(hours=2), "Engaging fathers"
    )
    second = sessions.plan_session(store, coord, cop.id, now, "Engaging fathers, part two")
    sessions.open_checkout(
        store, coord, first.id
    )  # the facilitator opens the first one's check-out

    page = browser.new_context().new_page()
    page.on("dialog", lambda d: d.accept())
    voila_server.sign_in(page, "Kim Keen", app=f"session.ipynb?code={first.join_code}")
    expect(page.locator(".cop-app")).to_contain_text("attendance is recorded")
    page.locator(".cop-checkout").click()
    page.locator(".cop-item-commitment textarea").fill(COMMITMENT)
    page.locator(".cop-send-checkout").click()
    expect(page.locator(".cop-status")).to_contain_text("is saved")
    page.context.close()

    sessions.close_session(store, coord, first.id)  # the first session ends
    store.dispose()

    page = browser.new_context().new_page()
    page.on("dialog", lambda d: d.accept())
    voila_server.sign_in(page, "Kim Keen", app=f"session.ipynb?code={second.join_code}")
    mine = page.locator(".cop-app", has_text="Your commitments")
    expect(mine).to_contain_text(f"you said you would: {COMMITMENT}")  # markup shown as text
    page.locator(".cop-followup-tried label", has_text="Partly").click()
    page.locator(".cop-followup-text textarea").fill("He came; we planned the visit together.")
    page.locator(".cop-followup-save").click()
    expect(page.locator(".cop-status")).to_contain_text("follow-up is saved")
    expect(page.locator(".cop-app")).not_to_contain_text("Your commitments")
    page.context.close()

    with voila_server.db() as db:
        rows = db.execute(
            "SELECT c.text, c.tried, c.followup_text, c.followup_session_id FROM commitment c "
            "JOIN person p ON p.id = c.person_id WHERE p.display_name = 'Kim Keen'"
        ).fetchall()
    assert [tuple(r) for r in rows] == [
        (COMMITMENT, "partly", "He came; we planned the visit together.", second.id)
    ]
