"""ReflectionStepper driven headlessly: stages, the value trait, pass, events, read-only."""

from cop_widgets.widgets import ReflectionStepper


def test_typing_and_passing_fill_the_value_and_tell_the_app(rolfe):
    changes, saved = [], []
    stepper = ReflectionStepper(rolfe)
    stepper.on_change(lambda s: changes.append(dict(s.value)))
    stepper.on_save(lambda s: saved.append(s.visibility))
    first, second = (s.id for s in rolfe.stages[:2])
    stepper._answer.value = "A short visit."
    stepper.go(1)
    stepper._pass.value = True
    assert stepper.value[first] == {"text": "A short visit.", "passed": False}
    assert stepper.value[second]["passed"] is True and len(changes) == 2
    stepper.save()
    assert saved == ["private"]


def test_navigation_stays_within_the_stages(rolfe):
    stepper = ReflectionStepper(rolfe)
    stepper.go(-3)
    assert stepper.stage_index == 0 and stepper._back.disabled
    stepper.go(99)
    last = len(rolfe.stages) - 1
    assert stepper.stage_index == last and stepper._next.disabled
    assert f"Stage {last + 1} of {last + 1}" in stepper._heading.value


def test_read_only_shows_and_cannot_change(rolfe):
    first = rolfe.stages[0].id
    stepper = ReflectionStepper(
        rolfe, {first: {"text": "kept", "passed": False}}, "community", read_only=True
    )
    stepper._answer.value = "changed in the browser"
    assert stepper.value[first]["text"] == "kept" and stepper.visibility == "community"
    assert stepper._visibility.layout.display == "none"
    assert stepper._edit_buttons.layout.display == "none"
