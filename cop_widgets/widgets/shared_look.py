"""SharedLook: the layout and style models that widgets of one page share.

Every ipywidget comes with a Layout model, and most with a style model, of its own. A page
opening fetches and creates each model in the browser, and a room opens 30 pages at once: on
the session page 24 Layout and 17 style models of 57 were such copies, all alike. Widgets that
never change their own layout or style take them from here instead (a widget whose layout is
changed later, e.g. shown and hidden with layout.display, keeps its own).
"""

from __future__ import annotations

from typing import TypeVar

import ipywidgets as W

Model = TypeVar("Model", bound=W.Widget)


class SharedLook:
    """One page's shared Layout and style models, each made when first asked for, one per
    kind and settings."""

    def __init__(self) -> None:
        self._made: dict[tuple, W.Widget] = {}

    def _shared(self, kind: type[Model], settings: dict[str, str]) -> Model:
        key = (kind, *sorted(settings.items()))
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = kind(**settings)
        return made

    def layout(self, **settings: str) -> W.Layout:
        """A Layout with these settings (none: the default), shared by whoever asks for it."""
        return self._shared(W.Layout, settings)

    def style_of(self, widget_class: type[W.DOMWidget], **settings: str) -> W.Style:
        """The style model `widget_class` takes (ButtonStyle for a Button, ...) with these
        settings."""
        return self._shared(widget_class.style.klass, settings)

    def labelled(self, widget_class: type[W.DOMWidget]) -> W.Style:
        """The style of a `widget_class` whose description shows in full before it."""
        return self.style_of(widget_class, description_width="initial")

    def html(self, value: str = "") -> W.HTML:
        """An HTML widget with the shared layout and style (text only, changed by its value)."""
        return W.HTML(value, layout=self.layout(), style=self.style_of(W.HTML))
