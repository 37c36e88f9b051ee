"""After a session: its practice insights and shared resources, each with one action, "Make a
library draft" (services/library.py: draft_from_note, draft_from_resource). The run sheet and
the case discussion view show it to the session's (or the discussion's) facilitator and
note-taker; the draft opens in the library app for them to edit and publish.

Each text passes the de-identification check first: a likely identifier is highlighted, and
the draft is made once the person rephrased it at its source or confirmed that it identifies
nobody. The case summary and the notes of other phases are never offered (the service lists
only insight-phase notes)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

import ipywidgets as W

from cop_widgets.errors import InvalidInput
from cop_widgets.services import library
from cop_widgets.widgets.deid_check import DeidCheck

if TYPE_CHECKING:  # the page that holds the offers; imported for the annotation only
    from cop_widgets.apps._base import AppShell

MAKE = "Make a library draft"
NOT_ON_PAGE = "No such insight or resource is on this page: open the page again."

DRAFTS_STYLE = """
<style>
.cop-drafts .cop-draft-row { border-top: 1px solid #d1d5db; padding: 0.4em 0; }
.cop-drafts .cop-draft-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.cop-drafts a { color: #1d4ed8; text-decoration: underline; }
.cop-drafts .widget-button { max-width: 100%; }
</style>
"""


def library_href(entry_id: str) -> str:
    """Where a draft opens for editing: the library app with the entry chosen."""
    return f"library.ipynb?entry={quote(entry_id)}"


def _opened_html(entry_id: str, status: str | None) -> str:
    what = "Open your draft in the library" if status == library.DRAFT else "Open it in the library"
    done = (
        "A library draft is made from this: only you see it until you publish it."
        if status == library.DRAFT
        else "This is in the library."
    )
    return (
        f"<p class='cop-draft-made'>{done} <a href='{html.escape(library_href(entry_id), True)}' "
        f"target='_blank' rel='noopener' class='cop-draft-open'>{what}</a></p>"
    )


class DraftOffers(W.VBox):
    """The offers of one page: `make(source, confirmed)` makes the draft (the page's service
    call); the person's checks of likely identifiers are kept per offer."""

    def __init__(
        self,
        shell: AppShell,
        make: Callable[[library.DraftSource, bool], library.Entry],
    ):
        self.shell, self.make = shell, make
        self.sources: dict[str, library.DraftSource] = {}
        self.checks: dict[str, DeidCheck] = {}
        self.buttons: dict[str, W.Button] = {}
        self.links: dict[str, W.HTML] = {}
        super().__init__()
        self.add_class("cop-drafts")

    def show(self, heading_html: str, groups: list[tuple[str, list[library.DraftSource], str]]):
        """One section: the heading, then per group (its heading, if any; its sources; what to
        say when it has none) a row per source."""
        self.sources, self.checks, self.buttons, self.links = {}, {}, {}, {}
        rows: list[W.Widget] = [W.HTML(DRAFTS_STYLE + heading_html)]
        for title, sources, none_html in groups:
            if title:
                rows.append(W.HTML(f"<h3>{html.escape(title)}</h3>"))
            rows += [self._row(s) for s in sources] or [W.HTML(none_html)]
        self.children = rows

    def _row(self, source: library.DraftSource) -> W.Widget:
        self.sources[source.key] = source
        check = self.checks[source.key] = DeidCheck()
        button = self.buttons[source.key] = W.Button(
            description=MAKE,
            tooltip=f"{MAKE}: only you see it until you publish it",
            layout=W.Layout(width="auto"),
        )
        button.add_class("cop-draft-make")
        button.on_click(lambda _, key=source.key: self.shell.guard(self.make_draft, key))
        link = self.links[source.key] = W.HTML()
        if source.draft_id is not None:
            self._made(source.key, source.draft_id, source.draft_status)
        row = W.VBox(
            [
                W.HTML(
                    f"<p class='cop-meta'>{html.escape(source.where)}</p>"
                    f"<div class='cop-draft-text'><bdi>{html.escape(source.text)}</bdi></div>"
                ),
                check,
                button,
                link,
            ]
        )
        row.add_class("cop-draft-row")
        row.add_class(f"cop-draft-{source.kind}")
        return row

    def make_draft(self, key: str) -> None:
        """The button of one offer: check its text, make the draft, link to it."""
        source = self.sources.get(key)
        if source is None:
            raise InvalidInput("source", NOT_ON_PAGE)
        texts = library.texts_to_check(source.title, source.text, ())
        if not self.checks[key].review(texts):
            self.shell.status.show(
                "Check the highlighted words: tick the box if they do not identify anyone, "
                f"then press {MAKE} again (or leave this one out).",
                "warning",
            )
            return
        made = self.make(source, True)
        self._made(key, made.id, made.status)
        if made.status == library.DRAFT:
            self.shell.status.show(
                "Library draft made: open it in the library (the link below the text) to edit "
                "and publish it. Only you see it until then.",
                "ok",
            )
        else:
            self.shell.status.show("That is in the library already: the link opens it.", "ok")

    def _made(self, key: str, entry_id: str, status: str | None) -> None:
        self.links[key].value = _opened_html(entry_id, status)
        self.buttons[key].layout.display = "none"
        self.checks[key].layout.display = "none"
