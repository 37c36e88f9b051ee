"""The practice handbook (issue 15, item 6): a community's endorsed practice, then its
most-endorsed entries, grouped by topic and tag, as one self-contained page (and PDF). What it
holds is read back from a real store: published entries only (never a draft, never a withdrawn
entry, never another community's), in the library's "most endorsed" order, each printed once
under its first tag; whatever members typed is text, a 5,000-word entry is printed whole.

Two real renders (a kernel each): the command line, and the library app's button (with the PDF).
"""

from __future__ import annotations

import base64
import html
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from cop_widgets.apps._reports import ReportPanel, report_panel
from cop_widgets.apps.library import library_app
from cop_widgets.cli import main as cop_main
from cop_widgets.content.library_topics import TOPICS_FILE, load_topics
from cop_widgets.errors import InvalidInput, NotAllowed, RecordNotFound
from cop_widgets.reports import library_blocks, library_data, render
from cop_widgets.services import library, membership, report_access, roster, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import library_endorsement, library_entry
from tests.conftest import REPO
from tests.signin import sign_in_as

TOPICS = load_topics(REPO / "data" / TOPICS_FILE)
XSS = "<script>window.__pwned=1</script>"
PDF = b"%PDF-1.4\n% a small file\n"
# 5,000 different words of letters only (no digits: nothing the identifier check would flag),
# in ten paragraphs of 500, one of them with a line break inside
WORDS = ["q" + "".join("abcdefghijklmnopqrstuvwxyz"[(i // 26**k) % 26] for k in (2, 1, 0))
         for i in range(5000)]  # fmt: skip
LONG_BODY = "\n\n".join(
    " ".join(WORDS[p * 500 : p * 500 + 250]) + "\n" + " ".join(WORDS[p * 500 + 250 : p * 500 + 500])
    for p in range(10)
)
NEVER = ("DRAFT-MARKER", "WITHDRAWN-MARKER", "ELSEWHERE-MARKER", "NOT-ENDORSED-MARKER")


class Shell:
    """What a report panel uses of its page: the store and the signed-in person."""

    def __init__(self, store, person):
        self.store, self.person = store, person


def _entry(store, who, community_id, title, body="Some practice.", **kw):
    kind = kw.pop("kind", "story")
    return library.contribute(
        store, who, str(uuid.uuid4()), community_id, kind, title, body,
        topics=TOPICS, confirmed=True, **kw,
    )  # fmt: skip


def _endorse(store, entry, *people):
    for who in people:
        library.endorse(store, who, entry.id)


@pytest.fixture
def cop(store, data_dir, monkeypatch):
    """Family Support CoP: Cora coordinates, Fay facilitates; Ana, Ben, Cal and Dee are members;
    Olga belongs to another community, Gil coordinates every community. Its library holds two
    marked entries, four more endorsed ones, one nobody endorsed, a draft (marked and endorsed
    behind the service's back) and a withdrawn entry."""
    monkeypatch.setenv("COP_DATA_DIR", str(data_dir))  # the report kernel's store
    monkeypatch.setenv("COP_DATABASE_URL", store.settings.database_url)
    p = {n: find_or_add_person(store, n) for n in ("Cora", "Fay", "Ana", "Ben", "Cal", "Dee",
                                                   "Olga", "Gil")}  # fmt: skip
    roster.grant_role(store, p["Gil"].id, "coordinator")
    made = sessions.create_community(store, p["Cora"], "Family Support CoP")
    membership.set_join_policy(store, p["Cora"], made.id, "open", False)
    for name in ("Fay", "Ana", "Ben", "Cal", "Dee"):
        membership.join(store, p[name], made.id)
    sessions.add_member(store, p["Cora"], made.id, p["Fay"].id, "facilitator")
    elsewhere = sessions.create_community(store, p["Olga"], "Elsewhere CoP")
    ana, ben, cal, dee, fay = (p[n] for n in ("Ana", "Ben", "Cal", "Dee", "Fay"))
    e = {}
    e["long"] = _entry(store, ana, made.id, "MARKED-LONG safety plans", LONG_BODY,
                       topic_ids=["safety_planning"])  # fmt: skip
    e["marked"] = _entry(store, ana, made.id, "MARKED-VISITS", "Visit in pairs.",
                         topic_ids=["family_violence"], free_tags="home visits")  # fmt: skip
    library.attach(store, ana, str(uuid.uuid4()), e["marked"].id, "Safety plan template.pdf", PDF)
    for key in ("long", "marked"):
        library.mark(store, fay, e[key].id)
    _endorse(store, e["marked"], ben, cal)
    e["three"] = _entry(store, ana, made.id, "THREE-ENDORSED", "Ask the child first.",
                        topic_ids=["neglect", "family_violence"], free_tags="dads")  # fmt: skip
    library.revise(store, ana, e["three"].id, "approach", "THREE-ENDORSED",
                   "Ask the child first, then the parents.", expected_revision=1,
                   topic_ids=["neglect", "family_violence"], free_tags="dads",
                   topics=TOPICS)  # fmt: skip
    _endorse(store, e["three"], ben, cal, dee)
    e["two"] = _entry(store, ana, made.id, "TWO-ENDORSED", "A guide worth reading.", kind="link",
                      url="https://example.org/guide", topic_ids=["family_violence"],
                      free_tags="zebra, apple")  # fmt: skip
    _endorse(store, e["two"], ben, cal)
    e["one"] = _entry(store, ana, made.id, "ONE-ENDORSED", "Untagged wisdom.")
    _endorse(store, e["one"], ben)
    e["xss"] = _entry(store, ben, made.id, f"{XSS} title",
                      "<img src=x onerror=alert(1)> first\n\nsecond <b>paragraph</b>",
                      free_tags="<b>bold</b>")  # fmt: skip
    library.attach(store, ben, str(uuid.uuid4()), e["xss"].id, "<i>notes</i>.pdf", PDF)
    _endorse(store, e["xss"], ana, cal, dee, fay)
    e["none"] = _entry(store, ana, made.id, "NOT-ENDORSED-MARKER", "Nobody endorsed it.")
    e["draft"] = _entry(store, ana, made.id, "DRAFT-MARKER", "Not published.",
                        topic_ids=["family_violence"])  # fmt: skip
    e["gone"] = _entry(store, ana, made.id, "WITHDRAWN-MARKER", "Withdrawn.")
    _endorse(store, e["gone"], ben, cal, dee, fay)
    library.withdraw(store, ana, e["gone"].id)
    e["other"] = _entry(store, p["Olga"], elsewhere.id, "ELSEWHERE-MARKER", "Not this one.")
    with store.write() as conn:  # a draft, marked and endorsed as no service would leave it
        conn.execute(
            update(library_entry)
            .where(library_entry.c.id == e["draft"].id)
            .values(status="draft", marked_at=utc_now(), marked_by=fay.id)
        )
        conn.execute(
            insert(library_endorsement),
            [{"entry_id": e["draft"].id, "person_id": who.id, "created_at": utc_now()}
             for who in (ben, cal, dee, fay)],
        )  # fmt: skip
    return p, made, e


def _printed(groups) -> list[str]:
    """The titles printed in full, in reading order."""
    return [e.title for g in groups for e in g.entries]


def _page(book) -> str:
    return "".join(
        block.html
        for block in (
            library_blocks.handbook_header(book),
            library_blocks.handbook_contents(book),
            library_blocks.endorsed_practice(book),
            library_blocks.most_endorsed(book),
        )
    )


def _self_contained(page: str) -> None:
    assert not re.search(r"<(script|img|iframe|link|object|embed)\b[^>]*\b(src|href|data)\s*="
                         r"\s*[\"']?(https?:)?//", page, re.I)  # fmt: skip
    assert "@media print" in page


# -- what it holds ---------------------------------------------------------------------------
def test_endorsed_practice_first_then_most_endorsed_grouped_by_tag(store, cop):
    _, made, e = cop
    book = library_data.handbook(store, made.id, 50, TOPICS)
    assert book.community == "Family Support CoP"
    assert (book.marked_count, book.most_endorsed_count, book.left_out) == (2, 4, 0)
    assert book.published == 7  # the draft, the withdrawn one and Olga's are not
    # part 1, by topic in the topic list's order, then free tags; each entry printed once
    assert [(g.label, _printed([g]), [x.title for x in g.see_also]) for g in book.endorsed] == [
        ("Family violence", ["MARKED-VISITS"], []),
        ("Safety planning and mapping", ["MARKED-LONG safety plans"], []),
        ("home visits", [], ["MARKED-VISITS"]),
    ]
    # part 2: under its first tag (most endorsed first within it), listed under the others
    second = [(g.label, _printed([g]), [x.title for x in g.see_also]) for g in book.most_endorsed]
    assert second == [
        ("Family violence", ["THREE-ENDORSED", "TWO-ENDORSED"], []),
        ("Neglect and cumulative harm", [], ["THREE-ENDORSED"]),
        ("<b>bold</b>", [f"{XSS} title"], []),
        ("apple", [], ["TWO-ENDORSED"]),
        ("dads", [], ["THREE-ENDORSED"]),
        ("zebra", [], ["TWO-ENDORSED"]),
        (library_data.UNTAGGED, ["ONE-ENDORSED"], []),
    ]  # fmt: skip
    assert {x.title: x.endorsements for g in book.most_endorsed for x in g.entries} == {
        f"{XSS} title": 4, "THREE-ENDORSED": 3, "TWO-ENDORSED": 2, "ONE-ENDORSED": 1,
    }  # fmt: skip
    three = next(x for g in book.most_endorsed for x in g.entries if x.title == "THREE-ENDORSED")
    assert (three.revision, three.kind_label, three.author_name) == (
        2, "Approach to a recurring problem", "Ana")  # fmt: skip
    assert three.tag_words == ("Family violence", "Neglect and cumulative harm", "#dads")
    visits = book.endorsed[0].entries[0]
    assert visits.attachments == ("Safety plan template.pdf",) and visits.marked
    printed = _printed(book.endorsed) + _printed(book.most_endorsed)
    assert len(printed) == len(set(printed)) == 6
    assert not any(marker in title for title in printed for marker in NEVER)


def test_the_top_limits_the_second_part_only(store, cop):
    _, made, _ = cop
    two = library_data.handbook(store, made.id, 2, TOPICS)
    assert two.marked_count == 2 and two.left_out == 2
    assert sorted(_printed(two.most_endorsed)) == sorted(["THREE-ENDORSED", f"{XSS} title"])
    none = library_data.handbook(store, made.id, 0, TOPICS)
    assert (none.marked_count, none.most_endorsed_count, none.left_out) == (2, 0, 4)
    assert "endorsed practice only" in library_blocks.most_endorsed(none).html
    for bad in (-1, 501, True, "5"):
        with pytest.raises(InvalidInput, match="top must be"):
            library_data.handbook(store, made.id, bad)
    with pytest.raises(RecordNotFound):
        library_data.handbook(store, str(uuid.uuid4()))
    with pytest.raises(InvalidInput):
        library_data.handbook(store, "x'); import os #")
    bare = library_data.handbook(store, "")
    assert bare.community is None and bare.empty and "No community" in _page(bare)


def test_typed_text_is_text_and_a_long_entry_is_printed_whole(store, cop):
    _, made, _ = cop
    page = _page(library_data.handbook(store, made.id, 50, TOPICS))
    assert XSS not in page and "<img src=x" not in page and "<b>bold" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; title" in page
    assert "&lt;img src=x onerror=alert(1)&gt; first" in page
    assert "<i>notes" not in page and "&lt;i&gt;notes&lt;_i&gt;.pdf" in page  # "/" kept out
    # every word of the 5,000, in order, in ten paragraphs, the line break inside each kept
    long = re.search(r'id="entry-2">.*?</article>', page, re.S).group(0)
    assert "MARKED-LONG" in long
    assert re.findall(r"\bq[a-z]{3}\b", re.sub(r"<[^>]+>", " ", long)) == WORDS
    assert long.count('<p class="cop-text">') == 10
    assert f"{WORDS[249]}\n{WORDS[250]}" in long
    # pointers go to anchors in the page, numbered, never ids
    assert re.findall(r'href="#(entry-\d+)"', page)
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}", page)
    assert '<a href="https://example.org/guide"><bdi>https://example.org/guide</bdi></a>' in page
    assert "by <bdi>Ana</bdi> · version 2 of " in page
    assert "4 members found this helped their practice" in page
    assert "no member has endorsed it yet" in page  # the long one: marked, not endorsed


# -- access ---------------------------------------------------------------------------------------
def test_members_make_it_and_others_are_refused_and_audited(store, cop):
    p, made, _ = cop
    today = datetime.now(UTC).date().isoformat()
    for who in ("Ana", "Fay", "Cora", "Gil"):
        job = report_access.library_handbook(store, p[who], made.id)
        assert job.template == "library_handbook" and job.subject == "Family Support CoP"
        assert job.params == {"community_id": made.id, "top": 50}
        assert job.stem == f"family-support-cop_{today}_practice-handbook"
    for who in (p["Olga"], None):
        with pytest.raises(NotAllowed, match="make a community's practice handbook"):
            report_access.report_job(store, who, "library", made.id)
    assert report_access.may_make(store, p["Ben"], "library", made.id)
    assert not report_access.may_make(store, p["Olga"], "library", made.id)
    assert not report_access.may_make(store, p["Gil"], "library", str(uuid.uuid4()))


# -- the command line: one real render ------------------------------------------------------------
def test_cop_report_library_writes_one_self_contained_page(store, cop, tmp_path, capsys):
    folder = tmp_path / "out"
    rc = cop_main(["report", "library", "--community", "family support cop", "--top", "3",
                   "--out", str(folder)])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = Path(captured.out.split()[-1])
    today = datetime.now(UTC).date().isoformat()
    assert out.name == f"family-support-cop_{today}_practice-handbook.html"
    page = out.read_text()
    _self_contained(page)
    assert f"<title>Practice handbook: Family Support CoP · {today}</title>" in page
    assert "Practice handbook: <bdi>Family Support CoP</bdi>" in page
    assert page.index("MARKED-VISITS") < page.index("THREE-ENDORSED")
    assert "ONE-ENDORSED" not in page  # the fourth most endorsed, beyond --top 3
    assert "1 entry endorsed less often is in the library, not here." in page
    for marker in NEVER:
        assert marker not in page, marker
    assert XSS not in page and "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert WORDS[0] in page and WORDS[-1] in page
    assert "Safety plan template.pdf" in page and "data:application/pdf" not in page
    assert "library_blocks" not in page  # no code
    # the same name again is numbered, never replaced
    spec = render.report_spec("library_handbook")
    params = {"community_id": cop[1].id, "top": 3}
    again = render.report_filename(spec, params, store, folder)
    assert again == out.name.replace(".html", "-2.html")

    rc = cop_main(["report", "library", "--community", "Nobody", "--out", str(folder)])
    err = capsys.readouterr().err
    assert rc == 2 and "No single community is named 'Nobody'" in err and "Traceback" not in err
    rc = cop_main(["report", "library", "--community", "Family Support CoP", "--top", "-1"])
    assert rc == 2 and "--top must be a whole number from 0 to 500" in capsys.readouterr().err
    assert sorted(f.name for f in folder.iterdir()) == [out.name]


# -- the library app: the button, one real render with its PDF -------------------------------------
def _downloads(panel: ReportPanel) -> dict[str, bytes]:
    links = re.findall(
        r'<a download="([^"]+)" href="data:([^;]+);base64,([^"]+)"', panel.links.value
    )
    return {name: base64.b64decode(data) for name, _mime, data in links}


def _panels(app) -> list[ReportPanel]:
    return [w for w in app.handbook_box.children if isinstance(w, ReportPanel)]


def test_a_member_makes_the_handbook_in_the_library_app(settings, store, cop):
    p, made, _ = cop
    app = library_app(settings=settings)
    sign_in_as(app, p["Ben"])
    assert app.picker.value == "" and _panels(app) == []  # all communities: choose one
    assert "Choose one community" in app.handbook_box.children[0].value
    app.picker.value = made.id
    [panel] = _panels(app)
    assert panel.button.description == "Make the handbook" and panel.date_from is None
    app.picker.value = ""
    app.picker.value = made.id
    assert _panels(app) == [panel]  # kept: a handbook being made survives a change of choice
    panel.button.click()
    panel.wait(180)
    files = _downloads(panel)
    stem = f"family-support-cop_{datetime.now(UTC).date().isoformat()}_practice-handbook"
    assert set(files) == {f"{stem}.html", f"{stem}.pdf"}, panel.message.value
    page = files[f"{stem}.html"].decode("utf-8")
    _self_contained(page)
    assert "Practice handbook: <bdi>Family Support CoP</bdi>" in page
    assert "ONE-ENDORSED" in page and "DRAFT-MARKER" not in page
    pdf = files[f"{stem}.pdf"]
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2

    # a forged panel for a community Olga is not in: refused, audited, nothing rendered
    forged = report_panel(Shell(store, p["Olga"]), "library", made.id)
    forged.button.click()
    assert forged._thread is None and forged.links.value == ""
    refusal = html.unescape(forged.message.value)
    assert "You may not make a community's practice handbook" in refusal
