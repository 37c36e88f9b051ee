"""The reflection app: sign in, pick a framework, write stage by stage, save, submit, reopen."""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from urllib.parse import parse_qs

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave
from cop_widgets.apps._base import AppShell, catalogue_problems_html, staying_until_saved
from cop_widgets.apps._startup import open_for_app
from cop_widgets.apps._value_story import day_text, today_in
from cop_widgets.content.frameworks import Framework, load_frameworks
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import InvalidInput
from cop_widgets.services import feedback, reflections, review, value_stories
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets import ReflectionStepper
from cop_widgets.widgets.deid_check import DeidCheck
from cop_widgets.widgets.reflection_stepper import VISIBILITY_CHOICES
from cop_widgets.widgets.shared_look import SharedLook

_EMPTY = reflections.Answer("")


def _done(answer: reflections.Answer) -> bool:
    return answer.answered or answer.passed


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).strftime("%d %b %Y %H:%M UTC")


def _list_row(look: SharedLook, button: W.Button, head_html: str, preview: str) -> W.HBox:
    """One reflection in a list: its button, a line about it, and the start of its text."""
    label = W.HTML(
        f"<div>{head_html}<br><bdi>{html.escape(preview)}</bdi></div>",
        layout=look.layout(flex="1 1 auto"),
        style=look.style_of(W.HTML),
    )
    return W.HBox([button, label], layout=look.layout(align_items="center"))


class ReflectionApp(AppShell):
    """Composes the sign-in panel, the home panel (new + my reflections) and the stepper."""

    unexpected_save_failure = "Autosave failed; your text is kept. Press Save draft."

    def __init__(
        self,
        store: Store | None,
        catalogue: Catalogue,
        environ=None,
        autosave_seconds: float = 3.0,
        startup_error: str = "",
        timezone: str = "UTC",
    ):
        self.store = store
        self.catalogue = catalogue
        self.environ = environ
        self.timezone = timezone  # the community's: the day a value-creation story comes back
        self.intention: W.VBox | None = None
        self.person: Person | None = None
        self.stepper: ReflectionStepper | None = None
        self.draft_id: str | None = None
        self.autosave = Autosave(
            self._autosave_now, delay=autosave_seconds, on_failure=self.not_saved_yet
        )
        self.deid = DeidCheck()
        super().__init__(
            "<h1>Reflection</h1>", self.look.html(catalogue_problems_html(catalogue, "framework"))
        )
        self.track(self.autosave)  # the page asks before it is left while a draft is unsaved
        self.begin(startup_error, environ)

    # -- sign in: the person the server authenticated ----------------------------------------------
    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.show_home()
        # ?reflection=<id> (the links of My page): open that reflection of this person's, a
        # draft where they stopped; get_mine refuses (and audits) anyone else's.
        wanted = (parse_qs(self.query).get("reflection") or [""])[0]
        if wanted:
            self.guard(self.open_reflection, wanted[:64])

    # -- home: start new, my reflections --------------------------------------------------------
    def show_home(self) -> None:
        self.autosave.cancel()
        self.stepper = None
        self.draft_id = None
        options = [(f.name, f.id) for f in self.catalogue.items]
        look = self.look
        self.framework_picker = W.Dropdown(
            options=options,
            description="Reflective model",
            style=look.labelled(W.Dropdown),
            layout=look.layout(width="28rem"),
        )
        self.framework_picker.add_class("cop-framework")
        summary = look.html()

        def describe(_=None):
            fw = self.catalogue.get(self.framework_picker.value)
            summary.value = (
                f'<p class="cop-meta">{html.escape(fw.summary)} {len(fw.stages)} stages, about '
                f"{fw.suggested_total_minutes} minutes.</p>"
                if fw
                else ""
            )

        self.framework_picker.observe(describe, "value")
        describe()
        start = W.Button(
            description="Start a new reflection",
            button_style="primary",
            layout=look.layout(),
            style=look.style_of(W.Button),
        )
        start.add_class("cop-new")
        start.on_click(lambda _: self.guard(self.start_new, self.framework_picker.value))
        self.body.children = [
            look.html("<h2>New reflection</h2>"),
            W.HBox([self.framework_picker, start], layout=look.layout()),
            summary,
            look.html("<h2>My reflections</h2>"),
            self._my_reflections(),
            *self._shared_with_me(),
        ]

    def _shared_with_me(self) -> list[W.Widget]:
        """Reflections others shared with this person's community or session (policy)."""
        store, person = self.signed_in()
        items = reflections.shared_with_me(store, person)
        if not items:
            return []
        rows = []
        for item in items:
            name = self.catalogue.name_of(item.framework_id)
            whom = "the community" if item.visibility == "community" else "you, as facilitator"
            head = (
                f"<strong>{html.escape(name)}</strong> by <bdi>{html.escape(item.author_name)}"
                f"</bdi> · shared with {whom} · "
                f'<span class="cop-meta">{_when(item.submitted_at)}</span>'
            )
            button = W.Button(
                description="Read",
                tooltip=f"{name} by {item.author_name}",
                layout=self.look.layout(),
                style=self.look.style_of(W.Button),
            )
            button.add_class("cop-read-shared")
            button.on_click(lambda _, rid=item.id: self.guard(self.read_shared, rid))
            rows.append(_list_row(self.look, button, head, item.preview))
        return [
            self.look.html("<h2>Shared with me</h2>"),
            W.VBox(rows, layout=self.look.layout()),
        ]

    def read_shared(self, reflection_id: str) -> None:
        """Someone else's reflection, to read only (no sharing, feedback or revising here)."""
        store, person = self.signed_in()
        shared = reflections.read_shared(store, person, reflection_id)
        framework = self.catalogue.get(shared.framework_id)
        if framework is None:
            raise InvalidInput("framework", "This reflection's model is not on this server.")
        value = {sid: {"text": a.text, "passed": a.passed} for sid, a in shared.answers}
        self.draft_id = None
        self.stepper = ReflectionStepper(framework, value, shared.visibility, read_only=True)
        self.stepper.on_leave(lambda _: self.guard(self.show_home))
        self.stepper.add_class("cop-shared-reading")
        self.body.children = [self.stepper]
        self.status.show("Shared with you to read: it stays as its author wrote it.", "info")

    def _my_reflections(self) -> W.Widget:
        store, person = self.signed_in()
        items = reflections.list_mine(store, person)
        if not items:
            return self.look.html("<p>None yet. Start one above; drafts are kept as you type.</p>")
        # released feedback is marked new until the author opens that reflection
        with_new = feedback.new_feedback(store, person)
        rows = []
        for item in items:
            name = self.catalogue.name_of(item.framework_id)
            state = "Draft" if item.status == "draft" else "Submitted"
            new = (
                '<strong class="cop-new-feedback">New feedback</strong> · '
                if item.id in with_new
                else ""
            )
            head = (
                f"{new}<strong>{html.escape(name)}</strong> · {state} · "
                f'<span class="cop-meta">{_when(item.updated_at)}, '
                f"{item.answered_stages} stage(s) answered</span>"
            )
            button = W.Button(
                description="Continue" if item.status == "draft" else "Read",
                tooltip=f"{'New feedback: ' if new else ''}{state}: {name}, "
                f"{_when(item.updated_at)}",
                layout=self.look.layout(),
                style=self.look.style_of(W.Button),
            )
            button.add_class("cop-open")
            button.on_click(lambda _, rid=item.id: self.guard(self.open_reflection, rid))
            rows.append(_list_row(self.look, button, head, item.preview))
        return W.VBox(rows, layout=self.look.layout())

    # -- the stepper ---------------------------------------------------------------------------
    def start_new(self, framework_id: str) -> None:
        framework = self.catalogue.get(framework_id)
        if framework is None:
            raise InvalidInput("framework", "Choose a reflective model from the list.")
        self._open_stepper(framework, str(uuid.uuid4()))
        self.status.show(
            f"Started {framework.name}. Your draft is saved automatically as you type.", "info"
        )

    def open_reflection(self, reflection_id: str) -> None:
        store, person = self.signed_in()
        saved = reflections.get_mine(store, person, reflection_id)
        framework = self._framework_of(saved)
        value = {sid: {"text": a.text, "passed": a.passed} for sid, a in saved.answers}
        stepper = self._open_stepper(
            framework, saved.id, value, saved.visibility, read_only=saved.status != "draft"
        )
        if saved.status == "draft":
            # where the person stopped: the first stage neither answered nor passed (the last
            # stage when all are), with the sharing choice it was saved with (its text passed
            # the check when it was saved so; only what is typed now is checked again)
            answered = dict(saved.answers)
            stages = framework.stages
            stepper.go(
                next(
                    (i for i, st in enumerate(stages) if not _done(answered.get(st.id, _EMPTY))),
                    len(stages) - 1,
                )
            )
            if saved.visibility != "private":
                self.deid.accept({framework.stage(sid).label: a.text for sid, a in saved.answers})
        else:
            self.body.children = [*self.body.children, self._submitted_panel(saved)]
            feedback.mark_feedback_seen(store, person, saved.id)
        self.status.show(
            "Submitted reflections stay as they were; revise one as a new version."
            if saved.status != "draft"
            else f"Continuing your draft from {_when(saved.updated_at)}.",
            "info",
        )

    def _framework_of(self, saved: reflections.Reflection) -> Framework:
        """The reflective model `saved` was written in, when its file is on this server."""
        framework = self.catalogue.get(saved.framework_id)
        if framework is None:
            raise InvalidInput(
                "framework",
                f"The reflective model {saved.framework_id!r} of this reflection is not "
                "available on this server; ask your facilitator to restore its file.",
            )
        return framework

    def _submitted_panel(self, saved: reflections.Reflection) -> W.Widget:
        """Released feedback, who can read it, and a new version: what a submitted one offers."""
        store, person = self.signed_in()
        given = feedback.released_feedback(store, person, saved.id)
        items = "".join(
            f"<li><strong>{html.escape(review.KIND_LABELS[f.kind])}</strong> from "
            f"<bdi>{html.escape(f.supervisor_name)}</bdi>: "
            f'<span style="white-space:pre-wrap">{html.escape(f.text)}</span></li>'
            for f in given
        )
        depth = next((f.depth_level for f in given if f.depth_level), None)
        feedback_html = (
            f"<h3>Feedback</h3><ul class='cop-feedback'>{items}</ul>"
            + (
                f"<p class='cop-meta'>Depth of reflection (Hatton &amp; Smith, for dialogue): "
                f"{html.escape(review.DEPTH_LABELS[depth])}</p>"
                if depth
                else ""
            )
            if given
            else "<h3>Feedback</h3><p class='cop-meta'>No feedback released yet.</p>"
        )
        share = W.Dropdown(
            options=VISIBILITY_CHOICES,
            value=saved.visibility,
            description="Who can read this",
            style={"description_width": "initial"},
        )
        share.add_class("cop-share")
        change = W.Button(description="Change who can read it")
        change.add_class("cop-share-change")
        revise = W.Button(description="Revise as a new version")
        revise.add_class("cop-revise")
        change.on_click(lambda _: self.guard(self._change_visibility, saved.id, share.value))
        revise.on_click(lambda _: self.guard(self._revise, saved.id))
        comes_back = (
            self._return_panel(saved) if saved.framework_id == value_stories.VALUE_STORY else []
        )
        return W.VBox([W.HTML(feedback_html), W.HBox([share, change]), revise, *comes_back])

    # -- a value-creation story that comes back to its author ------------------------------------
    def _return_day_picker(self, day) -> W.DatePicker:
        picker = W.DatePicker(
            value=day, description="Come back to it on", style={"description_width": "initial"}
        )
        picker.add_class("cop-return-on")
        return picker

    def _intention_panel(self) -> W.VBox:
        """Below a value-creation story being written: save it as an intention that comes
        back on the day chosen (six weeks ahead unless changed)."""
        self.return_day = self._return_day_picker(
            value_stories.default_return_day(today_in(self.timezone))
        )
        keep = W.Button(description="Save as an intention")
        keep.add_class("cop-save-intention")
        keep.on_click(lambda _: self.after_pending_edits(self.save_intention))
        self.intention_note = W.HTML()
        self.intention_note.add_class("cop-intention-note")
        self.intention = W.VBox(
            [
                W.HTML(
                    "<h3>Come back to this story</h3><p class='cop-meta'>Not used it yet? Save "
                    "the story now as an intention (what the activity gave you, what you plan "
                    "to try); the later cycles stay open. On the day you choose it comes back "
                    "to you, on My page and at the check-in of your next session, to add what "
                    "happened and what difference it made.</p>"
                ),
                W.HBox([self.return_day, keep]),
                self.intention_note,
            ]
        )
        self.intention.add_class("cop-intention")
        return self.intention

    def save_intention(self) -> None:
        """Submit the open value-creation story as an intention that comes back on the chosen
        day. Refused (a day that has passed, text still to check), the text is kept as a
        draft and the page says why."""
        if self.stepper is None or self.stepper.read_only or self.intention is None:
            return
        self.intention_note.value = ""
        try:
            value_stories.check_return_day(self.return_day.value, today_in(self.timezone))
            if self._checked_visibility(self.stepper) != self.stepper.visibility:
                raise InvalidInput(
                    "visibility",
                    "Not saved as an intention: check the highlighted words below first "
                    "(rephrase them or tick the box), or choose 'Only me'.",
                )
            # a save the store refuses stays unsaved and is tried again in the background
            self.autosave.run(self._save_intention)
        except InvalidInput as exc:
            self.save_now()  # not saved as an intention: the text is kept as a draft
            message = f"{exc} Your story is kept as a draft."
            self.intention_note.value = (
                f'<p role="alert" class="cop-note-error">{html.escape(message)}</p>'
            )
            raise InvalidInput(exc.field, message) from None

    def _save_intention(self) -> None:
        stepper, draft_id = self._editing
        store, person = self.signed_in()
        day = self.return_day.value
        value_stories.save_as_intention(
            store,
            person,
            draft_id,
            stepper.framework,
            self._answers(stepper),
            stepper.visibility,
            day,
            today_in(self.timezone),
        )
        stepper.read_only = True
        self.open_reflection(draft_id)
        self.status.show(
            f"Saved as an intention. It comes back to you on {day_text(day)}: on My page, and "
            "at the check-in of your next session from that day.",
            "ok",
        )

    def _return_panel(self, saved: reflections.Reflection) -> list[W.Widget]:
        """A submitted story: when it comes back (or came back), and the day to move or set."""
        store, person = self.signed_in()
        planned = value_stories.return_of(store, person, saved.id)
        if planned is not None and planned.returned_at is not None:
            return [
                W.HTML(
                    "<p class='cop-return-state'>You came back to this story: a later version "
                    "says what happened (in My reflections).</p>"
                )
            ]
        if planned is None and saved.answer("realized").answered:
            return []  # told to the end: nothing to come back to
        today = today_in(self.timezone)
        if planned is None:
            state = "It is not set to come back to you."
        elif planned.due(today):
            state = (
                f"It came back to you on {day_text(planned.return_on)}: complete it on My "
                "page or at your next session's check-in."
            )
        else:
            state = f"It comes back to you on {day_text(planned.return_on)}."
        picker = self._return_day_picker(
            planned.return_on
            if planned is not None and not planned.due(today)
            else value_stories.default_return_day(today)
        )
        keep = W.Button(description="Come back to it then")
        keep.add_class("cop-plan-return")
        keep.on_click(lambda _: self.guard(self._plan_return, saved.id, picker))
        return [
            W.HTML(f"<h3>Come back to this story</h3><p class='cop-return-state'>{state}</p>"),
            W.HBox([picker, keep]),
        ]

    def _plan_return(self, reflection_id: str, picker: W.DatePicker) -> None:
        store, person = self.signed_in()
        today = today_in(self.timezone)
        value_stories.plan_return(store, person, reflection_id, picker.value, today)
        self.open_reflection(reflection_id)
        self.status.show(f"It comes back to you on {day_text(picker.value)}.", "ok")

    def _change_visibility(self, reflection_id: str, visibility: str) -> None:
        store, person = self.signed_in()
        if visibility != "private":
            saved = reflections.get_mine(store, person, reflection_id)
            fw = self._framework_of(saved)
            texts = {fw.stage(sid).label: a.text for sid, a in saved.answers}
            if not self.deid.review(texts):
                self.status.show(
                    "Not changed yet: check the highlighted words above (tick the box if they "
                    "do not identify anyone), then press Change again.",
                    "warning",
                )
                return
        reflections.change_visibility(store, person, reflection_id, visibility)
        self.status.show("Changed who can read this reflection.", "ok")

    def _revise(self, reflection_id: str) -> None:
        store, person = self.signed_in()
        new_id = reflections.new_version(store, person, reflection_id)
        self.open_reflection(new_id)
        self.status.show("A new version to edit; the submitted one stays as it was.", "info")

    def _open_stepper(
        self,
        framework: Framework,
        reflection_id: str,
        value=None,
        visibility="private",
        read_only=False,
    ) -> ReflectionStepper:
        self.draft_id = reflection_id
        self.stepper = stepper = ReflectionStepper(framework, value, visibility, read_only)
        stepper.on_change(lambda _: self.autosave.touch())
        stepper.on_save(lambda _: self.guard(self.save_now, "Draft saved"))
        stepper.on_submit(lambda _: self.after_pending_edits(self.submit_now))
        stepper.on_leave(lambda _: self.after_pending_edits(self.close_stepper))
        self.deid = DeidCheck()
        self.deid.confirm.observe(lambda _: self.autosave.touch(), "value")
        self.body.children = [stepper, self.deid]
        self.intention = None
        if framework.id == value_stories.VALUE_STORY and not read_only:
            self.body.children = [stepper, self.deid, self._intention_panel()]
        return stepper

    @property
    def _editing(self) -> tuple[ReflectionStepper, str]:
        """The open reflection's stepper and id; none once the page went back to the list (a
        save still retrying then, or a stale button)."""
        if self.stepper is None or self.draft_id is None:
            raise InvalidInput(
                "reflection", "No reflection is open on this page: open it from My reflections."
            )
        return self.stepper, self.draft_id

    @staticmethod
    def _answers(stepper: ReflectionStepper) -> dict[str, reflections.Answer]:
        return {
            sid: reflections.Answer(text=a.get("text", ""), passed=bool(a.get("passed")))
            for sid, a in stepper.value.items()
        }

    def _checked_visibility(self, stepper: ReflectionStepper) -> str:
        """The chosen visibility once the text passed the de-identification check, else private.

        Text leaves "private" only after its likely identifiers were rephrased or confirmed.
        """
        chosen = stepper.visibility
        if chosen == "private":
            self.deid.layout.display = "none"
            return chosen
        fw = stepper.framework
        texts = {fw.stage(sid).label: a["text"] for sid, a in stepper.value.items()}
        return chosen if self.deid.review(texts) else "private"

    def save_now(self, verb: str = "Draft saved") -> bool:
        """Save the draft now. False when there is nothing to save or the store did not take it:
        then it stays marked unsaved and is retried in the background until it is saved."""
        if self.stepper is None or self.stepper.read_only:
            return False
        return self.autosave.run(lambda: self._save_draft(verb))

    def _save_draft(self, verb: str) -> None:
        stepper, draft_id = self._editing
        visibility = self._checked_visibility(stepper)
        store, person = self.signed_in()
        result = reflections.save_draft(
            store,
            person,
            draft_id,
            stepper.framework,
            self._answers(stepper),
            visibility,
        )
        if result.problems:
            self.status.show("Saved, except: " + " ".join(result.problems), "warning")
        elif visibility != stepper.visibility:
            self.status.show(
                f"{verb}, and kept private until you check the highlighted words below.",
                "warning",
            )
        else:
            self.status.show(f"{verb} at {_when(result.reflection.updated_at)}.", "ok")

    def _autosave_now(self) -> None:
        if self.stepper is not None and not self.stepper.read_only:
            self._save_draft("Draft saved automatically")

    def submit_now(self) -> None:
        if self.stepper is None or self.stepper.read_only:
            return
        if self._checked_visibility(self.stepper) != self.stepper.visibility:
            self.save_now()
            raise InvalidInput(
                "visibility",
                "Not submitted: check the highlighted words below first (rephrase them or tick "
                "the box), or choose 'Only me'.",
            )
        try:
            # A refused submit stays unsaved and is tried again in the background.
            self.autosave.run(self._submit)
        except InvalidInput:
            self.save_now()  # not submitted: the text is kept as a draft meanwhile
            raise

    def _submit(self) -> None:
        stepper, draft_id = self._editing
        store, person = self.signed_in()
        done = reflections.submit(
            store,
            person,
            draft_id,
            stepper.framework,
            self._answers(stepper),
            stepper.visibility,
        )
        stepper.read_only = True
        self.status.show(
            f"Submitted at {_when(done.submitted_at)}. It is now in My reflections.", "ok"
        )

    def close_stepper(self) -> None:
        """Back to the list, once the text is saved; while the store refuses it, stay here."""
        if self.stepper is not None and not self.stepper.read_only and self.autosave.dirty:
            if not self.save_now():
                message = staying_until_saved(self.autosave, "Back to my reflections")
                self.status.show(message, "error")
                return
        self.show_home()


def reflection_app(
    settings: Settings | None = None, environ=None, autosave_seconds: float = 3.0
) -> ReflectionApp:
    """Build the app from the configured data folder and store; problems become messages."""
    opened = open_for_app(
        settings, environ, "The workbook", lambda s: load_frameworks(s.frameworks_dir)
    )
    catalogue = opened.loaded or Catalogue((), ())
    return ReflectionApp(
        opened.store,
        catalogue,
        environ,
        autosave_seconds,
        startup_error=opened.error,
        timezone=opened.settings.timezone,
    )
