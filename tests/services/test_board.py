"""The live room board: counts always, summaries only after reveal and past the minimum group."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from comm.base_comm import BaseComm

from cop_widgets.apps.board import RESEND_EVERY_REFRESHES, board_app
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.services import board, checkins, roster, sessions
from cop_widgets.services.identity import find_or_add_person
from tests.conftest import REPO
from tests.signin import sign_in_as

SETS, _ = load_item_sets(REPO / "data" / "session_items")


@pytest.fixture
def room(store, small_room):
    """The small room's session, with Fran (a member of its community) as its facilitator."""
    session, coord = small_room
    fac = find_or_add_person(store, "Fran")
    sessions.add_member(
        store, coord, session.community_id, fac.id, "member"
    )  # roles go to the community's members
    sessions.set_session_roles(store, coord, session.id, {"facilitator": fac.id})
    return session, fac


def _joins_and_answers(store, session, name, item_set, answers):
    who = find_or_add_person(store, name)
    sessions.join(store, who, session.join_code, datetime.now(UTC))
    checkins.submit_answers(store, who, session.id, item_set, answers)


def _answer(store, session, name, useful, word):
    answers = {"useful": useful, "one_word": word, "debrief": "private words"}
    _joins_and_answers(store, session, name, SETS["checkout"], answers)


def test_summaries_wait_for_the_minimum_group(store, room):
    session, fac = room
    for n in range(4):
        _answer(store, session, f"P{n}", 4, "hopeful")
    state = board.board_state(store, fac, session.id, list(SETS.values()), 5)
    useful = next(i for i in state.items if i.item_id == "useful")
    assert state.joined == 4 and state.answered["checkout"] == 4
    assert useful.answers == 4 and not useful.shown and useful.values == ()
    _answer(store, session, "P4", 2, "Tired, hopeful")
    state = board.board_state(store, fac, session.id, list(SETS.values()), 5)
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
    stranger.guard(stranger.open_board)
    assert "You may not run a session" in stranger.status.message
    assert "the session's facilitator" in stranger.status.message

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
    assert not board.may_run_board(store, boss, session.id)
    roster.grant_role(store, boss.id, "coordinator")
    assert board.may_run_board(store, boss, session.id)


# -- the stepped snapshot: no answer can be read from a change (issue 11, item 5) -------------


@pytest.fixture
def small_room(store):
    """A session run by the community's creator (its coordinator), nobody else in it yet."""
    coord = find_or_add_person(store, "Cora")
    cop = sessions.create_community(store, coord, "CoP")
    session = sessions.plan_session(
        store, coord, cop.id, datetime.now(UTC) + timedelta(minutes=5), "Today"
    )
    return session, coord


def _check_in(store, session, name, wellbeing, confidence=3):
    answers = {"wellbeing": wellbeing, "confidence_reflect_then": confidence}
    _joins_and_answers(store, session, name, SETS["checkin"], answers)


def _item(state, item_id):
    return next(i for i in state.items if i.item_id == item_id)


def test_latecomer_does_not_change_the_snapshot_until_a_whole_group_more(store, small_room):
    session, fac = small_room
    sets = [SETS["checkin"], SETS["checkout"]]
    for n, score in enumerate((4, 4, 3, 5, 4)):
        _check_in(store, session, f"P{n}", score)
    revealed, changed = board.shown_state(store, fac, session.id, sets, 5)  # "Reveal"
    assert changed and _item(revealed, "wellbeing").values == (3, 4, 4, 4, 5)
    _check_in(store, session, "Late", 1)  # the latecomer, with a score nobody else gave
    later, changed = board.shown_state(store, fac, session.id, sets, 5)
    assert not changed and later.items == revealed.items  # the snapshot did not move
    assert later.answered["checkin"] == 6 and later.joined == 6  # counts are live
    assert _item(later, "wellbeing").answers == 5  # no live count of the item either
    for n in range(3):
        _check_in(store, session, f"Q{n}", 2)
        state, changed = board.shown_state(store, fac, session.id, sets, 5)
        assert not changed and state.items == later.items
    _check_in(store, session, "Q3", 2)  # five new since the snapshot: it moves on
    stepped, changed = board.shown_state(store, fac, session.id, sets, 5)
    assert changed and _item(stepped, "wellbeing").values == (1, 2, 2, 2, 2, 3, 4, 4, 4, 5)
    # A second board (another facilitator, a reload) shows the same snapshot, not a fresh one.
    _check_in(store, session, "Q4", 5)
    state, changed = board.shown_state(store, fac, session.id, sets, 5)
    assert not changed and state.items == stepped.items


def _wellbeing_section(results_html: str) -> str:
    prompt = next(i.prompt for i in SETS["checkin"].items if i.id == "wellbeing")
    start = results_html.index(prompt)
    end = results_html.find("<h3>", start)
    return results_html[start : end if end != -1 else None]


def test_board_moves_in_steps_and_never_shows_wellbeing_individually(store, settings, small_room):
    import re

    session, coord = small_room
    settings = replace(settings, min_group=5)
    app = board_app(settings=settings)
    sign_in_as(app, coord)
    app.code.value = session.join_code
    app.open_board()
    app.reveal.value = True
    # Below the minimum group: it says plainly why nothing is shown, and what is.
    for n in range(2):
        _check_in(store, session, f"P{n}", 4)
    app.refresh()
    assert "Nothing from the answers is shown yet" in app.results.value
    assert "at least 5 people" in app.results.value
    assert "Check-in: 2" in app.counts.value  # the counts still show

    seen = []  # (check-ins in the room, results the room saw)
    scores = [4, 4, 3, 5, 1, 2, 5, 3, 4, 2, 1, 5, 3, 4]
    for n, score in enumerate(scores, start=2):
        _check_in(store, session, f"P{n}", score)
        app.refresh()  # the ticker's job in a kernel
        assert f"Check-in: {n + 1}" in app.counts.value  # counts are live
        seen.append((n + 1, app.results.value))
        section = _wellbeing_section(app.results.value)
        shown = re.findall(r"(\d+) rating\(s\)", section)
        # wellbeing: only a spread of a whole group, never a count of its own
        assert shown in ([], ["5"], ["10"], ["15"]), section
        assert "answer(s)" not in section and not re.search(r"\b\d+\b answers? so far", section)
    changes = [seen[0][0]] + [b[0] for a, b in zip(seen, seen[1:], strict=False) if a[1] != b[1]]
    assert changes == [3, 5, 10, 15]  # first the note, then steps of the minimum group
    assert "5 rating(s)" in _wellbeing_section(seen[2][1])  # shown from the fifth answer
    # The latecomer (the sixth) changes nothing; neither does "Refresh results".
    assert seen[3][1] == seen[2][1]
    frozen = app.results.value
    _check_in(store, session, "Late", 1)
    app.refresh_button.click()
    assert "No change" in app.status.message and app.results.value == frozen
    # Hiding and revealing again, or reopening the board, shows the same snapshot.
    app.reveal.value = False
    app.reveal.value = True
    assert app.results.value == frozen
    again = board_app(settings=settings)
    sign_in_as(again, coord)
    again.code.value = session.join_code
    again.open_board()
    again.reveal.value = True
    assert again.results.value == frozen


def test_the_rooms_words_leave_out_likely_identifiers():
    texts = ["hopeful", "hopeful after talking to Jess at Westmead Public School", "heard"] + [
        "Hopeful: Marlee-Rose was safe"
    ] * 6
    words = dict(board.top_words(texts))
    assert words["hopeful"] == 8 and words["heard"] == 1 and words["safe"] == 6
    assert not {"jess", "westmead", "marlee", "rose", "marlee-rose"} & set(words)


class _RecordingComm(BaseComm):
    """A comm that keeps what the kernel would send to the page."""

    def __init__(self) -> None:
        super().__init__(target_name="jupyter.widget", comm_id="recording", primary=False)
        self.sent: list[dict] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        self.sent.append(data or {})


def test_an_unchanged_board_is_sent_again_so_a_page_still_loading_catches_up(store, settings, room):
    session, fac = room
    app = board_app(settings=settings)
    sign_in_as(app, fac)
    app.code.value = session.join_code
    app.open_board()
    comms = {"counts": _RecordingComm(), "results": _RecordingComm()}
    app.counts.comm, app.results.comm = comms["counts"], comms["results"]
    for _ in range(RESEND_EVERY_REFRESHES):
        app.refresh()  # nothing changes in the store
    for name, comm in comms.items():
        states = [m["state"] for m in comm.sent if m.get("method") == "update"]
        assert states == [{"value": getattr(app, name).value}], name
