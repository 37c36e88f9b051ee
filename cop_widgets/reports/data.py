"""What each report holds: pandas reads with every filter in SQL, and the privacy rules of reports.

Report parameters are ids and ISO dates only (``check_id``, ``parse_period``); nothing a person
typed is ever a parameter.

Person record (one practitioner's CPD record, read as that practitioner would):
- their own submitted reflections in the period (all visibilities: they are the author), with
  the text of each stage; drafts are only counted;
- feedback on those reflections once released (the rule of ``supervision.released_feedback``);
- discussions started in the period that they took part in (facilitated, held a role, kept a
  note, rated, recorded or own an action), with the actions they own or recorded. No case
  summary, no other person's notes.

Community growth (what any member may see): counts only, never text, names or ids.
- Reflections are counted only when their author allowed it: visibility "community" or
  "aggregate_only" (``COUNTED_VISIBILITIES``). Private, supervisor-only and facilitator-only
  reflections are the author's and their readers', and are not counted.
- Minimum N: a figure built from fewer than ``min_n`` people (reflections, models, ratings) or
  fewer than ``min_n`` discussions (discussions, protocols, role rotation) is replaced by None
  here, before anything is drawn, and shown as "fewer than N — not shown". Zero is shown.
- Figures that add up to a total (per month, per model, per protocol) get secondary
  suppression: when one is hidden, the smallest other one is hidden too (``SECONDARY``), so
  the hidden one cannot be worked out by subtracting the others from the total.
  Orderings never depend on a hidden figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import and_, distinct, exists, func, or_, select

from cop_widgets.errors import RecordNotFound
from cop_widgets.reports.params import (  # noqa: F401 - the notebooks' API: R.parse_period ...
    DEFAULT_MIN_N,
    MONTH_NAMES,
    Period,
    check_date,
    check_id,
    check_min_n,
    long_date,
    month_label,
    parse_period,
)
from cop_widgets.reports.session_data import open_report_store  # noqa: F401 - the notebooks' API: R.open_...
from cop_widgets.services import policy
from cop_widgets.services.identity import Person
from cop_widgets.store import Store
from cop_widgets.store.schema import (
    discussion,
    discussion_action,
    discussion_note,
    discussion_rating,
    discussion_role,
    feedback,
    person,
    reflection,
    reflection_answer,
    review,
)

COUNTED_VISIBILITIES = ("community", "aggregate_only")
ROTATION_ROLES = ("facilitator", "note_taker")
ERASED_KEY = "erased:"  # identity_key of the placeholder person (services.data_rights)


# -- the store -----------------------------------------------------------------------------------
def _read(store: Store, query) -> pd.DataFrame:
    with store.read() as conn:
        return pd.read_sql(query, conn)


def report_person(store: Store, person_id: object) -> Person | None:
    """The person a record is for: None when no id was given (an empty template run)."""
    if person_id in ("", None):
        return None
    pid = check_id(person_id, "person_id")
    with store.read() as conn:
        row = conn.execute(
            select(person.c.id, person.c.display_name, person.c.role).where(person.c.id == pid)
        ).first()
    if row is None:
        raise RecordNotFound("person", pid)
    return Person(*row)


def name_key(store: Store, who: Person) -> str | None:
    """The casefolded name by which discussion roles and action owners name this person, or
    None when another person has the same name (then those rows cannot be told apart)."""
    key = who.display_name.casefold()
    with store.read() as conn:
        names = conn.execute(
            select(person.c.display_name).where(
                person.c.id != who.id, person.c.identity_key != ERASED_KEY
            )
        ).scalars()
        clash = any(n.casefold() == key for n in names)
    return None if clash else key


# -- person record -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PersonRecord:
    person: Person | None
    period: Period
    reflections: pd.DataFrame  # id, framework_id, framework_version, visibility, submitted_at,
    #                            version_no (submitted in the period, oldest first)
    answers: pd.DataFrame  # reflection_id, stage_id, text, passed
    feedback: pd.DataFrame  # reflection_id, supervisor_name, kind, text, depth_level, released_at
    drafts: int  # drafts changed in the period (counted, not shown)
    by_month: pd.DataFrame  # month, reflections
    discussions: pd.DataFrame  # id, protocol_id, created_at, status, roles (list of role ids)
    actions: pd.DataFrame  # discussion_id, protocol_id, discussion_at, description, owner,
    #                        due_date, created_at, owned, recorded


def _mine(who: Person, period: Period):
    r = reflection.c
    return and_(r.person_id == who.id, r.status == "submitted", period.where(r.submitted_at))


def person_reflections(store: Store, who: Person, period: Period) -> pd.DataFrame:
    r = reflection.c
    return _read(
        store,
        select(
            r.id, r.framework_id, r.framework_version, r.visibility, r.submitted_at, r.version_no
        )
        .where(_mine(who, period))
        .order_by(r.submitted_at, r.id),
    )


def person_answers(store: Store, who: Person, period: Period) -> pd.DataFrame:
    a = reflection_answer.c
    return _read(
        store,
        select(a.reflection_id, a.stage_id, a.text, a.passed)
        .join(reflection, reflection.c.id == a.reflection_id)
        .where(_mine(who, period))
        .order_by(a.reflection_id, a.stage_id),
    )


def person_feedback(store: Store, who: Person, period: Period) -> pd.DataFrame:
    """Released feedback on the person's reflections of the period (as released_feedback)."""
    f = feedback.c
    return _read(
        store,
        select(
            f.reflection_id,
            person.c.display_name.label("supervisor_name"),
            f.kind,
            f.text,
            review.c.depth_level,
            review.c.released_at,
        )
        .join(
            review,
            and_(
                review.c.reflection_id == f.reflection_id,
                review.c.supervisor_id == f.supervisor_id,
            ),
        )
        .join(reflection, reflection.c.id == f.reflection_id)
        .join(person, person.c.id == f.supervisor_id)
        .where(_mine(who, period), review.c.released_at.is_not(None))
        .order_by(f.reflection_id, review.c.released_at, f.created_at, f.id),
    )


def person_drafts(store: Store, who: Person, period: Period) -> int:
    r = reflection.c
    with store.read() as conn:
        return conn.execute(
            select(func.count())
            .select_from(reflection)
            .where(r.person_id == who.id, r.status == "draft", period.where(r.updated_at))
        ).scalar()


def person_actions(store: Store, who: Person, period: Period, key: str | None) -> pd.DataFrame:
    """Actions of the period's discussions that the person owns (by name) or recorded."""
    a, d = discussion_action.c, discussion.c
    in_period = period.where(d.created_at)
    with store.read() as conn:
        # Owners are names typed by a note-taker: matched in Python (casefold), ids only first.
        candidates = conn.execute(
            select(a.id, a.owner, a.created_by)
            .join(discussion, d.id == a.discussion_id)
            .where(in_period)
        ).all()
    owned = {c.id for c in candidates if key is not None and c.owner.casefold() == key}
    recorded = {c.id for c in candidates if c.created_by == who.id}
    ids = sorted(owned | recorded)
    frame = _read(
        store,
        select(
            a.id,
            a.discussion_id,
            d.protocol_id,
            d.created_at.label("discussion_at"),
            a.description,
            a.owner,
            a.due_date,
            a.created_at,
        )
        .join(discussion, d.id == a.discussion_id)
        .where(a.id.in_(ids))
        .order_by(d.created_at, a.created_at, a.id),
    )
    frame["owned"] = frame["id"].isin(owned)
    frame["recorded"] = frame["id"].isin(recorded)
    return frame


def person_discussions(
    store: Store, who: Person, period: Period, key: str | None, action_discussions=()
) -> pd.DataFrame:
    d = discussion.c
    took_part = [
        d.facilitator_id == who.id,
        exists().where(
            discussion_note.c.discussion_id == d.id, discussion_note.c.author_id == who.id
        ),
        exists().where(
            discussion_rating.c.discussion_id == d.id, discussion_rating.c.person_id == who.id
        ),
        exists().where(
            discussion_action.c.discussion_id == d.id, discussion_action.c.created_by == who.id
        ),
        d.id.in_(list(action_discussions)),
    ]
    if key is not None:
        took_part.append(
            exists().where(
                discussion_role.c.discussion_id == d.id, discussion_role.c.holder_key == key
            )
        )
    frame = _read(
        store,
        select(d.id, d.protocol_id, d.created_at, d.status, d.facilitator_id)
        .where(period.where(d.created_at), or_(*took_part))
        .order_by(d.created_at, d.id),
    )
    held: dict[str, list[str]] = {i: [] for i in frame["id"]}
    if key is not None and held:
        with store.read() as conn:
            for did, role_id in conn.execute(
                select(discussion_role.c.discussion_id, discussion_role.c.role_id)
                .join(discussion, d.id == discussion_role.c.discussion_id)
                .where(period.where(d.created_at), discussion_role.c.holder_key == key)
                .order_by(discussion_role.c.role_id)
            ).all():
                if did in held:
                    held[did].append(role_id)
    frame["started"] = frame["facilitator_id"] == who.id
    frame["roles"] = [held[i] for i in frame["id"]]
    return frame.drop(columns=["facilitator_id"])


def person_record(store: Store, who: Person | None, period: Period) -> PersonRecord:
    """Everything one person's CPD record shows, read as that person may read it."""
    if who is None:
        empty = pd.DataFrame()
        return PersonRecord(
            None,
            period,
            empty,
            empty,
            empty,
            0,
            _monthly(period, empty, "reflections"),
            empty,
            empty,
        )
    reflections = person_reflections(store, who, period)
    key = name_key(store, who)
    actions = person_actions(store, who, period, key)
    return PersonRecord(
        person=who,
        period=period,
        reflections=reflections,
        answers=person_answers(store, who, period),
        feedback=person_feedback(store, who, period),
        drafts=person_drafts(store, who, period),
        by_month=_monthly(period, reflections, "reflections"),
        discussions=person_discussions(store, who, period, key, set(actions["discussion_id"])),
        actions=actions,
    )


def _monthly(period: Period, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    counts: dict[str, int] = {}
    if len(frame):
        counts = frame["submitted_at"].str.slice(0, 7).value_counts().to_dict()
    return pd.DataFrame(
        {"month": period.months, column: [int(counts.get(m, 0)) for m in period.months]}
    )


# -- community growth ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RatingDistribution:
    protocol_id: str
    phase_id: str
    people: int | None  # None: fewer than min_n people rated
    ratings: int | None
    counts: dict[int, int] | None  # value -> how many; None when suppressed


@dataclass(frozen=True)
class CommunityGrowth:
    period: Period
    min_n: int
    totals: dict[str, int | None]  # reflections, people, discussions
    reflections_by_month: pd.DataFrame  # month, reflections, people
    discussions_by_month: pd.DataFrame  # month, discussions
    frameworks: pd.DataFrame  # framework_id, reflections, people
    protocols: pd.DataFrame  # protocol_id, discussions
    roles: pd.DataFrame  # role_id, discussions, people
    ratings: tuple[RatingDistribution, ...]


class _Secondary:
    """A figure hidden only so that a suppressed one cannot be worked out by subtraction."""

    def __repr__(self) -> str:
        return "SECONDARY"


SECONDARY = _Secondary()


def shown(value: int, base: int, min_n: int) -> int | None:
    """The figure, or None when it is built from 1 to min_n - 1 people (or discussions): the
    policy's small-group rule."""
    return policy.figure_or_none(value, base, min_n)


def is_hidden(value: object) -> bool:
    return value is None or value is SECONDARY


def protect_sum(values: list) -> list:
    """Secondary suppression for figures that add up to a total (which may be shown, or be
    worked out from another table): when exactly one is hidden, hide the smallest other
    non-zero figure too, so that neither can be recovered by subtraction."""
    if sum(v is None for v in values) != 1:
        return list(values)
    others = [i for i, v in enumerate(values) if isinstance(v, int) and v > 0]
    out = list(values)
    if others:
        out[min(others, key=lambda i: (values[i], i))] = SECONDARY
    return out


def _counted(period: Period, community_id: str | None = None):
    r = reflection.c
    return and_(
        r.status == "submitted",
        r.visibility.in_(COUNTED_VISIBILITIES),
        period.where(r.submitted_at),
        *([_reflection_in(community_id)] if community_id else []),
    )


def _reflection_in(community_id: str):
    """SQL: a reflection belongs to the community it is shared with or, when it names none,
    to each of its author's communities (as the visibility ladder reads it)."""
    from cop_widgets.store.schema import community_member

    r = reflection.c
    author = community_member.alias("author_membership")
    return or_(
        r.community_id == community_id,
        and_(
            r.community_id.is_(None),
            exists().where(
                author.c.person_id == r.person_id, author.c.community_id == community_id
            ),
        ),
    )


def _discussion_in(community_id: str):
    """SQL: a discussion held in one of the community's sessions."""
    from cop_widgets.store.schema import cop_session

    return discussion.c.session_id.in_(
        select(cop_session.c.id).where(cop_session.c.community_id == community_id)
    )


def community_name(store: Store, community_id: object) -> str | None:
    """The name of the community a report is scoped to (None: every community)."""
    from cop_widgets.store.schema import community

    if not community_id:
        return None
    cid = check_id(community_id, "community_id")
    with store.read() as conn:
        name = conn.execute(select(community.c.name).where(community.c.id == cid)).scalar()
    if name is None:
        raise RecordNotFound(f"No community has the id {cid}.")
    return name


def _ordered(rows: list[dict], figure: str, key: str) -> pd.DataFrame:
    """Shown figures largest first, hidden ones after them by name: order reveals nothing."""
    rows.sort(
        key=lambda x: (is_hidden(x[figure]), -(0 if is_hidden(x[figure]) else x[figure]), x[key])
    )
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else [key, figure], dtype=object)


def _protect_column(rows: list[dict], column: str) -> None:
    for row, value in zip(rows, protect_sum([r[column] for r in rows]), strict=True):
        row[column] = value


def community_growth(
    store: Store, period: Period, min_n: int = DEFAULT_MIN_N, community_id: str | None = None
) -> CommunityGrowth:
    """Participation over the period, with every small figure already suppressed; one
    community's when community_id is given (its sessions' discussions, its reflections)."""
    min_n = check_min_n(min_n)
    r, d = reflection.c, discussion.c
    month = func.substr(r.submitted_at, 1, 7)
    dmonth = func.substr(d.created_at, 1, 7)
    in_period = and_(
        period.where(d.created_at), *([_discussion_in(community_id)] if community_id else [])
    )
    with store.read() as conn:
        refl_total = conn.execute(
            select(func.count(), func.count(distinct(r.person_id))).where(
                _counted(period, community_id)
            )
        ).one()
        refl_months = {
            row.month: row
            for row in conn.execute(
                select(
                    month.label("month"),
                    func.count().label("n"),
                    func.count(distinct(r.person_id)).label("people"),
                )
                .where(_counted(period, community_id))
                .group_by(month)
            ).all()
        }
        fw_rows = conn.execute(
            select(r.framework_id, func.count(), func.count(distinct(r.person_id)))
            .where(_counted(period, community_id))
            .group_by(r.framework_id)
        ).all()
        disc_months = dict(
            conn.execute(select(dmonth, func.count()).where(in_period).group_by(dmonth)).all()
        )
        proto_rows = conn.execute(
            select(d.protocol_id, func.count()).where(in_period).group_by(d.protocol_id)
        ).all()
        role_rows = {
            row.role_id: row
            for row in conn.execute(
                select(
                    discussion_role.c.role_id,
                    func.count(distinct(discussion_role.c.discussion_id)).label("discussions"),
                    func.count(distinct(discussion_role.c.holder_key)).label("people"),
                )
                .join(discussion, d.id == discussion_role.c.discussion_id)
                .where(in_period, discussion_role.c.role_id.in_(ROTATION_ROLES))
                .group_by(discussion_role.c.role_id)
            ).all()
        }
        rt = discussion_rating.c
        raters = conn.execute(
            select(rt.phase_id, d.protocol_id, func.count(), func.count(distinct(rt.person_id)))
            .join(discussion, d.id == rt.discussion_id)
            .where(in_period)
            .group_by(d.protocol_id, rt.phase_id)
            .order_by(d.protocol_id, rt.phase_id)
        ).all()
        values = conn.execute(
            select(d.protocol_id, rt.phase_id, rt.value, func.count())
            .join(discussion, d.id == rt.discussion_id)
            .where(in_period)
            .group_by(d.protocol_id, rt.phase_id, rt.value)
        ).all()

    n_refl, n_people = refl_total
    n_disc = sum(disc_months.values())
    totals = {
        "reflections": shown(n_refl, n_people, min_n),
        "people": shown(n_people, n_people, min_n),
        "discussions": shown(n_disc, n_disc, min_n),
    }
    rows = []
    for m in period.months:
        row = refl_months.get(m)
        n, people = (row.n, row.people) if row else (0, 0)
        rows.append(
            {
                "month": m,
                "reflections": shown(n, people, min_n),
                "people": shown(people, people, min_n),
            }
        )
    _protect_column(rows, "reflections")
    reflections_by_month = pd.DataFrame(rows, dtype=object)
    rows = [
        {"month": m, "discussions": shown(disc_months.get(m, 0), disc_months.get(m, 0), min_n)}
        for m in period.months
    ]
    _protect_column(rows, "discussions")
    discussions_by_month = pd.DataFrame(rows, dtype=object)
    rows = [
        {
            "framework_id": fid,
            "reflections": shown(n, people, min_n),
            "people": shown(people, people, min_n),
        }
        for fid, n, people in sorted(fw_rows)
    ]
    _protect_column(rows, "reflections")
    frameworks = _ordered(rows, "reflections", "framework_id")
    rows = [
        {"protocol_id": pid, "discussions": shown(n, n, min_n)} for pid, n in sorted(proto_rows)
    ]
    _protect_column(rows, "discussions")
    protocols = _ordered(rows, "discussions", "protocol_id")
    roles = pd.DataFrame(
        [
            {
                "role_id": role,
                "discussions": shown(row.discussions, row.discussions, min_n) if row else 0,
                "people": shown(row.people, row.people, min_n) if row else 0,
            }
            for role, row in ((role, role_rows.get(role)) for role in ROTATION_ROLES)
        ],
        dtype=object,
    )
    by_phase: dict[tuple[str, str], dict[int, int]] = {}
    for pid, phase, value, n in values:
        by_phase.setdefault((pid, phase), {})[int(value)] = int(n)
    ratings = tuple(
        RatingDistribution(
            protocol_id=pid,
            phase_id=phase,
            people=shown(people, people, min_n),
            ratings=shown(n, people, min_n),
            counts=(
                dict(sorted(by_phase[(pid, phase)].items()))
                if policy.large_enough(people, min_n)
                else None
            ),
        )
        for phase, pid, n, people in raters
    )
    return CommunityGrowth(
        period=period,
        min_n=min_n,
        totals=totals,
        reflections_by_month=reflections_by_month,
        discussions_by_month=discussions_by_month,
        frameworks=frameworks,
        protocols=protocols,
        roles=roles,
        ratings=ratings,
    )


def catalogues(store: Store):
    """(frameworks, protocols) from the content folders of the store's settings."""
    from cop_widgets.content.frameworks import load_frameworks
    from cop_widgets.content.protocols import load_protocols

    settings = store.settings
    return load_frameworks(settings.frameworks_dir), load_protocols(settings.protocols_dir)


def session_item_sets(store: Store) -> dict:
    """The check-in and check-out item sets (a broken file is an error, named)."""
    from cop_widgets.reports.session_data import catalogues as session_catalogues

    return session_catalogues(store)[0]


# -- sessions in the community growth report -----------------------------------------------------
@dataclass(frozen=True)
class ConfidenceTrend:
    key: str  # the compare key shared by a check-in and a check-out item
    label: str  # the check-out item's prompt
    months: pd.DataFrame  # month, before, after (means or None), n_before, n_after


@dataclass(frozen=True)
class SessionGrowth:
    by_month: pd.DataFrame  # month, sessions, attendances, people
    totals: dict[str, int | None]  # sessions, attendances, people
    roles: pd.DataFrame  # role_id, sessions, people
    confidence: tuple[ConfidenceTrend, ...]


def session_growth(
    store: Store,
    period: Period,
    item_sets: dict,
    min_n: int = DEFAULT_MIN_N,
    community_id: str | None = None,
) -> SessionGrowth:
    """Sessions held, attendance and the rotation of session roles per month, and the mean
    confidence before (check-in, looking back) and after (check-out) per month. A mean from
    fewer than min_n answers is None; people counts below min_n are None."""
    from cop_widgets.store.schema import attendance, cop_session, session_response, session_role

    min_n = check_min_n(min_n)
    s = cop_session.c
    month = func.substr(s.starts_at, 1, 7)
    held = and_(
        period.where(s.starts_at),
        s.starts_at <= _now_iso(),
        *([s.community_id == community_id] if community_id else []),
    )
    with store.read() as conn:
        sessions = dict(conn.execute(select(month, func.count()).where(held).group_by(month)).all())
        attended = {
            row.month: row
            for row in conn.execute(
                select(
                    month.label("month"),
                    func.count().label("n"),
                    func.count(distinct(attendance.c.person_id)).label("people"),
                )
                .join(cop_session, s.id == attendance.c.session_id)
                .where(held)
                .group_by(month)
            ).all()
        }
        total_people = conn.execute(
            select(func.count(distinct(attendance.c.person_id)))
            .join(cop_session, s.id == attendance.c.session_id)
            .where(held)
        ).scalar()
        role_rows = conn.execute(
            select(
                session_role.c.role_id,
                func.count(distinct(session_role.c.session_id)),
                func.count(distinct(session_role.c.person_id)),
            )
            .join(cop_session, s.id == session_role.c.session_id)
            .where(held)
            .group_by(session_role.c.role_id)
        ).all()
        r = session_response.c
        answers = conn.execute(
            select(month, r.item_set, r.item_id, func.count(), func.avg(r.value_int))
            .join(cop_session, s.id == r.session_id)
            .where(held, r.value_int.is_not(None))
            .group_by(month, r.item_set, r.item_id)
        ).all()

    rows = []
    for m in period.months:
        a = attended.get(m)
        people = a.people if a else 0
        rows.append(
            {
                "month": m,
                "sessions": int(sessions.get(m, 0)),
                "attendances": int(a.n) if a else 0,
                "people": shown(people, people, min_n),
            }
        )
    from cop_widgets.services.sessions import ROTATING_ROLES

    held_roles = {role: (n, people) for role, n, people in role_rows}
    roles = pd.DataFrame(
        [
            {
                "role_id": role,
                "sessions": held_roles.get(role, (0, 0))[0],
                # role holders are named in the room: counting them hides nothing
                "people": held_roles.get(role, (0, 0))[1],
            }
            for role, _label in ROTATING_ROLES
        ],
        dtype=object,
    )
    means = {(m, set_id, item): (n, avg) for m, set_id, item, n, avg in answers}
    checkin, checkout = item_sets.get("checkin"), item_sets.get("checkout")
    before = {i.compare: i for i in (checkin.items if checkin else ()) if i.compare}
    trends = []
    for item in checkout.items if checkout else ():
        then = before.get(item.compare) if item.compare else None
        if then is None:
            continue
        months = []
        for m in period.months:
            n_b, mean_b = means.get((m, "checkin", then.id), (0, None))
            n_a, mean_a = means.get((m, "checkout", item.id), (0, None))
            months.append(
                {
                    "month": m,
                    "before": round(float(mean_b), 2) if policy.large_enough(n_b, min_n) else None,
                    "after": round(float(mean_a), 2) if policy.large_enough(n_a, min_n) else None,
                    "n_before": int(n_b),
                    "n_after": int(n_a),
                }
            )
        trends.append(
            ConfidenceTrend(item.compare, item.prompt, pd.DataFrame(months, dtype=object))
        )
    return SessionGrowth(
        by_month=pd.DataFrame(rows, dtype=object),
        totals={
            "sessions": sum(r["sessions"] for r in rows),
            "attendances": sum(r["attendances"] for r in rows),
            "people": shown(total_people, total_people, min_n),
        },
        roles=roles,
        confidence=tuple(trends),
    )


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


# -- value-creation stories (Wenger, Trayner & de Laat 2011) -------------------------------------
VALUE_STORY = "value-creation-story"  # the framework whose steps are the cycles of value


def value_stories(
    store: Store,
    period: Period,
    framework,
    min_n: int = DEFAULT_MIN_N,
    community_id: str | None = None,
):
    """Stories shared with the community (or as aggregates) in the period, by the cycles they
    reach: a story reaches a cycle when that step has an answer (not passed, not blank).
    Cumulative, so figures do not add up to a total; a row from fewer than min_n people is
    None. Empty frame when the framework file is missing."""
    columns = ["cycle", "label", "stories", "people"]
    if framework is None:
        return pd.DataFrame(columns=columns)
    check_min_n(min_n)
    r, a = reflection.c, reflection_answer.c
    with store.read() as conn:
        rows = conn.execute(
            select(r.id, r.person_id, a.stage_id, a.text, a.passed)
            .join(reflection_answer, a.reflection_id == r.id)
            .where(_counted(period, community_id), r.framework_id == VALUE_STORY)
        ).all()
    order = {step.id: i for i, step in enumerate(framework.stages)}
    furthest: dict[str, tuple[str, int]] = {}
    for rid, pid, stage, text, passed in rows:
        if passed or not (text or "").strip() or stage not in order:
            continue
        if order[stage] > furthest.get(rid, (pid, -1))[1]:
            furthest[rid] = (pid, order[stage])
    out = []
    for step in framework.stages:
        i = order[step.id]
        reached = [pid for pid, top in furthest.values() if top >= i]
        people = len(set(reached))
        out.append(
            {
                "cycle": step.id,
                "label": step.label,
                "stories": shown(len(reached), people, min_n),
                "people": shown(people, people, min_n),
            }
        )
    return pd.DataFrame(out, columns=columns, dtype=object)


# -- the person's sessions and commitments (person record) --------------------------------------
@dataclass(frozen=True)
class PersonSessions:
    attended: pd.DataFrame  # session_id, starts_at, community, topic, roles (list of role ids)
    commitments: pd.DataFrame  # text, made_at (session start), topic, tried, followup_text,
    #                             followed_up_at


def person_sessions(store: Store, who: Person | None, period: Period) -> PersonSessions:
    """Sessions the person joined that started in the period, with the roles they held, and
    the commitments they made at them with their own follow-up. Theirs only."""
    from cop_widgets.store.schema import (
        attendance,
        commitment,
        community,
        cop_session,
        session_role,
    )

    if who is None:
        empty = pd.DataFrame()
        return PersonSessions(empty, empty)
    s = cop_session.c
    attended = _read(
        store,
        select(s.id.label("session_id"), s.starts_at, community.c.name.label("community"), s.topic)
        .join(attendance, attendance.c.session_id == s.id)
        .join(community, community.c.id == s.community_id)
        .where(attendance.c.person_id == who.id, period.where(s.starts_at))
        .order_by(s.starts_at, s.id),
    )
    held: dict[str, list[str]] = {sid: [] for sid in attended["session_id"]}
    if held:
        with store.read() as conn:
            for sid, role in conn.execute(
                select(session_role.c.session_id, session_role.c.role_id)
                .where(
                    session_role.c.person_id == who.id,
                    session_role.c.session_id.in_(list(held)),
                )
                .order_by(session_role.c.role_id)
            ).all():
                held[sid].append(role)
    attended["roles"] = [held[sid] for sid in attended["session_id"]]
    c = commitment.c
    commitments = _read(
        store,
        select(
            c.text,
            s.starts_at.label("made_at"),
            s.topic,
            c.tried,
            c.followup_text,
            c.followed_up_at,
        )
        .join(cop_session, s.id == c.session_id)
        .where(c.person_id == who.id, period.where(s.starts_at))
        .order_by(s.starts_at, c.created_at, c.id),
    )
    return PersonSessions(attended, commitments)
