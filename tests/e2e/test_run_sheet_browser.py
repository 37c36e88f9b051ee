"""One whole session run from the facilitator's run sheet, in real Chromium: planned in the
community app, roles given before anyone joins, three people join from the full address and
check in, take part in the case discussion the run sheet started (protocol and roles already
set), check out once the facilitator opens it, and the facilitator downloads the session
report; then a participant finds her commitment and her supervisor's new feedback on her own
page. Nobody types a name; the run sheet fits a phone's width and passes axe."""

import re
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import REPO, report_browser_errors
from tests.e2e.pagecheck import (
    PHONE,
    fit_problems,
    leave_the_field_until_the_kernel_has_it,
    screenshot,
    serious_violations,
    settle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOM = {"Pam Presenter": "presenter", "Tim Timekeeper": "timekeeper", "Nia Notes": "note_taker"}
TOPIC = "Engaging fathers in planning"
PROMISE = "Ask the father what he wants from the plan."


def _new_page(browser) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    report_browser_errors(page)
    page.on("dialog", lambda d: d.accept())
    return page


def _start_signing_in(server, page: Page, name: str, app: str) -> None:
    """`server.sign_in` without its wait for the app: the personal link, the button, no
    passphrase; the app's page has started loading when this returns, so that several people's
    pages load at once, as in a room."""
    link = server.sign_in_link(name) + "&" + urlencode({"next": f"/voila/render/{app}"})
    page.goto(link)
    page.get_by_role("button", name=f"Sign in as {name}").click()
    page.get_by_role("link", name="Not now: continue").click()


def test_a_whole_session_is_run_from_the_run_sheet(page: Page, browser, voila_server):
    from cop_widgets.services import accounts, sessions

    # Fay has started a community; its three members have accounts (a coordinator added them)
    store = voila_server.open_store()
    try:
        fay = accounts.add_person(store, "Fay Facilitator", "facilitator")
        cop = sessions.create_community(store, fay, "Riverside CoP")
        for name in ROOM:
            sessions.add_member(store, fay, cop.id, accounts.add_person(store, name).id, "member")
    finally:
        store.dispose()

    # she plans today's session in the community app and opens its run sheet
    voila_server.sign_in(page, "Fay Facilitator", "facilitator", app="community.ipynb")
    now = datetime.now(UTC)
    page.locator(".cop-plan-date input").fill(f"{now:%Y-%m-%d}")
    page.locator(".cop-plan-time input").fill(f"{now:%H:%M}")
    topic = page.locator(".cop-plan-topic input")
    topic.fill(TOPIC)
    leave_the_field_until_the_kernel_has_it(page, topic)
    page.locator(".cop-plan-protocol select").select_option(label="Consultancy protocol")
    page.locator(".cop-plan-plan").click()
    expect(page.locator(".cop-status")).to_contain_text("join code")
    page.locator(".cop-run-sheet-link").first.click()
    page.locator(".cop-run-topic").wait_for(state="visible", timeout=60_000)
    code = page.locator(".cop-run-code").inner_text().strip()
    address = page.locator(".cop-run-url").input_value()
    assert address == f"{voila_server.base}/voila/render/session.ipynb?code={code}"
    expect(page.locator("svg.cop-qr")).to_be_visible()
    page.locator(".cop-run-copy").click()
    expect(page.locator(".cop-run-copied")).not_to_be_empty()
    expect(page.locator(".cop-run-joined")).to_contain_text("0 joined")

    # roles before anyone joins: from the community's members
    page.locator(".cop-run-role-facilitator select").select_option(label="Fay Facilitator")
    for name, role in ROOM.items():
        page.locator(f".cop-run-role-{role} select").select_option(label=name)
    page.locator(".cop-run-save-roles").click()
    expect(page.locator(".cop-status")).to_contain_text("Roles saved")

    # a phone's width: nothing scrolls sideways; axe finds nothing serious
    screenshot(page, "run-sheet-planned-1280")
    page.set_viewport_size(PHONE)
    settle(page)
    screenshot(page, "run-sheet-planned-390")
    found = fit_problems(page, "run sheet, 390 px") + serious_violations(page, "run sheet")
    page.set_viewport_size({"width": 1280, "height": 800})

    # three people open the full address at once (signing in on the way) and check in
    room = {}
    for name in ROOM:
        room[name] = _new_page(browser)
        _start_signing_in(voila_server, room[name], name, address.split("/voila/render/", 1)[1])
    for them in room.values():
        them.locator(".cop-whoami").wait_for(state="visible", timeout=60_000)
        expect(them.locator(".cop-app")).to_contain_text("attendance is recorded")
        expect(them.locator(".cop-checkout-note")).to_contain_text("Check-out opens when")
        them.locator(".cop-item-wellbeing button", has_text="4").click()
        them.locator(".cop-send-checkin").click()
        expect(them.locator(".cop-status")).to_contain_text("is saved")
    expect(page.locator(".cop-run-joined")).to_contain_text("3 joined", timeout=10_000)
    expect(page.locator(".cop-board-counts")).to_contain_text("Check-in: 3", timeout=10_000)

    # the case discussion: protocol and role holders already there; only the case is typed
    expect(page.locator(".cop-protocol select")).to_have_value("Consultancy protocol")
    expect(page.locator(".cop-role-presenter input")).to_have_value("Pam Presenter")
    expect(page.locator(".cop-role-note_taker input")).to_have_value("Nia Notes")
    page.locator(".cop-summary textarea").fill("A father of three; the school wants him involved.")
    page.locator(".cop-start-discussion").click()
    expect(page.locator(".cop-status")).to_contain_text("Case discussion started")
    expect(page.locator(".cop-run-discussion-link")).to_have_count(1)

    # each finds it on their join page and opens it: the protocol and their role are set
    tabs = {}
    for name, them in room.items():
        link = them.locator(".cop-open-discussion-link")
        expect(link).to_have_attribute(
            "href", f"case_discussion.ipynb?discussion={_id(page)}", timeout=10_000
        )
        with them.context.expect_page() as opened:
            link.click()
        tabs[name] = opened.value
    for tab in tabs.values():
        tab.locator(".cop-discussion").wait_for(state="visible", timeout=60_000)
        expect(tab.locator(".cop-discussion")).to_contain_text("Consultancy protocol")
        expect(tab.locator(".cop-discussion")).to_contain_text("Presenter: Pam Presenter")
        expect(tab.locator(".cop-discussion-session")).to_contain_text(TOPIC)
    expect(tabs["Nia Notes"].locator(".cop-save-notes")).to_be_visible()  # the note-taker
    for tab in tabs.values():
        tab.close()

    # check-out, once the facilitator opens it: it appears on the join pages with no reload
    page.locator(".cop-run-open-checkout").click()
    expect(page.locator(".cop-run-checkout-open")).to_contain_text("Check-out is open")
    for n, them in enumerate(room.values()):
        them.locator(".cop-checkout").click(timeout=15_000)
        them.locator(".cop-item-one_word input").fill(["clearer", "heard", "clearer"][n])
        if n == 0:
            them.locator(".cop-item-commitment textarea").fill(PROMISE)
        them.locator(".cop-send-checkout").click()
        expect(them.locator(".cop-status")).to_contain_text("is saved")
    for name, them in room.items():
        if name != "Pam Presenter":
            them.context.close()
    expect(page.locator(".cop-board-counts")).to_contain_text("Check-out: 3", timeout=10_000)

    # close (asked first) and download the session report
    page.locator(".cop-close-session").click()
    page.locator(".cop-close-session-confirm").click()
    expect(page.locator(".cop-status")).to_contain_text("Session closed")
    page.locator(".cop-report-make").click()
    download_link = page.locator(".cop-report-download").first
    download_link.wait_for(state="visible", timeout=180_000)
    with page.expect_download() as saved:
        download_link.click()
    report = saved.value
    assert report.suggested_filename.endswith(".html") and code not in report.suggested_filename
    text = open(report.path(), encoding="utf-8").read()
    assert TOPIC in text and "Pam Presenter" in text

    # later: Pam's supervisor releases feedback on the reflection she wrote after the session;
    # her own page shows her commitment and the feedback, marked new
    _feedback_released_to(voila_server, "Pam Presenter")
    pam = room["Pam Presenter"]
    pam.locator(".cop-whoami").get_by_role("link", name="Home").click()
    pam.get_by_role("link", name=re.compile("^My page")).click()
    pam.locator(".cop-my-commitments").wait_for(state="visible", timeout=60_000)
    expect(pam.locator(".cop-my-commitments")).to_contain_text(PROMISE)
    expect(pam.locator(".cop-my-page .cop-new-feedback")).to_have_text("New")
    assert found == [], "\n".join(found)


def _feedback_released_to(server, name: str) -> None:
    import uuid

    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.services import accounts, reflections, review, roster

    store = server.open_store()
    try:
        author = accounts.find_by_name(store, name)
        sue = accounts.add_person(store, "Sue Supervisor", "supervisor")
        roster.grant_role(store, sue.id, "supervisor")
        roster.assign_supervisee(store, sue.id, author.id)
        rolfe = load_frameworks(REPO / "data" / "frameworks").get("rolfe-2001")
        rid = str(uuid.uuid4())
        answers = {s.id: reflections.Answer("The father joined the plan.") for s in rolfe.stages}
        reflections.submit(store, author, rid, rolfe, answers, "supervisor")
        review.add_feedback(store, sue, rid, "strength", "You asked him first.")
        review.release(store, sue, rid)
    finally:
        store.dispose()


def _id(run_sheet: Page) -> str:
    """The id of the discussion the run sheet started (from its own link)."""
    href = run_sheet.locator(".cop-run-discussion-link").get_attribute("href")
    return href.split("discussion=", 1)[1]
