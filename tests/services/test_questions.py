"""Questions between sessions (issue 15, item 4; services/questions.py): asking, answering,
marking what helped, the listing and the home card's counts, the text rules and the
de-identification check, withdrawing, and a thread saved to the library as its saver's draft.
On SQLite and PostgreSQL (tests/pg.py)."""

import uuid

import pytest
from sqlalchemy import select

from cop_widgets.errors import InvalidInput, NotAllowed, RecordNotFound
from cop_widgets.services import library, membership, questions, roster, sessions
from cop_widgets.services.identity import find_or_add_person
from cop_widgets.settings import MAX_ANSWER_CHARS
from cop_widgets.store import schema

NAMED = "Ring Jayden's mother on 0412 345 678 before the visit."


def _new() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def cop(store):
    """Cora coordinates an open community; Ana and Ben are members, Fay facilitates; Olga
    belongs to another community only; Gil is a global coordinator of none."""
    people = {n: find_or_add_person(store, n) for n in ("Cora", "Ana", "Ben", "Fay", "Olga", "Gil")}
    made = sessions.create_community(store, people["Cora"], "Family support CoP")
    membership.set_join_policy(store, people["Cora"], made.id, "open", False)
    for name in ("Ana", "Ben", "Fay"):
        membership.join(store, people[name], made.id)
    sessions.add_member(store, people["Cora"], made.id, people["Fay"].id, "facilitator")
    sessions.create_community(store, people["Olga"], "Elsewhere CoP")
    roster.grant_role(store, people["Gil"].id, "coordinator")
    return made, people


def _ask(store, who, community_id, title="Engaging a father", body="How do you start?", **kw):
    return questions.ask(store, who, _new(), community_id, title, body, **kw)


def _refusals(store, actor_id: str) -> list[tuple[str, str]]:
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(schema.audit_event.c.action, schema.audit_event.c.target_id).where(
                    schema.audit_event.c.actor_id == actor_id,
                    schema.audit_event.c.outcome == "refused",
                )
            )
        ]


# -- asking, answering, what helped ----------------------------------------------------------------
def test_a_member_asks_others_answer_and_the_asker_marks_what_helped(store, cop):
    made, p = cop
    asked = _ask(store, p["Ana"], made.id)
    assert (asked.asker_name, asked.community_name, asked.answers) == ("Ana", made.name, 0)
    assert questions.waiting(store, p["Ben"]) == questions.Waiting(0, 1)  # Ana's, unanswered
    assert questions.waiting(store, p["Ana"]) == questions.Waiting(0, 0)  # her own is not

    first = questions.answer(store, p["Ben"], _new(), asked.id, "Text him the day before.")
    second = questions.answer(store, p["Fay"], _new(), asked.id, "Ask what he wants first.")
    assert (first.author_name, first.helped, first.new) == ("Ben", False, False)
    listed = questions.questions(store, p["Ben"]).questions
    assert [(q.id, q.answers, q.helped, q.new_answers) for q in listed] == [(asked.id, 2, 0, 0)]
    assert questions.waiting(store, p["Ana"]) == questions.Waiting(2, 0)
    assert questions.get(store, p["Ana"], asked.id).new_answers == 2

    # the asker opens it: the answers show as new this once, then no longer count
    opened = questions.thread(store, p["Ana"], asked.id)
    assert [(a.author_name, a.new) for a in opened.answers] == [("Ben", True), ("Fay", True)]
    assert questions.waiting(store, p["Ana"]).new_answers == 0
    assert [a.new for a in questions.thread(store, p["Ana"], asked.id).answers] == [False, False]
    third = questions.answer(store, p["Cora"], _new(), asked.id, "A short text works.")
    assert questions.waiting(store, p["Ana"]).new_answers == 1
    assert [a.new for a in questions.thread(store, p["Ana"], asked.id).answers] == [
        False,
        False,
        True,
    ]

    questions.mark_helped(store, p["Ana"], second.id)
    questions.mark_helped(store, p["Ana"], second.id)  # asked again: nothing changes
    questions.mark_helped(store, p["Ana"], third.id)
    questions.unmark_helped(store, p["Ana"], third.id)
    shown = questions.thread(store, p["Ben"], asked.id)
    assert [a.helped for a in shown.answers] == [False, True, False]
    assert shown.question.helped == 1 and shown.question.new_answers == 0  # Ben is not its asker
    with pytest.raises(NotAllowed, match="mark which answers to this question helped"):
        questions.mark_helped(store, p["Ben"], first.id)
    mine = questions.answer(store, p["Ana"], _new(), asked.id, "He works shifts, by the way.")
    with pytest.raises(InvalidInput, match="Mark the answers others gave you"):
        questions.mark_helped(store, p["Ana"], mine.id)
    with pytest.raises(RecordNotFound):
        questions.mark_helped(store, p["Ana"], _new())
    with store.read() as conn:
        actions = conn.execute(
            select(schema.audit_event.c.action).where(
                schema.audit_event.c.target_id == asked.id,
                schema.audit_event.c.outcome == "ok",
            )
        ).scalars()
        assert sorted(set(actions)) == [
            "question_answer_helped",
            "question_answer_unmarked",
            "question_answered",
            "question_asked",
        ]


def test_only_the_communitys_members_read_and_answer(store, cop):
    made, p = cop
    asked = _ask(store, p["Ana"], made.id)
    with pytest.raises(NotAllowed, match="read this question"):
        questions.thread(store, p["Olga"], asked.id)
    with pytest.raises(NotAllowed, match="answer this question"):
        questions.answer(store, p["Olga"], _new(), asked.id, "From outside.")
    with pytest.raises(NotAllowed, match="ask this community a question"):
        _ask(store, p["Olga"], made.id)
    assert questions.questions(store, p["Olga"]).questions == []
    with pytest.raises(NotAllowed):
        questions.questions(store, p["Olga"], community_id=made.id)
    # a global coordinator reads every community's questions, but answers only as a member
    assert [q.id for q in questions.questions(store, p["Gil"]).questions] == [asked.id]
    assert questions.thread(store, p["Gil"], asked.id).question.title == "Engaging a father"
    with pytest.raises(NotAllowed):
        questions.answer(store, p["Gil"], _new(), asked.id, "As coordinator.")
    assert _refusals(store, p["Olga"].id)[:3] == [
        ("question.read", asked.id),
        ("question.answer", asked.id),
        ("question.ask", made.id),
    ]
    # leaving the community ends it
    membership.leave(store, p["Ben"], made.id)
    with pytest.raises(NotAllowed):
        questions.get(store, p["Ben"], asked.id)


def test_the_list_is_newest_first_by_community_with_its_counts(store, cop):
    made, p = cop
    other = sessions.create_community(store, p["Ana"], "Kinship CoP")
    older = _ask(store, p["Ana"], made.id, "First")
    newer = _ask(store, p["Ben"], made.id, "Second")
    elsewhere = _ask(store, p["Ana"], other.id, "Third")
    questions.answer(store, p["Ana"], _new(), newer.id, "An answer.")
    assert [q.title for q in questions.questions(store, p["Ana"]).questions] == [
        "Third",
        "Second",
        "First",
    ]
    page = questions.questions(store, p["Ana"], community_id=made.id, limit=1)
    assert ([q.id for q in page.questions], page.total) == ([newer.id], 2)
    page = questions.questions(store, p["Ana"], community_id=made.id, limit=1, offset=1)
    assert [q.id for q in page.questions] == [older.id]
    assert [q.id for q in questions.questions(store, p["Ben"]).questions] == [newer.id, older.id]
    assert {q.id: q.answered for q in questions.questions(store, p["Ana"]).questions} == {
        elsewhere.id: False,
        newer.id: True,
        older.id: False,
    }
    assert questions.communities_to_ask(store, p["Ana"]) == [
        ("Family support CoP", made.id),
        ("Kinship CoP", other.id),
    ]
    assert questions.communities_to_ask(store, p["Gil"]) == []


# -- what people type ---------------------------------------------------------------------------
def test_an_empty_title_question_or_answer_is_refused_naming_the_field(store, cop):
    made, p = cop
    empty = [("", "A question.", "title"), ("  ", "x", "title"), ("A title", "", "question"),
             ("A title", " \n ", "question")]  # fmt: skip
    for title, body, field in empty:
        with pytest.raises(InvalidInput) as refused:
            _ask(store, p["Ana"], made.id, title, body)
        assert refused.value.field == field
        assert ("title" if field == "title" else "question") in str(refused.value)
    with pytest.raises(InvalidInput, match="longer|under 200"):
        _ask(store, p["Ana"], made.id, "t" * 201)
    asked = _ask(store, p["Ana"], made.id)
    with pytest.raises(InvalidInput, match="Write your answer first") as refused:
        questions.answer(store, p["Ben"], _new(), asked.id, "   ")
    assert refused.value.field == "answer"
    with pytest.raises(InvalidInput, match="Question: the answer is 50,001 characters"):
        _ask(store, p["Ana"], made.id, body="x" * (MAX_ANSWER_CHARS + 1))
    with pytest.raises(InvalidInput, match="id is not valid"):
        questions.ask(store, p["Ana"], "not-an-id", made.id, "A title", "A question.")
    with store.read() as conn:
        assert conn.execute(select(schema.question.c.id)).scalars().all() == [asked.id]


def test_long_text_and_markup_are_kept_whole_as_typed(store, cop):
    made, p = cop
    long = ("A line of the question, then more.\n" * 2000)[:MAX_ANSWER_CHARS]
    asked = _ask(store, p["Ana"], made.id, "  Two   spaces\tand a tab  ", long)
    assert asked.title == "Two spaces and a tab" and asked.body == long
    markup = "<script>alert(1)</script> & <b>bold</b> 👩🏽‍⚕️ قالت"
    answered = questions.answer(store, p["Ben"], _new(), asked.id, markup)
    assert questions.thread(store, p["Ana"], asked.id).answers[0].body == markup == answered.body


def test_likely_identifiers_are_refused_until_confirmed(store, cop):
    made, p = cop
    with pytest.raises(InvalidInput, match="possible identifier") as refused:
        _ask(store, p["Ana"], made.id, body=NAMED)
    assert refused.value.field == "de-identification"
    asked = _ask(store, p["Ana"], made.id, body=NAMED, confirmed=True)
    with pytest.raises(InvalidInput, match="possible identifier"):
        questions.answer(store, p["Ben"], _new(), asked.id, NAMED)
    questions.answer(store, p["Ben"], _new(), asked.id, NAMED, confirmed=True)
    with store.read() as conn:
        assert conn.execute(select(schema.question.c.confirmed_findings)).scalar() >= 1
        assert conn.execute(select(schema.question_answer.c.confirmed_findings)).scalar() >= 1
    assert questions.texts_to_check("T", "Q") == {"Title": "T", "Question": "Q"}


def test_a_retried_save_is_kept_once_and_an_id_stays_its_writers(store, cop):
    made, p = cop
    qid, aid = _new(), _new()
    first = questions.ask(store, p["Ana"], qid, made.id, "Once", "Only once.")
    again = questions.ask(store, p["Ana"], qid, made.id, "Once", "Only once.")
    assert first == again
    questions.answer(store, p["Ben"], aid, qid, "One answer.")
    questions.answer(store, p["Ben"], aid, qid, "One answer.")
    assert questions.get(store, p["Ana"], qid).answers == 1
    with pytest.raises(RecordNotFound):
        questions.ask(store, p["Ben"], qid, made.id, "Mine now", "Taken over.")
    with pytest.raises(RecordNotFound):
        questions.answer(store, p["Fay"], aid, qid, "Taken over.")
    assert questions.thread(store, p["Ana"], qid).answers[0].body == "One answer."


def test_the_asker_withdraws_the_question_with_its_answers(store, cop):
    made, p = cop
    asked = _ask(store, p["Ana"], made.id)
    questions.answer(store, p["Ben"], _new(), asked.id, "An answer.")
    with pytest.raises(NotAllowed, match="withdraw this question"):
        questions.withdraw(store, p["Cora"], asked.id)
    questions.withdraw(store, p["Ana"], asked.id)
    with store.read() as conn:
        assert conn.execute(select(schema.question_answer.c.id)).all() == []
        assert conn.execute(select(schema.question.c.id)).all() == []
    with pytest.raises(NotAllowed):  # gone: nobody reads it
        questions.get(store, p["Ana"], asked.id)


# -- a thread to the library ---------------------------------------------------------------------
def test_a_thread_becomes_one_library_draft_of_its_saver(store, cop):
    made, p = cop
    asked = _ask(store, p["Ana"], made.id, "Fathers and first visits", "How do you start?")
    questions.answer(store, p["Ben"], _new(), asked.id, "Text him the day before.")
    helped = questions.answer(store, p["Fay"], _new(), asked.id, "Ask what he wants first.")
    questions.mark_helped(store, p["Ana"], helped.id)
    with pytest.raises(NotAllowed, match="save this question"):
        questions.save_to_library(store, p["Ben"], asked.id)  # a member, neither asker nor lead

    draft = questions.save_to_library(store, p["Ana"], asked.id)
    assert (draft.status, draft.title, draft.kind) == ("draft", "Fathers and first visits",
                                                       "approach")  # fmt: skip
    assert draft.body == (
        "Question\n\nHow do you start?\n\n\n"
        f"{questions.HELPED_HEADING}\n\nAsk what he wants first.\n\n\n"
        f"{questions.OTHERS_HEADING}\n\nText him the day before."
    )
    assert "Ben" not in draft.body and "Fay" not in draft.body  # answers without names
    assert questions.save_to_library(store, p["Ana"], asked.id).id == draft.id  # the same draft
    assert [d.id for d in library.my_drafts(store, p["Ana"])] == [draft.id]
    assert library.browse(store, p["Ben"]).entries == []  # a draft is its saver's alone
    assert questions.draft_texts(store, p["Ana"], asked.id)["Text"] == draft.body
    mine = questions.get(store, p["Ana"], asked.id)
    assert (mine.saved, mine.library_entry_id, mine.library_status) == (True, draft.id, "draft")
    theirs = questions.get(store, p["Fay"], asked.id)
    assert (theirs.saved, theirs.library_entry_id) == (True, None)
    with pytest.raises(InvalidInput, match="Another member saved this thread"):
        questions.save_to_library(store, p["Fay"], asked.id)

    # published from the library as any draft: now everyone opens it from the thread
    library.publish(store, p["Ana"], draft.id)
    assert questions.get(store, p["Ben"], asked.id).library_entry_id == draft.id
    with pytest.raises(InvalidInput, match="in the library already"):
        questions.save_to_library(store, p["Fay"], asked.id)

    # withdrawn from the library, the thread may be saved again (by a facilitator too)
    library.withdraw(store, p["Ana"], draft.id)
    assert questions.get(store, p["Ana"], asked.id).saved is False
    again = questions.save_to_library(store, p["Fay"], asked.id)
    assert again.id != draft.id and again.author_name == "Fay"
    # the asker withdraws the question: the draft stays its saver's
    questions.withdraw(store, p["Ana"], asked.id)
    assert [d.id for d in library.my_drafts(store, p["Fay"])] == [again.id]


def test_a_draft_of_a_named_thread_needs_the_confirmation_again(store, cop):
    made, p = cop
    asked = _ask(store, p["Ana"], made.id, body=NAMED, confirmed=True)
    with pytest.raises(InvalidInput, match="possible identifier"):
        questions.save_to_library(store, p["Ana"], asked.id)
    assert library.my_drafts(store, p["Ana"]) == []
    assert questions.save_to_library(store, p["Ana"], asked.id, confirmed=True).draft


def test_a_long_thread_keeps_each_answer_whole_and_says_what_was_left_out(store, cop):
    made, p = cop
    asked = _ask(store, p["Ana"], made.id, body="Q" * 100)
    words = ("alpha " * 50, "bravo " * 50, "charlie " * 37)  # 300 characters each
    answers = [questions.answer(store, p["Ben"], _new(), asked.id, w) for w in words]
    questions.mark_helped(store, p["Ana"], answers[2].id)
    t = questions.thread(store, p["Ana"], asked.id)
    text = questions.draft_text(t.question, t.answers, limit=900)
    # the one that helped first, then the others while they fit, each whole
    assert text.index(words[2].strip()) < text.index(words[0].strip()) and "bravo" not in text
    assert text.endswith("(1 more answer is in the thread.)") and len(text) <= 900
    whole = questions.draft_text(t.question, t.answers)
    assert all(a.body.strip() in whole for a in t.answers) and "more answer" not in whole
