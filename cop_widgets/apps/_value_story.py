"""A value-creation story that has come back to its author: the card My page and a session's
check-in show ("You planned to try … — what happened? what difference did it make?"), and
completing it there (services/value_stories.py: a new version with the applied and realised
cycles). Shared by apps/my_page.py and apps/session.py."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import ipywidgets as W

from cop_widgets.apps._base import AppShell
from cop_widgets.errors import InvalidInput
from cop_widgets.services import value_stories
from cop_widgets.widgets.deid_check import DeidCheck

LABEL = {"description_width": "initial"}
SAVE = "Add to my story"


def today_in(zone_name: str) -> date:
    """Today where the community is (Settings.timezone): the day a return falls due."""
    return datetime.now(ZoneInfo(zone_name)).date()


def day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def return_card(
    app: AppShell,
    story: value_stories.StoryReturn,
    on_done: Callable[[W.VBox, str], None],
) -> W.VBox:
    """The card of one due story; Save completes it (retried while the store refuses it, the
    text kept) and then calls on_done(card, new version id)."""
    said = (
        f"<p>You planned to try: <strong><bdi>{html.escape(story.planned)}</bdi></strong> — "
        "what happened? what difference did it make?</p>"
        f"<p class='cop-meta'>Your value-creation story, back on "
        f"{html.escape(day_text(story.return_on))} as you asked. What you add here becomes a "
        "new version of it; the story as you saved it stays as it was.</p>"
    )
    applied = W.Textarea(
        description="What happened? How did you use it?",
        continuous_update=False,
        style=LABEL,
        layout=W.Layout(width="100%", max_width="40rem"),
    )
    realized = W.Textarea(
        description="What difference did it make, and for whom?",
        continuous_update=False,
        style=LABEL,
        layout=W.Layout(width="100%", max_width="40rem"),
    )
    save = W.Button(description=SAVE, layout=W.Layout(align_self="flex-start"))
    note = W.HTML()
    deid = DeidCheck()
    applied.add_class("cop-return-applied")
    realized.add_class("cop-return-realized")
    save.add_class("cop-return-save")
    note.add_class("cop-return-note")
    card = W.VBox([W.HTML(said), applied, realized, deid, save, note])
    card.add_class("cop-value-return")
    card.story, card.applied, card.realized, card.deid, card.note = (
        story,
        applied,
        realized,
        deid,
        note,
    )
    # typed text is unsaved until the store confirms it (kept and retried when refused)
    card.saver = app.saver(applied, realized)
    save.on_click(lambda _: app.guard(_send, app, card, on_done))
    return card


def _send(app: AppShell, card: W.VBox, on_done: Callable[[W.VBox, str], None]) -> None:
    card.note.value = ""
    try:
        card.saver.run(lambda: _complete(app, card, on_done))
    except InvalidInput as exc:
        card.note.value = f'<p role="alert" class="cop-note-error">{html.escape(str(exc))}</p>'
        raise


def _complete(app: AppShell, card: W.VBox, on_done: Callable[[W.VBox, str], None]) -> None:
    story: value_stories.StoryReturn = card.story
    texts = {
        value_stories.APPLIED_LABEL: card.applied.value,
        value_stories.REALIZED_LABEL: card.realized.value,
    }
    confirmed = False
    # shared beyond its author, the new text passes the de-identification check first
    if story.visibility != "private":
        if not card.deid.review(texts):
            raise InvalidInput(
                "de-identification",
                "Not saved yet: this story is shared, so check the highlighted words (rephrase "
                f"them, or tick the box if they do not identify anyone), then press {SAVE} "
                "again. Your text is kept.",
            )
        confirmed = card.deid.confirmed
    store, person = app.signed_in()
    new_id = value_stories.complete_return(
        store,
        person,
        story.reflection_id,
        card.applied.value,
        card.realized.value,
        confirmed=confirmed,
    )
    card.saver.cancel()
    on_done(card, new_id)
