"""PhaseTimer: the current phase, a visible countdown, and (for the facilitator) its controls."""

from __future__ import annotations

import html
import time
from collections.abc import Callable

import ipywidgets as W
from traitlets import Bool, Int, observe

from cop_widgets.content import discussion_clock

# A double click sends two clicks that the kernel handles one after the other; the second one,
# within this many seconds, is taken as part of the first.
NEXT_REPEAT_SECONDS = 1.0


class PhaseTimer(W.VBox):
    """Shows a Clock for a protocol; emits on_action(action, from_index, minutes)."""

    phase_index = Int(0, help="Index of the phase the shared clock is in.")
    may_control = Bool(False, help="True for whoever runs the clock: the controls show.")

    def __init__(self, phases, may_control: bool, **kwargs):
        self.phases = phases
        self._handlers = W.CallbackDispatcher()
        self.clock = discussion_clock.Clock()
        self._last_next = float("-inf")
        self.heading = W.HTML()
        self.countdown = W.HTML()
        self.countdown.add_class("cop-countdown")
        self.start_button = W.Button(description="Start", button_style="primary")
        self.pause_button = W.Button(description="Pause")
        self.extend_button = W.Button(description="+1 minute", tooltip="Add a minute to this phase")
        self.next_button = W.Button(description="Next phase")
        for name, button in (
            ("start", self.start_button),
            ("pause", self.pause_button),
            ("extend", self.extend_button),
            ("next", self.next_button),
        ):
            button.add_class(f"cop-timer-{name}")
        self.start_button.on_click(lambda _: self.start())
        self.pause_button.on_click(lambda _: self.pause_or_resume())
        self.extend_button.on_click(lambda _: self.extend())
        self.next_button.on_click(lambda _: self.next_phase())
        self.controls = W.HBox(
            [self.start_button, self.pause_button, self.extend_button, self.next_button]
        )
        super().__init__(children=[self.heading, self.countdown, self.controls], **kwargs)
        self.add_class("cop-timer")
        self.may_control = may_control
        self.controls.layout.display = None if may_control else "none"

    @observe("may_control")
    def _show_controls(self, change) -> None:
        self.controls.layout.display = None if change["new"] else "none"

    # the facilitator's actions, as the buttons do them
    def start(self) -> None:
        self._emit("start")

    def pause_or_resume(self) -> None:
        self._emit("resume" if self.clock.status == discussion_clock.PAUSED else "pause")

    def extend(self, minutes: int = 1) -> None:
        self._emit("extend", minutes=minutes)

    def next_phase(self) -> None:
        self._next()

    def on_action(self, callback: Callable, remove: bool = False) -> None:
        self._handlers.register_callback(callback, remove=remove)

    def _next(self) -> None:
        now = time.monotonic()
        if now - self._last_next < NEXT_REPEAT_SECONDS:
            return
        self._last_next = now
        # The phase this screen shows goes with the action: if another facilitator moved on
        # first, the store ignores this one instead of skipping a second phase.
        self._emit("next")

    def _emit(self, action: str, minutes: int = 0) -> None:
        self._handlers(action, self.clock.phase_index, minutes)

    @property
    def phase(self):
        return self.phases[self.clock.phase_index]

    def show(self, clock: discussion_clock.Clock, now: float) -> None:
        self.clock = clock
        self.phase_index = clock.phase_index
        phase, n = self.phase, len(self.phases)
        self.heading.value = (
            f"<h3>Phase {clock.phase_index + 1} of {n}: {html.escape(phase.label)} "
            f'<span class="cop-minutes">({phase.minutes} min)</span></h3>'
        )
        left = clock.remaining(phase.minutes, now)
        state = {
            discussion_clock.NOT_STARTED: "not started",
            discussion_clock.RUNNING: "running",
            discussion_clock.PAUSED: "paused",
            discussion_clock.FINISHED: "protocol finished",
        }[clock.status]
        over = " over time" if left < 0 and clock.status != discussion_clock.FINISHED else ""
        self.countdown.value = (
            f'<p class="cop-clock" aria-live="off"><span style="font-size:2em;'
            f'font-variant-numeric:tabular-nums">{discussion_clock.format_remaining(left)}</span> '
            f'<span class="cop-meta">{state}{over}</span></p>'
        )
        self.start_button.layout.display = (
            None if clock.status == discussion_clock.NOT_STARTED else "none"
        )
        self.pause_button.description = (
            "Resume" if clock.status == discussion_clock.PAUSED else "Pause"
        )
        running = clock.status in (discussion_clock.RUNNING, discussion_clock.PAUSED)
        self.pause_button.disabled = self.extend_button.disabled = not running
        self.next_button.disabled = not running
        self.next_button.description = "Finish" if clock.phase_index == n - 1 else "Next phase"
