"""What a session report holds (DOMAIN.md section 5.1): one CoP session, as the group may see it.

Read with every filter in SQL; the privacy rules of a report the facilitator sends to the group:
- Attendance and role holders are the room's own record: counts, and the names of the people who
  facilitated, presented, kept time and took notes. Nobody else is named.
- Check-in and check-out answers appear only as aggregates, and only when at least ``min_n``
  people answered that item (``None`` here, "fewer than N — not shown" on the page); words and
  resources, shown as written, only when at least ``min_n`` people sent the check-out. Check-in
  items appear only as the "before" half of a comparison (``compare``); wellbeing never does.
  Private items (the debrief) and commitments' text never appear: commitments are counted.
- Text in the report is limited to what was meant to leave the room: the notes of the phases a
  protocol marks ``insight`` (the group's agreed learning, never the case itself), the actions,
  and anonymous check-out answers marked ``report: words`` (key themes) or ``report: list``
  (resources shared). Each text is run through the de-identification check first; a text with a
  likely identifier is withheld and counted, so the report says how many were held back.
"""

from __future__ import annotations

import functools
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from cop_widgets.content.session_items import ItemSet
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.deidentify import find_identifiers
from cop_widgets.errors import InvalidInput, RecordNotFound
from cop_widgets.reports.params import DEFAULT_MIN_N, check_id, check_min_n
from cop_widgets.services import policy
from cop_widgets.services.board import top_words
from cop_widgets.store import Store
from cop_widgets.store.schema import (
    attendance,
    commitment,
    community,
    cop_session,
    discussion,
    discussion_action,
    discussion_note,
    person,
    session_answered,
    session_response,
    session_role,
)

if TYPE_CHECKING:  # the annotation only: protocols are loaded where the files are read
    from cop_widgets.content.protocols import Protocol

CHECKIN, CHECKOUT = "checkin", "checkout"
TRIED = ("yes", "partly", "no")
THEME_WORDS = 10


@dataclass(frozen=True)
class Scale:
    """One scale item's answers: n always; the distribution only when n >= min_n."""

    item_id: str
    prompt: str
    low: int
    high: int
    low_label: str
    high_label: str
    n: int
    counts: dict[int, int] | None  # value -> answers; None below min_n

    @property
    def shown(self) -> bool:
        return self.counts is not None

    @property
    def mean(self) -> float | None:
        if not self.counts:
            return None
        return sum(v * c for v, c in self.counts.items()) / sum(self.counts.values())

    @property
    def median(self) -> float | None:
        if not self.counts:
            return None
        return statistics.median(v for v, c in self.counts.items() for _ in range(c))


@dataclass(frozen=True)
class Comparison:
    key: str
    before: Scale  # check-in ("thinking back to before today")
    after: Scale  # check-out ("now")


@dataclass(frozen=True)
class DiscussionRun:
    id: str
    protocol_id: str
    protocol_name: str
    status: str
    content_note: str
    summary_checked: bool
    opened_at: str
    ended_at: str  # closed_at, else the last change
    phases_reached: int  # phases begun (the current one included)
    phase_count: int
    finished: bool


@dataclass(frozen=True)
class Insight:
    protocol_name: str
    phase_label: str
    text: str


@dataclass(frozen=True)
class ActionItem:
    description: str
    owner: str
    due_date: str | None


@dataclass
class TextCheck:
    """The de-identification check of every text the report would carry."""

    checked: int = 0
    withheld: int = 0

    def keep(self, text: str) -> bool:
        self.checked += 1
        if find_identifiers(text):
            self.withheld += 1
            return False
        return True


@dataclass(frozen=True)
class SessionReport:
    session_id: str
    community_name: str
    community_domain: str
    number: int  # this session's place in its community's series (1 = first)
    series_length: int
    topic: str
    focus_question: str
    starts_at: datetime
    duration_minutes: int
    status: str
    planned_protocol_id: str | None
    planned_protocol_name: str
    planned_phases: tuple[tuple[str, int], ...]  # (label, minutes) of the planned protocol
    min_n: int
    attended: int
    members: int  # people who had come to any session of the community by this one
    first_time: int  # attendees for whom this was their first session in the community
    roles: dict[str, str]  # role id -> display name
    checked_in: int
    checked_out: int
    reaction: tuple[Scale, ...]
    confidence: tuple[Comparison, ...]
    themes: tuple[tuple[str, int], ...] | None  # None below min_n
    themes_n: int
    resources: tuple[str, ...] | None  # None below min_n
    resources_n: int
    commitments: int
    followups: dict[str, int] | None  # tried -> count; None below min_n
    followups_n: int
    discussions: tuple[DiscussionRun, ...]
    insights: tuple[Insight, ...]
    actions: tuple[ActionItem, ...]
    text_check: TextCheck = field(default_factory=TextCheck)
    next_session: tuple[datetime, str] | None = None

    @property
    def answered_any(self) -> bool:
        return bool(self.checked_in or self.checked_out)


def _scale(item, values: list[int], min_n: int) -> Scale:
    counts = None
    if values and policy.large_enough(len(values), min_n):
        tally = Counter(values)
        counts = {v: tally.get(v, 0) for v in range(item.min, item.max + 1)}
    return Scale(
        item.id,
        item.prompt,
        item.min,
        item.max,
        item.low_label,
        item.high_label,
        len(values),
        counts,
    )


def session_ids_between(store: Store, date_from: str, date_to_exclusive: str) -> list[str]:
    """Sessions that started in [date_from, date_to_exclusive) (ISO dates), in order; one
    still to come has nothing to report yet."""
    s = cop_session.c
    now = datetime.now(UTC).isoformat()
    with store.read() as conn:
        return list(
            conn.execute(
                select(s.id)
                .where(
                    s.starts_at >= date_from, s.starts_at < date_to_exclusive, s.starts_at <= now
                )
                .order_by(s.starts_at, s.id)
            ).scalars()
        )


def find_session(store: Store, id_or_code: str) -> str:
    """A session id from an id or a join code (any case); RecordNotFound otherwise."""
    text = (id_or_code or "").strip()
    s = cop_session.c
    with store.read() as conn:
        row = conn.execute(select(s.id).where(s.id == text.lower())).first()
        if row is None and text:
            row = conn.execute(select(s.id).where(s.join_code == text.upper())).first()
    if row is None:
        raise InvalidInput(
            "session",
            f"No session has the id or join code {text!r}. The community app lists every "
            "session of a community with its join code.",
        )
    return row.id


def session_report(
    store: Store,
    session_id: str,
    item_sets: dict[str, ItemSet],
    protocols: Catalogue[Protocol],
    min_n: int = DEFAULT_MIN_N,
) -> SessionReport:
    sid, min_n = check_id(session_id, "session_id"), check_min_n(min_n)
    s, a = cop_session.c, attendance.c
    with store.read() as conn:
        row = conn.execute(
            select(cop_session, community.c.name.label("cop_name"), community.c.domain)
            .join(community, community.c.id == s.community_id)
            .where(s.id == sid)
        ).first()
        if row is None:
            raise RecordNotFound("session", sid)
        series = conn.execute(
            select(s.id, s.starts_at, s.topic, s.status)
            .where(s.community_id == row.community_id)
            .order_by(s.starts_at, s.id)
        ).all()
        in_community = select(s.id).where(s.community_id == row.community_id)
        attended = conn.execute(
            select(func.count()).select_from(attendance).where(a.session_id == sid)
        ).scalar_one()
        first_seen = (
            select(a.person_id, func.min(cop_session.c.starts_at).label("first"))
            .join(cop_session, cop_session.c.id == a.session_id)
            .where(a.session_id.in_(in_community))
            .group_by(a.person_id)
            .subquery()
        )
        # members up to this session: a report on an old session stays as it was
        members = conn.execute(
            select(func.count()).select_from(first_seen).where(first_seen.c.first <= row.starts_at)
        ).scalar_one()
        first_time = conn.execute(
            select(func.count())
            .select_from(first_seen)
            .join(attendance, attendance.c.person_id == first_seen.c.person_id)
            .where(attendance.c.session_id == sid, first_seen.c.first == row.starts_at)
        ).scalar_one()
        roles = dict(
            conn.execute(
                select(session_role.c.role_id, person.c.display_name)
                .join(person, person.c.id == session_role.c.person_id)
                .where(session_role.c.session_id == sid)
                .order_by(session_role.c.role_id)
            ).all()
        )
        answered: dict[str, int] = dict(  # item set -> people who sent it
            conn.execute(
                select(session_answered.c.item_set, func.count())
                .where(session_answered.c.session_id == sid)
                .group_by(session_answered.c.item_set)
            ).all()
        )
        r = session_response.c
        scale_rows = conn.execute(
            select(r.item_set, r.item_id, r.value_int).where(
                r.session_id == sid, r.value_int.is_not(None)
            )
        ).all()
        text_rows = conn.execute(
            select(r.item_set, r.item_id, r.value_text)
            .where(r.session_id == sid, r.value_text.is_not(None))
            .order_by(r.id)  # random ids: the order says nothing about who answered when
        ).all()
        commitments = conn.execute(
            select(func.count()).select_from(commitment).where(commitment.c.session_id == sid)
        ).scalar_one()
        followups: dict[str, int] = dict(  # tried -> commitments followed up here
            conn.execute(
                select(commitment.c.tried, func.count())
                .where(commitment.c.followup_session_id == sid, commitment.c.tried.is_not(None))
                .group_by(commitment.c.tried)
            ).all()
        )
        d = discussion.c
        runs = conn.execute(
            select(
                d.id,
                d.protocol_id,
                d.status,
                d.content_note,
                d.summary_checked,
                d.created_at,
                d.updated_at,
                d.closed_at,
                d.phase_index,
                d.clock_status,
            )
            .where(d.session_id == sid)
            .order_by(d.created_at, d.id)
        ).all()
        run_ids = [run.id for run in runs]
        notes = conn.execute(
            select(
                discussion_note.c.discussion_id,
                discussion_note.c.phase_id,
                discussion_note.c.text,
            )
            .where(discussion_note.c.discussion_id.in_(run_ids))
            .order_by(discussion_note.c.created_at, discussion_note.c.id)
        ).all()
        actions = conn.execute(
            select(
                discussion_action.c.discussion_id,
                discussion_action.c.description,
                discussion_action.c.owner,
                discussion_action.c.due_date,
            )
            .where(discussion_action.c.discussion_id.in_(run_ids))
            .order_by(discussion_action.c.created_at, discussion_action.c.id)
        ).all()

    values: dict[tuple[str, str], list[int]] = {}
    for set_id, item_id, value in scale_rows:
        values.setdefault((set_id, item_id), []).append(int(value))
    texts: dict[tuple[str, str], list[str]] = {}
    for set_id, item_id, text in text_rows:
        texts.setdefault((set_id, item_id), []).append(text)

    checkin, checkout = item_sets.get(CHECKIN), item_sets.get(CHECKOUT)
    before = {i.compare: i for i in (checkin.items if checkin else ()) if i.compare}
    reaction, confidence = [], []
    check = TextCheck()
    themes = resources = None
    themes_n = resources_n = 0
    for item in checkout.items if checkout else ():
        if item.private:
            continue
        if item.kind == "scale":
            after = _scale(item, values.get((CHECKOUT, item.id), []), min_n)
            if item.compare and item.compare in before:
                then = before[item.compare]
                confidence.append(
                    Comparison(
                        item.compare, _scale(then, values.get((CHECKIN, then.id), []), min_n), after
                    )
                )
            elif not item.compare:
                reaction.append(after)
        elif item.kind == "text" and item.report:
            # Who answered an item is not stored, only who sent the check-out: everyone who
            # sent it could have written any one answer, so that is the group that must be
            # at least min_n.
            answers = texts.get((CHECKOUT, item.id), [])
            enough = policy.large_enough(answered.get(CHECKOUT, 0), min_n)
            if item.report == "words":
                themes_n += len(answers)
                if answers and enough:
                    themes = tuple(top_words([t for t in answers if check.keep(t)], THEME_WORDS))
            else:
                resources_n += len(answers)
                if answers and enough:
                    resources = tuple(sorted({t for t in answers if check.keep(t)}, key=str.lower))

    def protocol_name(pid: str | None) -> str:
        found = protocols.get(pid) if pid else None
        return found.name if found else (pid or "")

    planned = protocols.get(row.protocol_id) if row.protocol_id else None
    runs_out, insight_out = [], []
    by_run = {}
    for run in runs:
        proto = protocols.get(run.protocol_id)
        phases = proto.phases if proto else ()
        by_run[run.id] = proto
        runs_out.append(
            DiscussionRun(
                id=run.id,
                protocol_id=run.protocol_id,
                protocol_name=protocol_name(run.protocol_id),
                status=run.status,
                content_note=run.content_note,
                summary_checked=bool(run.summary_checked),
                opened_at=run.created_at,
                ended_at=run.closed_at or run.updated_at,
                phases_reached=0 if run.clock_status == "not_started" else run.phase_index + 1,
                phase_count=len(phases),
                finished=run.clock_status == "finished",
            )
        )
    for did, phase_id, text in notes:
        proto = by_run.get(did)
        phase = next((p for p in proto.phases if p.id == phase_id), None) if proto else None
        if proto is None or phase is None or not phase.insight or not text.strip():
            continue
        if check.keep(text):
            insight_out.append(Insight(proto.name, phase.label, text.strip()))
    action_out = []
    for _did, description, owner, due in actions:
        if check.keep(description):
            action_out.append(ActionItem(description, owner, due))

    ordered = [x.id for x in series]
    later = [x for x in series if x.starts_at > row.starts_at and x.status != "closed"]
    followups_n = sum(followups.values())
    return SessionReport(
        session_id=sid,
        community_name=row.cop_name,
        community_domain=row.domain,
        number=ordered.index(sid) + 1,
        series_length=len(ordered),
        topic=row.topic,
        focus_question=row.focus_question,
        starts_at=datetime.fromisoformat(row.starts_at).astimezone(UTC),
        duration_minutes=row.duration_minutes,
        status=row.status,
        planned_protocol_id=row.protocol_id,
        planned_protocol_name=protocol_name(row.protocol_id),
        planned_phases=tuple((p.label, p.minutes) for p in planned.phases) if planned else (),
        min_n=min_n,
        attended=attended,
        members=members,
        first_time=first_time,
        roles=roles,
        checked_in=answered.get(CHECKIN, 0),
        checked_out=answered.get(CHECKOUT, 0),
        reaction=tuple(reaction),
        confidence=tuple(confidence),
        themes=themes,
        themes_n=themes_n,
        resources=resources,
        resources_n=resources_n,
        commitments=commitments,
        followups=(
            {t: followups.get(t, 0) for t in TRIED}
            if policy.large_enough(followups_n, min_n)
            else None
        ),
        followups_n=followups_n,
        discussions=tuple(runs_out),
        insights=tuple(insight_out),
        actions=tuple(action_out),
        text_check=check,
        next_session=(
            (datetime.fromisoformat(later[0].starts_at).astimezone(UTC), later[0].topic)
            if later
            else None
        ),
    )


def latest_session(store: Store) -> str:
    """The most recent session that has started (the template's default when run bare)."""
    s = cop_session.c
    now = datetime.now(UTC).isoformat()
    with store.read() as conn:
        found = conn.execute(
            select(s.id).where(s.starts_at <= now).order_by(s.starts_at.desc(), s.id).limit(1)
        ).scalar()
    if found is None:
        raise RecordNotFound("session", "(none has started yet)")
    return found


def item_sets_and_protocols(store: Store) -> tuple[dict[str, ItemSet], Catalogue[Protocol]]:
    """(check-in/out item sets, protocols) from the content folders of the store's settings,
    read again only when a file there changed (a batch renders many reports in one kernel)."""
    settings = store.settings
    folders = (settings.data_dir / "session_items", settings.protocols_dir)
    return _catalogues(folders, tuple(_signature(f) for f in folders))


def _signature(folder) -> tuple:
    return tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.yaml"))
    )


@functools.lru_cache(maxsize=4)
def _catalogues(folders, _signatures) -> tuple[dict[str, ItemSet], Catalogue[Protocol]]:
    from cop_widgets.content.protocols import load_protocols
    from cop_widgets.content.session_items import load_item_sets

    item_sets, problems = load_item_sets(folders[0])
    if problems:
        raise problems[0]  # names the file and the field: a report must not silently lose items
    return item_sets, load_protocols(folders[1])
