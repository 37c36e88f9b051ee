"""Check-in/check-out from data files, anonymity, commitments carried to the next session."""

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import select

from cop_widgets.apps.session import session_app
from cop_widgets.content.session_items import load_item_set, load_item_sets
from cop_widgets.errors import DataFileError, InvalidInput, RecordLocked
from cop_widgets.services import checkins, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import commitment, session_response
from tests.conftest import REPO
from tests.signin import sign_in_as

SETS, PROBLEMS = load_item_sets(REPO / "data" / "session_items")


def test_shipped_item_files_are_valid():
    assert PROBLEMS == [] and {"checkin", "checkout"} <= set(SETS)
    assert any(i.kind == "commitment" for i in SETS["checkout"].items)
    assert 3 <= sum(i.kind == "scale" for i in SETS["checkout"].items) <= 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "dial"}, "items[0].kind"),
        ({"min": 5, "max": 5}, "items[0].max"),
        ({"anonymous": "yes"}, "items[0].anonymous"),
    ],
)
def test_bad_item_files_name_the_field(tmp_path, change, field):
    data = {
        "schema_version": 1,
        "id": "x",
        "name": "X",
        "items": [{"id": "a", "kind": "scale", "prompt": "How?", **change}],
    }
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DataFileError) as err:
        load_item_set(path)
    assert err.value.field == field


@pytest.fixture
def two_sessions(store):
    coord = find_or_add_person(store, "Cora")
    cop = sessions.create_community(store, coord, "CoP")
    now = datetime.now(UTC)
    first = sessions.plan_session(store, coord, cop.id, now - timedelta(hours=1), "First")
    second = sessions.plan_session(store, coord, cop.id, now + timedelta(hours=2), "Second")
    return coord, first, second


def test_anonymous_answers_store_no_identity_and_nobody_answers_twice(store, two_sessions):
    _, first, _ = two_sessions
    ana = find_or_add_person(store, "Ana")
    sessions.join(store, ana, first.join_code, datetime.now(UTC))
    checkins.submit_answers(
        store,
        ana,
        first.id,
        SETS["checkout"],
        {
            "useful": 4,
            "safe": 5,
            "one_word": "hopeful",
            "commitment": "Ask the child first",
            "debrief": "the visit stays with me",
        },
    )
    with store.read() as conn:
        rows = {r.item_id: r for r in conn.execute(select(session_response)).all()}
    assert rows["useful"].person_id is None and rows["one_word"].person_id is None
    assert rows["debrief"].person_id == ana.id  # private, kept with its author
    assert rows["useful"].value_int == 4
    with pytest.raises(RecordLocked, match="already sent"):
        checkins.submit_answers(store, ana, first.id, SETS["checkout"], {"useful": 1})
    with pytest.raises(InvalidInput, match="choose 1 to 5"):
        checkins.submit_answers(
            store, find_or_add_person(store, "Ben"), first.id, SETS["checkout"], {"useful": 9}
        )


def test_commitment_comes_back_at_the_next_session(store, settings, two_sessions):
    _, first, second = two_sessions
    ana = find_or_add_person(store, "Ana")
    sessions.join(store, ana, first.join_code, datetime.now(UTC))
    checkins.submit_answers(
        store, ana, first.id, SETS["checkout"], {"commitment": "Ask the child first"}
    )
    app = session_app(settings=settings)
    app.query = f"code={second.join_code}"
    sign_in_as(app, "Ana")
    followup = app.followups.children[1]
    assert "Ask the child first" in followup.children[0].value
    followup.children[2].value = "It changed the visit."
    followup.children[3].click()  # Save without choosing: a message, text kept
    assert "Choose yes, partly or no" in app.status.message
    assert followup.children[2].value == "It changed the visit."
    followup.children[1].value = "yes"
    followup.children[3].click()
    with store.read() as conn:
        row = conn.execute(select(commitment)).one()
    assert (row.tried, row.followup_text, row.followup_session_id) == (
        "yes",
        "It changed the visit.",
        second.id,
    )
    assert app.followups.children == ()


def test_saving_after_the_session_closed_keeps_the_text(store, settings, two_sessions):
    coord, first, _ = two_sessions
    app = session_app(settings=settings)
    app.query = f"code={first.join_code}"
    sign_in_as(app, "Ana")
    sessions.open_checkout(store, coord, first.id)  # the facilitator opens check-out for the room
    app.checkout_button.click()
    app.form.controls["one_word"].value = "tired"
    sessions.close_session(store, coord, first.id)
    app.form.send.click()
    assert "has closed" in app.status.message
    assert app.form.controls["one_word"].value == "tired"
