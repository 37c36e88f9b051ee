"""Who may make which report from the app, and what the renderer is then given.

Each function takes the signed-in person (`who`) and the report's target, asks the policy
(``report.session``, ``report.community``, ``report.person``, ``report.library``; a refusal
raises NotAllowed and is audited like every other), and returns a ``ReportJob``: the
template's name, its parameters (ids, ISO dates and whole numbers only: nothing typed reaches
the report kernel) and a readable file stem. The apps render it (apps/_reports.py); this
layer never imports reports/.

File stems name what a person recognises, never ids: community, date and topic for a session
(``family-support-cop_2026-11-27_safety-planning_session-report``), community and period for a
community report, the person's name and period for a CPD record, community and the day it
was made for a practice handbook. They are ASCII (accents dropped, other scripts and direction
controls removed) so that every browser and file system keeps them; ``report_stem`` serves the
command line too (``reports.render.report_filename``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, select

from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.services.membership import community_name
from cop_widgets.store import Store
from cop_widgets.store.schema import community, cop_session, person

KINDS = ("session", "community", "person", "library")
TEMPLATES = {
    "session": "session_report",
    "community": "community_growth",
    "person": "person_record",
    "library": "library_handbook",
}
RULE = {kind: f"report.{kind}" for kind in KINDS}
SUFFIX = {
    "session_report": "session-report",
    "community_growth": "community-report",
    "person_record": "cpd-record",
    "library_handbook": "practice-handbook",
}
# the practice handbook: at most this many of the most-endorsed entries besides those marked
HANDBOOK_TOP = 50
# Where a name has nothing ASCII left (a name in another script), the stem still says what it is.
FALLBACK = {"community": "community", "topic": "session", "person": "person"}
SLUG_MAX = 40
MAX_PERIOD_YEARS = 10


@dataclass(frozen=True)
class ReportJob:
    """A report the app may render: which template, its parameters, and its file stem."""

    kind: str  # "session", "community", "person" or "library"
    template: str  # a template of reports/notebooks
    params: dict[str, object]  # ids, ISO dates, whole numbers
    stem: str  # the readable file name without its extension
    subject: str  # what the report is of, as typed (a topic, a community's or a person's name)


# -- readable names -----------------------------------------------------------------------------
def slug(text: object, fallback: str = "report", limit: int = SLUG_MAX) -> str:
    """ASCII, lower case, words joined by '-': 'Family Support CoP' -> 'family-support-cop';
    'Zoë' -> 'zoe'; direction controls, punctuation and other scripts dropped."""
    ascii_text = (
        unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode("ascii")
    )
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-") or fallback


def _session_row(conn: Connection, session_id: str) -> Row[Any, Any, Any]:
    row = conn.execute(
        select(cop_session.c.topic, cop_session.c.starts_at, community.c.name)
        .join(community, community.c.id == cop_session.c.community_id)
        .where(cop_session.c.id == session_id)
    ).first()
    if row is None:
        raise RecordNotFound("session", session_id)
    return row


def _person_name(conn: Connection, person_id: str) -> str:
    name: str | None = conn.execute(
        select(person.c.display_name).where(person.c.id == person_id)
    ).scalar()
    if name is None:
        raise RecordNotFound("person", person_id)
    return name


def _local_day(stamp: str, zone: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(ZoneInfo(zone)).date().isoformat()


def report_stem(store: Store, template: str, params: dict[str, object]) -> str:
    """The readable file stem of a report (no permission check: callers have made theirs)."""
    suffix = SUFFIX.get(template, slug(template))
    with store.read() as conn:
        if template == "session_report" and params.get("session_id"):
            topic, starts_at, name = _session_row(conn, str(params["session_id"]))
            day = _local_day(starts_at, store.settings.timezone)
            parts = [slug(name, FALLBACK["community"]), day, slug(topic, FALLBACK["topic"])]
        elif template == "community_growth":
            cid = params.get("community_id")
            name = community_name(conn, str(cid)) if cid else "all communities"
            parts = [slug(name, FALLBACK["community"])]
        elif template == "person_record" and params.get("person_id"):
            parts = [slug(_person_name(conn, str(params["person_id"])), FALLBACK["person"])]
        elif template == "library_handbook" and params.get("community_id"):
            name = community_name(conn, str(params["community_id"]))
            today = _local_day(datetime.now(UTC).isoformat(), store.settings.timezone)
            parts = [slug(name, FALLBACK["community"]), today]
        else:
            parts = []
    if template != "session_report":
        parts += [str(params[k]) for k in ("date_from", "date_to") if params.get(k)]
    return "_".join([*parts, suffix])


# -- periods -------------------------------------------------------------------------------------
def last_twelve_months(today: date | None = None) -> tuple[date, date]:
    """(from, to) of the 12 months up to today, both days included."""
    today = today or datetime.now(UTC).date()
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return year_ago + timedelta(days=1), today


def _day(value: object, field: str) -> str:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise InvalidInput(field, f"Choose the {field} date (a day, e.g. 2026-03-31).")


def _period(date_from: object, date_to: object) -> dict[str, str]:
    lo, hi = _day(date_from, "From"), _day(date_to, "To")
    if lo > hi:
        raise InvalidInput("From", f"The period starts ({lo}) after it ends ({hi}): swap them.")
    if int(hi[:4]) - int(lo[:4]) > MAX_PERIOD_YEARS:
        raise InvalidInput("From", f"A report covers at most {MAX_PERIOD_YEARS} years.")
    return {"date_from": lo, "date_to": hi}


# -- the reports ---------------------------------------------------------------------------------
def session_report(
    store: Store, who: Person | None, session_id: str, *, min_n: int | None = None
) -> ReportJob:
    """The session report, for the session's facilitator and its community's coordinators."""
    policy.require(store, who, RULE["session"], session_id)
    params = {"session_id": session_id, "min_n": min_n or store.settings.min_group}
    with store.read() as conn:
        topic = _session_row(conn, session_id).topic
    return ReportJob(
        "session", TEMPLATES["session"], params, report_stem(store, "session_report", params), topic
    )


def community_report(
    store: Store,
    who: Person | None,
    community_id: str,
    date_from: object,
    date_to: object,
    *,
    min_n: int | None = None,
) -> ReportJob:
    """One community's growth report over a period, for its coordinators."""
    policy.require(store, who, RULE["community"], community_id)
    params = {
        "community_id": community_id,
        **_period(date_from, date_to),
        "min_n": min_n or store.settings.min_group,
    }
    with store.read() as conn:
        name = community_name(conn, community_id)
    return ReportJob(
        "community",
        TEMPLATES["community"],
        params,
        report_stem(store, "community_growth", params),
        name,
    )


def person_record(
    store: Store, who: Person | None, person_id: str, date_from: object, date_to: object
) -> ReportJob:
    """A person's CPD record over a period: theirs alone to make."""
    policy.require(store, who, RULE["person"], person_id)
    params: dict[str, object] = {"person_id": person_id, **_period(date_from, date_to)}
    with store.read() as conn:
        name = _person_name(conn, person_id)
    return ReportJob(
        "person", TEMPLATES["person"], params, report_stem(store, "person_record", params), name
    )


def library_handbook(
    store: Store, who: Person | None, community_id: str, *, top: int | None = None
) -> ReportJob:
    """A community's practice handbook (its endorsed practice, then its most-endorsed entries),
    for its members: it holds only what they read in the library already."""
    policy.require(store, who, RULE["library"], community_id)
    params: dict[str, object] = {
        "community_id": community_id,
        "top": HANDBOOK_TOP if top is None else top,
    }
    with store.read() as conn:
        name = community_name(conn, community_id)
    return ReportJob(
        "library",
        TEMPLATES["library"],
        params,
        report_stem(store, "library_handbook", params),
        name,
    )


def report_job(
    store: Store,
    who: Person | None,
    kind: str,
    target_id: str,
    date_from: object = None,
    date_to: object = None,
) -> ReportJob:
    """One of them by kind ("session", "community", "person", "library")."""
    if kind == "session":
        return session_report(store, who, target_id)
    if kind == "community":
        return community_report(store, who, target_id, date_from, date_to)
    if kind == "person":
        return person_record(store, who, target_id, date_from, date_to)
    if kind == "library":
        return library_handbook(store, who, target_id)
    raise InvalidInput("report", f"No report of kind {kind!r}; there are: {', '.join(KINDS)}.")


def may_make(store: Store, who: Person | None, kind: str, target_id: str) -> bool:
    """Whether to offer the report at all (asked, not audited: pressing the button asks again)."""
    if kind not in KINDS:
        return False
    with store.read() as conn:
        return policy.allowed(conn, who, RULE[kind], target_id)
