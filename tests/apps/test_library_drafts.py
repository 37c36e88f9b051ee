"""The library grows from sessions, driven through the apps' own objects: after the session the
run sheet (and the case discussion, for its note-takers) offers each practice insight and
shared resource with "Make a library draft"; the library app opens the draft for editing
under "My drafts", and Publish puts it where the other members find it."""

import html
import uuid
from dataclasses import replace

import pytest

from cop_widgets.apps.case_discussion import case_discussion_app
from cop_widgets.apps.library import library_app
from cop_widgets.apps.run_sheet import run_sheet_app
from cop_widgets.services import discussions, library
from cop_widgets.store import schema
from tests.services.test_library_drafts import (
    CASE,
    INSIGHT,
    OTHER_PHASE,
    RESOURCES,
    _from_note,
    _phase,
    hold_session,
)
from tests.signin import sign_in_as


@pytest.fixture
def held(store):
    """A closed session with an insight, another phase's note and resources (as in
    tests/services/test_library_drafts.py)."""
    return hold_session(store)


@pytest.fixture
def small(settings):
    """The settings with a minimum group of three (four people sent the check-out)."""
    return replace(settings, min_group=3)


def _texts(widget) -> str:
    """Every HTML text and label under a widget, as the page shows it."""
    value = getattr(widget, "value", "")
    out = [value if isinstance(value, str) else "", getattr(widget, "description", "") or ""]
    out += [_texts(child) for child in getattr(widget, "children", ())]
    return " ".join(out)


def _buttons(widget, label: str) -> list:
    found = [widget] if getattr(widget, "description", None) == label else []
    for child in getattr(widget, "children", ()):
        found += _buttons(child, label)
    return found


def _visible(widgets) -> list:
    return [w for w in widgets if w.layout.display != "none"]


def _sheet(settings, who, session_id):
    app = run_sheet_app(settings=settings)
    app.query = f"session={session_id}"
    sign_in_as(app, who)
    return app


def _library(settings, who, query=""):
    app = library_app(settings=settings)
    app.query = query
    sign_in_as(app, who)
    return app


def test_an_insight_goes_from_the_run_sheet_to_the_library(store, small, held):
    p, _, session, _, insight, _ = held
    sheet = _sheet(small, p["Fay"], session.id)
    offers = sheet.draft_offers
    assert offers is not None
    shown = _texts(offers)
    assert "To the practice library" in shown and INSIGHT in shown
    assert sorted(s.text for s in offers.sources.values() if s.kind == "resource") == sorted(
        RESOURCES
    )
    assert html.escape(RESOURCES[0]) in shown
    assert CASE not in _texts(sheet) and OTHER_PHASE not in _texts(sheet)
    makes = _visible(_buttons(offers, "Make a library draft"))
    assert len(makes) == 3  # one insight, two resources
    sheet.draft_offers.buttons[insight.id].click()
    assert "Library draft made" in sheet.status.message, sheet.status.message
    [draft] = library.my_drafts(store, p["Fay"])
    link = sheet.draft_offers.links[insight.id].value
    assert f"library.ipynb?entry={draft.id}" in link and "Open your draft" in link
    assert sheet.draft_offers.buttons[insight.id].layout.display == "none"

    # the page opened again remembers it
    again = _sheet(small, p["Fay"], session.id)
    assert draft.id in again.draft_offers.links[insight.id].value

    # nobody else finds it yet
    ana = _library(small, p["Ana"], f"entry={draft.id}")
    assert "You may not read a practice library entry" in ana.status.message
    assert INSIGHT not in _texts(ana) and ana.drafts_box.children == ()

    # the library opens it for editing, under "My drafts" too
    fay = _library(small, p["Fay"], f"entry={draft.id}")
    assert fay.revise_form is not None and fay.revise_form.save.description == "Save the draft"
    assert "only you see" in _texts(fay.detail) and _buttons(fay.detail, "Publish")
    assert not _buttons(fay.detail, "This helped my practice")
    fay.revise_form.title.value = "Ask fathers first"
    _buttons(fay.detail, "Publish")[0].click()  # typed, not saved: asked to save first
    assert "Save your changes first" in fay.status.message
    assert library.my_drafts(store, p["Fay"])[0].title == draft.title
    fay.revise_form.save.click()
    assert "Draft saved (version 2)" in fay.status.message, fay.status.message
    fay.back_to_list()
    assert "My drafts (1)" in _texts(fay.drafts_box)
    _buttons(fay.drafts_box, "Publish")[0].click()
    assert "Published" in fay.status.message, fay.status.message
    assert fay.drafts_box.children == ()

    ben = _library(small, p["Ben"])
    ben.search.value = "father"
    titles = ben.results.children[1::2]  # each entry: its title button, then what it is
    assert [t.description for t in titles] == ["Ask fathers first"]
    titles[0].click()
    assert _buttons(ben.detail, "This helped my practice")


def test_a_resource_and_a_confirmed_identifier_from_the_run_sheet(store, small, held):
    p, _, session, talk, _, _ = held
    with store.write() as conn:  # the discussion reopened to add an insight naming someone
        conn.execute(schema.discussion.update().values(status="open"))
    named = discussions.save_note(
        store, p["Nia"], str(uuid.uuid4()), talk.id, _phase("insight").id,
        "Ring Jayden's mother on 0412 345 678 before the visit.",
    )  # fmt: skip
    sheet = _sheet(small, p["Fay"], session.id)
    offers = sheet.draft_offers
    resource = next(k for k, s in offers.sources.items() if s.text == RESOURCES[0])
    offers.buttons[resource].click()
    [made] = library.my_drafts(store, p["Fay"])
    assert (made.kind, made.url) == ("link", "https://example.org/fathers-toolkit")

    offers.buttons[named.id].click()
    assert "highlighted" in sheet.status.message
    assert len(library.my_drafts(store, p["Fay"])) == 1
    assert "Jayden" in offers.checks[named.id].findings.value  # shown, to check
    offers.checks[named.id].confirm.value = True
    offers.buttons[named.id].click()
    assert "Library draft made" in sheet.status.message
    assert len(library.my_drafts(store, p["Fay"])) == 2


def test_who_is_offered_what(store, small, held):
    p, _, session, talk, insight, _ = held
    # Cora runs the session's community, but neither facilitated nor took its notes
    cora = _sheet(small, p["Cora"], session.id)
    assert cora.draft_offers is None
    assert "facilitator or note-taker turns" in _texts(cora)
    assert not _buttons(cora, "Make a library draft")
    cora.guard(cora.make_library_draft, insight.id)
    assert "No insights or resources are offered" in cora.status.message

    # Ben took the discussion's notes: the case discussion offers him its insights
    app = case_discussion_app(settings=small)
    sign_in_as(app, p["Ben"])
    app.open_discussion(talk.id)
    offers = app.view.library_offers
    assert INSIGHT in _texts(offers) and OTHER_PHASE not in _texts(offers)
    offers.buttons[insight.id].click()
    assert "Library draft made" in app.status.message
    assert [d.source_kind for d in library.my_drafts(store, p["Ben"])] == ["note"]

    # Ana attended and reads the discussion, with no role in it: nothing offered
    app = case_discussion_app(settings=small)
    sign_in_as(app, p["Ana"])
    app.open_discussion(talk.id)
    assert app.view.library_offers.children == ()


def test_a_stranger_cannot_publish_anothers_draft(store, small, held):
    p, _, _, _, insight, _ = held
    draft = _from_note(store, p["Fay"], insight.id)
    olga = _library(small, p["Olga"])
    olga.guard(olga._publish, draft.id)  # as a crafted message would call it
    assert "You may not publish this library draft" in olga.status.message
    assert library.my_drafts(store, p["Fay"])[0].id == draft.id
