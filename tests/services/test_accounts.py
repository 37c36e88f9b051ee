"""Accounts (services/accounts.py) on a real SQLite file: names, links, passphrases, web
sessions, failed tries, self-registration through a join code, and the audit they leave."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from cop_widgets.errors import InvalidInput, NotAllowed
from cop_widgets.services import accounts, roster
from cop_widgets.services import sessions as session_service
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.schema import audit_event, person, sign_in_link, web_session
from cop_widgets.text import name_key, name_skeleton

HOURS = 10.0
CLIENT = "127.0.0.9"


def _count(store, table, *where) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def _actions(store) -> list[str]:
    with store.read() as conn:
        return list(
            conn.execute(select(audit_event.c.action).order_by(audit_event.c.seq)).scalars()
        )


# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant",
    [
        "ana smith",
        "  Ana   Smith ",
        "Ana\u200b Smith",  # zero-width space
        "Ana Smith\u200d",  # zero-width joiner
        "\u0410na Smith",  # Cyrillic capital A
        "An\u0430 Smith",  # Cyrillic small a
        "Aná Smith",  # accent
        "ＡＮＡ ＳＭＩＴＨ",  # full-width
    ],
)
def test_a_name_that_looks_like_a_taken_one_is_refused(store, variant):
    accounts.add_person(store, "Ana Smith")
    before = _count(store, person)
    with pytest.raises(InvalidInput, match="taken or looks the same"):
        accounts.add_person(store, variant)
    assert _count(store, person) == before


def test_names_are_kept_as_typed_and_compared_normalised():
    assert name_key("  Ana\u200b  SMITH ") == "ana smith"
    assert name_skeleton("José-María") == name_skeleton("jose maria")
    assert name_skeleton("Ben") != name_skeleton("Ken")


def test_a_name_of_only_invisible_characters_is_refused(store):
    with pytest.raises(InvalidInput):
        accounts.add_person(store, "\u200b\u200d")


# -- personal links ------------------------------------------------------------------------------
def test_a_link_works_once_and_the_first_sign_in_stays(store):
    ana = accounts.add_person(store, "Ana")
    token = accounts.issue_link(store, ana.id)
    assert accounts.link_holder(store, token).id == ana.id  # the confirmation page changes nothing
    first = accounts.use_link(store, token, CLIENT, HOURS)
    assert first.person.id == ana.id
    with pytest.raises(accounts.SignInRefused, match="already used"):
        accounts.use_link(store, token, CLIENT, HOURS)
    assert accounts.session_for_token(store, first.token).person.id == ana.id


def test_a_new_link_revokes_the_old_one(store):
    ana = accounts.add_person(store, "Ana")
    old = accounts.issue_link(store, ana.id)
    new = accounts.issue_link(store, ana.id)
    with pytest.raises(accounts.SignInRefused):
        accounts.link_holder(store, old)
    assert accounts.use_link(store, new, CLIENT, HOURS).person.id == ana.id
    assert "link_revoked" in _actions(store)


def test_an_expired_link_is_refused(store):
    ana = accounts.add_person(store, "Ana")
    token = accounts.issue_link(store, ana.id)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    with store.write() as conn:
        conn.execute(update(sign_in_link).values(expires_at=past))
    with pytest.raises(accounts.SignInRefused):
        accounts.use_link(store, token, CLIENT, HOURS)
    assert not accounts.can_sign_in(store, ana.id)


def test_links_are_stored_only_as_hashes(store, settings):
    ana = accounts.add_person(store, "Ana")
    token = accounts.issue_link(store, ana.id)
    signed = accounts.use_link(store, token, CLIENT, HOURS)
    raw = (settings.data_dir / "cop.sqlite").read_bytes()
    wal = settings.data_dir / "cop.sqlite-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert token.encode() not in raw and signed.token.encode() not in raw


# -- passphrases and sessions ----------------------------------------------------------------------
def test_passphrase_sign_in_and_wrong_passphrase(store):
    ana = accounts.add_person(store, "Ana Smith")
    accounts.set_passphrase(store, ana.id, "blue kettle morning", "blue kettle morning")
    done = accounts.sign_in_with_passphrase(
        store, "  ana smith ", "blue kettle morning", CLIENT, HOURS
    )
    assert done.person.id == ana.id and done.session_id
    sessions = _count(store, web_session)
    with pytest.raises(accounts.SignInRefused, match="do not match") as wrong:
        accounts.sign_in_with_passphrase(store, "Ana Smith", "blue kettle evening", CLIENT, HOURS)
    with pytest.raises(accounts.SignInRefused) as unknown:
        accounts.sign_in_with_passphrase(store, "Nobody Here", "blue kettle morning", CLIENT, HOURS)
    assert str(wrong.value) == str(unknown.value)  # never says which of the two was wrong
    assert _count(store, web_session) == sessions
    assert _actions(store).count("sign_in_failed") == 2


@pytest.mark.parametrize(
    ("phrase", "repeat", "message"),
    [("short", "short", "at least 8"), ("long enough", "long enuogh", "differ")],
)
def test_passphrase_rules(store, phrase, repeat, message):
    ana = accounts.add_person(store, "Ana")
    with pytest.raises(InvalidInput, match=message):
        accounts.set_passphrase(store, ana.id, phrase, repeat)
    assert not accounts.has_passphrase(store, ana.id)


def test_sign_out_and_expiry_end_a_session(store):
    ana = accounts.add_person(store, "Ana")
    one = accounts.use_link(store, accounts.issue_link(store, ana.id), CLIENT, HOURS)
    two = accounts.use_link(store, accounts.issue_link(store, ana.id), CLIENT, HOURS)
    accounts.sign_out(store, one.token)
    assert accounts.session_for_token(store, one.token) is None
    assert accounts.session_for_token(store, two.token) is not None  # the other browser stays in
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with store.write() as conn:
        conn.execute(update(web_session).values(expires_at=past))
    assert accounts.session_for_token(store, two.token) is None
    assert "signed_out" in _actions(store)


def test_eleven_wrong_tries_make_the_next_wait(store):
    ana = accounts.add_person(store, "Ana")
    accounts.set_passphrase(store, ana.id, "the right passphrase")
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.SignInRefused, match="do not match"):
            accounts.sign_in_with_passphrase(store, "Ana", "a wrong passphrase", CLIENT, HOURS)
    with pytest.raises(accounts.TooManyTries, match=r"Wait (9|10) minutes") as waited:
        accounts.sign_in_with_passphrase(store, "Ana", "the right passphrase", CLIENT, HOURS)
    assert 500 < waited.value.wait_seconds <= 601
    # from another address, the name is still held back; another name from there is not
    with pytest.raises(accounts.TooManyTries):
        accounts.sign_in_with_passphrase(store, "Ana", "the right passphrase", "10.9.9.9", HOURS)
    ben = accounts.add_person(store, "Ben")
    accounts.set_passphrase(store, ben.id, "bens passphrase")
    assert accounts.sign_in_with_passphrase(store, "Ben", "bens passphrase", "10.9.9.9", HOURS)
    # the failure table holds keyed hashes, never the name or the address
    with store.read() as conn:
        dump = " ".join(map(str, conn.execute(text("SELECT * FROM sign_in_failure")).all()))
    assert "Ana" not in dump and CLIENT not in dump


# -- newcomers through a session's join link -----------------------------------------------------
@pytest.fixture
def open_session(store):
    host = find_or_add_person(store, "Host")
    cop = session_service.create_community(store, host, "CoP", "Domain", "Purpose")
    return session_service.plan_session(
        store, host, cop.id, datetime.now(UTC) + timedelta(hours=1), "Topic", "", "consultancy"
    )


def test_a_newcomer_registers_with_a_valid_join_code(store, open_session):
    done = accounts.register(
        store, "Nell", "nells passphrase", "nells passphrase", open_session.join_code.lower(),
        CLIENT, HOURS,
    )  # fmt: skip
    assert done.person.display_name == "Nell"
    assert accounts.sign_in_with_passphrase(store, "nell", "nells passphrase", CLIENT, HOURS)


def test_registration_refuses_a_wrong_code_before_writing(store, open_session):
    people = _count(store, person)
    with pytest.raises(InvalidInput, match="No session has the code"):
        accounts.register(
            store, "Nell", "nells passphrase", "nells passphrase", "ZZZZZZ", CLIENT, 1
        )
    with pytest.raises(InvalidInput, match="taken or looks the same"):
        accounts.register(
            store, "Hоst", "a passphrase", "a passphrase", open_session.join_code, CLIENT, 1
        )  # Cyrillic o: looks like "Host"
    assert _count(store, person) == people
    assert "join_code_failed" in _actions(store)


# -- coordinators in the app ---------------------------------------------------------------------
def test_only_a_coordinator_adds_people_and_issues_links(store):
    cora = find_or_add_person(store, "Cora")
    roster.grant_role(store, cora.id, "coordinator")
    pat = find_or_add_person(store, "Pat")
    added, token = accounts.coordinator_adds_person(store, cora, "Ana", "supervisor")
    assert "supervisor" in roster.roles_of(store, added.id)
    assert accounts.use_link(store, token, CLIENT, HOURS).person.id == added.id
    people = _count(store, person)
    with pytest.raises(NotAllowed):
        accounts.coordinator_adds_person(store, pat, "Mallory")
    with pytest.raises(NotAllowed):
        accounts.coordinator_reissues_link(store, pat, added.id)
    assert _count(store, person) == people
    with store.read() as conn:
        refused = conn.execute(
            select(func.count()).where(
                audit_event.c.actor_id == pat.id, audit_event.c.outcome == "refused"
            )
        ).scalar()
    assert refused == 2


def test_people_made_by_typed_names_before_accounts_need_a_link(store):
    old = find_or_add_person(store, "Typed Name")  # as the apps made them before migration 8
    assert old in accounts.people_without_sign_in(store)
    accounts.issue_link(store, old.id)
    assert old not in accounts.people_without_sign_in(store)
