"""Check-in and check-out answers, and commitments followed through at the next session."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, insert, select, update

from cop_widgets.content.session_items import Item, ItemSet
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import utc_now
from cop_widgets.store.schema import (
    attendance,
    commitment,
    cop_session,
    session_answered,
    session_response,
)
from cop_widgets.text import check_answer

TRIED = ("yes", "partly", "no")
log = logging.getLogger(__name__)
_shuffle = secrets.SystemRandom().shuffle  # from the OS: no seed to guess
# An item and one person's answer to it: a number (scale) or a text.
_Answer = tuple[Item, int | None, str | None]


@dataclass(frozen=True)
class Commitment:
    """An open commitment of a person's, with the topic of the session it was made at."""

    id: str
    session_id: str
    text: str
    created_at: str
    session_topic: str


def submit_answers(
    store: Store, who: Person, session_id: str, items: ItemSet, answers: Mapping[str, object]
) -> None:
    """Store one person's answers to an item set once; anonymous ones without identity."""
    rows: list[_Answer] = []
    commitments: list[str] = []
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
    identified = [(item, n, t) for item, n, t in rows if not item.anonymous]
    anonymous = [(item, n, t) for item, n, t in rows if item.anonymous]
    # 1. The identified part in one transaction: "has answered" (so nobody answers twice), the
    #    private items and the commitments.
    with store.write() as conn:
        session = conn.execute(
            select(cop_session.c.status, cop_session.c.starts_at).where(
                cop_session.c.id == session_id
            )
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
        day = _session_day(session.starts_at)
        conn.execute(
            insert(session_answered).values(
                session_id=session_id, person_id=who.id, item_set=items.id
            )
        )
        private_ids, commitment_ids = [], []
        for item, number, answer_text in identified:
            private_ids.append(str(uuid.uuid4()))
            conn.execute(
                insert(session_response).values(
                    id=private_ids[-1],
                    session_id=session_id,
                    item_set=items.id,
                    item_id=item.id,
                    person_id=who.id,
                    value_int=number,
                    value_text=answer_text,
                    answered_on=day,
                )
            )
        for text in commitments:
            commitment_ids.append(str(uuid.uuid4()))
            conn.execute(
                insert(commitment).values(
                    id=commitment_ids[-1],
                    person_id=who.id,
                    session_id=session_id,
                    text=text,
                    created_at=utc_now(),
                )
            )
    if not anonymous:
        return
    # 2. The anonymous answers in a transaction of their own, mixed into the session's pool.
    try:
        _add_to_anonymous_pool(store, session_id, items.id, day, anonymous)
    except BaseException:
        # Not stored: take back step 1, so that the person can send again.
        try:
            with store.write() as conn:
                conn.execute(delete(session_answered).where(key))
                r = session_response.c
                conn.execute(
                    delete(session_response).where(
                        r.session_id == session_id, r.person_id == who.id, r.id.in_(private_ids)
                    )
                )
                conn.execute(delete(commitment).where(commitment.c.id.in_(commitment_ids)))
        except Exception:  # pragma: no cover - the store failed twice in a row
            log.exception("answers of a check-in/out could not be taken back")
        raise


def _session_day(starts_at: str) -> str:
    """The only time an answer keeps: the session's date (UTC), never when it was sent."""
    return str(starts_at)[:10]


def _add_to_anonymous_pool(
    store: Store, session_id: str, item_set: str, day: str, rows: list[_Answer]
) -> None:
    """Add anonymous answers so that nothing in the store says which ones came last.

    In one transaction (apart from the identified rows) every anonymous answer of the session
    is read, deleted (secure_delete zeroes the freed bytes) and written again with the new
    ones, in a random order and under fresh random keys: where a row lands in the file, and
    its key, follow that shuffle, not the order in which people answered. The table has no
    rowid (schema.session_response); the only time kept is the session's date.
    """
    r = session_response.c
    pooled = and_(r.session_id == session_id, r.person_id.is_(None))
    with store.write() as conn:
        # One pool writer per session (PostgreSQL; SQLite's BEGIN IMMEDIATE already is).
        conn.execute(
            select(cop_session.c.id).where(cop_session.c.id == session_id).with_for_update()
        )
        pool = [
            (row.item_set, row.item_id, row.value_int, row.value_text)
            for row in conn.execute(
                select(r.item_set, r.item_id, r.value_int, r.value_text).where(pooled)
            )
        ]
        pool += [(item_set, item.id, number, text) for item, number, text in rows]
        _shuffle(pool)
        conn.execute(delete(session_response).where(pooled))
        conn.execute(
            insert(session_response),
            [
                {
                    "id": str(uuid.uuid4()),
                    "session_id": session_id,
                    "item_set": set_id,
                    "item_id": item_id,
                    "person_id": None,
                    "value_int": number,
                    "value_text": text,
                    "answered_on": day,
                }
                for set_id, item_id, number, text in pool
            ],
        )


# Built once (bind parameters): every check-in (a room's join page) asks them.
_ANSWERED = select(session_answered.c.person_id).where(
    session_answered.c.session_id == bindparam("session"),
    session_answered.c.person_id == bindparam("person"),
    session_answered.c.item_set == bindparam("item_set"),
)
_OPEN_COMMITMENTS = (
    select(
        commitment.c.id,
        commitment.c.session_id,
        commitment.c.text,
        commitment.c.created_at,
        cop_session.c.topic,
    )
    .join(cop_session, cop_session.c.id == commitment.c.session_id)
    .where(
        commitment.c.person_id == bindparam("person"),
        commitment.c.session_id != bindparam("session"),
        commitment.c.followed_up_at.is_(None),
    )
    .order_by(commitment.c.created_at)
)


def has_answered(store: Store, who: Person, session_id: str, item_set: str) -> bool:
    """Whether `who` already sent that item set of the session (they send each once)."""
    params = {"session": session_id, "person": who.id, "item_set": item_set}
    with store.read() as conn:
        return conn.execute(_ANSWERED, params).first() is not None


def open_commitments(store: Store, who: Person, before_session_id: str) -> list[Commitment]:
    """The person's commitments from earlier sessions that have not been followed up yet."""
    params = {"person": who.id, "session": before_session_id}
    with store.read() as conn:
        rows = conn.execute(_OPEN_COMMITMENTS, params).all()
    return [Commitment(*r) for r in rows]


def follow_up(
    store: Store,
    who: Person,
    commitment_id: str,
    session_id: str | None,
    tried: str,
    what_happened: str,
) -> None:
    """Record whether `who` tried their commitment and what happened: at a later session's
    check-in (session_id) or on their own page (None). Only the author's own, once."""
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


@dataclass(frozen=True)
class CommitmentRecord:
    """One of a person's commitments with its follow-up (tried is None while it is open)."""

    id: str
    session_id: str
    text: str
    created_at: str
    session_topic: str
    session_starts_at: str
    tried: str | None
    followup_text: str | None
    followed_up_at: str | None

    @property
    def open(self) -> bool:
        """Not followed up yet."""
        return self.followed_up_at is None


def my_commitments(store: Store, who: Person, limit: int = 40) -> list[CommitmentRecord]:
    """`who`'s own commitments (nobody else's): the open ones first, oldest first, then the
    followed-up ones, most recent follow-up first; at most `limit` (filtered in SQL)."""
    c = commitment.c
    with store.read() as conn:
        rows = conn.execute(
            select(
                c.id, c.session_id, c.text, c.created_at, cop_session.c.topic,
                cop_session.c.starts_at, c.tried, c.followup_text, c.followed_up_at,
            )
            .join(cop_session, cop_session.c.id == c.session_id)
            .where(c.person_id == who.id)
            .order_by(
                c.followed_up_at.is_not(None), c.followed_up_at.desc(), c.created_at, c.id
            )
            .limit(limit)
        ).all()  # fmt: skip
    return [CommitmentRecord(*r) for r in rows]
