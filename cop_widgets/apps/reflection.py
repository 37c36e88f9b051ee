"""The reflection app: sign in, pick a framework, write stage by stage, save, submit, reopen."""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from urllib.parse import parse_qs

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave
from cop_widgets.apps._base import AppShell
from cop_widgets.apps._startup import open_for_app
from cop_widgets.content.frameworks import Framework, load_frameworks
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import CopWidgetsError, InvalidInput, StoreFailure
from cop_widgets.services import feedback, reflections, review
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets import ReflectionStepper
from cop_widgets.widgets.deid_check import DeidCheck
from cop_widgets.widgets.reflection_stepper import VISIBILITY_CHOICES

_EMPTY = reflections.Answer("")


def _done(answer: reflections.Answer) -> bool:
    return answer.answered or answer.passed


def _when(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).strftime("%d %b %Y %H:%M UTC")


def _list_row(button: W.Button, head_html: str, preview: str) -> W.HBox:
    """One reflection in a list: its button, a line about it, and the start of its text."""
    label = W.HTML(
        f"<div>{head_html}<br><bdi>{html.escape(preview)}</bdi></div>",
        layout=W.Layout(flex="1 1 auto"),
    )
    return W.HBox([button, label], layout=W.Layout(align_items="center"))


def _frameworks_problem_text(catalogue: Catalogue) -> str:
    if not catalogue.problems:
        return ""
    lines = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in catalogue.problems)
    return (
        '<div class="cop-problems" role="alert"><strong>Some framework files could not be '
        f"loaded</strong> (the others work; tell your facilitator):<ul>{lines}</ul></div>"
    )


class ReflectionApp(AppShell):
    """Composes the sign-in panel, the home panel (new + my reflections) and the stepper."""

    def __init__(
        self,
        store: Store | None,
        catalogue: Catalogue,
        environ=None,
        autosave_seconds: float = 3.0,
        startup_error: str = "",
    ):
        self.store = store
        self.catalogue = catalogue
        self.environ = environ
        self.person: Person | None = None
        self.stepper: ReflectionStepper | None = None
        self.draft_id: str | None = None
        self.autosave = Autosave(
            self._autosave_now, delay=autosave_seconds, on_failure=self.not_saved_yet
        )
        self.deid = DeidCheck()
        super().__init__("<h1>Reflection</h1>", W.HTML(_frameworks_problem_text(catalogue)))
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
        self.framework_picker = W.Dropdown(
            options=options,
            description="Reflective model",
            style={"description_width": "initial"},
            layout=W.Layout(width="28rem"),
        )
        self.framework_picker.add_class("cop-framework")
        summary = W.HTML()

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
        start = W.Button(description="Start a new reflection", button_style="primary")
        start.add_class("cop-new")
        start.on_click(lambda _: self.guard(self.start_new, self.framework_picker.value))
        self.body.children = [
            W.HTML("<h2>New reflection</h2>"),
            W.HBox([self.framework_picker, start]),
            summary,
            W.HTML("<h2>My reflections</h2>"),
            self._my_reflections(),
            *self._shared_with_me(),
        ]

    def _shared_with_me(self) -> list[W.Widget]:
        """Reflections others shared with this person's community or session (policy)."""
        items = reflections.shared_with_me(self.store, self.person)
        if not items:
            return []
        rows = []
        for item in items:
            fw = self.catalogue.get(item.framework_id)
            name = fw.name if fw else item.framework_id
            whom = "the community" if item.visibility == "community" else "you, as facilitator"
            head = (
                f"<strong>{html.escape(name)}</strong> by <bdi>{html.escape(item.author_name)}"
                f"</bdi> · shared with {whom} · "
                f'<span class="cop-meta">{_when(item.submitted_at)}</span>'
            )
            button = W.Button(description="Read", tooltip=f"{name} by {item.author_name}")
            button.add_class("cop-read-shared")
            button.on_click(lambda _, rid=item.id: self.guard(self.read_shared, rid))
            rows.append(_list_row(button, head, item.preview))
        return [W.HTML("<h2>Shared with me</h2>"), W.VBox(rows)]

    def read_shared(self, reflection_id: str) -> None:
        """Someone else's reflection, to read only (no sharing, feedback or revising here)."""
        shared = reflections.read_shared(self.store, self.person, reflection_id)
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
        items = reflections.list_mine(self.store, self.person)
        if not items:
            return W.HTML("<p>None yet. Start one above; drafts are kept as you type.</p>")
        # released feedback is marked new until the author opens that reflection
        with_new = feedback.new_feedback(self.store, self.person)
        rows = []
        for item in items:
            fw = self.catalogue.get(item.framework_id)
            name = fw.name if fw else item.framework_id
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
            )
            button.add_class("cop-open")
            button.on_click(lambda _, rid=item.id: self.guard(self.open_reflection, rid))
            rows.append(_list_row(button, head, item.preview))
        return W.VBox(rows)

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
        saved = reflections.get_mine(self.store, self.person, reflection_id)
        framework = self.catalogue.get(saved.framework_id)
        if framework is None:
            raise InvalidInput(
                "framework",
                f"The reflective model {saved.framework_id!r} of this reflection is not "
                "available on this server; ask your facilitator to restore its file.",
            )
        value = {sid: {"text": a.text, "passed": a.passed} for sid, a in saved.answers}
        self._open_stepper(
            framework, saved.id, value, saved.visibility, read_only=saved.status != "draft"
        )
        if saved.status == "draft":
            # where the person stopped: the first stage neither answered nor passed (the last
            # stage when all are), with the sharing choice it was saved with (its text passed
            # the check when it was saved so; only what is typed now is checked again)
            answered = dict(saved.answers)
            stages = framework.stages
            self.stepper.go(
                next(
                    (i for i, st in enumerate(stages) if not _done(answered.get(st.id, _EMPTY))),
                    len(stages) - 1,
                )
            )
            if saved.visibility != "private":
                self.deid.accept({framework.stage(sid).label: a.text for sid, a in saved.answers})
        else:
            self.body.children = [*self.body.children, self._submitted_panel(saved)]
            feedback.mark_feedback_seen(self.store, self.person, saved.id)
        self.status.show(
            "Submitted reflections stay as they were; revise one as a new version."
            if saved.status != "draft"
            else f"Continuing your draft from {_when(saved.updated_at)}.",
            "info",
        )

    def _submitted_panel(self, saved: reflections.Reflection) -> W.Widget:
        """Released feedback, who can read it, and a new version: what a submitted one offers."""
        given = feedback.released_feedback(self.store, self.person, saved.id)
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
        return W.VBox([W.HTML(feedback_html), W.HBox([share, change]), revise])

    def _change_visibility(self, reflection_id: str, visibility: str) -> None:
        if visibility != "private":
            saved = reflections.get_mine(self.store, self.person, reflection_id)
            fw = self.catalogue.get(saved.framework_id)
            texts = {fw.stage(sid).label: a.text for sid, a in saved.answers}
            if not self.deid.review(texts):
                self.status.show(
                    "Not changed yet: check the highlighted words above (tick the box if they "
                    "do not identify anyone), then press Change again.",
                    "warning",
                )
                return
        reflections.change_visibility(self.store, self.person, reflection_id, visibility)
        self.status.show("Changed who can read this reflection.", "ok")

    def _revise(self, reflection_id: str) -> None:
        new_id = reflections.new_version(self.store, self.person, reflection_id)
        self.open_reflection(new_id)
        self.status.show("A new version to edit; the submitted one stays as it was.", "info")

    def _open_stepper(
        self,
        framework: Framework,
        reflection_id: str,
        value=None,
        visibility="private",
        read_only=False,
    ) -> None:
        self.draft_id = reflection_id
        self.stepper = ReflectionStepper(framework, value, visibility, read_only)
        self.stepper.on_change(lambda _: self.autosave.touch())
        self.stepper.on_save(lambda _: self.guard(self.save_now, "Draft saved"))
        self.stepper.on_submit(lambda _: self.after_pending_edits(self.submit_now))
        self.stepper.on_leave(lambda _: self.after_pending_edits(self.close_stepper))
        self.deid = DeidCheck()
        self.deid.confirm.observe(lambda _: self.autosave.touch(), "value")
        self.body.children = [self.stepper, self.deid]

    def _answers(self) -> dict[str, reflections.Answer]:
        return {
            sid: reflections.Answer(text=a.get("text", ""), passed=bool(a.get("passed")))
            for sid, a in self.stepper.value.items()
        }

    def _checked_visibility(self) -> str:
        """The chosen visibility once the text passed the de-identification check, else private.

        Text leaves "private" only after its likely identifiers were rephrased or confirmed.
        """
        chosen = self.stepper.visibility
        if chosen == "private":
            self.deid.layout.display = "none"
            return chosen
        fw = self.stepper.framework
        texts = {fw.stage(sid).label: a["text"] for sid, a in self.stepper.value.items()}
        return chosen if self.deid.review(texts) else "private"

    def save_now(self, verb: str = "Draft saved") -> bool:
        """Save the draft now. False when there is nothing to save or the store did not take it:
        then it stays marked unsaved and is retried in the background until it is saved."""
        if self.stepper is None or self.stepper.read_only:
            return False
        return self.autosave.run(lambda: self._save_draft(verb))

    def _save_draft(self, verb: str) -> None:
        visibility = self._checked_visibility()
        result = reflections.save_draft(
            self.store,
            self.person,
            self.draft_id,
            self.stepper.framework,
            self._answers(),
            visibility,
        )
        if result.problems:
            self.status.show("Saved, except: " + " ".join(result.problems), "warning")
        elif visibility != self.stepper.visibility:
            self.status.show(
                f"{verb}, and kept private until you check the highlighted words below.",
                "warning",
            )
        else:
            self.status.show(f"{verb} at {_when(result.reflection.updated_at)}.", "ok")

    def _autosave_now(self) -> None:
        if self.stepper is not None and not self.stepper.read_only:
            self._save_draft("Draft saved automatically")

    def not_saved_yet(self, exc: Exception) -> None:
        """What the person sees while a save waits for its next try (Autosave calls this)."""
        if isinstance(exc, StoreFailure):
            self.status.show(f"Not saved yet — retrying. {exc.kept_message()}", "error")
        elif isinstance(exc, CopWidgetsError):
            self.status.show(str(exc), "error")
        else:
            self.status.show("Autosave failed; your text is kept. Press Save draft.", "error")

    def submit_now(self) -> None:
        if self.stepper is None or self.stepper.read_only:
            return
        if self._checked_visibility() != self.stepper.visibility:
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
        done = reflections.submit(
            self.store,
            self.person,
            self.draft_id,
            self.stepper.framework,
            self._answers(),
            self.stepper.visibility,
        )
        self.stepper.read_only = True
        self.status.show(
            f"Submitted at {_when(done.submitted_at)}. It is now in My reflections.", "ok"
        )

    def close_stepper(self) -> None:
        """Back to the list, once the text is saved; while the store refuses it, stay here."""
        if self.stepper is not None and not self.stepper.read_only and self.autosave.dirty:
            if not self.save_now():
                failure = self.autosave.failure
                self.status.show(
                    "Not saved yet, so this page stays open — retrying in the background. "
                    + (failure.kept_message() + " " if failure else "")
                    + "Press Back to my reflections again once it says saved.",
                    "error",
                )
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
        opened.store, catalogue, environ, autosave_seconds, startup_error=opened.error
    )
