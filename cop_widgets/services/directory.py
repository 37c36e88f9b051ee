"""The member directory: what each member offers and wants to learn. Opt-in only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update

from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import member_profile, person
from cop_widgets.text import check_answer

MAX_CHARS = 1000


@dataclass(frozen=True)
class Profile:
    """What a member shows in the directory: whether they are listed, what they offer and want."""

    listed: bool = False
    offers: str = ""
    wants: str = ""


def my_profile(store: Store, who: Person) -> Profile:
    """`who`'s own directory entry (an empty, unlisted one if they never saved it)."""
    with store.read() as conn:
        row = conn.execute(
            select(member_profile.c.listed, member_profile.c.offers, member_profile.c.wants).where(
                member_profile.c.person_id == who.id
            )
        ).first()
    return Profile(bool(row.listed), row.offers, row.wants) if row else Profile()


def save_profile(store: Store, who: Person, listed: bool, offers: str, wants: str) -> Profile:
    """Save `who`'s own directory entry (only theirs: it is keyed by who.id); texts are
    checked like every answer."""
    saved = Profile(
        bool(listed),
        check_answer(offers or "", "What I offer", MAX_CHARS).strip(),
        check_answer(wants or "", "What I want to learn", MAX_CHARS).strip(),
    )
    with store.write() as conn:
        key = member_profile.c.person_id == who.id
        values = dict(
            listed=saved.listed, offers=saved.offers, wants=saved.wants, updated_at=utc_now()
        )
        if conn.execute(select(member_profile.c.person_id).where(key)).first() is None:
            conn.execute(insert(member_profile).values(person_id=who.id, **values))
        else:
            conn.execute(update(member_profile).where(key).values(**values))
        store.audit(
            conn,
            actor_id=who.id,
            action="directory_entry_saved",
            target_kind="person",
            target_id=who.id,
        )
    return saved


def listed_members(store: Store) -> list[tuple[str, str, str]]:
    """(display name, offers, wants) of members who opted in, by name."""
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(person.c.display_name, member_profile.c.offers, member_profile.c.wants)
                .join(member_profile, member_profile.c.person_id == person.c.id)
                .where(member_profile.c.listed.is_(True))
                .order_by(person.c.display_name)
            ).all()
        ]
