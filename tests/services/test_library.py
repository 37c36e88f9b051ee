"""The practice library (issue 15, item 2): contributing, full-text search, tags, endorsement,
comments, revision history, marking, attachments, the de-identification check, the rules of
policy, erasure and export; and the library app driven through its handlers."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from cop_widgets.apps.library import library_app
from cop_widgets.content.library_topics import TOPICS_FILE, load_topics
from cop_widgets.errors import DataFileError, InvalidInput, NotAllowed, RecordLocked
from cop_widgets.services import erasure, library, membership, person_export, roster, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store import schema
from cop_widgets.store.page_cache import KERNEL_CACHE_KIB
from tests.conftest import REPO
from tests.find_widgets import button
from tests.signin import sign_in_as
from tests.test_save_failures import _short_busy_timeout, run_in_loop, until

TOPICS = load_topics(REPO / "data" / TOPICS_FILE)
BOTH = pytest.mark.parametrize("settings", ["sqlite", "postgresql"], indirect=True)
PDF = b"%PDF-1.4\n% a small file\n"


def _new() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def cop(store):
    """Cora coordinates an open community; Ana and Ben are members, Fay facilitates; Olga
    belongs to another community only."""
    people = {n: find_or_add_person(store, n) for n in ("Cora", "Ana", "Ben", "Fay", "Olga")}
    made = sessions.create_community(store, people["Cora"], "Family support CoP")
    membership.set_join_policy(store, people["Cora"], made.id, "open", False)
    for name in ("Ana", "Ben", "Fay"):
        membership.join(store, people[name], made.id)
    sessions.add_member(store, people["Cora"], made.id, people["Fay"].id, "facilitator")
    sessions.create_community(store, people["Olga"], "Elsewhere CoP")
    return made, people


def _add(store, who, community_id, title, body, **kw):
    kind = kw.pop("kind", "story")
    return library.contribute(
        store, who, _new(), community_id, kind, title, body, topics=TOPICS, **kw
    )


def _titles(page) -> list[str]:
    return [e.title for e in page.entries]


# -- contributing, reading, the rules --------------------------------------------------------------
def test_a_member_contributes_and_only_members_read_it(store, cop):
    made, p = cop
    tags = "#Home visits, Working with FATHERS, Dads "
    entry = _add(store, p["Ana"], made.id, "Engaging fathers early", "Call him first.",
                 topic_ids=["neglect"], free_tags=tags)  # fmt: skip
    assert entry.author_name == "Ana" and entry.revision == 1 and entry.community_name == made.name
    # a free tag that names a topic is that topic; free tags are kept in lower case
    assert entry.tags == (
        ("neglect", True),
        ("working_with_fathers", True),
        ("dads", False),
        ("home visits", False),
    )
    assert library.get(store, p["Ben"], entry.id).body == "Call him first."
    with pytest.raises(NotAllowed, match="read a practice library entry"):
        library.get(store, p["Olga"], entry.id)
    with pytest.raises(NotAllowed):
        _add(store, p["Olga"], made.id, "Not mine to add", "Text.")
    assert library.browse(store, p["Olga"]).entries == []
    with store.read() as conn:
        refused = (
            conn.execute(
                select(schema.audit_event.c.action).where(
                    schema.audit_event.c.actor_id == p["Olga"].id,
                    schema.audit_event.c.outcome == "refused",
                )
            )
            .scalars()
            .all()
        )
    assert refused == ["library.read", "library.contribute"]


def test_a_retried_save_adds_the_entry_once(store, cop):
    made, p = cop
    entry_id = _new()
    for _ in range(2):  # the store took the first; its confirmation was lost
        library.contribute(
            store, p["Ana"], entry_id, made.id, "tool", "Genogram template", "Use it."
        )
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.library_entry)).scalar() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": "  "}, "Give the entry a title"),
        ({"body": ""}, "Write the entry's text"),
        ({"kind": "poem"}, "Choose what kind"),
        ({"kind": "link", "url": ""}, "needs its address"),
        ({"url": "javascript:alert(1)"}, "web address"),
        ({"free_tags": "x" * 41}, "longer than 40"),
        ({"topic_ids": ["astrology"]}, "not a topic"),
        ({"body": "nul\x00byte"}, "NUL"),
    ],
)
def test_bad_input_is_refused_with_a_message(store, cop, kwargs, message):
    made, p = cop
    fields = {"kind": "story", "title": "A title", "body": "Some text."} | kwargs
    with pytest.raises(InvalidInput, match=message):
        kind, title, body = fields.pop("kind"), fields.pop("title"), fields.pop("body")
        library.contribute(
            store, p["Ana"], _new(), made.id, kind, title, body, topics=TOPICS, **fields
        )


def test_unconfirmed_identifiers_are_refused_and_confirmed_ones_recorded(store, cop):
    made, p = cop
    said = "Rang the mother on 0412 345 678 about Jayden at Riverside Primary School."
    with pytest.raises(InvalidInput, match="possible identifier"):
        _add(store, p["Ana"], made.id, "A call", said)
    with pytest.raises(InvalidInput, match="possible identifier"):
        _add(store, p["Ana"], made.id, "Visit to Jayden", "A de-identified text.")
    assert library.browse(store, p["Ana"]).total == 0
    kept = _add(store, p["Ana"], made.id, "A call", said, confirmed=True)
    with store.read() as conn:
        confirmed = conn.execute(select(schema.library_revision.c.confirmed_findings)).scalar()
    assert confirmed >= 3
    with pytest.raises(InvalidInput, match="possible identifier"):
        library.add_comment(
            store, p["Ben"], _new(), kept.id, "Jayden's school rang me on 0412 345 678"
        )
    with pytest.raises(InvalidInput, match="possible identifier"):
        library.revise(store, p["Ana"], kept.id, "story", "A call", said + " Again.",
                 expected_revision=1)  # fmt: skip


# -- search, tags, sorting -------------------------------------------------------------------------
@BOTH
def test_full_text_search_finds_by_body_words_and_tags(store, cop):
    made, p = cop
    _add(store, p["Ana"], made.id, "Keeping fathers involved", "Texting before visits helped.",
         topic_ids=["working_with_fathers"])  # fmt: skip
    _add(store, p["Ben"], made.id, "Safety mapping with a family", "We mapped worries and "
         "strengths with the grandmother.", free_tags="kinship care")  # fmt: skip
    _add(store, p["Fay"], made.id, "Café conversations", "Informal groups for parents.")

    def found(query, who=p["Ben"], **kw):
        return sorted(_titles(library.browse(store, who, query=query, **kw)))

    assert found("texting") == ["Keeping fathers involved"]  # body word
    assert found("father") == ["Keeping fathers involved"]  # stemmed, title and topic label
    assert found("kinship") == ["Safety mapping with a family"]  # a free tag
    assert found("grandmother STRENGTHS") == ["Safety mapping with a family"]  # every word
    assert found("grandmother texting") == []
    assert found("conversations", community_id=made.id) == ["Café conversations"]
    assert found("texting", who=p["Olga"]) == []  # only what one may read
    hostile = ['"', '"fathers', "fath*", "NEAR(fathers visits)", "(((", "a) OR (b",
               "'; DROP TABLE library_entry; --", "title:fathers", "^fathers", "-fathers",
               "AND", "\\", "%_", "\u202e", "fathers\x00"]  # fmt: skip
    for q in hostile:
        library.browse(store, p["Ben"], query=q)  # results or nothing, never an error
    assert found("fath*") == []  # the words "fath" only: no prefix syntax
    assert "Keeping fathers involved" in found('"fathers" (((')


def test_the_index_follows_revisions_withdrawals_and_erasure(store, cop):
    made, p = cop
    entry = _add(store, p["Ana"], made.id, "Old words", "Zebra crossings.")
    library.revise(store, p["Ana"], entry.id, "story", "New words", "Giraffe necks.",
             expected_revision=1)  # fmt: skip
    assert _titles(library.browse(store, p["Ana"], query="zebra")) == []
    assert _titles(library.browse(store, p["Ana"], query="giraffe")) == ["New words"]
    library.withdraw(store, p["Ana"], entry.id)
    assert library.browse(store, p["Ana"], query="giraffe").total == 0
    other = _add(store, p["Ben"], made.id, "Stripes", "Okapi stripes.")
    erasure.erase_person(store, p["Ben"].id)
    assert library.browse(store, p["Ana"], query="okapi").total == 0
    with store.read() as conn:  # the index holds nothing that the entries do not
        assert conn.execute(text("SELECT count(*) FROM library_search")).scalar() == 0
        assert (
            conn.execute(
                text("SELECT count(*) FROM library_search WHERE library_search MATCH 'okapi'")
            ).scalar()
            == 0
        )
    assert other.id  # (erased with Ben)


def test_browse_by_tag_sorts_by_newest_or_most_endorsed_and_pages(store, cop):
    made, p = cop
    first = _add(store, p["Ana"], made.id, "First", "One.", topic_ids=["neglect"])
    second = _add(store, p["Ana"], made.id, "Second", "Two.", topic_ids=["neglect"])
    _add(store, p["Ben"], made.id, "Third", "Three.", free_tags="groups")
    library.endorse(store, p["Ben"], first.id)
    library.endorse(store, p["Fay"], first.id)
    library.endorse(store, p["Fay"], second.id)
    assert _titles(library.browse(store, p["Fay"])) == ["Third", "Second", "First"]
    assert _titles(library.browse(store, p["Fay"], sort="endorsed")) == ["First", "Second", "Third"]
    assert _titles(library.browse(store, p["Fay"], tag="neglect")) == ["Second", "First"]
    assert library.same_title(store, p["Fay"], made.id, " FIRST ") == 1  # allowed, and flagged
    assert library.same_title(store, p["Fay"], made.id, "First", excluding=first.id) == 0
    assert library.tags_in_use(store, p["Fay"], made.id) == [
        ("neglect", True, 2),
        ("groups", False, 1),
    ]
    page = library.browse(store, p["Fay"], limit=2)
    assert page.total == 3 and len(page.entries) == 2
    assert _titles(library.browse(store, p["Fay"], limit=2, offset=2)) == ["First"]
    library.mark(store, p["Fay"], second.id)  # a facilitator marks the community's practice
    assert _titles(library.browse(store, p["Ana"], marked_only=True)) == ["Second"]
    with pytest.raises(InvalidInput):
        library.browse(store, p["Fay"], sort="random")


@BOTH
def test_the_pages_of_a_search_in_either_order_make_the_whole_list(store, cop):
    """browse sorts the matching entries' ids, then reads only the page's rows (and
    tags_in_use counts over the readable ids): page by page, a search newest or most endorsed
    first is the whole sorted list, each entry once, with its counts."""
    made, p = cop
    fathers = ["working_with_fathers"]
    plans = [
        _add(store, p["Ana"], made.id, f"Plan {n}", "Visits with fathers.", topic_ids=fathers)
        for n in range(5)
    ]
    _add(store, p["Ana"], made.id, "Something else", "Court reports.", free_tags="court")
    for n, fans in ((1, ("Ben", "Fay")), (3, ("Ben",)), (4, ("Fay",))):
        for fan in fans:
            library.endorse(store, p[fan], plans[n].id)
    for sort, expected in (("newest", [4, 3, 2, 1, 0]), ("endorsed", [1, 4, 3, 2, 0])):
        pages = [
            library.browse(store, p["Ben"], query="fathers visit", sort=sort, limit=2, offset=k)
            for k in (0, 2, 4)
        ]
        assert [page.total for page in pages] == [5, 5, 5]
        assert [e.id for page in pages for e in page.entries] == [plans[n].id for n in expected]
    top = library.browse(store, p["Ben"], sort="endorsed", limit=1).entries[0]
    assert (top.id, top.endorsements, top.endorsed_by_me) == (plans[1].id, 2, True)
    assert library.tags_in_use(store, p["Ben"]) == [
        ("working_with_fathers", True, 5),
        ("court", False, 1),
    ]
    assert library.tags_in_use(store, p["Olga"]) == []


# -- endorsement, comments, history, marking -------------------------------------------------------
def test_endorsement_is_once_per_person_and_can_be_taken_back(store, cop):
    made, p = cop
    entry = _add(store, p["Ana"], made.id, "A tool", "Use it.", kind="tool")
    for _ in range(3):
        library.endorse(store, p["Ben"], entry.id)
    seen = library.get(store, p["Ben"], entry.id)
    assert seen.endorsements == 1 and seen.endorsed_by_me
    assert not library.get(store, p["Fay"], entry.id).endorsed_by_me
    with pytest.raises(NotAllowed):  # not one's own
        library.endorse(store, p["Ana"], entry.id)
    with pytest.raises(NotAllowed):
        library.endorse(store, p["Olga"], entry.id)
    library.take_back_endorsement(store, p["Ben"], entry.id)
    library.take_back_endorsement(store, p["Ben"], entry.id)
    assert library.get(store, p["Ana"], entry.id).endorsements == 0


def test_revisions_keep_their_history_and_only_the_author_revises(store, cop):
    made, p = cop
    entry = _add(store, p["Ana"], made.id, "Draft idea", "First go.", free_tags="a")
    library.revise(store, p["Ana"], entry.id, "approach", "Better idea", "Second go.",
             expected_revision=1, free_tags="b", topics=TOPICS)  # fmt: skip
    now = library.revise(store, p["Ana"], entry.id, "approach", "Best idea", "Third go.",
                   expected_revision=2, topic_ids=["reunification"], topics=TOPICS)  # fmt: skip
    assert (now.title, now.body, now.revision, now.tags) == (
        "Best idea",
        "Third go.",
        3,
        (("reunification", True),),
    )
    versions = library.history(store, p["Ben"], entry.id)
    assert [(v.revision, v.title, v.body, v.tags) for v in versions] == [
        (3, "Best idea", "Third go.", "Reunification"),
        (2, "Better idea", "Second go.", "b"),
        (1, "Draft idea", "First go.", "a"),
    ]
    with pytest.raises(RecordLocked, match="another tab"):  # a stale tab changes nothing
        library.revise(store, p["Ana"], entry.id, "story", "Stale", "Old tab.", expected_revision=2)
    with pytest.raises(NotAllowed, match="revise or withdraw"):
        library.revise(store, p["Ben"], entry.id, "story", "Mine now", "No.", expected_revision=3)
    with pytest.raises(NotAllowed):
        library.withdraw(store, p["Cora"], entry.id)
    assert library.get(store, p["Ana"], entry.id).title == "Best idea"
    assert len(library.history(store, p["Ana"], entry.id)) == 3


def test_comments_and_the_endorsed_practice_mark(store, cop):
    made, p = cop
    entry = _add(store, p["Ana"], made.id, "An approach", "Steps.", kind="approach")
    comment_id = _new()
    for _ in range(2):  # a retried save
        library.add_comment(store, p["Ben"], comment_id, entry.id, "<b>tried it</b>: it worked.")
    said = library.comments(store, p["Ana"], entry.id)
    assert [(c.author_name, c.body) for c in said] == [("Ben", "<b>tried it</b>: it worked.")]
    assert library.get(store, p["Ana"], entry.id).comments == 1
    with pytest.raises(NotAllowed):
        library.add_comment(store, p["Olga"], _new(), entry.id, "Outsider")
    with pytest.raises(NotAllowed, match="endorsed practice"):
        library.mark(store, p["Ben"], entry.id)
    library.mark(store, p["Cora"], entry.id)
    assert library.get(store, p["Ben"], entry.id).marked
    library.mark(store, p["Fay"], entry.id, False)
    assert not library.get(store, p["Ben"], entry.id).marked
    assert library.allowed_actions(store, p["Ben"], entry.id) == {
        "library.endorse",
        "library.comment",
    }
    assert library.allowed_actions(store, p["Ana"], entry.id) == {
        "library.revise",
        "library.comment",
    }


def test_an_entry_names_the_session_it_came_from(store, cop):
    made, p = cop
    held = sessions.plan_session(store, p["Cora"], made.id, datetime.now(UTC) - timedelta(days=2),
                          "Working with schools")  # fmt: skip
    entry = _add(store, p["Ana"], made.id, "From the session", "What we learnt.",
                 session_id=held.id)  # fmt: skip
    assert library.get(store, p["Ben"], entry.id).session_topic == "Working with schools"
    elsewhere = sessions.communities(store, p["Olga"])[0]
    theirs = sessions.plan_session(store, p["Olga"], elsewhere.id, datetime.now(UTC), "Not yours")
    with pytest.raises(InvalidInput, match="session of this community"):
        _add(store, p["Ana"], made.id, "Wrong session", "Text.", session_id=theirs.id)


# -- attachments -----------------------------------------------------------------------------------
def test_attachments_are_checked_by_their_bytes_and_kept_in_the_store(store, cop):
    made, p = cop
    entry = _add(store, p["Ana"], made.id, "A template", "Attached.", kind="tool")
    kept = library.attach(store, p["Ana"], _new(), entry.id, "plan.pdf", PDF)
    meta, data = library.attachment_bytes(store, p["Ben"], kept.id)
    assert (meta.file_name, meta.media_type, data) == ("plan.pdf", "application/pdf", PDF)
    assert library.get(store, p["Ben"], entry.id).attachments == 1
    for name, body, message in [
        ("plan.exe", b"MZ...", "not a kind of file"),
        ("photo.png", PDF, "does not hold what its name says"),
        ("big.pdf", b"%PDF-" + b"0" * (2 * 1024 * 1024), "limit is 2 MB"),
        ("empty.pdf", b"", "is empty"),
        ("letter.docx", b"PK\x03\x04 a zip that is not a document", "does not hold"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            library.attach(store, p["Ana"], _new(), entry.id, name, body)
    with pytest.raises(NotAllowed):
        library.attach(store, p["Ben"], _new(), entry.id, "mine.pdf", PDF)
    with pytest.raises(NotAllowed):
        library.attachment_bytes(store, p["Olga"], kept.id)


# -- erasure and export ----------------------------------------------------------------------------
def test_erasure_takes_the_authors_entries_whole_and_export_holds_only_theirs(store, cop):
    made, p = cop
    canary = f"canary-{uuid.uuid4().hex}"
    ana = _add(store, p["Ana"], made.id, "A story", f"{canary} in the text.")
    library.attach(store, p["Ana"], _new(), ana.id, "notes.pdf", PDF + canary.encode())
    ben = _add(store, p["Ben"], made.id, "A tool", "The tool's text.", kind="tool")
    library.endorse(store, p["Ben"], ana.id)
    library.add_comment(store, p["Ben"], _new(), ana.id, "the second one's comment")
    library.add_comment(store, p["Ana"], _new(), ben.id, "the first one's comment")
    library.endorse(store, p["Ana"], ben.id)
    library.mark(store, p["Cora"], ana.id)

    export = person_export.export_person(store, p["Ana"].id)["tables"]
    assert [r["id"] for r in export["library_entry"]] == [ana.id]
    assert [r["body"] for r in export["library_comment"]] == ["the first one's comment"]
    assert [r["entry_id"] for r in export["library_endorsement"]] == [ben.id]
    assert len(export["library_attachment"]) == 1  # its bytes as base64 text
    assert "the second one's comment" not in str(export)

    erasure.erase_person(store, p["Ana"].id)
    raw = Path(store.engine.url.database).read_bytes()
    assert canary.encode() not in raw
    with store.read() as conn:
        assert conn.execute(select(schema.library_entry.c.id)).scalars().all() == [ben.id]
        for table in (schema.library_comment, schema.library_endorsement, schema.library_attachment,
                      schema.library_revision):  # fmt: skip
            left = conn.execute(select(table.c.entry_id)).scalars().all()
            assert set(left) <= {ben.id}, table.name
        assert conn.execute(select(func.count()).select_from(schema.library_comment)).scalar() == 0
    assert library.get(store, p["Ben"], ben.id).endorsements == 0


# -- the topic list --------------------------------------------------------------------------------
def test_the_topic_list_is_data_checked_when_loaded(tmp_path):
    assert TOPICS.get("working_with_fathers").label == "Working with fathers"
    assert len(TOPICS.topics) >= 10
    bad = tmp_path / "topics.yaml"
    for body, field in [
        ("schema_version: 1\ntopics:\n  - {id: a, label: A}\n  - {id: a, label: B}\n", "id"),
        ("schema_version: 1\ntopics:\n  - {id: a, label: A, colour: red}\n", "colour"),
        ("schema_version: 1\ntopics: []\n", "topics"),
        ("schema_version: 1\ntopics:\n  - {id: a, label: A}\n  - {id: b, label: a}\n", "label"),
        ("schema_version: 2\ntopics:\n  - {id: a, label: A}\n", "schema_version"),
        ("schema_version: 1\ntopics:\n  - {id: a, label: A}\ntopics: []\n", "(yaml)"),
    ]:
        bad.write_text(body)
        with pytest.raises(DataFileError) as err:
            load_topics(bad)
        assert field in err.value.field


# -- the app ---------------------------------------------------------------------------------------
def _open(settings, who, query=""):
    app = library_app(settings=settings)
    app.query = query
    sign_in_as(app, who)
    return app


def _fill(form, title, body, topics=(), tags=""):
    form.title.value, form.body.value, form.free_tags.value = title, body, tags
    for tid in topics:
        form.topic_boxes[tid].value = True


def test_the_app_contributes_finds_endorses_comments_and_revises(settings, store, cop):
    made, p = cop
    ana = _open(settings, p["Ana"])
    _fill(ana.form, "Texting fathers", "Texts before a visit <script>x()</script> helped.",
          ["working_with_fathers"], "phones")  # fmt: skip
    ana.form.save.click()
    assert "Added to the library" in ana.status.message, ana.status.message
    assert ana.entry is not None and ana.form.title.value == "" and ana.form.body.value == ""
    shown = ana.detail.children[1].value
    assert "&lt;script&gt;" in shown and "<script>" not in shown and "Working with fathers" in shown

    ben = _open(settings, p["Ben"], f"community={made.id}")
    ben.search.value = "texts"
    titles = ben.results.children[1::2]  # each entry: its title button, then what it is
    assert len(titles) == 1 and titles[0].description == "Texting fathers"
    titles[0].click()
    button(ben.detail, "This helped my practice").click()
    assert library.get(store, p["Ben"], ana.entry.id).endorsements == 1
    ben.comment_box.value = "Tried it with Liam Nguyen on 12/03/2024"
    ben._comment()
    assert "highlighted" in ben.status.message and ben.comment_box.value  # kept, not saved
    ben.comment_box.value = "Tried it: a father replied for the first time."
    ben._comment()
    assert "comment is added" in ben.status.message and ben.comment_box.value == ""
    assert [c.author_name for c in library.comments(store, p["Ana"], ana.entry.id)] == ["Ben"]

    ana.open_entry(ana.entry.id)
    ana._open_revise()
    ana.revise_form.body.value = "Texts the day before a visit helped."
    ana.revise_form.save.click()
    assert "version 2" in ana.status.message
    ana._toggle_history()
    history = next(w for w in ana.detail.children if "cop-lib-versions" in w._dom_classes)
    assert "Version 2" in history.value and "Version 1" in history.value


def test_a_refused_entry_stays_on_the_page_and_is_saved_by_the_retry(settings, store, cop,
                                                                      lock_for):  # fmt: skip
    made, p = cop
    app = _open(settings, p["Ana"])
    _short_busy_timeout(app.store)

    async def scenario():
        app.form_saver.retry_first, app.form_saver.retry_max = 0.05, 0.2
        _fill(app.form, "Kept title", "Kept text.")
        lock = lock_for(app.store)
        app.form.save.click()
        assert "Not saved yet" in app.status.message and app.form_saver.dirty
        assert app.form.title.value == "Kept title" and app.form.body.value == "Kept text."
        lock.release()
        assert await until(lambda: not app.form_saver.dirty), "the retry never stored it"

    try:
        run_in_loop(scenario)
        assert _titles(library.browse(store, p["Ana"])) == ["Kept title"]  # once
    finally:
        app.store.dispose()


def _file(name: str, data: bytes) -> dict:
    """A file as the browser's upload hands it to the kernel."""
    return {"name": name, "type": "", "size": len(data), "content": memoryview(data),
            "last_modified": datetime(2026, 1, 1, tzinfo=UTC)}  # fmt: skip


def test_the_app_attaches_files_and_refuses_a_wrong_one_before_saving(settings, store, cop):
    made, p = cop
    app = _open(settings, p["Ana"])
    _fill(app.form, "A safety plan template", "Fill it in with the family.")
    app.form.upload.value = (_file("photo.png", PDF),)
    app.form.save.click()
    assert "does not hold what its name says" in app.status.message
    assert library.browse(store, p["Ana"]).total == 0 and app.form.title.value  # nothing stored
    app.form.upload.value = (_file("template.pdf", PDF),)
    app.form.save.click()
    assert "Added to the library" in app.status.message
    assert library.get(store, p["Ana"], app.entry.id).attachments == 1
    assert app.form.upload.value == ()
    button(app.detail, "Download template.pdf (0 KB)").click()
    assert "data:application/pdf;base64," in app.download_link.value


def test_someone_in_no_community_is_shown_the_way_to_one(settings, store):
    app = _open(settings, "Nina")
    assert "communities.ipynb" in app.body.children[0].value


def test_the_entry_form_offers_the_communities_one_may_add_to(settings, store, cop):
    """A global coordinator reads every community's library and adds to the ones they belong
    to (policy library.contribute); the page's store keeps a small page cache (page_cache.py)."""
    made, p = cop
    roster.grant_role(store, p["Olga"].id, "coordinator")
    olga = _open(settings, p["Olga"])
    assert [name for name, _ in olga.picker.options] == [
        "All my communities", "Elsewhere CoP", "Family support CoP"]  # fmt: skip
    assert [name for name, _ in olga.form.community.options] == ["Elsewhere CoP"]
    ana = _open(settings, p["Ana"], f"community={made.id}")
    assert ana.form.community.options == (("Family support CoP", made.id),)
    assert ana.form.community.value == made.id
    with ana.store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -KERNEL_CACHE_KIB
