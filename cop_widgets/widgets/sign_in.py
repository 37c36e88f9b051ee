"""SignIn: the display-name form of standalone mode (under JupyterHub it is never shown)."""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as W

STANDALONE_NOTE = (
    "Standalone mode: your display name is your identity on this machine, so use it only in a "
    "trusted room. Anyone who types the same name sees the same work."
)


class SignIn(W.VBox):
    """A labelled name field and a Start button; emits the typed name with on_sign_in."""

    def __init__(self, **kwargs):
        self._handlers = W.CallbackDispatcher()
        self.name_input = W.Text(
            description="Your display name",
            placeholder="First name or nickname",
            style={"description_width": "initial"},
            # sent when the field loses focus, so it is complete before Start is pressed
            continuous_update=False,
        )
        self.name_input.add_class("cop-name")
        self.start_button = W.Button(description="Start", button_style="primary")
        self.start_button.add_class("cop-start")
        self.start_button.on_click(lambda _: self.sign_in())
        super().__init__(
            children=[
                W.HTML(f"<p>{html.escape(STANDALONE_NOTE)}</p>"),
                W.HBox([self.name_input, self.start_button]),
            ],
            **kwargs,
        )

    def on_sign_in(self, callback: Callable[[str], None], remove: bool = False) -> None:
        self._handlers.register_callback(callback, remove=remove)

    def sign_in(self) -> None:
        self._handlers(self.name_input.value)
