"""Questions between sessions (issue 15, item 4): a member asks their community a practice
question; members answer; the asker marks the answers that helped; a good thread is saved to
the practice library as a draft, which its saver edits and publishes there like any draft.

Every question and answer passes the text rules and the de-identification check exactly as a
library contribution does: likely identifiers are refused unless their writer confirmed them
(`confirmed`; the app's DeidCheck shows them under the same labels). Texts are kept whole, as
typed, and the apps show them escaped. Ids are made by the app when its form opens, so a save
retried after the store took it returns the same question or answer instead of a second one.

Who may do what is policy's (rules question.*): a community's questions are read by its
members (and global coordinators); its members ask and answer; the asker marks what helped and
may withdraw the question (its answers go with it); the asker and the community's facilitators
and coordinators, while members, save the thread to the library. The draft is the saver's
entry: the question as its title and first part, then the answers, those that helped first,
without their writers' names. Saving again returns the same draft; once that draft is
withdrawn, the thread may be saved again.

A question's text is its asker's and an answer's its writer's (services/person_tables.py):
erasing a person deletes their questions, with every answer on them, and their answers on
others' questions; retention removes questions whose last activity is older than its period.

The identifier finder, and the library with it, are imported on first use: the home page asks
this module for its card's counts and starts without them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, or_, select, update

from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.add_once import add_once
from cop_widgets.services.identity import Person
from cop_widgets.settings import MAX_ANSWER_CHARS
from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, AnySelect, utc_now
from cop_widgets.store.schema import (
    community,
    community_member,
    library_entry,
    person,
    question,
    question_answer,
)
from cop_widgets.text import check_answer

if TYPE_CHECKING:  # imported on first use (see the module's docstring)
    from cop_widgets.services.library import Entry

MAX_TITLE = 200
MAX_BODY = MAX_ANSWER_CHARS
PAGE_SIZE = 50
# what the de-identification check and the messages call each text (the app's DeidCheck uses
# the same labels, so that a confirmation there is the one made here)
TITLE_LABEL, QUESTION_LABEL, ANSWER_LABEL = "Title", "Question", "Answer"
# a thread becomes an "approach to a recurring problem": what others can take from it
LIBRARY_KIND = "approach"
HELPED_HEADING = "What helped (marked by the person who asked)"
OTHERS_HEADING = "Other answers"
ANSWERS_HEADING = "Answers"


@dataclass(frozen=True)
class Question:
    """A question as a reader sees it: its text, and how its thread stands."""

    id: str
    community_id: str
    community_name: str
    asker_id: str
    asker_name: str
    title: str
    body: str
    created_at: str
    updated_at: str
    answers: int
    helped: int  # answers the asker marked as helped
    new_answers: int  # for its asker: others' answers since they last opened it (else 0)
    saved: bool  # a library draft was made from the thread
    # that draft or entry, when the reader may open it (theirs, or published); else None
    library_entry_id: str | None
    library_status: str | None = None  # that entry's: "draft" or "published"

    @property
    def answered(self) -> bool:
        return self.answers > 0


@dataclass(frozen=True)
class Answer:
    """One answer in a thread, with its writer."""

    id: str
    question_id: str
    author_id: str
    author_name: str
    body: str
    created_at: str
    helped: bool  # the asker marked it: "this helped"
    new: bool  # for the asker: given since they last opened the thread


@dataclass(frozen=True)
class Thread:
    """A question with its answers, first first."""

    question: Question
    answers: list[Answer]


@dataclass(frozen=True)
class Page:
    """One page of a listing of questions, and how many there are in all."""

    questions: list[Question]
    total: int


@dataclass(frozen=True)
class Waiting:
    """The home page card's counts for a person."""

    new_answers: int  # answers others gave to their questions since they last opened them
    unanswered: int  # others' questions in their communities that nobody has answered yet


# -- checking what people type -------------------------------------------------------------------
def _check_id(value: str, what: str) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(what, f"That {what} id is not valid; reload the page.") from None


def question_fields(title: str, body: str) -> tuple[str, str]:
    """The title (on one line, spaces collapsed) and the question, checked; InvalidInput names
    the field that is missing or too long."""
    title = " ".join(check_answer(title or "", TITLE_LABEL, MAX_TITLE * 4).split())
    if not title:
        raise InvalidInput(
            "title", "Give your question a title: a line that says what it is about."
        )
    if len(title) > MAX_TITLE:
        raise InvalidInput("title", f"Keep the title under {MAX_TITLE} characters.")
    body = check_answer(body or "", QUESTION_LABEL, MAX_BODY)
    if not body.strip():
        raise InvalidInput(
            "question", "Write your question: what you are facing and what you would like to know."
        )
    return title, body


def answer_field(body: str) -> str:
    """The answer, checked (kept whole, as typed)."""
    body = check_answer(body or "", ANSWER_LABEL, MAX_BODY)
    if not body.strip():
        raise InvalidInput("answer", "Write your answer first.")
    return body


def texts_to_check(title: str, body: str) -> dict[str, str]:
    """What the de-identification check reads in a question, by the label its asker sees."""
    return {TITLE_LABEL: title, QUESTION_LABEL: body}


def _findings(texts: dict[str, str], confirmed: bool) -> int:
    """The library's check (library._findings): how many likely identifiers the writer
    confirmed; refuses unconfirmed ones."""
    from cop_widgets.services import library  # the identifier finder, on first use

    return library._findings(texts, confirmed)


# -- asking, answering, marking what helped -------------------------------------------------------
def ask(
    store: Store,
    who: Person,
    question_id: str,
    community_id: str,
    title: str,
    body: str,
    *,
    confirmed: bool = False,
) -> Question:
    """Ask the community a question (policy "question.ask": its members)."""
    _check_id(question_id, "question")
    policy.require(store, who, "question.ask", community_id)
    title, body = question_fields(title, body)
    confirmed_findings = _findings(texts_to_check(title, body), confirmed)
    now = utc_now()
    with store.write() as conn:
        found = add_once(
            store,
            conn,
            question,
            {"id": question_id},
            {
                "community_id": community_id,
                "asker_id": who.id,
                "title": title,
                "body": body,
                "confirmed_findings": confirmed_findings,
                "created_at": now,
                "updated_at": now,
                "asker_seen_at": now,
            },
            actor_id=who.id,
            action="question_asked",
            target_kind="question",
            target_id=question_id,
        )
        # a retried save the store took already is fine; someone else's id is not theirs
        if found is not None and (found.asker_id != who.id or found.community_id != community_id):
            raise RecordNotFound("question", question_id)
    return get(store, who, question_id)


def answer(
    store: Store,
    who: Person,
    answer_id: str,
    question_id: str,
    body: str,
    *,
    confirmed: bool = False,
) -> Answer:
    """Answer a question (policy "question.answer": the members of its community)."""
    _check_id(answer_id, "answer")
    policy.require(store, who, "question.answer", question_id)
    body = answer_field(body)
    confirmed_findings = _findings({ANSWER_LABEL: body}, confirmed)
    now = utc_now()
    with store.write() as conn:
        found = add_once(
            store,
            conn,
            question_answer,
            {"id": answer_id},
            {
                "question_id": question_id,
                "author_id": who.id,
                "body": body,
                "confirmed_findings": confirmed_findings,
                "created_at": now,
            },
            actor_id=who.id,
            action="question_answered",
            target_kind="question",
            target_id=question_id,
        )
        if found is not None:  # a retried save the store took already
            if found.author_id != who.id or found.question_id != question_id:
                raise RecordNotFound("answer", answer_id)
        else:
            conn.execute(
                update(question).where(question.c.id == question_id).values(updated_at=now)
            )
        row = _question_row(conn, who, question_id)
        made = next(a for a in _answers(conn, row) if a.id == answer_id)
    return made


def mark_helped(store: Store, who: Person, answer_id: str, helped: bool = True) -> None:
    """The asker marks an answer as one that helped (or, with helped=False, takes it back;
    policy "question.mark_helped"). Asked again, nothing changes."""
    a = question_answer.c
    with store.read() as conn:
        found = conn.execute(select(a.question_id, a.author_id).where(a.id == answer_id)).first()
    if found is None:
        raise RecordNotFound("answer", answer_id)
    policy.require(store, who, "question.mark_helped", found.question_id)
    if found.author_id == who.id:
        raise InvalidInput(
            "answer", "Mark the answers others gave you: what you added is part of the question."
        )
    now = utc_now()
    with store.write() as conn:
        unchanged = a.helped_at.is_(None) if helped else a.helped_at.is_not(None)
        done = conn.execute(
            update(question_answer)
            .where(a.id == answer_id, unchanged)
            .values(helped_at=now if helped else None)
        ).rowcount
        if done:
            conn.execute(
                update(question).where(question.c.id == found.question_id).values(updated_at=now)
            )
            store.audit(
                conn,
                actor_id=who.id,
                action="question_answer_helped" if helped else "question_answer_unmarked",
                target_kind="question",
                target_id=found.question_id,
            )


def unmark_helped(store: Store, who: Person, answer_id: str) -> None:
    """The asker takes back "this helped" (as mark_helped with helped=False)."""
    mark_helped(store, who, answer_id, helped=False)


def withdraw(store: Store, who: Person, question_id: str) -> None:
    """The asker withdraws their question: it is deleted with every answer on it (policy
    "question.withdraw"). A library draft made from it stays its saver's."""
    policy.require(store, who, "question.withdraw", question_id)
    with store.write() as conn:
        conn.execute(delete(question_answer).where(question_answer.c.question_id == question_id))
        conn.execute(delete(question).where(question.c.id == question_id))
        store.audit(
            conn,
            actor_id=who.id,
            action="question_withdrawn",
            target_kind="question",
            target_id=question_id,
        )


# -- reading ---------------------------------------------------------------------------------------
def _questions_query(conn: Connection, who: Person) -> AnySelect:
    """The questions `who` may read (policy.questions_readable_by), as rows for _question."""
    q, a = question.c, question_answer.c
    answers = (
        select(func.count()).where(a.question_id == q.id).correlate(question).scalar_subquery()
    )
    helped = (
        select(func.count())
        .where(a.question_id == q.id, a.helped_at.is_not(None))
        .correlate(question)
        .scalar_subquery()
    )
    new = (
        select(func.count())
        .where(
            a.question_id == q.id,
            q.asker_id == who.id,
            a.author_id != who.id,
            or_(q.asker_seen_at.is_(None), a.created_at > q.asker_seen_at),
        )
        .correlate(question)
        .scalar_subquery()
    )
    query = (
        select(
            q.id,
            q.community_id,
            community.c.name.label("community_name"),
            q.asker_id,
            person.c.display_name.label("asker_name"),
            q.title,
            q.body,
            q.created_at,
            q.updated_at,
            q.asker_seen_at,
            answers.label("answers"),
            helped.label("helped"),
            new.label("new_answers"),
            q.library_entry_id,
            library_entry.c.author_id.label("entry_author_id"),
            library_entry.c.status.label("entry_status"),
        )
        .join(community, community.c.id == q.community_id)
        .join(person, person.c.id == q.asker_id)
        .outerjoin(library_entry, library_entry.c.id == q.library_entry_id)
    )
    visible = policy.questions_readable_by(conn, who)
    return query if visible is None else query.where(visible)


def _question(row: AnyRow, who: Person) -> Question:
    opens = row.library_entry_id is not None and (
        row.entry_author_id == who.id or row.entry_status == policy.PUBLISHED
    )
    return Question(
        id=row.id,
        community_id=row.community_id,
        community_name=row.community_name,
        asker_id=row.asker_id,
        asker_name=row.asker_name,
        title=row.title,
        body=row.body,
        created_at=row.created_at,
        updated_at=row.updated_at,
        answers=int(row.answers),
        helped=int(row.helped),
        new_answers=int(row.new_answers),
        saved=row.library_entry_id is not None,
        library_entry_id=row.library_entry_id if opens else None,
        library_status=row.entry_status if opens else None,
    )


def _question_row(conn: Connection, who: Person, question_id: str) -> AnyRow:
    row = conn.execute(_questions_query(conn, who).where(question.c.id == question_id)).first()
    if row is None:
        raise RecordNotFound("question", question_id)
    return row


def _answers(conn: Connection, row: AnyRow) -> list[Answer]:
    """The answers to the question `row` (a _questions_query row), first first; `new` is set
    only where the reader is its asker (the query's new_answers counts only for them)."""
    a = question_answer.c
    found = conn.execute(
        select(
            a.id,
            a.question_id,
            a.author_id,
            person.c.display_name,
            a.body,
            a.created_at,
            a.helped_at,
        )  # fmt: skip
        .join(person, person.c.id == a.author_id)
        .where(a.question_id == row.id)
        .order_by(a.created_at, a.id)
    ).all()
    asker_reads = bool(row.new_answers)
    seen = row.asker_seen_at
    return [
        Answer(
            id=r.id,
            question_id=r.question_id,
            author_id=r.author_id,
            author_name=r.display_name,
            body=r.body,
            created_at=r.created_at,
            helped=r.helped_at is not None,
            new=asker_reads
            and r.author_id != row.asker_id
            and (seen is None or r.created_at > seen),
        )
        for r in found
    ]


def get(store: Store, who: Person, question_id: str) -> Question:
    """One question as it stands (policy "question.read")."""
    policy.require(store, who, "question.read", question_id)
    with store.read() as conn:
        return _question(_question_row(conn, who, question_id), who)


def thread(store: Store, who: Person, question_id: str) -> Thread:
    """A question and its answers (policy "question.read"). When its asker reads it, the
    answers it shows stop counting as new to them (they are marked `new` this once)."""
    policy.require(store, who, "question.read", question_id)
    with store.read() as conn:
        row = _question_row(conn, who, question_id)
        answers = _answers(conn, row)
    if row.new_answers:
        newest = max(a.created_at for a in answers if a.new)
        with store.write() as conn:
            conn.execute(
                update(question)
                .where(question.c.id == question_id, question.c.asker_id == who.id)
                .values(asker_seen_at=newest)
            )
    return Thread(_question(row, who), answers)


def questions(
    store: Store,
    who: Person,
    *,
    community_id: str | None = None,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> Page:
    """The questions `who` may read (policy "question.read"), of one community or all of
    theirs, newest first, with their answer counts: one page of `limit`."""
    if community_id is not None:
        policy.require(store, who, "community.view", community_id)
    q = question.c
    with store.read() as conn:
        query = _questions_query(conn, who)
        if community_id is not None:
            query = query.where(q.community_id == community_id)
        total = conn.execute(
            select(func.count()).select_from(query.with_only_columns(q.id).subquery())
        ).scalar_one()
        rows = conn.execute(
            query.order_by(q.created_at.desc(), q.id)
            .limit(max(1, min(int(limit), 200)))
            .offset(max(0, int(offset)))
        ).all()
    return Page([_question(r, who) for r in rows], int(total))


def communities_to_ask(store: Store, who: Person) -> list[tuple[str, str]]:
    """(name, id) of the communities `who` may ask (policy "question.ask": those they belong
    to), by name."""
    policy.require(store, who, "community.browse", None)
    m = community_member.c
    with store.read() as conn:
        rows = conn.execute(
            select(community.c.name, community.c.id)
            .join(community_member, m.community_id == community.c.id)
            .where(m.person_id == who.id)
            .distinct()
        ).all()
    return sorted(((name, cid) for name, cid in rows), key=lambda r: (r[0].casefold(), r[1]))


def allowed_actions(store: Store, who: Person, question_id: str) -> frozenset[str]:
    """Which of answer, mark_helped, save_to_library and withdraw `who` may do to the question
    (the app offers only those; each action asks policy again)."""
    rules = ("question.answer", "question.mark_helped", "question.save_to_library",
             "question.withdraw")  # fmt: skip
    with store.read() as conn:
        return frozenset(r for r in rules if policy.allowed(conn, who, r, question_id))


def waiting(store: Store, who: Person) -> Waiting:
    """For the home page's card: new answers to `who`'s questions, and the questions of their
    communities that others asked and nobody has answered yet."""
    q, a, m = question.c, question_answer.c, community_member.c
    policy.require(store, who, "community.browse", None)
    with store.read() as conn:
        rows = _questions_query(conn, who).subquery()
        new = conn.execute(select(func.coalesce(func.sum(rows.c.new_answers), 0))).scalar_one()
        unanswered = conn.execute(
            select(func.count())
            .select_from(question)
            .where(
                q.asker_id != who.id,
                ~select(a.id).where(a.question_id == q.id).exists(),
                # of their own communities (a global coordinator reads every one's)
                select(m.person_id)
                .where(m.community_id == q.community_id, m.person_id == who.id)
                .exists(),
            )
        ).scalar_one()
    return Waiting(int(new), int(unanswered))


# -- a thread to the library -----------------------------------------------------------------------
def draft_text(asked: Question, answers: Sequence[Answer], limit: int = MAX_BODY) -> str:
    """The body of a thread's library draft: the question, then the answers that helped, then
    the others, each whole and without its writer's name. Answers that would take it past
    `limit` characters are left out, and it says how many."""
    helped = [a for a in answers if a.helped]
    others = [a for a in answers if not a.helped]
    text = f"{QUESTION_LABEL}\n\n{asked.body.strip()}"
    if len(text) > limit:
        text = asked.body  # (a question is never longer than the limit)
    room = limit - 60  # room for the closing note, should answers be left out
    left_out = 0
    for heading, group in (
        (HELPED_HEADING, helped),
        (OTHERS_HEADING if helped else ANSWERS_HEADING, others),
    ):
        first = True
        for a in group:
            part = ("\n\n\n" + heading if first else "") + "\n\n" + a.body.strip()
            if len(text) + len(part) > room:
                left_out += 1
                continue
            text += part
            first = False
    note = f"\n\n({left_out} more answer{'s are' if left_out != 1 else ' is'} in the thread.)"
    if left_out and len(text) + len(note) <= limit:
        text += note
    return text


def draft_texts(store: Store, who: Person, question_id: str) -> dict[str, str]:
    """What the thread's library draft would hold, by the labels the library's
    de-identification check reads (library.texts_to_check): for the app's DeidCheck to show
    before saving (policy "question.save_to_library")."""
    from cop_widgets.services import library

    asked, body = _thread_draft(store, who, question_id)
    return library.texts_to_check(asked.title, body, ())


def _thread_draft(store: Store, who: Person, question_id: str) -> tuple[Question, str]:
    """The question, and its thread as a draft's body (policy "question.save_to_library")."""
    policy.require(store, who, "question.save_to_library", question_id)
    with store.read() as conn:
        row = _question_row(conn, who, question_id)
        asked, answers = _question(row, who), _answers(conn, row)
    return asked, draft_text(asked, answers)


def may_save_to_library(store: Store, who: Person, question_id: str) -> bool:
    """Whether to offer `who` "Save to the library" (asks policy without auditing a refusal:
    saving asks again)."""
    with store.read() as conn:
        return policy.allowed(conn, who, "question.save_to_library", question_id)


def save_to_library(
    store: Store, who: Person, question_id: str, *, confirmed: bool = False
) -> Entry:
    """A library draft of the thread for `who` to edit and publish from the library (policy
    "question.save_to_library"): the question as its title and first part, then the answers,
    those that helped first. Asked again, it returns the same draft; a thread another member
    saved already is refused, saying so."""
    from cop_widgets.content.library_topics import EMPTY
    from cop_widgets.services import library

    asked, text = _thread_draft(store, who, question_id)
    kind, title, body, url = library._fields(LIBRARY_KIND, asked.title, text, "")
    confirmed_findings = library._findings(library.texts_to_check(title, body, ()), confirmed)
    e = library_entry.c
    with store.write() as conn:
        made = conn.execute(
            select(question.c.library_entry_id).where(question.c.id == question_id)
        ).scalar()
        if made is not None:
            saved = conn.execute(select(e.author_id, e.status).where(e.id == made)).one()
            if saved.author_id != who.id:
                raise InvalidInput(
                    "library",
                    "This thread is in the library already: find it there."
                    if saved.status == policy.PUBLISHED
                    else "Another member saved this thread to the library already; it is "
                    "their draft until they publish it.",
                )
        else:
            made = str(uuid.uuid4())
            library._insert_entry(conn, made, asked.community_id, who, None, kind, title, body,
                                  url, (), EMPTY, confirmed_findings, utc_now(),
                                  status=library.DRAFT)  # fmt: skip
            conn.execute(
                update(question).where(question.c.id == question_id).values(library_entry_id=made)
            )
            store.audit(
                conn,
                actor_id=who.id,
                action="library_draft_made",
                target_kind="library_entry",
                target_id=made,
            )
            store.audit(
                conn,
                actor_id=who.id,
                action="question_saved_to_library",
                target_kind="question",
                target_id=question_id,
            )
    return library.get(store, who, str(made))
