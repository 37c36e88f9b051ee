"""Questions between sessions, driven through the app's own widgets (apps/questions.py): a member
asks their community from the form, another answers in the thread, the asker marks what helped
and saves the thread to the library as a draft; text is shown as text; what is typed stays on
the page when the store refuses it, and is stored by the retry."""

import uuid

import pytest

from cop_widgets.apps.questions import questions_app
from cop_widgets.services import library, membership, questions, sessions
from cop_widgets.services.identity import find_or_add_person
from tests.find_widgets import button, buttons
from tests.signin import sign_in_as
from tests.test_save_failures import _short_busy_timeout, run_in_loop, until


@pytest.fixture
def cop(store):
    """Cora coordinates an open community that Ana and Ben joined; Ana also belongs to a
    second one (so she chooses where to ask)."""
    p = {n: find_or_add_person(store, n) for n in ("Cora", "Ana", "Ben")}
    made = sessions.create_community(store, p["Cora"], "Family support CoP")
    membership.set_join_policy(store, p["Cora"], made.id, "open", False)
    for name in ("Ana", "Ben"):
        membership.join(store, p[name], made.id)
    sessions.create_community(store, p["Ana"], "Kinship CoP")
    return made, p


def _open(settings, who, query=""):
    app = questions_app(settings=settings)
    app.query = query
    sign_in_as(app, who)
    return app


def _texts(widget) -> str:
    """Every HTML text and label under a widget, as the page shows it."""
    value = getattr(widget, "value", "")
    out = [value if isinstance(value, str) else "", getattr(widget, "description", "") or ""]
    out += [_texts(child) for child in getattr(widget, "children", ())]
    return " ".join(out)


def test_ask_answer_mark_what_helped_and_save_the_thread_to_the_library(settings, store, cop):
    made, p = cop
    ana = _open(settings, p["Ana"])
    form = ana.form
    assert form.community.layout.display != "none"  # two communities: she chooses
    assert [v for _, v in form.community.options][0] == made.id
    form.community.value = made.id
    form.save.click()
    assert "Give your question a title" in ana.status.message  # the field is named
    form.title.value = "Fathers who miss visits"
    form.body.value = "What do you try <b>first</b> & why?"
    form.save.click()
    assert "Your question is with your community" in ana.status.message, ana.status.message
    assert form.title.value == "" and form.body.value == "" and not ana.unsaved
    [asked] = questions.questions(store, p["Ana"]).questions
    assert ana.thread is not None and ana.thread.question.id == asked.id
    shown = _texts(ana.detail)
    assert "&lt;b&gt;first&lt;/b&gt; &amp; why?" in shown and "<b>first</b>" not in shown
    assert "No answers yet" in shown

    ben = _open(settings, p["Ben"])
    assert ben.form.community.layout.display == "none"  # one community: nothing to choose
    assert "Waiting for an answer (1)" in _texts(ben.results)
    button(ben.results, "Fathers who miss visits").click()
    assert not button(ben.detail, "This helped")  # only the asker marks
    assert not button(ben.detail, "Save to the library as a draft")  # nor saves (a member)
    ben.answer_box.value = "Ring Liam Nguyen on 0412 345 678 the day before."
    button(ben.detail, "Send your answer").click()
    assert "highlighted" in ben.status.message and ben.answer_box.value  # kept, not saved
    assert "Liam" in ben.answer_deid.findings.value
    ben.answer_box.value = "A text the day before, saying why we come."
    button(ben.detail, "Send your answer").click()
    assert "Your answer is added" in ben.status.message, ben.status.message
    assert ben.answer_box.value == "" and "A text the day before" in _texts(ben.detail)

    # the asker, from the link to the question: the answer is new, she marks it
    ana = _open(settings, p["Ana"], f"question={asked.id}")
    assert "New" in _texts(ana.detail) and "A text the day before" in _texts(ana.detail)
    button(ana.detail, "This helped").click()
    assert "this helped" in ana.status.message, ana.status.message
    assert button(ana.detail, "Take back “this helped”") is not None
    assert questions.thread(store, p["Ana"], asked.id).answers[0].helped

    button(ana.detail, "Save to the library as a draft").click()
    assert "Saved to the library as your draft" in ana.status.message, ana.status.message
    [draft] = library.my_drafts(store, p["Ana"])
    assert draft.title == "Fathers who miss visits" and "A text the day before" in draft.body
    assert f"library.ipynb?entry={draft.id}" in _texts(ana.detail)
    assert not button(ana.detail, "Save to the library as a draft")

    # back to the list: answered, saved; the home card's count is gone for her
    button(ana.detail, "Back to the questions").click()
    listed = _texts(ana.results)
    assert "Answered (1)" in listed and "1 helped" in listed and "saved to the library" in listed
    assert questions.waiting(store, p["Ana"]) == questions.Waiting(0, 0)


def test_the_asker_withdraws_a_question_after_confirming(settings, store, cop):
    made, p = cop
    asked = questions.ask(store, p["Ana"], str(uuid.uuid4()), made.id, "Withdraw me", "Why?")
    ana = _open(settings, p["Ana"], f"question={asked.id}")
    button(ana.detail, "Withdraw the question…").click()
    assert "cannot be brought back" in _texts(ana.detail)
    button(ana.detail, "Keep it").click()
    assert questions.get(store, p["Ana"], asked.id).title == "Withdraw me"
    button(ana.detail, "Withdraw the question…").click()
    button(ana.detail, "Yes, withdraw it").click()
    assert "withdrawn" in ana.status.message and ana.thread is None
    assert questions.questions(store, p["Ana"]).total == 0
    ben = _open(settings, p["Ben"], f"question={asked.id}")  # a stale link
    assert "You may not read this question" in ben.status.message


def test_someone_in_no_community_is_shown_the_way_to_one(settings, store):
    app = _open(settings, "Nina")
    assert "communities.ipynb" in app.body.children[0].value
    assert not buttons(app, "Ask your community")


@pytest.mark.sqlite_only  # the store is kept busy by a SQLite write lock
def test_a_refused_question_and_answer_stay_on_the_page_and_are_stored_by_the_retry(
    settings, store, cop, lock_for
):
    made, p = cop
    app = _open(settings, p["Ana"])
    _short_busy_timeout(app.store)

    async def scenario():
        app.form_saver.retry_first, app.form_saver.retry_max = 0.05, 0.2
        app.form.community.value = made.id
        app.form.title.value, app.form.body.value = "Kept title", "Kept question."
        lock = lock_for(app.store)
        app.form.save.click()
        assert "Not saved yet" in app.status.message and app.form_saver.dirty and app.unsaved
        assert (app.form.title.value, app.form.body.value) == ("Kept title", "Kept question.")
        lock.release()
        assert await until(lambda: not app.form_saver.dirty), "the retry never stored it"
        assert app.thread is not None and app.form.title.value == ""

        saver = app.answer_saver
        saver.retry_first, saver.retry_max = 0.05, 0.2
        app.answer_box.value = "Kept answer."
        lock = lock_for(app.store)
        button(app.detail, "Send your answer").click()
        assert "Not saved yet" in app.status.message and saver.dirty
        assert app.answer_box.value == "Kept answer."
        lock.release()
        assert await until(lambda: not saver.dirty), "the retry never stored the answer"
        assert app.answer_box.value == ""

    try:
        run_in_loop(scenario)
        [asked] = questions.questions(store, p["Ana"]).questions  # once
        assert (asked.title, asked.answers) == ("Kept title", 1)
    finally:
        app.store.dispose()
