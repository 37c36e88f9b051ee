"""Two participants' servers, one store: a real JupyterHub runs deploy/jupyterhub_config.py with
two `cop serve --hub` services (/services/cop/ and /services/cop-2/) and the review service on
one real PostgreSQL database, empty at the start (the three migrate it between them). One
person, signed in once through the Hub, uses both servers in headless Chromium: a discussion
clock started through one runs on the other, and a session board counts the same on both
after a check-out saved through one. Nothing is shared between the servers but the store.

Needs the Hub's proxy (`bash scripts/ensure-hub-proxy`) and PostgreSQL (tests/pg.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.hub import Hub, hub_login, open_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ONE, TWO = "/services/cop/voila/render/", "/services/cop-2/voila/render/"


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory, postgres_server):
    database = postgres_server.create_database()  # empty: the services migrate it
    started = time.monotonic()
    # no kernels started ahead: the pages here start their own (a quicker start for the test)
    hub = Hub(
        tmp_path_factory.mktemp("two-servers"),
        {"fay": ["cop-coordinators"]},
        servers=2,
        database_url=postgres_server.url(database),
        pool_size=0,
    )
    print(f"JupyterHub, two cop servers and the review server ready in "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    yield hub
    hub.stop()
    postgres_server.drop_database(database)


def _a_session_on_now(hub: Hub):
    """Fay's community, its session on now, and a case discussion in it whose clock she runs."""
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.services import discussions, sessions
    from cop_widgets.services.identity import find_or_add_person

    store = hub.open_store()
    try:
        fay = find_or_add_person(store, "hub:fay")
        cop = sessions.create_community(store, fay, "Two servers CoP")
        session = sessions.plan_session(store, fay, cop.id, datetime.now(UTC), "One store")
        mapping = load_protocols(hub.data_dir / "protocols").get("three_column_mapping")
        discussion = discussions.start_discussion(
            store, fay, mapping, "A case seen from two servers", session_id=session.id
        )
        return session, discussion
    finally:
        store.dispose()


def test_a_clock_and_a_board_move_together_on_both_servers(page: Page, two_servers: Hub):
    hub = two_servers
    session, discussion = _a_session_on_now(hub)
    started = time.monotonic()

    # the discussion on server 1 (signing in through the Hub) and on server 2 (no new sign-in)
    on_one = f"case_discussion.ipynb?discussion={discussion.id}"
    hub_login(page, hub, ONE + on_one, "fay")
    other = page.context.new_page()
    other.goto(hub.url(TWO + on_one), wait_until="commit")
    open_app(page)
    open_app(other)
    clock_one, clock_two = page.locator(".cop-clock"), other.locator(".cop-clock")
    expect(clock_two).to_contain_text("not started", timeout=30_000)
    # started through server 1: server 2's page shows it running; paused through server 2:
    # server 1's page shows it paused, at the same time left
    page.locator(".cop-timer-start").click()
    expect(clock_two).to_contain_text("running", timeout=10_000)
    other.locator(".cop-timer-pause").click()
    expect(clock_one).to_contain_text("paused", timeout=10_000)
    expect(clock_two).to_contain_text("paused")
    assert clock_one.inner_text() == clock_two.inner_text()

    # the board: server 1's run sheet and server 2's board page, both open before anyone joins
    # (an update that lands while a page is still loading its widgets is not shown until the
    # next one: the live update is what is tested here)
    page.goto(hub.url(f"{ONE}run_sheet.ipynb?session={session.id}"), wait_until="commit")
    other.goto(hub.url(f"{TWO}board.ipynb?code={session.join_code}"), wait_until="commit")
    board_one, board_two = page.locator(".cop-board-counts"), other.locator(".cop-board-counts")
    expect(board_one).to_contain_text("0 joined", timeout=60_000)
    expect(board_two).to_contain_text("0 joined", timeout=60_000)
    # Fay joins through server 2: both boards count her
    joining = page.context.new_page()
    joining.goto(hub.url(f"{TWO}session.ipynb?code={session.join_code}"), wait_until="commit")
    expect(joining.locator(".cop-status")).to_contain_text("Joined", timeout=60_000)
    expect(board_one).to_contain_text("1 joined", timeout=10_000)
    expect(board_two).to_contain_text("1 joined", timeout=10_000)
    # check-out opened through server 1 shows on server 2's join page; saved through server 2
    page.locator(".cop-run-open-checkout").click()
    joining.locator(".cop-checkout").click(timeout=15_000)
    joining.locator(".cop-item-one_word input").fill("shared")
    joining.locator(".cop-send-checkout").click()
    expect(joining.locator(".cop-status")).to_contain_text("is saved")
    expect(board_one).to_contain_text("Check-out: 1", timeout=10_000)
    expect(board_two).to_contain_text("Check-out: 1", timeout=10_000)
    assert board_one.inner_text() == board_two.inner_text()
    print(f"the clock and the board on two servers: {time.monotonic() - started:.1f} s")
