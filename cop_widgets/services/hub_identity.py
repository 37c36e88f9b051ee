"""The person behind a JupyterHub user, with roles from their Hub groups (`cop serve --hub`).

The Hub authenticates; this module only maps what it says (user name and groups) onto the
store. Hub groups are the truth for a Hub user's roles: each sign-in grants the roles their
groups give and takes back the ones they no longer give (`person_role`, as
supervision.grant_role records them), and `person.role` shows the most responsible one. A user
in none of the mapped groups is refused. Every sign-in, refusal, grant and revocation is an
audit event (ids only).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cop_widgets.errors import HubAccessRefused, InvalidInput
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import ROLES, person, person_role
from cop_widgets.text import clean_display_name, name_skeleton

GROUP_ROLES_ENV = "COP_HUB_GROUP_ROLES"
DEFAULT_GROUP_ROLES: dict[str, str] = {
    "cop-coordinators": "coordinator",
    "cop-facilitators": "facilitator",
    "cop-supervisors": "supervisor",
    "cop-practitioners": "practitioner",
}
# practitioner < facilitator < supervisor < coordinator (the order of ROLES)
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def group_roles_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Which Hub group gives which role: COP_HUB_GROUP_ROLES as JSON (`{"group": "role"}`) or
    `group=role,group=role`; unset or empty, the cop-* defaults."""
    env = os.environ if environ is None else environ
    raw = (env.get(GROUP_ROLES_ENV) or "").strip()
    if not raw:
        return dict(DEFAULT_GROUP_ROLES)
    if raw.startswith("{"):
        try:
            pairs = json.loads(raw)
        except ValueError:
            pairs = None
        if not isinstance(pairs, dict):
            raise _bad_mapping(raw, "it is not a JSON object of group names to roles")
        items = list(pairs.items())
    else:
        items = []
        for part in raw.split(","):
            if not part.strip():
                continue
            group, sep, role = part.partition("=")
            if not sep:
                raise _bad_mapping(raw, f"{part.strip()!r} has no '='")
            items.append((group, role))
    mapping: dict[str, str] = {}
    for group, role in items:
        if not isinstance(group, str) or not isinstance(role, str) or not group.strip():
            raise _bad_mapping(raw, f"{group!r}: {role!r} is not a group name and a role")
        if role.strip() not in ROLES:
            raise _bad_mapping(raw, f"{role!r} is not a role ({', '.join(ROLES)})")
        mapping[group.strip()] = role.strip()
    if not mapping:
        raise _bad_mapping(raw, "it maps no group")
    return mapping


def _bad_mapping(raw: str, why: str) -> InvalidInput:
    return InvalidInput(
        GROUP_ROLES_ENV,
        f"{GROUP_ROLES_ENV} is {raw!r}: {why}. Write it as "
        '\'{"cop-supervisors": "supervisor"}\' or "cop-supervisors=supervisor,staff=practitioner".',
    )


def roles_for_groups(groups: Iterable[str], group_roles: Mapping[str, str]) -> set[str]:
    """The roles a user's Hub groups give (empty: no access)."""
    return {group_roles[g] for g in groups if isinstance(g, str) and g in group_roles}


def highest(roles: Iterable[str]) -> str:
    """The highest of these roles (in the order of ROLES)."""
    return max(roles, key=_RANK.__getitem__)


def hub_person(
    store: Store,
    user_name: str,
    groups: Iterable[str],
    group_roles: Mapping[str, str] | None = None,
    *,
    signing_in: bool = True,
) -> Person:
    """Find or create the person `hub:<user_name>` and set their roles from their Hub groups.

    Raises HubAccessRefused (after auditing the refusal) when no group gives a role. With
    signing_in=False (the server re-checking a signed-in user) no sign-in event is written;
    role changes and refusals always are.
    """
    if not isinstance(user_name, str) or not user_name.strip():
        raise InvalidInput("user", "The Hub sent no user name.")
    mapping = group_roles_from_env() if group_roles is None else group_roles
    roles = roles_for_groups(groups, mapping)
    key = f"hub:{user_name}"
    shown = clean_display_name(user_name)
    for attempt in range(2):
        try:
            return _sync(store, key, shown, roles, signing_in)
        except IntegrityError:
            # Another server added the same Hub user at the same moment (PostgreSQL): theirs
            # wins, read it back.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _unchanged(store: Store, key: str, roles: set[str]) -> Person | None:
    """The person, when the store already holds them with exactly these roles (a server's
    re-check of a signed-in user: a read, not a turn at the write lock)."""
    if not roles:
        return None
    with store.read() as conn:
        row = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role).where(
                person.c.identity_key == key
            )
        ).first()
        if row is None or row.role != highest(roles):
            return None
        held = set(
            conn.execute(select(person_role.c.role).where(person_role.c.person_id == row.id))
            .scalars()
            .all()
        )
    return (
        Person(id=row.id, display_name=row.display_name, role=row.role) if held == roles else None
    )


def _sync(store: Store, key: str, shown: str, roles: set[str], signing_in: bool) -> Person:
    if not signing_in and (same := _unchanged(store, key, roles)) is not None:
        return same
    refused = False
    with store.write() as conn:
        row = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role).where(
                person.c.identity_key == key
            )
        ).first()
        if not roles:
            refused = True
            if row is not None:
                _set_roles(store, conn, row.id, set())
            store.audit(
                conn,
                actor_id=row.id if row else None,
                action="sign_in_refused",
                target_kind="person",
                target_id=row.id if row else None,
                outcome="refused",
            )
        else:
            top = highest(roles)
            if row is None:
                found = Person(id=str(uuid.uuid4()), display_name=shown, role=top)
                conn.execute(
                    insert(person).values(
                        id=found.id,
                        identity_key=key,
                        display_name=found.display_name,
                        name_skeleton=name_skeleton(found.display_name),
                        role=top,
                        created_at=utc_now(),
                    )
                )
                store.audit(
                    conn,
                    actor_id=found.id,
                    action="person_created",
                    target_kind="person",
                    target_id=found.id,
                )
            else:
                found = Person(id=row.id, display_name=row.display_name, role=top)
                if row.role != top:
                    conn.execute(update(person).where(person.c.id == row.id).values(role=top))
            _set_roles(store, conn, found.id, roles)
            if signing_in:
                store.audit(
                    conn,
                    actor_id=found.id,
                    action="signed_in_hub",
                    target_kind="person",
                    target_id=found.id,
                )
    if refused:  # raised after the commit, so the refusal stays in the audit log
        raise HubAccessRefused()
    return found


def _set_roles(store: Store, conn: Connection, person_id: str, roles: set[str]) -> None:
    held = set(
        conn.execute(select(person_role.c.role).where(person_role.c.person_id == person_id))
        .scalars()
        .all()
    )
    for role in sorted(roles - held):
        conn.execute(insert(person_role).values(person_id=person_id, role=role))
        store.audit(
            conn, actor_id=None, action="role_granted", target_kind="person", target_id=person_id
        )
    for role in sorted(held - roles):
        conn.execute(
            delete(person_role).where(
                and_(person_role.c.person_id == person_id, person_role.c.role == role)
            )
        )
        store.audit(
            conn, actor_id=None, action="role_revoked", target_kind="person", target_id=person_id
        )
