"""The facilitator's run sheet, driven in-process: one session on one page, refused to anyone
who may not run it."""

import re
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import segno
from sqlalchemy import select

from cop_widgets.apps.community import community_app
from cop_widgets.apps.run_sheet import join_url, qr_svg, run_sheet_app
from cop_widgets.apps.session import session_app
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.services import checkins, discussions, sessions
from cop_widgets.services.identity import IDENTITY_ENV, find_or_add_person, make_assertion
from cop_widgets.settings import load_settings
from cop_widgets.store.schema import audit_event, cop_session
from tests.conftest import REPO
from tests.signin import sign_in_as

SETS, _ = load_item_sets(REPO / "data" / "session_items")


@pytest.fixture
def planned(store):
    """Fay starts a community (so she runs it), adds three members, plans a consultancy
    session starting now; nobody has joined."""
    fay = find_or_add_person(store, "Fay Facilitator")
    cop = sessions.create_community(store, fay, "Northside CoP")
    members = []
    for name in ("Ana", "Ben", "Cal"):
        who = find_or_add_person(store, name)
        sessions.add_member(store, fay, cop.id, who.id, "member")
        members.append(who)
    session = sessions.plan_session(
        store, fay, cop.id, datetime.now(UTC), "Engaging fathers", "What helps?", "consultancy"
    )
    return fay, cop, session, members


def _sheet(settings, who, session_id, **kw):
    app = run_sheet_app(settings=settings, **kw)
    app.query = f"session={session_id}"
    sign_in_as(app, who)
    return app


def _texts(widget) -> str:
    """Every HTML and label text under a widget, as the page would show it."""
    out = [getattr(widget, "value", "") if isinstance(getattr(widget, "value", ""), str) else ""]
    out.append(getattr(widget, "description", "") or "")
    for child in getattr(widget, "children", ()):
        out.append(_texts(child))
    return " ".join(out)


def test_only_those_who_run_the_session_open_its_run_sheet(store, settings, planned):
    fay, _, session, (ana, *_) = planned
    # a member of the community who does not run it
    member = _sheet(settings, ana, session.id)
    assert "You may not run a session" in member.status.message
    assert member.session is None and session.join_code not in _texts(member)
    # a member of another community, who runs that one
    other = find_or_add_person(store, "Olga Other")
    sessions.create_community(store, other, "Southside CoP")
    stranger = _sheet(settings, other, session.id)
    assert "You may not run a session" in stranger.status.message
    assert stranger.session is None and session.join_code not in _texts(stranger)
    # a made-up id is refused the same way (the query string only chooses a record)
    guessed = _sheet(settings, other, str(uuid.uuid4()))
    assert "You may not run a session" in guessed.status.message
    with store.read() as conn:
        refused = conn.execute(
            select(audit_event.c.actor_id).where(
                audit_event.c.action == "session.manage", audit_event.c.outcome == "refused"
            )
        ).scalars()
        assert {ana.id, other.id} <= set(refused)
    # no identity from the query string or a forged header
    forged = make_assertion(b"guessed key".ljust(32), fay.id, None, time.time())
    app = run_sheet_app(
        settings=settings,
        environ={"QUERY_STRING": f"session={session.id}&user={fay.id}", IDENTITY_ENV: forged},
    )
    assert app.person is None and "not signed in" in app.status.message
    assert session.join_code not in _texts(app)
    # the facilitator named for the session runs it, without running the community
    sessions.set_session_roles(store, fay, session.id, {"facilitator": ana.id})
    named = _sheet(settings, ana, session.id)
    assert named.session is not None and named.session.join_code == session.join_code


def test_the_join_address_is_full_copyable_and_drawn_as_a_qr_code(settings, planned):
    fay, _, session, _ = planned
    # the address the facilitator's browser used (the server passes it to the kernel)
    app = run_sheet_app(settings=settings)
    app.query = f"session={session.id}"
    sign_in_as(app, fay)
    app.environ = {**app.environ, "HTTP_X_COP_SITE": "http://10.0.0.7:8866"}
    assert app.join_address() == (
        f"http://10.0.0.7:8866/voila/render/session.ipynb?code={session.join_code}"
    )
    # COP_PUBLIC_URL wins: room mode sets it to the address the room can reach
    public = replace(
        settings,
        public_url=load_settings({"COP_PUBLIC_URL": "http://192.168.1.20:8866/"}).public_url,
    )
    app = _sheet(public, fay, session.id)
    url = f"http://192.168.1.20:8866/voila/render/session.ipynb?code={session.join_code}"
    assert app.join_address() == url == join_url("http://192.168.1.20:8866", session.join_code)
    # under a Hub service's prefix (Voilà gives the kernel its base path)
    app.environ = {**app.environ, "VOILA_BASE_URL": "/services/cop/"}
    assert app.join_address() == url.replace(":8866/", ":8866/services/cop/")
    app.environ = {k: v for k, v in app.environ.items() if k != "VOILA_BASE_URL"}
    page = _texts(app.body)
    assert f"value='{url}'" in page and "readonly" in page and "cop-run-copy" in page
    assert f"<span class='cop-run-code'>{session.join_code}</span>" in page
    # the QR code on the page is exactly segno's code for that address, read back from the SVG
    svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and "aria-label=" in svg and "http" not in svg.split(">")[0]
    assert _modules(svg) == _dark_modules(segno.make_qr(url, error="m"))
    assert _modules(qr_svg("http://other/")) != _modules(svg)


def _modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules an SVG path from segno draws: "M x y" then h (run) and m (move)."""
    path = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg).group(1)
    x = y = 0.0
    dark = set()
    for op, args in re.findall(r"([Mmh])([-\d. ]+)", path):
        nums = [float(n) for n in args.split()]
        if op == "M":
            x, y = nums
        elif op == "m":
            x, y = x + nums[0], y + nums[1]
        else:
            dark |= {(int(x + i), int(y)) for i in range(int(nums[0]))}
            x += nums[0]
    return dark


def _dark_modules(qr) -> set[tuple[int, int]]:
    border = 4
    return {
        (c + border, r + border)
        for r, row in enumerate(qr.matrix)
        for c, bit in enumerate(row)
        if bit
    }


def test_roles_are_given_before_anyone_joins_from_the_members(store, settings, planned):
    fay, _, session, (ana, ben, cal) = planned
    app = _sheet(settings, fay, session.id)
    offered = {pid for _, pid in app.pickers["presenter"].options}
    assert {fay.id, ana.id, ben.id, cal.id} <= offered  # members, though nobody joined
    assert "0 joined" in app.joined_view.value
    app.pickers["facilitator"].value = fay.id
    app.pickers["presenter"].value = ana.id
    app.pickers["timekeeper"].value = ben.id
    app.pickers["note_taker"].value = cal.id
    app.save_roles()
    assert "Roles saved" in app.status.message
    assert sessions.session_roles(store, fay, session.id) == {
        "facilitator": fay.id,
        "presenter": ana.id,
        "timekeeper": ben.id,
        "note_taker": cal.id,
    }
    # someone new joins: listed, and offered a role, with every choice kept
    dee = find_or_add_person(store, "Dee")
    sessions.join(store, dee, session.join_code, datetime.now(UTC))
    app.refresh()  # the ticker's job in a kernel
    assert "1 joined" in app.joined_view.value and "<bdi>Dee</bdi>" in app.joined_view.value
    assert dee.id in {pid for _, pid in app.pickers["note_taker"].options}
    assert app.pickers["presenter"].value == ana.id


def test_the_case_discussion_starts_with_the_sessions_protocol_and_roles(store, settings, planned):
    fay, _, session, (ana, ben, cal) = planned
    sessions.set_session_roles(
        store, fay, session.id, {"presenter": ana.id, "timekeeper": ben.id, "note_taker": cal.id}
    )
    app = _sheet(settings, fay, session.id)
    form = app.start_form
    assert form.protocol.value == "consultancy"
    assert {r: form.role_inputs[r].value for r in ("presenter", "timekeeper", "note_taker")} == {
        "presenter": "Ana",
        "timekeeper": "Ben",
        "note_taker": "Cal",
    }
    assert "None started yet" in app.discussions_view.value
    form.summary.value = "A father of three; the school wants him involved."
    assert app.unsaved  # typed, not yet started: the page asks before it is left
    app.start_discussion()  # Fay runs the session without having joined it
    assert not app.unsaved
    assert "Case discussion started" in app.status.message
    [started] = discussions.session_discussions(store, fay, session.id)
    held = discussions.open_discussion(store, fay, started.id)
    assert held.session_id == session.id and held.protocol_id == "consultancy"
    assert dict(held.roles) == {"note_taker": "Cal", "presenter": "Ana", "timekeeper": "Ben"}
    assert f"case_discussion.ipynb?discussion={started.id}" in app.discussions_view.value
    assert app.start_form is not form and app.start_form.summary.value == ""

    # a participant finds it from their join page, and opens it by that link
    join = session_app(settings=settings)
    join.query = f"code={session.join_code}"
    sign_in_as(join, ana)
    assert f"case_discussion.ipynb?discussion={started.id}" in join.next_view.value
    from cop_widgets.apps.case_discussion import case_discussion_app

    opened = case_discussion_app(settings=settings)
    opened.query = f"discussion={started.id}"
    sign_in_as(opened, ana)
    assert opened.view is not None and opened.view.discussion.id == started.id
    # someone who may not read it is refused, and sees only the list
    outsider = case_discussion_app(settings=settings)
    outsider.query = f"discussion={started.id}"
    sign_in_as(outsider, "Olga Outsider")
    assert outsider.view is None and "You may not read a case discussion" in (
        outsider.status.message
    )
    # refused by the service (the session closed meanwhile): said, and the summary is kept
    app.start_form.summary.value = "A mother of two; kept on the page."
    sessions.close_session(store, fay, session.id)
    app.guard(app.start_discussion)
    assert "is closed" in app.status.message
    assert app.start_form.summary.value == "A mother of two; kept on the page." and app.unsaved


def test_check_out_shows_on_the_join_page_once_the_facilitator_opens_it(store, settings, planned):
    fay, _, session, (ana, *_) = planned
    join = session_app(settings=settings)
    join.query = f"code={session.join_code}"
    sign_in_as(join, ana)
    assert "Check-out opens when the facilitator opens it" in join.checkout_note.value
    assert join.checkout_button.layout.display == "none"
    join.guard(join._show_form, "checkout")  # even if pressed, no form before then
    assert "not open yet" in join.status.message and "one_word" not in _texts(join.form_box)

    app = _sheet(settings, fay, session.id)
    assert "Open check-out for the room" in _texts(app.checkout_box)
    app.open_checkout()
    assert "Check-out is open" in _texts(app.checkout_box)
    with store.read() as conn:
        opened = conn.execute(
            select(cop_session.c.checkout_opened_at).where(cop_session.c.id == session.id)
        ).scalar()
    assert opened is not None
    sessions.open_checkout(store, fay, session.id)  # again: the first time stays
    assert sessions.session_to_run(store, fay, session.id).checkout_opened_at == opened

    join.poll()  # the join page's ticker, a few seconds later: no reload
    assert join.checkout_note.value == "" and join.checkout_button.layout.display is None
    join.checkout_button.click()
    join.form.controls["one_word"].value = "hopeful"
    join.form.send.click()
    assert checkins.has_answered(store, ana, session.id, "checkout")
    app.refresh()
    assert "Check-out: 1" in app.board.counts.value
    # only someone who runs the session opens check-out
    with pytest.raises(Exception, match="You may not run a session"):
        sessions.open_checkout(store, ana, session.id)


def test_a_small_room_is_told_why_the_board_shows_nothing(store, settings, planned):
    fay, _, session, (ana, ben, _) = planned
    for who in (ana, ben):
        sessions.join(store, who, session.join_code, datetime.now(UTC))
        checkins.submit_answers(
            store, who, session.id, SETS["checkin"], {"wellbeing": 4, "confidence_reflect_then": 3}
        )
    app = _sheet(settings, fay, session.id)
    app.board.reveal.value = True
    results = app.board.results.value
    assert "Nothing from the answers is shown yet" in results and "at least 5 people" in results
    assert "<strong>2</strong> joined" in app.board.counts.value
    assert "Check-in: 2" in app.board.counts.value
    assert "rating(s)" not in results


def test_close_asks_first_then_closes_and_keeps_the_page(store, settings, planned):
    fay, _, session, _ = planned
    app = _sheet(settings, fay, session.id)
    area = next(w for w in app.body.children if "cop-close-area" in w._dom_classes)
    close, confirm = area.children[1], area.children[2]
    close.click()
    assert confirm.layout.display is None
    keep = confirm.children[1].children[1]
    keep.click()
    assert "stays open" in app.status.message
    assert sessions.session_to_run(store, fay, session.id).status != "closed"
    close.click()
    confirm.children[1].children[0].click()  # "Yes, close it"
    assert "Session closed" in app.status.message
    assert sessions.session_to_run(store, fay, session.id).status == "closed"
    assert "This session is closed" in _texts(app.body)
    assert app.start_form is None  # nothing more can be started in it
    assert "Make the session report" in app.status.message
    assert app.report_panel.button.description == "Make the session report"
    with pytest.raises(Exception, match="closed"):
        sessions.open_checkout(store, fay, session.id)


def test_the_community_page_links_each_session_to_its_run_sheet(store, settings, planned):
    fay, _, session, (ana, *_) = planned
    host = community_app(settings=settings)
    sign_in_as(host, fay)
    assert f"run_sheet.ipynb?session={session.id}" in _texts(host.community_box)
    member = community_app(settings=settings)
    sign_in_as(member, ana)
    assert "run_sheet.ipynb" not in _texts(member.community_box)
    sessions.set_session_roles(store, fay, session.id, {"facilitator": ana.id})
    member = community_app(settings=settings)
    sign_in_as(member, ana)  # now she facilitates this session: its run sheet is hers
    assert f"run_sheet.ipynb?session={session.id}" in _texts(member.community_box)


def test_a_store_made_before_migration_12_gains_the_check_out_state(settings, store, planned):
    """An older store (sessions without the check-out state) upgrades, its sessions kept."""
    import sqlite3

    from cop_widgets.store import open_store

    fay, _, session, _ = planned
    store.dispose()
    with sqlite3.connect(settings.data_dir / "cop.sqlite") as raw:
        raw.execute("ALTER TABLE cop_session DROP COLUMN checkout_opened_at")
        raw.execute("DELETE FROM schema_migrations WHERE version = 12")
    upgraded = open_store(settings)
    try:
        kept = sessions.session_to_run(upgraded, fay, session.id)
        assert kept.topic == "Engaging fathers" and kept.checkout_opened_at is None
        assert sessions.open_checkout(upgraded, fay, session.id).checkout_opened_at is not None
    finally:
        upgraded.dispose()


def test_without_a_session_the_page_says_where_to_open_it(settings, planned):
    fay, *_ = planned
    app = run_sheet_app(settings=settings)
    sign_in_as(app, fay)
    assert "Run sheet" in _texts(app.body) and "community.ipynb" in _texts(app.body)


def test_the_home_page_leads_whoever_runs_todays_session_to_its_run_sheet(store, settings, planned):
    from cop_widgets.apps.home import home_app

    fay, cop, session, (ana, *_) = planned
    sessions.plan_session(  # next week: not today's
        store, fay, cop.id, datetime.now(UTC) + timedelta(days=7), "Later", "", "consultancy"
    )
    host = home_app(settings=settings)
    sign_in_as(host, fay)
    runs = re.findall(r'class="cop-card cop-card-run-today" href="([^"]*)"', host.cards_view.value)
    assert runs == [f"run_sheet.ipynb?session={session.id}"]
    assert "Run today&#x27;s session" in host.cards_view.value
    member = home_app(settings=settings)
    sign_in_as(member, ana)
    assert "cop-card-run-today" not in member.cards_view.value
