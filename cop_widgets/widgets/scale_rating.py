"""ScaleRating: one person's rating on a scale, and the spread of everyone's ratings."""

from __future__ import annotations

import html
import statistics
from collections import Counter
from collections.abc import Callable, Sequence

import ipywidgets as W
from traitlets import Bool, Int, observe


def spread_html(values: Sequence[int], low: int, high: int) -> str:
    """Every rating shown (a bar per point of the scale), not only the mean; readable as text."""
    if not values:
        return '<p class="cop-meta">No ratings yet.</p>'
    counts = Counter(values)
    widest = max(counts.values())
    rows = "".join(
        f"<tr><th scope='row'>{point}</th><td><span style='display:inline-block;height:0.9em;"
        f"width:{counts[point] / widest * 12:.1f}em;background:#1d4ed8'></span></td>"
        f"<td>{counts[point]}</td></tr>"
        for point in range(low, high + 1)
    )
    summary = (
        f"{len(values)} rating(s): lowest {min(values)}, highest {max(values)}, "
        f"median {statistics.median(values):g}"
    )
    return (
        f'<table class="cop-spread"><caption>{html.escape(summary)}</caption>'
        f"<thead><tr><th scope='col'>Rating</th><th scope='col'>How many</th>"
        f"<th scope='col'>Count</th></tr></thead><tbody>{rows}</tbody></table>"
    )


class ScaleRating(W.VBox):
    """The question, labelled ends, one button per point; on_rate(value) when a point is picked."""

    value = Int(None, allow_none=True, help="This person's rating, or None before they pick.")
    disabled = Bool(False, help="True while rating is closed: the points cannot be pressed.")

    def __init__(self, scale, **kwargs):
        self.scale = scale
        self._handlers = W.CallbackDispatcher()
        self.points = W.ToggleButtons(
            options=[str(v) for v in range(scale.min, scale.max + 1)],
            value=None,
            description="My rating",
            style={"button_width": "2.6em", "description_width": "initial"},
        )
        self.points.add_class("cop-rating")
        self.points.observe(self._picked, "value")
        self.spread = W.HTML()
        ends = f"{scale.min} = {scale.low_label}; {scale.max} = {scale.high_label}"
        super().__init__(
            children=[
                W.HTML(
                    f"<p><strong>{html.escape(scale.question)}</strong><br>"
                    f'<span class="cop-meta">{html.escape(ends)}</span></p>'
                ),
                self.points,
                self.spread,
            ],
            **kwargs,
        )

    def on_rate(self, callback: Callable[[int], None], remove: bool = False) -> None:
        self._handlers.register_callback(callback, remove=remove)

    def rate(self, value: int) -> None:
        """Pick a point, as pressing its button does (on_rate callbacks run)."""
        if self.disabled:
            return
        if not self.scale.min <= value <= self.scale.max:
            raise ValueError(f"A rating is from {self.scale.min} to {self.scale.max}.")
        self.points.value = str(value)

    def _picked(self, change) -> None:
        if change["new"] is not None:
            self.value = int(change["new"])
            self._handlers(self.value)

    @observe("disabled")
    def _disable(self, change) -> None:
        self.points.disabled = change["new"]

    def show_spread(self, values: Sequence[int]) -> None:
        self.spread.value = spread_html(values, self.scale.min, self.scale.max)
