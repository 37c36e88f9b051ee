"""A new store, as an organisation starts: `cop serve --no-demo` prints the first coordinator's
one-time link; the coordinator adds two people in the community app and hands them their links;
each signs in with theirs and sees only their own reflections; no app asks for a name."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import REPO, VoilaServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def new_store_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e-first-run") / "data"
    shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
    # no kernels started ahead: three pages are opened, not a room's worth
    server = VoilaServer(data_dir, data_dir / "voila.log", extra=("--no-demo",), pool_size=0)
    yield server
    server.stop()


def _sign_in_with(page, link: str, name: str, app: str) -> None:
    page.goto(f"{link}&next=/voila/render/{app}")
    page.get_by_role("button", name=f"Sign in as {name}").click()
    page.get_by_role("link", name="Not now: continue").click()
    expect(page.locator(".cop-whoami")).to_contain_text(f"Signed in as {name}", timeout=60_000)


def _add_person(page, name: str) -> str:
    page.locator(".cop-people-name input").fill(name)
    page.locator(".cop-people-name input").press("Tab")
    page.locator(".cop-people-add").click()
    expect(page.locator(".cop-status")).to_contain_text(f"Sign-in link for {name} made")
    return page.locator(".cop-people-link input").input_value()


def test_first_coordinator_adds_people_who_sign_in_with_their_links(new_store_server, browser):
    server = new_store_server
    printed = open(server.log.name, encoding="utf-8").read()
    found = re.search(r"First sign-in, as the coordinator “(.+?)” \(works once\): (\S+)", printed)
    assert found, printed[-2000:]
    name, first_link = found.groups()
    coordinator = browser.new_context()
    page = coordinator.new_page()
    _sign_in_with(page, first_link, name, "community.ipynb")
    links = {who: _add_person(page, who) for who in ("Ana Alpha", "Ben Beta")}
    assert all(link.startswith(server.base + "/login?link=") for link in links.values())
    assert links["Ana Alpha"] != links["Ben Beta"]
    seen = {}
    for who, link in links.items():
        context = browser.new_context()
        person = context.new_page()
        _sign_in_with(person, link, who, "reflection.ipynb")
        assert person.locator(".cop-app input[type=text]").count() == 0  # nobody types a name
        person.locator(".cop-new").click()
        person.locator(".cop-answer textarea").fill(f"{who} wrote this about a home visit.")
        person.locator(".cop-save").click()
        expect(person.locator(".cop-status")).to_contain_text("saved")
        person.locator(".cop-close").click()
        person.locator(".cop-open").first.wait_for(state="visible")  # back on "My reflections"
        seen[who] = person.locator(".cop-app").inner_text()
        context.close()
    assert "Ana Alpha wrote this" in seen["Ana Alpha"] and "Ben Beta" not in seen["Ana Alpha"]
    assert "Ben Beta wrote this" in seen["Ben Beta"] and "Ana Alpha" not in seen["Ben Beta"]
    # the first link worked once: opening it again does not sign anyone in
    again = browser.new_context()
    reuse = again.new_page()
    reuse.goto(first_link)
    expect(reuse.get_by_role("alert")).to_contain_text("does not work")
    again.close()
    coordinator.close()
    with server.db() as db:
        via = [r[0] for r in db.execute("SELECT via FROM web_session ORDER BY created_at")]
    assert via == ["link", "link", "link"]
