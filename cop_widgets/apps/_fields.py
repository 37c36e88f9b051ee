"""Text fields that a button stores and then clears, without losing late keystrokes."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W


class TakenText:
    """Fields whose text a button takes, stores, then clears for the next entry.

    While the kernel is busy the browser holds back a field's newest value and sends it after a
    button's click, so at the click the kernel may have only part of what the person sees. A
    fixed wait does not fix that (and lets the next entry's typing in instead), so:

    - the fields send their value when the person leaves them (continuous_update=False): the
      browser sends that at once, ahead of the click, unless an earlier value of the same field
      is still on its way;
    - take() reads the fields at the click; stored() clears a field only after the store took its
      text, and only if the field still holds exactly that text;
    - a value that arrives after the clear and extends the stored text is the rest of it: it
      goes to `amend` (which stores the whole text) and the field is cleared again; if amend is
      missing or refuses, the field keeps the text. Anything else is a new entry and stays.
    """

    def __init__(self, *fields: W.Text | W.Textarea):
        self.fields = fields
        self._taken: tuple[str, ...] | None = None
        self._amend: Callable[[tuple[str, ...]], bool] | None = None
        self._clearing = False
        for field in fields:
            field.continuous_update = False
            field.observe(self._arrived, "value")

    def take(self) -> tuple[str, ...]:
        self._taken = None  # a new entry: the one before is done
        return tuple(field.value for field in self.fields)

    def stored(
        self, taken: tuple[str, ...], amend: Callable[[tuple[str, ...]], bool] | None = None
    ) -> None:
        """The store took `taken`: clear each field that still holds exactly its part."""
        self._clearing = True
        try:
            for field, text in zip(self.fields, taken, strict=True):
                if field.value == text:
                    field.value = ""
        finally:
            self._clearing = False
        self._taken, self._amend = taken, amend

    def _arrived(self, change) -> None:
        if self._clearing or self._taken is None or change["old"] != "":
            return
        index = self.fields.index(change["owner"])
        before, new = self._taken[index], change["new"]
        if not before or new == before or not new.startswith(before):
            self._taken = None  # the person started a new entry: it stays in the field
            return
        whole = (*self._taken[:index], new, *self._taken[index + 1 :])
        amend, self._taken = self._amend, None
        if amend is not None and amend(whole):
            self.stored(whole, amend)
