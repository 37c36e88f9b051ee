"""A real JupyterHub on localhost runs the shipped deploy/jupyterhub_config.py (tests/e2e/hub.py):
`cop serve --hub` and `cop review --hub` as its services, under their prefixes
(/services/cop/, /services/cop-review/); people log in through the Hub's own login form in
headless Chromium.

Needs the Hub's proxy from npm (`bash scripts/ensure-hub-proxy`, run by `make test`).
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from playwright.sync_api import Page, expect

from cop_widgets.kernel_launcher import MODULE, is_kernel_command
from tests.e2e.conftest import REPO
from tests.e2e.hub import Hub, hub_login, open_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NO_ACCESS = "You have no access to the CoP Workbook yet: ask your coordinator for access."
USERS = {
    "sue": ["cop-supervisors"],
    "ana": ["cop-practitioners"],
    "ben": ["cop-practitioners"],
    "cora": ["cop-coordinators", "cop-supervisors"],  # sees every card of the home page
}
NOBODY = "zed"  # a Hub user in no cop group


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    started = time.monotonic()
    server = Hub(tmp_path_factory.mktemp("hub"), USERS | {NOBODY: []})
    print(f"JupyterHub and both cop services ready in {time.monotonic() - started:.1f} s")
    yield server
    server.stop()


def hub_log_text(hub: Hub) -> str:
    return Path(hub.log.name).read_text(errors="replace")


def person(hub: Hub, user: str) -> sqlite3.Row | None:
    with hub.db() as db:
        return db.execute(
            "SELECT id, display_name, role FROM person WHERE identity_key = ?", (f"hub:{user}",)
        ).fetchone()


def test_practitioner_signs_in_through_the_hub_and_the_server_knows_her(page: Page, hub: Hub):
    scripts = []
    page.on("response", lambda r: r.url.endswith(".js") and scripts.append(r))
    answers = hub_login(page, hub, "/services/cop/voila/render/reflection.ipynb", "ana")
    assert answers and answers[-1].status == 200
    open_app(page)

    # under the service's prefix too, the server compressed its static files when it started,
    # and the page's scripts came through the Hub's proxy gzipped (serving/compress.py)
    hub.log.flush()
    ahead = re.findall(r"Compressed (\d+) of (\d+) static files ahead", hub_log_text(hub))
    assert ahead and ahead[0][0] == ahead[0][1] and int(ahead[0][1]) > 100, ahead
    served = [r for r in scripts if "/services/cop/voila/static/" in r.url and r.status == 200]
    plain = [r.url for r in served if r.headers.get("content-encoding") != "gzip"]
    # files under 1 KiB are not worth a gzip header (compress.SMALLEST_WORTH_IT)
    assert served and all(len(r.body()) < 1024 for r in served if r.url in plain), plain
    assert len(plain) < len(served) / 4, plain

    ana = person(hub, "ana")
    assert ana is not None and (ana["display_name"], ana["role"]) == ("ana", "practitioner")
    with hub.db() as db:
        roles = {
            r[0]
            for r in db.execute("SELECT role FROM person_role WHERE person_id = ?", (ana["id"],))
        }
        events = [
            tuple(r)
            for r in db.execute(
                "SELECT action, outcome FROM audit_event WHERE actor_id = ? ORDER BY seq",
                (ana["id"],),
            )
        ]
    assert roles == {"practitioner"}
    assert ("signed_in_hub", "ok") in events
    header = page.locator(".cop-whoami")
    expect(header).to_contain_text("Signed in as ana (practitioner)")

    # The service's Hub token and JUPYTERHUB_USER never reach a kernel (a kernel reading
    # JUPYTERHUB_USER would take every visitor for the service's account).
    kernels = [p for p in hub.processes() if is_kernel_command(_cmdline(p))]
    assert kernels, "no kernel found under the Hub's services"
    # under the Hub too, each starts with the project's launcher (no debugpy)
    assert all(MODULE in _cmdline(kernel) for kernel in kernels)
    for kernel in kernels:
        env = _environ(kernel)
        assert "JUPYTERHUB_API_TOKEN" not in env and "JPY_API_TOKEN" not in env
        assert "JUPYTERHUB_USER" not in env

    # signing out of the app signs out of the service and the Hub
    header.get_by_role("link", name="Sign out").click()
    page.locator("#username_input").wait_for(state="visible")
    assert page.url.startswith(hub.url("/hub/login"))


def test_user_in_no_cop_group_is_refused(page: Page, hub: Hub):
    answers = hub_login(page, hub, "/services/cop/voila/render/reflection.ipynb", NOBODY)
    assert answers and answers[-1].status == 403
    expect(page.get_by_role("alert")).to_have_text(NO_ACCESS)
    assert "Traceback" not in page.content()
    assert person(hub, NOBODY) is None
    with hub.db() as db:
        refused = db.execute(
            "SELECT count(*) FROM audit_event WHERE action = 'sign_in_refused' AND outcome = "
            "'refused'"
        ).fetchone()[0]
    assert refused >= 1
    # The way out: sign out (of the service and the Hub) to sign in as someone else.
    page.get_by_role("link", name="Sign out").click()
    page.locator("#username_input").wait_for(state="visible")
    assert page.url.startswith(hub.url("/hub/login"))


def _shared_reflections(hub: Hub) -> None:
    """As the operator would: `cop roster hub:sue --supervises hub:ana`; ana and ben each
    submitted a reflection shared with their supervisor."""
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.services import reflections, roster
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.settings import load_settings
    from cop_widgets.store import open_store

    store = open_store(load_settings({"COP_DATA_DIR": str(hub.data_dir)}))
    try:
        sue, ana, ben = (find_or_add_person(store, f"hub:{u}") for u in ("sue", "ana", "ben"))
        roster.assign_supervisee(store, sue.id, ana.id)
        rolfe = load_frameworks(hub.data_dir / "frameworks").get("rolfe-2001")
        for who, text in ((ana, "Ana's visit went short"), (ben, "Ben's supervision note")):
            answers = {s.id: reflections.Answer(text) for s in rolfe.stages}
            reflections.submit(store, who, str(uuid.uuid4()), rolfe, answers, "supervisor")
    finally:
        store.dispose()


def test_only_supervisors_reach_the_review_server(page: Page, hub: Hub, browser):
    _shared_reflections(hub)
    review = "/services/cop-review/voila/render/supervisor_review.ipynb"
    answers = hub_login(page, hub, review, "sue")
    assert answers and answers[-1].status == 200
    open_app(page)
    sue = person(hub, "sue")
    assert sue is not None and sue["role"] == "supervisor"
    # her queue holds her supervisee's shared reflection, and only that
    expect(page.locator(".cop-open-review")).to_have_count(1)
    page.locator(".cop-open-review").click()
    expect(page.get_by_text("Ana's visit went short").first).to_be_visible(timeout=30_000)
    assert "Ben's supervision note" not in page.content()

    other = browser.new_context()
    try:
        ben_page = other.new_page()
        answers = hub_login(ben_page, hub, review, "ben")
        assert answers and answers[-1].status == 403
        expect(ben_page.get_by_role("alert")).to_contain_text("supervisor role")
    finally:
        other.close()
    ben = person(hub, "ben")
    assert ben is not None and ben["role"] == "practitioner"  # known, just not a supervisor


def _a_session_today(hub: Hub, user: str):
    """A community `user` coordinates, with a session on now (so the home page offers its run
    sheet) and a case discussion started in it (so the run sheet links to it)."""
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.services import discussions, sessions
    from cop_widgets.services.identity import find_or_add_person

    store = hub.open_store()
    try:
        host = find_or_add_person(store, f"hub:{user}")
        cop = sessions.create_community(store, host, "Prefix CoP")
        made = sessions.plan_session(store, host, cop.id, datetime.now(UTC), "Links everywhere")
        mapping = load_protocols(hub.data_dir / "protocols").get("three_column_mapping")
        discussions.start_discussion(store, host, mapping, "A case to link to", session_id=made.id)
        return made
    finally:
        store.dispose()


# Every link of the page, as the browser resolves it, and the join form as a person sends it.
_LINKS = """(code) => [
  ...[...document.querySelectorAll('a[href]')].map((a) => a.href),
  ...[...document.querySelectorAll('form[action]')].map((f) => {
    const url = new URL(f.getAttribute('action'), location.href);
    url.searchParams.set('code', code);
    return url.href;
  }),
]"""


def _title(notebook_path: str) -> str:
    """The page title a served notebook's page carries (its metadata title)."""
    name = notebook_path.rsplit("/", 1)[-1]
    folder = "review" if name == "supervisor_review.ipynb" else "workbooks"
    return json.loads((REPO / folder / name).read_text())["metadata"]["title"]


def test_every_link_on_the_home_page_and_run_sheet_works_under_the_prefix(page: Page, hub: Hub):
    """Every link the home page, the run sheet and the community page make, followed as the
    signed-in coordinator: each answers 200 with the app it names (its page title), at the
    address linked (no detour to the Hub's sign-in), under the service's prefix."""
    session = _a_session_today(hub, "cora")
    hub_login(page, hub, "/services/cop/voila/render/home.ipynb", "cora")
    open_app(page)
    page.locator(".cop-card-run-today").wait_for(state="visible")
    page.locator(".cop-upcoming").wait_for(state="visible")
    links = page.evaluate(_LINKS, session.join_code)
    [run_sheet] = [u for u in links if "/run_sheet.ipynb?" in u]
    page.goto(run_sheet, wait_until="commit")
    page.locator(".cop-run-discussion-link").wait_for(state="visible", timeout=60_000)
    links += page.evaluate(_LINKS, session.join_code)
    join_address = page.locator(".cop-run-url").input_value()
    assert join_address == hub.url(
        f"/services/cop/voila/render/session.ipynb?code={session.join_code}"
    )
    links.append(join_address)
    # and the community page the "Plan sessions" card opens: each session's join link
    [community] = [u for u in links if u.endswith("/community.ipynb")]
    page.goto(community, wait_until="commit")
    page.locator(".cop-run-sheet-link").wait_for(state="visible", timeout=60_000)
    links += page.evaluate(_LINKS, session.join_code)

    sign_out = [u for u in links if u.endswith("/logout")]
    followed = sorted({u for u in links if u.startswith(hub.base) and u not in sign_out})
    # the cards (run sheet, my page, reflections, discussions, plan sessions, communities,
    # library, directory, review, people), "join it", the join form; the run sheet's home,
    # board and discussion links, and its join address; the community page's join link (the
    # same as "join it") and run sheet link
    assert len(followed) >= 13, followed
    wrong = []
    for url in followed:
        path = urlsplit(url).path
        assert path.startswith(("/services/cop/", "/services/cop-review/")), url
        answer = page.request.get(url, timeout=60_000)
        title = f"<title>{html.escape(_title(path), quote=False)}</title>"
        if answer.status != 200 or answer.url != url or title not in answer.text():
            wrong.append(f"{url}: {answer.status} at {answer.url}")
    assert wrong == []
    # and "Sign out" (followed last): out of the service and the Hub, back at its sign-in
    assert set(sign_out) == {hub.url("/services/cop/logout")}
    answer = page.request.get(sign_out[0])
    assert answer.status == 200 and urlsplit(answer.url).path == "/hub/login"


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _environ(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except psutil.Error:
        return {}
