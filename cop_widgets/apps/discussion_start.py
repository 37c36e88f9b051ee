"""The start form of a case discussion: protocol, session, de-identified summary, roles.

The case discussion app shows it on its home page; the run sheet shows it for the session it
runs, with that session chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._base import AppShell
from cop_widgets.content.protocols import Protocol
from cop_widgets.content.roles import DISCUSSION_ROLES
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import InvalidInput
from cop_widgets.services import discussions
from cop_widgets.services import sessions as session_service
from cop_widgets.widgets.deid_check import DeidCheck
from cop_widgets.widgets.shared_look import SharedLook

NO_SESSION_LABEL = "Not part of a session"
# A Dropdown value of None means "nothing selected" to ipywidgets, so no session is "".
NO_SESSION = ""


def _names(text: str) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def session_choice_label(session: session_service.Session, zone: ZoneInfo) -> str:
    """The label "Topic · HH:MM" (settings time zone). Plain text: a Dropdown shows text."""
    return f"{session.topic} · {session.starts_at.astimezone(zone):%H:%M}"


class StartForm(W.VBox):
    """Protocol, session, de-identified summary, content note, roles; checked before saving."""

    def __init__(
        self,
        catalogue: Catalogue,
        sessions: Sequence[session_service.Session] = (),
        zone: ZoneInfo | None = None,
        look: SharedLook | None = None,
    ):
        """`look`: the page's shared layout and style models (the form's own by default)."""
        self.catalogue = catalogue
        self.zone = zone or ZoneInfo("UTC")
        self.look = look = look or SharedLook()
        self.protocol = W.Dropdown(
            options=[(p.name, p.id) for p in catalogue.items],
            description="Protocol",
            style=look.labelled(W.Dropdown),
            layout=look.layout(width="28rem"),
        )
        self.protocol.add_class("cop-protocol")
        # its own layout: the run sheet hides it (its session is the one run)
        self.session = W.Dropdown(
            description="Part of session",
            style=look.labelled(W.Dropdown),
            layout=W.Layout(width="28rem"),
        )
        self.session.add_class("cop-session-choice")
        self.show_sessions(sessions)
        self.summary = W.Textarea(
            description="De-identified case summary",
            placeholder="Roles, not names: 'a mother of two', 'the Year 3 teacher'.",
            style=look.labelled(W.Textarea),
            layout=look.layout(width="auto", flex="1 1 auto", height="8em"),
        )
        self.summary.add_class("cop-summary")
        self.content_note = W.Text(
            description="Content note (optional)",
            placeholder="e.g. includes family violence",
            style=look.labelled(W.Text),
            layout=look.layout(width="36rem"),
        )
        self.content_note.add_class("cop-content-note")
        self.names_mentioned = W.Text(
            description="Names said aloud today (checked for, never saved)",
            style=look.labelled(W.Text),
            layout=look.layout(width="40rem"),
        )
        self.names_mentioned.add_class("cop-names-mentioned")
        self.role_inputs: dict[str, W.Text] = {}
        self.roles_box = W.VBox(layout=look.layout())
        self.deid = DeidCheck()
        self.start = W.Button(
            description="Check and start",
            button_style="primary",
            layout=look.layout(),
            style=look.style_of(W.Button),
        )
        self.start.add_class("cop-start-discussion")
        self.protocol.observe(lambda _: self._show_roles(), "value")
        self._show_roles()
        super().__init__(
            layout=look.layout(),
            children=[
                look.html("<h2>Start a case discussion</h2>"),
                self.protocol,
                self.session,
                self.summary,
                self.content_note,
                self.names_mentioned,
                look.html("<h3>Roles</h3><p class='cop-meta'>Names, separated by commas.</p>"),
                self.roles_box,
                self.deid,
                self.start,
            ],
        )

    @property
    def chosen(self) -> Protocol | None:
        return self.catalogue.get(self.protocol.value)

    @property
    def chosen_session_id(self) -> str | None:
        return self.session.value or None

    def show_sessions(
        self, sessions: Sequence[session_service.Session], preselect: bool = True
    ) -> None:
        """Offer these sessions; a single one is the likely one, so it is preselected (unless
        the person's own choice was just refused: then they choose again)."""
        self.session.options = [(NO_SESSION_LABEL, NO_SESSION)] + [
            (session_choice_label(s, self.zone), s.id) for s in sessions
        ]
        only_one = preselect and len(sessions) == 1
        self.session.value = sessions[0].id if only_one else NO_SESSION

    def _show_roles(self) -> None:
        protocol = self.chosen
        if protocol is None:
            self.roles_box.children = []
            return
        roles = [(r.id, r.name) for r in protocol.roles]
        roles += [(rid, name) for rid, name in DISCUSSION_ROLES if rid not in dict(roles)]
        inputs = []
        for role_id, name in roles:
            box = self.role_inputs.get(role_id) or W.Text(
                description=name,
                style=self.look.labelled(W.Text),
                layout=self.look.layout(width="30rem"),
            )
            box.description = name
            box.add_class(f"cop-role-{role_id}")
            self.role_inputs[role_id] = box
            inputs.append(box)
        self.roles_box.children = inputs

    def roles(self) -> dict[str, list[str]]:
        shown = {w.description for w in self.roles_box.children}
        return {
            rid: _names(box.value)
            for rid, box in self.role_inputs.items()
            if box.description in shown and _names(box.value)
        }

    def check(self) -> bool:
        """True when the summary is ready to save: nothing found, or the author confirmed."""
        return self.deid.review(
            {"Case summary": self.summary.value}, _names(self.names_mentioned.value)
        )

    def start_discussion(
        self, app: AppShell, session_id: str | None
    ) -> tuple[discussions.Discussion, Protocol] | None:
        """Start the discussion this form describes, held in `session_id` (or in none), for the
        person signed in to `app`. Refused (InvalidInput) without a protocol or a summary; None,
        with a note on the page, while the summary's highlighted words wait for the author."""
        protocol = self.chosen
        if protocol is None:
            raise InvalidInput("protocol", "Choose a protocol from the list.")
        if not self.summary.value.strip():
            raise InvalidInput("case summary", "Write a short de-identified case summary first.")
        if not self.check():
            app.status.show(
                "Not started yet: check the highlighted words in the summary, rephrase them or "
                "tick the box, then press Check and start again.",
                "warning",
            )
            return None
        store, person = app.signed_in()
        started = discussions.start_discussion(
            store,
            person,
            protocol,
            self.summary.value,
            self.content_note.value,
            self.roles(),
            summary_checked=True,
            session_id=session_id,
        )
        return started, protocol
