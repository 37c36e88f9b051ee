"""Retention: personal data older than its class's period is deleted (or blanked where others'
records depend on it), with the same secure delete as erasure (RELIABILITY.md §4). Periods come
from the environment (`cop data retain`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy import update as sql_update

from cop_widgets.errors import InvalidInput
from cop_widgets.services.person_tables import (
    table_named,
)
from cop_widgets.store import Store, schema
from cop_widgets.store.maintenance import delete_audit_rows, scrub, secure_delete_on


def _check_days(what: str, days: int | None) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidInput("retention", f"The retention period for {what} is not whole days.")
    if days < 1:
        raise InvalidInput(
            "retention",
            f"The retention period for {what} is {days} days; it must be at least 1 day "
            "(leave it unset to keep them).",
        )
    return days


def _stamp(moment: datetime) -> str:
    """The stored form of a time (utc_now's): UTC, microseconds, +00:00; sorts as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class RetentionClass:
    """One class of personal data with its own retention period (unset: kept)."""

    name: str  # key in apply_retention's periods
    env: str  # the setting an operator uses
    what: str  # plain words, for messages and the README
    unit_days: int = 1  # 365 for a period given in years


RETENTION_CLASSES = (
    RetentionClass("reflections", "COP_RETAIN_REFLECTIONS_DAYS", "reflections (with answers, "
                   "reviews and feedback), by last change"),
    RetentionClass("discussion_notes", "COP_RETAIN_DISCUSSION_NOTES_DAYS",
                   "case discussion notes, by last change"),
    RetentionClass("case_summaries", "COP_RETAIN_CASE_SUMMARIES_DAYS",
                   "case summaries and content notes (blanked; the discussion stays)"),
    RetentionClass("actions", "COP_RETAIN_ACTIONS_DAYS", "case discussion actions"),
    RetentionClass("checkin_text", "COP_RETAIN_CHECKIN_TEXT_DAYS",
                   "written check-in and check-out answers (blanked; scores stay)"),
    RetentionClass("debriefs", "COP_RETAIN_DEBRIEFS_DAYS", "private check-out debriefs"),
    RetentionClass("commitments", "COP_RETAIN_COMMITMENTS_DAYS",
                   "commitments and their follow-up"),
    RetentionClass("directory", "COP_RETAIN_DIRECTORY_DAYS",
                   "directory entries, by last change"),
    RetentionClass("questions", "COP_RETAIN_QUESTIONS_DAYS",
                   "questions between sessions with their answers, by last activity"),
    RetentionClass("audit", "COP_RETAIN_AUDIT_YEARS", "audit events", unit_days=365),
)  # fmt: skip


RETENTION = {c.name: c for c in RETENTION_CLASSES}


# tables retention may change, in the order it works (children before parents)
RETENTION_TABLES = (
    "reflection_answer",
    "feedback",
    "review",
    "reflection",
    "discussion_note",
    "discussion",
    "discussion_action",
    "session_response",
    "commitment",
    "member_profile",
    "audit_event",
    "question_answer",
    "question",
)


def retention_cutoffs(periods: Mapping[str, int | None], now: datetime) -> dict[str, str]:
    """Class name -> stored-time cutoff (older is removed) for every class with a period."""
    cuts: dict[str, str] = {}
    for name, period in periods.items():
        cls = RETENTION.get(name)
        if cls is None:
            raise InvalidInput("retention", f"Unknown retention class {name!r}.")
        days = _check_days(cls.what, period)
        if days is not None:
            cuts[name] = _stamp(now - timedelta(days=days * cls.unit_days))
    return cuts


# A retention step: (table, rows, None to delete them or the values to blank them with).
_Step = tuple[str, ColumnElement[bool], dict[str, str | None] | None]


def _retention_steps(cuts: dict[str, str]) -> list[_Step]:
    """The steps that apply the cutoffs, in order."""
    steps: list[_Step] = []
    if "reflections" in cuts:
        old = schema.reflection.c.updated_at < cuts["reflections"]
        expired = select(schema.reflection.c.id).where(old).scalar_subquery()
        steps += [
            ("reflection_answer", schema.reflection_answer.c.reflection_id.in_(expired), None),
            ("feedback", schema.feedback.c.reflection_id.in_(expired), None),
            ("review", schema.review.c.reflection_id.in_(expired), None),
            ("reflection", old, None),
        ]
    if "discussion_notes" in cuts:
        cut = schema.discussion_note.c.updated_at < cuts["discussion_notes"]
        steps.append(("discussion_note", cut, None))
    if "case_summaries" in cuts:
        d = schema.discussion.c
        old = and_(
            d.updated_at < cuts["case_summaries"], or_(d.case_summary != "", d.content_note != "")
        )
        steps.append(("discussion", old, {"case_summary": "", "content_note": ""}))
    if "actions" in cuts:
        steps.append(("discussion_action", schema.discussion_action.c.created_at < cuts["actions"],
                      None))  # fmt: skip
    r = schema.session_response.c
    if "checkin_text" in cuts:  # anonymous answers keep only the session's date
        old = and_(r.person_id.is_(None), r.value_text.is_not(None),
                   r.answered_on < cuts["checkin_text"][:10])  # fmt: skip
        steps.append(("session_response", old, {"value_text": None}))
    if "debriefs" in cuts:
        old = and_(r.person_id.is_not(None), r.answered_on < cuts["debriefs"][:10])
        steps.append(("session_response", old, None))
    if "commitments" in cuts:
        steps.append(("commitment", schema.commitment.c.created_at < cuts["commitments"], None))
    if "directory" in cuts:
        steps.append(
            ("member_profile", schema.member_profile.c.updated_at < cuts["directory"], None)
        )
    if "questions" in cuts:  # a thread goes whole once its last activity is old enough
        old = schema.question.c.updated_at < cuts["questions"]
        expired = select(schema.question.c.id).where(old).scalar_subquery()
        steps += [
            ("question_answer", schema.question_answer.c.question_id.in_(expired), None),
            ("question", old, None),
        ]
    if "audit" in cuts:
        steps.append(("audit_event", schema.audit_event.c.at < cuts["audit"], None))
    return steps


def apply_retention(
    store: Store,
    periods: Mapping[str, int | None],
    now: datetime,
    *,
    dry_run: bool = False,
    vacuum: bool = True,
) -> dict[str, int]:
    """Remove what is older than each class's period (RETENTION_CLASSES; None or missing
    keeps it). Returns rows per table ("<table> blanked" where text was blanked instead).

    Times compare as stored text (UTC ISO 8601 with microseconds, as utc_now writes them;
    check-in answers keep only their session's date). One "retention_applied" audit event per
    run that is not a dry run. Audit events older than their period are the one change the
    append-only audit table allows, here only. A naive ``now`` is taken as UTC. Deleted text is
    scrubbed as in erase_person (secure_delete, VACUUM when anything changed, WAL truncated).
    """
    steps = _retention_steps(retention_cutoffs(periods, now))
    counts: dict[str, int] = {name: 0 for name in RETENTION_TABLES[:5]}

    def key(table: str, blank: dict[str, str | None] | None) -> str:
        return table if blank is None else f"{table} blanked"

    if dry_run:
        with store.read() as conn:
            for table, rows, blank in steps:
                counts[key(table, blank)] = (
                    counts.get(key(table, blank), 0)
                    + conn.execute(
                        select(func.count()).select_from(table_named(table)).where(rows)
                    ).scalar_one()
                )
        return counts
    with store.write() as conn:
        secure_delete_on(store, conn)
        for table, rows, blank in steps:
            if table == "audit_event":
                done = delete_audit_rows(conn, rows)
            elif blank is None:
                done = conn.execute(delete(table_named(table)).where(rows)).rowcount
            else:
                done = conn.execute(
                    sql_update(table_named(table)).where(rows).values(**blank)
                ).rowcount
            counts[key(table, blank)] = counts.get(key(table, blank), 0) + done
        store.audit(
            conn,
            actor_id=None,
            action="retention_applied",
            target_kind="store",
            target_id=None,
        )
    if any(counts.values()):
        counts.update(scrub(store, vacuum))
    return counts
