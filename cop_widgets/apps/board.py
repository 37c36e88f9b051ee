"""The live room board (the facilitator's screen): who has answered, and — once revealed and
only past the minimum group — the spread of each scale and the most frequent words.

The counts refresh from the store every second, so a participant's check-in shows within about
a second with no reload. Results stay hidden until the facilitator reveals them, and then show
a snapshot that moves on only in steps of at least the minimum group of new answers (on the
ticker or "Refresh results"), so the room never sees one latecomer's answer appear.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

import ipywidgets as W

from cop_widgets.apps._autosave import Ticker
from cop_widgets.apps._base import AppShell
from cop_widgets.apps._startup import open_for_app
from cop_widgets.content.session_items import ItemSet, load_item_sets
from cop_widgets.services import board, sessions
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets.scale_rating import spread_html

# Every this many refreshes the board sends what it shows again even when nothing changed: a
# page whose widgets were still loading when a change went out would otherwise keep showing the
# state from before it until the next change.
RESEND_EVERY_REFRESHES = 5


class BoardPanel(W.VBox):
    """One session's board: live counts, and the results once revealed. Shown by the board app
    and embedded in the run sheet (apps/run_sheet.py); whoever shows it calls refresh() on its
    ticker. `shell` is the page (its status line and guarded handlers)."""

    def __init__(
        self, shell: AppShell, session: sessions.Session, sets: list[ItemSet], min_group: int
    ):
        self.shell, self.session, self.sets, self.min_group = shell, session, sets, min_group
        self.revealed = False
        self.reveal = W.ToggleButton(
            description="Reveal results", value=False, tooltip="Show the summaries to the room"
        )
        self.reveal.add_class("cop-board-reveal")
        self.reveal.observe(lambda c: shell.guard(self._set_revealed, c["new"]), "value")
        self.refresh_button = W.Button(
            description="Refresh results",
            tooltip="Update the results shown, if enough new answers have arrived",
        )
        self.refresh_button.add_class("cop-board-refresh")
        self.refresh_button.on_click(lambda _: shell.guard(self.refresh_results))
        self.counts = W.HTML()
        self.results = W.HTML()
        super().__init__(
            [
                W.HBox([self.reveal, self.refresh_button], layout=W.Layout(flex_flow="row wrap")),
                self.counts,
                self.results,
            ]
        )
        self.add_class("cop-board")
        self._refreshes = 0
        self.refresh()

    def _set_revealed(self, value: bool) -> None:
        self.revealed = value
        self.reveal.description = "Hide results" if value else "Reveal results"
        self.refresh()

    def refresh_results(self) -> None:
        """The facilitator's "Refresh results": the same rule as the ticker's, said aloud."""
        if not self.revealed:
            self.reveal.value = True  # reveals (and refreshes)
            return
        if self.refresh():
            self.shell.status.show("Results updated.")
        else:
            self.shell.status.show(
                "No change: the results move on once at least "
                f"{self.min_group} more answers have arrived since they were shown, "
                "so that nobody's answer shows on its own."
            )

    def _small_room(self, answered: dict[str, int]) -> str:
        """Below the minimum group: why nothing is shown, and what is."""
        m = self.min_group
        if any(n >= m for n in answered.values()):
            return ""
        return (
            "<p class='cop-board-small'>Nothing from the answers is shown yet: each summary "
            f"needs answers from at least {m} people, so that in a small room nobody's answer "
            "can be picked out. Until then the board shows how many have joined and how many "
            "have sent their check-in and check-out (above).</p>"
        )

    def refresh(self) -> bool:
        """Counts live; results (once revealed) as the stored snapshot, which moves on only in
        steps of at least the minimum group (services/board.shown_state). True if it moved."""
        store, person = self.shell.signed_in()
        session_id = self.session.id
        changed = False
        if self.revealed:
            state, changed = board.shown_state(store, person, session_id, self.sets, self.min_group)
        else:
            state = board.board_state(store, person, session_id, self.sets, self.min_group)
        sent = " · ".join(
            f"{html.escape(s.name)}: {state.answered.get(s.id, 0)}" for s in self.sets
        )
        counts = f"<p class='cop-board-counts'><strong>{state.joined}</strong> joined · {sent}</p>"
        if counts != self.counts.value:
            self.counts.value = counts
        small = self._small_room(state.answered)
        if not self.revealed:
            results = small + "<p class='cop-meta'>Results are hidden until you reveal them.</p>"
        else:
            parts = [small]
            if any(item.shown for item in state.items):
                parts.append(
                    "<p class='cop-meta cop-board-snapshot'>A snapshot: the results change only "
                    f"when at least {self.min_group} more answers have arrived, so "
                    "nobody's answer shows on its own.</p>"
                )
            for item in state.items:
                title = f"<h3>{html.escape(item.prompt)}</h3>"
                if not item.shown:
                    # no count of its own: a live count would show when someone answered it
                    parts.append(
                        f"{title}<p class='cop-meta'>Answers so far: fewer "
                        f"than {self.min_group}, not shown.</p>"
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
        self._refreshes += 1
        if self._refreshes % RESEND_EVERY_REFRESHES == 0:
            self.counts.send_state("value")
            self.results.send_state("value")
        return changed


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
        self.sets = board_sets(item_sets)
        self.person: Person | None = None
        self.session: sessions.Session | None = None
        self.panel: BoardPanel | None = None
        self.ticker = Ticker(lambda: self.guard(self.refresh), every=tick_seconds)
        self.code = W.Text(
            description="Session join code",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.code.add_class("cop-board-code")
        self.open_button = W.Button(description="Open board", button_style="primary")
        self.open_button.add_class("cop-board-open")
        self.open_button.on_click(lambda _: self.after_pending_edits(self.open_board))
        super().__init__("<h1>Room board</h1>")
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        self.body.children = [W.HBox([self.code, self.open_button])]
        code = (parse_qs(self.query).get("code") or [""])[0]
        if code:  # board.ipynb?code=… from the run sheet: fills the field, opens the board
            self.code.value = sessions.normalise_code(code)
            self.open_board()

    def open_board(self) -> None:
        # only those who run the session (its facilitator, the community's facilitators and
        # coordinators) get past this: services/policy.py
        store, person = self.signed_in()
        found = sessions.session_by_code(store, person, self.code.value)
        self.session = found
        self.panel = BoardPanel(self, found, self.sets, self.settings.min_group)
        self.body.children = [
            W.HTML(
                f"<h2><bdi>{html.escape(found.topic)}</bdi></h2><p class='cop-meta'>Join code "
                f"<strong>{found.join_code}</strong> · summaries need at least "
                f"{self.settings.min_group} answers</p>"
            ),
            self.panel,
        ]
        self.ticker.start()

    # the panel's parts, as the page's own (tests and the ticker reach them here)
    reveal = property(lambda self: self.panel.reveal)
    refresh_button = property(lambda self: self.panel.refresh_button)
    counts = property(lambda self: self.panel.counts)
    results = property(lambda self: self.panel.results)
    revealed = property(lambda self: self.panel is not None and self.panel.revealed)

    def refresh_results(self) -> None:
        if self.panel is not None:
            self.panel.refresh_results()

    def refresh(self) -> bool:
        return self.panel.refresh() if self.panel is not None else False


def board_sets(item_sets: dict[str, ItemSet]) -> list[ItemSet]:
    """The item sets a board summarises: check-in, then check-out."""
    return [item_sets[k] for k in ("checkin", "checkout") if k in item_sets]


def board_app(
    settings: Settings | None = None, environ=None, tick_seconds: float = 1.0
) -> BoardApp:
    opened = open_for_app(
        settings, environ, "The board", lambda s: load_item_sets(s.data_dir / "session_items")[0]
    )
    return BoardApp(
        opened.store,
        opened.settings,
        opened.loaded or {},
        environ,
        tick_seconds,
        startup_error=opened.error,
    )
