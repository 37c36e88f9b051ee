"""What the community growth report holds (what any member may see): pandas reads with every
filter in SQL; counts only, never text, names or ids — but for one opt-in: the value-creation
stories their authors shared with the community (``shared_value_stories``), without names or
dates, each checked again for identifiers.

Report parameters are ids and ISO dates only (``check_id``, ``parse_period``); nothing a person
typed is ever a parameter.

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
from typing import NamedTuple

import pandas as pd
from sqlalchemy import and_, distinct, exists, func, or_, select

from cop_widgets.content.roles import LEADING_ROLES, SESSION_ROLES
from cop_widgets.deidentify import find_identifiers
from cop_widgets.errors import RecordNotFound
from cop_widgets.reports.common_data import SECONDARY, FigureValue, is_hidden
from cop_widgets.reports.params import DEFAULT_MIN_N, Period, check_id, check_min_n
from cop_widgets.services import policy
from cop_widgets.store import Store
from cop_widgets.store.schema import (
    discussion,
    discussion_rating,
    discussion_role,
    reflection,
    reflection_answer,
)

COUNTED_VISIBILITIES = ("community", "aggregate_only")


# -- community growth ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RatingDistribution:
    protocol_id: str
    phase_id: str
    people: int | None  # None: fewer than min_n people rated
    ratings: int | None
    counts: dict[int, int] | None  # value -> how many; None when suppressed


# The columns of each frame, in order: read a frame's rows with common_data.frame_rows(frame,
# Row). A figure is None below the minimum N; one of figures adding up to a total may also be
# SECONDARY (protect_sum).
class ReflectionMonthRow(NamedTuple):
    month: str  # YYYY-MM
    reflections: FigureValue
    people: int | None


class DiscussionMonthRow(NamedTuple):
    month: str
    discussions: FigureValue


class FrameworkRow(NamedTuple):
    framework_id: str
    reflections: FigureValue
    people: int | None


class ProtocolRow(NamedTuple):
    protocol_id: str
    discussions: FigureValue


class RoleRotationRow(NamedTuple):
    role_id: str
    discussions: int | None
    people: int | None


@dataclass(frozen=True)
class CommunityGrowth:
    period: Period
    min_n: int
    totals: dict[str, int | None]  # reflections, people, discussions
    reflections_by_month: pd.DataFrame  # ReflectionMonthRow
    discussions_by_month: pd.DataFrame  # DiscussionMonthRow
    frameworks: pd.DataFrame  # FrameworkRow
    protocols: pd.DataFrame  # ProtocolRow
    roles: pd.DataFrame  # RoleRotationRow
    ratings: tuple[RatingDistribution, ...]


def shown(value: int, base: int, min_n: int) -> int | None:
    """The figure, or None when it is built from 1 to min_n - 1 people (or discussions): the
    policy's small-group rule."""
    return policy.figure_or_none(value, base, min_n)


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
        raise RecordNotFound("community", cid)
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
        disc_months: dict[str, int] = dict(  # month -> discussions
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
                .where(in_period, discussion_role.c.role_id.in_(LEADING_ROLES))
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
            for role, row in ((role, role_rows.get(role)) for role in LEADING_ROLES)
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


def session_item_sets(store: Store) -> dict:
    """The check-in and check-out item sets (a broken file is an error, named)."""
    from cop_widgets.reports.session_data import item_sets_and_protocols

    return item_sets_and_protocols(store)[0]


# -- sessions in the community growth report -----------------------------------------------------
class SessionMonthRow(NamedTuple):
    month: str  # YYYY-MM
    sessions: int
    attendances: int
    people: int | None  # None below the minimum N


class SessionRoleRow(NamedTuple):
    role_id: str
    sessions: int
    people: int


class ConfidenceMonthRow(NamedTuple):
    month: str
    before: float | None  # the mean; None from fewer than min_n answers
    after: float | None
    n_before: int
    n_after: int


class ValueStoryRow(NamedTuple):
    cycle: str  # the value-creation story's step id
    label: str
    stories: FigureValue  # stories whose furthest cycle this is; None below the minimum N
    people: FigureValue


@dataclass(frozen=True)
class ConfidenceTrend:
    key: str  # the compare key shared by a check-in and a check-out item
    label: str  # the check-out item's prompt
    months: pd.DataFrame  # ConfidenceMonthRow


@dataclass(frozen=True)
class SessionGrowth:
    by_month: pd.DataFrame  # SessionMonthRow
    totals: dict[str, int | None]  # sessions, attendances, people
    roles: pd.DataFrame  # SessionRoleRow
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
        sessions: dict[str, int] = dict(  # month -> sessions
            conn.execute(select(month, func.count()).where(held).group_by(month)).all()
        )
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
        ).scalar_one()
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
        # the sum, not avg(): PostgreSQL's avg of integers is a numeric (Decimal), SQLite's a
        # float; whole numbers on both, divided here, give the same mean on each
        answers = conn.execute(
            select(month, r.item_set, r.item_id, func.count(), func.sum(r.value_int))
            .join(cop_session, s.id == r.session_id)
            .where(held, r.value_int.is_not(None))
            .group_by(month, r.item_set, r.item_id)
        ).all()

    rows: list[SessionMonthRow] = []
    for m in period.months:
        a = attended.get(m)
        people = a.people if a else 0
        rows.append(
            SessionMonthRow(
                month=m,
                sessions=int(sessions.get(m, 0)),
                attendances=int(a.n) if a else 0,
                people=shown(people, people, min_n),
            )
        )

    held_roles = {role: (n, people) for role, n, people in role_rows}
    roles = pd.DataFrame(
        [
            {
                "role_id": role,
                "sessions": held_roles.get(role, (0, 0))[0],
                # role holders are named in the room: counting them hides nothing
                "people": held_roles.get(role, (0, 0))[1],
            }
            for role, _label in SESSION_ROLES
        ],
        dtype=object,
    )
    means = {(m, set_id, item): (n, int(total) / n) for m, set_id, item, n, total in answers}
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
                    "before": round(mean_b, 2) if policy.large_enough(n_b, min_n) else None,
                    "after": round(mean_a, 2) if policy.large_enough(n_a, min_n) else None,
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
            "sessions": sum(row.sessions for row in rows),
            "attendances": sum(row.attendances for row in rows),
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
) -> pd.DataFrame:
    """Stories shared with the community (or as aggregates) in the period, counted by the
    furthest cycle of value each reached: a story reaches a cycle when that step has an answer
    (not passed, not blank). A story told in versions (an intention, completed weeks later:
    services/value_stories.py) counts once, at the furthest cycle its counted versions reached;
    one that reached none (every step passed) is not counted. The rows add up to the stories
    counted: a row from fewer than min_n people is None and protect_sum hides another with it
    (SECONDARY, its people too). Empty frame when the framework file is missing. Rows:
    ValueStoryRow."""
    columns = list(ValueStoryRow._fields)
    if framework is None:
        return pd.DataFrame(columns=columns)
    check_min_n(min_n)
    order = {step.id: i for i, step in enumerate(framework.stages)}
    furthest = {
        story: (pid, top) for story, (pid, top, _rid) in _furthest_cycles(
            store, period, community_id, order
        ).items()
    }  # fmt: skip
    counts = []
    for step in framework.stages:
        authors = [pid for pid, top in furthest.values() if top == order[step.id]]
        counts.append((len(authors), len(set(authors))))
    figures = protect_sum([shown(n, people, min_n) for n, people in counts])
    out = [
        ValueStoryRow(
            cycle=step.id,
            label=step.label,
            stories=value,
            people=SECONDARY if value is SECONDARY else shown(people, people, min_n),
        )
        for step, value, (_n, people) in zip(framework.stages, figures, counts, strict=True)
    ]
    return pd.DataFrame(out, columns=columns, dtype=object)


def _furthest_cycles(
    store: Store, period: Period, community_id: str | None, order: dict[str, int]
) -> dict[str, tuple[str, int, str]]:
    """For each counted story (keyed by its first version): its author, the index of the
    furthest cycle any counted version reached, and its newest counted version."""
    r, a = reflection.c, reflection_answer.c
    with store.read() as conn:
        counted = conn.execute(
            select(r.id, r.person_id, r.version_no).where(
                _counted(period, community_id), r.framework_id == VALUE_STORY
            )
        ).all()
        answers = conn.execute(
            select(a.reflection_id, a.stage_id, a.text, a.passed)
            .join(reflection, a.reflection_id == r.id)
            .where(_counted(period, community_id), r.framework_id == VALUE_STORY)
        ).all()
        earlier = dict(
            conn.execute(
                select(r.id, r.version_of).where(
                    r.framework_id == VALUE_STORY, r.version_of.is_not(None)
                )
            ).all()
        )
    reached: dict[str, int] = {}
    for rid, stage, text, passed in answers:
        if not passed and (text or "").strip() and stage in order:
            reached[rid] = max(reached.get(rid, -1), order[stage])
    stories: dict[str, tuple[str, int, str, int]] = {}
    for rid, pid, version in counted:
        first = _first_version(rid, earlier)
        _pid, top, newest, newest_no = stories.get(first, (pid, -1, rid, version))
        if version >= newest_no:
            newest, newest_no = rid, version
        stories[first] = (pid, max(top, reached.get(rid, -1)), newest, newest_no)
    return {
        first: (pid, top, newest) for first, (pid, top, newest, _no) in stories.items() if top >= 0
    }


def _first_version(reflection_id: str, earlier: dict[str, str]) -> str:
    """The first version of a reflection, following version_of links (never in a loop)."""
    seen = {reflection_id}
    while (before := earlier.get(reflection_id)) is not None and before not in seen:
        seen.add(before)
        reflection_id = before
    return reflection_id


@dataclass(frozen=True)
class SharedStory:
    """One value-creation story as its author shared it: no name, no date."""

    furthest: str  # the label of the furthest cycle it reached
    furthest_index: int  # that cycle's place in the model (0: the first)
    cycles: tuple[tuple[str, str], ...]  # (cycle label, text) of each cycle it answered


@dataclass(frozen=True)
class SharedStories:
    stories: tuple[SharedStory, ...]
    withheld: int  # stories held back: the check found a possible identifier in them


MAX_SHARED_STORIES = 60


def shared_value_stories(
    store: Store,
    period: Period,
    framework,
    community_id: str | None = None,
    limit: int = MAX_SHARED_STORIES,
) -> SharedStories:
    """The text of the stories their authors shared with the community (visibility
    "community"; "counted in summaries only" stays a count), when the report is asked to
    include them: each story's newest counted version, without its author's name or any date,
    the furthest cycles first. Every text passes the de-identification check again here, as
    a session report's text does: a story with a possible identifier is withheld (counted)."""
    if framework is None:
        return SharedStories((), 0)
    order = {step.id: i for i, step in enumerate(framework.stages)}
    labels = {step.id: step.label for step in framework.stages}
    newest = {
        rid: top for _pid, top, rid in _furthest_cycles(store, period, community_id, order).values()
    }
    r, a = reflection.c, reflection_answer.c
    with store.read() as conn:
        shared = set(
            conn.execute(
                select(r.id).where(r.id.in_(list(newest)), r.visibility == "community")
            ).scalars()
        )
        texts = conn.execute(
            select(a.reflection_id, a.stage_id, a.text).where(
                a.reflection_id.in_(list(shared)), a.passed.is_(False)
            )
        ).all()
    told: dict[str, dict[str, str]] = {}
    for rid, stage, text in texts:
        if stage in order and (text or "").strip():
            told.setdefault(rid, {})[stage] = text.strip()
    stories, withheld = [], 0
    for rid in shared:
        cycles = told.get(rid, {})
        if any(find_identifiers(text) for text in cycles.values()):
            withheld += 1
            continue
        stories.append(
            SharedStory(
                furthest=labels[framework.stages[newest[rid]].id],
                furthest_index=newest[rid],
                # every key of cycles is a step of the model (kept above only if in order)
                cycles=tuple(
                    (labels[sid], cycles[sid]) for sid in sorted(cycles, key=order.__getitem__)
                ),
            )
        )
    # the furthest first, then by their words: never by who told them or when
    stories.sort(key=lambda story: (-story.furthest_index, story.cycles))
    return SharedStories(tuple(stories[:limit]), withheld)
