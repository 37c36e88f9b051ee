"""The facilitator's run sheet: one session on one page, in the order it is run.

The join address (a full address that works from the room, copyable, as a QR code drawn here
and as the code in large type), who has joined, the roles (from the community's members, so
they can be given before anyone joins), the live board, the case discussion started with the
session's protocol and role holders, check-out opened for the room, and closing with the
session report. Opened as run_sheet.ipynb?session=<id>: the id only chooses the session; the
services refuse anyone who may not run it (policy "session.manage").
"""

from __future__ import annotations

import html
import os
from datetime import datetime
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import ipywidgets as W
import segno

from cop_widgets.apps._autosave import Ticker
from cop_widgets.apps._base import AppShell
from cop_widgets.apps._library_drafts import DraftOffers
from cop_widgets.apps._reports import report_panel
from cop_widgets.apps._startup import open_for_app
from cop_widgets.apps.board import BoardPanel, board_sets
from cop_widgets.apps.community import JOIN_PATH, close_session_box
from cop_widgets.apps.discussion_start import StartForm, session_choice_label
from cop_widgets.content.protocols import load_protocols
from cop_widgets.content.roles import SESSION_ROLES
from cop_widgets.content.session_items import ItemSet, load_item_sets
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import CopWidgetsError, InvalidInput
from cop_widgets.services import accounts, discussions, library, sessions
from cop_widgets.services.identity import Person, page_site
from cop_widgets.settings import Settings
from cop_widgets.store import Store

LABEL = {"description_width": "initial"}

RUN_SHEET_STYLE = """
<style>
.cop-run-sheet h2 { border-top: 1px solid #d1d5db; padding-top: 0.5em; margin-top: 1em; }
.cop-run-sheet .cop-run-code { display: block; font-size: 3rem; font-weight: 700;
  letter-spacing: 0.15em; line-height: 1.15; overflow-wrap: anywhere; }
.cop-run-sheet .cop-run-address label { display: block; margin: 0.4em 0 0.2em; }
.cop-run-sheet .cop-run-url-row { display: flex; flex-wrap: wrap; gap: 0.4em;
  align-items: center; }
.cop-run-sheet .cop-run-url-row input { flex: 1 1 18rem; min-width: 0; max-width: 100%;
  font: inherit; padding: 0.25em 0.4em; border: 1px solid #6b7280; border-radius: 4px;
  background: #fff; color: #1b1b1b; }
.cop-run-sheet .cop-run-url-row button { font: inherit; padding: 0.25em 1.2em;
  border-radius: 4px; border: 1px solid #1d4ed8; background: #1d4ed8; color: #fff;
  cursor: pointer; }
.cop-run-sheet .cop-run-url-row button:focus-visible { outline: 3px solid #1d4ed8;
  outline-offset: 2px; }
.cop-run-sheet figure.cop-run-qr { margin: 0.6em 0; }
.cop-run-sheet svg.cop-qr { display: block; width: 14rem; max-width: 100%; height: auto; }
/* nothing wider than a phone: fields and rows shrink and wrap (390 px, no sideways scroll) */
.cop-run-sheet .jupyter-widgets { max-width: 100%; }
.cop-run-sheet .widget-inline-hbox { max-width: calc(100% - 4px); } /* 2px margins */
.cop-run-sheet .widget-hbox { flex-wrap: wrap; }
.cop-run-sheet .widget-dropdown > select { min-width: 0; }
.cop-run-sheet .cop-run-joined bdi + bdi::before { content: ", "; }
.cop-run-sheet a { color: #1d4ed8; text-decoration: underline; }
.cop-run-sheet .widget-vbox > .widget-button { align-self: flex-start; }
.cop-run-sheet .cop-close-area h2 { border-top: none; }
</style>
"""

# Copies the address where the page allows it (a secure page: the clipboard; elsewhere the
# older copy command); else it selects the address for the person to copy. Nothing is loaded.
COPY_SCRIPT = (
    "var box=this.parentNode.querySelector('input'),say=this.parentNode.parentNode"
    ".querySelector('.cop-run-copied');box.focus();box.select();var done=false;"
    "try{done=document.execCommand('copy');}catch(e){}"
    "say.textContent=done?'Copied.':'Selected: press Ctrl+C (or Cmd+C) to copy it.';"
)


def join_url(site: str, code: str, base: str = "/") -> str:
    """The join page's full address for a code, on `site` (scheme, host and port), under the
    server's base path (a Hub service's prefix, e.g. /services/cop/; else /)."""
    return f"{site.rstrip('/')}{base.rstrip('/')}{JOIN_PATH}?code={quote(code)}"


def _base_path(environ) -> str:
    """The server's base path, which Voilà gives each kernel (VOILA_BASE_URL)."""
    env = os.environ if environ is None else environ
    base = env.get("VOILA_BASE_URL") or "/"
    return base if base.startswith("/") and not base.startswith("//") else "/"


def qr_svg(url: str) -> str:
    """`url` as a QR code, an inline SVG drawn here (segno; nothing fetched), with a name for
    screen readers. A full-size QR code (phones read it), white quiet zone around it."""
    code = segno.make_qr(url, error="m")
    svg = code.svg_inline(
        scale=4, border=4, dark="#000", light="#fff", omitsize=True, svgclass="cop-qr"
    )
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code of the join address" ', 1)


class RunSheetApp(AppShell):
    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        protocols: Catalogue,
        item_sets: dict[str, ItemSet],
        environ=None,
        tick_seconds: float = 2.0,
        startup_error: str = "",
    ):
        self.store, self.settings, self.environ = store, settings, environ
        self.protocols = protocols
        self.sets = board_sets(item_sets)
        self.zone = ZoneInfo(settings.timezone)
        self.person: Person | None = None
        self.session: sessions.Session | None = None
        self.board: BoardPanel | None = None
        self.start_form: StartForm | None = None
        self.pickers: dict[str, W.Dropdown] = {}
        self.joined_view = W.HTML()
        self.joined_view.add_class("cop-run-joined-box")
        self.discussions_view = W.HTML()
        self.discussions_view.add_class("cop-run-discussions")
        self.checkout_box = W.VBox()
        self.report_box = W.VBox()
        self.draft_offers: DraftOffers | None = None
        # joins and answers arrive while the page is open; the kernel (and this) ends with it
        self.ticker = Ticker(lambda: self.guard(self.refresh), every=tick_seconds)
        super().__init__(RUN_SHEET_STYLE + "<h1>Session run sheet</h1>")
        self.add_class("cop-run-sheet")
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        wanted = (parse_qs(self.query).get("session") or [""])[0]
        if not wanted:
            self.body.children = [
                W.HTML(
                    "<p>Open a session's run sheet from <a href='community.ipynb'>your "
                    "community's page</a>: each session you run has a “Run sheet” link.</p>"
                )
            ]
            return
        store = self.opened_store()
        try:
            self.session = sessions.session_to_run(store, person, wanted)
        except CopWidgetsError as exc:  # refused (audited), or no such session
            self.body.children = [W.HTML(f"<p class='cop-refused'>{html.escape(str(exc))}</p>")]
            raise
        self.show()

    # -- the page -------------------------------------------------------------------------------
    def show(self) -> None:
        s = self._running
        closed = s.status == "closed"
        if self.start_form is not None:
            self.drop_saver(self.start_form.saver)
        self.pickers, self.start_form = {}, None
        self.board = BoardPanel(self, s, self.sets, self.settings.min_group)
        sections: list[W.Widget] = [W.HTML(self._heading_html())]
        if not closed:
            sections += [W.HTML(self._address_html())]
        sections += [W.HTML("<h2>Who has joined</h2>"), self.joined_view]
        if not closed:
            sections += self._roles_section()
        sections += [
            W.HTML(
                "<h2>Live board</h2><p class='cop-meta'>What the room has sent, summarised only "
                f"from {self.settings.min_group} answers up. <a href='board.ipynb?code="
                f"{quote(s.join_code)}' target='_blank' rel='noopener' class='cop-run-board-"
                "link'>Open the board on its own page</a> (for the projector).</p>"
            ),
            self.board,
            W.HTML("<h2>Case discussion</h2>"),
            self.discussions_view,
        ]
        if not closed:
            sections += [self._start_form(), self.checkout_box]
            self._show_checkout()
        else:
            sections.append(self._library_section())
        sections += [self._close_area(), self.report_box]
        self.body.children = sections
        self._show_discussions()
        self.refresh()
        if closed:
            self._offer_report()
        self.ticker.start()

    def _heading_html(self) -> str:
        s = self._running
        store, person = self.signed_in()
        cop = next(
            (c for c in sessions.communities(store, person) if c.id == s.community_id),
            None,
        )
        protocol = self.protocols.get(s.protocol_id) if s.protocol_id else None
        when = f"{s.starts_at.astimezone(self.zone):%a %d %b %Y, %H:%M} ({self.settings.timezone})"
        parts = [
            *([f"<bdi>{html.escape(cop.name)}</bdi>"] if cop else []),
            html.escape(when),
            f"{s.duration_minutes} min",
            *([html.escape(protocol.name)] if protocol else []),
        ]
        focus = (
            f"<p><strong>Focus question:</strong> <bdi>{html.escape(s.focus_question)}</bdi></p>"
            if s.focus_question
            else ""
        )
        closed = (
            "<p class='cop-run-closed'><strong>This session is closed:</strong> its join code "
            "no longer works. Its board, discussions and report stay here.</p>"
            if s.status == "closed"
            else ""
        )
        return (
            f"<h2 class='cop-run-topic'><bdi>{html.escape(s.topic)}</bdi></h2>"
            f"<p class='cop-meta'>{' · '.join(parts)}</p>{focus}{closed}"
        )

    # -- 1. the join address --------------------------------------------------------------------
    def join_address(self) -> str:
        """The full join address: COP_PUBLIC_URL (room mode sets it), else the address this
        page was opened on, so that it works from the room's other computers."""
        site = self.settings.public_url or page_site(self.environ, default=accounts.DEFAULT_URL)
        return join_url(site, self._running.join_code, _base_path(self.environ))

    def _address_html(self) -> str:
        url = self.join_address()
        code = html.escape(self._running.join_code)
        return (
            "<h2>Join address</h2><div class='cop-run-address'>"
            f"<p>Join code <span class='cop-run-code'>{code}</span></p>"
            "<label for='cop-run-url'>The address to open (on a phone: scan the code below)"
            "</label><div class='cop-run-url-row'>"
            f"<input id='cop-run-url' class='cop-run-url' type='text' readonly "
            f"value='{html.escape(url, quote=True)}' onfocus='this.select()'>"
            f'<button type="button" class="cop-run-copy" onclick="{COPY_SCRIPT}">Copy</button>'
            "</div><p class='cop-run-copied cop-meta' role='status' aria-live='polite'></p>"
            f"<figure class='cop-run-qr'>{qr_svg(url)}<figcaption class='cop-meta'>Scan to "
            "open the join address.</figcaption></figure></div>"
        )

    # -- 2. who has joined (and the board): refreshed while the page is open -----------------
    def refresh(self) -> None:
        if self.session is None:
            return
        store, person = self.signed_in()
        joined = sessions.attendees(store, person, self.session.id)
        names = "".join(f"<bdi>{html.escape(name)}</bdi>" for _, name in joined)
        shown = (
            f"<p class='cop-run-joined'><strong class='cop-run-joined-count'>{len(joined)} "
            f"joined</strong>: {names}</p>"
            if joined
            else "<p class='cop-run-joined'><strong class='cop-run-joined-count'>0 joined"
            "</strong>: nobody yet. Give the room the address or the code above.</p>"
        )
        if shown != self.joined_view.value:
            self.joined_view.value = shown
        if self.board is not None:
            self.board.refresh()
        if self.pickers:
            self._offer_candidates()

    # -- 3. roles, from the community's members -------------------------------------------------
    def _roles_section(self) -> list[W.Widget]:
        running = self._running
        sid = running.id
        store, person = self.signed_in()
        candidates = sessions.role_candidates(store, person, sid)
        current = sessions.session_roles(store, person, sid)
        history = sessions.role_history(store, person, running.community_id)
        came = sessions.attendees(store, person, sid)
        suggested = sessions.suggest_roles(came or candidates, history)
        self._candidates = candidates
        self.pickers = {}
        for role_id, label in SESSION_ROLES:
            picker = W.Dropdown(
                options=self._options(candidates),
                value=current.get(role_id, suggested.get(role_id, "")),
                description=label,
                style=LABEL,
            )
            picker.add_class(f"cop-run-role-{role_id}")
            self.pickers[role_id] = picker
        save = W.Button(description="Save roles", button_style="primary")
        save.add_class("cop-run-save-roles")
        save.on_click(lambda _: self.guard(self.save_roles))
        return [
            W.HTML(
                "<h2>Roles</h2><p class='cop-meta'>From the community's members, so you can "
                "give them before anyone joins. Suggested: whoever has held each role least. "
                "Change any of them, then save.</p>"
            ),
            *self.pickers.values(),
            save,
        ]

    @staticmethod
    def _options(candidates: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [("(nobody)", "")] + [(name, pid) for pid, name in candidates]

    def _offer_candidates(self) -> None:
        """Someone new joined (and so belongs to the community): offer them too, keeping
        every choice on the page."""
        store, person = self.signed_in()
        candidates = sessions.role_candidates(store, person, self._running.id)
        if candidates == self._candidates:
            return
        self._candidates = candidates
        for picker in self.pickers.values():
            chosen = picker.value
            picker.options = self._options(candidates)
            picker.value = chosen if chosen in {pid for pid, _ in candidates} else ""

    def save_roles(self) -> None:
        running = self._running
        roles = {role_id: picker.value or "" for role_id, picker in self.pickers.items()}
        store, person = self.signed_in()
        sessions.set_session_roles(store, person, running.id, roles)
        self._prefill_roles(only_empty=False)
        self.status.show("Roles saved. The case discussion below starts with them.", "ok")

    # -- 4. the case discussion, with the session's protocol and role holders --------------------
    def _start_form(self) -> StartForm:
        s = self._running
        form = StartForm(self.protocols, [s], self.zone)
        # this session only: the discussion is held in it
        form.session.options = [(session_choice_label(s, self.zone), s.id)]
        form.session.layout.display = "none"
        if s.protocol_id and self.protocols.get(s.protocol_id) is not None:
            form.protocol.value = s.protocol_id
        form.children = (
            W.HTML(
                "<h3>Start the case discussion</h3><p class='cop-meta'>With the session's "
                "protocol and role holders (change them here if you need to). Write the "
                "de-identified case summary; the room then finds the discussion on its join "
                "page.</p>"
            ),
            *form.children[1:],
        )
        form.start.on_click(lambda _: self.after_pending_edits(self.start_discussion))
        # a case summary typed and not yet started: the page asks before it is left
        form.saver = self.saver(form.summary, form.content_note)
        form.protocol.observe(lambda _: self._prefill_roles(only_empty=True), "value")
        self.start_form = form
        self._prefill_roles(only_empty=False)
        return form

    def _prefill_roles(self, only_empty: bool) -> None:
        """The session's role holders, by name, in the discussion's role fields (the same role
        ids: facilitator, presenter, timekeeper, note-taker)."""
        form = self.start_form
        if form is None:
            return
        store, person = self.signed_in()
        session_id = self._running.id
        names = dict(sessions.role_candidates(store, person, session_id))
        held = sessions.session_roles(store, person, session_id)
        for role_id, _ in SESSION_ROLES:
            box = form.role_inputs.get(role_id)
            if box is None or (only_empty and box.value.strip()):
                continue
            box.value = names.get(held.get(role_id, ""), "")

    def start_discussion(self) -> None:
        running = self._running
        form = self.start_form
        if form is None:  # a stale button: the session's form went (closed meanwhile)
            raise InvalidInput(
                "session", "No case discussion form is open on this page: open its run sheet again."
            )
        if form.start_discussion(self, running.id) is None:  # highlighted words to check
            return
        # a fresh form for another discussion; the one started is listed above it
        self.drop_saver(form.saver)
        fresh = self._start_form()
        self.body.children = [fresh if w is form else w for w in self.body.children]
        self._show_discussions()
        self.status.show(
            "Case discussion started: open it from the link above. The room finds it on "
            "their join page.",
            "ok",
        )

    def _show_discussions(self) -> None:
        store, person = self.signed_in()
        started = discussions.session_discussions(store, person, self._running.id)
        if not started:
            self.discussions_view.value = (
                "<p class='cop-meta'>None started yet in this session.</p>"
            )
            return
        rows = []
        for d in started:
            protocol = self.protocols.get(d.protocol_id)
            name = protocol.name if protocol else d.protocol_id
            rows.append(
                f"<li><a href='case_discussion.ipynb?discussion={quote(d.id)}' target='_blank' "
                f"rel='noopener' class='cop-run-discussion-link'>Open the case discussion"
                f"</a> · {html.escape(name)} · {html.escape(d.status)} · started "
                f"{html.escape(d.created_at[11:16])} UTC</li>"
            )
        self.discussions_view.value = f"<ul>{''.join(rows)}</ul>"

    # -- 5. check-out ---------------------------------------------------------------------------
    def _show_checkout(self) -> None:
        opened = self._running.checkout_opened_at
        heading = W.HTML("<h2>Check-out</h2>")
        if opened:
            when = datetime.fromisoformat(opened).astimezone(self.zone)
            self.checkout_box.children = [
                heading,
                W.HTML(
                    f"<p class='cop-run-checkout-open'>Check-out is open (since {when:%H:%M}): "
                    "each participant's join page shows it.</p>"
                ),
            ]
            return
        button = W.Button(description="Open check-out for the room", button_style="primary")
        button.add_class("cop-run-open-checkout")
        button.on_click(lambda _: self.guard(self.open_checkout))
        self.checkout_box.children = [
            heading,
            W.HTML(
                "<p class='cop-meta'>Participants' check-out appears on their join page once "
                "you open it, near the end.</p>"
            ),
            button,
        ]

    @property
    def _running(self) -> sessions.Session:
        """The session this page runs; none after a refusal (a stale button's message)."""
        if self.session is None or self.person is None:
            raise InvalidInput(
                "session", "No session is open on this page: open its run sheet again."
            )
        return self.session

    def open_checkout(self) -> None:
        store, person = self.signed_in()
        self.session = sessions.open_checkout(store, person, self._running.id)
        self._show_checkout()
        self.status.show("Check-out is open: it now shows on every join page.", "ok")

    # -- after the session: its practice insights and resources to the library ---------------
    def _library_section(self) -> W.Widget:
        """Each practice insight (the notes of the protocols' insight phases) and each resource
        shared at check-out, with "Make a library draft", for the session's facilitator and
        note-taker; the case summary and other notes are never offered."""
        s = self._running
        store, person = self.signed_in()
        heading = "<h2>To the practice library</h2>"
        if not library.may_draft_from_session(store, person, s.id):
            self.draft_offers = None
            return W.HTML(
                heading + "<p class='cop-meta cop-drafts-who'>The session's facilitator or "
                "note-taker turns its practice insights and shared resources into drafts for "
                "the community's library.</p>"
            )
        heading += (
            "<p class='cop-meta'>What the group learned and shared, to keep in the community's "
            "library: each becomes a draft that only you see, to edit and publish.</p>"
        )
        found = library.session_sources(
            store, person, s.id, self.protocols, self.sets, self.settings.min_group
        )
        if found.resources_too_few:
            no_resources = (
                f"<p class='cop-meta'>Fewer than {self.settings.min_group} people sent the "
                "check-out: its resources stay in the room.</p>"
            )
        else:
            no_resources = "<p class='cop-meta'>No resources were shared at check-out.</p>"
        if found.resources_held_back:
            no_resources = (
                f"<p class='cop-meta'>{found.resources_held_back} held back: they may identify "
                "someone.</p>"
            )
        self.draft_offers = DraftOffers(self, self._make_library_draft)
        self.draft_offers.show(
            heading,
            [
                (
                    "Practice insights",
                    found.insights,
                    "<p class='cop-meta'>No practice insights were noted in this session's "
                    "case discussions.</p>",
                ),
                ("Resources shared at check-out", found.resources, no_resources),
            ],
        )
        return self.draft_offers

    def _make_library_draft(self, source: library.DraftSource, confirmed: bool) -> library.Entry:
        store, person = self.signed_in()
        if source.kind == "note":
            return library.draft_from_note(
                store, person, source.key, self.protocols, confirmed=confirmed
            )
        return library.draft_from_resource(
            store, person, self._running.id, source.key, self.sets, self.settings.min_group,
            confirmed=confirmed,
        )  # fmt: skip

    def make_library_draft(self, key: str) -> None:
        """Make the draft of the offer `key` on this page (its button's action)."""
        if self.session is None or self.draft_offers is None:
            raise InvalidInput(
                "source", "No insights or resources are offered on this page: open it again."
            )
        self.draft_offers.make_draft(key)

    # -- 6. close, and the report ---------------------------------------------------------------
    def _close_area(self) -> W.Widget:
        return close_session_box(
            self,
            self._running,
            self.close_session,
            heading="<h2>Close and make the report</h2>",
            intro="When the session is over: the join code stops working, and the session "
            "report (attendance, roles, the case discussion, what the room sent) is made "
            "for you to send to the group.",
        )

    def close_session(self) -> None:
        store, person = self.signed_in()
        session_id = self._running.id
        sessions.close_session(store, person, session_id)
        self.session = sessions.session_to_run(store, person, session_id)
        self.show()
        self.status.show(
            "Session closed: its code no longer works. Make the session report below to send "
            "to the group.",
            "ok",
        )

    def _offer_report(self) -> None:
        """The session report, made on demand (HTML and PDF, rendered in the background) for
        those the policy lets make it (report.session)."""
        self.report_panel = report_panel(
            self, "session", self._running.id, label="Make the session report"
        )
        self.report_box.children = [self.report_panel]


def run_sheet_app(
    settings: Settings | None = None, environ=None, tick_seconds: float = 2.0
) -> RunSheetApp:
    def data(s: Settings):
        return load_protocols(s.protocols_dir), load_item_sets(s.data_dir / "session_items")[0]

    opened = open_for_app(settings, environ, "The run sheet", data)
    protocols, sets = opened.loaded or (Catalogue((), ()), {})
    return RunSheetApp(
        opened.store,
        opened.settings,
        protocols,
        sets,
        environ,
        tick_seconds,
        startup_error=opened.error,
    )
