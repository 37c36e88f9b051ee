"""The practice library: a community's shared repertoire (DOMAIN.md §0, §6.14).

Members contribute an entry of a kind (a practice story, a tool or template, an approach to a
recurring problem, a research or reading summary, a link) with a title, a body, topics from
data/library_topics.yaml and free tags, optionally the session it came from. Every entry and
comment passes the de-identification check: likely identifiers are refused unless the author
confirmed them. Entries are found by tag and full-text search (SQLite FTS5, kept in step by
triggers of migration 13; PostgreSQL's to_tsvector/plainto_tsquery on the same columns), and
sorted newest first or most endorsed first. Members endorse ("this helped my practice"), once
each, and may take it back; comment; and the author revises, each version kept as a row of
its history. A community's facilitators and coordinators mark its endorsed practice.

The library grows from sessions (issue 15, item 3): after a session, its facilitator or
note-taker turns a practice-insight note (the notes of a protocol's insight phases, the group's
agreed learning) or a shared resource (a check-out answer the session report lists) into a
draft entry, which its author edits and publishes. Never the case summary, nor the notes of
other phases. A draft is read by its author alone and is never listed, searched or counted
(policy.library_readable_by) until published; it records the session, and the discussion and
note, it came from.

Who may do what is policy's (rules library.*). The text of an entry is its author's: erasing
the author deletes their entries with their versions, tags, endorsements and comments
(data_rights), and the author may withdraw an entry at any time.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    ScalarSelect,
    TextClause,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)

from cop_widgets.content.library_topics import EMPTY, TopicList
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.add_once import add_once
from cop_widgets.services.identity import Person
from cop_widgets.settings import MAX_ANSWER_CHARS
from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, AnySelect, utc_now
from cop_widgets.store.schema import (
    LIBRARY_KINDS,
    community,
    cop_session,
    discussion,
    discussion_note,
    library_attachment,
    library_comment,
    library_endorsement,
    library_entry,
    library_revision,
    library_tag,
    person,
    session_answered,
    session_response,
)
from cop_widgets.store.search import library_text_match, purge_search_index
from cop_widgets.text import check_answer

if TYPE_CHECKING:  # types only: the library page starts without the protocol and item-set models
    from cop_widgets.content.protocols import Phase, Protocol
    from cop_widgets.content.session_items import ItemSet
    from cop_widgets.content.yaml_files import Catalogue

KIND_LABELS = {
    "story": "Practice story",
    "tool": "Tool or template",
    "approach": "Approach to a recurring problem",
    "summary": "Research or reading summary",
    "link": "Link",
}
assert tuple(KIND_LABELS) == LIBRARY_KINDS
SORTS = ("newest", "endorsed")
MAX_TITLE = 200
MAX_BODY = MAX_ANSWER_CHARS
MAX_URL = 2000
MAX_TAGS = 12
MAX_TAG_CHARS = 40
MAX_COMMENT = 5000
PAGE_SIZE = 20
DRAFT, PUBLISHED = policy.DRAFT, policy.PUBLISHED
MAX_SEARCH_WORDS = 20
# a search is words only: quotes, *, NEAR, brackets and operators are never passed on
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Entry:
    """A practice library entry as a reader sees it: its text, tags, counts and status."""

    id: str
    community_id: str
    community_name: str
    author_id: str
    author_name: str
    kind: str
    title: str
    body: str
    url: str
    tags: tuple[tuple[str, bool], ...]  # (tag, is a topic id), topics first
    session_id: str | None
    session_topic: str
    revision: int
    created_at: str
    updated_at: str
    endorsements: int
    endorsed_by_me: bool
    comments: int
    attachments: int
    marked: bool  # the community's endorsed practice
    status: str = "published"  # or "draft": its author's alone until published
    source_kind: str | None = None  # a draft's source: "note" or "resource"

    @property
    def draft(self) -> bool:
        """Whether it is a draft (its author's alone until published)."""
        return self.status == DRAFT


@dataclass(frozen=True)
class Page:
    """One page of a library listing, and how many entries match in all."""

    entries: list[Entry]
    total: int  # how many match, over all pages


@dataclass(frozen=True)
class Revision:
    """One kept version of an entry (revision 1 is the first)."""

    revision: int
    kind: str
    title: str
    body: str
    url: str
    tags: str  # the tags as words, one per line
    created_at: str


@dataclass(frozen=True)
class Comment:
    """A comment on an entry, with its author."""

    id: str
    author_id: str
    author_name: str
    body: str
    created_at: str


@dataclass(frozen=True)
class Attachment:
    """A file attached to an entry (its bytes are read separately)."""

    id: str
    entry_id: str
    file_name: str
    media_type: str
    size: int
    created_at: str


# -- checking what people type ------------------------------------------------------------------
def tags_from(
    topic_ids: Iterable[str], free_tags: str | Iterable[str], topics: TopicList = EMPTY
) -> list[tuple[str, bool]]:
    """(tag, is a topic) for the chosen topics and the free tags (comma-separated text or a
    list): a free tag that names a topic (its id or label, any case) becomes that topic; free
    tags are kept in lower case with single spaces, without a leading '#'."""
    chosen: list[tuple[str, bool]] = []
    for topic_id in topic_ids:
        if topics.get(topic_id) is None:
            raise InvalidInput("topics", f"“{topic_id}” is not a topic of the library.")
        if (topic_id, True) not in chosen:
            chosen.append((topic_id, True))
    raw = free_tags.split(",") if isinstance(free_tags, str) else list(free_tags)
    for piece in raw:
        typed = check_answer(piece, "Tags", MAX_TAG_CHARS * 4)
        tag = " ".join(typed.lstrip().lstrip("#").split()).casefold()
        if not tag:
            continue
        if len(tag) > MAX_TAG_CHARS:
            raise InvalidInput(
                "tags", f"The tag “{tag[:20]}…” is longer than {MAX_TAG_CHARS} characters."
            )
        found = topics.find(tag)
        pair = (found.id, True) if found else (tag, False)
        if pair not in chosen:
            chosen.append(pair)
    if len(chosen) > MAX_TAGS:
        raise InvalidInput("tags", f"An entry has at most {MAX_TAGS} topics and tags together.")
    return chosen


def _tag_text(tags: Sequence[tuple[str, bool]], topics: TopicList) -> str:
    return "\n".join(topics.label(tag) if topic else tag for tag, topic in tags)


def check_url(url: str, kind: str) -> str:
    """The entry's link, checked: an http(s) web address; required for a link entry, else
    optional ("")."""
    value = check_answer(url or "", "Link", MAX_URL).strip()
    if not value:
        if kind == "link":
            raise InvalidInput("link", "A link entry needs its address (https://…).")
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise InvalidInput(
            "link", "The link must be a web address starting with https:// (or http://)."
        )
    return value


def texts_to_check(title: str, body: str, tags: Sequence[tuple[str, bool]]) -> dict[str, str]:
    """What the de-identification check reads, by the label the author sees (the app's
    DeidCheck uses the same labels, so a confirmation there is the one made here)."""
    free = ", ".join(tag for tag, topic in tags if not topic)
    return {"Title": title, "Text": body, "Tags": free}


def _findings(texts: dict[str, str], confirmed: bool) -> int:
    """How many likely identifiers the author confirmed; refuses unconfirmed ones."""
    # Imported when a text is first checked, not with this module: the library page starts
    # without the identifier finder (0.6 MiB per kernel, measured), as the other pages do.
    from cop_widgets.deidentify import find_identifiers

    found = sum(len(find_identifiers(value)) for value in texts.values() if value)
    if found and not confirmed:
        raise InvalidInput(
            "de-identification",
            f"Not saved: {found} possible identifier(s) found (names, dates, places, numbers). "
            "Rephrase them (roles, age bands, 'a rural town'), or confirm that they do not "
            "identify anyone, then save again.",
        )
    return found if confirmed else 0


def _fields(kind: str, title: str, body: str, url: str) -> tuple[str, str, str, str]:
    if kind not in KIND_LABELS:
        raise InvalidInput("kind", "Choose what kind of entry this is.")
    title = " ".join(check_answer(title or "", "Title", MAX_TITLE * 4).split())
    if not title:
        raise InvalidInput("title", "Give the entry a title.")
    if len(title) > MAX_TITLE:
        raise InvalidInput("title", f"Keep the title under {MAX_TITLE} characters.")
    body = check_answer(body or "", "Text", MAX_BODY)
    url = check_url(url, kind)
    if not body.strip() and not url:
        raise InvalidInput("text", "Write the entry's text (or give a link).")
    return kind, title, body, url


# -- contributing and revising --------------------------------------------------------------------
def contribute(
    store: Store,
    who: Person,
    entry_id: str,
    community_id: str,
    kind: str,
    title: str,
    body: str,
    *,
    topic_ids: Iterable[str] = (),
    free_tags: str | Iterable[str] = "",
    url: str = "",
    session_id: str | None = None,
    confirmed: bool = False,
    topics: TopicList = EMPTY,
) -> Entry:
    """Add an entry to a community's library (policy "library.contribute": its members).

    `entry_id` is made by the app when the form opens, so a save retried after the store
    took it (the confirmation lost) returns the same entry instead of a second one.
    """
    _check_id(entry_id)
    policy.require(store, who, "library.contribute", community_id)
    kind, title, body, url = _fields(kind, title, body, url)
    tags = tags_from(topic_ids, free_tags, topics)
    confirmed_findings = _findings(texts_to_check(title, body, tags), confirmed)
    now = utc_now()
    with store.write() as conn:
        found = conn.execute(
            select(library_entry.c.author_id, library_entry.c.community_id).where(
                library_entry.c.id == entry_id
            )
        ).first()
        if found is not None:
            if found.author_id != who.id or found.community_id != community_id:
                raise RecordNotFound("library entry", entry_id)
        else:
            if session_id:
                _check_session(conn, who, session_id, community_id)
            _insert_entry(conn, entry_id, community_id, who, session_id or None, kind, title,
                          body, url, tags, topics, confirmed_findings, now,
                          status=PUBLISHED)  # fmt: skip
            store.audit(
                conn,
                actor_id=who.id,
                action="library_entry_added",
                target_kind="library_entry",
                target_id=entry_id,
            )
    return get(store, who, entry_id)


def _check_id(entry_id: str) -> None:
    try:
        uuid.UUID(str(entry_id))
    except ValueError:
        raise InvalidInput("entry", "That entry id is not valid; reload the page.") from None


def _check_session(conn: Connection, who: Person, session_id: str, community_id: str) -> None:
    held_in = conn.execute(
        select(cop_session.c.community_id).where(cop_session.c.id == session_id)
    ).scalar()
    if held_in != community_id or not policy.may_view_session(conn, who, session_id):
        raise InvalidInput(
            "session", "Choose a session of this community (or none) as where it came from."
        )


def _write_version(
    conn: Connection,
    entry_id: str,
    revision: int,
    kind: str,
    title: str,
    body: str,
    url: str,
    tags: Sequence[tuple[str, bool]],
    topics: TopicList,
    confirmed_findings: int,
    now: str,
) -> None:
    conn.execute(delete(library_tag).where(library_tag.c.entry_id == entry_id))
    if tags:
        conn.execute(
            insert(library_tag),
            [{"entry_id": entry_id, "tag": tag, "topic": topic} for tag, topic in tags],
        )
    conn.execute(
        insert(library_revision).values(
            entry_id=entry_id,
            revision=revision,
            kind=kind,
            title=title,
            body=body,
            url=url,
            tag_text=_tag_text(tags, topics),
            confirmed_findings=confirmed_findings,
            created_at=now,
        )
    )


def revise(
    store: Store,
    who: Person,
    entry_id: str,
    kind: str,
    title: str,
    body: str,
    *,
    expected_revision: int,
    topic_ids: Iterable[str] = (),
    free_tags: str | Iterable[str] = "",
    url: str = "",
    confirmed: bool = False,
    topics: TopicList = EMPTY,
) -> Entry:
    """A new version of the entry (policy "library.revise": its author); the earlier ones stay
    in its history. Refused, keeping nothing, when it changed since `expected_revision` (the
    author's other tab)."""
    policy.require(store, who, "library.revise", entry_id)
    kind, title, body, url = _fields(kind, title, body, url)
    tags = tags_from(topic_ids, free_tags, topics)
    confirmed_findings = _findings(texts_to_check(title, body, tags), confirmed)
    now = utc_now()
    with store.write() as conn:
        current = conn.execute(
            select(library_entry.c.revision).where(library_entry.c.id == entry_id)
        ).scalar()
        if current is None:
            raise RecordNotFound("library entry", entry_id)
        if current != expected_revision:
            raise RecordLocked(
                "library entry",
                entry_id,
                "it was revised in another tab or device since you opened it. Your text is "
                "still here: copy it, then open the entry again to see the newer version",
            )
        conn.execute(
            update(library_entry)
            .where(library_entry.c.id == entry_id)
            .values(
                kind=kind,
                title=title,
                body=body,
                url=url,
                tag_text=_tag_text(tags, topics),
                revision=current + 1,
                updated_at=now,
            )
        )
        _write_version(conn, entry_id, current + 1, kind, title, body, url, tags, topics,
                       confirmed_findings, now)  # fmt: skip
        store.audit(
            conn,
            actor_id=who.id,
            action="library_entry_revised",
            target_kind="library_entry",
            target_id=entry_id,
        )
    return get(store, who, entry_id)


def withdraw(store: Store, who: Person, entry_id: str) -> None:
    """The author takes the entry out of the library: every version, tag, endorsement, comment
    and attachment of it is deleted (policy "library.revise"), and the search index is rebuilt
    so that none of its words stay in it."""
    policy.require(store, who, "library.revise", entry_id)
    with store.write() as conn:
        delete_entries(conn, library_entry.c.id == entry_id)
        purge_search_index(conn)
        store.audit(
            conn,
            actor_id=who.id,
            action="library_entry_withdrawn",
            target_kind="library_entry",
            target_id=entry_id,
        )


def delete_entries(conn: Connection, which: ColumnElement[bool]) -> int:
    """Inside a caller's write transaction: delete the entries `which` selects, children first
    (the triggers take them out of the search index). Returns how many entries went."""
    ids = select(library_entry.c.id).where(which).scalar_subquery()
    for child in (library_attachment, library_comment, library_endorsement, library_tag,
                  library_revision):  # fmt: skip
        conn.execute(delete(child).where(child.c.entry_id.in_(ids)))
    return conn.execute(delete(library_entry).where(which)).rowcount


# -- reading --------------------------------------------------------------------------------------
def _entries_query(
    conn: Connection, who: Person, own_drafts: bool = False
) -> tuple[AnySelect, ScalarSelect[int]]:
    """The entries `who` may read, as rows for _with_tags: the published ones of policy's
    library_readable_by, and with `own_drafts` their own drafts too (never anyone else's)."""
    e = library_entry.c
    endorsements = (
        select(func.count())
        .where(library_endorsement.c.entry_id == e.id)
        .correlate(library_entry)
        .scalar_subquery()
    )
    comments = (
        select(func.count())
        .where(library_comment.c.entry_id == e.id)
        .correlate(library_entry)
        .scalar_subquery()
    )
    attachments = (
        select(func.count())
        .where(library_attachment.c.entry_id == e.id)
        .correlate(library_entry)
        .scalar_subquery()
    )
    mine = exists().where(
        library_endorsement.c.entry_id == e.id, library_endorsement.c.person_id == who.id
    )
    query = (
        select(
            e.id,
            e.community_id,
            community.c.name.label("community_name"),
            e.author_id,
            person.c.display_name.label("author_name"),
            e.kind,
            e.title,
            e.body,
            e.url,
            e.session_id,
            func.coalesce(cop_session.c.topic, "").label("session_topic"),
            e.revision,
            e.created_at,
            e.updated_at,
            endorsements.label("endorsements"),
            mine.label("endorsed_by_me"),
            comments.label("comments"),
            attachments.label("attachments"),
            e.marked_at,
            e.status,
            e.source_kind,
        )
        .join(community, community.c.id == e.community_id)
        .join(person, person.c.id == e.author_id)
        .outerjoin(cop_session, cop_session.c.id == e.session_id)
    )
    visible = policy.library_readable_by(conn, who)
    if own_drafts:
        drafts = policy.library_drafts_of(who)
        visible = drafts if visible is None else or_(visible, drafts)
    return (query if visible is None else query.where(visible)), endorsements


def _with_tags(conn: Connection, rows: Sequence[AnyRow]) -> list[Entry]:
    ids = [r.id for r in rows]
    tags: dict[str, list[tuple[str, bool]]] = {}
    if ids:
        for entry_id, tag, topic in conn.execute(
            select(library_tag.c.entry_id, library_tag.c.tag, library_tag.c.topic)
            .where(library_tag.c.entry_id.in_(ids))
            .order_by(library_tag.c.topic.desc(), library_tag.c.tag)
        ):
            tags.setdefault(entry_id, []).append((tag, bool(topic)))
    return [
        Entry(
            id=r.id,
            community_id=r.community_id,
            community_name=r.community_name,
            author_id=r.author_id,
            author_name=r.author_name,
            kind=r.kind,
            title=r.title,
            body=r.body,
            url=r.url,
            tags=tuple(tags.get(r.id, ())),
            session_id=r.session_id,
            session_topic=r.session_topic,
            revision=r.revision,
            created_at=r.created_at,
            updated_at=r.updated_at,
            endorsements=int(r.endorsements),
            endorsed_by_me=bool(r.endorsed_by_me),
            comments=int(r.comments),
            attachments=int(r.attachments),
            marked=r.marked_at is not None,
            status=r.status,
            source_kind=r.source_kind,
        )
        for r in rows
    ]


def get(store: Store, who: Person, entry_id: str) -> Entry:
    """One entry as it reads now (policy "library.read": its community's members; a draft, its
    author)."""
    policy.require(store, who, "library.read", entry_id)
    with store.read() as conn:
        query, _ = _entries_query(conn, who, own_drafts=True)
        rows = conn.execute(query.where(library_entry.c.id == entry_id)).all()
        if not rows:
            raise RecordNotFound("library entry", entry_id)
        return _with_tags(conn, rows)[0]


ENTRY_ACTIONS = (
    "library.revise",
    "library.endorse",
    "library.comment",
    "library.mark",
    "library.publish",
)


def allowed_actions(store: Store, who: Person, entry_id: str) -> frozenset[str]:
    """Which of revise, endorse, comment, mark and publish `who` may do to the entry (the app
    offers only those; each action asks policy again)."""
    with store.read() as conn:
        return frozenset(r for r in ENTRY_ACTIONS if policy.allowed(conn, who, r, entry_id))


def contributable(store: Store, who: Person, community_ids: Iterable[str]) -> list[str]:
    """Which of these communities `who` may add entries to (policy "library.contribute": its
    members), in the order given: the ones the app's entry form offers."""
    with store.read() as conn:
        return [c for c in community_ids if policy.allowed(conn, who, "library.contribute", c)]


def search_words(query: str) -> list[str]:
    """The words of a search, nothing else: whatever syntax was typed is never an error."""
    return _WORD.findall(query or "")[:MAX_SEARCH_WORDS]


def browse(
    store: Store,
    who: Person,
    *,
    community_id: str | None = None,
    tag: str | None = None,
    query: str = "",
    sort: str = "newest",
    marked_only: bool = False,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> Page:
    """The entries `who` may read (policy "library.read"), in one community or all of
    theirs: with a tag, matching every word of `query`, only the marked ones; newest first or
    most endorsed first; one page of `limit`."""
    if sort not in SORTS:
        raise InvalidInput("sort", "Sort by newest or most endorsed.")
    if community_id is not None:
        policy.require(store, who, "community.view", community_id)
    e = library_entry.c
    with store.read() as conn:
        base, endorsements = _entries_query(conn, who)
        where: list[ColumnElement[bool] | TextClause] = []
        if community_id is not None:
            where.append(e.community_id == community_id)
        if tag:
            where.append(exists().where(library_tag.c.entry_id == e.id, library_tag.c.tag == tag))
        words = search_words(query)
        if words:
            where.append(library_text_match(conn, words))
        if marked_only:
            where.append(e.marked_at.is_not(None))
        matching = (base.where(and_(*where)) if where else base).with_only_columns(e.id)
        total = conn.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
        order = (
            (endorsements.desc(), e.created_at.desc(), e.id)
            if sort == "endorsed"
            else (e.created_at.desc(), e.id)
        )
        # The page's ids first, then only their rows with text and counts: sorting every match
        # with its body and counts took 0.3 s at 20,000 entries (benchmarks/bench_library.py).
        page = (
            matching.order_by(*order)
            .limit(max(1, min(int(limit), 100)))
            .offset(max(0, offset))
            .subquery("page")
        )
        rows = conn.execute(base.join(page, page.c.id == e.id).order_by(*order)).all()
        return Page(_with_tags(conn, rows), int(total))


def tags_in_use(
    store: Store, who: Person, community_id: str | None = None
) -> list[tuple[str, bool, int]]:
    """(tag, is a topic, how many entries) over the entries `who` may read, most used first."""
    if community_id is not None:
        policy.require(store, who, "community.view", community_id)
    e = library_entry.c
    with store.read() as conn:
        readable = select(e.id)
        visible = policy.library_readable_by(conn, who)
        if visible is not None:
            readable = readable.where(visible)
        if community_id is not None:
            readable = readable.where(e.community_id == community_id)
        # the readable entries' ids first: joined tag by tag, SQLite read an entry's whole row
        # for each of its tags (0.35 s at 20,000 entries; benchmarks/bench_library.py)
        rows = conn.execute(
            select(library_tag.c.tag, library_tag.c.topic, func.count())
            .where(library_tag.c.entry_id.in_(readable))
            .group_by(library_tag.c.tag, library_tag.c.topic)
        ).all()
    return sorted(((t, bool(k), int(n)) for t, k, n in rows), key=lambda r: (-r[2], r[0]))


def same_title(
    store: Store, who: Person, community_id: str, title: str, excluding: str | None = None
) -> int:
    """How many other published entries of the community have this title (any case): allowed,
    and flagged so that the author can make theirs easier to tell apart. Drafts are never
    counted: another person's draft is not there for anyone else."""
    policy.require(store, who, "community.view", community_id)
    wanted = " ".join((title or "").split())
    with store.read() as conn:
        # lower() folds ASCII letters only (SQLite): Python's casefold() decides below
        rows = conn.execute(
            select(library_entry.c.id, library_entry.c.title).where(
                library_entry.c.community_id == community_id,
                library_entry.c.status == PUBLISHED,
                func.lower(library_entry.c.title) == func.lower(wanted),
            )
        ).all()
    return sum(1 for i, t in rows if i != excluding and t.casefold() == wanted.casefold())


def history(store: Store, who: Person, entry_id: str) -> list[Revision]:
    """Every version of the entry, newest first (policy "library.read")."""
    policy.require(store, who, "library.read", entry_id)
    r = library_revision.c
    with store.read() as conn:
        rows = conn.execute(
            select(r.revision, r.kind, r.title, r.body, r.url, r.tag_text, r.created_at)
            .where(r.entry_id == entry_id)
            .order_by(r.revision.desc())
        ).all()
    return [Revision(*row) for row in rows]


# -- endorsing, commenting, marking ---------------------------------------------------------
def endorse(store: Store, who: Person, entry_id: str) -> None:
    """ "This helped my practice": once per person (policy "library.endorse")."""
    policy.require(store, who, "library.endorse", entry_id)
    with store.write() as conn:
        add_once(
            store,
            conn,
            library_endorsement,
            {"entry_id": entry_id, "person_id": who.id},
            {"created_at": utc_now()},
            actor_id=who.id,
            action="library_endorsed",
            target_kind="library_entry",
            target_id=entry_id,
        )


def take_back_endorsement(store: Store, who: Person, entry_id: str) -> None:
    """Take back one's own endorsement (only `who`'s own row is touched)."""
    with store.write() as conn:
        gone = conn.execute(
            delete(library_endorsement).where(
                library_endorsement.c.entry_id == entry_id,
                library_endorsement.c.person_id == who.id,
            )
        ).rowcount
        if gone:
            store.audit(
                conn,
                actor_id=who.id,
                action="library_endorsement_taken_back",
                target_kind="library_entry",
                target_id=entry_id,
            )


def add_comment(
    store: Store, who: Person, comment_id: str, entry_id: str, body: str, confirmed: bool = False
) -> Comment:
    """A comment on an entry (policy "library.comment"), de-identification checked. The app
    makes `comment_id` with the form, so a retried save adds it once."""
    _check_id(comment_id)
    policy.require(store, who, "library.comment", entry_id)
    body = check_answer(body or "", "Comment", MAX_COMMENT)
    if not body.strip():
        raise InvalidInput("comment", "Write the comment first.")
    confirmed_findings = _findings({"Comment": body}, confirmed)
    with store.write() as conn:
        found = add_once(
            store,
            conn,
            library_comment,
            {"id": comment_id},
            {
                "entry_id": entry_id,
                "author_id": who.id,
                "body": body,
                "confirmed_findings": confirmed_findings,
                "created_at": utc_now(),
            },
            actor_id=who.id,
            action="library_comment_added",
            target_kind="library_entry",
            target_id=entry_id,
        )
        if found is not None and found.author_id != who.id:
            raise RecordNotFound("comment", comment_id)
    return next(c for c in comments(store, who, entry_id) if c.id == comment_id)


def comments(store: Store, who: Person, entry_id: str) -> list[Comment]:
    """The entry's comments, first first (policy "library.read")."""
    policy.require(store, who, "library.read", entry_id)
    c = library_comment.c
    with store.read() as conn:
        rows = conn.execute(
            select(c.id, c.author_id, person.c.display_name, c.body, c.created_at)
            .join(person, person.c.id == c.author_id)
            .where(c.entry_id == entry_id)
            .order_by(c.created_at, c.id)
        ).all()
    return [Comment(*r) for r in rows]


def mark(store: Store, who: Person, entry_id: str, marked: bool = True) -> None:
    """Mark (or unmark) the entry as the community's endorsed practice (policy
    "library.mark": its facilitators and coordinators)."""
    policy.require(store, who, "library.mark", entry_id)
    with store.write() as conn:
        values = {"marked_at": utc_now(), "marked_by": who.id} if marked else {
            "marked_at": None, "marked_by": None}  # fmt: skip
        conn.execute(update(library_entry).where(library_entry.c.id == entry_id).values(**values))
        store.audit(
            conn,
            actor_id=who.id,
            action="library_entry_marked" if marked else "library_entry_unmarked",
            target_kind="library_entry",
            target_id=entry_id,
        )


# -- attachments ----------------------------------------------------------------------------------
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024
MAX_ATTACHMENTS = 5
# what a file's first bytes must be for its extension: the name alone is never trusted
ATTACHMENT_TYPES = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
}


def check_attachment(file_name: str, data: bytes) -> tuple[str, str]:
    """(the file name to keep, its media type), or InvalidInput saying what is wrong."""
    name = " ".join(check_answer(file_name or "", "File name", 400).split())
    name = name.replace("/", "_").replace("\\", "_")[-200:]
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    if suffix not in ATTACHMENT_TYPES:
        raise InvalidInput(
            "attachment",
            f"“{name or 'The file'}” is not a kind of file the library keeps: attach a PDF, "
            "a Word document (.docx) or a PNG or JPEG image.",
        )
    if not data:
        raise InvalidInput("attachment", f"“{name}” is empty.")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            "attachment",
            f"“{name}” is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_ATTACHMENT_BYTES // 1024 // 1024} MB. Make it smaller, or share a link.",
        )
    media_type, magic = ATTACHMENT_TYPES[suffix]
    if not data.startswith(magic) or (suffix == ".docx" and b"word/" not in data[:65536]):
        raise InvalidInput(
            "attachment",
            f"“{name}” does not hold what its name says ({suffix[1:].upper()}); it was not "
            "attached.",
        )
    return name, media_type


def attach(
    store: Store, who: Person, attachment_id: str, entry_id: str, file_name: str, data: bytes
) -> Attachment:
    """Attach a small file to one's own entry (policy "library.revise"), kept in the store."""
    _check_id(attachment_id)
    policy.require(store, who, "library.revise", entry_id)
    name, media_type = check_attachment(file_name, data)
    a = library_attachment.c
    with store.write() as conn:
        if conn.execute(select(a.id).where(a.id == attachment_id)).first() is None:
            held = conn.execute(select(func.count()).where(a.entry_id == entry_id)).scalar_one()
            if held >= MAX_ATTACHMENTS:
                raise InvalidInput(
                    "attachment", f"An entry holds at most {MAX_ATTACHMENTS} attachments."
                )
            conn.execute(
                insert(library_attachment).values(
                    id=attachment_id,
                    entry_id=entry_id,
                    file_name=name,
                    media_type=media_type,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    data=data,
                    created_at=utc_now(),
                )
            )
            store.audit(
                conn,
                actor_id=who.id,
                action="library_attachment_added",
                target_kind="library_entry",
                target_id=entry_id,
            )
    return next(x for x in attachments(store, who, entry_id) if x.id == attachment_id)


def attachments(store: Store, who: Person, entry_id: str) -> list[Attachment]:
    """The entry's attachments (policy "library.read"), without their bytes."""
    policy.require(store, who, "library.read", entry_id)
    a = library_attachment.c
    with store.read() as conn:
        rows = conn.execute(
            select(a.id, a.entry_id, a.file_name, a.media_type, a.size, a.created_at)
            .where(a.entry_id == entry_id)
            .order_by(a.created_at, a.id)
        ).all()
    return [Attachment(*r) for r in rows]


def attachment_bytes(store: Store, who: Person, attachment_id: str) -> tuple[Attachment, bytes]:
    """One attachment with its bytes, for whoever may read its entry."""
    a = library_attachment.c
    with store.read() as conn:
        entry_id = conn.execute(select(a.entry_id).where(a.id == attachment_id)).scalar()
    if entry_id is None:
        raise RecordNotFound("attachment", attachment_id)
    policy.require(store, who, "library.read", entry_id)
    with store.read() as conn:
        row = conn.execute(
            select(a.id, a.entry_id, a.file_name, a.media_type, a.size, a.created_at, a.data).where(
                a.id == attachment_id
            )
        ).first()
    if row is None:
        raise RecordNotFound("attachment", attachment_id)
    return Attachment(*row[:6]), bytes(row.data)


def remove_attachment(store: Store, who: Person, attachment_id: str) -> None:
    """The author removes an attachment of their entry (policy "library.revise")."""
    a = library_attachment.c
    with store.read() as conn:
        entry_id = conn.execute(select(a.entry_id).where(a.id == attachment_id)).scalar()
    if entry_id is None:
        return
    policy.require(store, who, "library.revise", entry_id)
    with store.write() as conn:
        conn.execute(delete(library_attachment).where(a.id == attachment_id))
        store.audit(
            conn,
            actor_id=who.id,
            action="library_attachment_removed",
            target_kind="library_entry",
            target_id=entry_id,
        )


# -- drafts from a session: its practice insights and shared resources ----------------------------
DRAFT_TITLE_CHARS = 80
NOTE_DRAFT_KIND = "approach"  # the group's agreed learning: an approach others can take
_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class DraftSource:
    """What a session gave that may become a library draft: one practice-insight note, or one
    shared resource (an anonymous check-out answer). Never the case summary, never the notes
    of a phase that is not an insight phase."""

    kind: str  # "note" or "resource"
    # the note's id; for a resource, a digest of its text (anonymous answers keep no stable id)
    key: str
    session_id: str
    discussion_id: str | None
    where: str  # where it was written, in words: "Consultancy protocol · Reflection"
    text: str
    title: str  # the draft's title, from its first words
    draft_id: str | None = None  # the entry `who` already made from it, if any
    draft_status: str | None = None


@dataclass(frozen=True)
class SessionSources:
    """What a closed session offers as library drafts: its insight notes, its shared
    resources, and how many resources were held back and why."""

    insights: list[DraftSource]
    resources: list[DraftSource]
    resources_held_back: int  # resources not offered: a likely identifier in them
    resources_too_few: bool  # fewer than the minimum group sent them: none offered


def may_draft_from_session(store: Store, who: Person, session_id: str) -> bool:
    """Whether to offer `who` the session's drafts (asks policy without auditing a refusal:
    each draft asks again)."""
    with store.read() as conn:
        return policy.allowed(conn, who, "library.draft_from_session", session_id)


def may_draft_from_discussion(store: Store, who: Person, discussion_id: str) -> bool:
    """Whether to offer `who` a discussion's insight drafts (as may_draft_from_session)."""
    with store.read() as conn:
        return policy.allowed(conn, who, "library.draft_from_discussion", discussion_id)


def draft_title(text_: str) -> str:
    """A draft's title: the first line of its text, cut at a word under DRAFT_TITLE_CHARS."""
    first = next((line for line in text_.splitlines() if line.strip()), "")
    title = " ".join(first.split())
    if len(title) <= DRAFT_TITLE_CHARS:
        return title
    cut = title[: DRAFT_TITLE_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,;:.-") + "…"


def _resource_key(text_: str) -> str:
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()[:32]


def _session_row(conn: Connection, session_id: str) -> Row[Any, Any]:
    row = conn.execute(
        select(cop_session.c.community_id, cop_session.c.status).where(
            cop_session.c.id == session_id
        )
    ).first()
    if row is None:
        raise RecordNotFound("session", session_id)
    return row


def _after_session(session_status: str, discussion_status: str | None = None) -> None:
    """Drafts are made from what a session settled: once it is closed (for a discussion's
    notes: or once that discussion is closed)."""
    if session_status != "closed" and discussion_status != "closed":
        raise InvalidInput(
            "session",
            "Library drafts are made after the session: close the session (or the case "
            "discussion) first, then make them.",
        )


def _insight_phase(
    protocols: Catalogue[Protocol], protocol_id: str, phase_id: str
) -> tuple[Protocol, Phase] | None:
    """(protocol, phase) when the phase is an insight phase of the protocol, else None."""
    protocol: Protocol | None = protocols.get(protocol_id)
    if protocol is None:
        return None
    phase = next((p for p in protocol.phases if p.id == phase_id), None)
    return (protocol, phase) if phase is not None and phase.insight else None


def _notes_query() -> AnySelect:
    n, d = discussion_note.c, discussion.c
    return (
        select(
            n.id,
            n.discussion_id,
            n.phase_id,
            n.column_id,
            n.text,
            d.protocol_id,
            d.session_id,
            d.status.label("discussion_status"),
        )
        .join(discussion, d.id == n.discussion_id)
        .order_by(d.created_at, n.created_at, n.id)
    )


def _note_sources(
    conn: Connection, who: Person, rows: Sequence[AnyRow], protocols: Catalogue[Protocol]
) -> list[DraftSource]:
    made = {
        r.source_note_id: (r.id, r.status)
        for r in conn.execute(
            select(library_entry.c.id, library_entry.c.status, library_entry.c.source_note_id)
            .where(library_entry.c.author_id == who.id)
            .where(library_entry.c.source_note_id.in_([r.id for r in rows]))
        )
    }
    out = []
    for r in rows:
        found = _insight_phase(protocols, r.protocol_id, r.phase_id)
        words = r.text.strip()
        if found is None or not words:
            continue
        protocol, phase = found
        column = next((c.label for c in phase.columns if c.id == r.column_id), "")
        where = " · ".join(x for x in (protocol.name, phase.label, column) if x)
        draft_id, status = made.get(r.id, (None, None))
        out.append(
            DraftSource(
                "note",
                r.id,
                r.session_id,
                r.discussion_id,
                where,
                words,
                draft_title(words),
                draft_id,
                status,
            )  # fmt: skip
        )
    return out


def _resource_items(item_sets: Iterable[ItemSet]) -> list[tuple[str, str]]:
    """(item set, item) of the shared-resource items: what the session report lists."""
    return [
        (s.id, i.id) for s in item_sets for i in s.items if i.kind == "text" and i.report == "list"
    ]


def _resource_texts(
    conn: Connection, session_id: str, item_sets: Iterable[ItemSet], min_group: int
) -> tuple[list[str], int, bool]:
    """(the resources to offer, how many were held back, whether too few sent them): as the
    session report shows them, distinct, only when at least the minimum group sent the item's
    set, and never one with a likely identifier in it."""
    items = _resource_items(item_sets)
    if not items:
        return [], 0, False
    r = session_response.c
    answers = conn.execute(
        select(r.value_text).where(
            r.session_id == session_id,
            r.person_id.is_(None),
            tuple_(r.item_set, r.item_id).in_(items),
        )
    ).scalars()
    texts = sorted({t.strip() for t in answers if t and t.strip()}, key=str.casefold)
    if not texts:
        return [], 0, False
    sets = sorted({set_id for set_id, _ in items})
    senders = conn.execute(
        select(func.count()).where(
            session_answered.c.session_id == session_id, session_answered.c.item_set.in_(sets)
        )
    ).scalar_one()
    if not policy.large_enough(int(senders), min_group):
        return [], 0, True
    from cop_widgets.deidentify import find_identifiers  # (see _findings)

    kept = [t for t in texts if not find_identifiers(t)]
    return kept, len(texts) - len(kept), False


def _resource_drafts(conn: Connection, who: Person, session_id: str) -> dict[str, tuple[str, str]]:
    """{resource key: (entry id, status)} of the resource drafts `who` made from the session,
    keyed by their first version's text (the resource as it was sent)."""
    e, v = library_entry.c, library_revision.c
    rows = conn.execute(
        select(e.id, e.status, v.body)
        .join(library_revision, and_(v.entry_id == e.id, v.revision == 1))
        .where(e.author_id == who.id, e.session_id == session_id, e.source_kind == "resource")
    ).all()
    return {_resource_key(body): (entry_id, status) for entry_id, status, body in rows}


def session_sources(
    store: Store,
    who: Person,
    session_id: str,
    protocols: Catalogue[Protocol],
    item_sets: Iterable[ItemSet],
    min_group: int,
) -> SessionSources:
    """After a session, what its facilitator or note-taker may turn into library drafts
    (policy "library.draft_from_session"): the practice-insight notes of the discussions held
    in it, and the shared resources the session report lists."""
    policy.require(store, who, "library.draft_from_session", session_id)
    with store.read() as conn:
        held = _session_row(conn, session_id)
        _after_session(held.status)
        notes = conn.execute(_notes_query().where(discussion.c.session_id == session_id)).all()
        insights = _note_sources(conn, who, notes, protocols)
        texts, held_back, too_few = _resource_texts(conn, session_id, item_sets, min_group)
        made = _resource_drafts(conn, who, session_id)
    resources = []
    for t in texts:
        draft_id, status = made.get(_resource_key(t), (None, None))
        resources.append(
            DraftSource(
                "resource",
                _resource_key(t),
                session_id,
                None,
                "Shared at check-out",
                t,
                draft_title(t),
                draft_id,
                status,
            )  # fmt: skip
        )
    return SessionSources(insights, resources, held_back, too_few)


def discussion_sources(
    store: Store, who: Person, discussion_id: str, protocols: Catalogue[Protocol]
) -> list[DraftSource]:
    """After a discussion held in a session, its practice-insight notes that its facilitator or
    note-taker may turn into library drafts (policy "library.draft_from_discussion")."""
    policy.require(store, who, "library.draft_from_discussion", discussion_id)
    with store.read() as conn:
        row = conn.execute(
            select(discussion.c.session_id, discussion.c.status).where(
                discussion.c.id == discussion_id
            )
        ).one()
        _after_session(_session_row(conn, row.session_id).status, row.status)
        notes = conn.execute(_notes_query().where(discussion.c.id == discussion_id)).all()
        return _note_sources(conn, who, notes, protocols)


def draft_from_note(
    store: Store,
    who: Person,
    note_id: str,
    protocols: Catalogue[Protocol],
    *,
    confirmed: bool = False,
) -> Entry:
    """A draft library entry from a practice-insight note, for `who` to edit and publish
    (policy "library.draft_from_discussion"). Refused for a note of any other phase. Asked
    again for the same note, it returns the entry `who` made from it (a retried click)."""
    with store.read() as conn:
        row = conn.execute(_notes_query().where(discussion_note.c.id == note_id)).first()
    if row is None:
        raise RecordNotFound("note", note_id)
    policy.require(store, who, "library.draft_from_discussion", row.discussion_id)
    if _insight_phase(protocols, row.protocol_id, row.phase_id) is None:
        raise InvalidInput(
            "note",
            "Only the notes of a protocol's insight phase (the group's agreed learning) become "
            "library drafts: never the case summary or the notes of another phase.",
        )
    words = row.text.strip()
    if not words:
        raise InvalidInput("note", "That note is empty: there is nothing to make a draft from.")
    return _make_draft(
        store, who, row.session_id, NOTE_DRAFT_KIND, draft_title(words), words, "",
        source=("note", row.discussion_id, note_id),
        discussion_status=row.discussion_status, confirmed=confirmed,
    )  # fmt: skip


def draft_from_resource(
    store: Store,
    who: Person,
    session_id: str,
    resource_key: str,
    item_sets: Iterable[ItemSet],
    min_group: int,
    *,
    confirmed: bool = False,
) -> Entry:
    """A draft library entry from a resource shared at the session's check-out (policy
    "library.draft_from_session"): a link entry when it holds a web address, else a tool.
    Asked again for the same resource, it returns the entry `who` made from it."""
    policy.require(store, who, "library.draft_from_session", session_id)
    with store.read() as conn:
        _after_session(_session_row(conn, session_id).status)
        texts, _, too_few = _resource_texts(conn, session_id, item_sets, min_group)
    if too_few:
        raise InvalidInput(
            "resource",
            f"Fewer than {min_group} people sent the check-out: its resources stay in the room.",
        )
    words = next((t for t in texts if _resource_key(t) == resource_key), None)
    if words is None:
        raise InvalidInput(
            "resource", "That resource is not among this session's: open the run sheet again."
        )
    url = ""
    for candidate in _LINK.findall(words):
        try:
            url = check_url(candidate.rstrip(".,;:)!?"), "link")
            break
        except InvalidInput:
            continue
    return _make_draft(
        store, who, session_id, "link" if url else "tool", draft_title(words), words, url,
        source=("resource", None, None), confirmed=confirmed,
    )  # fmt: skip


def _insert_entry(
    conn: Connection,
    entry_id: str,
    community_id: str,
    who: Person,
    session_id: str | None,
    kind: str,
    title: str,
    body: str,
    url: str,
    tags: Sequence[tuple[str, bool]],
    topics: TopicList,
    confirmed_findings: int,
    now: str,
    **state: str | None,
) -> None:
    """A new entry and its first version: contributed (published) or drafted from a session
    (`state` holds the status and, for a draft, where it came from)."""
    key = conn.execute(select(func.max(library_entry.c.search_key))).scalar()
    conn.execute(
        insert(library_entry).values(
            id=entry_id,
            community_id=community_id,
            author_id=who.id,
            session_id=session_id,
            kind=kind,
            title=title,
            body=body,
            url=url,
            tag_text=_tag_text(tags, topics),
            revision=1,
            created_at=now,
            updated_at=now,
            search_key=(key or 0) + 1,
            **state,
        )
    )
    _write_version(conn, entry_id, 1, kind, title, body, url, tags, topics,
                   confirmed_findings, now)  # fmt: skip


def _make_draft(
    store: Store,
    who: Person,
    session_id: str,
    kind: str,
    title: str,
    body: str,
    url: str,
    *,
    source: tuple[str, str | None, str | None],  # (kind, discussion id, note id)
    discussion_status: str | None = None,
    confirmed: bool = False,
) -> Entry:
    kind, title, body, url = _fields(kind, title, body, url)
    confirmed_findings = _findings(texts_to_check(title, body, ()), confirmed)
    source_kind, discussion_id, note_id = source
    e = library_entry.c
    with store.write() as conn:
        held = _session_row(conn, session_id)
        _after_session(held.status, discussion_status)
        if note_id is not None:
            made = conn.execute(
                select(e.id).where(e.author_id == who.id, e.source_note_id == note_id)
            ).scalar()
        else:
            made = _resource_drafts(conn, who, session_id).get(_resource_key(body), (None,))[0]
        if made is None:
            made = str(uuid.uuid4())
            now = utc_now()
            _insert_entry(conn, made, held.community_id, who, session_id, kind, title, body, url,
                          (), EMPTY, confirmed_findings, now, status=DRAFT, source_kind=source_kind,
                          source_discussion_id=discussion_id, source_note_id=note_id)  # fmt: skip
            store.audit(
                conn,
                actor_id=who.id,
                action="library_draft_made",
                target_kind="library_entry",
                target_id=made,
            )
    return get(store, who, made)


def my_drafts(store: Store, who: Person) -> list[Entry]:
    """`who`'s own drafts, the latest changed first (nobody else's, whatever they hold)."""
    mine = policy.library_drafts_of(who)
    with store.read() as conn:
        # most people have none: then the drafts' full query is neither run nor compiled and
        # kept in the library page's kernel (0.1 MiB there, measured)
        if conn.execute(select(library_entry.c.id).where(mine).limit(1)).first() is None:
            return []
        query, _ = _entries_query(conn, who, own_drafts=True)
        rows = conn.execute(
            query.where(mine).order_by(library_entry.c.updated_at.desc(), library_entry.c.id)
        ).all()
        return _with_tags(conn, rows)


def publish(store: Store, who: Person, entry_id: str) -> Entry:
    """The author publishes their draft (policy "library.publish"): from now on the members of
    its community read, find, endorse and comment on it, and it counts as added today."""
    policy.require(store, who, "library.publish", entry_id)
    now = utc_now()
    with store.write() as conn:
        done = conn.execute(
            update(library_entry)
            .where(library_entry.c.id == entry_id, library_entry.c.status == DRAFT)
            .values(status=PUBLISHED, created_at=now, updated_at=now)
        ).rowcount
        if not done:
            raise RecordLocked("library entry", entry_id, "it was published already")
        store.audit(
            conn,
            actor_id=who.id,
            action="library_entry_published",
            target_kind="library_entry",
            target_id=entry_id,
        )
    return get(store, who, entry_id)
