"""One open case discussion as a person sees it: the case, the clock, the phase, notes,
ratings and actions, refreshed from the shared store.

The view works through the case discussion app's public parts only: `signed_in` (the store
and person, taken once when the view opens) and `status`, the shell's `guard`,
`after_pending_edits`, `track` and `not_saved_yet`, and `show_home` (Back to discussions).
"""

from __future__ import annotations

import html
import time
import uuid
from typing import TYPE_CHECKING

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave
from cop_widgets.apps._fields import TakenText
from cop_widgets.apps._library_drafts import DraftOffers
from cop_widgets.content import discussion_clock
from cop_widgets.content.protocols import Protocol
from cop_widgets.content.roles import DISCUSSION_ROLES
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import CopWidgetsError, InvalidInput, NotAllowed, RecordNotFound
from cop_widgets.services import discussions, library
from cop_widgets.services import sessions as session_service
from cop_widgets.widgets.phase_timer import PhaseTimer
from cop_widgets.widgets.scale_rating import ScaleRating

if TYPE_CHECKING:  # the app builds the view; imported for the annotation only
    from cop_widgets.apps.case_discussion import CaseDiscussionApp

LABEL = {"description_width": "initial"}


def _role(protocol: Protocol, role_id: str):
    try:
        return protocol.role(role_id)
    except KeyError:
        return None


class DiscussionView(W.VBox):
    """One open discussion as this person sees it; refresh() pulls the shared state."""

    def __init__(
        self, app: CaseDiscussionApp, discussion: discussions.Discussion, protocol: Protocol
    ):
        self.app, self.protocol = app, protocol
        self.discussion = discussion
        self.store, self.me = app.signed_in()
        self.timer = PhaseTimer(protocol.phases, discussion.may_run_clock(self.me))
        self.timer.on_action(lambda *a: app.guard(self.clock_action, *a))
        self.case_box = W.HTML()
        self.case_hidden = bool(discussion.content_note)
        self.show_case = W.Button(description="Show the case summary")
        self.show_case.add_class("cop-show-case")
        self.show_case.on_click(lambda _: self._reveal_case())
        self.phase_box = W.VBox()
        self.actions_box = W.VBox()
        # after the session: its practice insights, to the library (for its note-takers)
        self.library_offers = DraftOffers(app, self._make_library_draft)
        self._offers_for: str | None = None  # the discussion's status they were made for
        self.others_notes = W.HTML()
        self.ratings_widget: ScaleRating | None = None
        self._note_boxes: dict[str, tuple[W.Textarea, str, int | None]] = {}
        self._shown_phase = -1
        self._actions_seen: list[discussions.Action] | None = None  # as last shown
        # The notes of the shown phase: unsaved until the store confirms them; a refused save is
        # retried in the background (each phase's notes get their own, see _show_phase).
        self.autosave = app.track(Autosave(None, on_failure=app.not_saved_yet))
        self.close_button = W.Button(description="Close discussion")
        self.close_button.add_class("cop-close-discussion")
        self.close_button.on_click(lambda _: app.after_pending_edits(self.toggle_closed))
        self.end_access_button = W.Button(
            description="End attendees' access to this case",
            tooltip="After the session: the session's attendees no longer open this discussion",
        )
        self.end_access_button.add_class("cop-end-access")
        self.end_access_button.on_click(lambda _: app.guard(self.end_attendee_access))
        self._show_end_access()
        back = W.Button(description="Back to discussions")
        back.add_class("cop-back")
        back.on_click(lambda _: app.after_pending_edits(app.show_home))
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
                self.library_offers,
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
            held_in = session_service.get_session(self.store, self.me, self.discussion.session_id)
        except (RecordNotFound, NotAllowed):  # removed meanwhile, or not this reader's to see
            return ""
        return (
            '<p class="cop-meta cop-discussion-session">Part of the session '
            f"“{html.escape(held_in.topic)}”</p>"
        )

    def _role_labels(self):
        labels = [(r.id, r.name) for r in self.protocol.roles]
        return labels + [(rid, n) for rid, n in DISCUSSION_ROLES if rid not in dict(labels)]

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
        self.discussion = discussions.get(self.store, self.me, self.discussion.id)
        d = self.discussion
        self.timer.show(d.clock, time.time())
        open_ = d.status == "open"
        self.timer.controls.layout.display = None if open_ and d.may_run_clock(self.me) else "none"
        self.close_button.description = "Close discussion" if open_ else "Reopen discussion"
        self.close_button.layout.display = None if d.may_run_clock(self.me) else "none"
        if d.clock.phase_index != self._shown_phase:
            self._show_phase()
        self._refresh_shared()
        if d.status != self._offers_for:
            self._show_library_offers()

    def _refresh_shared(self) -> None:
        phase = self.timer.phase
        mine = set(self._note_boxes)
        others = [
            n
            for n in discussions.notes(self.store, self.me, self.discussion.id, phase.id)
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
                discussions.ratings(self.store, self.me, self.discussion.id, phase.id)
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
        boxes_of_phase: dict[str, tuple[W.Textarea, str, int | None]] = {}
        self._note_boxes = boxes_of_phase
        if phase.notes and self.discussion.may_take_notes(self.me):
            existing = {
                n.column_id: n
                for n in discussions.notes(self.store, self.me, self.discussion.id, phase.id)
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

    # -- after the session: the practice insights to the library --------------------------------
    def _protocols(self) -> Catalogue:
        return Catalogue((self.protocol,), ())

    def _show_library_offers(self) -> None:
        """Once the session (or this discussion) closed: its practice insights, each with "Make
        a library draft", for its facilitator and note-takers (policy decides; the case
        summary and the notes of other phases are never among them)."""
        d = self.discussion
        self._offers_for = d.status
        self.library_offers.children = []
        if d.session_id is None or not library.may_draft_from_discussion(self.store, self.me, d.id):
            return
        try:
            found = library.discussion_sources(self.store, self.me, d.id, self._protocols())
        except InvalidInput:  # the session is still on: offered once it (or this) closes
            return
        self.library_offers.show(
            "<h3>Practice insights to the library</h3><p class='cop-meta'>What the group "
            "learned, to keep in the community's library: each becomes a draft that only you "
            "see, to edit and publish.</p>",
            [("", found, "<p class='cop-meta'>No practice insights were noted.</p>")],
        )

    def _make_library_draft(self, source: library.DraftSource, confirmed: bool) -> library.Entry:
        return library.draft_from_note(
            self.store, self.me, source.key, self._protocols(), confirmed=confirmed
        )

    # -- actions of this person -----------------------------------------------------------------
    def clock_action(self, action: str, from_index: int, minutes: int) -> None:
        self.autosave.flush()
        discussions.run_clock(
            self.store,
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
                self.store,
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
        discussions.rate(self.store, self.me, self.discussion.id, self.timer.phase, value)
        self.app.status.show(f"Your rating ({value}) is saved.", "ok")
        self._refresh_shared()

    def _show_actions(self) -> None:
        items = discussions.actions(self.store, self.me, self.discussion.id)
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
        if self._actions_seen == items:
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
            self.store, self.me, self.discussion.id, description, owner, self.action_due.value
        )
        self.action_due.value = None
        self.action_fields.stored(taken, lambda whole: self._amend_action(added.id, whole))
        self.app.status.show("Action added.", "ok")
        self._show_actions()

    def _amend_action(self, action_id: str, whole: tuple[str, ...]) -> bool:
        """The rest of an action's text reached the kernel after Add action: store it whole."""
        try:
            discussions.amend_action(self.store, self.me, self.discussion.id, action_id, *whole)
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
        offered = discussions.may_end_attendee_access(self.store, self.me, self.discussion)
        self.end_access_button.layout.display = None if offered else "none"

    def end_attendee_access(self) -> None:
        self.discussion = discussions.end_attendee_access(self.store, self.me, self.discussion.id)
        self._show_end_access()
        self.app.status.show(
            "The session's attendees no longer open this case; you, its role holders and the "
            "community's coordinators still do.",
            "ok",
        )

    def toggle_closed(self) -> None:
        self.autosave.flush()
        new = "closed" if self.discussion.status == "open" else "open"
        discussions.set_status(self.store, self.me, self.discussion.id, new)
        self.app.status.show(f"Discussion {'closed' if new == 'closed' else 'reopened'}.", "ok")
        self._actions_seen = None
        self.refresh()
