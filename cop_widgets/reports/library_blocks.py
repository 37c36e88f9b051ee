"""HTML pieces of the practice handbook (reports/notebooks/library_handbook.ipynb).

Everything an entry holds was typed by a member: each piece is escaped and isolated for
direction (``user``, ``<bdi>``), so a title holding ``<script>`` is shown as that text. An
entry's text is printed whole, its paragraphs (blank lines) kept as paragraphs and its line
breaks as line breaks. Links inside the page are to its own anchors, numbered in reading order
(``entry-1``, ``endorsed-practice-2``), never ids; an entry's own link is an http(s) address,
shown as text too so that it survives on paper. Attachments are named, never embedded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

from cop_widgets._version import __version__
from cop_widgets.reports.html import Block, esc, isolated_plain, para, produced, user
from cop_widgets.reports.library_data import Handbook, HandbookEntry, TagGroup
from cop_widgets.reports.params import long_date

TITLE = "Practice handbook"
PARTS = (
    ("endorsed-practice", "The community's endorsed practice"),
    ("most-endorsed", "Most endorsed by members"),
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


# -- small pieces ---------------------------------------------------------------------------------
def _day(stamp: str) -> str:
    try:
        return long_date(date.fromisoformat(stamp[:10]))
    except ValueError:
        return stamp[:10]


def paragraphs(text: str) -> str:
    """The text as paragraphs (split at blank lines), each line break and indent kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip("\n") for b in _BLANK_LINE.split(text) if b.strip()]
    return "".join(f'<p class="cop-text">{user(b)}</p>' for b in blocks)


def _members(n: int) -> str:
    if n == 0:
        return "no member has endorsed it yet"
    return f"{n} member{'s' if n != 1 else ''} found this helped their practice"


def _tag_words(tag: str, topic: bool, label: str) -> str:
    return label if topic or not tag else f"#{label}"


def anchors(book: Handbook) -> dict[str, tuple[str, str]]:
    """entry id -> (its anchor, the words of the tag it is printed under), in reading order."""
    out: dict[str, tuple[str, str]] = {}
    for groups in (book.endorsed, book.most_endorsed):
        for group in groups:
            for e in group.entries:
                words = _tag_words(group.tag, group.topic, group.label)
                out.setdefault(e.id, (f"entry-{len(out) + 1}", words))
    return out


# -- the header and the contents ------------------------------------------------------------------
def handbook_header(book: Handbook, topics_problem: str = "") -> Block:
    """The title, the community, when it was made and what it holds."""
    made = produced()
    if book.community is None:
        heading, title = esc(TITLE), TITLE
    else:
        heading = f"{esc(TITLE)}: {user(book.community)}"
        title = f"{TITLE}: {isolated_plain(book.community)} · {datetime.now(UTC).date()}"
    holds = (
        "first the entries marked as the community's endorsed practice, then the other "
        f"entries its members endorsed most (up to {book.top}), most endorsed first"
        if book.top
        else "the entries marked as the community's endorsed practice"
    )
    notes = [
        f"What every member of the community reads in its practice library: {holds}. Drafts "
        "are never included, nor entries their authors withdrew.",
        "Entries are grouped by topic (in the order of the library's topic list), then by tag. "
        "Each entry is printed in full once, under its first topic or tag; under its other "
        "topics and tags a line points to it. Attachments are named: download them from the "
        "entry in the library.",
    ]
    if topics_problem:
        notes.append(topics_problem)
    if book.community is None:
        notes = ["No community was given: this handbook is empty."]
    body = "".join(para(esc(n), "cop-note") for n in notes)
    return Block(
        f'<header class="cop-report-head"><h1>{heading}</h1>'
        f'<p class="cop-period">Made <span data-figure="made">{esc(made)}</span></p>{body}'
        f'<p class="cop-produced">Produced by CoP Workbook {esc(__version__)}.</p></header>',
        title=title,
    )


def handbook_contents(book: Handbook) -> Block:
    """The parts and their topics and tags, each a link to its place in the page."""
    if book.community is None:
        return Block("")
    if book.empty:
        what = (
            "Nothing is in this handbook yet. In the library, the community's facilitators and "
            "coordinators mark entries as its endorsed practice, and members press “This "
            "helped my practice” on the entries that helped them."
        )
        return Block(f'<section class="cop-section">{para(esc(what))}</section>')
    items = []
    for (anchor, heading), groups, count in zip(
        PARTS,
        (book.endorsed, book.most_endorsed),
        (book.marked_count, book.most_endorsed_count),
        strict=True,
    ):
        tags = "".join(
            f'<li><a href="#{anchor}-{n}">{user(_tag_words(g.tag, g.topic, g.label))}</a> '
            f"({len(g.entries) + len(g.see_also)})</li>"
            for n, g in enumerate(groups, 1)
        )
        items.append(
            f'<li><a href="#{anchor}">{esc(heading)}</a> ({_entries(count)})'
            + (f"<ol>{tags}</ol>" if tags else "")
            + "</li>"
        )
    held = book.marked_count + book.most_endorsed_count
    return Block(
        '<nav class="cop-section cop-contents" aria-label="Contents"><h2>Contents</h2>'
        + para(
            f"This handbook holds {_entries(held)} of the {_entries(book.published)} in the "
            "library.",
            "cop-note",
        )
        + f"<ol>{''.join(items)}</ol></nav>"
    )


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


# -- the parts ------------------------------------------------------------------------------------
def endorsed_practice(book: Handbook) -> Block:
    """The entries marked as the community's endorsed practice, by topic and tag."""
    anchor, heading = PARTS[0]
    intro = (
        f"{_entries(book.marked_count).capitalize()} that the community's facilitators or "
        "coordinators marked as its endorsed practice."
        if book.marked_count
        else "No entry is marked as the community's endorsed practice yet: its facilitators "
        "and coordinators mark entries in the library."
    )
    return _part(book, anchor, heading, intro, book.endorsed)


def most_endorsed(book: Handbook) -> Block:
    """The other entries members endorsed most (at most book.top), by topic and tag."""
    anchor, heading = PARTS[1]
    if book.top == 0:
        intro = "This handbook was made with the endorsed practice only."
    elif book.most_endorsed_count:
        intro = (
            f"The {_entries(book.most_endorsed_count)} (besides the endorsed practice) that "
            "most members found helped their practice."
        )
        if book.left_out:
            intro += (
                f" {_entries(book.left_out).capitalize()} endorsed less often "
                f"{'is' if book.left_out == 1 else 'are'} in the library, not here."
            )
    else:
        intro = (
            "No other entry has been endorsed yet: members press “This helped my practice” "
            "on the entries that helped them."
        )
    return _part(book, anchor, heading, intro, book.most_endorsed)


def _part(
    book: Handbook, anchor: str, heading: str, intro: str, groups: Sequence[TagGroup]
) -> Block:
    if book.community is None:
        return Block("")
    where = anchors(book)
    out = [
        f'<section class="cop-section cop-handbook-part" id="{anchor}" data-part="{anchor}">'
        f"<h2>{esc(heading)}</h2>{para(esc(intro), 'cop-note')}"
    ]
    for n, group in enumerate(groups, 1):
        out.append(_group(f"{anchor}-{n}", group, where))
    out.append("</section>")
    return Block("".join(out))


def _group(anchor: str, group: TagGroup, where: dict[str, tuple[str, str]]) -> str:
    words = _tag_words(group.tag, group.topic, group.label)
    kind = "Topic" if group.topic else ("Tag" if group.tag else "")
    heading = f"{kind}: {user(words)}" if kind else esc(words)
    out = [
        f'<section class="cop-handbook-tag" id="{anchor}" data-tag="{esc(words)}">'
        f"<h3>{heading}</h3>"
    ]
    out += [_entry(e, where[e.id][0]) for e in group.entries]
    if group.see_also:
        listed = "".join(
            f'<li><a href="#{where[e.id][0]}">{user(e.title)}</a>: printed under '
            f"“{user(where[e.id][1])}”</li>"
            for e in group.see_also
        )
        out.append(
            f'<p class="cop-meta">Also under this {"topic" if group.topic else "tag"}:</p>'
            f'<ul class="cop-see-also">{listed}</ul>'
        )
    out.append("</section>")
    return "".join(out)


def _entry(e: HandbookEntry, anchor: str) -> str:
    version = f"version {e.revision} of {_day(e.updated_at)}"
    if e.revision > 1:
        version += f" (first added {_day(e.created_at)})"
    meta = (
        f"{esc(e.kind_label)} · by {user(e.author_name)} · {esc(version)} · "
        f'<span data-figure="endorsements">{esc(_members(e.endorsements))}</span>'
    )
    tags = ", ".join(user(words) for words in e.tag_words)
    parts = [
        f'<article class="cop-entry cop-handbook-entry" id="{anchor}">',
        f"<h4>{user(e.title)}</h4>",
        para(meta, "cop-meta"),
    ]
    if e.tags:
        parts.append(para(f"Topics and tags: {tags}", "cop-meta"))
    if e.session_topic:
        parts.append(para(f"From the session “{user(e.session_topic)}”.", "cop-meta"))
    parts.append(f'<div class="cop-handbook-body">{paragraphs(e.body)}</div>')
    if e.url:
        shown = user(e.url)
        link = (
            f'<a href="{esc(e.url)}">{shown}</a>'
            if re.match(r"https?://", e.url, re.IGNORECASE)
            else shown
        )
        parts.append(para(f"Link: {link}"))
    if e.attachments:
        names = ", ".join(user(name) for name in e.attachments)
        parts.append(
            para(f"Attached in the library (open the entry there to download): {names}", "cop-meta")
        )
    parts.append("</article>")
    return "".join(parts)
