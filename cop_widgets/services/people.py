"""Finding a person's record from what an administrator typed (`cop data export --person`,
`cop data erase`): an id, an email or a display name; a name two people share is refused."""

from __future__ import annotations

from sqlalchemy import (
    select,
)

from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services.identity import Person
from cop_widgets.store import Store, schema
from cop_widgets.text import clean_display_name


def _not_found(who: str) -> RecordNotFound:
    exc = RecordNotFound("person", who)
    exc.args = (
        f"No person matches {who!r}. Give their person id, their display name (any case) "
        "or hub:<user name>.",
    )
    return exc


def find_person(store: Store, who: str) -> Person:
    """The one person named by an id, a display name (any case) or ``hub:<user>``.

    ``local:<name>`` picks the standalone identity only. A bare name that matches both a
    standalone person and a Hub user is refused as ambiguous, with the ids to choose from.
    """
    if not isinstance(who, str) or not who.strip():
        raise InvalidInput("person", "Name the person: their id, display name or hub:<user>.")
    raw = who.strip()
    p = schema.person.c
    cols = (p.id, p.display_name, p.role, p.identity_key)
    keys: list[str] = []
    if raw.startswith("hub:"):
        keys.append(raw)
    elif raw.startswith("local:"):
        keys.append("local:" + clean_display_name(raw[len("local:") :]).casefold())
    else:
        # JupyterHub lower-cases user names by default (Authenticator.normalize_username).
        keys.extend(dict.fromkeys((f"hub:{raw}", f"hub:{raw.lower()}")))
        try:
            keys.append("local:" + clean_display_name(raw).casefold())
        except InvalidInput:
            pass
    with store.read() as conn:
        row = conn.execute(select(*cols).where(p.id == raw)).first()
        if row is not None:
            return Person(row.id, row.display_name, row.role)
        rows = conn.execute(
            select(*cols).where(p.identity_key.in_(keys)).order_by(p.identity_key)
        ).all()
    if not rows:
        raise _not_found(raw)
    if len(rows) > 1:
        choices = "; ".join(f"{r.identity_key} (id {r.id})" for r in rows)
        raise InvalidInput(
            "person",
            f"{raw!r} matches {len(rows)} people: {choices}. Give the id, or hub:<user> or "
            "local:<name>, instead.",
        )
    return Person(rows[0].id, rows[0].display_name, rows[0].role)
