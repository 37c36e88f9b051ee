"""The supervisor review app: a queue of reflections shared with me, reading, feedback, release.

Served by its own Voilà server with a token (`cop review`), never from the participants' tree.
Every text shown is escaped; the author's answers are shown as text, never as markup.
"""

from __future__ import annotations

import html
from datetime import datetime

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave
from cop_widgets.apps._base import AppShell, staying_until_saved
from cop_widgets.apps._fields import TakenText
from cop_widgets.apps._startup import open_for_app
from cop_widgets.apps.home import home_url
from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import InvalidInput
from cop_widgets.services import review, roster
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store

LABEL = {"description_width": "initial"}
BRIEF_CHARS = 80
NO_REVIEW_OPEN = "No reflection is open for review on this page: open it from the queue again."


def _day(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%d %b %Y") if iso else ""


def coverage(text: str, passed: bool) -> str:
    if passed:
        return "passed"
    if not text.strip():
        return "no answer"
    if len(text.strip()) < BRIEF_CHARS and "\n" not in text.strip():
        return "brief (one line)"
    return ""


class ReviewApp(AppShell):
    def __init__(
        self,
        store: Store | None,
        catalogue: Catalogue,
        environ=None,
        startup_error: str = "",
        settings: Settings | None = None,
    ):
        self.store, self.catalogue, self.environ = store, catalogue, environ
        self.settings = settings
        self.person: Person | None = None
        self.page = 1
        self.current: review.ReviewView | None = None
        self.fb_saver: Autosave | None = None  # the open feedback form's unsaved text
        super().__init__("<h1>Supervision review</h1>")
        self.begin(startup_error, environ)

    def home_link(self) -> str | None:
        # The review server has no home page: Home is the participants' server's (read when
        # the page is requested, so it names the host the supervisor's browser used).
        return home_url(self.settings, self.environ) if self.settings else None

    def _sign_in(self, who: Person) -> None:
        store = self.opened_store()
        roster.require_supervisor(store, who)  # before any supervisee data is read
        self.person = who
        self._build_filters()
        self.show_queue()

    # -- queue --------------------------------------------------------------------------------
    def _build_filters(self) -> None:
        store, person = self.signed_in()
        people = roster.supervisees(store, person)
        self.f_person = W.Dropdown(
            options=[("Everyone", "")] + [(n, i) for i, n in people],
            description="Supervisee",
            style=LABEL,
        )
        self.f_framework = W.Dropdown(
            options=[("Any model", "")] + [(f.name, f.id) for f in self.catalogue.items],
            description="Model",
            style=LABEL,
            layout=W.Layout(width="22rem"),
        )
        self.f_since = W.DatePicker(description="From", style=LABEL)
        self.f_until = W.DatePicker(description="To", style=LABEL)
        self.f_state = W.Dropdown(
            options=[
                ("Any state", ""),
                ("New", "new"),
                ("Feedback drafted", "feedback drafted"),
                ("Released", "released"),
            ],
            description="Review",
            style=LABEL,
        )
        self.anonymised = W.Checkbox(
            value=review.is_anonymised(store, person),
            description="Anonymised review (numbers, not names)",
            indent=False,
        )
        for name, w in (
            ("person", self.f_person),
            ("framework", self.f_framework),
            ("since", self.f_since),
            ("until", self.f_until),
            ("state", self.f_state),
            ("anonymised", self.anonymised),
        ):
            w.add_class(f"cop-filter-{name}")
            w.observe(lambda _: self.guard(self._filters_changed), "value")
        self.queue_box = W.VBox()
        self.pager = W.HTML()
        self.prev_button = W.Button(description="Previous page")
        self.next_button = W.Button(description="Next page")
        self.prev_button.on_click(lambda _: self.guard(self._turn, -1))
        self.next_button.on_click(lambda _: self.guard(self._turn, 1))
        self.prev_button.add_class("cop-prev-page")
        self.next_button.add_class("cop-next-page")

    def _filters_changed(self) -> None:
        store, person = self.signed_in()
        review.set_anonymised(store, person, self.anonymised.value)
        self.page = 1
        self.show_queue()

    def _turn(self, step: int) -> None:
        self.page += step
        self.show_queue()

    def label_for(self, item_or_name, number: int) -> str:
        return f"Reflection #{number:05d}" if self.anonymised.value else item_or_name

    def show_queue(self) -> None:
        store, person = self.signed_in()
        result = review.review_queue(
            store,
            person,
            supervisee_id=self.f_person.value or None,
            framework_id=self.f_framework.value or None,
            since=self.f_since.value,
            until=self.f_until.value,
            state=self.f_state.value or None,
            page=self.page,
        )
        self.page = result.page
        rows = []
        for item in result.items:
            who = self.label_for(item.author_name, item.number)
            button = W.Button(description="Open", tooltip=f"Open the reflection of {who}")
            button.add_class("cop-open-review")
            button.on_click(lambda _, rid=item.reflection_id: self.guard(self.open_reflection, rid))
            rows.append(
                W.HBox(
                    [
                        button,
                        W.HTML(
                            f"<bdi><strong>{html.escape(who)}</strong></bdi> · "
                            f"{html.escape(self.catalogue.name_of(item.framework_id))} · submitted "
                            f"{_day(item.submitted_at)} · <em>{html.escape(item.review_state)}</em>"
                        ),
                    ],
                    layout=W.Layout(align_items="center"),
                )
            )
        self.queue_box.children = rows or [W.HTML("<p>Nothing shared with you matches.</p>")]
        self.pager.value = (
            f"<p class='cop-meta'>Page {result.page} of {result.pages} · "
            f"{result.total} reflection(s), newest first</p>"
        )
        self.prev_button.disabled = result.page <= 1
        self.next_button.disabled = result.page >= result.pages
        self.current = None
        self.body.children = [
            W.HTML("<h2>Shared with you</h2>"),
            W.HBox([self.f_person, self.f_framework, self.f_state]),
            W.HBox([self.f_since, self.f_until, self.anonymised]),
            self.queue_box,
            W.HBox(
                [self.prev_button, self.pager, self.next_button],
                layout=W.Layout(align_items="center"),
            ),
        ]

    # -- one reflection -----------------------------------------------------------------------
    def open_reflection(self, reflection_id: str) -> None:
        store, person = self.signed_in()
        self.current = review.open_for_review(store, person, reflection_id)
        self._show_review()

    @property
    def _reviewing(self) -> review.ReviewView:
        """The reflection open for review; none on the queue (a stale button's message)."""
        if self.current is None:
            raise InvalidInput("reflection", NO_REVIEW_OPEN)
        return self.current

    def _show_review(self) -> None:
        self.drop_saver(self.fb_saver)
        self.fb_saver = None
        released = bool(self._reviewing.released_at)
        self.review_header = W.HTML(self._review_html())
        back = W.Button(description="Back to the queue")
        back.add_class("cop-back-queue")
        back.on_click(lambda _: self.guard(self._back_to_queue))
        children = [self.review_header]
        if not released:
            children.append(self._feedback_form())
        children.append(back)
        self.body.children = children

    def _back_to_queue(self) -> None:
        """Back to the queue, unless the feedback box holds text not yet stored."""
        saver = self.fb_saver
        if saver is not None and saver.dirty:
            if saver.retrying:
                message = staying_until_saved(saver, "Back to the queue", saved="added")
            else:
                message = (
                    "The feedback box still has text that is not added: press Add feedback "
                    "(or empty the box), then go back to the queue."
                )
            self.status.show(message, "warning")
            return
        self.drop_saver(saver)
        self.fb_saver = None
        self.show_queue()

    def _review_html(self) -> str:
        view = self._reviewing
        refl = view.reflection
        fw = self.catalogue.get(refl.framework_id)
        number = int(refl.id.replace("-", "")[:6], 16) % 100000
        who = self.label_for(view.author_name, number)
        stages = []
        for stage in fw.stages if fw else ():
            answer = refl.answer(stage.id)
            flag = coverage(answer.text, answer.passed)
            flag_html = f' <span class="cop-flag">({html.escape(flag)})</span>' if flag else ""
            stages.append(
                f"<h3>{html.escape(stage.label)}{flag_html}</h3>"
                f'<div class="cop-answer-text" dir="auto" style="white-space:pre-wrap">'
                f"{html.escape(answer.text)}</div>"
            )
        given = "".join(
            f"<li><strong>{html.escape(review.KIND_LABELS[f.kind])}:</strong> "
            f'<span style="white-space:pre-wrap">{html.escape(f.text)}</span></li>'
            for f in view.feedback
        )
        released = bool(view.released_at)
        return (
            f"<h2><bdi>{html.escape(who)}</bdi> · "
            f"{html.escape(self.catalogue.name_of(refl.framework_id))}</h2>"
            f"<p class='cop-meta'>Submitted {_day(refl.submitted_at)}"
            f"{' · feedback released ' + _day(view.released_at) if released else ''}</p>"
            + "".join(stages)
            + (f"<h3>Your feedback</h3><ul class='cop-feedback'>{given}</ul>" if given else "")
        )

    def _feedback_form(self) -> W.Widget:
        kinds = [(label, kind) for kind, label in review.KIND_LABELS.items()]
        self.fb_kind = W.Dropdown(options=kinds, description="Kind", style=LABEL)
        self.fb_text = W.Textarea(
            description="Feedback",
            style=LABEL,
            layout=W.Layout(width="auto", flex="1 1 auto", height="6em"),
        )
        self.fb_kind.add_class("cop-feedback-kind")
        self.fb_text.add_class("cop-feedback-text")
        store, person = self.signed_in()
        saved = review.bank(store, person)
        self.fb_bank = W.Dropdown(
            options=[("Insert a saved comment…", "")]
            + [(f"{review.KIND_LABELS[k]}: {t[:60]}", cid) for cid, k, t in saved],
            description="Comment bank",
            style=LABEL,
            layout=W.Layout(width="30rem"),
        )
        self.fb_bank.add_class("cop-bank")
        self._bank_text = {cid: (k, t) for cid, k, t in saved}

        def insert(change):
            if change["new"] in self._bank_text:
                self.fb_kind.value, self.fb_text.value = self._bank_text[change["new"]]

        self.fb_bank.observe(insert, "value")
        add = W.Button(description="Add feedback", button_style="primary")
        keep = W.Button(description="Save to my comment bank")
        depth = W.Dropdown(
            options=[("No level (optional)", "")]
            + [(label, key) for key, label in review.DEPTH_LABELS.items()],
            value=self._reviewing.depth_level or "",
            description="Depth (Hatton & Smith, holistic, for dialogue, not a score)",
            style=LABEL,
        )
        release = W.Button(description="Release feedback to the author", button_style="success")
        # Release is final (the author sees it; no more feedback can be added): asked first.
        self.release_question = W.HTML()
        yes = W.Button(description="Yes, release", button_style="danger")
        no = W.Button(description="Not yet")
        self.release_confirm = W.VBox([self.release_question, W.HBox([yes, no])])
        self.release_confirm.layout.display = "none"
        self.release_button = release
        for name, w in (
            ("add", add),
            ("keep", keep),
            ("depth", depth),
            ("release", release),
            ("release-yes", yes),
            ("release-no", no),
            ("release-confirm", self.release_confirm),
        ):
            w.add_class(f"cop-feedback-{name}")
        rid = self._reviewing.reflection.id
        # The text is read at the click (the box sends it when the person leaves it, ahead of
        # the click), stored, and the box is cleared only then and only if it still holds it.
        self.fb_fields = TakenText(self.fb_text)
        self.fb_saver = self.saver(self.fb_text)
        self.bank_saver = self.track(Autosave(None, delay=None, on_failure=self.not_saved_yet))
        add.on_click(lambda _: self.guard(self._add, rid))
        keep.on_click(lambda _: self.guard(self._keep))
        depth.observe(lambda c: self.guard(self._depth, rid, c["new"] or None), "value")
        release.on_click(lambda _: self.guard(self._ask_release))
        yes.on_click(lambda _: self.guard(self._release, rid))
        no.on_click(lambda _: self.guard(self._hide_release_question))
        return W.VBox(
            [
                W.HTML("<h3>Give feedback</h3>"),
                self.fb_bank,
                W.HBox([self.fb_kind]),
                self.fb_text,
                W.HBox([add, keep]),
                depth,
                release,
                self.release_confirm,
            ]
        )

    def _add(self, reflection_id: str) -> None:
        """Add the feedback in the box; refused by the store, it stays in the box, marked
        unsaved, and is retried in the background until the store takes it."""
        saver = self.fb_saver
        if saver is None:  # a stale button: its form went (released, or back to the queue)
            raise InvalidInput("reflection", NO_REVIEW_OPEN)
        taken, kind = self.fb_fields.take(), self.fb_kind.value
        fields = self.fb_fields
        saver.run(lambda: self._store_feedback(reflection_id, kind, taken, fields))

    def _store_feedback(
        self, reflection_id: str, kind: str, taken: tuple[str, ...], fields: TakenText
    ) -> None:
        store, person = self.signed_in()
        view = review.add_feedback(store, person, reflection_id, kind, taken[0])
        fields.stored(taken)  # cleared now, and only if the box still holds exactly that
        if self.current is not None and self.current.reflection.id == reflection_id:
            self.current = view
            self.review_header.value = self._review_html()
        self.status.show("Feedback added (not yet visible to the author).", "ok")

    def _keep(self) -> None:
        """Save a copy of the box's text to the comment bank. The text stays in the box: the
        bank keeps comments for reuse, giving this feedback to the author is Add feedback."""
        kind, text = self.fb_kind.value, self.fb_text.value
        self.bank_saver.run(lambda: self._store_in_bank(kind, text))

    def _store_in_bank(self, kind: str, text: str) -> None:
        store, person = self.signed_in()
        review.add_to_bank(store, person, kind, text)
        saved = review.bank(store, person)
        self._bank_text = {cid: (k, t) for cid, k, t in saved}
        self.fb_bank.options = [("Insert a saved comment…", "")] + [
            (f"{review.KIND_LABELS[k]}: {t[:60]}", cid) for cid, k, t in saved
        ]
        self.status.show(
            "Saved to your comment bank. The feedback is still in the box: press Add feedback "
            "to give it to this author.",
            "ok",
        )

    def _release_blocked(self) -> str:
        saver = self.fb_saver
        if saver is not None and saver.retrying:
            return (
                "Not released: a feedback is not saved yet (retrying). Release it once it says "
                "added."
            )
        # no review open on this page (a stale button or a forged message): the service decides
        typed = getattr(self, "fb_text", None)
        if typed is not None and typed.value.strip():
            return (
                "Not released: the feedback box still has text that is not added. Press Add "
                "feedback (or empty the box) first."
            )
        return ""

    def _ask_release(self) -> None:
        blocked = self._release_blocked()
        if blocked:
            raise InvalidInput("release", blocked)
        count = len(self._reviewing.feedback)
        self.release_question.value = (
            f"<p><strong>Release your feedback ({count} item{'s' if count != 1 else ''}) to "
            "the author now?</strong> They will see it in My reflections, and no more feedback "
            "can be added to this reflection after that.</p>"
        )
        self.release_confirm.layout.display = None
        self.release_button.layout.display = "none"

    def _hide_release_question(self) -> None:
        self.release_confirm.layout.display = "none"
        self.release_button.layout.display = None

    def _depth(self, reflection_id: str, level: str | None) -> None:
        store, person = self.signed_in()
        self.current = review.set_depth(store, person, reflection_id, level)
        self.status.show("Depth level noted.", "ok")

    def _release(self, reflection_id: str) -> None:
        blocked = self._release_blocked()
        if blocked:
            self._hide_release_question()
            raise InvalidInput("release", blocked)
        store, person = self.signed_in()
        self.current = review.release(store, person, reflection_id)
        self.status.show("Feedback released: the author sees it in My reflections.", "ok")
        self._show_review()


def review_app(settings: Settings | None = None, environ=None) -> ReviewApp:
    opened = open_for_app(
        settings, environ, "The review app", lambda s: load_frameworks(s.frameworks_dir)
    )
    catalogue = opened.loaded or Catalogue((), ())
    return ReviewApp(
        opened.store, catalogue, environ, startup_error=opened.error, settings=opened.settings
    )
