"""The case discussion app: start a discussion from a protocol, run it, keep what is learned.

The facilitator (and timekeeper) run the clock; note-takers keep notes per phase and record
actions; everyone sees the current phase, whose turn it is and its prompts, and rates scale
phases. Every kernel shows the same discussion from the store, refreshed every second.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._autosave import Ticker
from cop_widgets.apps._base import AppShell, catalogue_problems_html, staying_until_saved
from cop_widgets.apps._startup import open_for_app
from cop_widgets.apps.discussion_start import StartForm
from cop_widgets.apps.discussion_view import DiscussionView
from cop_widgets.content.protocols import Protocol, load_protocols
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import CopWidgetsError, InvalidInput
from cop_widgets.services import discussions
from cop_widgets.services import sessions as session_service
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets.safety_banner import SafetyBanner


class CaseDiscussionApp(AppShell):
    """The list of discussions with the start form, or one open discussion (a DiscussionView)."""

    def __init__(
        self,
        store: Store | None,
        catalogue: Catalogue,
        settings: Settings,
        environ=None,
        tick_seconds: float = 1.0,
        startup_error: str = "",
    ):
        self.store, self.catalogue, self.environ = store, catalogue, environ
        self.zone = ZoneInfo(settings.timezone)
        self.person: Person | None = None
        self.view: DiscussionView | None = None
        self.banner = SafetyBanner(settings.reporting_url, settings.reporting_label)
        self.banner.on_change(self._step_out)
        self.ticker = Ticker(lambda: self.guard(self._tick), every=tick_seconds)
        # The start form is made with the app: in a preheated kernel that is before anyone opens
        # the page. Made at sign-in, its widgets (57 with the list's) were each a message to the
        # page on its first request; the sessions it offers are the person's, filled in then.
        self._form_ready: StartForm | None = StartForm(catalogue, (), self.zone, self.look)
        super().__init__(
            "<h1>Case discussion</h1>",
            self.banner,
            self.look.html(catalogue_problems_html(catalogue, "protocol")),
        )
        self.begin(startup_error, environ)

    def _step_out(self, out: bool) -> None:
        """The safety banner's step out (and back in): hides (shows) the open discussion."""
        if self.view is not None:
            self.view.step_out(out)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.show_home()
        # case_discussion.ipynb?discussion=… (the join page, the run sheet) only chooses which
        # one to open; open_discussion checks that this person may read it
        wanted = (parse_qs(self.query).get("discussion") or [""])[0]
        if wanted:
            self.open_discussion(wanted)

    def show_home(self) -> None:
        """Back to the list of discussions and the start form. The open discussion's notes are
        saved first; while the store refuses them, the discussion stays open (and says so)."""
        if self.view is not None:
            saver = self.view.autosave
            try:
                saved = saver.flush()
            except CopWidgetsError as exc:  # e.g. closed meanwhile: said, and not retried
                self.status.show(str(exc), "error")
                saved = True
            if not saved:  # the store refused the notes: stay with them while it retries
                self.status.show(staying_until_saved(saver, "Back to discussions"), "error")
                return
        self.view = None
        self.ticker.stop()
        ready, self._form_ready = self._form_ready, None
        self.form = ready or StartForm(self.catalogue, (), self.zone, self.look)
        self.form.show_sessions(self._sessions_to_link())
        self.form.start.on_click(lambda _: self.after_pending_edits(self.start_discussion))
        store, person = self.signed_in()
        look = self.look
        rows = []
        for item in discussions.list_discussions(store, person):
            protocol = self.catalogue.get(item.protocol_id)
            button = W.Button(
                description="Open",
                tooltip=f"Open the {item.status} discussion",
                layout=look.layout(),
                style=look.style_of(W.Button),
            )
            button.add_class("cop-open-discussion")
            button.on_click(lambda _, i=item.id: self.guard(self.open_discussion, i))
            label = look.html(
                f"<strong>{html.escape(protocol.name if protocol else item.protocol_id)}</strong>"
                f" · {item.status} · facilitated by <bdi>{html.escape(item.facilitator_name)}</bdi>"
                f' <span class="cop-meta">{html.escape(item.created_at[:16].replace("T", " "))}'
                " UTC</span>"
            )
            rows.append(W.HBox([button, label], layout=look.layout(align_items="center")))
        listing = (
            W.VBox(rows, layout=look.layout()) if rows else look.html("<p>No discussions yet.</p>")
        )
        self.body.children = [look.html("<h2>Discussions</h2>"), listing, self.form]

    def _sessions_to_link(self) -> list[session_service.Session]:
        store, person = self.signed_in()
        return session_service.sessions_to_link_now(store, person, datetime.now(UTC))

    def start_discussion(self) -> None:
        try:
            started = self.form.start_discussion(self, self.form.chosen_session_id)
        except InvalidInput as exc:
            if exc.field == "session":
                # The list was out of date (a session closed or ended): offer what is current.
                # The summary and everything else typed stay in the form.
                self.form.show_sessions(self._sessions_to_link(), preselect=False)
            raise
        if started is None:  # the summary's highlighted words wait for the author
            return
        self.status.show(
            "Discussion started. Press Start on the timer when the group is ready.", "ok"
        )
        self._open(*started)

    def open_discussion(self, discussion_id: str) -> None:
        store, person = self.signed_in()
        found = discussions.open_discussion(store, person, discussion_id)
        protocol = self.catalogue.get(found.protocol_id)
        if protocol is None:
            raise InvalidInput(
                "protocol",
                f"The protocol {found.protocol_id!r} of this discussion "
                "is not available on this server; ask the facilitator.",
            )
        self._open(found, protocol)
        self.status.show("Discussion opened.", "info")

    def _open(self, found: discussions.Discussion, protocol: Protocol) -> None:
        self.view = DiscussionView(self, found, protocol)
        self.view.step_out(self.banner.stepped_out)
        self.body.children = [self.view]
        self.ticker.start()

    def _tick(self) -> None:
        if self.view is not None:
            self.view.refresh()


def case_discussion_app(
    settings: Settings | None = None, environ=None, tick_seconds: float = 1.0
) -> CaseDiscussionApp:
    """Build the app from the configured data folder and store; problems become messages.
    Without settings the banner still shows, with the default reporting link."""
    opened = open_for_app(
        settings, environ, "The workbook", lambda s: load_protocols(s.protocols_dir)
    )
    catalogue = opened.loaded or Catalogue((), ())
    return CaseDiscussionApp(
        opened.store, catalogue, opened.settings, environ, tick_seconds, startup_error=opened.error
    )
