"""Joining and leaving communities (issue 15, item 1): the hub's list, open and by-request
communities, approval by coordinators, leaving (never the last coordinator), the migration's
default for existing communities, and the Communities app driven through its handlers."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cop_widgets.apps.communities import communities_app
from cop_widgets.errors import InvalidInput, NotAllowed
from cop_widgets.services import membership, policy, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import Settings
from cop_widgets.store import migrations, open_store
from cop_widgets.store.schema import audit_event, community
from tests.find_widgets import button
from tests.signin import sign_in_as

NOW = datetime.now(UTC)


@pytest.fixture
def two(store):
    """Cora runs "Open CoP" (open) and "Closed CoP" (by request, the default); each has a
    session next week."""
    p = {n: find_or_add_person(store, n) for n in ("Cora", "Ana", "Ben", "Olga")}
    open_, closed = (
        sessions.create_community(
            store, p["Cora"], name, "Child and family support", "Learn together"
        )
        for name in ("Open CoP", "Closed CoP")
    )
    membership.set_join_policy(store, p["Cora"], open_.id, "open", True)
    for c in (open_, closed):
        sessions.plan_session(
            store, p["Cora"], c.id, NOW + timedelta(days=7), f"Secret topic of {c.name}"
        )
    return open_, closed, p


def _listed(store, who) -> dict[str, membership.Listed]:
    return {c.name: c for c in membership.communities(store, who, NOW)}


def _roles(store, who, community_id) -> set[str]:
    with store.read() as conn:
        return policy.community_roles(conn, who.id, community_id)


def test_everyone_sees_every_community_but_not_what_happens_inside(store, two):
    open_, closed, p = two
    seen = _listed(store, p["Olga"])
    assert set(seen) == {"Open CoP", "Closed CoP"}
    o = seen["Open CoP"]
    assert (o.domain, o.purpose, o.join_policy, o.cross_agency) == (
        "Child and family support", "Learn together", "open", True)  # fmt: skip
    assert o.members == 1 and not o.member and o.next_session_at is not None
    assert o.next_topic == "" and o.pending == 0 and not o.approves  # no topic for outsiders
    assert seen["Closed CoP"].join_policy == "request" and not seen["Closed CoP"].cross_agency
    mine = _listed(store, p["Cora"])["Open CoP"]
    assert mine.next_topic == "Secret topic of Open CoP" and mine.my_roles == (
        "member", "coordinator")  # fmt: skip
    with pytest.raises(NotAllowed):  # the sessions themselves stay with the members
        sessions.sessions_of(store, p["Olga"], open_.id, NOW)
    with pytest.raises(NotAllowed):
        membership.communities(store, None, NOW)


def test_an_open_community_is_joined_at_once_and_once(store, two):
    open_, _closed, p = two
    membership.join(store, p["Ana"], open_.id)
    membership.join(store, p["Ana"], open_.id)
    assert _roles(store, p["Ana"], open_.id) == {"member"}
    listed = _listed(store, p["Ana"])["Open CoP"]
    assert listed.member and listed.members == 2 and listed.next_topic
    assert sessions.sessions_of(store, p["Ana"], open_.id, NOW)[0]  # now she sees its sessions


def test_a_by_request_community_waits_for_its_coordinators(store, two):
    _open, closed, p = two
    with pytest.raises(NotAllowed, match="join this community"):
        membership.join(store, p["Ana"], closed.id)
    membership.request_to_join(store, p["Ana"], closed.id)
    membership.request_to_join(store, p["Ana"], closed.id)  # once
    membership.request_to_join(store, p["Ben"], closed.id)
    assert _listed(store, p["Ana"])["Closed CoP"].requested
    assert _listed(store, p["Cora"])["Closed CoP"].pending == 2
    assert _listed(store, p["Ben"])["Closed CoP"].pending == 0  # not his to see
    with pytest.raises(NotAllowed):
        membership.pending_requests(store, p["Ben"], closed.id)
    with pytest.raises(NotAllowed):  # nobody approves themselves
        membership.decide(store, p["Ben"], closed.id, p["Ben"].id, True)
    assert [r.name for r in membership.pending_requests(store, p["Cora"], closed.id)] == [
        "Ana",
        "Ben",
    ]
    assert membership.decide(store, p["Cora"], closed.id, p["Ana"].id, True)
    assert membership.decide(store, p["Cora"], closed.id, p["Ben"].id, False)
    assert not membership.decide(store, p["Cora"], closed.id, p["Ben"].id, True)  # already decided
    assert _roles(store, p["Ana"], closed.id) == {"member"}
    assert _roles(store, p["Ben"], closed.id) == set()
    with pytest.raises(NotAllowed, match="ask to join"):  # a member asks no more
        membership.request_to_join(store, p["Ana"], closed.id)
    membership.request_to_join(store, p["Olga"], closed.id)
    membership.withdraw_request(store, p["Olga"], closed.id)
    assert membership.pending_requests(store, p["Cora"], closed.id) == []
    with store.read() as conn:
        refused = (
            conn.execute(
                select(audit_event.c.action).where(
                    audit_event.c.actor_id == p["Ben"].id, audit_event.c.outcome == "refused"
                )
            )
            .scalars()
            .all()
        )
    assert refused == ["community.approve", "community.approve"]


def test_opening_a_community_lets_in_who_was_waiting(store, two):
    _open, closed, p = two
    membership.request_to_join(store, p["Ana"], closed.id)
    with pytest.raises(NotAllowed):
        membership.set_join_policy(store, p["Ana"], closed.id, "open", False)
    with pytest.raises(InvalidInput):
        membership.set_join_policy(store, p["Cora"], closed.id, "anyone", False)
    membership.set_join_policy(store, p["Cora"], closed.id, "open", False)
    assert _roles(store, p["Ana"], closed.id) == {"member"}
    assert membership.pending_requests(store, p["Cora"], closed.id) == []


def test_leaving_takes_every_role_but_never_the_last_coordinator(store, two):
    open_, _closed, p = two
    membership.join(store, p["Ana"], open_.id)
    sessions.add_member(store, p["Cora"], open_.id, p["Ana"].id, "facilitator")
    membership.leave(store, p["Ana"], open_.id)
    assert _roles(store, p["Ana"], open_.id) == set()
    with pytest.raises(NotAllowed, match="leave a community"):
        membership.leave(store, p["Ana"], open_.id)
    with pytest.raises(InvalidInput, match="only coordinator"):
        membership.leave(store, p["Cora"], open_.id)
    assert "coordinator" in _roles(store, p["Cora"], open_.id)
    sessions.add_member(store, p["Cora"], open_.id, p["Ben"].id, "coordinator")
    membership.leave(store, p["Cora"], open_.id)
    assert _roles(store, p["Cora"], open_.id) == set()


def test_a_join_code_still_makes_a_member_of_a_by_request_community(store, two):
    _open, closed, p = two
    session = sessions.plan_session(
        store, p["Cora"], closed.id, NOW + timedelta(minutes=10), "Today"
    )
    sessions.join(store, p["Olga"], session.join_code, NOW)
    assert _roles(store, p["Olga"], closed.id) == {"member"}


def test_communities_made_before_migration_13_are_by_request(tmp_path, data_dir, monkeypatch):
    settings = Settings(data_dir, f"sqlite:///{tmp_path / 'old.sqlite'}", 5000)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:12])
    old = open_store(settings)
    sessions.create_community(old, find_or_add_person(old, "Cora"), "Older CoP")
    old.dispose()
    monkeypatch.undo()
    new = open_store(settings)
    try:
        with new.read() as conn:
            row = conn.execute(select(community.c.join_policy, community.c.cross_agency)).one()
        assert tuple(row) == ("request", False)
        assert [c.name for c in membership.communities(new, find_or_add_person(new, "Ana"))] == [
            "Older CoP"
        ]
    finally:
        new.dispose()


# -- the app --------------------------------------------------------------------------------
def test_the_page_joins_asks_approves_and_leaves(settings, store, two):
    open_, closed, p = two
    olga = communities_app(settings=settings)
    sign_in_as(olga, p["Olga"])
    shown = " ".join(w.value for c in olga.cards.values() for w in c.children if hasattr(w, "value")
                     and isinstance(w.value, str))  # fmt: skip
    assert "Open CoP" in shown and "Closed CoP" in shown and "Secret topic" not in shown
    button(olga.cards[open_.id], "Join").click()
    assert "You joined" in olga.status.message and _roles(store, p["Olga"], open_.id)
    button(olga.cards[closed.id], "Ask to join").click()
    assert "asked to join" in olga.status.message
    assert button(olga.cards[closed.id], "Withdraw my request") is not None

    cora = communities_app(settings=settings)
    sign_in_as(cora, p["Cora"])
    [request] = [w for w in cora.cards[closed.id].children if "cop-hub-request" in w._dom_classes]
    assert "Olga" in request.children[0].value
    button(cora.cards[closed.id], "Approve").click()
    assert "Approved" in cora.status.message and _roles(store, p["Olga"], closed.id)
    button(cora.cards[closed.id], "Leave…").click()
    button(cora.cards[closed.id], "Yes, leave Closed CoP").click()
    assert "only coordinator" in cora.status.message  # refused, with what to do
    assert "coordinator" in _roles(store, p["Cora"], closed.id)

    olga.show()
    button(olga.cards[open_.id], "Leave…").click()
    button(olga.cards[open_.id], "Yes, leave Open CoP").click()
    assert "You left" in olga.status.message and not _roles(store, p["Olga"], open_.id)
