"""HTML pieces of the community growth report (reports/notebooks/community_growth.ipynb).

Same rules as common_blocks.py, whose helpers these use: every stored or typed value is escaped,
each chart is an embedded PNG with an alt text and a table of the same figures, a figure below
the minimum N reads "fewer than N — not shown".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from cop_widgets.content.roles import ROLE_LABELS
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.reports import community_data
from cop_widgets.reports.common_blocks import (
    bar_chart,
    figure,
    monthly_chart,
    protocol_name,
    report_header,
)
from cop_widgets.reports.common_data import frame_rows
from cop_widgets.reports.html import (
    AFTER_COLOUR,
    BAR_COLOUR,
    SECONDARY_TEXT,
    SVG,
    Block,
    Series,
    chart,
    esc,
    line_svg,
    para,
    suppressed,
    table,
    user,
)
from cop_widgets.reports.params import Period, month_label

if TYPE_CHECKING:  # annotations only: the content modules are loaded by whoever reads the files
    from cop_widgets.content.frameworks import Framework
    from cop_widgets.content.protocols import Protocol


def community_header(
    period: Period, min_n: int, community: str | None = None, stories: bool = False
) -> Block:
    """`community`: the name of the one community the report covers (None: every one);
    `stories`: the report includes the value-creation stories shared with the community."""
    what = (
        "Counts, and the value-creation stories their authors shared with the community "
        "(without names or dates, each checked again for identifiers); no other text."
        if stories
        else "Counts only: no reflection text, no names."
    )
    return report_header(
        "Community growth",
        period,
        [
            f"{what} Reflections are counted when their "
            "authors shared them with the community or chose 'counted in summaries only'; "
            "private reflections and those shared only with a supervisor or facilitator are "
            "not counted.",
            (
                f"A figure built from fewer than {min_n} people (or, for discussions, fewer "
                f"than {min_n} discussions) is written '{suppressed(min_n)}'. When one "
                "figure of a list that adds up to a total is hidden, another is hidden too, "
                f"written '{SECONDARY_TEXT}'."
                if min_n > 1
                else "Minimum N is 1: no figure is suppressed. Share this report with care."
            ),
        ],
        community,
    )


def community_participation(
    growth: community_data.CommunityGrowth, frameworks: Catalogue[Framework]
) -> Block:
    g, n = growth, growth.min_n
    out = ['<section class="cop-section"><h2>Reflections</h2>']
    t = g.totals
    out.append(
        para(
            f'<span data-figure="reflections">{figure(t["reflections"], n)}</span> reflections '
            f'counted, by <span data-figure="people">{figure(t["people"], n)}</span> people.'
        )
    )
    months = list(g.reflections_by_month["month"])
    values = list(g.reflections_by_month["reflections"])
    if t["reflections"] == 0:
        out.append(para("No reflections were counted in this period."))
    else:
        out.append(monthly_chart(months, values, "reflections submitted", n))
        out.append(
            table(
                "reflections-by-month",
                "Reflections submitted and people taking part, per month",
                [("month", "Month"), ("reflections", "Reflections"), ("people", "People")],
                [
                    (
                        r.month,
                        month_label(r.month),
                        {"reflections": figure(r.reflections, n), "people": figure(r.people, n)},
                    )
                    for r in frame_rows(g.reflections_by_month, community_data.ReflectionMonthRow)
                ],
            )
        )
    if len(g.frameworks):
        out.append(
            table(
                "models",
                "Reflective models used",
                [("model", "Model"), ("reflections", "Reflections"), ("people", "People")],
                [
                    (
                        r.framework_id,
                        fw.name if (fw := frameworks.get(r.framework_id)) else r.framework_id,
                        {"reflections": figure(r.reflections, n), "people": figure(r.people, n)},
                    )
                    for r in frame_rows(g.frameworks, community_data.FrameworkRow)
                ],
            )
        )
    out.append("</section>")
    return Block("".join(out))


def community_discussions(
    growth: community_data.CommunityGrowth, protocols: Catalogue[Protocol]
) -> Block:
    g, n = growth, growth.min_n
    out = ['<section class="cop-section"><h2>Case discussions</h2>']
    out.append(
        para(
            f'<span data-figure="discussions">{figure(g.totals["discussions"], n)}</span> '
            "case discussions were started in this period."
        )
    )
    months = list(g.discussions_by_month["month"])
    values = list(g.discussions_by_month["discussions"])
    if g.totals["discussions"] != 0:
        out.append(monthly_chart(months, values, "discussions started", n))
        out.append(
            table(
                "discussions-by-month",
                "Case discussions started per month",
                [("month", "Month"), ("discussions", "Discussions")],
                [
                    (m, month_label(m), {"discussions": figure(v, n)})
                    for m, v in zip(months, values, strict=True)
                ],
            )
        )
    if len(g.protocols):
        out.append(
            table(
                "protocols",
                "Protocols most used",
                [("protocol", "Protocol"), ("discussions", "Discussions")],
                [
                    (
                        r.protocol_id,
                        protocol_name(protocols, r.protocol_id),
                        {"discussions": figure(r.discussions, n)},
                    )
                    for r in frame_rows(g.protocols, community_data.ProtocolRow)
                ],
            )
        )
    out.append("<h3>Role rotation</h3>")
    out.append(
        para(
            "How many different people held each role (from the roles named in each "
            "discussion): more people means the roles rotate."
        )
    )
    out.append(
        table(
            "role-rotation",
            "Role rotation",
            [
                ("role", "Role"),
                ("discussions", "Discussions with the role named"),
                ("people", "Different people"),
            ],
            [
                (
                    r.role_id,
                    ROLE_LABELS.get(r.role_id, r.role_id),
                    {"discussions": figure(r.discussions, n), "people": figure(r.people, n)},
                )
                for r in frame_rows(g.roles, community_data.RoleRotationRow)
            ],
        )
    )
    out.append("</section>")
    return Block("".join(out))


def community_ratings(
    growth: community_data.CommunityGrowth, protocols: Catalogue[Protocol]
) -> Block:
    g, n = growth, growth.min_n
    out = ['<section class="cop-section"><h2>Ratings on scale phases</h2>']
    if not g.ratings:
        out.append(para("No ratings were given in this period."))
    for dist in g.ratings:
        p = protocols.get(dist.protocol_id)
        phase = next((ph for ph in p.phases if ph.id == dist.phase_id), None) if p else None
        label = f"{p.name if p else dist.protocol_id}: {phase.label if phase else dist.phase_id}"
        key = f"{dist.protocol_id}/{dist.phase_id}"
        out.append(f'<article class="cop-entry" data-rating="{esc(key)}"><h3>{esc(label)}</h3>')
        if phase is not None and phase.scale is not None:
            out.append(para(esc(phase.scale.question), "cop-meta"))
        if dist.counts is None:
            out.append(
                para(
                    f'Ratings: <span class="cop-suppressed">{esc(suppressed(n))}</span> '
                    "people rated."
                )
            )
            out.append("</article>")
            continue
        lo, hi = min(dist.counts), max(dist.counts)
        if phase is not None and phase.scale is not None:
            lo, hi = min(lo, phase.scale.min), max(hi, phase.scale.max)
        scale = list(range(lo, hi + 1))
        counts = [dist.counts.get(v, 0) for v in scale]
        ordered = sorted(v for v, c in dist.counts.items() for _ in range(c))
        median = (
            ordered[len(ordered) // 2]
            if len(ordered) % 2
            else ((ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2)
        )
        summary = (
            f"{dist.ratings} ratings from {dist.people} people, from {ordered[0]} to "
            f"{ordered[-1]}; median {median:g}."
        )
        out.append(para(f'<span data-figure="ratings">{esc(summary)}</span>'))
        png = bar_chart([str(v) for v in scale], counts, "Ratings")
        out.append(
            chart(
                png,
                f"Bar chart of how many ratings gave each value from {lo} to {hi}. "
                "The figures are in the table below the chart.",
                f"Spread of ratings, {label}. {summary}",
            )
        )
        out.append(
            table(
                f"ratings-{key}",
                "Ratings given",
                [("value", "Rating"), ("count", "How many")],
                [(str(v), str(v), {"count": esc(c)}) for v, c in zip(scale, counts, strict=True)],
            )
        )
        out.append("</article>")
    out.append("</section>")
    return Block("".join(out))


def community_sessions(sessions: community_data.SessionGrowth, min_n: int) -> Block:
    """Sessions held and attended per month, session roles, and confidence before and after."""

    g, n = sessions, min_n
    out = ['<section class="cop-section"><h2>Sessions</h2>']
    out.append(
        para(
            f'<span data-figure="sessions">{g.totals["sessions"]}</span> '
            f"{'session was' if g.totals['sessions'] == 1 else 'sessions were'} held, "
            f'with <span data-figure="attendances">{g.totals["attendances"]}</span> '
            f'attendances by <span data-figure="session-people">{figure(g.totals["people"], n)}'
            "</span> people."
        )
    )
    if not g.totals["sessions"]:
        out.append("</section>")
        return Block("".join(out))
    out.append(
        table(
            "sessions-by-month",
            "Sessions held and attendance, per month",
            [
                ("month", "Month"),
                ("sessions", "Sessions"),
                ("attendances", "Attendances"),
                ("people", "People"),
            ],
            [
                (
                    r.month,
                    month_label(r.month),
                    {
                        "sessions": esc(r.sessions),
                        "attendances": esc(r.attendances),
                        "people": figure(r.people, n),
                    },
                )
                for r in frame_rows(g.by_month, community_data.SessionMonthRow)
            ],
        )
    )
    labels = ROLE_LABELS
    out.append(
        table(
            "session-roles",
            "Shared leadership: session roles and how many people held them",
            [("role", "Role"), ("sessions", "Sessions"), ("people", "Different people")],
            [
                (
                    r.role_id,
                    labels.get(r.role_id, r.role_id),
                    {"sessions": esc(r.sessions), "people": esc(r.people)},
                )
                for r in frame_rows(g.roles, community_data.SessionRoleRow)
            ],
        )
    )
    for trend in g.confidence:
        months = list(trend.months["month"])
        before, after = list(trend.months["before"]), list(trend.months["after"])
        label = trend.label.removeprefix("Now: ")
        out.append(f"<h3>Confidence: {esc(label)}</h3>")
        if any(v is not None for v in before + after):
            svg = line_svg(
                [_short_month(m) for m in months],
                [
                    Series("Before the session (looking back)", before, BAR_COLOUR),
                    Series("After the session", after, AFTER_COLOUR),
                ],
                1,
                5,
                "Mean (1 to 5)",
            )
            out.append(
                chart(
                    svg,
                    "Line chart of the mean confidence before and after sessions, per month. "
                    "The figures are in the table below the chart.",
                    f"Mean confidence per month, before and after sessions: {label} Months with "
                    f"fewer than {n} answers have no point.",
                    SVG,
                )
            )
        out.append(
            table(
                f"confidence-{trend.key}",
                "Mean confidence before and after sessions, per month",
                [
                    ("month", "Month"),
                    ("before", "Before (mean)"),
                    ("n_before", "n"),
                    ("after", "After (mean)"),
                    ("n_after", "n"),
                ],
                [
                    (
                        r.month,
                        month_label(r.month),
                        {
                            "before": _mean(r.before, r.n_before, n),
                            "n_before": esc(r.n_before),
                            "after": _mean(r.after, r.n_after, n),
                            "n_after": esc(r.n_after),
                        },
                    )
                    for r in frame_rows(trend.months, community_data.ConfidenceMonthRow)
                    if r.n_before or r.n_after  # months with answers only
                ],
            )
        )
    out.append("</section>")
    return Block("".join(out))


def _short_month(month: str) -> str:
    return month_label(month)[:3] + " " + month[:4]


def _mean(value: float | None, answers: int, min_n: int) -> str:
    if value is not None:
        return esc(f"{value:.1f}")
    return figure(None, min_n) if answers else "—"


def community_value_stories(
    stories: pd.DataFrame, min_n: int, shared: community_data.SharedStories | None = None
) -> Block:
    """The stories counted by the furthest cycle of value each reached; with `shared`, the
    stories their authors shared with the community, as they told them (escaped)."""
    out = ['<section class="cop-section"><h2>Value-creation stories</h2>']
    out.append(
        para(
            "Stories practitioners shared with the community, tracing one thread from a CoP "
            "activity to what changed (Wenger, Trayner &amp; de Laat, 2011). Each story counts "
            "once, at the furthest cycle of value it reached; a story saved as an intention "
            "stays at the first cycles until its author comes back to add what happened and "
            "what difference it made.",
            "cop-note",
        )
    )
    if not len(stories) or all(v == 0 for v in stories["stories"]):
        out.append(
            para(
                "No value-creation story was shared with the community in this period. "
                "Practitioners write one in the reflection app with the model "
                "'Value-creation story', and complete it weeks later."
            )
        )
    else:
        out.append(
            table(
                "value-stories",
                "Stories by the furthest cycle of value they reached",
                [("cycle", "Furthest cycle"), ("stories", "Stories"), ("people", "People")],
                [
                    (
                        row.cycle,
                        row.label,
                        {
                            "stories": figure(row.stories, min_n),
                            "people": figure(row.people, min_n),
                        },
                    )
                    for row in frame_rows(stories, community_data.ValueStoryRow)
                ],
            )
        )
    if shared is not None:
        out.append(_shared_stories(shared))
    out.append("</section>")
    return Block("".join(out))


def _shared_stories(shared: community_data.SharedStories) -> str:
    out = ["<h3>Stories shared with the community</h3>"]
    if shared.withheld:
        out.append(
            para(
                f'<span data-figure="stories-withheld">{shared.withheld}</span> '
                "story(ies) withheld: the check found a possible identifier (a name, date, "
                "place or number) in them.",
                "cop-note",
            )
        )
    if not shared.stories:
        out.append(para("No story can be shown."))
        return "".join(out)
    for story in shared.stories:
        cycles = "".join(
            f"<dt>{esc(label)}</dt><dd style='white-space:pre-wrap'>{user(text)}</dd>"
            for label, text in story.cycles
        )
        out.append(
            f'<article class="cop-value-story" data-story><p class="cop-meta">Furthest cycle: '
            f"{esc(story.furthest)}</p><dl>{cycles}</dl></article>"
        )
    return "".join(out)
