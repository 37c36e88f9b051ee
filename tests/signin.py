"""Signing a test's person in through the real seam: the server's signed assertion, as Voilà
hands it to a kernel (cop_widgets.serving.launch), checked by the app's own identify step."""

from __future__ import annotations

import time

from cop_widgets.services.identity import IDENTITY_ENV, Person, find_or_add_person, make_assertion
from cop_widgets.services.secret import server_secret_key
from cop_widgets.store import Store


def assertion_environ(store: Store, who: Person, session_id: str | None = None) -> dict[str, str]:
    """The request details a server sends the kernel of a page `who` opened."""
    key = server_secret_key(store, "kernel-identity")
    return {IDENTITY_ENV: make_assertion(key, who.id, session_id, time.time())}


def sign_in_as(app, who: str | Person) -> Person:
    """Sign an app in as `who` (a person, or a display name added if missing), the way a page
    request does; returns the person."""
    person = who if isinstance(who, Person) else find_or_add_person(app.store, who)
    app.environ = assertion_environ(app.store, person)
    app.guard(app._identify_until_done, app.query)
    return person
