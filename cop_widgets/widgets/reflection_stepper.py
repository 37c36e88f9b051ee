"""ReflectionStepper: one framework, one stage at a time, with pass, visibility and save."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as W
from traitlets import Bool, Dict, Int, Unicode, observe

from cop_widgets.content.frameworks import Framework

VISIBILITY_CHOICES = (
    ("Only me (private)", "private"),
    ("Me and my supervisor", "supervisor"),
    ("Me and the session facilitator", "facilitator"),
    ("The community (after a de-identification check)", "community"),
    ("Counted in summaries only, never shown", "aggregate_only"),
)
DEIDENTIFICATION_REMINDER = (
    "Describe roles, not people: 'the mother', 'the Year 3 teacher', 'my team leader'. "
    "No names, dates of birth, addresses, schools or file numbers."
)


class ReflectionStepper(W.VBox):
    """Walks through a framework's stages. Holds the answers; emits save/submit/close events.

    ``value`` maps stage id to {"text": str, "passed": bool}. The stepper never stores
    anything itself: the app passes callbacks with on_save, on_submit, on_change, on_leave.
    """

    value = Dict(help="Answers by stage id: {'text': str, 'passed': bool}.")
    stage_index = Int(0, help="Index of the stage on screen.")
    visibility = Unicode("private", help="Who may read this reflection once saved.")
    read_only = Bool(False, help="True for a submitted reflection: shown, not editable.")

    def __init__(
        self,
        framework: Framework,
        value: dict | None = None,
        visibility: str = "private",
        read_only: bool = False,
        **kwargs,
    ):
        self.framework = framework
        self._handlers: dict[str, W.CallbackDispatcher] = {
            name: W.CallbackDispatcher() for name in ("save", "submit", "change", "leave")
        }
        self._heading = W.HTML()
        self._prompts = W.HTML()
        # One answer box and pass box per stage, so that a keystroke still in flight from the
        # browser when the person moves on lands in the stage it was typed in.
        self._inputs: dict[str, tuple[W.Textarea, W.Checkbox]] = {}
        self._stage_box = W.VBox()
        self._back = W.Button(description="Back", icon="", tooltip="Previous stage")
        self._next = W.Button(description="Next", tooltip="Next stage")
        self._visibility = W.Dropdown(
            options=VISIBILITY_CHOICES,
            value="private",
            description="Who can read this",
            style={"description_width": "initial"},
        )
        self._visibility.add_class("cop-visibility")
        self._save = W.Button(description="Save draft", button_style="")
        self._submit = W.Button(description="Submit", button_style="primary")
        self._close = W.Button(description="Back to my reflections")
        for name, button in (
            ("back", self._back),
            ("next", self._next),
            ("save", self._save),
            ("submit", self._submit),
            ("close", self._close),
        ):
            button.add_class(f"cop-{name}")
        self._back.on_click(lambda _: self.go(self.stage_index - 1))
        self._next.on_click(lambda _: self.go(self.stage_index + 1))
        self._save.on_click(lambda _: self.save())
        self._submit.on_click(lambda _: self.submit())
        self._close.on_click(lambda _: self.leave())
        self._visibility.observe(self._on_visibility, "value")
        self._edit_buttons = W.HBox([self._save, self._submit])
        reminder = W.HTML(
            f'<p class="cop-reminder"><strong>Before you write:</strong> '
            f"{html.escape(DEIDENTIFICATION_REMINDER)}</p>"
        )
        super().__init__(
            children=[
                W.HTML(f"<h2>{html.escape(framework.name)}</h2>"),
                reminder,
                self._heading,
                self._prompts,
                self._stage_box,
                W.HBox([self._back, self._next]),
                self._visibility,
                self._edit_buttons,
                self._close,
            ],
            **kwargs,
        )
        self.add_class("cop-stepper")
        self.value = {s.id: {"text": "", "passed": False} for s in framework.stages} | (value or {})
        self._visibility.value = visibility
        self.read_only = read_only
        self._show_stage()

    # -- events, the Button way -------------------------------------------------------------
    def on_save(self, callback: Callable, remove: bool = False) -> None:
        self._handlers["save"].register_callback(callback, remove=remove)

    def on_submit(self, callback: Callable, remove: bool = False) -> None:
        self._handlers["submit"].register_callback(callback, remove=remove)

    def on_change(self, callback: Callable, remove: bool = False) -> None:
        self._handlers["change"].register_callback(callback, remove=remove)

    def on_leave(self, callback: Callable, remove: bool = False) -> None:
        self._handlers["leave"].register_callback(callback, remove=remove)

    def save(self) -> None:
        self._handlers["save"](self)

    def submit(self) -> None:
        self._handlers["submit"](self)

    def leave(self) -> None:
        self._handlers["leave"](self)

    # -- navigation ---------------------------------------------------------------------------
    @property
    def stage(self):
        return self.framework.stages[self.stage_index]

    def go(self, index: int) -> None:
        self.stage_index = max(0, min(index, len(self.framework.stages) - 1))

    @observe("stage_index")
    def _stage_changed(self, _change) -> None:
        self._show_stage()

    @observe("read_only")
    def _read_only_changed(self, change) -> None:
        for text, passed in self._inputs.values():
            text.disabled = passed.disabled = change["new"]
        self._visibility.disabled = change["new"]
        # read only, the stepper shows no sharing control of its own: the author changes who
        # reads a submitted reflection below it (one "Who can read this", not two)
        self._visibility.layout.display = "none" if change["new"] else None
        self._edit_buttons.layout.display = "none" if change["new"] else None

    @property
    def _answer(self) -> W.Textarea:
        return self._stage_inputs(self.stage)[0]

    @property
    def _pass(self) -> W.Checkbox:
        return self._stage_inputs(self.stage)[1]

    def _stage_inputs(self, stage) -> tuple[W.Textarea, W.Checkbox]:
        if stage.id not in self._inputs:
            current = self.value.get(stage.id, {})
            text = W.Textarea(
                value=current.get("text", ""),
                description=f"Your answer: {stage.label}",
                placeholder="Write in your own words. Roles, not names.",
                layout=W.Layout(width="auto", flex="1 1 auto", height="12em"),
                style={"description_width": "initial"},
                disabled=self.read_only,
            )
            text.add_class("cop-answer")
            passed = W.Checkbox(
                value=bool(current.get("passed", False)),
                description="Pass this stage (no reason needed)",
                indent=False,
                disabled=self.read_only,
            )
            passed.add_class("cop-pass")
            text.observe(lambda c, sid=stage.id: self._set(sid, text=c["new"]), "value")
            passed.observe(lambda c, sid=stage.id: self._set(sid, passed=bool(c["new"])), "value")
            self._inputs[stage.id] = (text, passed)
        return self._inputs[stage.id]

    def _show_stage(self) -> None:
        stage, n = self.stage, len(self.framework.stages)
        # The answer box first: when the new heading shows, the new box is already in place.
        self._stage_box.children = self._stage_inputs(stage)
        self._heading.value = (
            f"<h3>Stage {self.stage_index + 1} of {n}: {html.escape(stage.label)} "
            f'<span class="cop-minutes">(about {stage.minutes} minutes)</span></h3>'
        )
        prompts = "".join(f"<li>{html.escape(p)}</li>" for p in stage.prompts)
        hint = f'<p class="cop-hint">{html.escape(stage.hint)}</p>' if stage.hint else ""
        self._prompts.value = f"<ul>{prompts}</ul>{hint}"
        self._back.disabled = self.stage_index == 0
        self._next.disabled = self.stage_index == n - 1

    # -- edits ---------------------------------------------------------------------------------
    def _set(self, stage_id: str, **fields) -> None:
        if self.read_only:
            return
        current = dict(self.value.get(stage_id, {"text": "", "passed": False}))
        if all(current.get(k) == v for k, v in fields.items()):
            return
        self.value = {**self.value, stage_id: current | fields}
        self._handlers["change"](self)

    def _on_visibility(self, change) -> None:
        if not self.read_only and self.visibility != change["new"]:
            self.visibility = change["new"]
            self._handlers["change"](self)
