"""A facilitator and a note-taker run a protocol in two browsers; the database proves it."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STATUS = ".cop-status"


def open_as(page: Page, server, name: str) -> None:
    """Sign in as `name` through the server; the case discussion app then knows who they are."""
    server.sign_in(page, name, app="case_discussion.ipynb")
    expect(page.locator(".cop-whoami")).to_contain_text(f"Signed in as {name}")


def test_facilitator_and_note_taker_run_a_consultancy(browser, voila_server):
    facilitator = browser.new_context().new_page()
    note_taker = browser.new_context().new_page()
    for page in (facilitator, note_taker):
        page.set_default_timeout(30_000)
        page.on("dialog", lambda d: d.accept())

    open_as(facilitator, voila_server, "Fran Facilitator")
    expect(facilitator.locator(".cop-safety")).to_contain_text("not a way to report concerns")
    facilitator.locator(".cop-protocol select").select_option(label="Consultancy protocol")
    facilitator.locator(".cop-summary textarea").fill(
        "A mother of two young children; the school is worried about attendance."
    )
    facilitator.locator(".cop-content-note input").fill("includes family violence")
    facilitator.locator(".cop-role-note_taker input").fill("Nadia Notes")
    facilitator.locator(".cop-start-discussion").click()
    expect(facilitator.locator(STATUS)).to_contain_text("Discussion started")
    expect(facilitator.locator(".cop-discussion")).to_contain_text("includes family violence")
    facilitator.locator(".cop-timer-start").click()
    expect(facilitator.locator(".cop-timer")).to_contain_text("running")

    open_as(note_taker, voila_server, "Nadia Notes")
    note_taker.locator(".cop-open-discussion").first.click()
    expect(note_taker.locator(".cop-timer")).to_contain_text("Phase 1 of 6")
    expect(note_taker.locator(".cop-timer-next")).to_be_hidden()
    note_taker.locator(".cop-note textarea").fill("The presenter's question: how to re-engage.")
    note_taker.locator(".cop-save-notes").click()
    expect(note_taker.locator(STATUS)).to_contain_text("Notes saved")

    facilitator.locator(".cop-timer-next").dblclick()
    expect(facilitator.locator(".cop-timer")).to_contain_text("Phase 2 of 6")
    # the note-taker's screen follows without a reload (the kernel polls the store)
    expect(note_taker.locator(".cop-timer")).to_contain_text("Phase 2 of 6", timeout=10_000)
    expect(note_taker.locator(".cop-note textarea")).to_have_value("")
    note_taker.locator(".cop-note textarea").fill("Clarifying: how long has this gone on?")
    note_taker.locator(".cop-action-text input").fill("Ask the school for a joint meeting")
    note_taker.locator(".cop-action-owner input").fill("Presenter")
    note_taker.locator(".cop-action-due input").fill("2026-12-04")
    note_taker.locator(".cop-action-add").click()
    expect(note_taker.locator(STATUS)).to_contain_text("Action added")
    expect(facilitator.locator(".cop-actions")).to_contain_text(
        "Ask the school for a joint meeting", timeout=10_000
    )
    note_taker.locator(".cop-save-notes").click()
    expect(note_taker.locator(STATUS)).to_contain_text("Notes saved")

    with voila_server.db() as db:
        d = db.execute(
            "SELECT d.* FROM discussion d JOIN person p ON p.id = d.facilitator_id "
            "WHERE p.display_name = 'Fran Facilitator'"
        ).fetchone()
        notes = dict(
            db.execute(
                "SELECT phase_id, text FROM discussion_note WHERE discussion_id = ?", (d["id"],)
            ).fetchall()
        )
        action = db.execute(
            "SELECT description, owner, due_date FROM discussion_action WHERE discussion_id = ?",
            (d["id"],),
        ).fetchone()
    assert d["phase_index"] == 1 and d["clock_status"] == "running"
    assert d["content_note"] == "includes family violence"
    assert notes == {
        "present": "The presenter's question: how to re-engage.",
        "clarify": "Clarifying: how long has this gone on?",
    }
    assert tuple(action) == ("Ask the school for a joint meeting", "Presenter", "2026-12-04")
    # run the rest of the protocol to its end
    for number in range(3, 7):
        facilitator.wait_for_timeout(1100)  # clicks closer than 1 s count as one double click
        facilitator.locator(".cop-timer-next").click()
        expect(facilitator.locator(".cop-timer")).to_contain_text(f"Phase {number} of 6")
    expect(facilitator.locator(".cop-timer-next")).to_have_text("Finish")
    facilitator.wait_for_timeout(1100)
    facilitator.locator(".cop-timer-next").click()
    expect(facilitator.locator(".cop-timer")).to_contain_text("protocol finished")
    expect(note_taker.locator(".cop-timer")).to_contain_text("protocol finished", timeout=10_000)
    facilitator.locator(".cop-close-discussion").click()
    expect(facilitator.locator(STATUS)).to_contain_text("Discussion closed")
    with voila_server.db() as db:
        end = db.execute(
            "SELECT status, clock_status, phase_index FROM discussion WHERE id = ?", (d["id"],)
        ).fetchone()
    assert tuple(end) == ("closed", "finished", 5)

    from axe_playwright_python.sync_playwright import Axe

    for page in (facilitator, note_taker):
        result = Axe().run(page)
        serious = [
            f"{v['id']}: {v['nodes'][0]['html'][:100]}"
            for v in result.response["violations"]
            if v["impact"] in ("critical", "serious")
        ]
        assert serious == []
    facilitator.screenshot(path=str(voila_server.data_dir / "facilitator.png"), full_page=True)
    facilitator.context.close()
    note_taker.context.close()


def test_a_discussion_started_after_joining_a_session_is_linked_to_it(browser, voila_server):
    from datetime import UTC, datetime

    from cop_widgets.services import sessions
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import Settings
    from cop_widgets.store import open_store

    store = open_store(
        Settings(voila_server.data_dir, f"sqlite:///{voila_server.data_dir / 'cop.sqlite'}", 5000)
    )
    coord = find_or_add_person(store, "Link Coordinator")
    cop = sessions.create_community(store, coord, "Linked discussions CoP")
    topic = "Fathers <b>& carers</b>"
    held_in = sessions.plan_session(store, coord, cop.id, datetime.now(UTC), topic)
    store.dispose()

    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda d: d.accept())
    voila_server.sign_in(page, "Lena Linked", app=f"session.ipynb?code={held_in.join_code}")
    expect(page.locator(".cop-app")).to_contain_text("attendance is recorded")

    voila_server.open_app(page, "case_discussion.ipynb")  # still signed in: no name asked
    expect(page.locator(".cop-whoami")).to_contain_text("Signed in as Lena Linked")
    choice = page.locator(".cop-session-choice select")
    # the only session joined and under way: preselected, shown as text (UTC is the default zone)
    expect(choice.locator("option:checked")).to_have_text(
        f"{topic} · {held_in.starts_at:%H:%M}".replace(" ", "\xa0")
    )
    expect(page.locator(".cop-session-choice label")).to_have_text("Part of session")
    page.locator(".cop-summary textarea").fill("A father of three; the school wants him involved.")
    page.locator(".cop-start-discussion").click()
    expect(page.locator(STATUS)).to_contain_text("Discussion started")
    expect(page.locator(".cop-discussion-session")).to_have_text(f"Part of the session “{topic}”")
    assert page.locator(".cop-discussion b").count() == 0  # the topic stayed text
    with voila_server.db() as db:
        linked = db.execute(
            "SELECT d.session_id FROM discussion d JOIN person p ON p.id = d.facilitator_id "
            "WHERE p.display_name = 'Lena Linked'"
        ).fetchone()
    assert linked["session_id"] == held_in.id
    page.context.close()
