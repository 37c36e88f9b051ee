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
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)

from cop_widgets.content.library_topics import EMPTY, TopicList
from cop_widgets.deidentify import find_identifiers
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.settings import MAX_ANSWER_CHARS
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import (
    LIBRARY_KINDS,
    community,
    cop_session,
    library_attachment,
    library_comment,
    library_endorsement,
    library_entry,
    library_revision,
    library_tag,
    person,
)
from cop_widgets.text import check_answer

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
MAX_SEARCH_WORDS = 20
# a search is words only: quotes, *, NEAR, brackets and operators are never passed on
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Entry:
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


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    total: int  # how many match, over all pages


@dataclass(frozen=True)
class Revision:
    revision: int
    kind: str
    title: str
    body: str
    url: str
    tags: str  # the tags as words, one per line
    created_at: str


@dataclass(frozen=True)
class Comment:
    id: str
    author_id: str
    author_name: str
    body: str
    created_at: str


@dataclass(frozen=True)
class Attachment:
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
            key = conn.execute(select(func.max(library_entry.c.search_key))).scalar()
            conn.execute(
                insert(library_entry).values(
                    id=entry_id,
                    community_id=community_id,
                    author_id=who.id,
                    session_id=session_id or None,
                    kind=kind,
                    title=title,
                    body=body,
                    url=url,
                    tag_text=_tag_text(tags, topics),
                    revision=1,
                    created_at=now,
                    updated_at=now,
                    search_key=(key or 0) + 1,
                )
            )
            _write_version(conn, entry_id, 1, kind, title, body, url, tags, topics,
                           confirmed_findings, now)  # fmt: skip
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


def delete_entries(conn: Connection, which) -> int:
    """Inside a caller's write transaction: delete the entries `which` selects, children first
    (the triggers take them out of the search index). Returns how many entries went."""
    ids = select(library_entry.c.id).where(which).scalar_subquery()
    for child in (library_attachment, library_comment, library_endorsement, library_tag,
                  library_revision):  # fmt: skip
        conn.execute(delete(child).where(child.c.entry_id.in_(ids)))
    return conn.execute(delete(library_entry).where(which)).rowcount


def purge_search_index(conn: Connection) -> None:
    """SQLite: rebuild the full-text index from the entries left, so that no word of a deleted
    entry stays in its older index pages (FTS5 keeps deleted words until segments merge).
    With secure_delete on, the freed pages are zeroed (and a VACUUM gives them back)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO library_search (library_search) VALUES ('rebuild')")


# -- reading --------------------------------------------------------------------------------------
def _entries_query(conn: Connection, who: Person):
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
        )
        .join(community, community.c.id == e.community_id)
        .join(person, person.c.id == e.author_id)
        .outerjoin(cop_session, cop_session.c.id == e.session_id)
    )
    visible = policy.library_readable_by(conn, who)
    return (query if visible is None else query.where(visible)), endorsements


def _with_tags(conn: Connection, rows) -> list[Entry]:
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
        )
        for r in rows
    ]


def get(store: Store, who: Person, entry_id: str) -> Entry:
    """One entry as it reads now (policy "library.read": its community's members)."""
    policy.require(store, who, "library.read", entry_id)
    with store.read() as conn:
        query, _ = _entries_query(conn, who)
        rows = conn.execute(query.where(library_entry.c.id == entry_id)).all()
        if not rows:
            raise RecordNotFound("library entry", entry_id)
        return _with_tags(conn, rows)[0]


ENTRY_ACTIONS = ("library.revise", "library.endorse", "library.comment", "library.mark")


def allowed_actions(store: Store, who: Person, entry_id: str) -> frozenset[str]:
    """Which of revise, endorse, comment and mark `who` may do to the entry (the app offers
    only those; each action asks policy again)."""
    with store.read() as conn:
        return frozenset(r for r in ENTRY_ACTIONS if policy.allowed(conn, who, r, entry_id))


def search_words(query: str) -> list[str]:
    """The words of a search, nothing else: whatever syntax was typed is never an error."""
    return _WORD.findall(query or "")[:MAX_SEARCH_WORDS]


def _matching(conn: Connection, words: list[str]):
    """SQL: the entries whose title, body or tags hold every word (stemmed)."""
    if conn.dialect.name == "postgresql":
        return text(
            "to_tsvector('english', library_entry.title || ' ' || library_entry.body || ' ' "
            "|| library_entry.tag_text) @@ plainto_tsquery('english', :words)"
        ).bindparams(words=" ".join(words))
    phrase = " ".join(f'"{w}"' for w in words)  # each word a quoted string: no operators
    return text(
        "library_entry.search_key IN "
        "(SELECT rowid FROM library_search WHERE library_search MATCH :phrase)"
    ).bindparams(phrase=phrase)


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
        where = []
        if community_id is not None:
            where.append(e.community_id == community_id)
        if tag:
            where.append(exists().where(library_tag.c.entry_id == e.id, library_tag.c.tag == tag))
        words = search_words(query)
        if words:
            where.append(_matching(conn, words))
        if marked_only:
            where.append(e.marked_at.is_not(None))
        query_ = base.where(and_(*where)) if where else base
        total = conn.execute(
            select(func.count()).select_from(query_.with_only_columns(e.id).subquery())
        ).scalar_one()
        order = (
            (endorsements.desc(), e.created_at.desc(), e.id)
            if sort == "endorsed"
            else (e.created_at.desc(), e.id)
        )
        rows = conn.execute(
            query_.order_by(*order).limit(max(1, min(int(limit), 100))).offset(max(0, offset))
        ).all()
        return Page(_with_tags(conn, rows), int(total))


def tags_in_use(
    store: Store, who: Person, community_id: str | None = None
) -> list[tuple[str, bool, int]]:
    """(tag, is a topic, how many entries) over the entries `who` may read, most used first."""
    if community_id is not None:
        policy.require(store, who, "community.view", community_id)
    e = library_entry.c
    with store.read() as conn:
        query = (
            select(library_tag.c.tag, library_tag.c.topic, func.count())
            .join(library_entry, e.id == library_tag.c.entry_id)
            .group_by(library_tag.c.tag, library_tag.c.topic)
        )
        visible = policy.library_readable_by(conn, who)
        if visible is not None:
            query = query.where(visible)
        if community_id is not None:
            query = query.where(e.community_id == community_id)
        rows = conn.execute(query).all()
    return sorted(((t, bool(k), int(n)) for t, k, n in rows), key=lambda r: (-r[2], r[0]))


def same_title(
    store: Store, who: Person, community_id: str, title: str, excluding: str | None = None
) -> int:
    """How many other entries of the community have this title (any case): allowed, and
    flagged so that the author can make theirs easier to tell apart."""
    policy.require(store, who, "community.view", community_id)
    wanted = " ".join((title or "").split())
    with store.read() as conn:
        # lower() folds ASCII letters only (SQLite): Python's casefold() decides below
        rows = conn.execute(
            select(library_entry.c.id, library_entry.c.title).where(
                library_entry.c.community_id == community_id,
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
        key = and_(
            library_endorsement.c.entry_id == entry_id,
            library_endorsement.c.person_id == who.id,
        )
        if conn.execute(select(library_endorsement.c.person_id).where(key)).first() is None:
            conn.execute(
                insert(library_endorsement).values(
                    entry_id=entry_id, person_id=who.id, created_at=utc_now()
                )
            )
            store.audit(
                conn,
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
        found = conn.execute(
            select(library_comment.c.author_id).where(library_comment.c.id == comment_id)
        ).first()
        if found is None:
            conn.execute(
                insert(library_comment).values(
                    id=comment_id,
                    entry_id=entry_id,
                    author_id=who.id,
                    body=body,
                    confirmed_findings=confirmed_findings,
                    created_at=utc_now(),
                )
            )
            store.audit(
                conn,
                actor_id=who.id,
                action="library_comment_added",
                target_kind="library_entry",
                target_id=entry_id,
            )
        elif found.author_id != who.id:
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
