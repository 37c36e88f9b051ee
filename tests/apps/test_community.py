"""The community (coordinator) and session (participant) apps, driven headlessly."""

import base64
import datetime as dt

from sqlalchemy import func, select

from cop_widgets.apps.community import community_app
from cop_widgets.apps.session import session_app
from cop_widgets.services import sessions
from cop_widgets.store.schema import attendance, session_role
from tests.signin import sign_in_as


def _plan(app, topic="Engaging fathers", day=None, at="14:00"):
    app.p_date.value = day or dt.date.today()
    app.p_time.value = at
    app.p_topic.value = topic
    app.p_focus.value = "What helps fathers stay involved?"
    app.p_protocol.value = "consultancy"
    app.guard(app._plan)


def test_coordinator_creates_a_community_plans_sessions_and_gets_a_calendar(settings):
    app = community_app(settings=settings)
    sign_in_as(app, "Cora")
    app.new_name.value = "Family support CoP"
    app.new_domain.value = "Child and family support"
    app.new_purpose.value = "Learn from each other"
    app._create()
    _plan(app)
    assert "join code" in app.status.message
    _plan(app, "Later topic", dt.date.today() + dt.timedelta(days=28))
    page = app.community_box.children[0].value
    ics = base64.b64decode(page.split("base64,")[1].split('"')[0]).decode()
    assert ics.count("BEGIN:VEVENT") == 2 and "Engaging fathers" in ics
    text = " ".join(getattr(w, "value", "") for w in app.community_box.children) + " ".join(
        c.value
        for row in app.community_box.children
        for c in getattr(row, "children", ())
        if hasattr(c, "value") and isinstance(c.value, str)
    )
    assert "Upcoming sessions" in text and "Engaging fathers" in text and "0 joined" in text


def test_bad_time_is_a_message_and_keeps_the_form(settings):
    app = community_app(settings=settings)
    sign_in_as(app, "Cora")
    app.new_name.value = "CoP"
    app._create()
    app.p_topic.value = "Kept topic"
    app.p_date.value = dt.date.today()
    app.p_time.value = "2pm"
    app.guard(app._plan)
    assert "HH:MM" in app.status.message and app.p_topic.value == "Kept topic"


def test_participant_joins_by_link_once_and_roles_rotate(settings):
    coord = community_app(settings=settings)
    sign_in_as(coord, "Cora")
    coord.new_name.value = "CoP"
    coord._create()
    _plan(coord)
    [session] = sessions.sessions_of(
        coord.store,
        coord.person,
        coord.picker.value,
        dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
    )[0]
    for name in ("Ana", "Ben", "Cal", "Dee"):
        app = session_app(settings=settings)
        app.query = f"code={session.join_code.lower()}&x=1"  # the join link's query string
        sign_in_as(app, name)
        assert app.joined is not None and "Joined" in app.status.message
        app.join()  # joining twice
    with coord.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(attendance)).scalar() == 4
    coord.show_roles(session.id)
    picks = [w for w in coord.roles_box.children if hasattr(w, "options")]
    assert len({w.value for w in picks}) == 4 and all(w.value for w in picks)
    [save] = [w for w in coord.roles_box.children if getattr(w, "description", "") == "Save roles"]
    save.click()
    with coord.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(session_role)).scalar() == 4
    # closing sits apart from "Save roles" (its own area, last) and asks first
    close_area = coord.roles_box.children[-1]
    assert "cop-close-area" in close_area._dom_classes
    close, confirm = close_area.children[1:]
    sure, keep = confirm.children[1].children
    assert confirm.layout.display == "none"
    close.click()
    assert confirm.layout.display is None and close.layout.display == "none"
    keep.click()  # not yet: the session stays open
    assert sessions.get_session(coord.store, coord.person, session.id).status != "closed"
    assert "stays open" in coord.status.message
    close.click()
    sure.click()  # the coordinator closes the session from the app
    assert sessions.get_session(coord.store, coord.person, session.id).status == "closed"
    late = session_app(settings=settings)
    late.query = f"code={session.join_code}"
    sign_in_as(late, "Eve")
    assert late.joined is None and "has ended" in late.status.message


def test_wrong_code_gets_a_clear_message(settings):
    app = session_app(settings=settings)
    app.query = "code=NOPE99"
    sign_in_as(app, "Ana")
    assert app.joined is None and "No session has the code NOPE99" in app.status.message
    assert app.code.value == "NOPE99"
    assert app.body.children == (app.join_row,)  # the code in its field, to correct


def test_a_coordinator_adds_a_person_and_their_link_signs_them_in(settings):
    from cop_widgets.services import accounts, roster

    app = community_app(settings=settings, environ={})
    cora = sign_in_as(app, "Cora")
    assert not hasattr(app, "person_name")  # not a coordinator yet: no people panel
    roster.grant_role(app.store, cora.id, "coordinator")
    sign_in_as(app, cora)
    app.environ["HTTP_X_COP_SITE"] = "http://192.0.2.7:8866"  # set by the server per request
    app.person_name.value = "Nadia Newcomer"
    app.person_role.value = "facilitator"
    app._add_person()
    link = app.link_out.value
    assert link.startswith("http://192.0.2.7:8866/login?link=")  # the room's address
    assert app.person_name.value == "" and "Nadia Newcomer" in app.status.message
    token = link.split("link=")[1]
    signed = accounts.use_link(app.store, token, "127.0.0.1", 1)
    assert signed.person.display_name == "Nadia Newcomer"
    assert "facilitator" in roster.roles_of(app.store, signed.person.id)
    # a new link for her replaces the used one; a taken name is a message, the form kept
    app.relink_picker.value = signed.person.id
    app.guard(app._relink)
    assert app.link_out.value != link and "Nadia Newcomer" in app.status.message
    app.person_name.value = "nadia newcomer"
    app.guard(app._add_person)
    assert "taken or looks the same" in app.status.message
    assert app.person_name.value == "nadia newcomer"


def test_members_see_the_series_but_only_hosts_run_it(settings):
    host = community_app(settings=settings, environ={})
    sign_in_as(host, "Hana Host")
    host.new_name.value = "Northside CoP"
    host._create()
    _plan(host, topic="Working with fathers", day=dt.date.today() + dt.timedelta(days=1))
    [session] = sessions.sessions_of(
        host.store, host.person, host.picker.value, dt.datetime.now(dt.UTC)
    )[0]
    shown = repr(host.community_box.children)
    assert session.join_code in shown
    # the join link is the sibling page, so it also works under a Hub prefix (/services/cop/…)
    assert f"href='session.ipynb?code={session.join_code}'" in shown
    assert "href='/" not in shown and 'href="/' not in shown
    # the host adds Mo as a member before any session: Mo can then hold a role
    mo = sign_in_as(community_app(settings=settings, environ={}), "Mo Member")
    sign_in_as(host, host.person)
    host.member_pick.value = mo.id
    host.member_role.value = "member"
    host._add_member(host.picker.value)
    assert "Mo Member" in repr(host.community_box.children)
    host.show_roles(session.id)
    picks = [w for w in host.roles_box.children if hasattr(w, "options")]
    assert any(mo.id in dict(w.options).values() for w in picks)
    # Mo sees the community and its sessions, but no join code, no roles, no planning
    member = community_app(settings=settings, environ={})
    sign_in_as(member, mo)
    shown = repr(member.community_box.children)
    assert "Working with fathers" in shown and session.join_code not in shown
    assert "cop-session-roles" not in shown and not hasattr(member, "p_topic")
    # a stranger sees no community at all
    stranger = community_app(settings=settings, environ={})
    sign_in_as(stranger, "Sam Stranger")
    assert "Northside CoP" not in repr(stranger.body.children)
