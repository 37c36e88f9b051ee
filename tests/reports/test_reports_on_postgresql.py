"""Every report reads the same from PostgreSQL as from SQLite: one store seeded through the
services (the person record's and community report's seed, a room's session with its series,
value stories), copied row for row into PostgreSQL (`cop data migrate`'s copy_store: the same
ids and times), and each report's data compared, value by value and type by type (an avg()
that came back as a Decimal, a month grouped differently or a date compared as something else
would show here), for every person, community, session and minimum N.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from cop_widgets.reports import community_data, person_data, session_data
from cop_widgets.reports.params import parse_period
from cop_widgets.services.report_access import report_stem
from cop_widgets.store import open_store
from cop_widgets.store.schema import community, cop_session, person
from cop_widgets.store.transfer import copy_store
from tests.reports.test_person_and_community_reports import seed
from tests.reports.test_session_report import seed_room
from tests.reports.test_value_stories_report import story, told  # noqa: F401 - fixtures

# 1 shows every figure (what is hidden at a larger minimum N is worked out in Python from them);
# 5, the default, hides some
MIN_NS = (1, 5)


def _same(a, b, where: str = "") -> None:
    """a and b hold the same values of the same types (frames column by column, cell by
    cell: pandas' own comparison would take Decimal("3") for 3.0)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} against {type(b).__name__}"
    if isinstance(a, pd.DataFrame):
        assert list(a.columns) == list(b.columns), where
        assert list(a.dtypes) == list(b.dtypes), f"{where}: {a.dtypes} against {b.dtypes}"
        for column in a.columns:
            _same(list(a[column]), list(b[column]), f"{where}.{column}")
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} against {list(b)}"
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), f"{where}: {len(a)} against {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} against {b!r}"


@pytest.fixture
def both(store, rolfe, told, pg_settings):  # noqa: F811 - told: the value stories' fixture
    """(SQLite store, PostgreSQL store) holding the same rows."""
    seed(store, rolfe)
    seed_room(store)
    pg = open_store(pg_settings)
    try:
        copy_store(store, pg)
        yield store, pg
    finally:
        pg.dispose()


def _ids(store, table) -> list[str]:
    with store.read() as conn:
        return sorted(conn.execute(table.select().with_only_columns(table.c.id)).scalars())


def test_every_report_reads_the_same_from_both_stores(both, story):  # noqa: F811
    lite, pg = both
    today = datetime.now(UTC).date()
    periods = [
        parse_period("2026-01-01", "2026-03-31"),  # the backdated reflections and discussions
        parse_period(date(2025, 12, 1).isoformat(), today.isoformat()),  # all of it
    ]
    people, communities = _ids(lite, person), _ids(lite, community)
    sessions = _ids(lite, cop_session)
    assert (people, communities, sessions) == (
        _ids(pg, person),
        _ids(pg, community),
        _ids(pg, cop_session),
    )
    assert len(people) >= 20 and len(communities) == 2 and len(sessions) == 3
    item_sets, protocols = session_data.item_sets_and_protocols(lite)

    for period in periods:
        # the person record, for everyone (read as that person)
        for pid in people:
            who = person_data.report_person(lite, pid)
            _same(person_data.report_person(pg, pid), who, "report_person")
            for read in (person_data.person_record, person_data.person_sessions):
                _same(read(lite, who, period), read(pg, who, period), f"{read.__name__} {pid}")
        # community growth (sessions, value stories and the stories shared too), every
        # community and all of them, at each minimum N
        for cid in [None, *communities]:
            _same(community_data.community_name(lite, cid), community_data.community_name(pg, cid))
            for min_n in MIN_NS:
                where = f"{period.label} {cid} min_n={min_n}"
                for read in (community_data.community_growth, community_data.value_stories):
                    args = (story,) if read is community_data.value_stories else ()
                    _same(
                        read(lite, period, *args, min_n=min_n, community_id=cid),
                        read(pg, period, *args, min_n=min_n, community_id=cid),
                        f"{read.__name__} {where}",
                    )
                _same(
                    community_data.session_growth(lite, period, item_sets, min_n, cid),
                    community_data.session_growth(pg, period, item_sets, min_n, cid),
                    f"session_growth {where}",
                )
            _same(
                community_data.shared_value_stories(lite, period, story, cid),
                community_data.shared_value_stories(pg, period, story, cid),
                f"shared_value_stories {period.label} {cid}",
            )
        # all-sessions: the sessions of the period
        _same(
            session_data.session_ids_between(lite, period.lo, period.hi),
            session_data.session_ids_between(pg, period.lo, period.hi),
            "session_ids_between",
        )

    # the session report of each session (and the latest, a template run's default)
    _same(session_data.latest_session(lite), session_data.latest_session(pg), "latest_session")
    for sid in sessions:
        for min_n in MIN_NS:
            _same(
                session_data.session_report(lite, sid, item_sets, protocols, min_n),
                session_data.session_report(pg, sid, item_sets, protocols, min_n),
                f"session_report {sid} min_n={min_n}",
            )
        params = {"session_id": sid}
        _same(
            report_stem(lite, "session_report", params), report_stem(pg, "session_report", params)
        )
    # the figures compared are not all empty: the seeds reach every part
    full = periods[1]
    growth = community_data.community_growth(pg, full, 1)
    assert growth.totals["reflections"] and growth.ratings and len(growth.roles)
    trends = community_data.session_growth(pg, full, item_sets, 1).confidence
    assert any(trend.months["after"].notna().any() for trend in trends)
    assert community_data.shared_value_stories(pg, full, story).stories
    reports = [session_data.session_report(pg, sid, item_sets, protocols, 1) for sid in sessions]
    assert max(r.attended for r in reports) == 8 and any(r.insights for r in reports)
