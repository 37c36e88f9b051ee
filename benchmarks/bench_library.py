"""Benchmark (not a test): the practice library with 20,000 entries and 2,000 attachments.

Issue 15: "With 20,000 entries and 2,000 attachments: search <= 150 ms median (kernel side), the
library's first page <= 1.15x bare Voila time to interactive in the same run."

Fills a scratch store (a real SQLite file in a temporary COP_DATA_DIR; never data/cop.sqlite):
four communities, most entries in the one the reader belongs to (and some in a second of theirs),
with varied titles, bodies and tags, endorsements, comments, revisions, a few drafts and marked
entries, and small PDF and PNG attachments. A few dozen entries go through the services
(contribute, revise, endorse, comment, attach); the rest are written in one transaction through
SQLAlchemy with the rows the services write (the full-text index is kept by the store's own
triggers), and the index is checked against the entries and by search counts before anything
is timed. Then:

- search (kernel side, in this process): services/library.browse as the library app calls it,
  for a member, over 50 searches as people type them (quoted phrases and prefix words too), and
  the first page without a search, newest and most endorsed first; and the library app itself
  built and signed in up to its first page;
- page: time to interactive of workbooks/library.ipynb served by `cop serve`'s command line
  against a bare ipywidgets notebook served the same way in the same run, in headless Chromium,
  everyone signed in beforehand (as bench_pages.py measures it).

    .venv/bin/python benchmarks/bench_library.py [--part all|search|page] [--smoke] [--keep DIR]

--smoke: 200 entries, 20 attachments, one round of searches, 1 page load each. Exit 0 whatever
the figures; non-zero only if something broke (a wrong search count, a server, a page).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_results import write_results
from bench_signin import SignedInPerson, sign_in

from cop_widgets.content.library_topics import TOPICS_FILE, TopicList, load_topics
from cop_widgets.room import load as room_load
from cop_widgets.room.load import (
    OTHERS_CPU_NOISY_PERCENT,
    RoomServer,
    ServerFailed,
    cpu_seconds,
    marked_tti_s,
    missing_kernel_message,
    page_kernel_rss_mib,
    ready_mark_script,
    stats,
    wait_quiet,
)
from cop_widgets.serving import WORKBOOKS_DIR, voila_environment, with_parsed_content
from cop_widgets.settings import Settings, load_settings
from cop_widgets.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests/signin.py
RESULTS_FILE = REPO / "benchmarks" / "results" / "bench_library.json"
SMOKE_RESULTS_FILE = REPO / "benchmarks" / "results" / "smoke" / "bench_library.json"
N_ENTRIES, N_ATTACHMENTS = 20_000, 2_000
SMOKE_ENTRIES, SMOKE_ATTACHMENTS = 200, 20
SEARCH_ROUNDS, SMOKE_SEARCH_ROUNDS = 3, 1  # timed passes over the searches (after one untimed)
LOADS, SMOKE_LOADS = 9, 1  # 9: with 5, one run to the next moved the ratio by 0.1
SEARCH_TARGET_MS = 150
TTI_RATIO_TARGET = 1.10  # issue 16: every participant app within 1.10 of bare Voilà
PAGE_TIMEOUT_S = 90
SEED = 15  # issue 15

# The communities: (name, members, share of the entries). The reader belongs to the first two.
COMMUNITIES = (
    ("Family support practice CoP", 160, 0.70),
    ("Fathers' practice network", 50, 0.12),
    ("Out-of-home care practice group", 40, 0.10),
    ("Rural practice circle", 40, 0.08),
)
READER = "Library Reader 00"  # the member whose searches are timed

# 50 searches as members type them: single words, several words, quoted phrases and prefix
# words (the library searches words only: quotes and * are read as plain words, never as
# operators), common and rare, and two that find nothing.
QUERIES = (
    "fathers",
    '"safety plan"',
    "genogram",
    "reunif*",
    "family violence",
    "kinship carers",
    "interpreter",
    "teenager*",
    "court report",
    '"first visit"',
    "home visit fathers",
    "motivational interviewing",
    "scaling questions",
    "cultural support plan",
    '"signs of safety"',
    "trauma informed",
    "school attendance",
    "grandparents",
    "supervision",
    "group consultation",
    "ecomap",
    "danger statement",
    '"words and pictures"',
    "placement breakdown",
    "refugee families",
    "rural",
    "alcohol drugs",
    "disability",
    "infant* sleep",
    "hospital",
    "warm handover",
    "case closure",
    "life story",
    '"three houses"',
    "siblings contact",
    "young parents",
    "crowded house",
    "phone",
    "network meeting",
    "strengths",
    "solution focused",
    "family group conference",
    "notification",
    "mothers safety",
    "housing",
    "child's voice",
    "Aboriginal",
    "template",
    "reunification court template",
    "xylophone",
)
# Words each in one form only in the generated text, so that a plain count of the word in the
# entries (no stemming needed) is what the full-text search must find.
CHECK_WORDS = ("genogram", "ecomap", "kinship", "kinship genogram")

# -- what the entries say ------------------------------------------------------------------------
APPROACHES = (
    ("Using a genogram", "supervision"),
    ("Safety mapping", "safety_planning"),
    ("Strengths-based questions", "family_support"),
    ("A three houses conversation", "childs_voice"),
    ("Motivational interviewing", "intensive_family_support"),
    ("A family group conference", "oohc_prevention"),
    ("Scaling questions", "safety_planning"),
    ("A words and pictures explanation", "childs_voice"),
    ("Solution focused questions", "family_support"),
    ("Drawing an ecomap", "family_support"),
    ("Signs of safety mapping", "safety_planning"),
    ("Writing a danger statement", "child_protection"),
    ("Safety goals written with the family", "safety_planning"),
    ("Reflective supervision", "supervision"),
    ("Group case consultation", "case_consultation"),
    ("A cultural support plan", "cultural_connection"),
    ("Life story work", "reunification"),
    ("A warm handover", "intensive_family_support"),
    ("A joint home visit", "family_violence"),
    ("A network meeting", "neglect"),
)
GROUPS = (
    ("fathers", "working_with_fathers"),
    ("mothers", "family_support"),
    ("grandparents", "oohc_prevention"),
    ("kinship carers", "oohc_prevention"),
    ("foster carers", "reunification"),
    ("teenagers", "childs_voice"),
    ("young children", "childs_voice"),
    ("infants", "neglect"),
    ("siblings", "reunification"),
    ("Aboriginal families", "cultural_safety"),
    ("refugee families", "cultural_safety"),
    ("families in rural towns", "family_support"),
    ("young parents", "intensive_family_support"),
    ("parents with a disability", "family_support"),
    ("parents using alcohol or drugs", "neglect"),
)
CONTEXTS = (
    "at the first visit",
    "before court",
    "after a notification",
    "during reunification",
    "when family violence is disclosed",
    "in a crowded house",
    "over the phone",
    "with an interpreter",
    "at school",
    "in hospital",
    "after a placement breakdown",
    "when the worker changes",
    "at case closure",
    "in a group session",
)
THINGS = (
    "safety plan",
    "visual timeline",
    "words and pictures story",
    "danger statement",
    "network map",
    "three houses drawing",
    "family agreement",
    "court report outline",
    "school attendance plan",
    "sleep routine chart",
    "contact schedule",
    "housing checklist",
)
FEELINGS = ("worry", "frustration", "hope", "impatience", "relief", "doubt")
ROLES = ("team leader", "caseworker", "family support worker", "cultural consultant", "teacher")
SENTENCES = (
    "We tried {approach} with {group} {context}, and the conversation changed.",
    "The family said the {thing} helped them see what we were worried about.",
    "Next time I would prepare the {thing} with the {role} before we meet.",
    "Supervision helped me notice my own {feeling} when we talked about {topic}.",
    "It works best when the {role} is there from the start and knows the plan.",
    "The hardest part was keeping the child's voice in the room {context}.",
    "We used plain words, no jargon, and checked what each person heard.",
    "A short phone call the day before made the visit calmer.",
    "Our team now starts every case consultation with the family's strengths.",
    "When the plan stalled we went back to the {thing} and asked what had changed.",
    "Grandparents and other relatives often hold the history nobody wrote down.",
    "An interpreter who knows the community made a real difference.",
    "The court report was clearer once we separated worries from facts.",
    "Housing came up again and again: without a safe place little else moved.",
    "Teenagers told us they wanted to be asked, not told.",
    "We agreed safety goals in the family's own words and kept them on the fridge.",
    "Cultural connection was part of the plan from the first week, not an afterthought.",
    "The reunification plan set small steps that everyone could see progress on.",
    "Sleep and feeding routines were where the infant's needs showed first.",
    "Alcohol and drugs were named openly, and the parents set the first goal themselves.",
    "Motivational interviewing slowed me down and the parent did more of the talking.",
    "The network meeting brought in two relatives we had not heard of before.",
    "A warm handover to the new worker kept the trust the family had built.",
    "School attendance improved once the morning routine was part of the plan.",
    "Mothers in the group said they felt judged less when we started with what went well.",
    "Fathers were invited to every meeting, by phone as well as by letter.",
    "Siblings kept contact through a shared weekly call.",
    "Case closure was planned with the family, with a list of who to call next time.",
)
READINGS = (
    "Engaging fathers in child protection practice",
    "Cumulative harm: a conceptual overview",
    "Family group conferencing outcomes",
    "Trauma-informed practice with young children",
    "Kinship care and placement stability",
    "Safety-organised practice in supervision",
)
FREE_TAGS = (
    "home visits",
    "dads",
    "first contact",
    "court",
    "school",
    "housing",
    "interpreters",
    "kinship care",
    "teenagers",
    "infants",
    "templates",
    "group work",
    "rural",
    "phone contact",
    "handover",
    "closure",
    "safety plan",
    "genogram",
)
COMMENTS = (
    "This helped with a family last week, thank you.",
    "We adapted this for our team meeting.",
    "Did you try it over the phone as well?",
    "Useful: I shared it with a new caseworker.",
    "The template saved me an hour.",
    "We found the same thing with kinship carers.",
)
FIRST_NAMES = ("Alex", "Bree", "Chen", "Dana", "Eli", "Farah", "Gus", "Hana", "Ira", "Jo",
               "Kai", "Lena", "Mo", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tui",
               "Uma", "Vic", "Wren", "Xiu", "Yara", "Zed")  # fmt: skip
SURNAMES = ("Abbott", "Bui", "Costa", "Dlamini", "Evans", "Fraser", "Garcia", "Huang", "Ivanov",
            "Jones", "Khan", "Lee", "Morgan", "Nguyen", "Okafor", "Patel", "Quill", "Reid",
            "Singh", "Tran", "Usman", "Vu", "Walker", "Xu", "Young", "Zhou")  # fmt: skip


class BenchError(RuntimeError):
    """Something broke: the run has no valid figures."""


@dataclass
class Filled:
    """What the fill made: the communities (ids, in COMMUNITIES order) and the counts."""

    communities: list[str]
    entries: int = 0
    attachments: int = 0
    attachment_bytes: int = 0
    endorsements: int = 0
    comments: int = 0
    revisions: int = 0
    drafts: int = 0
    through_services: int = 0
    seconds: float = 0.0
    checks: dict = field(default_factory=dict)


class Writer:
    """Realistic, varied entries from a seeded random generator."""

    def __init__(self, rng: random.Random, topics: TopicList):
        self.rng, self.topics = rng, topics

    def sentence(self, group: str, context: str, approach: str) -> str:
        r = self.rng
        return r.choice(SENTENCES).format(
            approach=approach[0].lower() + approach[1:],
            group=group,
            context=context,
            thing=r.choice(THINGS),
            role=r.choice(ROLES),
            feeling=r.choice(FEELINGS),
            topic=r.choice(("safety", "contact", "the court process", "culture", "school")),
        )

    def entry(self) -> dict:
        """kind, title, body, url, topic_ids and free_tags of one entry."""
        r = self.rng
        (approach, topic_a), (group, topic_g) = r.choice(APPROACHES), r.choice(GROUPS)
        context = r.choice(CONTEXTS)
        kind = r.choices(("story", "approach", "tool", "summary", "link"), (35, 25, 20, 10, 10))[0]
        if kind == "tool":
            title = f"Template: {r.choice(THINGS)} for {group}"
        elif kind == "summary":
            title = f"{r.choice(READINGS)}: a summary"
        elif kind == "link":
            title = f"{approach} with {group}: a practice guide"
        elif r.random() < 0.5:
            title = f"{approach} with {group} {context}"
        else:
            title = f"What helped: {approach[0].lower() + approach[1:]} {context}"
        n = max(1, int(r.lognormvariate(1.8, 0.5)))  # ~6 sentences, a few long ones
        body = " ".join(self.sentence(group, context, approach) for _ in range(min(n, 30)))
        if kind == "link" and r.random() < 0.3:
            body = ""
        url = ""
        if kind == "link":
            slug = approach.lower().replace(" ", "-")
            url = f"https://example.org/practice/{slug}-{r.randrange(999)}"
        topic_ids = sorted({topic_a, topic_g} if r.random() < 0.6 else {topic_g})
        free = r.sample(FREE_TAGS, r.choice((0, 1, 1, 2, 3)))
        return dict(kind=kind, title=title, body=body, url=url, topic_ids=topic_ids, free_tags=free)

    def attachment(self, n: int) -> tuple[str, bytes]:
        """A small PDF or PNG of a realistic size (its bytes as incompressible as real ones)."""
        r = self.rng
        if r.random() < 0.6:
            size = int(min(1_900_000, max(8_000, r.lognormvariate(11.7, 0.8))))  # ~120 KB
            head, tail = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n", b"\n%%EOF\n"
            return f"handout-{n}.pdf", head + r.randbytes(size - len(head) - len(tail)) + tail
        size = int(min(1_500_000, max(4_000, r.lognormvariate(11.0, 0.8))))  # ~60 KB
        return f"plan-{n}.png", _png(r.randbytes(size))


def _png(pixels: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 800, 600, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")  # as store.db.utc_now()


# -- filling the store -----------------------------------------------------------------------------
def fill(store: Store, topics: TopicList, n_entries: int, n_attachments: int) -> Filled:
    """People, communities and sessions through the services; the library's entries mostly in
    one transaction (rows as the services write them), a few dozen through the services."""
    from sqlalchemy import func, insert, select

    from cop_widgets.services import library, membership, sessions
    from cop_widgets.services.accounts import add_person
    from cop_widgets.services.identity import find_or_add_person
    from cop_widgets.store.schema import (
        library_attachment,
        library_comment,
        library_endorsement,
        library_entry,
        library_revision,
        library_tag,
    )

    started = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311 - made-up text, repeatable
    writer = Writer(rng, topics)
    names = rng.sample([f"{f} {s}" for f in FIRST_NAMES for s in SURNAMES], 240)
    people = [find_or_add_person(store, name) for name in names]
    reader = add_person(store, READER)
    made, members = [], []
    for n, (name, size, _share) in enumerate(COMMUNITIES):
        coordinator = people[n]
        made.append(sessions.create_community(store, coordinator, name).id)
        membership.set_join_policy(store, coordinator, made[-1], "open", False)
        joined = [coordinator] + rng.sample([p for p in people if p is not coordinator], size - 1)
        for p in joined[1:]:
            membership.join(store, p, made[-1])
        sessions.add_member(store, coordinator, made[-1], joined[1].id, "facilitator")
        members.append(joined)
    for n in (0, 1):  # the reader writes and endorses a little too
        membership.join(store, reader, made[n])
        members[n].append(reader)
    shares = [share for _, _, share in COMMUNITIES]
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    held = [
        sessions.plan_session(
            store, members[n][0], made[n], start + timedelta(days=30 * k + n), f"Session {k + 1}"
        ).id
        for n in range(len(made))
        for k in range(3)
    ]
    filled = Filled(made)
    by_services = max(10, n_entries // 500)
    n_bulk = n_entries - by_services
    entries, revisions, tags, endorsements, comments, published = [], [], [], [], [], []
    for key in range(1, n_bulk + 1):  # search_key: as _insert_entry numbers them, from 1
        c = rng.choices(range(len(made)), shares)[0]
        author = rng.choice(members[c])
        fields = writer.entry()
        pairs = library.tags_from(fields["topic_ids"], fields["free_tags"], topics)
        tag_text = library._tag_text(pairs, topics)  # the service's own tag words
        created = start + timedelta(seconds=(3 * 365 * 86400) * key / (n_bulk + 1))
        versions = rng.choices((1, 2, 3), (88, 9, 3))[0]
        draft = rng.random() < 0.01
        sid = rng.choice(held[3 * c : 3 * c + 3]) if draft or rng.random() < 0.05 else None
        entry_id = str(uuid.uuid4())
        sentences = fields["body"].split(". ")
        updated = created
        for v in range(1, versions + 1):  # earlier versions: shorter text
            updated = created + timedelta(days=7 * (v - 1), minutes=rng.randrange(600))
            kept = sentences[: max(1, len(sentences) - (versions - v))]
            revisions.append(
                dict(
                    entry_id=entry_id,
                    revision=v,
                    kind=fields["kind"],
                    title=fields["title"],
                    body=fields["body"] if v == versions else ". ".join(kept),
                    url=fields["url"],
                    tag_text=tag_text,
                    confirmed_findings=0,
                    created_at=_stamp(updated),
                )
            )
        marked = not draft and c == 0 and rng.random() < 0.02
        entries.append(
            dict(
                id=entry_id,
                community_id=made[c],
                author_id=author.id,
                session_id=sid,
                kind=fields["kind"],
                title=fields["title"],
                body=fields["body"],
                url=fields["url"],
                tag_text=tag_text,
                revision=versions,
                created_at=_stamp(created),
                updated_at=_stamp(updated),
                marked_at=_stamp(updated + timedelta(days=2)) if marked else None,
                marked_by=members[c][0].id if marked else None,
                search_key=key,
                status="draft" if draft else "published",
                source_kind="resource" if draft else None,
                source_discussion_id=None,
                source_note_id=None,
            )
        )
        tags += [dict(entry_id=entry_id, tag=t, topic=topic) for t, topic in pairs]
        if draft:
            continue
        published.append((entry_id, updated))
        fans = 0 if rng.random() < 0.45 else min(40, int(rng.paretovariate(1.2)))
        others = [p for p in rng.sample(members[c], min(len(members[c]), fans + 1)) if p != author]
        endorsements += [
            dict(entry_id=entry_id, person_id=p.id, created_at=_stamp(updated + timedelta(hours=h)))
            for h, p in enumerate(others[:fans], start=1)
        ]
        if rng.random() < 0.15:
            for k in range(rng.randint(1, 4)):
                comments.append(
                    dict(
                        id=str(uuid.uuid4()),
                        entry_id=entry_id,
                        author_id=rng.choice(members[c]).id,
                        body=rng.choice(COMMENTS),
                        confirmed_findings=0,
                        created_at=_stamp(updated + timedelta(days=k + 1)),
                    )
                )
    by_services_files = min(by_services, max(2, n_attachments // 400))
    bulk_files = n_attachments - by_services_files
    # one or two files on each of these entries (the services allow five)
    holders = rng.sample(published, min(len(published), max(1, bulk_files * 4 // 5)))
    with store.write() as conn:
        if conn.execute(select(func.count()).select_from(library_entry)).scalar_one():
            raise BenchError("the scratch store already holds library entries")
        for table, rows in (
            (library_entry, entries),  # the store's triggers index each entry's words
            (library_revision, revisions),
            (library_tag, tags),
            (library_endorsement, endorsements),
            (library_comment, comments),
        ):
            for chunk in range(0, len(rows), 5_000):
                conn.execute(insert(table), rows[chunk : chunk + 5_000])
        files = []
        for n in range(bulk_files):
            entry_id, updated = holders[n % len(holders)]
            name, data = writer.attachment(n)
            name, media_type = library.check_attachment(name, data)  # as library.attach
            files.append(
                dict(
                    id=str(uuid.uuid4()),
                    entry_id=entry_id,
                    file_name=name,
                    media_type=media_type,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    data=data,
                    created_at=_stamp(updated + timedelta(minutes=5)),
                )
            )
            filled.attachment_bytes += len(data)
            if len(files) == 100 or n == bulk_files - 1:  # ~10 MiB at a time
                conn.execute(insert(library_attachment), files)
                files = []
    filled.entries, filled.attachments = len(entries), bulk_files
    filled.endorsements, filled.comments = len(endorsements), len(comments)
    filled.revisions, filled.drafts = len(revisions), sum(e["status"] == "draft" for e in entries)
    # The rest through the services, as members add, revise, endorse, comment and attach.
    for n in range(by_services):
        author = rng.choice(members[0][1:])
        fields = writer.entry()
        if n % 2 == 0:  # words the index check counts, in these entries too
            fields["body"] += " We drew a genogram and then an ecomap with the kinship carers."
        tagging = dict(topic_ids=fields["topic_ids"], free_tags=fields["free_tags"], topics=topics)
        entry = library.contribute(
            store, author, str(uuid.uuid4()), made[0], fields["kind"], fields["title"],
            fields["body"], url=fields["url"], confirmed=True, **tagging,
        )  # fmt: skip
        if n % 3 == 0:
            entry = library.revise(
                store, author, entry.id, entry.kind, entry.title,
                entry.body + " Revised after the team tried it.",
                expected_revision=entry.revision, url=entry.url, confirmed=True, **tagging,
            )  # fmt: skip
            filled.revisions += 1
        for fan in rng.sample([p for p in members[0] if p != author], n % 4):
            library.endorse(store, fan, entry.id)
            filled.endorsements += 1
        if n % 5 == 0:
            library.add_comment(
                store, rng.choice(members[0]), str(uuid.uuid4()), entry.id,
                rng.choice(COMMENTS), confirmed=True,
            )  # fmt: skip
            filled.comments += 1
        if n < by_services_files:
            name, data = writer.attachment(n_attachments + n)
            library.attach(store, author, str(uuid.uuid4()), entry.id, name, data)
            filled.attachments += 1
            filled.attachment_bytes += len(data)
        filled.entries += 1
        filled.revisions += 1
        filled.through_services += 1
    filled.seconds = time.perf_counter() - started
    return filled


def check_index(store: Store, reader_name: str) -> dict:
    """The full-text index holds exactly every entry's title, body and tags, and searches find
    what a plain count of the words finds: what the services' own writes would have left."""
    from sqlalchemy import select, text

    from cop_widgets.services import library
    from cop_widgets.services.accounts import find_by_name
    from cop_widgets.store.schema import community_member, library_entry

    reader = find_by_name(store, reader_name)
    if reader is None:
        raise BenchError(f"{reader_name} is missing from the scratch store")
    with store.write() as conn:  # FTS5's own check of its index against its stored text
        conn.exec_driver_sql(
            "INSERT INTO library_search (library_search) VALUES ('integrity-check')"
        )
    with store.read() as conn:
        entries = conn.execute(text("SELECT count(*) FROM library_entry")).scalar_one()
        indexed = conn.execute(text("SELECT count(*) FROM library_search")).scalar_one()
        same = conn.execute(
            text(
                "SELECT count(*) FROM library_entry e JOIN library_search s "
                "ON s.rowid = e.search_key WHERE s.title = e.title AND s.body = e.body "
                "AND s.tags = e.tag_text"
            )
        ).scalar_one()
        theirs = set(
            conn.execute(
                select(community_member.c.community_id).where(
                    community_member.c.person_id == reader.id
                )
            ).scalars()
        )
        e = library_entry.c
        rows = conn.execute(select(e.community_id, e.status, e.title, e.body, e.tag_text)).all()
    if not entries == indexed == same:
        raise BenchError(
            f"search index out of step: {entries} entries, {indexed} indexed, {same} the same"
        )
    counts = {}
    for words in CHECK_WORDS:
        patterns = [re.compile(rf"\b{w}\b", re.IGNORECASE) for w in words.split()]
        expected = sum(
            1
            for c, status, *texts in rows
            if c in theirs
            and status == "published"
            and all(any(p.search(t) for t in texts) for p in patterns)
        )
        found = library.browse(store, reader, query=words).total
        if found != expected:
            raise BenchError(f"search for “{words}” found {found} entries; {expected} hold it")
        counts[words] = found
    return {"entries": entries, "indexed": indexed, "search_counts": counts}


# -- search, kernel side ---------------------------------------------------------------------------
def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def measure_search(settings: Settings, rounds: int) -> dict:
    """library.browse as the app calls it (all the reader's communities, newest first, page of
    20), once untimed and then `rounds` times for each search; the first pages without a
    search; and the library app built and signed in up to its first page."""
    from cop_widgets.apps.library import library_app
    from cop_widgets.services import library, sessions
    from cop_widgets.services.accounts import find_by_name
    from cop_widgets.store.page_cache import keep_page_cache_small
    from tests.signin import assertion_environ

    store = open_store(settings)
    keep_page_cache_small(store)  # as the library page's kernel reads
    try:
        reader = find_by_name(store, READER)
        assert reader is not None
        mine = [c.id for c in sessions.communities(store, reader)]
        totals = {q: library.browse(store, reader, query=q).total for q in QUERIES}  # warm-up
        per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
        for _ in range(rounds):
            for q in QUERIES:
                t0 = time.perf_counter()
                page = library.browse(store, reader, query=q)
                per_query[q].append(_ms(t0))
                if page.total != totals[q]:
                    raise BenchError(f"“{q}” found {totals[q]} entries, then {page.total}")
        timings = [ms for q in QUERIES for ms in per_query[q]]
        first_pages = {}
        for label, kw in (
            ("newest, all my communities", {"sort": "newest"}),
            ("most endorsed, all my communities", {"sort": "endorsed"}),
            ("newest, one community", {"sort": "newest", "community_id": mine[0]}),
            ("most endorsed, one community", {"sort": "endorsed", "community_id": mine[0]}),
        ):
            library.browse(store, reader, **kw)  # warm-up
            runs = []
            for _ in range(max(3, rounds)):
                t0 = time.perf_counter()
                page = library.browse(store, reader, **kw)
                runs.append(_ms(t0))
            first_pages[label] = {"ms": stats(runs), "total": page.total}
        tag_runs = []
        for _ in range(max(3, rounds)):
            t0 = time.perf_counter()
            library.tags_in_use(store, reader)
            tag_runs.append(_ms(t0))
        app_runs = []
        for _ in range(max(2, rounds)):  # what a preheated kernel does once the page is asked
            app = library_app(settings=settings)
            app.environ = assertion_environ(store, reader)  # the server's signed assertion
            t0 = time.perf_counter()
            app.guard(app._identify, app.query)
            app_runs.append(_ms(t0))
            if app.person is None or len(app.results.children) < 2:
                raise BenchError(f"the library app showed no first page: {app.status.message}")
            app.store.dispose()
    finally:
        store.dispose()
    return {
        "search_ms": stats(timings),
        "search_by_query": {
            q: {"median_ms": statistics.median(per_query[q]), "total": totals[q]} for q in QUERIES
        },
        "first_page": first_pages,
        "tags_in_use_ms": stats(tag_runs),
        "app_signed_in_first_page_ms": stats(app_runs),
    }


def print_search(figures: dict) -> None:
    s = figures["search_ms"]
    print(
        f"search (library.browse, {len(QUERIES)} searches x {s['n'] // len(QUERIES)}): median "
        f"{s['median']:.1f} ms, p95 {s['p95']:.1f} ms, max {s['max']:.1f} ms "
        f"(target median <= {SEARCH_TARGET_MS} ms: "
        f"{'met' if s['median'] <= SEARCH_TARGET_MS else 'MISSED'})"
    )
    slowest = sorted(figures["search_by_query"].items(), key=lambda kv: -kv[1]["median_ms"])[:5]
    for q, f in slowest:
        print(f"  slowest: {q:32s} {f['median_ms']:7.1f} ms  {f['total']:6d} found")
    for label, f in figures["first_page"].items():
        print(f"first page, {label:34s} median {f['ms']['median']:6.1f} ms  ({f['total']} entries)")
    print(f"tags in use (the Tag menu): median {figures['tags_in_use_ms']['median']:.1f} ms")
    print(
        "library app signed in up to its first page (in-process): median "
        f"{figures['app_signed_in_first_page_ms']['median']:.0f} ms"
    )


# -- the page, in headless Chromium -------------------------------------------------------------
BARE_SOURCE = """import ipywidgets as w
b = w.Button(description="Click")
t = w.Textarea()
b.on_click(lambda _: setattr(t, 'value', 'clicked 1'))
display(w.VBox([b, t]))"""
# Usable: bare's button; the library's first entry of its first page (its "open" button).
READY_SELECTOR = {"bare": ".widget-button", "library": ".cop-lib-open"}


def _notebooks(tmp: Path) -> dict[str, Path]:
    import nbformat

    folders = {"bare": tmp / "bare", "library": tmp / "library"}
    for folder in folders.values():
        folder.mkdir()
    shutil.copy(WORKBOOKS_DIR / "library.ipynb", folders["library"] / "library.ipynb")
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(BARE_SOURCE)], metadata={"kernelspec": kernelspec}
        ),
        # the library's name: the same pool and the same URL
        folders["bare"] / "library.ipynb",
    )
    return folders


def _kernel_rss_mib(page, server: RoomServer) -> float:
    rss = page_kernel_rss_mib(page, server.proc.pid)
    if rss is None:
        raise server.failure(missing_kernel_message(page, server.proc.pid))
    return rss


def load_once(browser, server: RoomServer, who: SignedInPerson, total: int) -> dict:
    """One load in a fresh context holding the person's cookie (as bench_pages.py)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([who.playwright_cookie()])  # signed in earlier, outside the timing
    page = context.new_page()
    page.add_init_script(ready_mark_script(READY_SELECTOR[server.label]))
    timeout_ms = PAGE_TIMEOUT_S * 1000
    try:
        machine_before, ours_before = cpu_seconds()
        started, started_epoch = time.perf_counter(), time.time()
        page.goto(server.url("voila/render/library.ipynb"), wait_until="commit", timeout=timeout_ms)
        page.locator(READY_SELECTOR[server.label]).first.wait_for(
            state="visible", timeout=timeout_ms
        )
        polled = time.perf_counter() - started
        machine_after, ours_after = cpu_seconds()
        # the page's own mark (Playwright's polling returns up to 0.5 s late)
        tti = marked_tti_s(page, started_epoch, polled)
        if server.label == "library":  # the page knows who opened it, and what they read
            page.locator(".cop-whoami", has_text=who.name).wait_for(timeout=timeout_ms)
            page.locator(".cop-lib-results .cop-meta", has_text=f"{total} entr").first.wait_for(
                timeout=timeout_ms
            )
        others = (machine_after - machine_before) - (ours_after - ours_before)
        time.sleep(1)  # let the first render's widget messages settle before reading RSS
        return {
            "tti_s": tti,
            "tti_polled_s": polled,
            "others_cpu_percent": max(0.0, others / tti * 100),
            "kernel_rss_mib": _kernel_rss_mib(page, server),
        }
    except ServerFailed:
        raise
    except Exception as exc:
        raise server.failure(f"page never became usable: {str(exc).splitlines()[0]}") from exc
    finally:
        context.close()


def measure_page(tmp: Path, data_dir: Path, loads: int, total: int) -> dict:
    from playwright.sync_api import sync_playwright

    from cop_widgets.chromium import CHROMIUM_ARGS, chromium_path
    from cop_widgets.services import membership, sessions
    from cop_widgets.services.accounts import find_by_name

    folders = _notebooks(tmp)
    env = {k: v for k, v in voila_environment().items() if not k.startswith("COP_")}
    env["COP_DATA_DIR"] = str(data_dir)  # the scratch store, never data/cop.sqlite
    env = with_parsed_content(env)  # as `cop serve` does: kernels need not import yaml
    env.pop("JUPYTERHUB_USER", None)  # standalone mode: people sign in (serving/auth.py)
    store = open_store(load_settings({"COP_DATA_DIR": str(data_dir)}))
    try:  # one member per load, signed in before the timing, reading the reader's communities
        reader = find_by_name(store, READER)
        assert reader is not None
        people = [sign_in(store, f"Library Reader {n:02d}") for n in range(1, loads + 1)]
        for who in people:
            for c in sessions.communities(store, reader):
                membership.join(store, who.person, c.id)
    finally:
        store.dispose()
    pool = loads + 1  # one pre-executed kernel per load: the pool refills only after fill_delay
    servers: list[RoomServer] = []
    runs: dict[str, list[dict]] = {"bare": [], "library": []}
    try:
        for label in ("bare", "library"):
            servers.append(
                RoomServer(
                    label,
                    env,
                    tmp,
                    workbooks=folders[label],
                    pool_size=1,
                    pool_sizes=(("library.ipynb", pool),),
                )
            )
        for server in servers:
            server.wait_answering()
        for server in servers:
            server.wait_pool_executed(pool, timeout_s=240)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
            )
            warm_up = browser.new_context()  # so that load 1 is not special
            warm_up.new_page().goto(servers[0].url())
            warm_up.close()
            for round_no in range(1, loads + 1):
                # interleaved, alternating who goes first, so that drift hits both alike
                for server in servers if round_no % 2 else servers[::-1]:
                    wait_quiet(timeout_s=60)
                    result = load_once(browser, server, people[round_no - 1], total)
                    runs[server.label].append(result)
                    print(
                        f"  load {round_no} {server.label:8s} TTI {result['tti_s']:.3f} s  "
                        f"kernel {result['kernel_rss_mib']:.1f} MiB  other processes' CPU "
                        f"{result['others_cpu_percent']:.0f} % of a core",
                        flush=True,
                    )
            browser.close()
    finally:
        for server in servers:
            server.stop()
    figures: dict = {"loads": loads, "pool_size": pool}
    for label, label_runs in runs.items():
        quiet = [
            r["tti_s"] for r in label_runs if r["others_cpu_percent"] <= OTHERS_CPU_NOISY_PERCENT
        ]
        figures[label] = {
            "tti_s": stats([r["tti_s"] for r in label_runs]),
            "tti_median_quiet_loads_s": statistics.median(quiet) if quiet else None,
            "quiet_loads": len(quiet),
            "kernel_rss_mib": statistics.median(r["kernel_rss_mib"] for r in label_runs),
            "runs": label_runs,
        }
    figures["tti_ratio"] = (
        figures["library"]["tti_s"]["median"] / figures["bare"]["tti_s"]["median"]
    )
    return figures


def print_page(figures: dict) -> None:
    for label in ("bare", "library"):
        f = figures[label]
        print(
            f"page {label:8s} TTI median {f['tti_s']['median']:.3f} s (min {f['tti_s']['min']:.3f},"
            f" max {f['tti_s']['max']:.3f}; {f['quiet_loads']} of {f['tti_s']['n']} loads quiet)"
            f"  kernel {f['kernel_rss_mib']:.1f} MiB"
        )
    ratio = figures["tti_ratio"]
    print(
        f"TTI ratio library/bare (medians): {ratio:.2f} (target <= {TTI_RATIO_TARGET}: "
        f"{'met' if ratio <= TTI_RATIO_TARGET else 'MISSED'})"
    )
    noisy = sum(figures[k]["tti_s"]["n"] - figures[k]["quiet_loads"] for k in ("bare", "library"))
    if noisy:
        print(
            f"WARNING: during {noisy} loads other processes used more than "
            f"{OTHERS_CPU_NOISY_PERCENT} % of a core: TTI is noisy, rerun on a quiet machine."
        )


# -- the run ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "search", "page"), default="all")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_ENTRIES} entries, {SMOKE_ATTACHMENTS} attachments, {SMOKE_LOADS} load "
        "each: checks that the benchmark works; figures go to benchmarks/results/smoke/",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="FOLDER",
        help="fill the scratch store in this new folder and leave it there (to EXPLAIN queries)",
    )
    args = parser.parse_args(argv)
    n_entries = SMOKE_ENTRIES if args.smoke else N_ENTRIES
    n_attachments = SMOKE_ATTACHMENTS if args.smoke else N_ATTACHMENTS
    if args.smoke:  # its timings are not figures: no waiting for other processes to go quiet
        room_load.PATIENCE_FOR_OTHERS_S = 0
    # SIGTERM must unwind through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict = {
        "setup": {
            "smoke": args.smoke,
            "part": args.part,
            "entries": n_entries,
            "attachments": n_attachments,
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "targets": {"search_median_ms": SEARCH_TARGET_MS, "tti_ratio": TTI_RATIO_TARGET},
    }
    if args.keep is not None:
        args.keep.mkdir(parents=True)  # a new folder: never an existing store
    with tempfile.TemporaryDirectory(prefix="cop-bench-library-") as tmp_name:
        tmp = args.keep or Path(tmp_name)
        data_dir = tmp / "data"
        shutil.copytree(REPO / "data", data_dir, ignore=shutil.ignore_patterns("*.sqlite*"))
        settings = load_settings({"COP_DATA_DIR": str(data_dir)})
        topics = load_topics(data_dir / TOPICS_FILE)
        try:
            store = open_store(settings)
            try:
                filled = fill(store, topics, n_entries, n_attachments)
                filled.checks = check_index(store, READER)
            finally:
                store.dispose()
            size_mib = (data_dir / "cop.sqlite").stat().st_size / 2**20
            print(
                f"filled {filled.entries:,} entries ({filled.through_services} through the "
                f"services, {filled.drafts} drafts), {filled.attachments:,} attachments "
                f"({filled.attachment_bytes / 2**20:.0f} MiB), {filled.endorsements:,} "
                f"endorsements, {filled.comments:,} comments, {filled.revisions:,} versions in "
                f"{filled.seconds:.1f} s; store {size_mib:.0f} MiB; index checked: "
                f"{filled.checks['search_counts']}"
            )
            results["fill"] = filled.__dict__ | {"store_mib": size_mib}
            if args.part in ("all", "search"):
                rounds = SMOKE_SEARCH_ROUNDS if args.smoke else SEARCH_ROUNDS
                results["search"] = measure_search(settings, rounds)
                print_search(results["search"])
            if args.part in ("all", "page"):
                loads = SMOKE_LOADS if args.smoke else LOADS
                results["page"] = measure_page(tmp, data_dir, loads, _readable_total(settings))
                print_page(results["page"])
        except (BenchError, ServerFailed) as exc:
            print(f"benchmark broke: {exc}", file=sys.stderr)
            return 1
    results["setup"]["loadavg_end"] = os.getloadavg()
    write_results(SMOKE_RESULTS_FILE if args.smoke else RESULTS_FILE, results)
    return 0


def _readable_total(settings: Settings) -> int:
    """How many entries the reader's first page says there are (the page checks it)."""
    from cop_widgets.services import library
    from cop_widgets.services.accounts import find_by_name

    store = open_store(settings)
    try:
        reader = find_by_name(store, READER)
        assert reader is not None
        return library.browse(store, reader).total
    finally:
        store.dispose()


if __name__ == "__main__":
    sys.exit(main())
