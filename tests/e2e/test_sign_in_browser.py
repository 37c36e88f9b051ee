"""Signing in to a real `cop serve` in real Chromium: personal links, passphrases, a newcomer's
account through a session's join link, forged identities, sign-out and too many tries. The
database proves each outcome. Every test uses its own people, so they share the server."""

import re
import shutil
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import REPO, VoilaServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WHOAMI = ".cop-whoami"
ALERT = ".error[role=alert]"
LINK_REFUSED = "This sign-in link does not work"
NO_MATCH = "That name and passphrase do not match an account"
TAKEN = "is taken or looks the same as someone else's"


@pytest.fixture(scope="module")
def other_server(tmp_path_factory):
    """A second `cop serve` on its own copy of data/: its own store, so its own secret. No
    kernels started ahead: only its sign-in page is tested, and one app opened on it."""
    data_dir = tmp_path_factory.mktemp("e2e-other") / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    server = VoilaServer(data_dir, data_dir / "voila.log", pool_size=0)
    yield server
    server.stop()


@contextmanager
def fresh_browser(browser):
    """A new browser context: no cookies, as on another person's machine."""
    context = browser.new_context()
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    try:
        yield page
    finally:
        context.close()


def login_url(server: VoilaServer, notebook: str) -> str:
    return f"{server.base}/login?{urlencode({'next': f'/voila/render/{notebook}'})}"


def press(page: Page, button: str) -> int:
    """Press a sign-in page's button; the status of the server's answer to the form."""
    with page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/login"
    ) as answer:
        page.get_by_role("button", name=button, exact=True).click()
    return answer.value.status


def sign_in_with_passphrase(page: Page, name: str, phrase: str) -> int:
    page.get_by_label("Your name", exact=True).fill(name)
    page.get_by_label("Passphrase", exact=True).fill(phrase)
    return press(page, "Sign in")


def session_cookie(page: Page) -> dict | None:
    """The browser's sign-in cookie for 127.0.0.1 (any port), if it has one."""
    found = [c for c in page.context.cookies() if c["name"] == "cop_session"]
    assert len(found) <= 1
    return found[0] if found else None


def person_count(server: VoilaServer) -> int:
    with server.db() as db:
        return db.execute("SELECT count(*) FROM person").fetchone()[0]


def web_sessions(server: VoilaServer, name: str) -> list[tuple[str, str | None]]:
    with server.db() as db:
        rows = db.execute(
            "SELECT w.via, w.revoked_at FROM web_session w JOIN person p ON p.id = w.person_id "
            "WHERE p.display_name = ? ORDER BY w.created_at",
            (name,),
        ).fetchall()
    return [tuple(r) for r in rows]


def test_personal_link_once_then_name_and_passphrase(browser, voila_server):
    name, phrase = "Link Lee", "lee's long passphrase"
    link = voila_server.sign_in_link(name) + "&next=%2Fvoila%2Frender%2Freflection.ipynb"
    with fresh_browser(browser) as first, fresh_browser(browser) as second:
        second.goto(link)  # someone else opens the same link before it is used...
        first.goto(link)
        expect(first.locator("main")).to_contain_text("signs you in as Link Lee")
        first.get_by_role("button", name="Sign in as Link Lee").click()
        expect(first.get_by_role("heading", name="Choose a passphrase")).to_be_visible()
        first.get_by_label("Passphrase (at least 8 characters)").fill(phrase)
        first.get_by_label("Type it again").fill(phrase)
        first.get_by_role("button", name="Save my passphrase").click()
        first.locator(WHOAMI).wait_for(state="visible", timeout=60_000)  # on to the app
        expect(first.locator(WHOAMI)).to_contain_text("Signed in as Link Lee (practitioner)")
        with voila_server.db() as db:
            link_row = db.execute(
                "SELECT l.used_at FROM sign_in_link l JOIN person p ON p.id = l.person_id "
                "WHERE p.display_name = ?",
                (name,),
            ).fetchone()
            kept = db.execute(
                "SELECT s.hash FROM passphrase s JOIN person p ON p.id = s.person_id "
                "WHERE p.display_name = ?",
                (name,),
            ).fetchone()
        assert link_row["used_at"] is not None
        assert kept["hash"].startswith("$argon2") and phrase not in kept["hash"]

        # ...and presses its button after the first use: refused, and so is opening it again
        assert press(second, "Sign in as Link Lee") == 400
        expect(second.locator(ALERT)).to_contain_text(LINK_REFUSED)
        assert second.goto(link).status == 400
        expect(second.locator(ALERT)).to_contain_text(LINK_REFUSED)
        expect(second.get_by_role("button", name="Sign in as Link Lee")).to_have_count(0)
        assert web_sessions(voila_server, name) == [("link", None)]

        # the first browser stays signed in
        voila_server.open_app(first, "directory.ipynb")
        expect(first.locator(WHOAMI)).to_contain_text("Signed in as Link Lee")

        # the second signs in with name and passphrase: a wrong passphrase first
        assert sign_in_with_passphrase(second, name, "not lee's passphrase") == 400
        expect(second.locator(ALERT)).to_contain_text(NO_MATCH)
        assert session_cookie(second) is None
        assert web_sessions(voila_server, name) == [("link", None)]  # no session added
        assert sign_in_with_passphrase(second, "  link   LEE ", phrase) == 302
        second.locator(WHOAMI).wait_for(state="visible", timeout=60_000)
        assert second.url == voila_server.url("reflection.ipynb")  # where the link led
        expect(second.locator(WHOAMI)).to_contain_text("Signed in as Link Lee (practitioner)")
    assert web_sessions(voila_server, name) == [("link", None), ("passphrase", None)]


def _open_join_code(server: VoilaServer) -> tuple[str, str]:
    """(id, join code) of a demo community session whose code works now; the demo's "last
    week" and "next week" ones do not, so plan one starting within the hour."""
    from cop_widgets.errors import InvalidInput
    from cop_widgets.services import sessions
    from cop_widgets.services.identity import find_or_add_person

    with server.db() as db:
        cop_id = db.execute(
            "SELECT id FROM community WHERE name = 'Demo community of practice'"
        ).fetchone()[0]
        planned = db.execute(
            "SELECT id, join_code FROM cop_session WHERE community_id = ? AND status != 'closed'",
            (cop_id,),
        ).fetchall()
    store = server.open_store()
    try:
        now = datetime.now(UTC)
        for row in planned:
            try:
                sessions.check_join_code(store, row["join_code"], now)
            except InvalidInput:
                continue
            return row["id"], row["join_code"]
        coord = find_or_add_person(store, "Demo coordinator")
        made = sessions.plan_session(store, coord, cop_id, now + timedelta(minutes=30), "Newcomers")
        return made.id, made.join_code
    finally:
        store.dispose()


def test_newcomer_creates_an_account_through_a_join_link(browser, voila_server):
    session_id, code = _open_join_code(voila_server)
    join_link = voila_server.url("session.ipynb") + f"?code={code}"
    phrase = "nell joins the room"

    def create(page: Page, name: str) -> int:
        page.get_by_label("Your name (first name or nickname)").fill(name)
        page.get_by_label("Choose a passphrase (at least 8 characters)").fill(phrase)
        page.get_by_label("Type it again").fill(phrase)
        return press(page, "Create my account and join")

    people = person_count(voila_server)
    with fresh_browser(browser) as page:
        # a wrong code: the form is offered, the account refused
        page.goto(voila_server.url("session.ipynb") + "?code=WRONG9")
        assert create(page, "Wrong Code Wes") == 400
        expect(page.locator(ALERT)).to_contain_text("No session has the code WRONG9")

        page.goto(join_link)  # signed out: the sign-in page, which keeps the code
        assert urlsplit(page.url).path == "/login"
        expect(page.get_by_role("heading", name="New here? Create your account")).to_be_visible()
        expect(page.locator("main")).to_contain_text(f"joining the session with code {code}")
        for taken in (
            "Demo practitioner",
            "  demo   PRACTITIONER ",
            "D\u0435mo practitioner",  # Cyrillic e
            "Demo\u200b practitioner",  # a zero-width space
        ):
            assert create(page, taken) == 400, taken
            expect(page.locator(ALERT)).to_contain_text(TAKEN)
        assert person_count(voila_server) == people  # no twin, no half-made account
        assert session_cookie(page) is None

        assert create(page, "Newcomer Nell") == 302
        page.locator(WHOAMI).wait_for(state="visible", timeout=60_000)
        assert page.url == join_link
        expect(page.locator(WHOAMI)).to_contain_text("Signed in as Newcomer Nell (practitioner)")
        expect(page.locator(".cop-app")).to_contain_text("attendance is recorded")

    with fresh_browser(browser) as later:  # back another day: name and passphrase
        later.goto(login_url(voila_server, f"session.ipynb?code={code}"))
        assert sign_in_with_passphrase(later, "newcomer nell", phrase) == 302
        later.locator(WHOAMI).wait_for(state="visible", timeout=60_000)
        expect(later.locator(".cop-app")).to_contain_text("attendance is recorded")

    with voila_server.db() as db:
        nell = db.execute(
            "SELECT id, role FROM person WHERE display_name = 'Newcomer Nell'"
        ).fetchone()
        attended = db.execute(
            "SELECT session_id FROM attendance WHERE person_id = ?", (nell["id"],)
        ).fetchall()
        wes = db.execute(
            "SELECT count(*) FROM person WHERE display_name = 'Wrong Code Wes'"
        ).fetchone()[0]
    assert nell["role"] == "practitioner"
    assert [a["session_id"] for a in attended] == [session_id]  # once, however often opened
    assert wes == 0
    assert person_count(voila_server) == people + 1
    assert web_sessions(voila_server, "Newcomer Nell") == [("register", None), ("passphrase", None)]


def test_forged_identity_and_foreign_or_tampered_cookies_are_refused(
    browser, voila_server, other_server
):
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.services import reflections
    from cop_widgets.services.identity import IDENTITY_HEADER, find_or_add_person, make_assertion
    from cop_widgets.services.secret import server_secret_key

    rolfe = load_frameworks(voila_server.data_dir / "frameworks").get("rolfe-2001")
    mine, theirs = "Fiona's own reflection", "Victor's private reflection"
    store = voila_server.open_store()
    try:
        fiona = find_or_add_person(store, "Forge Fiona")
        victor = find_or_add_person(store, "Victim Victor")
        for who, text in ((fiona, mine), (victor, theirs)):
            answers = {"what": text, "so_what": "so what", "now_what": "now what"}
            answers = {k: reflections.Answer(v) for k, v in answers.items()}
            reflections.submit(store, who, str(uuid.uuid4()), rolfe, answers)
        # the strongest forgery: Victor's identity signed with the server's own kernel key
        forged = make_assertion(
            server_secret_key(store, "kernel-identity"), victor.id, None, time.time()
        )
    finally:
        store.dispose()

    with fresh_browser(browser) as page:
        voila_server.sign_in(page, "Forge Fiona", app="directory.ipynb")
        page.context.set_extra_http_headers({IDENTITY_HEADER: forged})
        sent: list[str | None] = []
        page.on(
            "request",
            lambda r: sent.append(r.headers.get("x-cop-identity")) if "/render/" in r.url else None,
        )
        voila_server.open_app(page, "reflection.ipynb", f"?user={victor.id}&person_id={victor.id}")
        assert forged in sent  # the browser did send the forged header
        expect(page.locator(WHOAMI)).to_contain_text("Signed in as Forge Fiona (practitioner)")
        expect(page.locator(".cop-app")).to_contain_text(mine)
        shown = page.locator(".cop-app").inner_text()
        assert theirs not in shown and "Victor" not in shown
        page.context.set_extra_http_headers({})

        # the sign-in cookie with one character changed: back to the sign-in page
        cookie = session_cookie(page)
        fields = cookie["value"].split("|")
        token = fields[4]  # "length:base64 of the session token"
        fields[4] = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        page.context.add_cookies([{**cookie, "value": "|".join(fields)}])
        page.goto(voila_server.url("reflection.ipynb"))
        assert urlsplit(page.url).path == "/login"
        expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
        page.context.add_cookies([cookie])  # the cookie as the server made it still works
        voila_server.open_app(page, "reflection.ipynb")
        expect(page.locator(WHOAMI)).to_contain_text("Signed in as Forge Fiona")

    with fresh_browser(browser) as page:
        # Signed in on another server (its own store and secret; the same name exists on both).
        # Both listen on 127.0.0.1, and cookies belong to the host, not the port: this browser
        # now sends the other server's cookie to the first one.
        other_server.sign_in(page, "Forge Fiona", app="directory.ipynb")
        expect(page.locator(WHOAMI)).to_contain_text("Signed in as Forge Fiona")
        carried = session_cookie(page)
        assert carried["domain"] == "127.0.0.1"
        page.goto(voila_server.url("reflection.ipynb"))
        assert urlsplit(page.url).path == "/login"
        assert session_cookie(page)["value"] == carried["value"]  # it was sent, and refused
    assert web_sessions(voila_server, "Forge Fiona") == [("link", None)]


def test_sign_out_ends_the_session(browser, voila_server):
    name = "Sign-out Sam"
    with fresh_browser(browser) as page:
        voila_server.sign_in(page, name, app="directory.ipynb")
        cookie = session_cookie(page)
        page.locator(WHOAMI).get_by_role("link", name="Sign out").click()
        expect(page.locator("main")).to_contain_text(f"You are signed in as {name}")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("status")).to_have_text("You are signed out.")
        assert session_cookie(page) is None
        page.goto(voila_server.url("directory.ipynb"))
        assert urlsplit(page.url).path == "/login"
        # the old cookie, kept by someone: the server ended that session
        page.context.add_cookies([cookie])
        page.goto(voila_server.url("reflection.ipynb"))
        assert urlsplit(page.url).path == "/login"
    ((via, revoked),) = web_sessions(voila_server, name)
    assert via == "link" and revoked is not None


def test_eleven_wrong_passphrases_in_a_row_make_the_next_try_wait(browser, other_server):
    """On the second server: the throttle counts per client address too, and every browser
    here is 127.0.0.1; the failures are cleared at the end so its other tests can sign in."""
    from cop_widgets.services import accounts

    name, phrase = "Throttle Theo", "theo's right passphrase"
    store = other_server.open_store()
    try:
        theo = accounts.find_by_name(store, name) or accounts.add_person(store, name)
        accounts.set_passphrase(store, theo.id, phrase, phrase)
    finally:
        store.dispose()
    try:
        with fresh_browser(browser) as page:
            page.goto(login_url(other_server, "directory.ipynb"))
            for n in range(10):
                assert sign_in_with_passphrase(page, name, f"wrong guess {n}") == 400
                expect(page.locator(ALERT)).to_contain_text(NO_MATCH)
            assert sign_in_with_passphrase(page, name, phrase) == 429  # the 11th, though right
            expect(page.locator(ALERT)).to_contain_text(
                re.compile(r"Too many tries\. Wait \d+ minutes? and try again")
            )
            assert session_cookie(page) is None
        assert web_sessions(other_server, name) == []
        with other_server.db() as db:
            refused = db.execute(
                "SELECT count(*) FROM audit_event WHERE action = 'sign_in_failed' "
                "AND actor_id IS NULL AND target_id = ?",
                (theo.id,),
            ).fetchone()[0]
        assert refused == 10
    finally:
        with other_server.db() as db:
            db.execute("DELETE FROM sign_in_failure")
