"""Finding an app's widgets the way a person finds them on the page: by their label."""


def buttons(box, label: str) -> list:
    """Every widget under `box` (at any depth, in page order) whose label is `label`."""
    found = []
    for child in getattr(box, "children", ()):
        if getattr(child, "description", None) == label:
            found.append(child)
        found += buttons(child, label)
    return found


def button(box, label: str):
    """The first widget under `box` whose label is `label`, or None."""
    return next(iter(buttons(box, label)), None)
