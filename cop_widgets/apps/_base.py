"""What every app shares: page style, a status line, and handlers that never fail silently."""

from __future__ import annotations

import html
import logging

import ipywidgets as W

from ..errors import CopWidgetsError
from ..services.identity import Person, current_person
from ..services.supervision import highest_role
from ..serving.request import when_requested
from ..widgets import StatusLine
from ._autosave import running_loop

log = logging.getLogger("cop_widgets.apps")

# The browser sends the last keystrokes after a button click when the kernel is busy; actions
# that end editing wait this long so that those keystrokes are in before they run.
SETTLE_SECONDS = 0.4

STYLE = """
<style>
.cop-app { max-width: 60rem; font-size: 15px; line-height: 1.45; color: #1b1b1b; }
.cop-app h1 { font-size: 1.6em; margin: 0.2em 0; }
.cop-app h2 { font-size: 1.3em; margin: 0.6em 0 0.2em; }
.cop-app h3 { font-size: 1.1em; margin: 0.6em 0 0.2em; }
.cop-app .cop-minutes, .cop-app .cop-meta { color: #4b5563; font-weight: normal; }
.cop-app .cop-reminder { background: #fff6e0; border-left: 4px solid #b7791f; padding: 6px 10px; }
.cop-app .widget-button:focus-visible, .cop-app textarea:focus-visible,
.cop-app select:focus-visible, .cop-app input:focus-visible { outline: 3px solid #1d4ed8; }
.cop-app .widget-label { color: #1b1b1b; }
.cop-app .widget-button { width: auto; min-width: 8em; padding: 0 1em; }
.cop-app .cop-safety { background: #eef2ff; border-left: 4px solid #3730a3; padding: 6px 10px; }
.cop-app .cop-content-warning { background: #fff6e0; border-left: 4px solid #b7791f;
  padding: 6px 10px; }
.cop-app mark.cop-deid { background: #fde68a; color: #1b1b1b; }
.cop-app .cop-whoami { color: #374151; margin: 0 0 0.4em; }
.cop-app .cop-spread td, .cop-app .cop-spread th { padding: 1px 8px; text-align: left; }
</style>
"""


def _header_html(person: Person, role: str) -> str:
    # Relative to /voila/render/<app>.ipynb, so it also works under a Hub service's prefix.
    return (
        '<p class="cop-whoami">Signed in as <strong><bdi>'
        f"{html.escape(person.display_name)}</bdi></strong> ({html.escape(role)}) · "
        '<a href="../../logout">Sign out</a></p>'
    )


class AppShell(W.VBox):
    """A page: title, body and status line. Subclasses fill self.body."""

    query = ""

    def __init__(self, title_html: str, *top: W.Widget):
        self.status = StatusLine()
        self.body = W.VBox()
        self.header = W.HTML()
        super().__init__(
            children=[W.HTML(STYLE + title_html), self.header, *top, self.body, self.status]
        )
        self.add_class("cop-app")

    def begin(self, startup_error: str, environ) -> None:
        """Show a start-up problem, or identify the person the server signed in (once the page
        is requested, for a preheated kernel) and call the subclass's _sign_in(person)."""
        if startup_error:
            self.status.show(startup_error, "error")
            return
        when_requested(lambda query: self._guard(self._identify, query))

    def _identify(self, query: str | None) -> None:
        self.query = query or ""
        person = current_person(self.store, self.environ)
        self.header.value = _header_html(person, highest_role(self.store, person.id))
        self._sign_in(person)

    # -- handlers never let an exception escape: ipywidgets would swallow it silently --------
    def _guard(self, action, *args):
        try:
            return action(*args)
        except CopWidgetsError as exc:
            self.status.show(str(exc), "error")
        except Exception:  # noqa: BLE001 - shown as a plain message, logged for the operator
            log.exception("unexpected error in %s", type(self).__name__)
            self.status.show(
                "Something went wrong, so that was not done. Nothing on this page was cleared: "
                "try again, and tell your facilitator if it keeps happening.",
                "error",
            )
        return None

    def _after_pending_edits(self, action) -> None:
        loop = running_loop()
        if loop is None:
            self._guard(action)
        else:
            loop.call_later(SETTLE_SECONDS, self._guard, action)
