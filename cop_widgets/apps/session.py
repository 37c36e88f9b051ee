"""The session app (participants): join a session by its code; attendance is recorded once."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._autosave import Autosave, Ticker
from cop_widgets.apps._base import AppShell, identify, log
from cop_widgets.apps._startup import open_for_app
from cop_widgets.apps._value_story import return_card, today_in
from cop_widgets.apps._warm_up import rehearse_first_request
from cop_widgets.content.session_items import ItemSet, load_item_sets
from cop_widgets.errors import CopWidgetsError, InvalidInput, StoreFailure
from cop_widgets.services import checkins, discussions, sessions, value_stories
from cop_widgets.services.identity import Person, find_or_add_person
from cop_widgets.serving.request import in_preheated_kernel
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets.item_form import ItemForm

DISCUSSION_PAGE = "case_discussion.ipynb"
CHECKOUT_NOT_OPEN = (
    "<p class='cop-meta'>Check-out opens when the facilitator opens it for the room; it appears "
    "here then.</p>"
)


def next_steps(discussion_href: str) -> str:
    """What to open when the facilitator asks: sibling pages of /voila/render/session.ipynb
    (relative: also under a Hub prefix), in a new tab, so that this page stays open for the
    check-out."""
    return (
        "<p class='cop-join-next'>When the facilitator asks: "
        f"<a href='{discussion_href}' target='_blank' rel='noopener' "
        "class='cop-open-discussion-link'>open the case discussion</a> or "
        "<a href='reflection.ipynb' target='_blank' rel='noopener' "
        "class='cop-open-reflection-link'>write your reflection</a> "
        "(each opens in a new tab; this page stays open for the check-out).</p>"
    )


NEXT_STEPS = next_steps(DISCUSSION_PAGE)


@dataclass(frozen=True)
class RoomState:
    """What the facilitator has opened for the room: the session's case discussion (its id,
    once started) and the check-out."""

    discussion_id: str | None
    checkout_open: bool


@dataclass(frozen=True)
class JoinedPage:
    """Everything the page shows once joined, read in one go (the widgets come after)."""

    session: sessions.Session
    commitments: list[checkins.Commitment]
    story_returns: list[value_stories.StoryReturn]
    checkin_answered: bool
    room: RoomState


def read_room(store: Store, person: Person, session_id: str) -> RoomState:
    with store.snapshot():  # asked every few seconds by each joined page
        started = discussions.session_discussions(store, person, session_id)
        is_open = sessions.checkout_open(store, person, session_id)
    return RoomState(started[0].id if started else None, is_open)


def join_and_read(
    store: Store, person: Person, code: str, settings: Settings, item_sets: dict[str, ItemSet]
) -> JoinedPage:
    """Join the session with this code (attendance, once) and read what the page shows."""
    session = sessions.join(store, person, code, datetime.now(UTC))
    # read in one transaction, begun after the join's write (a room of 30 joins at once)
    with store.snapshot():
        return JoinedPage(
            session,
            checkins.open_commitments(store, person, session.id),
            value_stories.due_returns(store, person, today_in(settings.timezone)),
            "checkin" not in item_sets
            or checkins.has_answered(store, person, session.id, "checkin"),
            read_room(store, person, session.id),
        )


class SessionApp(AppShell):
    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        environ=None,
        startup_error: str = "",
        item_sets: dict[str, ItemSet] | None = None,
        tick_seconds: float = 3.0,
    ):
        self.store, self.settings, self.environ = store, settings, environ
        # Every few seconds: has the facilitator opened check-out, or started the session's
        # case discussion? (two small reads; the page then shows it with no reload)
        self.ticker = Ticker(lambda: self.guard(self.poll), every=tick_seconds, spread=True)
        self.item_sets = item_sets or {}
        self.person: Person | None = None
        self.joined: sessions.Session | None = None
        self._joining_code = ""  # the code of the last join tried
        self.form: ItemForm | None = None  # the check-in or check-out shown
        look = self.look
        self.code = W.Text(
            description="Join code",
            placeholder="e.g. K7M2QX",
            layout=look.layout(),
            style=look.labelled(W.Text),
            continuous_update=False,
        )
        self.code.add_class("cop-join-code-input")
        self.join_button = W.Button(
            description="Join",
            button_style="primary",
            layout=look.layout(),
            style=look.style_of(W.Button),
        )
        self.join_button.add_class("cop-join")
        self.join_button.on_click(lambda _: self.after_pending_edits(self.join))
        # A join the store refuses (busy: a whole room joins at once) is tried again in the
        # background until attendance is recorded; the person need not press Join again.
        self.joining = Autosave(None, delay=None, on_failure=self._not_joined_yet)
        super().__init__("<h1>Join a session</h1>")
        self._make_the_joined_view()
        self.begin(startup_error, environ)

    def _make_the_joined_view(self) -> None:
        """Every widget of the page after Join that does not depend on the session, made now:
        in a preheated kernel that is before anyone opens the page. A room joins at once, and
        each widget made at the join costs its kernel messages to the page (about 0.4 ms of
        CPU each, measured) while 30 kernels share two cores."""
        look = self.look
        self.join_row = W.HBox([self.code, self.join_button], layout=look.layout())
        self.info = look.html()
        self.next_view = look.html(NEXT_STEPS)
        self.next_view.add_class("cop-join-next-box")
        self.followups = W.VBox(layout=look.layout())
        self.story_returns = W.VBox(layout=look.layout())
        self.story_returns.add_class("cop-story-returns")
        self.form_box = W.VBox(layout=look.layout())
        self.checkout_note = look.html(CHECKOUT_NOT_OPEN)
        self.checkout_note.add_class("cop-checkout-note")
        # its own layout: shown once the facilitator opens the check-out
        self.checkout_button = W.Button(
            description="Check out", layout=W.Layout(display="none"), style=look.style_of(W.Button)
        )
        self.checkout_button.add_class("cop-checkout")
        self.checkout_button.on_click(lambda _: self.guard(self._show_form, "checkout"))
        self.joined_view = [
            self.info,
            self.next_view,
            self.followups,
            self.story_returns,
            self.form_box,
            self.checkout_note,
            self.checkout_button,
        ]
        # the check-in form, ready for whoever opens the page (a new one once it is used), and
        # already in its place: a join that shows it sends the page nothing for it
        self._form_ready = self._new_form("checkin")
        if self._form_ready is not None:
            self.form_box.children = [self._form_ready]

    def _sign_in(self, person: Person) -> None:
        self.person = person
        # The join link carries ?code=…; it only chooses the session (identity never comes
        # from the URL). Joined at once, the page goes straight to the session: the join row
        # is shown (with the code in its field) only if the join does not go through, which
        # spares each of a room's kernels two of its messages to the page.
        code = sessions.normalise_code((parse_qs(self.query).get("code") or [""])[0])
        if code:
            self.join(code)
        else:
            self.body.children = [self.join_row]

    def join(self, code: str | None = None) -> None:
        """Join the session with this code (by default the one typed in the field)."""
        if self.person is None:  # not signed in (yet): the field only fills
            return
        code = self.code.value if code is None else code
        self._joining_code = code
        try:
            self.joining.run(lambda: self._join_now(code))
        except CopWidgetsError as exc:  # a wrong code, a closed session: said, not retried
            self._show_join_row()
            self.status.show(str(exc), "error")
        except Exception:
            self._show_join_row()  # the guard says what went wrong; the code can be tried again
            raise

    def _show_join_row(self) -> None:
        """The code field (with the code tried) and Join, while no session is joined."""
        if self.joined is None:
            self.code.value = self._joining_code or self.code.value
            self.body.children = [self.join_row]

    def _not_joined_yet(self, exc: Exception) -> None:
        self._show_join_row()
        if isinstance(exc, StoreFailure):
            # for the operator: how often a room's joins wait on the store (no personal data)
            log.warning("a join waits on the store (%s); trying again", type(exc).__name__)
            self.status.show(
                f"Not joined yet: {exc.reason}. Trying again by itself; keep this page open.",
                "warning",
            )
        else:  # a try in the background met a refusal: said as the button would
            self.not_saved_yet(exc)

    def _join_now(self, code: str) -> None:
        store, person = self.signed_in()
        page = join_and_read(store, person, code, self.settings, self.item_sets)
        session = self.joined = page.session
        zone = ZoneInfo(self.settings.timezone)
        when = f"{session.starts_at.astimezone(zone):%a %d %b %Y, %H:%M} ({self.settings.timezone})"
        focus = (
            f"<p><strong>Focus question:</strong> {html.escape(session.focus_question)}</p>"
            if session.focus_question
            else ""
        )
        self.info.value = (
            f"<h2>{html.escape(session.topic)}</h2>"
            f"<p class='cop-meta'>{html.escape(session.community_name)} · {html.escape(when)}"
            f"</p>{focus}<p>You are in: your attendance is recorded.</p>"
        )
        self.body.children = self.joined_view
        self._show_followups(page.commitments)
        self._show_story_returns(page.story_returns)
        self._show_form("checkin", answered=page.checkin_answered)
        self._show_room(page.room)
        self.ticker.start()
        self.status.show(f"Joined “{session.topic}”.", "ok")

    @property
    def _joined_session(self) -> sessions.Session:
        """The session this page joined; none before Join (a stale button's message)."""
        if self.joined is None:
            raise InvalidInput(
                "session", "No session is joined on this page: type its join code and press Join."
            )
        return self.joined

    # -- what the facilitator opens for the room ------------------------------------------------
    def poll(self) -> None:
        """Show the session's case discussion once started, and the check-out once the
        facilitator opens it (the ticker's job; widgets change only when something did)."""
        if self.joined is None:
            return
        store, person = self.signed_in()
        self._show_room(read_room(store, person, self.joined.id))

    def _show_room(self, room: RoomState) -> None:
        discussion = (
            f"{DISCUSSION_PAGE}?discussion={quote(room.discussion_id)}"
            if room.discussion_id
            else DISCUSSION_PAGE
        )
        shown = next_steps(discussion)
        if shown != self.next_view.value:
            self.next_view.value = shown
        is_open = room.checkout_open
        note = "" if is_open else CHECKOUT_NOT_OPEN
        if note != self.checkout_note.value:
            self.checkout_note.value = note
        display = None if is_open else "none"
        if self.checkout_button.layout.display != display:
            self.checkout_button.layout.display = display

    # -- check-in, check-out, follow-through --------------------------------------------------
    def _show_form(self, set_id: str, answered: bool | None = None) -> None:
        """The check-in or check-out form, or "is in" once answered (`answered`: already read
        with the join)."""
        store, person = self.signed_in()
        if set_id == "checkout" and not sessions.checkout_open(
            store, person, self._joined_session.id
        ):
            self.poll()
            raise InvalidInput(
                "check-out", "Check-out is not open yet: it opens when the facilitator opens it."
            )
        items = self.item_sets.get(set_id)
        if items is None:
            self.form_box.children = []
            return
        if answered is None:
            answered = checkins.has_answered(store, person, self._joined_session.id, set_id)
        if answered:
            done = f"<p>Your {html.escape(items.name.lower())} is in. Thank you.</p>"
            self.form_box.children = [self.look.html(done)]
            return
        if self.form is not None:
            self.drop_saver(self.form.saver)  # kept if a refused send of it is still retrying
        ready, self._form_ready = self._form_ready, None
        form = ready if ready is not None and ready.items is items else self._new_form(set_id)
        self.form = form
        self.form_box.children = [form]

    def _new_form(self, set_id: str) -> ItemForm | None:
        items = self.item_sets.get(set_id)
        if items is None:
            return None
        form = ItemForm(items, look=self.look)
        texts = [c for c in form.controls.values() if isinstance(c, W.Text | W.Textarea)]
        # Typed answers are unsaved until the store confirms them; the fields send their
        # value when the person leaves them, ahead of the click (continuous_update=False).
        form.saver = self.saver(*texts)
        form.send.on_click(lambda _: self.guard(form.saver.run, lambda: self._send_answers(form)))
        return form

    def _send_answers(self, form: ItemForm) -> None:
        """Store the form's answers. Refused by the store, the form and its text stay, marked
        unsaved, and the send is retried in the background; only a confirmed send replaces the
        form with "Your … is in"."""
        store, person = self.signed_in()
        checkins.submit_answers(store, person, self._joined_session.id, form.items, form.answers())
        form.saver.cancel()  # sent: what the form held is stored, the form goes
        self.status.show(f"Your {form.items.name.lower()} is saved. Thank you.", "ok")
        if form in self.form_box.children:
            done = f"<p>Your {html.escape(form.items.name.lower())} is in. Thank you.</p>"
            self.form_box.children = [self.look.html(done)]

    def _show_followups(self, pending: list[checkins.Commitment] | None = None) -> None:
        store, person = self.signed_in()
        if pending is None:
            pending = checkins.open_commitments(store, person, self._joined_session.id)
        rows: list[W.Widget] = []
        for row in getattr(self, "_followup_rows", {}).values():
            self.drop_saver(row.saver)
        self._followup_rows: dict[str, W.VBox] = {}
        for c in pending:
            tried = W.RadioButtons(
                options=[("Yes", "yes"), ("Partly", "partly"), ("No", "no")],
                value=None,
                description="Did you try it?",
            )
            happened = W.Textarea(
                description="What happened?",
                continuous_update=False,
                style={"description_width": "initial"},
                layout=W.Layout(width="40rem"),
            )
            keep = W.Button(description="Save")
            tried.add_class("cop-followup-tried")
            happened.add_class("cop-followup-text")
            keep.add_class("cop-followup-save")
            said = (
                f"<p>Last time (“{html.escape(c.session_topic)}”) you said you would: "
                f"<strong>{html.escape(c.text)}</strong></p>"
            )
            row = W.VBox([W.HTML(said), tried, happened, keep])
            row.saver = self.saver(happened)
            keep.on_click(
                lambda _, c=c, t=tried, h=happened, r=row: self.guard(
                    self._send_follow_up, c, t, h, r
                )
            )
            self._followup_rows[c.id] = row
            rows.append(row)
        self.followups.children = [W.HTML("<h3>Your commitments</h3>"), *rows] if rows else []

    def _send_follow_up(self, c: checkins.Commitment, tried: W.RadioButtons, text: W.Textarea, row):
        """Store a follow-up as shown; refused by the store, it stays on the page, marked
        unsaved, and is retried in the background (with what the row then shows) until the
        store takes it."""
        if tried.value is None:
            raise InvalidInput("tried", "Choose yes, partly or no first (your text is kept).")
        row.saver.run(lambda: self._follow_up(c, tried.value, text.value, row))

    def _follow_up(self, c: checkins.Commitment, tried: str | None, text: str, row=None) -> None:
        if tried is None:
            raise InvalidInput("tried", "Choose yes, partly or no first (your text is kept).")
        store, person = self.signed_in()
        checkins.follow_up(store, person, c.id, self._joined_session.id, tried, text)
        self.status.show("Thank you: your follow-up is saved.", "ok")
        if row is None:
            self._show_followups()
            return
        # Only this commitment's row goes: what is typed in the others stays.
        row.saver.cancel()
        self._followup_rows.pop(c.id, None)
        left = [r for r in self.followups.children[1:] if r is not row]
        self.followups.children = [self.followups.children[0], *left] if left else []

    # -- value-creation stories whose day has come -------------------------------------------
    def _show_story_returns(self, due: list[value_stories.StoryReturn] | None = None) -> None:
        """The person's value-creation stories saved as intentions whose day has come: each
        asks what happened and what difference it made, at this check-in."""
        store, person = self.signed_in()
        if due is None:
            due = value_stories.due_returns(store, person, today_in(self.settings.timezone))
        for card in self.story_returns.children[1:]:
            self.drop_saver(card.saver)
        cards = [return_card(self, story, self._story_completed) for story in due]
        self.story_returns.children = (
            [W.HTML("<h3>Your value-creation stories</h3>"), *cards] if cards else []
        )

    def _story_completed(self, card: W.VBox, _new_id: str) -> None:
        # only this story's card goes: what is typed in the others stays
        left = [c for c in self.story_returns.children[1:] if c is not card]
        self.story_returns.children = [self.story_returns.children[0], *left] if left else []
        self.status.show(
            "Thank you: your story now says what happened, as a new version of it (in My "
            "reflections).",
            "ok",
        )


def session_app(settings: Settings | None = None, environ=None) -> SessionApp:
    opened = open_for_app(
        settings, environ, "The workbook", lambda s: load_item_sets(s.data_dir / "session_items")
    )
    item_sets, problems = opened.loaded or ({}, [])
    app = SessionApp(
        opened.store,
        opened.settings,
        environ,
        startup_error=opened.error if opened.store is None else "",
        item_sets=item_sets,
    )
    if problems and opened.store is not None:
        app.status.show(
            "Some check-in files could not be loaded: " + "; ".join(map(str, problems)), "warning"
        )
    if opened.store is not None and in_preheated_kernel():
        rehearse_first_request(
            opened.store,
            _stand_in,
            lambda twin, environ, query: _first_request(
                twin, environ, query, opened.settings, item_sets
            ),
        )
    return app


def _stand_in(twin: Store) -> tuple[Person, str]:
    """On the scratch twin: a session open now, and a person to join it by its code."""
    coordinator = find_or_add_person(twin, "Rehearsal coordinator")
    community = sessions.create_community(twin, coordinator, "Rehearsal")
    session = sessions.plan_session(twin, coordinator, community.id, datetime.now(UTC), "Rehearsal")
    return find_or_add_person(twin, "Rehearsal participant"), f"code={session.join_code}"


def _first_request(
    store: Store, environ, query: str, settings: Settings, item_sets: dict[str, ItemSet]
) -> JoinedPage:
    """The session page's reads and join once requested (SessionApp._identify, _sign_in and
    _join_now do the same, then draw it)."""
    person, _role = identify(store, environ)
    code = (parse_qs(query).get("code") or [""])[0]
    return join_and_read(store, person, code, settings, item_sets)
