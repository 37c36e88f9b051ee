"""What the live room board may show: counts always, summaries only past the minimum group.

A summary of fewer than `min_group` answers could unmask someone in a small room, so it is
withheld; nothing here returns who gave which answer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select

from ..session_items import ItemSet
from ..store import Store
from ..store.schema import (
    attendance,
    person_role,
    session_answered,
    session_response,
    session_role,
)
from .identity import Person

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
STOP_WORDS = frozenset("a an and the of to in on for with it is was i my me we our".split())


@dataclass(frozen=True)
class ItemSummary:
    item_id: str
    prompt: str
    kind: str
    answers: int
    shown: bool  # False while below the minimum group
    values: tuple[int, ...] = ()  # scale answers, sorted (only when shown)
    words: tuple[tuple[str, int], ...] = ()  # most frequent words (only when shown)


@dataclass(frozen=True)
class BoardState:
    joined: int
    answered: dict[str, int]  # item set id -> people who sent it
    items: tuple[ItemSummary, ...]


def may_run_board(store: Store, who: Person, session_id: str) -> bool:
    with store.read() as conn:
        facilitates = conn.execute(
            select(session_role.c.person_id).where(
                session_role.c.session_id == session_id,
                session_role.c.role_id == "facilitator",
                session_role.c.person_id == who.id,
            )
        ).first()
        role = conn.execute(
            select(person_role.c.role).where(
                person_role.c.person_id == who.id,
                person_role.c.role.in_(("facilitator", "coordinator")),
            )
        ).first()
    return facilitates is not None or role is not None


def top_words(texts: list[str], limit: int = 12) -> list[tuple[str, int]]:
    counts = Counter(
        w.casefold() for t in texts for w in _WORD.findall(t) if w.casefold() not in STOP_WORDS
    )
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def board_state(store: Store, session_id: str, sets: list[ItemSet], min_group: int) -> BoardState:
    summaries = []
    with store.read() as conn:
        joined = conn.execute(
            select(func.count())
            .select_from(attendance)
            .where(attendance.c.session_id == session_id)
        ).scalar()
        answered = dict(
            conn.execute(
                select(session_answered.c.item_set, func.count())
                .where(session_answered.c.session_id == session_id)
                .group_by(session_answered.c.item_set)
            ).all()
        )
        for item_set in sets:
            for item in item_set.items:
                if item.private or item.kind == "commitment":
                    continue  # never summarised
                rows = conn.execute(
                    select(session_response.c.value_int, session_response.c.value_text).where(
                        session_response.c.session_id == session_id,
                        session_response.c.item_set == item_set.id,
                        session_response.c.item_id == item.id,
                    )
                ).all()
                shown = len(rows) >= min_group
                summaries.append(
                    ItemSummary(
                        item_id=item.id,
                        prompt=item.prompt,
                        kind=item.kind,
                        answers=len(rows),
                        shown=shown,
                        values=tuple(sorted(r.value_int for r in rows if r.value_int is not None))
                        if shown
                        else (),
                        words=tuple(top_words([r.value_text for r in rows if r.value_text]))
                        if shown and item.kind == "text"
                        else (),
                    )
                )
    return BoardState(joined, answered, tuple(summaries))
