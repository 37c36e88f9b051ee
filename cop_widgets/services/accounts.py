"""Accounts for standalone mode: people, personal sign-in links, passphrases, signed-in browsers.

Who may sign in, and how:
- a coordinator (or the operator, `cop people`) adds a person and gets a personal sign-in link,
  shown once, stored as a hash, valid for LINK_DAYS and for one use; issuing a new one revokes
  the old;
- a person chooses a passphrase (Argon2-hashed) and signs in later with name + passphrase;
- a newcomer holding a session's valid join code creates their own account (name + passphrase).

A successful sign-in opens a web session: a random token in a signed, HttpOnly cookie, stored
here only as a hash, ending after `COP_SIGN_IN_HOURS` (default 10: a working day) or at sign-out.
Failed tries are counted per name and per client address; after MAX_FAILURES within
FAILURE_WINDOW further tries wait. Every sign-in, sign-out, failure, link issued and link revoked
is an audit event (ids only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from cop_widgets.errors import CopWidgetsError, InvalidInput
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.services.secret import server_secret_key
from cop_widgets.store import Store
from cop_widgets.store.db import AnyRow, utc_now
from cop_widgets.store.schema import (
    ROLES,
    passphrase,
    person,
    person_role,
    sign_in_failure,
    sign_in_link,
    web_session,
)
from cop_widgets.text import clean_display_name, name_skeleton

if TYPE_CHECKING:  # argon2 is imported by the server only, never in a kernel (see _hasher)
    from argon2 import PasswordHasher

LINK_DAYS = 7
FAILURE_WINDOW = timedelta(minutes=10)
MAX_FAILURES = 10
MIN_PASSPHRASE = 8
MAX_PASSPHRASE = 200
# Where `cop serve` listens by default: links made outside a page (the operator's commands)
DEFAULT_URL = "http://127.0.0.1:8866"


def sign_in_url(base: str, token: str) -> str:
    """The personal sign-in link a person opens (the server shows a button; it works once)."""
    return f"{base.rstrip('/')}/login?link={token}"


class SignInRefused(CopWidgetsError):
    """A sign-in that did not succeed; the message is safe to show (it never says which of
    name or passphrase was wrong)."""


class TooManyTries(SignInRefused):
    """Sign-in refused for a while: too many failed tries from this name or address."""

    def __init__(self, wait_seconds: int):
        self.wait_seconds = max(1, wait_seconds)
        minutes = -(-self.wait_seconds // 60)
        super().__init__(
            f"Too many tries. Wait {minutes} minute{'s' if minutes != 1 else ''} and try again, "
            "or ask your coordinator for a new sign-in link."
        )


@dataclass(frozen=True)
class SignedIn:
    """A browser's new web session: `token` goes into its cookie and nowhere else."""

    person: Person
    session_id: str
    token: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


# -- people ------------------------------------------------------------------------------------
def _person(row: AnyRow) -> Person:
    return Person(row.id, row.display_name, row.role)


def add_person(
    store: Store, name: str, role: str = "practitioner", by: str | None = None
) -> Person:
    """Add a person who can then be given a sign-in link. A name that is taken, or that looks
    the same as one that is (other letters, accents, invisible characters), is refused."""
    if role not in ROLES:
        raise InvalidInput("role", f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    shown = clean_display_name(name)
    with store.write() as conn:
        new = _insert_person(store, conn, shown, by)
        if role != "practitioner":
            conn.execute(insert(person_role).values(person_id=new.id, role=role))
            store.audit(
                conn, actor_id=by, action="role_granted", target_kind="person", target_id=new.id
            )
        return new


def _insert_person(store: Store, conn: Connection, shown: str, by: str | None) -> Person:
    skeleton = name_skeleton(shown)
    clash = conn.execute(
        select(person.c.display_name).where(
            (person.c.name_skeleton == skeleton)
            | (person.c.identity_key == f"local:{shown.casefold()}")
        )
    ).first()
    if clash is not None or not skeleton:
        raise InvalidInput(
            "name",
            f"The name “{shown}” is taken or looks the same as someone else's. Add a surname "
            "initial or a team name (for example “Ana R.” or “Ana, Northside”).",
        )
    new = Person(id=str(uuid.uuid4()), display_name=shown, role="practitioner")
    conn.execute(
        insert(person).values(
            id=new.id,
            identity_key=f"local:{shown.casefold()}",
            display_name=shown,
            name_skeleton=skeleton,
            role=new.role,
            created_at=utc_now(),
        )
    )
    store.audit(conn, actor_id=by, action="person_created", target_kind="person", target_id=new.id)
    return new


def can_sign_in(store: Store, person_id: str) -> bool:
    """Whether the person has a passphrase or an unused, unexpired sign-in link."""
    now = _iso(_now())
    with store.read() as conn:
        has_pass = conn.execute(
            select(passphrase.c.person_id).where(passphrase.c.person_id == person_id)
        ).first()
        live_link = conn.execute(
            select(sign_in_link.c.id).where(
                sign_in_link.c.person_id == person_id,
                sign_in_link.c.used_at.is_(None),
                sign_in_link.c.revoked_at.is_(None),
                sign_in_link.c.expires_at > now,
            )
        ).first()
    return has_pass is not None or live_link is not None


def has_passphrase(store: Store, person_id: str) -> bool:
    """Whether the person has set a passphrase (else they sign in with a link)."""
    with store.read() as conn:
        return (
            conn.execute(
                select(passphrase.c.person_id).where(passphrase.c.person_id == person_id)
            ).first()
            is not None
        )


# -- personal sign-in links ---------------------------------------------------------------------
def issue_link(store: Store, person_id: str, by: str | None = None, days: int = LINK_DAYS) -> str:
    """A new one-time sign-in token for the person (put it in `/login?link=`); any earlier
    unused link of theirs stops working."""
    token = secrets.token_urlsafe(32)
    now = _now()
    with store.write() as conn:
        if conn.execute(select(person.c.id).where(person.c.id == person_id)).first() is None:
            raise InvalidInput("person", f"No person with id {person_id}; add them first.")
        old = conn.execute(
            update(sign_in_link)
            .where(
                sign_in_link.c.person_id == person_id,
                sign_in_link.c.used_at.is_(None),
                sign_in_link.c.revoked_at.is_(None),
            )
            .values(revoked_at=_iso(now))
        ).rowcount
        if old:
            store.audit(
                conn, actor_id=by, action="link_revoked", target_kind="person", target_id=person_id
            )
        conn.execute(
            insert(sign_in_link).values(
                id=str(uuid.uuid4()),
                person_id=person_id,
                token_hash=_hash(token),
                created_at=_iso(now),
                expires_at=_iso(now + timedelta(days=days)),
                created_by=by,
            )
        )
        store.audit(
            conn, actor_id=by, action="link_issued", target_kind="person", target_id=person_id
        )
    return token


_LINK_REFUSED = (
    "This sign-in link does not work: it was already used, replaced by a newer one, or has "
    "expired. Sign in with your name and passphrase, or ask your coordinator for a new link."
)


def link_holder(store: Store, token: str) -> Person:
    """The person a still-usable link is for (shown before it is used); nothing changes."""
    with store.read() as conn:
        row = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role)
            .select_from(sign_in_link.join(person, person.c.id == sign_in_link.c.person_id))
            .where(*_usable_link(token))
        ).first()
    if row is None:
        raise SignInRefused(_LINK_REFUSED)
    return _person(row)


def _usable_link(token: str) -> tuple[ColumnElement[bool], ...]:
    return (
        sign_in_link.c.token_hash == _hash(token or ""),
        sign_in_link.c.used_at.is_(None),
        sign_in_link.c.revoked_at.is_(None),
        sign_in_link.c.expires_at > _iso(_now()),
    )


def use_link(store: Store, token: str, client: str, hours: float) -> SignedIn:
    """Sign in with a personal link; the link is used up (a second use is refused, the first
    sign-in stays valid)."""
    keys = [_failure_key(store, "address", client)]
    check_not_throttled(store, keys)
    with store.write() as conn:
        row = conn.execute(
            select(sign_in_link.c.id, sign_in_link.c.person_id).where(*_usable_link(token))
        ).first()
        if row is not None:
            conn.execute(
                update(sign_in_link).where(sign_in_link.c.id == row.id).values(used_at=_iso(_now()))
            )
            return _open_session(store, conn, row.person_id, "link", hours)
    record_failure(store, keys, action="sign_in_failed")
    raise SignInRefused(_LINK_REFUSED)


# -- passphrases --------------------------------------------------------------------------------
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # imported by the server only, never in a kernel

    return PasswordHasher()


def check_passphrase_rules(phrase: str, repeat: str | None = None) -> str:
    """The passphrase if it is long enough, not too long and typed the same twice;
    else InvalidInput saying what to change."""
    if not isinstance(phrase, str) or len(phrase) < MIN_PASSPHRASE:
        raise InvalidInput(
            "passphrase",
            f"Choose a passphrase of at least {MIN_PASSPHRASE} characters (a few words you "
            "will remember are best).",
        )
    if len(phrase) > MAX_PASSPHRASE:
        raise InvalidInput("passphrase", f"Keep the passphrase under {MAX_PASSPHRASE} characters.")
    if repeat is not None and repeat != phrase:
        raise InvalidInput("passphrase", "The two passphrases differ; type the same one twice.")
    return phrase


def set_passphrase(store: Store, person_id: str, phrase: str, repeat: str | None = None) -> None:
    """Set (or replace) the person's passphrase, stored as an Argon2 hash; audited. No policy
    check here: the server calls it for the signed-in person only (serving/auth.py)."""
    hashed = _hasher().hash(check_passphrase_rules(phrase, repeat))
    with store.write() as conn:
        conn.execute(delete(passphrase).where(passphrase.c.person_id == person_id))
        conn.execute(insert(passphrase).values(person_id=person_id, hash=hashed, set_at=utc_now()))
        store.audit(
            conn,
            actor_id=person_id,
            action="passphrase_set",
            target_kind="person",
            target_id=person_id,
        )


_WRONG = (
    "That name and passphrase do not match an account. Check both (names are not case "
    "sensitive), or use the sign-in link your coordinator gave you."
)


def sign_in_with_passphrase(
    store: Store, name: str, phrase: str, client: str, hours: float
) -> SignedIn:
    """Sign in with name and passphrase; a wrong pair is refused with one message for both,
    counted against the name and the address (TooManyTries once throttled)."""
    try:
        shown = clean_display_name(name)
    except InvalidInput as exc:
        raise SignInRefused(str(exc)) from None
    keys = [_failure_key(store, "name", shown.casefold()), _failure_key(store, "address", client)]
    check_not_throttled(store, keys)
    with store.read() as conn:
        row = conn.execute(
            select(person.c.id, passphrase.c.hash)
            .select_from(person.join(passphrase, passphrase.c.person_id == person.c.id))
            .where(person.c.identity_key == f"local:{shown.casefold()}")
        ).first()
    if row is None or not _verify(row.hash, phrase):
        record_failure(store, keys, action="sign_in_failed", person_id=row.id if row else None)
        raise SignInRefused(_WRONG)
    with store.write() as conn:
        return _open_session(store, conn, row.id, "passphrase", hours)


def _verify(hashed: str, phrase: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(hashed, phrase or ""))
    except (VerificationError, InvalidHashError):
        return False


# -- self-registration through a session's join link -------------------------------------------
def register(
    store: Store, name: str, phrase: str, repeat: str, code: str, client: str, hours: float
) -> SignedIn:
    """A newcomer with a valid join code creates a participant account and is signed in.
    The code is checked before any write; a taken or look-alike name is refused."""
    from cop_widgets.services.sessions import (
        check_join_code,  # sessions imports identity; keep this one-way
    )

    keys = [_failure_key(store, "address", client)]
    check_not_throttled(store, keys)
    try:
        check_join_code(store, code, _now())
    except InvalidInput:
        record_failure(store, keys, action="join_code_failed")
        raise
    check_passphrase_rules(phrase, repeat)
    shown = clean_display_name(name)
    hashed = _hasher().hash(phrase)
    with store.write() as conn:
        new = _insert_person(store, conn, shown, None)
        conn.execute(insert(passphrase).values(person_id=new.id, hash=hashed, set_at=utc_now()))
        return _open_session(store, conn, new.id, "register", hours)


# -- web sessions -------------------------------------------------------------------------------
def _open_session(
    store: Store, conn: Connection, person_id: str, via: str, hours: float
) -> SignedIn:
    token = secrets.token_urlsafe(32)
    now = _now()
    expires = now + timedelta(hours=hours)
    session_id = str(uuid.uuid4())
    conn.execute(
        insert(web_session).values(
            id=session_id,
            person_id=person_id,
            token_hash=_hash(token),
            via=via,
            created_at=_iso(now),
            expires_at=_iso(expires),
        )
    )
    store.audit(
        conn, actor_id=person_id, action=f"signed_in_{via}", target_kind="person",
        target_id=person_id,
    )  # fmt: skip
    row = conn.execute(
        select(person.c.id, person.c.display_name, person.c.role).where(person.c.id == person_id)
    ).one()
    return SignedIn(_person(row), session_id, token, expires)


@dataclass(frozen=True)
class ActiveSession:
    """An open web session: whose it is, its id, and when it ends."""

    person: Person
    session_id: str
    expires_at: datetime


def session_for_token(store: Store, token: str) -> ActiveSession | None:
    """The person a browser's cookie token stands for, while that session is open."""
    if not token:
        return None
    with store.read() as conn:
        row = conn.execute(
            select(
                person.c.id,
                person.c.display_name,
                person.c.role,
                web_session.c.id.label("session_id"),
                web_session.c.expires_at,
            )
            .select_from(web_session.join(person, person.c.id == web_session.c.person_id))
            .where(
                web_session.c.token_hash == _hash(token),
                web_session.c.revoked_at.is_(None),
                web_session.c.expires_at > _iso(_now()),
            )
        ).first()
    if row is None:
        return None
    return ActiveSession(_person(row), row.session_id, datetime.fromisoformat(row.expires_at))


# built once: every page's identity check asks it
_OPEN_WEB_SESSION = select(web_session.c.id).where(
    web_session.c.id == bindparam("session"),
    web_session.c.person_id == bindparam("person"),
    web_session.c.revoked_at.is_(None),
    web_session.c.expires_at > bindparam("now"),
)


def session_is_open(store: Store, session_id: str, person_id: str) -> bool:
    """Whether that web session of the person is neither signed out nor expired."""
    params = {"session": session_id, "person": person_id, "now": _iso(_now())}
    with store.read() as conn:
        return conn.execute(_OPEN_WEB_SESSION, params).first() is not None


def sign_out(store: Store, token: str) -> None:
    """End the web session of this cookie token (audited); an unknown token changes nothing."""
    with store.write() as conn:
        row = conn.execute(
            select(web_session.c.id, web_session.c.person_id).where(
                web_session.c.token_hash == _hash(token or ""), web_session.c.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return
        conn.execute(
            update(web_session).where(web_session.c.id == row.id).values(revoked_at=utc_now())
        )
        store.audit(
            conn,
            actor_id=row.person_id,
            action="signed_out",
            target_kind="person",
            target_id=row.person_id,
        )


# -- failed tries -------------------------------------------------------------------------------
def _failure_key(store: Store, kind: str, value: str) -> str:
    # keyed with the server secret: the table never holds a name or an address in the clear
    key = server_secret_key(store, "failures")
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


# built once: every sign-in and every join asks it
_FAILURES_SINCE = (
    select(
        sign_in_failure.c.key_hash,
        func.count().label("n"),
        func.min(sign_in_failure.c.at).label("first"),
    )
    .where(
        sign_in_failure.c.key_hash.in_(bindparam("keys", expanding=True)),
        sign_in_failure.c.at > bindparam("since"),
    )
    .group_by(sign_in_failure.c.key_hash)
)


def check_not_throttled(store: Store, keys: list[str]) -> None:
    """Raise TooManyTries while any of `keys` (failure keys) has MAX_FAILURES failed tries in
    the last FAILURE_WINDOW."""
    since = _now() - FAILURE_WINDOW
    with store.read() as conn:
        rows = conn.execute(_FAILURES_SINCE, {"keys": keys, "since": _iso(since)}).all()
    waits = [
        (datetime.fromisoformat(r.first) + FAILURE_WINDOW - _now()).total_seconds()
        for r in rows
        if r.n >= MAX_FAILURES
    ]
    if waits:
        raise TooManyTries(int(max(waits)) + 1)


def record_failure(
    store: Store, keys: list[str], action: str, person_id: str | None = None
) -> None:
    """Count one failed try against each of `keys` (older ones are dropped) and audit it."""
    now = _now()
    with store.write() as conn:
        conn.execute(
            delete(sign_in_failure).where(sign_in_failure.c.at < _iso(now - FAILURE_WINDOW))
        )
        conn.execute(insert(sign_in_failure), [{"key_hash": k, "at": _iso(now)} for k in keys])
        store.audit(
            conn,
            actor_id=None,
            action=action,
            target_kind="person",
            target_id=person_id,
            outcome="refused",
        )


def record_join_code_failure(store: Store, person_id: str) -> None:
    """A wrong join code typed by a signed-in person (counted with their sign-in failures)."""
    record_failure(store, [_failure_key(store, "person", person_id)], "join_code_failed", person_id)


def check_join_tries(store: Store, person_id: str) -> None:
    """Raise TooManyTries while this person has too many wrong join codes just now."""
    check_not_throttled(store, [_failure_key(store, "person", person_id)])


def people_without_sign_in(store: Store) -> list[Person]:
    """People who can neither use a link nor a passphrase (for example those created by a
    typed name before accounts existed): a coordinator must issue them a link."""
    now = _iso(_now())
    live = select(sign_in_link.c.person_id).where(
        sign_in_link.c.used_at.is_(None),
        sign_in_link.c.revoked_at.is_(None),
        sign_in_link.c.expires_at > now,
    )
    with store.read() as conn:
        rows = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role)
            .where(
                person.c.identity_key.like("local:%"),
                person.c.id.not_in(select(passphrase.c.person_id)),
                person.c.id.not_in(live),
            )
            .order_by(person.c.display_name)
        ).all()
    return [_person(r) for r in rows]


def find_by_name(store: Store, name: str) -> Person | None:
    """The person with a standalone account of that name (any case), or None."""
    shown = clean_display_name(name)
    with store.read() as conn:
        row = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role).where(
                person.c.identity_key == f"local:{shown.casefold()}"
            )
        ).first()
    return _person(row) if row else None


def all_people(store: Store) -> list[Person]:
    """Everyone with a standalone account or a Hub identity, by name (the operator's list)."""
    with store.read() as conn:
        rows = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role)
            .where(person.c.identity_key.like("local:%") | person.c.identity_key.like("hub:%"))
            .order_by(person.c.display_name)
        ).all()
    return [_person(r) for r in rows]


# -- what a coordinator does in the community app --------------------------------------------------
def coordinator_adds_person(
    store: Store, actor: Person, name: str, role: str = "practitioner"
) -> tuple[Person, str]:
    """A coordinator adds a person; returns them and their first sign-in token (shown once)."""
    policy.require(store, actor, "people.manage", None)
    added = add_person(store, name, role, by=actor.id)
    return added, issue_link(store, added.id, by=actor.id)


def coordinator_reissues_link(store: Store, actor: Person, person_id: str) -> str:
    """A new sign-in token for someone who lost theirs (the old one stops working)."""
    policy.require(store, actor, "people.manage", person_id)
    return issue_link(store, person_id, by=actor.id)
