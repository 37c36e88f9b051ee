"""My page: one person's own overview — the next sessions of their communities, the
commitments they made at check-out (and their follow-up, recorded here too), the value-creation
stories they saved as intentions (completed here too once their day has come), their unfinished
drafts, feedback released to them, their CPD record and their data to take away.

Everything shown is the signed-in person's own, read through services that take the person
and ask the policy; nothing here decides access. Links lead to sibling pages of
/voila/render/my_page.ipynb (relative, so they also work under a Hub service's prefix).
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._base import AppShell
from cop_widgets.apps._reports import report_panel
from cop_widgets.apps._startup import open_for_app
from cop_widgets.apps._value_story import day_text, return_card, today_in
from cop_widgets.apps.home import on_now, upcoming_html, upcoming_sessions
from cop_widgets.content.frameworks import load_frameworks
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.errors import InvalidInput, StoreFailure
from cop_widgets.services import (
    checkins,
    feedback,
    person_export,
    reflections,
    sessions,
    value_stories,
)
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store

DRAFTS_SHOWN = 20
STORIES_SHOWN = 30
FEEDBACK_SHOWN = 20
COMMITMENTS_SHOWN = 40
TRIED_CHOICES = [("Yes", "yes"), ("Partly", "partly"), ("No, not yet", "no")]
TRIED_SHOWN = {"yes": "Tried it", "partly": "Tried it partly", "no": "Not tried yet"}
LABEL = {"description_width": "initial"}
CHOOSE_FIRST = "Choose yes, partly or not yet first (your text is kept)."

MY_STYLE = """
<style>
.cop-my-page .cop-my-section { border-top: 1px solid #d1d5db; margin-top: 0.8em;
  min-width: 0; max-width: 100%; }
.cop-my-page .cop-my-list, .cop-my-page .cop-upcoming { padding-left: 1.2em; margin: 0.3em 0; }
.cop-my-page .cop-my-list li, .cop-my-page .cop-upcoming li { margin: 0.35em 0;
  overflow-wrap: anywhere; }
.cop-my-page .cop-tag { display: inline-block; padding: 0 0.5em; border-radius: 1em;
  background: #0b4d1f; color: #fff; font-weight: 600; }
.cop-my-page .cop-on-now { color: #0b4d1f; }
.cop-my-page .cop-my-commitment { border-left: 4px solid #3730a3; padding: 0.2em 0 0.4em 0.6em;
  margin: 0.5em 0; max-width: 40rem; }
.cop-my-page .cop-my-commitment p { margin: 0.2em 0; overflow-wrap: anywhere; }
.cop-my-page .widget-textarea, .cop-my-page .widget-radio { max-width: 100%; }
/* the note's label above its box: a phone's width leaves no room beside it */
.cop-my-page .cop-followup-text { flex-wrap: wrap; }
.cop-my-page .cop-followup-text textarea { flex: 1 1 100%; min-width: 0; min-height: 4.5em;
  box-sizing: border-box; }
.cop-my-page .cop-value-return { border-left: 4px solid #0b4d1f; padding: 0.2em 0 0.4em 0.6em;
  margin: 0.5em 0; max-width: 40rem; }
.cop-my-page .cop-value-return p { margin: 0.2em 0; overflow-wrap: anywhere; }
.cop-my-page .cop-return-applied, .cop-my-page .cop-return-realized { flex-wrap: wrap; }
.cop-my-page .cop-return-applied textarea, .cop-my-page .cop-return-realized textarea {
  flex: 1 1 100%; min-width: 0; min-height: 4.5em; box-sizing: border-box; }
.cop-my-page .cop-my-join label { display: block; margin: 0.3em 0 0.2em; }
.cop-my-page .cop-my-join input { font: inherit; width: 8em; max-width: 100%;
  text-transform: uppercase; padding: 0.2em 0.4em; border: 1px solid #6b7280;
  border-radius: 4px; }
.cop-my-page .cop-my-join button { font: inherit; padding: 0.25em 1.2em; border-radius: 4px;
  border: 1px solid #1d4ed8; background: #1d4ed8; color: #fff; cursor: pointer; }
.cop-my-page .cop-my-section a { color: #1d4ed8; text-decoration: underline; }
.cop-my-page .cop-my-download a { font-weight: 600; }
.cop-my-page .cop-note:empty { display: none; }
</style>
"""


def _when(iso: str | None, zone: ZoneInfo, zone_name: str) -> str:
    if not iso:
        return ""
    return f"{datetime.fromisoformat(iso).astimezone(zone):%d %b %Y, %H:%M} ({zone_name})"


def _note(message: str, kind: str = "info") -> str:
    """A message shown next to the control it is about (also said in the status line)."""
    if not message:
        return ""
    return (
        f'<p role="status" class="cop-note cop-note-{kind}">{html.escape(message)}</p>'
        if kind != "error"
        else f'<p role="alert" class="cop-note cop-note-error">{html.escape(message)}</p>'
    )


# A session on now whose code only its runners see: the join box of the home page, here.
JOIN_FORM = """
<form class="cop-my-join" action="session.ipynb" method="get" aria-label="Join a session">
<label for="cop-my-code">A session is on now: type the code your facilitator shows</label>
<input id="cop-my-code" name="code" type="text" required maxlength="12" autocomplete="off"
  autocapitalize="characters" spellcheck="false" placeholder="e.g. K7M2QX">
<button type="submit">Join</button></form>
"""


class MyPageApp(AppShell):
    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        catalogue: Catalogue | None = None,
        environ=None,
        startup_error: str = "",
    ):
        self.store, self.settings, self.environ = store, settings, environ
        self.catalogue = catalogue or Catalogue((), ())
        self.person: Person | None = None
        self.zone = ZoneInfo(settings.timezone)
        look = self.look
        self.upcoming_view = look.html()
        self.commitments_box = W.VBox(layout=look.layout())
        self.stories_box = W.VBox(layout=look.layout())
        self.drafts_view = look.html()
        self.feedback_view = look.html()
        self.record_box = W.VBox(layout=look.layout())
        self.export_box = W.VBox(layout=look.layout())
        self._followup_rows: dict[str, W.VBox] = {}
        # Everything of the page that is the same for everyone is made with the app: in a
        # preheated kernel that is before anyone opens the page (each widget made at sign-in
        # is a message to the page on its first request).
        self._make_export()
        self.sections = self._make_sections()
        super().__init__(MY_STYLE + "<h1>My page</h1>")
        self.add_class("cop-my-page")
        self.begin(startup_error, environ)

    def _make_sections(self) -> list[W.VBox]:
        sections = (
            ("upcoming", self.upcoming_view),
            ("commitments", self.commitments_box),
            ("stories", self.stories_box),
            ("drafts", self.drafts_view),
            ("feedback", self.feedback_view),
            ("record", self.record_box),
            ("export", self.export_box),
        )
        boxes = []
        for key, content in sections:
            box = W.VBox([content], layout=self.look.layout())
            box.add_class("cop-my-section")
            box.add_class(f"cop-my-{key}")
            boxes.append(box)
        return boxes

    # -- the page ------------------------------------------------------------------------------
    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.status.clear()  # signed in now: an earlier "not signed in" no longer holds
        self.body.children = self.sections
        # each section on its own: one that cannot be read says so, the others still show
        for show in (
            self.show_upcoming,
            self.show_commitments,
            self.show_stories,
            self.show_drafts,
            self.show_feedback,
            self.show_record,
            self.show_export,
        ):
            self.guard(show)

    def _name_of(self, framework_id: str) -> str:
        framework = self.catalogue.get(framework_id)
        return framework.name if framework else framework_id

    # -- upcoming sessions (the home page's list; the join link while a session is on) ---------
    def show_upcoming(self) -> None:
        now = datetime.now(UTC)
        store, person = self.signed_in()
        known = sessions.communities(store, person)
        shown = upcoming_html(store, person, self.settings, known, now, join_links="open_now")
        # a session on now whose code this person does not see: they type it, as on home
        codeless_now = any(
            on_now(s, now) and not s.join_code
            for s, _c in upcoming_sessions(store, person, known, now)
        )
        self.upcoming_view.value = shown + (JOIN_FORM if codeless_now else "")

    # -- commitments and their follow-up -------------------------------------------------------
    def show_commitments(self) -> None:
        for row in self._followup_rows.values():
            self.drop_saver(row.saver)  # kept if a refused save of it is still retrying
        self._followup_rows = {}
        store, person = self.signed_in()
        mine = checkins.my_commitments(store, person, limit=COMMITMENTS_SHOWN)
        heading = W.HTML(
            "<h2>My commitments</h2><p class='cop-meta'>What you said at check-out you would "
            "do differently. Say here whether you tried it; it is also asked at your next "
            "session.</p>"
        )
        if not mine:
            self.commitments_box.children = [
                heading,
                W.HTML("<p>No commitments yet. You make one at the check-out of a session.</p>"),
            ]
            return
        rows: list[W.Widget] = []
        for c in mine:
            if c.open:
                rows.append(self._open_commitment(c))
            else:
                rows.append(W.HTML(self._done_html(c)))
        self.commitments_box.children = [heading, *rows]

    def _said_html(self, c: checkins.CommitmentRecord) -> str:
        when = _when(c.session_starts_at, self.zone, self.settings.timezone)
        return (
            f"<p>At “<bdi>{html.escape(c.session_topic)}</bdi>” ({html.escape(when)}) you said "
            f"you would: <strong><bdi>{html.escape(c.text)}</bdi></strong></p>"
        )

    def _done_html(self, c: checkins.CommitmentRecord) -> str:
        note = (
            f"<p>What happened: <bdi style='white-space:pre-wrap'>"
            f"{html.escape(c.followup_text)}</bdi></p>"
            if c.followup_text
            else ""
        )
        when = _when(c.followed_up_at, self.zone, self.settings.timezone)
        return (
            f'<div class="cop-my-commitment cop-my-commitment-done">{self._said_html(c)}'
            f'<p><strong class="cop-followup-state">{TRIED_SHOWN.get(c.tried or "", "")}'
            f"</strong> · <span class='cop-meta'>followed up {html.escape(when)}</span></p>"
            f"{note}</div>"
        )

    def _open_commitment(self, c: checkins.CommitmentRecord) -> W.VBox:
        tried = W.RadioButtons(
            options=TRIED_CHOICES, value=None, description="Did you try it?", style=LABEL
        )
        happened = W.Textarea(
            description="What happened? (a note, if you like)",
            continuous_update=False,
            style=LABEL,
            layout=W.Layout(width="100%", max_width="40rem"),
        )
        keep = W.Button(description="Save follow-up", layout=W.Layout(align_self="flex-start"))
        note = W.HTML()
        tried.add_class("cop-followup-tried")
        happened.add_class("cop-followup-text")
        keep.add_class("cop-followup-save")
        note.add_class("cop-followup-note")
        row = W.VBox(
            [
                W.HTML(
                    self._said_html(c) + "<p><strong class='cop-followup-state'>Open</strong></p>"
                ),
                tried,
                happened,
                keep,
                note,
            ]
        )
        row.add_class("cop-my-commitment")
        row.commitment, row.tried, row.happened, row.note = c, tried, happened, note
        # Typed text is unsaved until the store confirms it; a refused save stays on the page,
        # marked unsaved, and is retried in the background until the store takes it.
        row.saver = self.saver(happened)
        row.saver.on_failure = lambda exc, r=row: self._follow_up_refused(r, exc)
        keep.on_click(lambda _, r=row: self.guard(self.send_follow_up, r))
        self._followup_rows[c.id] = row
        return row

    def send_follow_up(self, row: W.VBox) -> None:
        if row.tried.value is None:
            row.note.value = _note(CHOOSE_FIRST, "error")
            raise InvalidInput("tried", CHOOSE_FIRST)
        row.note.value = ""
        # the retried action reads the row as it is then (the person may have added to it)
        row.saver.run(lambda: self._follow_up(row))

    def _follow_up(self, row: W.VBox) -> None:
        if row.tried.value is None:
            raise InvalidInput("tried", CHOOSE_FIRST)
        c: checkins.CommitmentRecord = row.commitment
        store, person = self.signed_in()
        checkins.follow_up(store, person, c.id, None, row.tried.value, row.happened.value)
        row.saver.cancel()
        self._followup_rows.pop(c.id, None)
        done = checkins.CommitmentRecord(
            c.id, c.session_id, c.text, c.created_at, c.session_topic, c.session_starts_at,
            row.tried.value, row.happened.value.strip(), datetime.now(UTC).isoformat(),
        )  # fmt: skip
        # only this commitment's row changes: what is typed in the others stays
        row.children = [W.HTML(self._done_html(done) + _note("Saved.", "ok"))]
        self.status.show("Thank you: your follow-up is saved.", "ok")

    def _follow_up_refused(self, row: W.VBox, exc: Exception) -> None:
        self.not_saved_yet(exc)
        if isinstance(exc, StoreFailure):
            row.note.value = _note(f"Not saved yet — retrying. {exc.kept_message()}", "error")
        else:
            row.note.value = _note(str(exc), "error")

    # -- value-creation stories saved as intentions ----------------------------------------------
    def show_stories(self) -> None:
        """Stories whose day has come, to complete here; then those still to come back, and
        the completed ones (each opens as its new version)."""
        for card in getattr(self, "_story_cards", []):
            self.drop_saver(card.saver)  # kept if a refused save of it is still retrying
        store, person = self.signed_in()
        today = today_in(self.settings.timezone)
        mine = value_stories.my_returns(store, person, limit=STORIES_SHOWN)
        heading = W.HTML(
            "<h2>My value-creation stories</h2><p class='cop-meta'>A story you saved as an "
            "intention comes back here on the day you chose, and at the check-in of your next "
            "session: say what happened and what difference it made.</p>"
        )
        if not mine:
            self._story_cards = []
            self.stories_box.children = [
                heading,
                W.HTML(
                    "<p>None yet. Write a <a href='reflection.ipynb'>value-creation story</a> "
                    "and save it as an intention: it comes back to you.</p>"
                ),
            ]
            return
        self._story_cards = [
            return_card(self, story, self._story_completed) for story in mine if story.due(today)
        ]
        later = [
            f"<li>Comes back on {html.escape(day_text(story.return_on))}: you planned to try "
            f"<bdi>{html.escape(story.planned)}</bdi></li>"
            for story in mine
            if story.returned_at is None and not story.due(today)
        ]
        done = [
            f"<li><a class='cop-my-story-link' href='reflection.ipynb?reflection="
            f"{html.escape(story.completed_as or story.reflection_id)}'>Completed "
            f"{html.escape(_when(story.returned_at, self.zone, self.settings.timezone))}</a>: "
            f"<bdi>{html.escape(story.planned)}</bdi></li>"
            for story in mine
            if story.returned_at is not None
        ]
        lists = "".join(
            f"<ul class='cop-my-list cop-my-stories-{kind}'>{''.join(items)}</ul>"
            for kind, items in (("later", later), ("done", done))
            if items
        )
        self.stories_box.children = [heading, *self._story_cards, W.HTML(lists)]

    def _story_completed(self, card: W.VBox, new_id: str) -> None:
        # only this story's card changes: what is typed in the others stays
        self._story_cards = [c for c in self._story_cards if c is not card]
        card.children = [
            W.HTML(
                "<p>Added to your story as a new version: "
                f"<a class='cop-my-story-link' href='reflection.ipynb?reflection="
                f"{html.escape(new_id)}'>read it</a>.</p>" + _note("Saved.", "ok")
            )
        ]
        self.status.show("Thank you: your story now says what happened.", "ok")

    # -- drafts ---------------------------------------------------------------------------------
    def show_drafts(self) -> None:
        store, person = self.signed_in()
        drafts = reflections.list_mine(store, person, limit=DRAFTS_SHOWN, status="draft")
        if not drafts:
            self.drafts_view.value = "<h2>My drafts</h2><p>No drafts.</p>"
            return
        items = []
        for d in drafts:
            name = self._name_of(d.framework_id)
            when = _when(d.updated_at, self.zone, self.settings.timezone)
            preview = f"<br><bdi>{html.escape(d.preview)}</bdi>" if d.preview else ""
            items.append(
                f'<li><a class="cop-my-draft-link" href="reflection.ipynb?reflection='
                f'{html.escape(d.id)}">Continue: {html.escape(name)}</a> · '
                f"<span class='cop-meta'>last changed {html.escape(when)}, "
                f"{d.answered_stages} stage(s) answered</span>{preview}</li>"
            )
        self.drafts_view.value = (
            "<h2>My drafts</h2><p class='cop-meta'>Unfinished reflections: each opens where "
            f"you stopped.</p><ul class='cop-my-list'>{''.join(items)}</ul>"
        )

    # -- feedback -------------------------------------------------------------------------------
    def show_feedback(self) -> None:
        store, person = self.signed_in()
        notices = feedback.feedback_on_mine(store, person, limit=FEEDBACK_SHOWN)
        if not notices:
            self.feedback_view.value = "<h2>Feedback</h2><p>No feedback yet.</p>"
            return
        items = []
        for n in notices:
            name = self._name_of(n.framework_id)
            whom = ", ".join(f"<bdi>{html.escape(s)}</bdi>" for s in n.supervisor_names)
            when = _when(n.released_at, self.zone, self.settings.timezone)
            new = '<strong class="cop-tag cop-new-feedback">New</strong> ' if n.new else ""
            items.append(
                f"<li>{new}<a class='cop-my-feedback-link' href='reflection.ipynb?reflection="
                f"{html.escape(n.reflection_id)}'>Read the feedback on your "
                f"{html.escape(name)} reflection</a> · from {whom} · "
                f"<span class='cop-meta'>{html.escape(when)}</span></li>"
            )
        fresh = sum(n.new for n in notices)
        summary = (
            f"<p>{fresh} new: marked new until you open it.</p>" if fresh else
            "<p class='cop-meta'>Nothing new since you last read your feedback.</p>"
        )  # fmt: skip
        self.feedback_view.value = (
            f"<h2>Feedback</h2>{summary}<ul class='cop-my-list'>{''.join(items)}</ul>"
        )

    # -- my CPD record (the person report, made on demand) -------------------------------------
    def show_record(self) -> None:
        heading = W.HTML(
            "<h2>My CPD record</h2><p class='cop-meta'>Your reflections with their feedback, "
            "the sessions and case discussions you took part in, and your commitments: a "
            "record for your continuing professional development.</p>"
        )
        _, person = self.signed_in()
        panel = report_panel(self, "person", person.id, label="My CPD record", period=True)
        self.record_box.children = [heading, panel]

    # -- my data ----------------------------------------------------------------------------------
    def _make_export(self) -> None:
        look = self.look
        self.export_button = W.Button(
            description="Prepare my data export",
            layout=look.layout(align_self="flex-start"),
            style=look.style_of(W.Button),
        )
        self.export_button.add_class("cop-my-export-button")
        self.export_button.on_click(lambda _: self.guard(self.export))
        self.export_link = look.html()
        self.export_link.add_class("cop-my-download")
        self.export_box.children = [
            look.html(
                "<h2>My data</h2><p class='cop-meta'>Everything of yours in the workbook, to "
                "keep or take elsewhere: a zip file of JSON and spreadsheet (CSV) files. It "
                "holds nothing written by anyone else.</p>"
            ),
            self.export_button,
            self.export_link,
        ]

    def show_export(self) -> None:
        """The export part is the same for everyone (made with the app): a new sign-in starts
        it without an earlier export's link."""
        self.export_link.value = ""

    def export(self) -> None:
        store, person = self.signed_in()
        try:
            data = person_export.export_my_data(store, person)
        except StoreFailure as exc:
            message = f"Your export was not made: {exc.reason}. Press the button again in a moment."
            self.export_link.value = _note(message, "error")
            self.status.show(message, "error")
            return
        day = datetime.now(UTC).astimezone(self.zone).date().isoformat()
        name = f"my-cop-workbook-data_{day}.zip"
        size = max(1, round(len(data) / 1024))
        self.export_link.value = (
            f'<p><a download="{name}" class="cop-my-export-link" '
            f'href="data:application/zip;base64,{base64.b64encode(data).decode("ascii")}">'
            f"Download my data ({size} KB zip)</a></p>"
        )
        self.status.show("Your data export is ready: use the download link.", "ok")


def my_page_app(settings: Settings | None = None, environ=None) -> MyPageApp:
    # the reflective models, for their names only
    opened = open_for_app(
        settings, environ, "The workbook", lambda s: load_frameworks(s.frameworks_dir)
    )
    return MyPageApp(
        opened.store, opened.settings, opened.loaded, environ, startup_error=opened.error
    )
