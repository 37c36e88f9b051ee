"""Who is using this kernel: always the person the server authenticated, never a typed name.

The server (Voilà with the store-backed or the Hub's identity provider, see serving/auth.py)
signs an assertion for the signed-in person and hands it to the kernel with the page request
(the `X-Cop-Identity` header it sets itself, as `HTTP_X_COP_IDENTITY`). The kernel checks the
signature with a key derived from the store's secret and, for a standalone sign-in, that the
browser's session is still open. A classic per-user JupyterHub server (`JUPYTERHUB_USER` in the
kernel's environment) is also accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select

from cop_widgets.errors import CopWidgetsError
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import person
from cop_widgets.text import clean_display_name, name_skeleton

IDENTITY_HEADER = "X-Cop-Identity"
IDENTITY_ENV = "HTTP_X_COP_IDENTITY"
# The address the person's browser used for the page (scheme://host[:port]), set by the server:
# links an app makes for others (sign-in links, join links) must work from the room.
SITE_HEADER = "X-Cop-Site"
SITE_ENV = "HTTP_X_COP_SITE"
# A page request's assertion is used when the kernel runs the app, seconds after the request;
# an older one is refused (a copied value is not a lasting key).
ASSERTION_MAX_AGE_S = 600


@dataclass(frozen=True)
class Person:
    """A person as services see them: their id, the name they are shown by, their main role."""

    id: str
    display_name: str
    role: str


class NotSignedIn(CopWidgetsError):
    """Nobody is signed in here, or the sign-in has ended."""

    def __init__(self) -> None:
        super().__init__(
            "You are not signed in, or your sign-in has ended. Reload the page to sign in again."
        )


def hub_user(environ: Mapping[str, str] | None = None) -> str | None:
    """The JupyterHub user name a per-user Hub server started this kernel for, if any."""
    env = os.environ if environ is None else environ
    return (env.get("JUPYTERHUB_USER") or "").strip() or None


# -- the server's assertion ----------------------------------------------------------------------
def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def make_assertion(key: bytes, person_id: str, session_id: str | None, now: float) -> str:
    """What the server hands a kernel: person, web session (or "-") and time, signed."""
    body = f"v1.{person_id}.{session_id or '-'}.{int(now)}"
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def read_assertion(key: bytes, value: str, now: float) -> tuple[str, str | None] | None:
    """(person id, web session id or None) from a valid, fresh assertion; otherwise None."""
    parts = (value or "").split(".")
    if len(parts) != 5 or parts[0] != "v1":
        return None
    body, signature = ".".join(parts[:4]), parts[4]
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        issued = int(parts[3])
        uuid.UUID(parts[1])
    except ValueError:
        return None
    if not -60 <= now - issued <= ASSERTION_MAX_AGE_S:
        return None
    return parts[1], (None if parts[2] == "-" else parts[2])


def page_site(environ: Mapping[str, str] | None = None, default: str = "") -> str:
    """scheme://host[:port] of the page this kernel serves, as the server saw the request."""
    env = os.environ if environ is None else environ
    site = (env.get(SITE_ENV) or "").strip()
    return site if site.startswith(("http://", "https://")) else default


# built once: every page's identity check runs it
_PERSON_BY_ID = select(person.c.id, person.c.display_name, person.c.role).where(
    person.c.id == bindparam("person")
)


def current_person(store: Store, environ: Mapping[str, str] | None = None) -> Person:
    """The person this kernel serves, as the server authenticated them; NotSignedIn otherwise.
    Nothing a browser can type or send decides it."""
    from cop_widgets.services.secret import server_secret_key

    env = os.environ if environ is None else environ
    user = hub_user(env)
    if user is not None:
        return _hub_person(store, user)
    claimed = read_assertion(
        server_secret_key(store, "kernel-identity"), env.get(IDENTITY_ENV, ""), time.time()
    )
    if claimed is None:
        raise NotSignedIn()
    person_id, session_id = claimed
    if session_id is not None:
        from cop_widgets.services.accounts import session_is_open

        if not session_is_open(store, session_id, person_id):
            raise NotSignedIn()
    with store.read() as conn:
        row = conn.execute(_PERSON_BY_ID, {"person": person_id}).first()
    if row is None:
        raise NotSignedIn()
    return Person(*row)


def _by_key(conn: Connection, key: str) -> Person | None:
    row = conn.execute(
        select(person.c.id, person.c.display_name, person.c.role).where(
            person.c.identity_key == key
        )
    ).first()
    return Person(*row) if row is not None else None


def _hub_person(store: Store, user: str) -> Person:
    key = f"hub:{user}"
    with store.read() as conn:
        found = _by_key(conn, key)
    return found or _add(store, key, clean_display_name(user))


# -- operators' rosters and scripts (never a browser) ---------------------------------------------
def find_or_add_person(store: Store, display_name: str) -> Person:
    """The standalone person with this display name (or the Hub user, for "hub:<user>"), added
    if missing. For the operator's commands (`cop roster`), demo content and tests: a name
    typed into an app is never an identity."""
    if display_name.startswith("hub:") and display_name[4:].strip():
        return _hub_person(store, display_name[4:].strip())
    shown = clean_display_name(display_name)
    key = f"local:{shown.casefold()}"
    with store.read() as conn:
        found = _by_key(conn, key)
    return found or _add(store, key, shown)


def _add(store: Store, key: str, shown: str) -> Person:
    with store.write() as conn:
        found = _by_key(conn, key)
        if found is not None:
            return found
        new = Person(id=str(uuid.uuid4()), display_name=shown, role="practitioner")
        conn.execute(
            insert(person).values(
                id=new.id,
                identity_key=key,
                display_name=new.display_name,
                name_skeleton=name_skeleton(shown),
                role=new.role,
                created_at=utc_now(),
            )
        )
        store.audit(
            conn, actor_id=new.id, action="person_created", target_kind="person", target_id=new.id
        )
        return new
