"""The case discussion app: start a discussion from a protocol, run it, keep what is learned.

The facilitator (and timekeeper) run the clock; note-takers keep notes per phase and record
actions; everyone sees the current phase, whose turn it is and its prompts, and rates scale
phases. Every kernel shows the same discussion from the store, refreshed every second.
"""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave, Ticker
from cop_widgets.apps._base import AppShell
from cop_widgets.apps._fields import TakenText
from cop_widgets.apps._startup import open_for_app
from cop_widgets.content.protocols import Protocol, load_protocols
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import CopWidgetsError, InvalidInput, NotAllowed, RecordNotFound
from cop_widgets.services import discussion_clock, discussions
from cop_widgets.services import sessions as session_service
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets.deid_check import DeidCheck
from cop_widgets.widgets.phase_timer import PhaseTimer
from cop_widgets.widgets.safety_banner import SafetyBanner
from cop_widgets.widgets.scale_rating import ScaleRating

WIDE = W.Layout(width="auto", flex="1 1 auto")
LABEL = {"description_width": "initial"}
NO_SESSION_LABEL = "Not part of a session"
# A Dropdown value of None means "nothing selected" to ipywidgets, so no session is "".
NO_SESSION = ""


def _role(protocol: Protocol, role_id: str):
    try:
        return protocol.role(role_id)
    except KeyError:
        return None


def _names(text: str) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _problems_html(catalogue: Catalogue) -> str:
    if not catalogue.problems:
        return ""
    items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in catalogue.problems)
    return (
        '<div class="cop-problems" role="alert"><strong>Some protocol files could not be '
        f"loaded</strong> (the others work; tell your facilitator):<ul>{items}</ul></div>"
    )


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
    ):
        self.catalogue = catalogue
        self.zone = zone or ZoneInfo("UTC")
        self.protocol = W.Dropdown(
            options=[(p.name, p.id) for p in catalogue.items],
            description="Protocol",
            style=LABEL,
            layout=W.Layout(width="28rem"),
        )
        self.protocol.add_class("cop-protocol")
        self.session = W.Dropdown(
            description="Part of session",
            style=LABEL,
            layout=W.Layout(width="28rem"),
        )
        self.session.add_class("cop-session-choice")
        self.show_sessions(sessions)
        self.summary = W.Textarea(
            description="De-identified case summary",
            placeholder="Roles, not names: 'a mother of two', 'the Year 3 teacher'.",
            style=LABEL,
            layout=W.Layout(width="auto", flex="1 1 auto", height="8em"),
        )
        self.summary.add_class("cop-summary")
        self.content_note = W.Text(
            description="Content note (optional)",
            placeholder="e.g. includes family violence",
            style=LABEL,
            layout=W.Layout(width="36rem"),
        )
        self.content_note.add_class("cop-content-note")
        self.names_mentioned = W.Text(
            description="Names said aloud today (checked for, never saved)",
            style=LABEL,
            layout=W.Layout(width="40rem"),
        )
        self.names_mentioned.add_class("cop-names-mentioned")
        self.role_inputs: dict[str, W.Text] = {}
        self.roles_box = W.VBox()
        self.deid = DeidCheck()
        self.start = W.Button(description="Check and start", button_style="primary")
        self.start.add_class("cop-start-discussion")
        self.protocol.observe(lambda _: self._show_roles(), "value")
        self._show_roles()
        super().__init__(
            children=[
                W.HTML("<h2>Start a case discussion</h2>"),
                self.protocol,
                self.session,
                self.summary,
                self.content_note,
                self.names_mentioned,
                W.HTML("<h3>Roles</h3><p class='cop-meta'>Names, separated by commas.</p>"),
                self.roles_box,
                self.deid,
                self.start,
            ]
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
        roles += [(rid, name) for rid, name in discussions.STANDARD_ROLES if rid not in dict(roles)]
        inputs = []
        for role_id, name in roles:
            box = self.role_inputs.get(role_id) or W.Text(
                description=name, style=LABEL, layout=W.Layout(width="30rem")
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


class DiscussionView(W.VBox):
    """One open discussion as this person sees it; refresh() pulls the shared state."""

    def __init__(
        self, app: CaseDiscussionApp, discussion: discussions.Discussion, protocol: Protocol
    ):
        self.app, self.protocol = app, protocol
        self.discussion = discussion
        self.me: Person = app.person
        self.timer = PhaseTimer(protocol.phases, discussion.may_run_clock(self.me))
        self.timer.on_action(lambda *a: app.guard(self.clock_action, *a))
        self.case_box = W.HTML()
        self.case_hidden = bool(discussion.content_note)
        self.show_case = W.Button(description="Show the case summary")
        self.show_case.add_class("cop-show-case")
        self.show_case.on_click(lambda _: self._reveal_case())
        self.phase_box = W.VBox()
        self.actions_box = W.VBox()
        self.others_notes = W.HTML()
        self.ratings_widget: ScaleRating | None = None
        self._note_boxes: dict[str, tuple[W.Textarea, str, int | None]] = {}
        self._shown_phase = -1
        # The notes of the shown phase: unsaved until the store confirms them; a refused save is
        # retried in the background (each phase's notes get their own, see _show_phase).
        self.autosave = app.track(Autosave(None, on_failure=app.not_saved_yet))
        self.close_button = W.Button(description="Close discussion")
        self.close_button.add_class("cop-close-discussion")
        self.close_button.on_click(lambda _: app._after_pending_edits(self.toggle_closed))
        self.end_access_button = W.Button(
            description="End attendees' access to this case",
            tooltip="After the session: the session's attendees no longer open this discussion",
        )
        self.end_access_button.add_class("cop-end-access")
        self.end_access_button.on_click(lambda _: app.guard(self.end_attendee_access))
        self._show_end_access()
        back = W.Button(description="Back to discussions")
        back.add_class("cop-back")
        back.on_click(lambda _: app._after_pending_edits(app.show_home))
        mine = sorted(discussion.roles_of(self.me))
        instructions = "".join(
            f"<li><strong>{html.escape(role.name)}</strong>: {html.escape(role.instructions)}</li>"
            for role in (_role(protocol, r) for r in mine)
            if role is not None
        )
        roles_line = "; ".join(
            f"{html.escape(label)}: {html.escape(', '.join(discussion.holders(rid)))}"
            for rid, label in self._role_labels()
            if discussion.holders(rid)
        )
        rules = "".join(f"<li>{html.escape(r)}</li>" for r in protocol.ground_rules)
        self.content = W.VBox(
            [
                W.HTML(
                    f"<h2>{html.escape(protocol.name)}</h2>"
                    + self._session_line()
                    + f'<p class="cop-meta">Roles — {roles_line or "none assigned"}</p>'
                    + (f"<p>Your role(s):</p><ul>{instructions}</ul>" if instructions else "")
                    + (
                        f"<details><summary>Ground rules</summary><ul>{rules}</ul></details>"
                        if rules
                        else ""
                    )
                ),
                self.case_box,
                self.show_case,
                self.timer,
                self.phase_box,
                W.HTML("<h3>Actions</h3>"),
                self.actions_box,
            ]
        )
        super().__init__(
            children=[self.content, W.HBox([back, self.close_button, self.end_access_button])]
        )
        self.add_class("cop-discussion")
        self._render_case()
        self.refresh()

    def _session_line(self) -> str:
        if self.discussion.session_id is None:
            return ""
        try:
            held_in = session_service.get_session(
                self.app.store, self.me, self.discussion.session_id
            )
        except (RecordNotFound, NotAllowed):  # removed meanwhile, or not this reader's to see
            return ""
        return (
            '<p class="cop-meta cop-discussion-session">Part of the session '
            f"“{html.escape(held_in.topic)}”</p>"
        )

    def _role_labels(self):
        labels = [(r.id, r.name) for r in self.protocol.roles]
        return labels + [
            (rid, n) for rid, n in discussions.STANDARD_ROLES if rid not in dict(labels)
        ]

    # -- case summary behind its content note -------------------------------------------------
    def _render_case(self) -> None:
        d = self.discussion
        note = (
            f'<p class="cop-content-warning"><strong>Content note:</strong> '
            f"{html.escape(d.content_note)}</p>"
            if d.content_note
            else ""
        )
        body = (
            ""
            if self.case_hidden
            else f'<div class="cop-case" style="white-space:pre-wrap">'
            f"{html.escape(d.case_summary)}</div>"
        )
        self.case_box.value = f"<h3>The case</h3>{note}{body}"
        self.show_case.layout.display = "none" if not self.case_hidden else None

    def _reveal_case(self) -> None:
        self.case_hidden = False
        self._render_case()

    def step_out(self, out: bool) -> None:
        self.content.layout.display = "none" if out else None

    # -- shared state ------------------------------------------------------------------------
    def refresh(self) -> None:
        self.discussion = discussions.get(self.app.store, self.me, self.discussion.id)
        d = self.discussion
        self.timer.show(d.clock, time.time())
        open_ = d.status == "open"
        self.timer.controls.layout.display = None if open_ and d.may_run_clock(self.me) else "none"
        self.close_button.description = "Close discussion" if open_ else "Reopen discussion"
        self.close_button.layout.display = None if d.may_run_clock(self.me) else "none"
        if d.clock.phase_index != self._shown_phase:
            self._show_phase()
        self._refresh_shared()

    def _refresh_shared(self) -> None:
        phase = self.timer.phase
        mine = set(self._note_boxes)
        others = [
            n
            for n in discussions.notes(self.app.store, self.me, self.discussion.id, phase.id)
            if n.id not in mine
        ]
        text = "".join(
            f"<div class='cop-other-note'><strong><bdi>{html.escape(n.author_name)}</bdi>"
            f"{' — ' + html.escape(self._column_label(n.column_id)) if n.column_id else ''}"
            f"</strong><div style='white-space:pre-wrap'>{html.escape(n.text)}</div></div>"
            for n in others
            if n.text.strip()
        )
        value = f"<h4>Notes for this phase</h4>{text}" if text else ""
        if self.others_notes.value != value:
            self.others_notes.value = value
        if self.ratings_widget is not None:
            self.ratings_widget.show_spread(
                discussions.ratings(self.app.store, self.me, self.discussion.id, phase.id)
            )
        self._show_actions()

    def _column_label(self, column_id: str) -> str:
        for column in self.timer.phase.columns:
            if column.id == column_id:
                return column.label
        return column_id

    def _show_phase(self) -> None:
        if self._note_boxes:
            try:
                # Refused by the store, the last phase's notes keep retrying in the background
                # (their saver holds their boxes) while the next phase is shown.
                self.autosave.flush()
            except CopWidgetsError as exc:
                self.app.status.show(str(exc), "error")
        phase = self.timer.phase
        self._shown_phase = self.discussion.clock.phase_index
        speaker_role = _role(self.protocol, phase.speaker)
        speaker = {"all": "Everyone", "group": "The group (the presenter listens)"}.get(
            phase.speaker, speaker_role.name if speaker_role else phase.speaker
        )
        prompts = "".join(f"<li>{html.escape(p)}</li>" for p in phase.prompts)
        parts: list[W.Widget] = [
            W.HTML(f"<p><strong>Who speaks:</strong> {html.escape(speaker)}</p><ul>{prompts}</ul>")
        ]
        self._note_boxes = boxes_of_phase = {}
        if phase.notes and self.discussion.may_take_notes(self.me):
            existing = {
                n.column_id: n
                for n in discussions.notes(self.app.store, self.me, self.discussion.id, phase.id)
                if n.author_id == self.me.id
            }
            columns = [(c.id, c.label) for c in phase.columns] or [("", "Notes")]
            boxes = []
            for column_id, label in columns:
                note = existing.get(column_id)
                box = W.Textarea(
                    value=note.text if note else "",
                    description=label if column_id else f"Notes: {phase.label}",
                    style=LABEL,
                    layout=W.Layout(width="auto", flex="1 1 auto", height="7em"),
                )
                box.add_class("cop-note")
                box.add_class(f"cop-note-{column_id or 'main'}")
                box.observe(lambda _: self.autosave.touch(), "value")
                self._note_boxes[note.id if note else str(uuid.uuid4())] = (
                    box,
                    column_id,
                    note.revision if note else None,
                )
                boxes.append(box)
            self.autosave = self.app.track(
                Autosave(
                    lambda: self._save_notes(phase, boxes_of_phase, "automatically"),
                    on_failure=self.app.not_saved_yet,
                )
            )
            saver = self.autosave
            self.save_notes_button = W.Button(description="Save notes")
            self.save_notes_button.add_class("cop-save-notes")
            self.save_notes_button.on_click(
                lambda _: self.app.guard(
                    saver.run, lambda: self._save_notes(phase, boxes_of_phase, "now")
                )
            )
            parts += [*boxes, self.save_notes_button]
        parts.append(self.others_notes)
        self.ratings_widget = None
        if phase.scale is not None:
            self.ratings_widget = ScaleRating(phase.scale)
            self.ratings_widget.on_rate(lambda v: self.app.guard(self.rate, v))
            parts.append(self.ratings_widget)
        self.phase_box.children = parts

    # -- actions of this person -----------------------------------------------------------------
    def clock_action(self, action: str, from_index: int, minutes: int) -> None:
        self.autosave.flush()
        discussions.run_clock(
            self.app.store,
            self.me,
            self.discussion.id,
            action,
            len(self.protocol.phases),
            from_index=from_index,
            minutes=minutes,
        )
        self.refresh()
        self.app.status.show(self._clock_message(action), "ok")

    def _clock_message(self, action: str) -> str:
        """What the clock now does, in words (the last message never stays "opened")."""
        clock, phases = self.discussion.clock, self.protocol.phases
        if clock.status == discussion_clock.FINISHED:
            return "Finished: every phase is done. Keep notes and actions, then close it."
        phase = phases[min(clock.phase_index, len(phases) - 1)]
        return {
            "start": f"Started: {phase.label}.",
            "pause": "Paused.",
            "resume": f"Running again: {phase.label}.",
            "extend": f"A minute added to {phase.label}.",
        }.get(action, f"Now: {phase.label} (phase {clock.phase_index + 1} of {len(phases)}).")

    def save_notes(self, how: str) -> bool:
        """Save the shown phase's notes now. False when the store refused them: then they stay
        marked unsaved and are retried in the background until the store takes them."""
        phase, boxes = self.protocol.phases[self._shown_phase], self._note_boxes
        return self.autosave.run(lambda: self._save_notes(phase, boxes, how))

    def _save_notes(self, phase, boxes: dict, how: str) -> None:
        for note_id, (box, column_id, revision) in list(boxes.items()):
            saved = discussions.save_note(
                self.app.store,
                self.me,
                note_id,
                self.discussion.id,
                phase.id,
                box.value,
                column_id,
                expected_revision=revision,
            )
            boxes[note_id] = (box, column_id, saved.revision)
        self.app.status.show(f"Notes saved {how} at {time.strftime('%H:%M:%S')}.", "ok")

    def rate(self, value: int) -> None:
        discussions.rate(self.app.store, self.me, self.discussion.id, self.timer.phase, value)
        self.app.status.show(f"Your rating ({value}) is saved.", "ok")
        self._refresh_shared()

    def _show_actions(self) -> None:
        items = discussions.actions(self.app.store, self.me, self.discussion.id)
        listing = W.HTML(
            "<ul class='cop-actions'>"
            + "".join(
                f"<li>{html.escape(a.description)} — <strong>{html.escape(a.owner)}</strong>"
                f"{', due ' + html.escape(a.due_date) if a.due_date else ''}</li>"
                for a in items
            )
            + "</ul>"
            if items
            else "<p class='cop-meta'>No actions yet.</p>"
        )
        if getattr(self, "_actions_seen", None) == items:
            return
        self._actions_seen = items
        children: list[W.Widget] = [listing]
        if self.discussion.may_take_notes(self.me) and self.discussion.status == "open":
            children.append(self._action_form())
        self.actions_box.children = children

    def _action_form(self) -> W.Widget:
        if not hasattr(self, "_form"):
            self.action_text = W.Text(
                description="Action", style=LABEL, layout=W.Layout(width="30rem")
            )
            self.action_owner = W.Text(description="Owner (role or name)", style=LABEL)
            self.action_due = W.DatePicker(description="Due", style=LABEL)
            add = W.Button(description="Add action")
            for name, widget in (
                ("text", self.action_text),
                ("owner", self.action_owner),
                ("due", self.action_due),
                ("add", add),
            ):
                widget.add_class(f"cop-action-{name}")
            # Taken at the click (a wait would let the next action's typing in instead); a
            # late rest of the text amends the action (see TakenText).
            self.action_fields = TakenText(self.action_text, self.action_owner)
            add.on_click(lambda _: self.app.guard(self.add_action))
            self._form = W.VBox(
                [W.HBox([self.action_text, self.action_owner]), W.HBox([self.action_due, add])]
            )
        return self._form

    def add_action(self) -> None:
        if not hasattr(self, "action_fields"):
            self._action_form()
        taken = self.action_fields.take()
        description, owner = taken
        added = discussions.add_action(
            self.app.store, self.me, self.discussion.id, description, owner, self.action_due.value
        )
        self.action_due.value = None
        self.action_fields.stored(taken, lambda whole: self._amend_action(added.id, whole))
        self.app.status.show("Action added.", "ok")
        self._show_actions()

    def _amend_action(self, action_id: str, whole: tuple[str, ...]) -> bool:
        """The rest of an action's text reached the kernel after Add action: store it whole."""
        try:
            discussions.amend_action(self.app.store, self.me, self.discussion.id, action_id, *whole)
        except CopWidgetsError as exc:
            self.app.status.show(
                f"{exc} The last words you typed arrived after Add action; they are kept in "
                "the field.",
                "error",
            )
            return False
        self.app.status.show("Action added.", "ok")
        self._show_actions()
        return True

    def _show_end_access(self) -> None:
        offered = discussions.may_end_attendee_access(self.app.store, self.me, self.discussion)
        self.end_access_button.layout.display = None if offered else "none"

    def end_attendee_access(self) -> None:
        self.discussion = discussions.end_attendee_access(
            self.app.store, self.me, self.discussion.id
        )
        self._show_end_access()
        self.app.status.show(
            "The session's attendees no longer open this case; you, its role holders and the "
            "community's coordinators still do.",
            "ok",
        )

    def toggle_closed(self) -> None:
        self.autosave.flush()
        new = "closed" if self.discussion.status == "open" else "open"
        discussions.set_status(self.app.store, self.me, self.discussion.id, new)
        self.app.status.show(f"Discussion {'closed' if new == 'closed' else 'reopened'}.", "ok")
        self._actions_seen = None
        self.refresh()


class CaseDiscussionApp(AppShell):
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
        self.banner.on_change(lambda out: self.view and self.view.step_out(out))
        self.ticker = Ticker(lambda: self.guard(self._tick), every=tick_seconds)
        super().__init__("<h1>Case discussion</h1>", self.banner, W.HTML(_problems_html(catalogue)))
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.show_home()
        # case_discussion.ipynb?discussion=… (the join page, the run sheet) only chooses which
        # one to open; open_discussion checks that this person may read it
        wanted = (parse_qs(self.query).get("discussion") or [""])[0]
        if wanted:
            self.open_discussion(wanted)

    def show_home(self) -> None:
        if self.view is not None:
            saver = self.view.autosave
            try:
                saved = saver.flush()
            except CopWidgetsError as exc:  # e.g. closed meanwhile: said, and not retried
                self.status.show(str(exc), "error")
                saved = True
            if not saved:  # the store refused the notes: stay with them while it retries
                failure = saver.failure
                self.status.show(
                    "Not saved yet, so this page stays open — retrying in the background. "
                    + (failure.kept_message() + " " if failure else "")
                    + "Press Back to discussions again once it says saved.",
                    "error",
                )
                return
        self.view = None
        self.ticker.stop()
        self.form = StartForm(self.catalogue, self._sessions_to_link(), self.zone)
        self.form.start.on_click(lambda _: self._after_pending_edits(self.start_discussion))
        rows = []
        for item in discussions.list_discussions(self.store, self.person):
            protocol = self.catalogue.get(item.protocol_id)
            button = W.Button(description="Open", tooltip=f"Open the {item.status} discussion")
            button.add_class("cop-open-discussion")
            button.on_click(lambda _, i=item.id: self.guard(self.open_discussion, i))
            label = W.HTML(
                f"<strong>{html.escape(protocol.name if protocol else item.protocol_id)}</strong>"
                f" · {item.status} · facilitated by <bdi>{html.escape(item.facilitator_name)}</bdi>"
                f' <span class="cop-meta">{html.escape(item.created_at[:16].replace("T", " "))}'
                " UTC</span>"
            )
            rows.append(W.HBox([button, label], layout=W.Layout(align_items="center")))
        listing = W.VBox(rows) if rows else W.HTML("<p>No discussions yet.</p>")
        self.body.children = [W.HTML("<h2>Discussions</h2>"), listing, self.form]

    def _sessions_to_link(self) -> list[session_service.Session]:
        return session_service.sessions_to_link_now(self.store, self.person, datetime.now(UTC))

    def start_discussion(self) -> None:
        protocol = self.form.chosen
        if protocol is None:
            raise InvalidInput("protocol", "Choose a protocol from the list.")
        if not self.form.summary.value.strip():
            raise InvalidInput("case summary", "Write a short de-identified case summary first.")
        if not self.form.check():
            self.status.show(
                "Not started yet: check the highlighted words in the summary, rephrase them or "
                "tick the box, then press Check and start again.",
                "warning",
            )
            return
        try:
            started = discussions.start_discussion(
                self.store,
                self.person,
                protocol,
                self.form.summary.value,
                self.form.content_note.value,
                self.form.roles(),
                summary_checked=True,
                session_id=self.form.chosen_session_id,
            )
        except InvalidInput as exc:
            if exc.field == "session":
                # The list was out of date (a session closed or ended): offer what is current.
                # The summary and everything else typed stay in the form.
                self.form.show_sessions(self._sessions_to_link(), preselect=False)
            raise
        self.status.show(
            "Discussion started. Press Start on the timer when the group is ready.", "ok"
        )
        self._open(started, protocol)

    def open_discussion(self, discussion_id: str) -> None:
        found = discussions.open_discussion(self.store, self.person, discussion_id)
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
