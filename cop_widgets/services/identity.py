"""Who is using this kernel: the Hub's user when there is one, else a typed display name.

Identity never comes from a query string, a client header or a widget value other than the
display name typed in standalone mode, which is only for a trusted room (see README).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import insert, select

from ..errors import InvalidInput
from ..store import Store
from ..store.db import utc_now
from ..store.schema import person
from ..text import clean_display_name


@dataclass(frozen=True)
class Person:
    id: str
    display_name: str
    role: str


def hub_user(environ: Mapping[str, str] | None = None) -> str | None:
    """The JupyterHub user name this kernel was started for, if any."""
    env = os.environ if environ is None else environ
    return (env.get("JUPYTERHUB_USER") or "").strip() or None


def sign_in(store: Store, display_name: str | None = None, environ=None) -> Person:
    """Find or create the person behind this kernel.

    Under JupyterHub the Hub's user name decides and display_name is ignored. Standalone,
    the typed display name is the identity (case and spacing do not matter).
    """
    user = hub_user(environ)
    if user is not None:
        key, shown = f"hub:{user}", clean_display_name(user)
    else:
        if display_name is None:
            raise InvalidInput("display name", "Enter a display name (a first name or nickname).")
        shown = clean_display_name(display_name)
        key = f"local:{shown.casefold()}"
    with store.write() as conn:
        row = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role).where(
                person.c.identity_key == key
            )
        ).first()
        if row is not None:
            return Person(*row)
        new = Person(id=str(uuid.uuid4()), display_name=shown, role="practitioner")
        conn.execute(
            insert(person).values(
                id=new.id,
                identity_key=key,
                display_name=new.display_name,
                role=new.role,
                created_at=utc_now(),
            )
        )
        store.audit(
            conn, actor_id=new.id, action="person_created", target_kind="person", target_id=new.id
        )
        return new
