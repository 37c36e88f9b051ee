"""The member directory app: find who offers what; add yourself only if you choose to."""

from __future__ import annotations

import html

import ipywidgets as W

from cop_widgets.apps._base import AppShell
from cop_widgets.apps._startup import open_for_app
from cop_widgets.services import directory
from cop_widgets.services.identity import Person
from cop_widgets.settings import Settings
from cop_widgets.store import Store
from cop_widgets.widgets.deid_check import DeidCheck

LABEL = {"description_width": "initial"}


class DirectoryApp(AppShell):
    def __init__(self, store: Store | None, environ=None, startup_error: str = ""):
        self.store, self.environ = store, environ
        self.person: Person | None = None
        self.listing = W.HTML()
        super().__init__("<h1>Member directory</h1>")
        self.begin(startup_error, environ)

    def _sign_in(self, person: Person) -> None:
        self.person = person
        mine = directory.my_profile(self.opened_store(), person)
        self.listed = W.Checkbox(
            value=mine.listed,
            indent=False,
            description="List me in the directory (off until you tick it)",
        )
        self.offers = W.Textarea(
            value=mine.offers,
            description="What I can offer others",
            style=LABEL,
            layout=W.Layout(width="40rem"),
            continuous_update=False,
        )
        self.wants = W.Textarea(
            value=mine.wants,
            description="What I want to learn",
            style=LABEL,
            layout=W.Layout(width="40rem"),
            continuous_update=False,
        )
        save = W.Button(description="Save my entry", button_style="primary")
        for name_, w in (
            ("listed", self.listed),
            ("offers", self.offers),
            ("wants", self.wants),
            ("save", save),
        ):
            w.add_class(f"cop-directory-{name_}")
        # Typed text is unsaved until the store confirms it; a refused save stays so and is
        # retried in the background (the fields send their value ahead of the click).
        self.entry_saver = self.saver(self.offers, self.wants)
        save.on_click(lambda _: self.guard(self.entry_saver.run, self.save))
        # Everyone reads a listed entry: it is listed only once its likely identifiers were
        # rephrased or confirmed (as a reflection leaves "only me").
        self.deid = DeidCheck()
        self.body.children = [
            W.HTML("<h2>Members</h2>"),
            self.listing,
            W.HTML("<h2>My entry</h2>"),
            self.listed,
            self.offers,
            self.wants,
            self.deid,
            save,
        ]
        self.show_listing()

    def save(self) -> None:
        texts = {
            "What I can offer others": self.offers.value,
            "What I want to learn": self.wants.value,
        }
        checked = not self.listed.value or self.deid.review(texts)
        store, person = self.signed_in()
        directory.save_profile(
            store, person, self.listed.value and checked, self.offers.value,
            self.wants.value,
        )  # fmt: skip
        if not checked:
            self.status.show(
                "Your entry is saved but not listed yet: check the highlighted words above, "
                "rephrase them or tick the box, then save again.",
                "warning",
            )
        else:
            self.status.show(
                "Your entry is saved" + (" and listed." if self.listed.value else ", not listed."),
                "ok",
            )
        self.show_listing()

    def show_listing(self) -> None:
        rows = "".join(
            f"<tr><th scope='row'><bdi>{html.escape(n)}</bdi></th>"
            f"<td style='white-space:pre-wrap'>{html.escape(o)}</td>"
            f"<td style='white-space:pre-wrap'>{html.escape(w)}</td></tr>"
            for n, o, w in directory.listed_members(self.opened_store())
        )
        self.listing.value = (
            "<table class='cop-directory'><thead><tr><th scope='col'>Member</th>"
            "<th scope='col'>Offers</th><th scope='col'>Wants to learn</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            if rows
            else "<p class='cop-meta'>Nobody has listed themselves yet.</p>"
        )


def directory_app(settings: Settings | None = None, environ=None) -> DirectoryApp:
    opened = open_for_app(settings, environ, "The directory")
    return DirectoryApp(opened.store, environ, startup_error=opened.error)
