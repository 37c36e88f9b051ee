"""StatusLine: the one place an app tells a person what happened (saved, not saved, why)."""

from __future__ import annotations

import html

import ipywidgets as W
from traitlets import Unicode

KINDS = {
    # text colour, background, border: each pair has a contrast ratio above 7:1
    "info": ("#1b1b1b", "#f3f4f6", "#9ca3af"),
    "ok": ("#0b4d1f", "#e7f6ec", "#3f8f5a"),
    "warning": ("#5c3b00", "#fff6e0", "#b7791f"),
    "error": ("#8a1111", "#fdecec", "#c53030"),
}


class StatusLine(W.HTML):
    """A polite live region: screen readers announce each new message."""

    message = Unicode("", help="The last message shown, as plain text.")
    kind = Unicode("info", help="One of info, ok, warning, error.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_class("cop-status")
        self._render()

    def show(self, message: str, kind: str = "info") -> None:
        self.kind = kind if kind in KINDS else "info"
        self.message = message
        self._render()

    def clear(self) -> None:
        self.show("")

    def _render(self) -> None:
        fg, bg, border = KINDS[self.kind]
        style = (
            f"color:{fg};background:{bg};border-left:4px solid {border};padding:6px 10px;"
            if self.message
            else ""
        )
        self.value = (
            f'<div role="status" aria-live="polite" class="cop-status-{self.kind}" '
            f'style="{style}">{html.escape(self.message)}</div>'
        )
