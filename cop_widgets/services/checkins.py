"""Check-in and check-out answers, and commitments followed through at the next session."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, insert, select, update

from ..errors import InvalidInput, RecordLocked, RecordNotFound
from ..session_items import ItemSet
from ..store import Store
from ..store.db import utc_now
from ..store.schema import (
    attendance,
    commitment,
    cop_session,
    session_answered,
    session_response,
)
from ..text import check_answer
from .identity import Person

TRIED = ("yes", "partly", "no")


@dataclass(frozen=True)
class Commitment:
    id: str
    session_id: str
    text: str
    created_at: str
    session_topic: str


def submit_answers(
    store: Store, who: Person, session_id: str, items: ItemSet, answers: Mapping[str, object]
) -> None:
    """Store one person's answers to an item set once; anonymous ones without identity."""
    rows, commitments = [], []
    for item in items.items:
        value = answers.get(item.id)
        if value in (None, ""):
            continue
        if item.kind == "scale":
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not (item.min <= value <= item.max)
            ):
                raise InvalidInput(item.id, f"“{item.prompt}”: choose {item.min} to {item.max}.")
            rows.append((item, value, None))
        else:
            text = check_answer(str(value), item.prompt, limit=item.max_chars).strip()
            if not text:
                continue
            if item.kind == "commitment":
                commitments.append(text)
            else:
                rows.append((item, None, text))
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    with store.write() as conn:
        session = conn.execute(
            select(cop_session.c.status).where(cop_session.c.id == session_id)
        ).first()
        if session is None:
            raise RecordNotFound("session", session_id)
        if session.status == "closed":
            raise RecordLocked(
                "session", session_id, "it has closed; your answers are still on screen"
            )
        joined = conn.execute(
            select(attendance.c.person_id).where(
                attendance.c.session_id == session_id, attendance.c.person_id == who.id
            )
        ).first()
        if joined is None:
            raise InvalidInput("session", "Join the session with its code first.")
        key = and_(
            session_answered.c.session_id == session_id,
            session_answered.c.person_id == who.id,
            session_answered.c.item_set == items.id,
        )
        if conn.execute(select(session_answered.c.person_id).where(key)).first() is not None:
            raise RecordLocked("answers", session_id, f"you already sent your {items.name}")
        conn.execute(
            insert(session_answered).values(
                session_id=session_id, person_id=who.id, item_set=items.id
            )
        )
        for item, number, text in rows:
            conn.execute(
                insert(session_response).values(
                    id=str(uuid.uuid4()),
                    session_id=session_id,
                    item_set=items.id,
                    item_id=item.id,
                    person_id=None if item.anonymous else who.id,
                    value_int=number,
                    value_text=text,
                    created_hour=hour,
                )
            )
        for text in commitments:
            conn.execute(
                insert(commitment).values(
                    id=str(uuid.uuid4()),
                    person_id=who.id,
                    session_id=session_id,
                    text=text,
                    created_at=utc_now(),
                )
            )


def has_answered(store: Store, who: Person, session_id: str, item_set: str) -> bool:
    with store.read() as conn:
        return (
            conn.execute(
                select(session_answered.c.person_id).where(
                    session_answered.c.session_id == session_id,
                    session_answered.c.person_id == who.id,
                    session_answered.c.item_set == item_set,
                )
            ).first()
            is not None
        )


def open_commitments(store: Store, who: Person, before_session_id: str) -> list[Commitment]:
    """The person's commitments from earlier sessions that have not been followed up yet."""
    with store.read() as conn:
        rows = conn.execute(
            select(
                commitment.c.id,
                commitment.c.session_id,
                commitment.c.text,
                commitment.c.created_at,
                cop_session.c.topic,
            )
            .join(cop_session, cop_session.c.id == commitment.c.session_id)
            .where(
                commitment.c.person_id == who.id,
                commitment.c.session_id != before_session_id,
                commitment.c.followed_up_at.is_(None),
            )
            .order_by(commitment.c.created_at)
        ).all()
    return [Commitment(*r) for r in rows]


def follow_up(
    store: Store, who: Person, commitment_id: str, session_id: str, tried: str, what_happened: str
) -> None:
    if tried not in TRIED:
        raise InvalidInput("tried", "Choose yes, partly or no.")
    text = check_answer(what_happened or "", "What happened", limit=2000).strip()
    with store.write() as conn:
        done = conn.execute(
            update(commitment)
            .where(
                commitment.c.id == commitment_id,
                commitment.c.person_id == who.id,
                commitment.c.followed_up_at.is_(None),
            )
            .values(
                tried=tried,
                followup_text=text,
                followup_session_id=session_id,
                followed_up_at=utc_now(),
            )
        ).rowcount
    if not done:
        raise RecordNotFound("commitment", commitment_id)


def scale_answers(store: Store, session_id: str, item_id: str) -> list[int]:
    with store.read() as conn:
        return sorted(
            conn.execute(
                select(session_response.c.value_int).where(
                    session_response.c.session_id == session_id,
                    session_response.c.item_id == item_id,
                    session_response.c.value_int.is_not(None),
                )
            ).scalars()
        )
