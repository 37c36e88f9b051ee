"""What a community's practice handbook holds (reports/notebooks/library_handbook.ipynb): the
published entries of its practice library that every member reads there already, as the library
app shows them (title, kind, author, text, link, tags, the session it came from, how many found
it helped, its version), and the names of their attachments (never their bytes).

- First the entries the community marked as its endorsed practice; then the other entries its
  members endorsed most ("This helped my practice"), at most ``top`` of them, in the library's
  "most endorsed first" order (endorsements, then newest). An entry nobody endorsed is not in
  the second part: the handbook is what the community found useful.
- Never a draft (its author's alone until published): only ``status = published`` is read. An
  entry withdrawn by its author is deleted from the library (services/library.py), so it is in
  no handbook made after.
- Grouped by tag: the library's topics in the topic list's order, then topics no longer in the
  list, then free tags alphabetically. Each entry is printed in full once, under its first tag
  in that order; each of its other tags lists it with a pointer to it (``TagGroup.see_also``),
  so that a long entry is never printed twice. Entries without a tag come last.

The only parameters are the community's id and a whole number (``top``); nothing typed reaches
the report kernel. Who may make it is policy's ("report.library", asked by
services/report_access.py); the command line is the operator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import ScalarSelect, Select, func, select

from cop_widgets.content.library_topics import EMPTY, TOPICS_FILE, TopicList, load_topics
from cop_widgets.errors import DataFileError, InvalidInput, RecordNotFound
from cop_widgets.reports.params import check_id
from cop_widgets.services import policy
from cop_widgets.services.library import KIND_LABELS
from cop_widgets.services.report_access import HANDBOOK_TOP
from cop_widgets.store import Store
from cop_widgets.store.schema import (
    community,
    cop_session,
    library_attachment,
    library_endorsement,
    library_entry,
    library_tag,
    person,
)

DEFAULT_TOP = HANDBOOK_TOP
MAX_TOP = 500
UNTAGGED = "Without a topic or tag"


def check_top(value: object, name: str = "top") -> int:
    """How many of the most-endorsed entries: a whole number from 0 to MAX_TOP."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TOP:
        raise InvalidInput(name, f"{name} must be a whole number from 0 to {MAX_TOP}.")
    return value


@dataclass(frozen=True)
class HandbookEntry:
    """One published entry, as a member reads it in the library."""

    id: str
    kind: str
    title: str
    body: str
    url: str
    author_name: str
    session_topic: str
    revision: int
    created_at: str
    updated_at: str  # when its current version was saved
    endorsements: int
    marked: bool  # the community's endorsed practice
    tags: tuple[tuple[str, bool], ...]  # (tag, is a topic), in the handbook's tag order
    attachments: tuple[str, ...]  # file names, oldest first
    tag_words: tuple[str, ...] = ()  # each tag as shown: a topic's label, "#" and a free tag

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class TagGroup:
    """The entries under one topic or tag."""

    tag: str  # "" for the entries without any
    topic: bool
    label: str  # a topic's label, a free tag as typed (lower case), or UNTAGGED
    entries: tuple[HandbookEntry, ...]  # printed here: this is their first tag
    see_also: tuple[HandbookEntry, ...]  # printed under their first tag, listed here


@dataclass(frozen=True)
class Handbook:
    community: str | None  # None: no community given (the template run bare)
    top: int
    endorsed: tuple[TagGroup, ...]  # the community's endorsed practice
    most_endorsed: tuple[TagGroup, ...]  # the other entries members endorsed most
    marked_count: int
    most_endorsed_count: int
    left_out: int  # endorsed entries beyond the top
    published: int  # published entries in the library in all

    @property
    def empty(self) -> bool:
        return not (self.marked_count or self.most_endorsed_count)


def handbook_topics(store: Store) -> tuple[TopicList, str]:
    """The library's topic list (labels and order) and, when it cannot be read, why (the
    handbook then shows topics by their ids, as the library works with free tags only)."""
    try:
        return load_topics(store.settings.data_dir / TOPICS_FILE), ""
    except DataFileError as exc:
        return EMPTY, f"The topic list could not be read ({exc}); topics are shown by their ids."


def _name(store: Store, community_id: str) -> str:
    with store.read() as conn:
        found: str | None = conn.execute(
            select(community.c.name).where(community.c.id == community_id)
        ).scalar()
    if found is None:
        raise RecordNotFound("community", community_id)
    return found


def _entries_query(community_id: str) -> tuple[Select, ScalarSelect[int]]:
    e = library_entry.c
    endorsements = (
        select(func.count())
        .where(library_endorsement.c.entry_id == e.id)
        .correlate(library_entry)
        .scalar_subquery()
    )
    query = (
        select(
            e.id,
            e.kind,
            e.title,
            e.body,
            e.url,
            person.c.display_name.label("author_name"),
            func.coalesce(cop_session.c.topic, "").label("session_topic"),
            e.revision,
            e.created_at,
            e.updated_at,
            endorsements.label("endorsements"),
            e.marked_at,
        )
        .join(person, person.c.id == e.author_id)
        .outerjoin(cop_session, cop_session.c.id == e.session_id)
        # published only: a draft is its author's alone (policy.library_readable_by)
        .where(e.community_id == community_id, e.status == policy.PUBLISHED)
    )
    return query, endorsements


def handbook(
    store: Store, community_id: object, top: int = DEFAULT_TOP, topics: TopicList = EMPTY
) -> Handbook:
    """The community's handbook: its endorsed practice, then at most `top` of the other
    entries its members endorsed most, each part grouped by tag."""
    top = check_top(top)
    if community_id in ("", None):
        return Handbook(None, top, (), (), 0, 0, 0, 0)
    cid = check_id(community_id, "community_id")
    name = _name(store, cid)
    e = library_entry.c
    query, endorsements = _entries_query(cid)
    most_endorsed_first = (endorsements.desc(), e.created_at.desc(), e.id)
    endorsed_unmarked = e.marked_at.is_(None) & (endorsements > 0)
    with store.read() as conn:
        marked = conn.execute(
            query.where(e.marked_at.is_not(None)).order_by(*most_endorsed_first)
        ).all()
        others = conn.execute(
            query.where(endorsed_unmarked).order_by(*most_endorsed_first).limit(top)
        ).all()
        more = conn.execute(
            select(func.count()).select_from(
                query.where(endorsed_unmarked).with_only_columns(e.id).subquery()
            )
        ).scalar_one()
        published = conn.execute(
            select(func.count()).where(e.community_id == cid, e.status == policy.PUBLISHED)
        ).scalar_one()
        ids = [r.id for r in (*marked, *others)]
        tags: dict[str, list[tuple[str, bool]]] = {}
        files: dict[str, list[str]] = {}
        if ids:
            for entry_id, tag, topic in conn.execute(
                select(library_tag.c.entry_id, library_tag.c.tag, library_tag.c.topic).where(
                    library_tag.c.entry_id.in_(ids)
                )
            ):
                tags.setdefault(entry_id, []).append((tag, bool(topic)))
            a = library_attachment.c
            for entry_id, file_name in conn.execute(  # names only, never the bytes
                select(a.entry_id, a.file_name)
                .where(a.entry_id.in_(ids))
                .order_by(a.created_at, a.id)
            ):
                files.setdefault(entry_id, []).append(file_name)

    def entry(row) -> HandbookEntry:
        return HandbookEntry(
            id=row.id,
            kind=row.kind,
            title=row.title,
            body=row.body,
            url=row.url,
            author_name=row.author_name,
            session_topic=row.session_topic,
            revision=int(row.revision),
            created_at=row.created_at,
            updated_at=row.updated_at,
            endorsements=int(row.endorsements),
            marked=row.marked_at is not None,
            tags=tuple(tags.get(row.id, ())),
            attachments=tuple(files.get(row.id, ())),
        )

    first, second = [entry(r) for r in marked], [entry(r) for r in others]
    return Handbook(
        community=name,
        top=top,
        endorsed=group_by_tag(first, topics),
        most_endorsed=group_by_tag(second, topics),
        marked_count=len(first),
        most_endorsed_count=len(second),
        left_out=max(0, int(more) - len(second)),
        published=int(published),
    )


def tag_key(tag: tuple[str, bool], topics: TopicList) -> tuple[int, int, str]:
    """Where a tag comes in the handbook: the topic list's topics in its order, then topics no
    longer in the list (by label), then free tags alphabetically."""
    name, topic = tag
    listed = {t.id: i for i, t in enumerate(topics.topics)}
    if topic and name in listed:
        return (0, listed[name], "")
    if topic:
        return (1, 0, topics.label(name).casefold())
    return (2, 0, name.casefold())


def group_by_tag(entries: Sequence[HandbookEntry], topics: TopicList) -> tuple[TagGroup, ...]:
    """The entries under each of their tags, in the handbook's tag order (each entry's own tags
    put in that order too): printed under the first, listed under the others. The order of
    `entries` is kept within each group."""
    ordered = []
    for e in entries:
        tags = tuple(sorted(set(e.tags), key=lambda t: tag_key(t, topics)))
        words = tuple(topics.label(t) if topic else f"#{t}" for t, topic in tags)
        ordered.append(replace(e, tags=tags, tag_words=words))
    used = {t for e in ordered for t in e.tags}
    groups = []
    for tag in sorted(used, key=lambda t: tag_key(t, topics)):
        name, topic = tag
        groups.append(
            TagGroup(
                tag=name,
                topic=topic,
                label=topics.label(name) if topic else name,
                entries=tuple(e for e in ordered if e.tags[:1] == (tag,)),
                see_also=tuple(e for e in ordered if tag in e.tags[1:]),
            )
        )
    untagged = tuple(e for e in ordered if not e.tags)
    if untagged:
        groups.append(TagGroup("", False, UNTAGGED, untagged, ()))
    return tuple(groups)
