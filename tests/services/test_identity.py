"""Identity reaches a kernel only as the server's signed assertion (services/identity.py):
forged, tampered, stale or foreign assertions, a typed name or a query string give nothing."""

import time
import uuid

import pytest
from sqlalchemy import event

from cop_widgets.apps.board import board_app
from cop_widgets.apps.case_discussion import case_discussion_app
from cop_widgets.apps.community import community_app
from cop_widgets.apps.directory import directory_app
from cop_widgets.apps.questions import questions_app
from cop_widgets.apps.reflection import reflection_app
from cop_widgets.apps.session import session_app
from cop_widgets.apps.supervisor_review import review_app
from cop_widgets.services import accounts, reflections
from cop_widgets.services.identity import (
    IDENTITY_ENV,
    NotSignedIn,
    current_person,
    find_or_add_person,
    make_assertion,
    read_assertion,
)
from cop_widgets.services.secret import server_secret_key
from cop_widgets.settings import Settings
from cop_widgets.store import open_store
from tests.signin import assertion_environ

KEY = b"k" * 32
PID = str(uuid.uuid4())


def test_an_assertion_round_trips_and_any_change_breaks_it():
    now = time.time()
    value = make_assertion(KEY, PID, "s-1", now)
    assert read_assertion(KEY, value, now + 5) == (PID, "s-1")
    assert read_assertion(KEY, make_assertion(KEY, PID, None, now), now) == (PID, None)
    other = str(uuid.uuid4())
    forged = value.replace(PID, other)  # someone else's id under the same signature
    assert read_assertion(KEY, forged, now) is None
    assert read_assertion(b"x" * 32, value, now) is None  # another instance's key
    assert read_assertion(KEY, value[:-2] + "AA", now) is None
    assert read_assertion(KEY, value, now + 601) is None  # stale
    for junk in ("", "v1", "v1.a.b.c.d", PID, "v2." + value[3:]):
        assert read_assertion(KEY, junk, now) is None


def test_current_person_needs_an_open_session_on_this_store(store, settings, tmp_path):
    ana = accounts.add_person(store, "Ana")
    signed = accounts.use_link(store, accounts.issue_link(store, ana.id), "127.0.0.1", 1)
    env = assertion_environ(store, ana, signed.session_id)
    assert current_person(store, env).id == ana.id
    accounts.sign_out(store, signed.token)
    with pytest.raises(NotSignedIn):
        current_person(store, env)
    with pytest.raises(NotSignedIn):
        current_person(store, {})
    # an assertion made with another store's secret (another `cop serve`) is refused
    other = open_store(Settings(tmp_path, f"sqlite:///{tmp_path / 'other.sqlite'}", 5000))
    foreign = make_assertion(server_secret_key(other, "kernel-identity"), ana.id, None, time.time())
    other.dispose()
    with pytest.raises(NotSignedIn):
        current_person(store, {IDENTITY_ENV: foreign})
    # the cookie key and the kernel key differ: one cannot stand in for the other
    assert server_secret_key(store, "cookies") != server_secret_key(store, "kernel-identity")


def test_the_store_secret_is_read_once_per_open_store_and_is_the_same_after(tmp_path):
    settings = Settings(tmp_path, f"sqlite:///{tmp_path / 'secret.sqlite'}", 5000)
    first = open_store(settings)
    statements: list[str] = []
    event.listen(first.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    key = server_secret_key(first, "kernel-identity")
    made = len(statements)
    assert made >= 1  # made on first use
    assert server_secret_key(first, "kernel-identity") == key
    assert server_secret_key(first, "cookies") != key  # another purpose, derived without SQL
    assert len(statements) == made
    # another process's store (or one opened later) reads the same secret from the file
    second = open_store(settings)
    assert server_secret_key(second, "kernel-identity") == key
    first.dispose()
    second.dispose()


FACTORIES = {
    "reflection": reflection_app,
    "case discussion": case_discussion_app,
    "session": session_app,
    "board": board_app,
    "community": community_app,
    "directory": directory_app,
    "questions": questions_app,
    "review": review_app,
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_no_app_takes_a_typed_name_query_string_or_forged_header(settings, name):
    store = open_store(settings)
    ana = find_or_add_person(store, "Ana Private")
    reflections.save_draft(store, ana, str(uuid.uuid4()), _framework(), {}, visibility="private")
    claims = f"user={ana.id}&person_id={ana.id}&name=Ana+Private"
    forged = make_assertion(b"guessed key".ljust(32), ana.id, None, time.time())
    for environ in (
        {"QUERY_STRING": claims},
        {"QUERY_STRING": claims, IDENTITY_ENV: forged},
        {IDENTITY_ENV: ana.id},
        {"HTTP_X_COP_USER": ana.id, "REMOTE_USER": "Ana Private"},
    ):
        app = FACTORIES[name](settings=settings, environ=environ)
        assert app.person is None
        assert "not signed in" in app.status.message
        shown = repr(app.children)
        assert "Ana Private" not in shown and ana.id not in shown
        # no widget asks for a name any more
        assert "display name" not in shown.lower()
    store.dispose()


def _framework():
    from cop_widgets.content.frameworks import load_frameworks
    from tests.conftest import FRAMEWORKS

    return load_frameworks(FRAMEWORKS).get("rolfe-2001")


def test_roster_names_a_hub_user_as_the_hub_sign_in_finds_them(store):
    rostered = find_or_add_person(store, "hub:sue")
    assert current_person(store, {"JUPYTERHUB_USER": "sue"}).id == rostered.id
    assert find_or_add_person(store, "Sue").id != rostered.id  # a standalone Sue is someone else


def test_a_standalone_server_keeps_a_hub_user_out_of_its_kernels():
    from cop_widgets.serving import voila_environment

    outer = {"JUPYTERHUB_USER": "operator", "JUPYTERHUB_API_TOKEN": "t", "PATH": "/usr/bin"}
    assert "JUPYTERHUB_USER" not in voila_environment(outer)
    assert "JUPYTERHUB_API_TOKEN" not in voila_environment(outer)
    assert voila_environment(outer, hub=True)["JUPYTERHUB_API_TOKEN"] == "t"  # hub_launch's job


def test_same_name_is_the_same_person_whatever_the_case(store):
    assert (
        find_or_add_person(store, "  Ana  Smith ").id == find_or_add_person(store, "ana smith").id
    )
    assert find_or_add_person(store, "Ana").id != find_or_add_person(store, "Ben").id


def test_hub_user_wins_over_typed_name(store):
    hub = current_person(store, {"JUPYTERHUB_USER": "asmith"})
    assert hub.display_name == "asmith"
    assert current_person(store, {"JUPYTERHUB_USER": "asmith"}).id == hub.id
