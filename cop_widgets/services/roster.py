"""The roster: people's roles (practitioner, facilitator, supervisor, coordinator) and which
supervisor supervises whom. Role changes are audited."""

from __future__ import annotations

from sqlalchemy import select

from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.add_once import add_once
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.schema import (
    ROLES,
    person,
    person_role,
    supervision,
)


# -- roster -------------------------------------------------------------------------------------
def roles_of(store: Store, person_id: str) -> set[str]:
    """The person's global roles, and practitioner (everyone is one)."""
    with store.read() as conn:
        return policy.global_roles(conn, person_id)


def highest_role(store: Store, person_id: str) -> str:
    """The role shown beside a person's name: the most responsible one they hold."""
    held = roles_of(store, person_id)
    return next(r for r in reversed(ROLES) if r in held)


def grant_role(store: Store, person_id: str, role: str) -> None:
    """Give a person a global role (audited; once is enough). No policy check: for operators
    (`cop people`) and the rehearsal, not for apps."""
    if role not in ROLES:
        raise InvalidInput("role", f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    with store.write() as conn:
        if conn.execute(select(person.c.id).where(person.c.id == person_id)).first() is None:
            raise RecordNotFound("person", person_id)
        add_once(
            store,
            conn,
            person_role,
            {"person_id": person_id, "role": role},
            {},
            actor_id=None,
            action="role_granted",
            target_kind="person",
            target_id=person_id,
        )


def assign_supervisee(store: Store, supervisor_id: str, supervisee_id: str) -> None:
    """Make `supervisor_id` a supervisor of `supervisee_id` (granting the supervisor role if
    needed). For operators (`cop people`), not for apps."""
    if supervisor_id == supervisee_id:
        raise InvalidInput("supervisee", "A person cannot supervise themselves.")
    grant_role(store, supervisor_id, "supervisor")
    with store.write() as conn:
        add_once(
            store,
            conn,
            supervision,
            {"supervisor_id": supervisor_id, "supervisee_id": supervisee_id},
            {},
            actor_id=None,
            action="supervisee_assigned",
            target_kind="person",
            target_id=supervisee_id,
        )


def supervisees(store: Store, supervisor: Person) -> list[tuple[str, str]]:
    """The supervisor's own supervisees: (id, name), by name."""
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(person.c.id, person.c.display_name)
                .join(supervision, supervision.c.supervisee_id == person.c.id)
                .where(supervision.c.supervisor_id == supervisor.id)
                .order_by(person.c.display_name)
            ).all()
        ]


def require_supervisor(store: Store, who: Person) -> None:
    """Refuse (InvalidInput, audited as authz_fail) anyone who is not a supervisor: the
    review app asks before reading any supervisee's data."""
    if "supervisor" not in roles_of(store, who.id):
        with store.write() as conn:
            store.audit(
                conn,
                actor_id=who.id,
                action="review_app_open",
                target_kind="person",
                target_id=who.id,
                outcome="authz_fail",
            )
        raise InvalidInput(
            "role",
            "Not authorised: the review app is for supervisors. Ask your "
            "coordinator to add you to the roster.",
        )
