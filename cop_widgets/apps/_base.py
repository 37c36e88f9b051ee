"""What every app shares: page style, a status line, and handlers that never fail silently."""

from __future__ import annotations

import html
import logging
from typing import Any

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave, running_loop
from cop_widgets.apps._memory import return_freed_memory_soon
from cop_widgets.apps._page_connected import send_no_state_until_connected
from cop_widgets.apps._startup import BusyStart, retry_opening
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import CopWidgetsError, StoreFailure
from cop_widgets.services.identity import Person, current_person
from cop_widgets.services.roster import highest_role
from cop_widgets.serving.request import in_preheated_kernel, when_requested
from cop_widgets.store import Store
from cop_widgets.widgets import SharedLook, StatusLine

log = logging.getLogger("cop_widgets.apps")

# The browser sends the last keystrokes after a button click when the kernel is busy; actions
# that end editing wait this long so that those keystrokes are in before they run.
SETTLE_SECONDS = 0.4

# The class an app's root widget carries while it holds text the store has not confirmed; the
# page template asks before the page is left while any element has it (beforeunload).
UNSAVED_CLASS = "cop-unsaved"

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
/* text boxes write in the page's own font (the browser's default for them is monospace) */
.cop-app textarea, .cop-app input, .cop-app select,
.cop-app .widget-textarea textarea, .cop-app .widget-text input {
  font-family: inherit; font-size: inherit; }
/* a checkbox's label wraps and is shown whole, never cut off with "…" */
.cop-app .widget-checkbox { width: auto; max-width: 100%; height: auto; }
.cop-app .widget-checkbox label, .cop-app .widget-checkbox .widget-label-basic,
.cop-app .widget-checkbox .widget-label-basic span {
  white-space: normal; overflow: visible; text-overflow: clip; height: auto; }
/* phones (390 px): no control reaches past the screen. A labelled control wraps its label
   above it when the line is short; long option texts and button labels wrap or shrink. */
.cop-app .widget-inline-hbox { max-width: 100%; min-width: 0; box-sizing: border-box;
  flex-wrap: wrap; height: auto; }
.cop-app .widget-inline-hbox > select, .cop-app .widget-inline-hbox > input,
.cop-app .widget-inline-hbox > textarea { min-width: 0; max-width: 100%; flex: 1 1 8rem; }
.cop-app .widget-textarea, .cop-app .widget-text, .cop-app .widget-dropdown,
.cop-app .widget-select, .cop-app .widget-datepicker { max-width: 100%; }
.cop-app .widget-hbox { flex-wrap: wrap; max-width: 100%; }
.cop-app .widget-button { max-width: 100%; white-space: normal; height: auto;
  min-height: var(--jp-widgets-inline-height, 28px); }
/* the status line stays in view at the foot of the window, however long the page (the page
   scrolls in #rendered_cells: the output boxes between it and the app must not clip) */
.cop-app, .jp-OutputArea:has(.cop-app), .jp-OutputArea-child:has(.cop-app),
.jp-OutputArea-output:has(> .cop-app) { overflow: visible; }
.cop-app > .cop-status { position: sticky; bottom: 0; z-index: 5; }
.cop-app > .cop-status [role=status]:not(:empty) { box-shadow: 0 -2px 6px rgba(0,0,0,0.15); }
</style>
"""

# Every app page is /voila/render/<app>.ipynb, so the home page is the sibling home.ipynb: a
# relative link keeps working under a Hub service's prefix (/services/cop/voila/render/…).
HOME_HREF = "home.ipynb"


def _header_html(person: Person, role: str, home_href: str | None = HOME_HREF) -> str:
    # Relative to /voila/render/<app>.ipynb, so it also works under a Hub service's prefix.
    home = (
        f'<a href="{html.escape(home_href)}" class="cop-home-link">Home</a> · ' if home_href else ""
    )
    return (
        '<p class="cop-whoami">Signed in as <strong><bdi>'
        f"{html.escape(person.display_name)}</bdi></strong> ({html.escape(role)}) · "
        f'{home}<a href="../../logout">Sign out</a></p>'
    )


def catalogue_problems_html(catalogue: Catalogue, files: str) -> str:
    """An alert listing the data files ("protocol", "framework") the catalogue could not load,
    while the others work; "" when every file loaded."""
    if not catalogue.problems:
        return ""
    items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in catalogue.problems)
    return (
        f'<div class="cop-problems" role="alert"><strong>Some {files} files could not be '
        f"loaded</strong> (the others work; tell your facilitator):<ul>{items}</ul></div>"
    )


def staying_until_saved(saver: Autosave, back: str, saved: str = "saved") -> str:
    """What a page says when asked to leave while `saver`'s refused save is retrying: it stays
    open, and pressing `back` again leaves it once the status line says `saved`."""
    failure = saver.failure
    return (
        "Not saved yet, so this page stays open — retrying in the background. "
        + (failure.kept_message() + " " if failure else "")
        + f"Press {back} again once it says {saved}."
    )


def identify(store: Store, environ) -> tuple[Person, str]:
    """The person the server signed in for this page, and the role shown beside their name."""
    with store.snapshot():  # one read transaction (every page of a room asks at once)
        person = current_person(store, environ)
        return person, highest_role(store, person.id)


class PageNotReady(CopWidgetsError):
    """An action reached an app before its start-up opened the store or before it signed the
    person in (AppShell.opened_store, AppShell.signed_in); guard shows this message."""

    def __init__(self) -> None:
        super().__init__(
            "This page is not ready yet, so that was not done: reload the page, and tell your "
            "facilitator if it keeps happening."
        )


class AppShell(W.VBox):
    """A page: title, body and status line. Subclasses fill self.body."""

    # None until start-up opened the store (or retry_opening did, when it was busy), and until
    # the server's person was identified: handlers reach them through opened_store/signed_in.
    store: Store | None = None
    person: Person | None = None
    environ: Any = None
    query = ""
    # Where the header's "Home" leads (None: no link, e.g. on the review server, which has no
    # home page of its own).
    home_href: str | None = HOME_HREF
    # While the store is busy at start-up: the task opening it again (retry_opening keeps it
    # here because the asyncio loop holds tasks only weakly).
    store_retry = None
    # What not_saved_yet says when a save failed for a reason nobody foresaw (an app may say
    # what to press on its own page).
    unexpected_save_failure = (
        "Not saved yet: something went wrong. Your text is kept on this page; try again, and "
        "tell your facilitator if it keeps happening."
    )

    def __init__(self, title_html: str, *top: W.Widget):
        look = self.look
        self.status = StatusLine(layout=look.layout(), style=look.style_of(W.HTML))
        self.body = W.VBox(layout=look.layout())
        self.header = look.html()
        super().__init__(
            children=[look.html(STYLE + title_html), self.header, *top, self.body, self.status]
        )
        self.add_class("cop-app")
        if not hasattr(self, "_savers"):
            self._savers: list[Autosave] = []

    @property
    def look(self) -> SharedLook:
        """This page's shared layout and style models (for widgets that never change their
        own), made when first asked for: also before AppShell.__init__ has run."""
        look = self.__dict__.get("_look")
        if look is None:
            look = self.__dict__["_look"] = SharedLook()
        return look

    def begin(self, startup_error: str, environ) -> None:
        """Show a start-up problem, or identify the person the server signed in (once the page
        is requested, for a preheated kernel) and call the subclass's _sign_in(person)."""
        if isinstance(startup_error, BusyStart):  # the store was busy: open it by itself
            retry_opening(self, startup_error, lambda: self.begin("", environ))
            return
        if startup_error:
            self.status.show(startup_error, "error")
            return
        if in_preheated_kernel():
            # nobody sees this kernel's widgets until its page connects, and the page then asks
            # for every widget's whole state: a change made before is not sent on its own
            send_no_state_until_connected()
        when_requested(lambda query: self.guard(self._identify_until_done, query))
        return_freed_memory_soon()  # a preheated kernel then waits, perhaps for an hour

    def _identify_until_done(self, query: str | None) -> None:
        """Identify the person; a store that refuses (busy, its server restarting) is asked
        again in the background, with a message, until the page is filled."""
        self.signing_in = Autosave(None, delay=None, on_failure=self._not_opened_yet)
        self.signing_in.run(lambda: self._identify(query))

    def _not_opened_yet(self, exc: Exception) -> None:
        if isinstance(exc, StoreFailure):
            log.warning(
                "a page's sign-in waits on the store (%s); trying again", type(exc).__name__
            )
            self.status.show(
                f"Your page is not ready yet: {exc.reason}. Trying again by itself; keep this "
                "page open.",
                "warning",
            )
        elif isinstance(exc, CopWidgetsError):
            self.status.show(str(exc), "error")
        else:
            self.status.show(
                "Your page could not be opened: something went wrong. Reload the page, and "
                "tell your facilitator if it keeps happening.",
                "error",
            )

    def _identify(self, query: str | None) -> None:
        self.query = query or ""
        store = self.opened_store()
        person, role = identify(store, self.environ)
        self.header.value = _header_html(person, role, self.home_link())
        self._sign_in(person)
        return_freed_memory_soon()

    def home_link(self) -> str | None:
        """Where the header's "Home" leads (None: no link); asked once the page is requested."""
        return self.home_href

    def _sign_in(self, person: Person) -> None:
        """Set self.person and fill the page for them (each app says how)."""
        raise NotImplementedError

    def opened_store(self) -> Store:
        """The store start-up opened; PageNotReady if it has not (yet)."""
        if self.store is None:
            raise PageNotReady()
        return self.store

    def signed_in(self) -> tuple[Store, Person]:
        """The store and the signed-in person, for an action that needs both; PageNotReady
        before start-up opened the store or the person was signed in."""
        if self.person is None:
            raise PageNotReady()
        return self.opened_store(), self.person

    # -- unsaved text: kept, retried, and marked on the page until the store confirms it ------
    def track(self, autosave: Autosave) -> Autosave:
        """Mark the page unsaved (UNSAVED_CLASS) while `autosave` holds an unconfirmed change."""
        if not hasattr(self, "_savers"):
            self._savers = []
        self._savers.append(autosave)
        autosave.on_dirty = lambda _dirty: self._show_unsaved()
        self._show_unsaved()
        return autosave

    def saver(self, *fields: W.Widget) -> Autosave:
        """An Autosave for a form sent with a button (nothing is saved by itself): typing in
        `fields` marks the page unsaved; saver.run(action) stores, and a refused store stays
        unsaved and is retried in the background until the store takes it."""
        autosave = self.track(Autosave(None, delay=None, on_failure=self.not_saved_yet))

        def typed(change) -> None:
            if not any(f.value for f in fields):
                if not autosave.retrying:
                    autosave.cancel()  # nothing typed is left to lose
            elif change["new"]:  # (a field emptied, as after a store, adds nothing to lose)
                autosave.touch()

        for field in fields:
            field.observe(typed, "value")
        return autosave

    def drop_saver(self, autosave: Autosave | None) -> None:
        """A form goes away: forget its typed text, unless a refused save is still retrying
        (that one is kept, and stored when the store is free)."""
        if autosave is not None and not autosave.retrying:
            autosave.cancel()
            if autosave in self._savers:
                self._savers.remove(autosave)
            self._show_unsaved()

    @property
    def unsaved(self) -> bool:
        return any(a.dirty for a in getattr(self, "_savers", ()))

    def _show_unsaved(self) -> None:
        if self.unsaved:
            self.add_class(UNSAVED_CLASS)
        else:
            self.remove_class(UNSAVED_CLASS)

    def not_saved_yet(self, exc: Exception) -> None:
        """What the person sees while a save waits for its next try (Autosave calls this)."""
        if isinstance(exc, StoreFailure):
            self.status.show(f"Not saved yet — retrying. {exc.kept_message()}", "error")
        elif isinstance(exc, CopWidgetsError):
            self.status.show(str(exc), "error")
        else:
            self.status.show(self.unexpected_save_failure, "error")

    # -- handlers never let an exception escape: ipywidgets would swallow it silently --------
    def guard(self, action, *args):
        """Run a handler; a refusal or failure becomes a plain message on the page."""
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

    def after_pending_edits(self, action) -> None:
        """Run `action` guarded, SETTLE_SECONDS from now when a loop runs (in a kernel): for
        buttons that end editing, so the last keystrokes the browser sends after the click are
        in first. Without a loop (plain Python, tests) it runs at once."""
        loop = running_loop()
        if loop is None:
            self.guard(action)
        else:
            loop.call_later(SETTLE_SECONDS, self.guard, action)
