"""The session app (participants): join a session by its code; attendance is recorded once."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import ipywidgets as W

from ..errors import CopWidgetsError
from ..services import sessions as X
from ..services.identity import Person, hub_user, sign_in
from ..settings import MIN_BUSY_TIMEOUT_MS, REPO_DATA_DIR, Settings, load_settings
from ..store import Store, open_store
from ..widgets import SignIn
from ._base import AppShell


class SessionApp(AppShell):
    def __init__(
        self, store: Store | None, settings: Settings, environ=None, startup_error: str = ""
    ):
        self.store, self.settings, self.environ = store, settings, environ
        self.person: Person | None = None
        self.joined: X.Session | None = None
        self.code = W.Text(
            description="Join code",
            placeholder="e.g. K7M2QX",
            style={"description_width": "initial"},
            continuous_update=False,
        )
        self.code.add_class("cop-join-code-input")
        self.join_button = W.Button(description="Join", button_style="primary")
        self.join_button.add_class("cop-join")
        self.join_button.on_click(lambda _: self._after_pending_edits(self.join))
        super().__init__("<h1>Join a session</h1>")
        if startup_error:
            self.status.show(startup_error, "error")
            return
        if hub_user(environ) is not None:
            self._guard(self._sign_in, None)
        else:
            form = SignIn()
            form.on_sign_in(lambda name: self._guard(self._sign_in, name))
            self.body.children = [form, W.HBox([self.code])]

    def use_query_string(self, query: str | None) -> None:
        """The join link carries ?code=…; it only fills the field (identity never comes from
        the URL)."""
        code = (parse_qs(query or "").get("code") or [""])[0]
        if code:
            self.code.value = X.normalise_code(code)

    def _sign_in(self, name: str | None) -> None:
        self.person = sign_in(self.store, name, self.environ)
        self.status.show(f"Signed in as {self.person.display_name}.", "ok")
        self.body.children = [W.HBox([self.code, self.join_button])]
        if self.code.value:
            self.join()

    def join(self) -> None:
        if self.person is None:
            return
        try:
            session = X.join(self.store, self.person, self.code.value, datetime.now(UTC))
        except CopWidgetsError as exc:
            self.status.show(str(exc), "error")
            return
        self.joined = session
        zone = ZoneInfo(self.settings.timezone)
        when = f"{session.starts_at.astimezone(zone):%a %d %b %Y, %H:%M} ({self.settings.timezone})"
        cop = next((c for c in X.communities(self.store) if c.id == session.community_id), None)
        focus = (
            f"<p><strong>Focus question:</strong> {html.escape(session.focus_question)}</p>"
            if session.focus_question
            else ""
        )
        self.body.children = [
            W.HTML(
                f"<h2>{html.escape(session.topic)}</h2>"
                f"<p class='cop-meta'>{html.escape(cop.name if cop else '')} · {html.escape(when)}"
                f"</p>{focus}<p>You are in: your attendance is recorded. Open the "
                "<a href='/voila/render/case_discussion.ipynb'>case discussion</a> or your "
                "<a href='/voila/render/reflection.ipynb'>reflection</a> when the facilitator "
                "asks.</p>"
            )
        ]
        self.status.show(f"Joined “{session.topic}”.", "ok")


def session_app(settings: Settings | None = None, environ=None) -> SessionApp:
    store, error = None, ""
    try:
        settings = settings or load_settings(environ)
        store = open_store(settings)
    except CopWidgetsError as exc:
        error = f"The workbook cannot save right now: {exc}"
    shown = settings or Settings(REPO_DATA_DIR, "", MIN_BUSY_TIMEOUT_MS)
    return SessionApp(store, shown, environ, startup_error=error)
