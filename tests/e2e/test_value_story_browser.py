"""A value-creation story comes back, in real headless Chromium: saved as an intention in the
reflection app (a day that has passed refused there, with the text kept), it returns at its
author's next session's check-in once its day has come, and is completed there as a new
version of the story. The store proves it."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "Vic Value"
ACTIVITY = "The session on engaging fathers"
PLAN = "Ask the father what <b>he</b> wants first"
HAPPENED = "I asked him first, at the start of the home visit."
DIFFERENCE = "He stayed for the whole visit and set the next date himself."


def test_a_value_story_comes_back_at_the_next_check_in_and_is_completed_there(
    browser, voila_server
):
    from cop_widgets.services import sessions
    from cop_widgets.services.identity import find_or_add_person

    store = voila_server.open_store()
    try:
        coord = find_or_add_person(store, "Story Coordinator")
        cop = sessions.create_community(store, coord, "Value stories CoP")
        later = sessions.plan_session(
            store, coord, cop.id, datetime.now(UTC) + timedelta(minutes=5), "Fathers, six weeks on"
        )
    finally:
        store.dispose()
    today = datetime.now(UTC).date()  # the server's timezone is UTC (COP_TIMEZONE unset)

    # 1. The story, written in the reflection app and saved as an intention.
    page = browser.new_context().new_page()
    page.on("dialog", lambda d: d.accept())
    voila_server.sign_in(page, NAME, app="reflection.ipynb")
    page.locator(".cop-framework select").select_option(label="Value-creation story")
    page.locator(".cop-new").click()
    answer = page.locator(".cop-answer textarea")
    answer.fill(ACTIVITY)
    page.locator(".cop-next").click()
    expect(page.locator(".cop-stepper h3")).to_contain_text("Stage 2 of 5")
    answer.fill(PLAN)
    day = page.locator(".cop-return-on input")
    expect(day).to_have_value(f"{today + timedelta(weeks=6):%Y-%m-%d}")  # six weeks ahead
    day.fill(f"{today - timedelta(days=1):%Y-%m-%d}")  # a day that has passed: refused
    page.locator(".cop-save-intention").click()
    expect(page.locator(".cop-status")).to_contain_text("has passed")
    expect(page.locator(".cop-intention-note")).to_contain_text("kept as a draft")
    expect(answer).to_have_value(PLAN)
    chosen = today + timedelta(days=10)
    day.fill(f"{chosen:%Y-%m-%d}")
    page.locator(".cop-save-intention").click()
    expect(page.locator(".cop-status")).to_contain_text("Saved as an intention")
    expect(page.locator(".cop-return-state")).to_contain_text("comes back to you on")
    page.context.close()

    with voila_server.db() as db:
        [story] = db.execute(
            "SELECT r.id, r.status, r.return_on FROM reflection r JOIN person p "
            "ON p.id = r.person_id WHERE p.display_name = ?",
            (NAME,),
        ).fetchall()
        assert (story["status"], story["return_on"]) == ("submitted", chosen.isoformat())
        # its day has come (the app refuses a day that has passed: set in the store)
        db.execute(
            "UPDATE reflection SET return_on = ? WHERE id = ?",
            ((today - timedelta(days=1)).isoformat(), story["id"]),
        )
    db.close()

    # 2. The next session's check-in brings it back; it is completed there.
    page = browser.new_context().new_page()
    page.on("dialog", lambda d: d.accept())
    voila_server.sign_in(page, NAME, app=f"session.ipynb?code={later.join_code}")
    expect(page.locator(".cop-app")).to_contain_text("attendance is recorded")
    back = page.locator(".cop-story-returns")
    expect(back).to_contain_text("Your value-creation stories")
    expect(back).to_contain_text(f"You planned to try: {PLAN}")  # markup shown as text
    expect(back).to_contain_text("what happened? what difference did it make?")
    back.locator(".cop-return-applied textarea").fill(HAPPENED)
    back.locator(".cop-return-realized textarea").fill(DIFFERENCE)
    back.locator(".cop-return-save").click()
    expect(page.locator(".cop-status")).to_contain_text("as a new version")
    expect(page.locator(".cop-app")).not_to_contain_text("Your value-creation stories")
    page.context.close()

    with voila_server.db() as db:
        rows = db.execute(
            "SELECT r.id, r.version_of, r.version_no, r.status, r.returned_at FROM reflection r "
            "JOIN person p ON p.id = r.person_id WHERE p.display_name = ? ORDER BY r.version_no",
            (NAME,),
        ).fetchall()
        intention, completed = rows
        assert intention["returned_at"] is not None
        assert (completed["version_of"], completed["version_no"], completed["status"]) == (
            intention["id"],
            2,
            "submitted",
        )
        answers = dict(
            db.execute(
                "SELECT stage_id, text FROM reflection_answer WHERE reflection_id = ?",
                (completed["id"],),
            ).fetchall()
        )
    db.close()
    assert answers["activity"] == ACTIVITY and answers["potential"] == PLAN
    assert (answers["applied"], answers["realized"]) == (HAPPENED, DIFFERENCE)
