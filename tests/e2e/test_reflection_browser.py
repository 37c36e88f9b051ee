"""A person uses the reflection app in real headless Chromium; the database proves it."""

from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from cop_widgets.kernel_launcher import is_kernel_command

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROLFE = "What? So what? Now what?"
STATUS = ".cop-status"


WHOAMI = ".cop-whoami"
APP = "/voila/render/reflection.ipynb"


def open_app(page: Page, server, name: str) -> None:
    """Sign in as `name` through the server, then open the app: it knows who they are."""
    server.sign_in(page, name, app="reflection.ipynb")
    expect(page.locator(WHOAMI)).to_contain_text(f"Signed in as {name} (practitioner)")


def on_stage(page: Page, number: int, label: str) -> None:
    """Wait until stage `number` and its own answer box are on screen."""
    expect(page.locator(".cop-stepper h3")).to_contain_text(f"Stage {number} of 3: {label}")
    expect(page.locator(".cop-answer")).to_contain_text(f"Your answer: {label}")


def test_write_save_reload_continue_submit(page: Page, voila_server):
    open_app(page, voila_server, "Ana Browser")
    page.locator(".cop-framework select").select_option(label=ROLFE)
    page.locator(".cop-new").click()
    answer = page.locator(".cop-answer textarea")
    answers = {
        "what": "A home visit that ran short 👋🏽 — قالت الأم",
        "so_what": "I led with the agency's agenda.",
        "now_what": "Open with her priorities next time.",
    }
    answer.fill(answers["what"])
    page.locator(".cop-next").click()
    on_stage(page, 2, "So what?")
    answer.fill(answers["so_what"])
    page.locator(".cop-next").click()
    on_stage(page, 3, "Now what?")
    answer.fill(answers["now_what"])
    page.locator(".cop-save").click()
    expect(page.locator(STATUS)).to_contain_text("Draft saved at")

    with voila_server.db() as db:
        row = db.execute(
            "SELECT r.id, r.status FROM reflection r JOIN person p ON p.id = r.person_id "
            "WHERE p.display_name = 'Ana Browser'"
        ).fetchone()
    assert row["status"] == "draft"

    page.reload(wait_until="commit")
    # still signed in after a reload: the app knows the person and asks for no name
    page.locator(WHOAMI).wait_for(state="visible", timeout=60_000)
    expect(page.locator(WHOAMI)).to_contain_text("Signed in as Ana Browser")
    expect(page.locator(".cop-app")).to_contain_text("A home visit that ran short")
    assert page.locator(".cop-app input[type=text]").count() == 0
    page.locator(".cop-open").first.click()
    expect(page.locator(STATUS)).to_contain_text("Continuing your draft")
    # every stage is answered, so it reopens where the writing stopped: the last stage
    on_stage(page, 3, "Now what?")
    expect(answer).to_have_value(answers["now_what"])
    page.locator(".cop-back").click()
    on_stage(page, 2, "So what?")
    expect(answer).to_have_value(answers["so_what"])
    page.locator(".cop-back").click()
    on_stage(page, 1, "What?")
    expect(answer).to_have_value(answers["what"])
    page.locator(".cop-next").click()
    page.locator(".cop-next").click()
    on_stage(page, 3, "Now what?")
    answers["now_what"] += " And ask about a joint visit."
    answer.fill(answers["now_what"])
    page.locator(".cop-visibility select").select_option(label="Me and my supervisor")
    page.locator(".cop-submit").click()
    expect(page.locator(STATUS)).to_contain_text("Submitted at")

    with voila_server.db() as db:
        refl = db.execute("SELECT * FROM reflection WHERE id = ?", (row["id"],)).fetchone()
        stored = dict(
            db.execute(
                "SELECT stage_id, text FROM reflection_answer WHERE reflection_id = ?", (row["id"],)
            ).fetchall()
        )
        count = db.execute(
            "SELECT count(*) FROM reflection r JOIN person p ON p.id = r.person_id "
            "WHERE p.display_name = 'Ana Browser'"
        ).fetchone()[0]
    assert refl["status"] == "submitted" and refl["submitted_at"]
    assert refl["visibility"] == "supervisor" and refl["framework_id"] == "rolfe-2001"
    assert stored == answers
    assert count == 1


def test_typing_autosaves_without_pressing_save(page: Page, voila_server):
    open_app(page, voila_server, "Autosave Person")
    page.locator(".cop-new").click()
    page.locator(".cop-answer textarea").press_sequentially("typed, never saved by hand", delay=20)
    expect(page.locator(STATUS)).to_contain_text("Draft saved automatically at", timeout=15_000)
    with voila_server.db() as db:
        text = db.execute(
            "SELECT a.text FROM reflection_answer a JOIN reflection r ON r.id = a.reflection_id "
            "JOIN person p ON p.id = r.person_id WHERE p.display_name = 'Autosave Person'"
        ).fetchone()[0]
    assert text == "typed, never saved by hand"


def test_markup_in_names_and_answers_is_shown_as_text(page: Page, voila_server):
    payload = '<img src=x onerror="window.__copPwned=1">{{7*7}} $x^2$'
    open_app(page, voila_server, payload)
    assert payload in page.locator(WHOAMI).inner_text()  # the name is shown as text
    page.locator(".cop-new").click()
    page.locator(".cop-answer textarea").fill(payload)
    page.locator(".cop-close").click()
    expect(page.locator(".cop-app")).to_contain_text("{{7*7}} $x^2$")
    assert page.evaluate("window.__copPwned") is None
    assert page.locator(".cop-app img").count() == 0
    assert payload in page.locator(".cop-app").inner_text()


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the focused element is inside `selector`: proves keyboard reach."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement.closest(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with the Tab key")


def tab_until_focused(page: Page, target, limit: int = 20) -> None:
    """Press Tab until `target` (a locator) has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("(e) => e === document.activeElement"):
            return
    raise AssertionError(f"{target} cannot be reached with the Tab key")


def test_whole_exercise_with_the_keyboard_only(page: Page, voila_server):
    # Sign in with the keyboard only; every field is found by its label (what a screen reader
    # announces). First the personal link's button and the passphrase form...
    page.goto(voila_server.sign_in_link("Keyboard Kim") + "&next=" + quote(APP))
    tab_until_focused(page, page.get_by_role("button", name="Sign in as Keyboard Kim"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Choose a passphrase")).to_be_visible()
    tab_until_focused(page, page.get_by_label("Passphrase (at least 8 characters)"))
    page.keyboard.type("keys only, no mouse")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Type it again")).to_be_focused()
    page.keyboard.type("keys only, no mouse")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save my passphrase")).to_be_focused()
    page.keyboard.press("Enter")
    page.locator(WHOAMI).wait_for(state="visible", timeout=60_000)  # saved: on to the app
    # ...then, another day (no cookie), the name and passphrase form on the sign-in page.
    page.context.clear_cookies()
    page.goto(f"{voila_server.base}/login?next={quote(APP)}")
    tab_until_focused(page, page.get_by_label("Your name", exact=True))
    page.keyboard.type("keyboard kim")  # names are not case sensitive
    page.keyboard.press("Tab")
    expect(page.get_by_label("Passphrase", exact=True)).to_be_focused()
    page.keyboard.type("keys only, no mouse")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    page.locator(WHOAMI).wait_for(state="visible", timeout=60_000)
    assert page.url == voila_server.url()
    expect(page.locator(WHOAMI)).to_contain_text("Signed in as Keyboard Kim")
    tab_to(page, ".cop-framework")
    # choose Rolfe's model by typing its first letters, as a keyboard user would in a select
    page.keyboard.type("What")
    tab_to(page, ".cop-new")
    page.keyboard.press("Enter")
    expect(page.locator(".cop-stepper h2")).to_have_text(ROLFE)
    labels = ["What?", "So what?", "Now what?"]
    for stage, words in enumerate(["what happened", None, "next step"]):
        # the new stage's own answer box is on screen (not the last stage's, still going)
        on_stage(page, stage + 1, labels[stage])
        if words is None:
            tab_to(page, ".cop-pass")
            page.keyboard.press("Space")
        else:
            tab_to(page, ".cop-answer")
            page.keyboard.type(words)
        if stage < 2:
            tab_to(page, ".cop-next")
            page.keyboard.press("Enter")
    tab_to(page, ".cop-submit")
    page.keyboard.press("Enter")
    expect(page.locator(STATUS)).to_contain_text("Submitted at")
    with voila_server.db() as db:
        rows = db.execute(
            "SELECT r.status, a.stage_id, a.text, a.passed FROM reflection r "
            "JOIN person p ON p.id = r.person_id "
            "JOIN reflection_answer a ON a.reflection_id = r.id "
            "WHERE p.display_name = 'Keyboard Kim' ORDER BY a.stage_id"
        ).fetchall()
    assert [(r["stage_id"], r["text"], r["passed"]) for r in rows] == [
        ("now_what", "next step", 0),
        ("so_what", "", 1),
        ("what", "what happened", 0),
    ]
    assert {r["status"] for r in rows} == {"submitted"}
    with voila_server.db() as db:
        ways = db.execute(
            "SELECT w.via FROM web_session w JOIN person p ON p.id = w.person_id "
            "WHERE p.display_name = 'Keyboard Kim' ORDER BY w.created_at"
        ).fetchall()
    assert [w["via"] for w in ways] == ["link", "passphrase"]


def test_no_serious_accessibility_violations(page: Page, voila_server):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def serious(where: str) -> list[str]:
        result = axe.run(page)
        return [
            f"{where}: {v['id']} ({v['impact']}): {v['nodes'][0]['html'][:120]}"
            for v in result.response["violations"]
            if v["impact"] in ("critical", "serious")
        ]

    # the sign-in page as a newcomer with a join link sees it: both forms
    nxt = quote("/voila/render/session.ipynb?code=K7M2QX", safe="")
    page.goto(f"{voila_server.base}/login?next={nxt}")
    expect(page.get_by_role("button", name="Create my account and join")).to_be_visible()
    found = serious("sign-in page")
    page.get_by_role("button", name="Sign in", exact=True).click()  # empty: the browser says so
    page.get_by_label("Your name", exact=True).fill("Nobody Here")
    page.get_by_label("Passphrase", exact=True).fill("not the passphrase")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator(".error[role=alert]")).to_contain_text("do not match an account")
    found += serious("sign-in refused")
    page.goto(voila_server.sign_in_link("Axe Checker") + "&next=" + quote(APP))
    found += serious("personal link")
    page.get_by_role("button", name="Sign in as Axe Checker").click()
    expect(page.get_by_role("heading", name="Choose a passphrase")).to_be_visible()
    found += serious("choose a passphrase")
    page.get_by_role("link", name="Not now: continue").click()
    page.locator(WHOAMI).wait_for(state="visible", timeout=60_000)
    found += serious("home")
    page.locator(".cop-new").click()
    page.locator(".cop-answer textarea").fill("some words")
    page.locator(".cop-save").click()
    expect(page.locator(STATUS)).to_contain_text("Draft saved")
    found += serious("stepper")
    assert found == []
    assert page.title() == "Reflection · CoP Workbook"


def test_demo_content_is_there_on_first_serve(page: Page, voila_server):
    open_app(page, voila_server, "Demo practitioner")
    expect(page.locator(".cop-app")).to_contain_text("Gibbs' reflective cycle · Draft")
    expect(page.locator(".cop-app")).to_contain_text(f"{ROLFE} · Submitted")


def test_moving_on_straight_after_typing_keeps_each_answer_in_its_stage(page: Page, voila_server):
    open_app(page, voila_server, "Fast Typist")
    page.locator(".cop-framework select").select_option(label=ROLFE)
    page.locator(".cop-new").click()
    expect(page.locator(".cop-stepper h2")).to_have_text(ROLFE)
    page.locator(".cop-answer textarea").press_sequentially("first stage words", delay=5)
    page.locator(".cop-next").click()  # no pause: keystrokes may still be in flight
    expect(page.locator(".cop-answer")).to_contain_text("Your answer: So what?")
    page.locator(".cop-answer textarea").press_sequentially("second stage words", delay=5)
    page.locator(".cop-close").click()
    expect(page.locator(".cop-app")).to_contain_text("My reflections")
    expect(page.locator(STATUS)).to_contain_text("Draft saved")
    with voila_server.db() as db:
        stored = dict(
            db.execute(
                "SELECT a.stage_id, a.text FROM reflection_answer a "
                "JOIN reflection r ON r.id = a.reflection_id JOIN person p ON p.id = r.person_id "
                "WHERE p.display_name = 'Fast Typist'"
            ).fetchall()
        )
    assert stored == {"what": "first stage words", "so_what": "second stage words", "now_what": ""}


def test_the_kernels_read_the_content_files_from_the_servers_parsed_copy(page: Page, voila_server):
    """`cop serve` parsed the content files once, into the data folder's .cache/: the page's
    kernel (and every other one) read its frameworks from there and never loaded the YAML
    parser (0.9 MiB in each of a room's kernels)."""
    import psutil

    open_app(page, voila_server, "Yusuf Kernel")
    expect(page.locator(".cop-new")).to_be_visible()  # its frameworks are loaded by then
    copy = voila_server.data_dir / ".cache" / "parsed-content.json"
    assert copy.is_file()
    checked = 0
    for proc in psutil.Process(voila_server.proc.pid).children(recursive=True):
        try:
            if not is_kernel_command(proc.cmdline()):
                continue
            environ, mapped = proc.environ(), [m.path for m in proc.memory_maps()]
        except psutil.NoSuchProcess:
            continue  # an earlier test's kernel, culled meanwhile (this page's stays open)
        assert environ.get("COP_PARSED_CONTENT") == str(copy)
        assert any("zmq" in path for path in mapped)  # the check sees its extension modules
        assert not [path for path in mapped if "/yaml/" in path], proc.pid
        checked += 1
    assert checked >= 1
