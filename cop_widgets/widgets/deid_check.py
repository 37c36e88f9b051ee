"""DeidCheck: shows likely identifiers highlighted and asks the author to rephrase or confirm.

A confirmation covers exactly the findings it was given for: new identifiers typed later are
checked again.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import ipywidgets as W
from traitlets import Bool

if TYPE_CHECKING:
    from cop_widgets.deidentify import Finding


def _escape(text: str) -> str:
    escaped = html.escape(text, quote=True)
    return escaped.replace("\r\n", "<br>").replace("\r", "<br>").replace("\n", "<br>")


def highlight_html(text: str, findings: list[Finding]) -> str:
    """The whole text HTML-escaped, each finding wrapped in <mark class="cop-deid cop-deid-KIND"
    title="REASON">…</mark>; newlines as <br>. Everything escaped (text and reason)."""
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, f.end)):
        if f.start < pos or f.end > len(text) or f.end <= f.start:
            continue  # overlapping or out of range: never drop or repeat any of the text
        kind = re.sub(r"[^a-z_]", "", str(f.kind).lower()) or "other"
        parts.append(_escape(text[pos : f.start]))
        parts.append(
            f'<mark class="cop-deid cop-deid-{kind}" title="{html.escape(f.reason, quote=True)}">'
            f"{_escape(text[f.start : f.end])}</mark>"
        )
        pos = f.end
    parts.append(_escape(text[pos:]))
    return "".join(parts)


class DeidCheck(W.VBox):
    """Hidden while nothing is found; review(texts) shows findings and says whether the author
    may go on (nothing found, or these very findings confirmed)."""

    confirmed = Bool(False, help="True when the author confirmed the findings now shown.")

    def __init__(self, **kwargs):
        self.findings = W.HTML()
        self.confirm = W.Checkbox(
            description="I have checked: what is highlighted does not identify anyone",
            indent=False,
            # the whole sentence shows, wrapped on a narrow screen (never cut off with "…")
            layout=W.Layout(width="auto", max_width="100%", height="auto"),
        )
        self.confirm.add_class("cop-confirm-deid")
        self._confirmed_for: frozenset = frozenset()
        self._shown_for: frozenset = frozenset()
        self.confirm.observe(self._confirmed, "value")
        super().__init__(children=[self.findings, self.confirm], **kwargs)
        self.add_class("cop-deid-check")
        self.layout.display = "none"

    def accept(self, texts: dict[str, str], names_mentioned=()) -> None:
        """Count what `texts` holds now as already confirmed (a draft saved beyond "only me"
        was checked when it was saved): reopened, it keeps its sharing choice, and only
        identifiers typed afterwards are asked about again."""
        # Imported on first use, not with the widget: pages that show one (the join page, the
        # reflection page) start without the finder until someone's text is checked.
        from cop_widgets.deidentify import find_identifiers

        self._confirmed_for = frozenset(
            (label, f.kind, f.text)
            for label, text in texts.items()
            for f in find_identifiers(text, names_mentioned)
        )

    def _confirmed(self, change) -> None:
        self._confirmed_for = self._shown_for if change["new"] else frozenset()
        self.confirmed = bool(change["new"]) and bool(self._shown_for)

    def review(self, texts: dict[str, str], names_mentioned=()) -> bool:
        """True when nothing is found or the author confirmed these very findings."""
        from cop_widgets.deidentify import find_identifiers  # on first use: see accept()

        found = {
            label: hits
            for label, text in texts.items()
            if (hits := find_identifiers(text, names_mentioned))
        }
        key = frozenset((label, f.kind, f.text) for label, hits in found.items() for f in hits)
        if not found:
            self.layout.display = "none"
            self.confirmed = False
            return True
        if key != self._shown_for:
            self._shown_for = key
            count = sum(len(hits) for hits in found.values())
            parts = "".join(
                f"<p><strong>{html.escape(label)}</strong></p>"
                f'<div class="cop-deid-text" style="white-space:pre-wrap">'
                f"{highlight_html(texts[label], hits)}</div>"
                for label, hits in found.items()
            )
            self.findings.value = (
                f'<div class="cop-deid-findings" role="alert"><p><strong>Please check '
                f"{count} possible identifier(s)</strong>. Rephrase them (roles, age bands, "
                "'a rural town'), or tick the box below if they do not identify anyone.</p>"
                f"{parts}</div>"
            )
            self.confirm.value = key <= self._confirmed_for and bool(self._confirmed_for)
        self.layout.display = None
        self.confirmed = key <= self._confirmed_for and bool(self._confirmed_for)
        return self.confirmed
