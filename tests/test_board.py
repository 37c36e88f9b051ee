"""The live room board: counts always, summaries only after reveal and past the minimum group."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cop_widgets.apps.board import board_app
from cop_widgets.services import board as B
from cop_widgets.services import checkins as K
from cop_widgets.services import sessions as X
from cop_widgets.services import supervision as S
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.session_items import load_item_sets

from .conftest import REPO
from tests.signin import sign_in_as

SETS, _ = load_item_sets(REPO / "data" / "session_items")


@pytest.fixture
def room(store):
    coord = find_or_add_person(store, "Cora")
    cop = X.create_community(store, coord, "CoP")
    session = X.plan_session(
        store, coord, cop.id, datetime.now(UTC) + timedelta(minutes=5), "Today"
    )
    fac = find_or_add_person(store, "Fran")
    X.set_session_roles(store, coord, session.id, {"facilitator": fac.id})
    return session, fac


def _answer(store, session, name, useful, word):
    who = find_or_add_person(store, name)
    X.join(store, who, session.join_code, datetime.now(UTC))
    K.submit_answers(
        store,
        who,
        session.id,
        SETS["checkout"],
        {"useful": useful, "one_word": word, "debrief": "private words"},
    )


def test_summaries_wait_for_the_minimum_group(store, room):
    session, _ = room
    for n in range(4):
        _answer(store, session, f"P{n}", 4, "hopeful")
    state = B.board_state(store, session.id, list(SETS.values()), 5)
    useful = next(i for i in state.items if i.item_id == "useful")
    assert state.joined == 4 and state.answered["checkout"] == 4
    assert useful.answers == 4 and not useful.shown and useful.values == ()
    _answer(store, session, "P4", 2, "Tired, hopeful")
    state = B.board_state(store, session.id, list(SETS.values()), 5)
    useful = next(i for i in state.items if i.item_id == "useful")
    words = next(i for i in state.items if i.item_id == "one_word")
    assert useful.shown and useful.values == (2, 4, 4, 4, 4)
    assert words.words[0] == ("hopeful", 5)
    assert all(i.item_id not in ("debrief", "commitment") for i in state.items)


def test_board_hides_until_reveal_and_only_facilitators_open_it(store, settings, room):
    session, _ = room
    settings = replace(settings, min_group=3)
    stranger = board_app(settings=settings)
    sign_in_as(stranger, "Someone")
    stranger.code.value = session.join_code
    stranger._guard(stranger.open_board)
    assert "Only the session's facilitator" in stranger.status.message

    app = board_app(settings=settings)
    sign_in_as(app, "Fran")
    app.code.value = session.join_code
    app.open_board()
    _answer(store, session, "Ana", 5, "clear")
    _answer(store, session, "Ben", 3, "useful")
    app.refresh()  # the ticker's job in a kernel
    assert "<strong>2</strong> joined" in app.counts.value
    assert "hidden until you reveal" in app.results.value
    app.reveal.value = True
    assert "fewer than 3, not shown" in app.results.value
    _answer(store, session, "Cal", 4, "clear")
    app.refresh()
    assert "3 rating(s): lowest 3, highest 5" in app.results.value
    assert "clear (2)" in app.results.value


def test_coordinator_role_may_open_any_board(store, room):
    session, _ = room
    boss = find_or_add_person(store, "Boss")
    assert not B.may_run_board(store, boss, session.id)
    S.grant_role(store, boss.id, "coordinator")
    assert B.may_run_board(store, boss, session.id)
