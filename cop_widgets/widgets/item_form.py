"""ItemForm: a check-in or check-out form built from an item set (scales and short texts)."""

from __future__ import annotations

import html

import ipywidgets as W
from traitlets import Bool, Dict, observe

from cop_widgets.content.session_items import ItemSet
from cop_widgets.widgets.shared_look import SharedLook


class ItemForm(W.VBox):
    """One control per item; answers() gives {item id: int | str | None}."""

    value = Dict(help="The answers as typed so far: {item id: int | str | None}.")
    disabled = Bool(False, help="True once sent (or while sending): nothing can be changed.")

    def __init__(self, items: ItemSet, look: SharedLook | None = None, **kwargs):
        """`look`: the page's shared layout and style models (the form's own by default);
        none of the form's widgets changes its own."""
        self.items = items
        self.controls: dict[str, W.Widget] = {}
        look = look or SharedLook()
        parts: list[W.Widget] = [
            look.html(f"<h3>{html.escape(items.name)}</h3><p>{html.escape(items.intro)}</p>")
        ]
        for item in items.items:
            note = (
                " (anonymous)"
                if item.anonymous
                else " (only you see this)"
                # said once: a prompt may already say so itself
                if item.private and "only you see this" not in item.prompt.lower()
                else ""
            )
            if item.kind == "scale":
                control = W.ToggleButtons(
                    options=[str(v) for v in range(item.min, item.max + 1)],
                    value=None,
                    layout=look.layout(),
                    style=look.style_of(W.ToggleButtons, button_width="2.6em"),
                )
                ends = f"{item.min} = {item.low_label}; {item.max} = {item.high_label}"
                parts.append(
                    look.html(
                        f"<p><strong>{html.escape(item.prompt)}</strong>{note}<br>"
                        f'<span class="cop-meta">{html.escape(ends)}</span></p>'
                    )
                )
                control.description = "Rating"
            else:
                big = item.kind == "commitment" or item.max_chars > 100
                control = (W.Textarea if big else W.Text)(
                    description=item.prompt + note,
                    style=look.labelled(W.Text),
                    layout=look.layout(width="40rem"),
                    continuous_update=False,
                )
            control.add_class(f"cop-item-{item.id}")
            control.observe(self._changed, "value")
            self.controls[item.id] = control
            parts.append(control)
        self.send = W.Button(
            description=f"Send my {items.name.lower()}",
            button_style="primary",
            layout=look.layout(),
            style=look.style_of(W.Button),
        )
        self.send.add_class(f"cop-send-{items.id}")
        parts.append(self.send)
        kwargs.setdefault("layout", look.layout())
        super().__init__(children=parts, **kwargs)
        self.value = self.answers()

    def answer(self, item_id: str, value: object) -> None:
        """Answer one item, as typing or pressing a point does (a scale takes an int)."""
        control = self.controls[item_id]
        control.value = str(value) if isinstance(value, int) else value

    def _changed(self, _change) -> None:
        self.value = self.answers()

    @observe("disabled")
    def _disable(self, change) -> None:
        for control in [*self.controls.values(), self.send]:
            control.disabled = change["new"]

    def answers(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for item in self.items.items:
            value = self.controls[item.id].value
            out[item.id] = int(value) if item.kind == "scale" and value is not None else value
        return out
