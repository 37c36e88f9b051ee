"""The live room board (the facilitator's screen): who has answered, and — once revealed and
only past the minimum group — the spread of each scale and the most frequent words.

It refreshes from the store every second, so a participant's answer shows within about a
second with no reload. Results stay hidden until the facilitator reveals them.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from urllib.parse import parse_qs

import ipywidgets as W

from ..errors import CopWidgetsError, InvalidInput
from ..services import board as B
from ..services import sessions as X
from ..services.identity import Person
from ..session_items import ItemSet, load_item_sets
from ..settings import MIN_BUSY_TIMEOUT_MS, REPO_DATA_DIR, Settings, load_settings
from ..store import Store, open_store
from ..widgets.scale_rating import spread_html
from ._autosave import Ticker
from ._base import AppShell


class BoardApp(AppShell):
    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        item_sets: dict[str, ItemSet],
        environ=None,
        tick_seconds: float = 1.0,
        startup_error: str = "",
    ):
        self.store, self.settings, self.environ = store, settings, environ
        self.sets = [item_sets[k] for k in ("checkin", "checkout") if k in item_sets]
        self.person: Person | None = None
        self.session: X.Session | None = None
        self.revealed = False
        self.ticker = Ticker(lambda: self._guard(self.refresh), every=tick_seconds)
        self.code = W.Text(
            description="Session join code",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.code.add_class("cop-board-code")
        self.open_button = W.Button(description="Open board", button_style="primary")
        self.open_button.add_class("cop-board-open")
        self.open_button.on_click(lambda _: self._after_pending_edits(self.open_board))
        super().__init__("<h1>Room board</h1>")
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.body.children = [W.HBox([self.code, self.open_button])]
        code = (parse_qs(self.query).get("code") or [""])[0]
        if code:  # board.ipynb?code=… from the run sheet: fills the field, opens the board
            self.code.value = X.normalise_code(code)
            self.open_board()

    def open_board(self) -> None:
        wanted = X.normalise_code(self.code.value)
        found = next(
            (
                s
                for c in X.communities(self.store)
                for s in sum(X.sessions_of(self.store, c.id, datetime.now(UTC)), [])
                if s.join_code == wanted
            ),
            None,
        )
        if found is None:
            raise InvalidInput("join code", f"No session has the code {wanted or '(empty)'}.")
        if not B.may_run_board(self.store, self.person, found.id):
            raise InvalidInput(
                "role",
                "Only the session's facilitator (or a coordinator) opens "
                "its board. Ask your coordinator to assign the role.",
            )
        self.session = found
        self.reveal = W.ToggleButton(
            description="Reveal results", value=False, tooltip="Show the summaries to the room"
        )
        self.reveal.add_class("cop-board-reveal")
        self.reveal.observe(lambda c: self._guard(self._set_revealed, c["new"]), "value")
        self.counts = W.HTML()
        self.results = W.HTML()
        self.body.children = [
            W.HTML(
                f"<h2>{html.escape(found.topic)}</h2><p class='cop-meta'>Join code "
                f"<strong>{found.join_code}</strong> · summaries need at least "
                f"{self.settings.min_group} answers</p>"
            ),
            self.reveal,
            self.counts,
            self.results,
        ]
        self.refresh()
        self.ticker.start()

    def _set_revealed(self, value: bool) -> None:
        self.revealed = value
        self.reveal.description = "Hide results" if value else "Reveal results"
        self.refresh()

    def refresh(self) -> None:
        if self.session is None:
            return
        state = B.board_state(self.store, self.session.id, self.sets, self.settings.min_group)
        sent = " · ".join(
            f"{html.escape(s.name)}: {state.answered.get(s.id, 0)}" for s in self.sets
        )
        counts = f"<p class='cop-board-counts'><strong>{state.joined}</strong> joined · {sent}</p>"
        if counts != self.counts.value:
            self.counts.value = counts
        if not self.revealed:
            results = "<p class='cop-meta'>Results are hidden until you reveal them.</p>"
        else:
            parts = []
            for item in state.items:
                title = f"<h3>{html.escape(item.prompt)}</h3>"
                if not item.shown:
                    parts.append(
                        f"{title}<p class='cop-meta'>{item.answers} answer(s): fewer "
                        f"than {self.settings.min_group}, not shown.</p>"
                    )
                elif item.kind == "scale":
                    spec = next(i for s in self.sets for i in s.items if i.id == item.item_id)
                    parts.append(title + spread_html(item.values, spec.min, spec.max))
                else:
                    words = ", ".join(f"{html.escape(w)} ({n})" for w, n in item.words)
                    parts.append(f"{title}<p class='cop-words'>{words or '—'}</p>")
            results = "".join(parts)
        if results != self.results.value:
            self.results.value = results


def board_app(
    settings: Settings | None = None, environ=None, tick_seconds: float = 1.0
) -> BoardApp:
    store, error, sets = None, "", {}
    try:
        settings = settings or load_settings(environ)
        sets, _problems = load_item_sets(settings.data_dir / "session_items")
        store = open_store(settings)
    except CopWidgetsError as exc:
        error = f"The board cannot open the store: {exc}"
    shown = settings or Settings(REPO_DATA_DIR, "", MIN_BUSY_TIMEOUT_MS)
    return BoardApp(store, shown, sets, environ, tick_seconds, startup_error=error)
