"""The library grows from sessions (issue 15, item 3): after a session, its facilitator or
note-taker turns a practice-insight note or a shared resource into a draft library entry that
only they see until they publish it. Never the case summary, never the notes of other phases;
strangers are refused (and audited); a draft is in no list, search or count of anyone."""

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from cop_widgets.content.protocols import load_protocols
from cop_widgets.content.session_items import load_item_sets
from cop_widgets.errors import InvalidInput, NotAllowed, RecordNotFound
from cop_widgets.services import (
    checkins,
    discussions,
    erasure,
    library,
    person_export,
    roster,
    sessions,
)
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import schema
from cop_widgets.store.db import open_store
from tests.conftest import REPO

PROTOCOLS = load_protocols(REPO / "data" / "protocols")
CONSULTANCY = PROTOCOLS.get("consultancy")
SETS, _ = load_item_sets(REPO / "data" / "session_items")
CHECKOUT = SETS["checkout"]
BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
MIN_GROUP = 3

CASE = "CASE SUMMARY: a parent of three, a new baby, a worried school."
INSIGHT = "Ask the father first what he wants from the plan; then write it with him."
OTHER_PHASE = "Clarifying: how old is the eldest, when did the school call."
RESOURCES = (
    "The fathers' toolkit, https://example.org/fathers-toolkit.",
    "Reflective supervision workbook",
)


def _phase(kind: str):
    """The consultancy protocol's first insight phase, or its first phase with notes that is
    not an insight phase."""
    return next(p for p in CONSULTANCY.phases if p.notes and p.insight == (kind == "insight"))


@pytest.fixture
def held(store):
    return hold_session(store)


def hold_session(store):
    """Cora coordinates a community; Fay facilitates its session and Nia takes its notes; Ana,
    Ben and Cal attend; Ben is also a note-taker of its case discussion (not of the session);
    Olga runs another community; Gail is a global coordinator. The discussion has an insight
    note, a note of another phase and a case summary; four people sent the check-out with
    resources."""
    now = datetime.now(UTC)
    p = {n: find_or_add_person(store, n) for n in ("Cora", "Fay", "Nia", "Ana", "Ben", "Cal",
                                                   "Olga", "Gail")}  # fmt: skip
    roster.grant_role(store, p["Gail"].id, "coordinator")
    cop = sessions.create_community(store, p["Cora"], "Northside CoP")
    sessions.create_community(store, p["Olga"], "Elsewhere CoP")
    session = sessions.plan_session(
        store, p["Cora"], cop.id, now - timedelta(minutes=5), "Engaging fathers", "", "consultancy"
    )
    for name in ("Fay", "Nia", "Ana", "Ben", "Cal"):
        sessions.join(store, p[name], session.join_code, now)
    sessions.set_session_roles(
        store, p["Cora"], session.id, {"facilitator": p["Fay"].id, "note_taker": p["Nia"].id}
    )
    talk = discussions.start_discussion(
        store,
        p["Fay"],
        CONSULTANCY,
        CASE,
        roles={"note_taker": ["Nia", "Ben"]},
        session_id=session.id,
    )
    insight = discussions.save_note(
        store, p["Nia"], str(uuid.uuid4()), talk.id, _phase("insight").id, INSIGHT
    )
    other = discussions.save_note(
        store, p["Nia"], str(uuid.uuid4()), talk.id, _phase("other").id, OTHER_PHASE
    )
    sessions.open_checkout(store, p["Cora"], session.id)
    for name, resource in zip(("Ana", "Ben", "Cal", "Nia"), (*RESOURCES, "", RESOURCES[0]),
                              strict=True):  # fmt: skip
        checkins.submit_answers(store, p[name], session.id, CHECKOUT, {"resource": resource})
    sessions.close_session(store, p["Cora"], session.id)
    return p, cop, session, talk, insight, other


def _sources(store, who, session_id):
    return library.session_sources(store, who, session_id, PROTOCOLS, [CHECKOUT], MIN_GROUP)


def _from_note(store, who, note_id, **kw):
    return library.draft_from_note(store, who, note_id, PROTOCOLS, **kw)


def _refusals(store, who) -> list[tuple[str, str]]:
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(schema.audit_event.c.action, schema.audit_event.c.target_id).where(
                    schema.audit_event.c.actor_id == who.id,
                    schema.audit_event.c.outcome == "refused",
                )
            )
        ]


# -- what is offered -------------------------------------------------------------------------------
def test_the_session_offers_its_insights_and_resources_never_the_case(store, held):
    p, _, session, talk, insight, _ = held
    offered = _sources(store, p["Fay"], session.id)
    assert [(s.kind, s.key, s.discussion_id, s.text) for s in offered.insights] == [
        ("note", insight.id, talk.id, INSIGHT)
    ]
    assert offered.insights[0].where.startswith("Consultancy") and offered.insights[0].title
    assert sorted(s.text for s in offered.resources) == sorted(RESOURCES)  # distinct
    assert offered.resources_held_back == 0 and not offered.resources_too_few
    shown = repr(offered)
    assert "CASE SUMMARY" not in shown and OTHER_PHASE not in shown
    # the note-taker is offered the same
    assert [s.key for s in _sources(store, p["Nia"], session.id).insights] == [insight.id]


def test_a_discussions_note_taker_drafts_its_insights_only(store, held):
    p, _, session, talk, insight, _ = held
    ben = p["Ben"]  # the discussion's note-taker, with no role in the session
    assert [s.key for s in library.discussion_sources(store, ben, talk.id, PROTOCOLS)] == [
        insight.id
    ]
    assert library.may_draft_from_discussion(store, ben, talk.id)
    assert not library.may_draft_from_session(store, ben, session.id)
    with pytest.raises(NotAllowed):
        _sources(store, ben, session.id)
    draft = _from_note(store, ben, insight.id)
    assert draft.draft and draft.author_id == ben.id


# -- an insight becomes a draft, then an entry -------------------------------------------------
@BOTH
def test_an_insight_becomes_a_draft_only_its_author_sees_until_published(store, held):
    p, cop, session, talk, insight, _ = held
    fay, ana, gail = p["Fay"], p["Ana"], p["Gail"]
    draft = _from_note(store, fay, insight.id)
    assert (draft.status, draft.session_id, draft.source_kind) == ("draft", session.id, "note")
    assert draft.body == INSIGHT and draft.title.startswith("Ask the father first")
    assert draft.community_id == cop.id and draft.kind == "approach"
    with store.read() as conn:
        row = conn.execute(
            select(schema.library_entry).where(schema.library_entry.c.id == draft.id)
        ).one()
    assert (row.source_discussion_id, row.source_note_id) == (talk.id, insight.id)
    # asked again (a retried click): the same draft, not a second one
    assert _from_note(store, fay, insight.id).id == draft.id
    assert [s.draft_id for s in _sources(store, fay, session.id).insights] == [draft.id]

    # nobody else sees it: not a member, not a global coordinator; in no list, search or count
    for other in (ana, gail):
        with pytest.raises(NotAllowed):
            library.get(store, other, draft.id)
        assert library.browse(store, other).total == 0
        assert library.browse(store, other, query="father").total == 0
        assert library.tags_in_use(store, other) == []
        assert library.my_drafts(store, other) == []
    assert library.same_title(store, ana, cop.id, draft.title) == 0
    for action in (library.endorse, library.mark):
        with pytest.raises(NotAllowed):
            action(store, p["Cora"], draft.id)
    with pytest.raises(NotAllowed):
        library.add_comment(store, ana, str(uuid.uuid4()), draft.id, "A comment.")
    with pytest.raises(NotAllowed):
        library.publish(store, ana, draft.id)
    # nor in its author's own searches: only under "My drafts"
    assert library.browse(store, fay, query="father").total == 0
    assert [d.id for d in library.my_drafts(store, fay)] == [draft.id]
    assert library.allowed_actions(store, fay, draft.id) == {"library.revise", "library.publish"}

    # the author edits it (a version like any other) and publishes it
    library.revise(store, fay, draft.id, "approach", "Ask fathers first", INSIGHT + " It works.",
                   expected_revision=1, free_tags="fathers")  # fmt: skip
    published = library.publish(store, fay, draft.id)
    assert published.status == "published" and published.revision == 2
    found = library.browse(store, ana, query="father")
    assert [e.id for e in found.entries] == [draft.id] and found.total == 1
    assert library.get(store, gail, draft.id).title == "Ask fathers first"
    assert library.my_drafts(store, fay) == []
    library.endorse(store, ana, draft.id)
    with pytest.raises(NotAllowed):  # once published, there is no draft to publish
        library.publish(store, fay, draft.id)
    # made again from the same note: the entry already made, not a new draft
    assert _from_note(store, fay, insight.id).id == draft.id
    with store.read() as conn:
        actions = conn.execute(
            select(schema.audit_event.c.action).where(
                schema.audit_event.c.target_id == draft.id, schema.audit_event.c.outcome == "ok"
            )
        ).scalars()
        assert {"library_draft_made", "library_entry_published"} <= set(actions)


def test_a_resource_becomes_a_link_or_tool_draft(store, held):
    p, cop, session, *_ = held
    nia = p["Nia"]
    by_text = {s.text: s for s in _sources(store, nia, session.id).resources}
    link = library.draft_from_resource(
        store, nia, session.id, by_text[RESOURCES[0]].key, [CHECKOUT], MIN_GROUP
    )
    assert (link.kind, link.url, link.status, link.source_kind) == (
        "link", "https://example.org/fathers-toolkit", "draft", "resource",
    )  # fmt: skip
    tool = library.draft_from_resource(
        store, nia, session.id, by_text[RESOURCES[1]].key, [CHECKOUT], MIN_GROUP
    )
    assert tool.kind == "tool" and tool.url == "" and tool.body == RESOURCES[1]
    again = library.draft_from_resource(
        store, nia, session.id, by_text[RESOURCES[1]].key, [CHECKOUT], MIN_GROUP
    )
    assert again.id == tool.id
    offered = {s.text: s.draft_id for s in _sources(store, nia, session.id).resources}
    assert offered == {RESOURCES[0]: link.id, RESOURCES[1]: tool.id}
    assert {d.id for d in library.my_drafts(store, nia)} == {link.id, tool.id}
    assert library.browse(store, p["Fay"]).total == 0


# -- bad input -----------------------------------------------------------------------------------
def test_a_note_of_another_phase_is_refused(store, held):
    p, _, _, _, _, other = held
    with pytest.raises(InvalidInput, match="insight phase"):
        _from_note(store, p["Fay"], other.id)
    with pytest.raises(RecordNotFound):
        _from_note(store, p["Fay"], str(uuid.uuid4()))  # no such note
    assert library.my_drafts(store, p["Fay"]) == []


def test_strangers_are_refused_and_audited(store, held):
    p, cop, session, talk, insight, _ = held
    key = _sources(store, p["Fay"], session.id).resources[0].key
    # Ana attended and reads the discussion, but holds no leading role; Olga is elsewhere;
    # Cora coordinates the community, but neither facilitated nor took notes; Gail coordinates
    # everything
    for name in ("Ana", "Olga", "Cora", "Gail"):
        who = p[name]
        with pytest.raises(NotAllowed, match="You may not"):
            _from_note(store, who, insight.id)
        with pytest.raises(NotAllowed):
            library.draft_from_resource(store, who, session.id, key, [CHECKOUT], MIN_GROUP)
        with pytest.raises(NotAllowed):
            _sources(store, who, session.id)
        with pytest.raises(NotAllowed):
            library.discussion_sources(store, who, talk.id, PROTOCOLS)
        assert _refusals(store, who) == [
            ("library.draft_from_discussion", talk.id),
            ("library.draft_from_session", session.id),
            ("library.draft_from_session", session.id),
            ("library.draft_from_discussion", talk.id),
        ], name
    with store.read() as conn:
        assert conn.execute(select(schema.library_entry.c.id)).all() == []


def test_a_facilitator_who_left_the_community_makes_no_draft(store, held):
    p, cop, session, _, insight, _ = held
    with store.write() as conn:
        conn.execute(
            schema.community_member.delete().where(
                schema.community_member.c.person_id == p["Fay"].id
            )
        )
    with pytest.raises(NotAllowed):
        _from_note(store, p["Fay"], insight.id)


def test_drafts_are_made_after_the_session(store, held):
    p, cop, session, talk, insight, _ = held
    with store.write() as conn:  # the session as it was before it closed
        conn.execute(
            update(schema.cop_session)
            .where(schema.cop_session.c.id == session.id)
            .values(status="planned")
        )
    with pytest.raises(InvalidInput, match="after the session"):
        _from_note(store, p["Fay"], insight.id)
    with pytest.raises(InvalidInput, match="after the session"):
        _sources(store, p["Fay"], session.id)
    # the discussion closed: its insights may go (its check-out may still be open)
    discussions.set_status(store, p["Fay"], talk.id, "closed")
    assert [s.key for s in library.discussion_sources(store, p["Fay"], talk.id, PROTOCOLS)] == [
        insight.id
    ]
    assert _from_note(store, p["Fay"], insight.id).draft
    with pytest.raises(InvalidInput, match="after the session"):
        library.draft_from_resource(store, p["Fay"], session.id, "x" * 32, [CHECKOUT], MIN_GROUP)


def test_resources_of_a_small_group_or_with_identifiers_are_not_offered(store, held):
    p, cop, session, *_ = held
    offered = library.session_sources(store, p["Fay"], session.id, PROTOCOLS, [CHECKOUT], 5)
    assert offered.resources == [] and offered.resources_too_few
    key = _sources(store, p["Fay"], session.id).resources[0].key
    with pytest.raises(InvalidInput, match="Fewer than 5"):
        library.draft_from_resource(store, p["Fay"], session.id, key, [CHECKOUT], 5)
    with pytest.raises(InvalidInput, match="not among"):
        library.draft_from_resource(store, p["Fay"], session.id, "0" * 32, [CHECKOUT], MIN_GROUP)
    with store.write() as conn:  # one resource names a child and a phone number
        conn.execute(
            update(schema.session_response)
            .where(schema.session_response.c.value_text == RESOURCES[1])
            .values(value_text="Ring Jayden's school on 0412 345 678")
        )
    offered = _sources(store, p["Fay"], session.id)
    assert [s.text for s in offered.resources] == [RESOURCES[0]]
    assert offered.resources_held_back == 1
    assert "Jayden" not in repr(offered)


def test_an_insight_with_identifiers_needs_the_authors_confirmation(store, held):
    p, _, session, talk, _, _ = held
    with store.write() as conn:
        conn.execute(update(schema.discussion).values(status="open"))
    named = discussions.save_note(
        store, p["Nia"], str(uuid.uuid4()), talk.id, _phase("insight").id,
        "Ring Jayden's mother on 0412 345 678 before the visit.",
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="possible identifier"):
        _from_note(store, p["Nia"], named.id)
    assert library.my_drafts(store, p["Nia"]) == []
    kept = _from_note(store, p["Nia"], named.id, confirmed=True)
    with store.read() as conn:
        confirmed = conn.execute(
            select(schema.library_revision.c.confirmed_findings).where(
                schema.library_revision.c.entry_id == kept.id
            )
        ).scalar()
    assert confirmed >= 2


# -- a person's data -------------------------------------------------------------------------------
def test_export_and_erasure_include_drafts(store, held):
    p, _, session, _, insight, _ = held
    draft = _from_note(store, p["Fay"], insight.id)
    export = person_export.export_person(store, p["Fay"].id)["tables"]
    assert [(r["id"], r["status"]) for r in export["library_entry"]] == [(draft.id, "draft")]
    assert [r["body"] for r in export["library_revision"]] == [INSIGHT]
    # erasing the note's writer keeps Fay's draft, without the link to the erased note
    erasure.erase_person(store, p["Nia"].id, vacuum=False)
    with store.read() as conn:
        row = conn.execute(
            select(schema.library_entry).where(schema.library_entry.c.id == draft.id)
        ).one()
    assert row.source_note_id is None and row.status == "draft"
    erasure.erase_person(store, p["Fay"].id, vacuum=False)
    with store.read() as conn:
        assert conn.execute(select(schema.library_entry.c.id)).all() == []
        assert conn.execute(select(schema.library_revision.c.entry_id)).all() == []


def test_entries_made_before_migration_14_are_published(settings, store, held):
    """An older store (entries without a status) upgrades: its entries stay published."""
    p, cop, *_ = held
    entry = library.contribute(
        store, p["Ana"], str(uuid.uuid4()), cop.id, "story", "Older entry", "Older text."
    )
    store.dispose()
    added = ("status", "source_kind", "source_discussion_id", "source_note_id")
    older = ", ".join(c.name for c in schema.library_entry.columns if c.name not in added)
    with sqlite3.connect(settings.data_dir / "cop.sqlite") as raw:
        raw.execute("PRAGMA foreign_keys = OFF")
        # the column names are schema.py's own
        raw.execute(f"CREATE TABLE older_entry AS SELECT {older} FROM library_entry")  # noqa: S608
        raw.execute("DROP TABLE library_entry")
        raw.execute("ALTER TABLE older_entry RENAME TO library_entry")
        raw.execute("DELETE FROM schema_migrations WHERE version = 14")
    upgraded = open_store(settings)
    try:
        kept = library.get(upgraded, p["Ben"], entry.id)
        assert (kept.title, kept.status) == ("Older entry", "published")
        assert [e.id for e in library.browse(upgraded, p["Ben"]).entries] == [entry.id]
    finally:
        upgraded.dispose()
