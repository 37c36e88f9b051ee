"""Questions between sessions: ask your community a practice question, answer others', mark the
answers that helped, and save a good thread to the practice library as a draft
(services/questions.py holds the rules; policy decides who).

Nothing typed is lost: the question form and the answer box are stored with AppShell.saver (a
refused save stays on the page, marked unsaved, and is retried until the store takes it) and
cleared only once stored (TakenText). Question and answer ids are made when their form opens,
so a retried save never adds a second copy. Every text passes the de-identification check
before it is saved, with the widget the library uses; the thread's library draft is checked
again as a whole before it is made.
"""

from __future__ import annotations

import html
import uuid
from urllib.parse import parse_qs, quote

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave
from cop_widgets.apps._base import AppShell
from cop_widgets.apps._fields import TakenText
from cop_widgets.apps._startup import open_for_app
from cop_widgets.errors import InvalidInput
from cop_widgets.services import questions, sessions
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets.deid_check import DeidCheck

LABEL = {"description_width": "initial"}
EXCERPT_CHARS = 200
ALL = ""  # the "all my communities" choice
NO_QUESTION_OPEN = "No question is open on this page: open it from the list again."
SAVE_TO_LIBRARY = "Save to the library as a draft"
CHECK_AGAIN = (
    "Check the highlighted words: rephrase them, or tick the box if they do not identify "
    "anyone, then press {button} again."
)

QUESTIONS_STYLE = """
<style>
.cop-questions .cop-q-row { border-top: 1px solid #d1d5db; padding: 0.4em 0; }
.cop-questions .cop-q-row .widget-button { text-align: left; font-weight: 600; }
.cop-questions .cop-pill { display: inline-block; padding: 0 0.5em; margin: 0 0.3em 0.2em 0;
  border-radius: 1em; border: 1px solid #6b7280; background: #f3f4f6; color: #1b1b1b; }
.cop-questions .cop-pill-helped { background: #0b4d1f; border-color: #0b4d1f; color: #fff; }
.cop-questions .cop-pill-new { background: #1d4ed8; border-color: #1d4ed8; color: #fff; }
.cop-questions .cop-q-body, .cop-questions .cop-q-excerpt, .cop-questions .cop-q-answer-body {
  white-space: pre-wrap; overflow-wrap: anywhere; }
.cop-questions .cop-q-answer { border-left: 3px solid #9ca3af; padding-left: 0.6em;
  margin: 0.6em 0; }
.cop-questions .cop-q-answer-helped { border-left-color: #0b4d1f; }
.cop-questions a { color: #1d4ed8; text-decoration: underline; }
</style>
"""


def _wide() -> W.Layout:
    """A layout of its own for each field (one field hidden must not hide the others)."""
    return W.Layout(width="40rem")


def _day(stamp: str) -> str:
    return stamp[:10]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def library_href(entry_id: str) -> str:
    """Where a thread's draft opens: the library app with the entry chosen."""
    return f"library.ipynb?entry={quote(entry_id)}"


class AskForm(W.VBox):
    """The "Ask your community" form: community (a choice only for members of several),
    title, question, the de-identification check and the button."""

    def __init__(self, communities: list[tuple[str, str]]):
        self.question_id = str(uuid.uuid4())
        self.community = W.Dropdown(
            options=communities,
            value=communities[0][1] if communities else None,
            description="Community",
            style=LABEL,
            layout=_wide(),
        )
        self.title = W.Text(
            description="Title",
            placeholder="What it is about, in a line",
            style=LABEL,
            layout=_wide(),
        )
        self.body = W.Textarea(
            description="Your question",
            placeholder="What you are facing and what you would like to know (no names or "
            "places: roles and age bands)",
            style=LABEL,
            layout=W.Layout(width="40rem", height="9em"),
        )
        self.deid = DeidCheck()
        self.save = W.Button(description="Ask your community", button_style="primary")
        for name, w in (
            ("community", self.community),
            ("title", self.title),
            ("body", self.body),
            ("save", self.save),
        ):
            w.add_class(f"cop-q-form-{name}")
        if len(communities) < 2:  # one community (or none): nothing to choose
            self.community.layout.display = "none"
        super().__init__([self.community, self.title, self.body, self.deid, self.save])
        self.add_class("cop-q-form")
        self.fields = TakenText(self.title, self.body)

    def reset(self) -> None:
        """After a store: a new question id, nothing to check (the text fields were cleared by
        TakenText, only where unchanged)."""
        self.question_id = str(uuid.uuid4())
        self.deid.review({})


class QuestionsApp(AppShell):
    def __init__(
        self, store: Store | None, settings: Settings, environ=None, startup_error: str = ""
    ):
        self.store, self.settings, self.environ = store, settings, environ
        self.person: Person | None = None
        self.thread: questions.Thread | None = None
        self.limit = questions.PAGE_SIZE
        self.answer_saver: Autosave | None = None
        self.answer_for: str | None = None
        self.confirming_withdraw = False
        super().__init__(QUESTIONS_STYLE + "<h1>Questions between sessions</h1>")
        self.add_class("cop-questions")
        self.begin(startup_error, environ)

    # -- signing in -------------------------------------------------------------------------------
    def _sign_in(self, person: Person) -> None:
        self.person = person
        store = self.opened_store()
        readable = sessions.communities(store, person)
        self.mine = questions.communities_to_ask(store, person)
        if not readable:
            self.body.children = [
                W.HTML(
                    "<p class='cop-q-intro'>Between sessions, members ask their community a "
                    "practice question and answer each other's. Join a community to ask and "
                    "answer: see <a href='communities.ipynb'>Communities</a>.</p>"
                )
            ]
            return
        choices = [("All my communities", ALL)] + [(c.name, c.id) for c in readable]
        self.picker = W.Dropdown(
            options=choices, value=ALL, description="Community", style=LABEL, layout=_wide()
        )
        self.picker.add_class("cop-q-community")
        self.picker.observe(lambda _: self.guard(self.refresh), "value")
        if len(choices) == 2:  # one community: nothing to choose
            self.picker.layout.display = "none"
        self.results = W.VBox()
        self.results.add_class("cop-q-list")
        self.more = W.Button(description="Show more")
        self.more.add_class("cop-q-more")
        self.more.on_click(lambda _: self.guard(self._show_more))
        self.list_box = W.VBox([self.picker, self.results, self.more])
        self.detail = W.VBox()
        self.detail.add_class("cop-q-thread")
        self._build_ask()
        self.body.children = [self.ask_box, self.list_box, self.detail]
        self.refresh()
        opened = (parse_qs(self.query).get("question") or [""])[0]
        if opened:
            self.open_question(opened)

    # -- the list ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """The questions of the community chosen (or of all the person's), those waiting for
        an answer first, each part newest first."""
        store, person = self.signed_in()
        page = questions.questions(
            store, person, community_id=self.picker.value or None, limit=self.limit
        )
        waiting = [q for q in page.questions if not q.answered]
        answered = [q for q in page.questions if q.answered]
        rows: list[W.Widget] = []
        if not page.total:
            rows.append(
                W.HTML(
                    "<h2>Questions</h2><p class='cop-meta' role='status'>No questions yet: ask "
                    "the first one above.</p>"
                )
            )
        if waiting:
            rows.append(W.HTML(f"<h2>Waiting for an answer ({len(waiting)})</h2>"))
            rows += [self._row(q) for q in waiting]
        if answered:
            rows.append(W.HTML(f"<h2>Answered ({len(answered)})</h2>"))
            rows += [self._row(q) for q in answered]
        self.results.children = rows
        self.more.layout.display = None if len(page.questions) < page.total else "none"

    def _show_more(self) -> None:
        self.limit += questions.PAGE_SIZE
        self.refresh()

    def _row(self, q: questions.Question) -> W.VBox:
        title = q.title if len(q.title) <= 120 else q.title[:119] + "…"
        open_it = W.Button(description=title, tooltip="Open this question and its answers")
        open_it.add_class("cop-q-open")
        open_it.on_click(lambda _, qid=q.id: self.guard(self.open_question, qid))
        excerpt = q.body if len(q.body) <= EXCERPT_CHARS else q.body[:EXCERPT_CHARS].rstrip() + "…"
        row = W.VBox(
            [
                open_it,
                W.HTML(
                    self._meta_html(q)
                    + f"<div class='cop-q-excerpt'><bdi>{html.escape(excerpt)}</bdi></div>"
                ),
            ]
        )
        row.add_class("cop-q-row")
        return row

    def _meta_html(self, q: questions.Question) -> str:
        answers = _plural(q.answers, "answer", "answers") if q.answers else "no answers yet"
        parts = [
            f"<bdi>{html.escape(q.community_name)}</bdi>",
            f"asked by <bdi>{html.escape(q.asker_name)}</bdi>",
            _day(q.created_at),
            answers,
        ]
        if q.helped:
            parts.append(f"{q.helped} helped")
        if q.saved:
            parts.append("saved to the library")
        fresh = _plural(q.new_answers, "new answer", "new answers")
        new = f" <span class='cop-pill cop-pill-new'>{fresh}</span>" if q.new_answers else ""
        return f"<p class='cop-meta'>{' · '.join(parts)}{new}</p>"

    # -- asking -----------------------------------------------------------------------------------
    def _build_ask(self) -> None:
        self.form = AskForm(self.mine)
        self.form_saver = self.saver(self.form.title, self.form.body)
        self.form.save.on_click(lambda _: self.guard(self._ask))
        if self.mine:
            self.ask_box = W.VBox(
                [
                    W.HTML(
                        "<h2>Ask your community</h2><p class='cop-meta'>A practice question "
                        "for between sessions: what you are facing, what you have tried, what "
                        "you would like to know. Keep it de-identified: roles and age bands, "
                        "no names or places.</p>"
                    ),
                    self.form,
                ]
            )
        else:
            self.ask_box = W.VBox(
                [
                    W.HTML(
                        "<h2>Ask your community</h2><p class='cop-meta'>Members of a community "
                        "ask it questions: <a href='communities.ipynb'>join one</a>.</p>"
                    )
                ]
            )
        self.ask_box.add_class("cop-q-ask")

    def _ask(self) -> None:
        f = self.form
        taken = f.fields.take()
        community_id = f.community.value
        if not community_id:
            raise InvalidInput("community", "Choose the community to ask.")
        title, body = questions.question_fields(*taken)  # a missing field is named at once
        if not f.deid.review(questions.texts_to_check(title, body)):
            self.status.show(CHECK_AGAIN.format(button="Ask your community"), "warning")
            return
        question_id = f.question_id
        self.form_saver.run(lambda: self._store_question(taken, question_id, community_id))

    def _store_question(self, taken: tuple[str, ...], question_id: str, community_id: str) -> None:
        store, person = self.signed_in()
        title, body = taken
        questions.ask(store, person, question_id, community_id, title, body, confirmed=True)
        self.form.fields.stored(taken)
        self.form.reset()
        self.open_question(question_id)
        self.status.show(
            "Your question is with your community: their answers will show here, and on your "
            "home page.",
            "ok",
        )

    # -- one thread -------------------------------------------------------------------------------
    @property
    def _shown(self) -> questions.Thread:
        """The thread open on the page; none once it went back to the list (a stale
        button's message)."""
        if self.thread is None:
            raise InvalidInput("question", NO_QUESTION_OPEN)
        return self.thread

    def open_question(self, question_id: str) -> None:
        store, person = self.signed_in()
        self.thread = questions.thread(store, person, question_id)
        self.confirming_withdraw = False
        self.library_deid = DeidCheck()
        if self.answer_saver is None or not self.answer_saver.retrying:
            # an answer box of this question's (one whose refused save is retrying stays)
            self.drop_saver(self.answer_saver)
            self.answer_box = W.Textarea(
                description="Your answer",
                placeholder="What you would try, what worked for you (no names or places)",
                style=LABEL,
                layout=W.Layout(width="40rem", height="7em"),
            )
            self.answer_box.add_class("cop-q-answer-text")
            self.answer_deid = DeidCheck()
            self.answer_fields = TakenText(self.answer_box)
            self.answer_saver = self.saver(self.answer_box)
            self.answer_id = str(uuid.uuid4())
            self.answer_for = question_id
        self._show_thread()
        self.list_box.layout.display = "none"
        self.ask_box.layout.display = "none"

    def back_to_list(self) -> None:
        self.drop_saver(self.answer_saver)
        if self.answer_saver is not None and not self.answer_saver.retrying:
            self.answer_saver = None
        self.thread = None
        self.detail.children = []
        self.list_box.layout.display = None
        self.ask_box.layout.display = None
        self.refresh()

    def _reload(self) -> None:
        store, person = self.signed_in()
        self.thread = questions.thread(store, person, self._shown.question.id)
        self._show_thread()

    def _button(self, label: str, key: str, action, *args, style: str = "") -> W.Button:
        button = W.Button(description=label, button_style=style)
        button.add_class(f"cop-q-{key}")
        button.on_click(lambda _: self.guard(action, *args))
        return button

    def _question_html(self, q: questions.Question) -> str:
        return (
            f"<h2><bdi>{html.escape(q.title)}</bdi></h2>"
            + self._meta_html(q)
            + f"<div class='cop-q-body'><bdi>{html.escape(q.body)}</bdi></div>"
        )

    def _show_thread(self) -> None:
        t = self._shown
        q = t.question
        store, person = self.signed_in()
        can = questions.allowed_actions(store, person, q.id)
        parts: list[W.Widget] = [
            self._button("Back to the questions", "back", self.back_to_list),
            W.HTML(self._question_html(q)),
        ]
        parts += self._answers_part(t, "question.mark_helped" in can)
        if "question.answer" in can and self.answer_for == q.id:
            send = self._button("Send your answer", "answer-send", self._answer, style="primary")
            parts += [W.HTML("<h3>Your answer</h3>"), self.answer_box, self.answer_deid, send]
        parts += self._library_part(q, "question.save_to_library" in can)
        if "question.withdraw" in can:
            parts += self._withdraw_part(q)
        self.detail.children = parts

    def _answers_part(self, t: questions.Thread, marks: bool) -> list[W.Widget]:
        if not t.answers:
            return [
                W.HTML("<h3>Answers</h3><p class='cop-meta'>No answers yet.</p>"),
            ]
        out: list[W.Widget] = [W.HTML(f"<h3>Answers ({len(t.answers)})</h3>")]
        for a in t.answers:
            pills = ""
            if a.helped:
                pills += "<span class='cop-pill cop-pill-helped'>This helped</span>"
            if a.new:
                pills += "<span class='cop-pill cop-pill-new'>New</span>"
            box: list[W.Widget] = [
                W.HTML(
                    f"<p class='cop-meta'><bdi>{html.escape(a.author_name)}</bdi> · "
                    f"{_day(a.created_at)} {pills}</p>"
                    f"<div class='cop-q-answer-body'><bdi>{html.escape(a.body)}</bdi></div>"
                )
            ]
            if marks and a.author_id != t.question.asker_id:
                box.append(
                    self._button("Take back “this helped”", "unhelped", self._helped, a.id,
                                 False)
                    if a.helped
                    else self._button("This helped", "helped", self._helped, a.id, True,
                                      style="success")
                )  # fmt: skip
            answer = W.VBox(box)
            answer.add_class("cop-q-answer")
            if a.helped:
                answer.add_class("cop-q-answer-helped")
            out.append(answer)
        return out

    def _library_part(self, q: questions.Question, may_save: bool) -> list[W.Widget]:
        if q.library_entry_id:
            mine = q.library_status == "draft"
            what = "Open your draft in the library" if mine else "Open it in the library"
            done = (
                "Saved to the library as your draft: only you see it until you publish it there."
                if mine
                else "This thread is in the library."
            )
            return [
                W.HTML(
                    f"<p class='cop-q-library'>{done} <a class='cop-q-library-link' "
                    f"href='{html.escape(library_href(q.library_entry_id), True)}' "
                    f"target='_blank' rel='noopener'>{what}</a></p>"
                )
            ]
        if q.saved:
            return [
                W.HTML(
                    "<p class='cop-q-library cop-meta'>Another member saved this thread to "
                    "the library.</p>"
                )
            ]
        if not may_save:
            return []
        return [
            W.HTML(
                "<h3>To the practice library</h3><p class='cop-meta'>Save this thread as a "
                "library draft: the question, then the answers (those that helped first), "
                "without who wrote them. You edit and publish it in the library.</p>"
            ),
            self.library_deid,
            self._button(SAVE_TO_LIBRARY, "save-library", self._save_to_library, q.id),
        ]

    def _withdraw_part(self, q: questions.Question) -> list[W.Widget]:
        if not self.confirming_withdraw:
            return [self._button("Withdraw the question…", "withdraw", self._ask_withdraw)]
        return [
            W.HTML(
                "<p role='alert'>Withdraw this question? It is deleted with "
                f"{_plural(q.answers, 'answer', 'answers')}, and cannot be brought back.</p>"
            ),
            W.HBox(
                [
                    self._button(
                        "Yes, withdraw it", "withdraw-confirm", self._withdraw, q.id, style="danger"
                    ),
                    self._button("Keep it", "withdraw-cancel", self._keep),
                ]
            ),  # fmt: skip
        ]

    # -- actions on a thread ----------------------------------------------------------------------
    def _answer(self) -> None:
        taken = self.answer_fields.take()
        questions.answer_field(taken[0])  # "write your answer first", before anything else
        if not self.answer_deid.review({questions.ANSWER_LABEL: taken[0]}):
            self.status.show(CHECK_AGAIN.format(button="Send your answer"), "warning")
            return
        saver, question_id = self.answer_saver, self.answer_for
        if saver is None or question_id is None:  # a stale button: the box went with its thread
            raise InvalidInput("question", NO_QUESTION_OPEN)
        answer_id = self.answer_id
        saver.run(lambda: self._store_answer(taken, question_id, answer_id))

    def _store_answer(self, taken: tuple[str, ...], question_id: str, answer_id: str) -> None:
        store, person = self.signed_in()
        questions.answer(store, person, answer_id, question_id, taken[0], confirmed=True)
        self.answer_fields.stored(taken)
        self.answer_id = str(uuid.uuid4())
        self.answer_deid.review({})
        self.status.show("Your answer is added.", "ok")
        if self.thread is not None and self.thread.question.id == question_id:
            self._reload()

    def _helped(self, answer_id: str, yes: bool) -> None:
        store, person = self.signed_in()
        questions.mark_helped(store, person, answer_id, yes)
        if self.thread is not None:
            self._reload()
        self.status.show(
            "Marked: this helped. Its writer and the community will see it." if yes else
            "Taken back.",
            "ok",
        )  # fmt: skip

    def _save_to_library(self, question_id: str) -> None:
        store, person = self.signed_in()
        texts = questions.draft_texts(store, person, question_id)
        if not self.library_deid.review(texts):
            self.status.show(
                "The thread holds words that may identify someone (highlighted): tick the box "
                f"if they do not identify anyone, then press {SAVE_TO_LIBRARY} again.",
                "warning",
            )
            return
        questions.save_to_library(store, person, question_id, confirmed=True)
        if self.thread is not None and self.thread.question.id == question_id:
            self._reload()
        self.status.show(
            "Saved to the library as your draft: open it there (the link below) to edit and "
            "publish it. Only you see it until then.",
            "ok",
        )

    def _ask_withdraw(self) -> None:
        self.confirming_withdraw = True
        self._show_thread()

    def _keep(self) -> None:
        self.confirming_withdraw = False
        self._show_thread()

    def _withdraw(self, question_id: str) -> None:
        store, person = self.signed_in()
        questions.withdraw(store, person, question_id)
        self.back_to_list()
        self.status.show("Your question is withdrawn, with its answers.", "ok")


def questions_app(settings: Settings | None = None, environ=None) -> QuestionsApp:
    opened = open_for_app(settings, environ, "The questions page")
    return QuestionsApp(opened.store, opened.settings, environ, startup_error=opened.error)
