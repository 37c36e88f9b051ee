"""Value-creation stories that come back to their authors (DOMAIN.md §3.1).

A value-creation story (the reflective model `value-creation-story`) is often told in two
goes: at the end of a session as an intention (what the activity gave me, what I plan to try)
and weeks later with what happened (applied value) and what difference it made (realised
value). Saved as an intention, the story gets a day to come back (`return_on`, six weeks
ahead unless its author picks another; never a day that has passed). From that day on it is
due: it shows on its author's own page and at the check-in of every session they join, until
they complete it; completing it adds the applied and realised cycles as a new version of the
story (submitted, shared exactly as before), and the return stops.

Only the author plans, sees and completes a return (policy rule "value_story.return"); for
anyone else the story's id is "not found". The new text passes the text rules and, when the
story is shared beyond its author, the de-identification check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, delete, insert, select, update

from cop_widgets.content.frameworks import Framework
from cop_widgets.errors import InvalidInput, RecordLocked, RecordNotFound
from cop_widgets.services import policy, reflections
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.db import AnySelect, utc_now
from cop_widgets.store.schema import reflection, reflection_answer
from cop_widgets.text import check_answer

VALUE_STORY = policy.VALUE_STORY
RULE = "value_story.return"
DEFAULT_RETURN = timedelta(weeks=6)  # DOMAIN.md §3.1: come back 4 to 8 weeks later
FURTHEST_RETURN = timedelta(days=2 * 365)  # a day further ahead is most likely a typing slip
# The cycles an intention has not reached yet: saved as one, those left empty are passed.
LATER_CYCLES = ("applied", "realized", "reframing")
APPLIED, REALIZED = "applied", "realized"
# What the return asks, by the labels the de-identification check shows (the apps' DeidCheck
# uses the same ones, so that a confirmation there is the one made here).
APPLIED_LABEL = "What happened"
REALIZED_LABEL = "What difference it made"
MAX_RETURN_CHARS = 4000


@dataclass(frozen=True)
class StoryReturn:
    """One story saved as an intention, as its author sees it."""

    reflection_id: str
    return_on: date
    planned: str  # what the author planned to try (the potential cycle, else the activity)
    visibility: str
    returned_at: str | None  # when it was completed; None while it is open
    completed_as: str | None = None  # the version the completion made

    def due(self, today: date) -> bool:
        """The reminder rule: due on and after its day, until it is completed."""
        return self.returned_at is None and self.return_on <= today


def default_return_day(today: date) -> date:
    """The day offered first: six weeks from today."""
    return today + DEFAULT_RETURN


def check_return_day(value: object, today: date) -> date:
    """The day to come back, or InvalidInput: no day, a day that has passed, or one more than
    two years ahead."""
    if not isinstance(value, date):
        raise InvalidInput("return_on", "Choose the day you want this story to come back to you.")
    if value < today:
        raise InvalidInput(
            "return_on",
            f"The day to come back, {_day(value)}, has passed: choose today or a later day.",
        )
    if value > today + FURTHEST_RETURN:
        raise InvalidInput(
            "return_on",
            f"{_day(value)} is more than two years ahead: choose a day within two years.",
        )
    return value


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def save_as_intention(
    store: Store,
    who: Person,
    reflection_id: str,
    framework: Framework,
    answers: Mapping[str, reflections.Answer],
    visibility: str,
    return_on: object,
    today: date,
) -> reflections.Reflection:
    """Submit `who`'s value-creation story as an intention that comes back on `return_on`.

    The applied, realised and reframing cycles left empty are passed (not reached yet); the
    other cycles must be answered or passed, and the story must say what the activity gave
    (what its author plans to try). Every check comes before anything is stored; a story
    refused here stays as it was (the app keeps the text as a draft)."""
    if framework.id != VALUE_STORY:
        raise InvalidInput("framework", "Only a value-creation story comes back as an intention.")
    day = check_return_day(return_on, today)
    given = {sid: a for sid, a in answers.items()}
    if given.get(REALIZED, reflections.Answer()).answered:
        raise InvalidInput(
            "answers",
            "This story already says what difference it made: submit it as it is.",
        )
    if not any(given.get(s, reflections.Answer()).answered for s in ("activity", "potential")):
        raise InvalidInput(
            "answers",
            "Not saved as an intention: first write what the activity gave you (what you "
            "plan to try).",
        )
    open_stages = [
        stage.label
        for stage in framework.stages
        if stage.id not in LATER_CYCLES
        and not given.get(stage.id, reflections.Answer()).answered
        and not given.get(stage.id, reflections.Answer()).passed
    ]
    if open_stages:
        raise InvalidInput(
            "answers",
            "Not saved as an intention: these stages have no answer yet: "
            + ", ".join(open_stages)
            + ". Answer them or choose 'Pass this stage'.",
        )
    for stage_id in LATER_CYCLES:
        if not given.get(stage_id, reflections.Answer()).answered:
            given[stage_id] = reflections.Answer("", passed=True)
    saved = reflections.save_draft(store, who, reflection_id, framework, given, visibility)
    if saved.problems:
        raise InvalidInput("answers", "Not saved as an intention: " + " ".join(saved.problems))
    # the day first, on the draft (never due while a draft), then the submission: a submission
    # the store refuses is tried again whole
    _set_return_on(store, who, reflection_id, day)
    return reflections.submit(store, who, reflection_id, framework, given, visibility)


def plan_return(
    store: Store, who: Person, reflection_id: str, return_on: object, today: date
) -> None:
    """Have `who`'s own story come back on `return_on` (or move its day), until completed."""
    day = check_return_day(return_on, today)
    _set_return_on(store, who, reflection_id, day)


def _set_return_on(store: Store, who: Person, reflection_id: str, day: date) -> None:
    policy.require_own(store, who, RULE, reflection_id, "reflection")
    r = reflection.c
    with store.write() as conn:
        done = conn.execute(
            update(reflection)
            .where(r.id == reflection_id, policy.value_stories_of(who), r.returned_at.is_(None))
            .values(return_on=day.isoformat())
        ).rowcount
        if done:
            store.audit(
                conn,
                actor_id=who.id,
                action="value_story_return_planned",
                target_kind="reflection",
                target_id=reflection_id,
            )
    if not done:
        raise RecordLocked("value story", reflection_id, "it was completed already")


# built once: every check-in (a room's join page) asks it
_DUE_RETURNS = (
    select(
        reflection.c.id, reflection.c.return_on, reflection.c.visibility, reflection.c.returned_at
    )
    .where(
        policy.VALUE_STORIES_OF_VIEWER,
        reflection.c.status == "submitted",
        reflection.c.return_on.is_not(None),
        reflection.c.return_on <= bindparam("today"),
        reflection.c.returned_at.is_(None),
    )
    .order_by(reflection.c.return_on, reflection.c.id)
)


def due_returns(store: Store, who: Person, today: date) -> list[StoryReturn]:
    """`who`'s own stories whose day has come and that are not completed, oldest day first:
    what their page and a session's check-in bring back."""
    return _returns(store, _DUE_RETURNS, {**policy.viewer_params(who), "today": today.isoformat()})


def my_returns(store: Store, who: Person, limit: int = 30) -> list[StoryReturn]:
    """All of `who`'s own stories saved as intentions: the open ones by their day, then the
    completed ones, most recent first; at most `limit` (filtered in SQL)."""
    r = reflection.c
    query = (
        select(r.id, r.return_on, r.visibility, r.returned_at)
        .where(policy.value_stories_of(who), r.status == "submitted", r.return_on.is_not(None))
        .order_by(r.returned_at.is_not(None), r.returned_at.desc(), r.return_on, r.id)
        .limit(limit)
    )
    return _returns(store, query)


def return_of(store: Store, who: Person, reflection_id: str) -> StoryReturn | None:
    """The return of `who`'s own story (None when none is planned); anyone else's: not found."""
    policy.require_own(store, who, RULE, reflection_id, "reflection")
    r = reflection.c
    query = select(r.id, r.return_on, r.visibility, r.returned_at).where(
        r.id == reflection_id, policy.value_stories_of(who), r.return_on.is_not(None)
    )
    found = _returns(store, query)
    return found[0] if found else None


def _returns(
    store: Store, query: AnySelect, params: dict[str, str] | None = None
) -> list[StoryReturn]:
    with store.read() as conn:
        rows = conn.execute(query, params or {}).all()
        if not rows:  # most people at most check-ins: no story due, nothing more to read
            return []
        ids = [row.id for row in rows]
        said: dict[str, dict[str, str]] = {}
        for rid, stage, text in conn.execute(
            select(
                reflection_answer.c.reflection_id,
                reflection_answer.c.stage_id,
                reflection_answer.c.text,
            ).where(
                reflection_answer.c.reflection_id.in_(ids),
                reflection_answer.c.stage_id.in_(("activity", "potential")),
            )
        ):
            said.setdefault(rid, {})[stage] = text.strip()
        versions = dict(
            conn.execute(
                select(reflection.c.version_of, reflection.c.id)
                .where(reflection.c.version_of.in_(ids), reflection.c.status == "submitted")
                .order_by(reflection.c.version_no)
            ).all()
        )  # the newest submitted version of each (later rows win)
    return [
        StoryReturn(
            reflection_id=row.id,
            return_on=date.fromisoformat(row.return_on),
            planned=said.get(row.id, {}).get("potential")
            or said.get(row.id, {}).get("activity", ""),
            visibility=row.visibility,
            returned_at=row.returned_at,
            completed_as=versions.get(row.id) if row.returned_at else None,
        )
        for row in rows
    ]


def complete_return(
    store: Store,
    who: Person,
    reflection_id: str,
    what_happened: str,
    difference: str,
    confirmed: bool = False,
) -> str:
    """Complete `who`'s own story: a new, submitted version of it with what happened as its
    applied cycle and the difference it made as its realised cycle (one of them may stay
    empty: that cycle stays passed); the return stops. Shared beyond its author, the new text
    must pass the de-identification check (or its findings be `confirmed`). Returns the new
    version's id; the one completed stays as it was."""
    applied = check_answer(what_happened or "", APPLIED_LABEL, MAX_RETURN_CHARS).strip()
    realized = check_answer(difference or "", REALIZED_LABEL, MAX_RETURN_CHARS).strip()
    if not applied and not realized:
        raise InvalidInput(
            "answers", "Write what happened, what difference it made, or both, then save."
        )
    policy.require_own(store, who, RULE, reflection_id, "reflection")
    now = utc_now()
    with store.write() as conn:
        row = conn.execute(
            select(reflection).where(reflection.c.id == reflection_id, policy.value_stories_of(who))
        ).first()
        if row is None:
            raise RecordNotFound("reflection", reflection_id)
        if row.returned_at is not None:
            raise RecordLocked("value story", reflection_id, "it was completed already")
        if row.status != "submitted" or row.return_on is None:
            raise InvalidInput(
                "reflection", "This story was not saved as an intention: revise it instead."
            )
        if row.visibility != "private":
            _check_identifiers({APPLIED_LABEL: applied, REALIZED_LABEL: realized}, confirmed)
        new_id = reflections.copy_as_new_version(conn, row, now, submitted=True)
        for stage_id, text in ((APPLIED, applied), (REALIZED, realized)):
            if not text:
                continue  # not told yet: that cycle stays as it was (passed)
            conn.execute(
                delete(reflection_answer).where(
                    reflection_answer.c.reflection_id == new_id,
                    reflection_answer.c.stage_id == stage_id,
                )
            )
            conn.execute(
                insert(reflection_answer).values(
                    reflection_id=new_id, stage_id=stage_id, text=text, passed=False, updated_at=now
                )
            )
        conn.execute(
            update(reflection).where(reflection.c.id == reflection_id).values(returned_at=now)
        )
        store.audit(
            conn,
            actor_id=who.id,
            action="value_story_completed",
            target_kind="reflection",
            target_id=new_id,
        )
    return new_id


def _check_identifiers(texts: dict[str, str], confirmed: bool) -> None:
    # Imported here, when a shared story is saved: the join page, which imports this module
    # for the returns it shows, starts without the identifier finder.
    from cop_widgets.deidentify import find_identifiers

    found = sum(len(find_identifiers(text)) for text in texts.values() if text)
    if found and not confirmed:
        raise InvalidInput(
            "de-identification",
            f"Not saved yet: {found} possible identifier(s) found (names, dates, places, "
            "numbers), and this story is shared. Rephrase them (roles, age bands, 'a rural "
            "town'), or confirm that they do not identify anyone, then save again.",
        )
