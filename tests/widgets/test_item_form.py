"""ItemForm driven headlessly: answers as typed, the value trait, disabled after sending."""

from cop_widgets.content.session_items import Item, ItemSet
from cop_widgets.widgets import ItemForm

ITEMS = ItemSet(
    id="checkin",
    name="Check-in",
    intro="Two questions.",
    items=(
        Item(id="energy", kind="scale", prompt="Energy today", min=1, max=5),
        Item(id="hope", kind="text", prompt="One word for today", anonymous=True),
        Item(id="try", kind="commitment", prompt="What will you try?", private=True),
    ),
    path="(test)",
)


def test_answers_follow_what_is_typed_and_pressed():
    form = ItemForm(ITEMS)
    assert form.value == {"energy": None, "hope": "", "try": ""}
    form.answer("energy", 4)
    form.controls["hope"].value = "steady"  # typed in the browser
    assert form.answers() == {"energy": 4, "hope": "steady", "try": ""}
    assert form.value == form.answers()


def test_labels_say_who_sees_an_answer_once():
    form = ItemForm(ITEMS)
    assert form.controls["hope"].description.endswith("(anonymous)")
    assert form.controls["try"].description.endswith("(only you see this)")
    assert form.send.description == "Send my check-in"


def test_disabled_locks_every_control_and_the_send_button():
    form = ItemForm(ITEMS)
    form.disabled = True
    assert all(c.disabled for c in form.controls.values()) and form.send.disabled
    form.disabled = False
    assert not form.send.disabled
