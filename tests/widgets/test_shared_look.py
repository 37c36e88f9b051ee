"""SharedLook: one layout or style model per kind and settings on a page, for widgets that
never change their own (a page opening creates every model in the browser)."""

from dataclasses import replace

import ipywidgets as W

from cop_widgets.content.session_items import Item
from cop_widgets.widgets import ItemForm, SharedLook
from tests.widgets.test_item_form import ITEMS as ONE_SCALE

# the check-in of test_item_form with a second scale: two of each kind of control
ITEMS = replace(
    ONE_SCALE,
    items=(
        *ONE_SCALE.items,
        Item(id="safety", kind="scale", prompt="Safe to speak here", min=1, max=5),
    ),
)


def test_the_same_settings_give_the_same_model_and_other_settings_another():
    look = SharedLook()
    assert look.layout() is look.layout()
    assert look.layout(width="40rem") is look.layout(width="40rem")
    assert look.layout(width="40rem") is not look.layout()
    assert look.layout(width="40rem").width == "40rem"
    button = look.style_of(W.Button)
    assert isinstance(button, W.ButtonStyle) and button is look.style_of(W.Button)
    labelled = look.labelled(W.Dropdown)
    assert isinstance(labelled, W.widgets.widget_description.DescriptionStyle)
    assert labelled.description_width == "initial" and labelled is not look.style_of(W.Dropdown)
    assert SharedLook().layout() is not look.layout()  # each page its own


def test_html_widgets_made_by_a_look_share_its_layout_and_style():
    look = SharedLook()
    first, second = look.html("<p>a</p>"), look.html()
    assert first.value == "<p>a</p>" and second.value == ""
    assert first.layout is second.layout is look.layout()
    assert first.style is second.style is look.style_of(W.HTML)


def test_a_form_on_a_page_takes_the_page_look():
    look = SharedLook()
    form = ItemForm(ITEMS, look=look)
    scales = [c for c in form.controls.values() if isinstance(c, W.ToggleButtons)]
    texts = [c for c in form.controls.values() if isinstance(c, W.Text | W.Textarea)]
    assert len(scales) == 2 and len(texts) == 2
    assert len({id(c.style) for c in scales}) == 1 and scales[0].style.button_width == "2.6em"
    assert len({id(c.layout) for c in texts}) == 1 and texts[0].layout.width == "40rem"
    assert form.send.layout is look.layout() and form.layout is look.layout()


def test_the_start_form_takes_the_page_look_and_its_session_choice_keeps_its_own_layout():
    from cop_widgets.apps.discussion_start import StartForm
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.settings import load_settings

    look = SharedLook()
    form = StartForm(load_protocols(load_settings().protocols_dir), (), look=look)
    assert form.protocol.style is look.labelled(W.Dropdown)
    assert form.content_note.style is form.names_mentioned.style is look.labelled(W.Text)
    roles = list(form.role_inputs.values())
    assert roles and len({id(r.layout) for r in roles}) == 1 and roles[0].layout.width == "30rem"
    assert form.start.layout is form.layout is look.layout()
    # the run sheet hides the session choice (its session is the one it runs): only that goes
    form.session.layout.display = "none"
    assert form.protocol.layout.display is None and form.start.layout.display is None
