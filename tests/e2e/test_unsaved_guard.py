"""Leaving a page with unsaved text asks first (issue #12): the app's root carries cop-unsaved
while its text is not stored, and the page template's beforeunload handler asks on it."""

import pytest
from playwright._impl._errors import TargetClosedError
from playwright.sync_api import Page, expect

from tests.e2e.pagecheck import UNSAVED

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ASKS = """() => {
  const event = new Event("beforeunload", {cancelable: true});
  window.dispatchEvent(event);
  return event.defaultPrevented;
}"""


def test_leaving_a_page_with_unsaved_text_asks_first(own_page: Page, voila_server):
    page = own_page
    voila_server.sign_in(page, "Una Unsaved", app="directory.ipynb")
    app = page.locator(".cop-app")
    expect(app).not_to_have_class(UNSAVED)
    offers = page.locator(".cop-directory-offers textarea")
    offers.fill("Working with interpreters")
    offers.press("Tab")  # the field sends its text when the person leaves it
    expect(app).to_have_class(UNSAVED)

    asked = []

    def dialog(d):
        asked.append(d.type)
        d.dismiss()  # stay on the page

    page.on("dialog", dialog)
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert not page.is_closed()
    page.remove_listener("dialog", dialog)
    # "Stay" kept the kernel (Voila's handler, which shuts it down, was held back): it saves
    assert page.evaluate(ASKS) is True  # still asking, and still holding Voila's handler back
    page.locator(".cop-directory-save").click()
    expect(page.locator(".cop-status")).to_contain_text("Your entry is saved")
    expect(app).not_to_have_class(UNSAVED)
    with voila_server.db() as db:
        offers_saved = db.execute(
            "SELECT m.offers FROM member_profile m JOIN person p ON p.id = m.person_id "
            "WHERE p.display_name = 'Una Unsaved'"
        ).fetchone()
    assert offers_saved[0] == "Working with interpreters"
    page.on("dialog", lambda d: (asked.append(d.message or d.type), d.accept()))
    page.close(run_before_unload=True)  # nothing unsaved: leaves without asking
    try:
        page.wait_for_event("close", timeout=10_000)
    except TargetClosedError:  # closed before the wait began
        pass
    assert page.is_closed()
    assert asked == ["beforeunload"], asked
