"""What the live room board may show: counts always, summaries only past the minimum group.

A summary of fewer than `min_group` answers could unmask someone in a small room, so it is
withheld; nothing here returns who gave which answer. Nor can a change give one away: the room
sees a snapshot of the summaries (shown_state) that moves on only in steps of at least
`min_group` new answers, so a latecomer's answer never appears on its own.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from cop_widgets.content.session_items import ItemSet
from cop_widgets.deidentify import find_identifiers
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.schema import attendance, board_snapshot, session_answered, session_response

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
STOP_WORDS = frozenset("a an and the of to in on for with it is was i my me we our".split())


@dataclass(frozen=True)
class ItemSummary:
    """One board item: how many answered it and, once past the minimum group, a summary."""

    item_id: str
    prompt: str
    kind: str
    answers: int
    shown: bool  # False while below the minimum group
    values: tuple[int, ...] = ()  # scale answers, sorted (only when shown)
    words: tuple[tuple[str, int], ...] = ()  # most frequent words (only when shown)
    item_set: str = ""


@dataclass(frozen=True)
class BoardState:
    """What a board shows: people joined, item sets sent, and each item's summary."""

    joined: int
    answered: dict[str, int]  # item set id -> people who sent it
    items: tuple[ItemSummary, ...]


def may_run_board(store: Store, who: Person, session_id: str) -> bool:
    """Whoever runs the session (services/policy.py: "session.manage")."""
    with store.read() as conn:
        return policy.allowed(conn, who, "session.manage", session_id)


def top_words(texts: list[str], limit: int = 12) -> list[tuple[str, int]]:
    """The most frequent words, leaving out stop words and any word inside a likely identifier
    (a name, a phone number…): the board is shown to the whole room."""
    counts: Counter[str] = Counter()
    for text in texts:
        flagged = [(f.start, f.end) for f in find_identifiers(text)]
        for match in _WORD.finditer(text):
            word = match.group().casefold()
            inside = any(a <= match.start() < b for a, b in flagged)
            if word not in STOP_WORDS and not inside:
                counts[word] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def board_state(
    store: Store, who: Person, session_id: str, sets: list[ItemSet], min_group: int
) -> BoardState:
    """Live counts and live summaries (each only past the minimum group), for whoever runs the
    session. Not for the room's screen: there, shown_state() keeps them as a stepped snapshot."""
    policy.require(store, who, "session.manage", session_id)
    with store.read() as conn:
        return _live(conn, session_id, sets, min_group)


def _live(conn: Connection, session_id: str, sets: list[ItemSet], min_group: int) -> BoardState:
    summaries = []
    joined = conn.execute(
        select(func.count()).select_from(attendance).where(attendance.c.session_id == session_id)
    ).scalar_one()
    answered: dict[str, int] = dict(
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
                    session_response.c.person_id.is_(None),
                )
            ).all()
            shown = policy.large_enough(len(rows), min_group)
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
                    item_set=item_set.id,
                )
            )
    return BoardState(joined, answered, tuple(summaries))


# -- what the room sees: counts live, summaries as a snapshot moved on in steps ---------------


def _stored(conn: Connection, session_id: str) -> dict[tuple[str, str], tuple[int, dict[str, Any]]]:
    s = board_snapshot.c
    return {
        (row.item_set, row.item_id): (row.answers, json.loads(row.summary))
        for row in conn.execute(
            select(s.item_set, s.item_id, s.answers, s.summary).where(s.session_id == session_id)
        )
    }


def _moves_on(shown: tuple[int, dict[str, Any]] | None, live: ItemSummary, min_group: int) -> bool:
    """A summary is (re)taken only when it holds at least the minimum group and, if one was
    shown before, at least the minimum group of answers more: the difference between two
    summaries the room saw is then itself a summary of at least that many people."""
    if not live.shown:
        return False
    return policy.may_move_on(None if shown is None else shown[0], live.answers, min_group)


def shown_state(
    store: Store, who: Person, session_id: str, sets: list[ItemSet], min_group: int
) -> tuple[BoardState, bool]:
    """What the board shows once results are revealed, and whether it changed just now.

    Counts (joined, sent each item set) are live: they reveal no answer. Each summary is the
    snapshot kept in the store (board_snapshot), taken when the results are first revealed
    past the minimum group and moved on only when at least `min_group` more answers have
    arrived (_moves_on), whoever's board or reload asks; until then the room sees exactly what
    it saw. An item without a snapshot is not shown, with no count of its own (a live count of
    the wellbeing item, say, would tell the room when a latecomer answered it).
    """
    policy.require(store, who, "session.manage", session_id)
    with store.read() as conn:
        live = _live(conn, session_id, sets, min_group)
        stored = _stored(conn, session_id)
    changed = False
    if any(_moves_on(stored.get((i.item_set, i.item_id)), i, min_group) for i in live.items):
        with store.write() as conn:  # decided again under the write lock: one step at a time
            live = _live(conn, session_id, sets, min_group)
            stored = _stored(conn, session_id)
            s = board_snapshot.c
            for item in live.items:
                key = (item.item_set, item.item_id)
                if not _moves_on(stored.get(key), item, min_group):
                    continue
                summary = {"values": list(item.values), "words": [list(w) for w in item.words]}
                conn.execute(
                    delete(board_snapshot).where(
                        s.session_id == session_id, s.item_set == key[0], s.item_id == key[1]
                    )
                )
                conn.execute(
                    insert(board_snapshot).values(
                        session_id=session_id,
                        item_set=key[0],
                        item_id=key[1],
                        answers=item.answers,
                        summary=json.dumps(summary),
                    )
                )
                stored[key] = (item.answers, summary)
                changed = True
    items = []
    for item in live.items:
        kept = stored.get((item.item_set, item.item_id))
        items.append(
            ItemSummary(
                item_id=item.item_id,
                prompt=item.prompt,
                kind=item.kind,
                answers=kept[0] if kept else 0,
                shown=kept is not None,
                values=tuple(kept[1]["values"]) if kept else (),
                words=tuple((w, n) for w, n in kept[1]["words"]) if kept else (),
                item_set=item.item_set,
            )
        )
    return BoardState(live.joined, live.answered, tuple(items)), changed
