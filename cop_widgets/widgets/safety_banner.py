"""SafetyBanner: the standing reminder on case material, with a link and a 'step out' control.

Stepping out needs no reason and is never recorded anywhere: it only hides the case material
on this person's screen until they step back in.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import urlparse

import ipywidgets as W
from traitlets import Bool, observe

REMINDER = (
    "This workbook is not a way to report concerns about a child. If anything you are "
    "discussing suggests a child may be at risk now, stop and follow your organisation's "
    "procedure and your state or territory's reporting requirements. If a child is in "
    "immediate danger, call Police on 000."
)


def safe_link(url: str) -> str:
    """Only http(s) links with a host are shown; anything else (javascript:, data:) is dropped."""
    parsed = urlparse(url or "")
    return url if parsed.scheme in ("http", "https") and parsed.netloc else ""


class SafetyBanner(W.VBox):
    """Reminder text, the jurisdiction's procedure link, and a Step out / Step back in toggle."""

    stepped_out = Bool(False, help="True while the person has stepped out: case material hidden.")

    def __init__(self, procedure_url: str, procedure_label: str, **kwargs):
        link = safe_link(procedure_url)
        more = (
            f' <a href="{html.escape(link)}" target="_blank" rel="noopener noreferrer">'
            f"{html.escape(procedure_label)}</a>"
            if link
            else ""
        )
        self._handlers = W.CallbackDispatcher()
        self.toggle = W.Button(
            description="Step out",
            tooltip="Hide the case material for a while. No reason needed; nothing is recorded.",
        )
        self.toggle.add_class("cop-step-out")
        self.toggle.on_click(lambda _: self.set_stepped_out(not self.stepped_out))
        self.message = W.HTML()
        super().__init__(
            children=[
                W.HTML(
                    f'<div class="cop-safety" role="note"><strong>Safety first.</strong> '
                    f"{html.escape(REMINDER)}{more}</div>"
                ),
                W.HBox([self.toggle, self.message]),
            ],
            **kwargs,
        )

    def on_change(self, callback: Callable[[bool], None], remove: bool = False) -> None:
        self._handlers.register_callback(callback, remove=remove)

    def step_out(self) -> None:
        self.stepped_out = True

    def step_back_in(self) -> None:
        self.stepped_out = False

    def set_stepped_out(self, value: bool) -> None:
        self.stepped_out = bool(value)

    @observe("stepped_out")
    def _show(self, change) -> None:
        value = change["new"]
        self.toggle.description = "Step back in" if value else "Step out"
        self.message.value = (
            "<p>You have stepped out. Take the time you need; the case is hidden on your "
            "screen only.</p>"
            if value
            else ""
        )
        self._handlers(value)
