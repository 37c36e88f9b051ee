"""HTML pieces and charts that the report notebooks display.

Every value that comes from the store or a content file is escaped here (``esc``): a reflection
holding ``<script>`` is shown as that text. Each chart is a PNG embedded in the page, with an
``alt`` text and, next to it, a table of the same figures for screen readers and for print.
Suppressed figures arrive as None (see data.py) and are written "fewer than N — not shown".
Tables carry ``data-table``/``data-row``/``data-col`` attributes so tests can read figures back.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cop_widgets._version import __version__
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.reports import data
from cop_widgets.reports.html import (  # noqa: F401 - Block and esc are part of what the templates use
    BAR_COLOUR,
    SECONDARY_TEXT,
    SVG,
    TITLE_KEY,
    Block,
    Series,
    chart,
    esc,
    isolated_plain,
    line_svg,
    para,
    png,
    produced,
    suppressed,
    table,
    user,
)
from cop_widgets.services.discussions import STANDARD_ROLES
from cop_widgets.services.supervision import DEPTH_LABELS, KIND_LABELS

VISIBILITY_LABELS = {
    "private": "only me",
    "supervisor": "me and my supervisors",
    "facilitator": "me and the session facilitator",
    "community": "the community",
    "aggregate_only": "counted in summaries only",
}
ROLE_LABELS = dict(STANDARD_ROLES)


def figure(value: object, min_n: int | None = None) -> str:
    if value is None:
        return f'<span class="cop-suppressed">{esc(suppressed(min_n))}</span>'
    if value is data.SECONDARY:
        return f'<span class="cop-suppressed">{esc(SECONDARY_TEXT)}</span>'
    return esc(value)


# -- charts -------------------------------------------------------------------------------------
def bar_chart(
    labels: Sequence[str],
    values: Sequence[object],
    ylabel: str,
    min_n: int | None = None,
) -> str:
    """A bar chart as base64 PNG. A hidden value draws no bar, only a mark: '<N' for fewer
    than N, '*' for hidden so that another cannot be worked out."""
    return png(bar_figure(labels, values, ylabel, min_n))


LABEL_GAP_PX = 6


def _labels_overlap(fig, ax) -> bool:
    """Whether any two drawn x tick labels touch (measured as matplotlib lays them out)."""
    renderer = fig.canvas.get_renderer()
    boxes = sorted(
        (t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()),
        key=lambda b: b.x0,
    )
    return any(a.x1 + LABEL_GAP_PX > b.x0 for a, b in zip(boxes, boxes[1:], strict=False))


def fit_tick_labels(fig, ax, xs: Sequence[int], labels: Sequence[str]) -> int:
    """Label every category, or every step-th one, whichever is the first whose labels do
    not touch; returns the step. Horizontal labels, read without turning the head."""
    fig.canvas.draw()
    for step in range(1, max(2, len(labels) + 1)):
        ax.set_xticks(xs[::step], [labels[i] for i in xs[::step]])
        fig.canvas.draw()
        if not _labels_overlap(fig, ax):
            return step
    return step


def bar_figure(
    labels: Sequence[str],
    values: Sequence[object],
    ylabel: str,
    min_n: int | None = None,
):
    """The matplotlib figure of ``bar_chart``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: the kernel's backend is left alone

    width = min(11.0, max(4.0, 0.55 * len(labels) + 1.5))
    fig = Figure(figsize=(width, 2.9))
    FigureCanvasAgg(fig)  # a renderer to measure the labels with
    ax = fig.add_subplot()
    xs = list(range(len(labels)))
    heights = [0 if data.is_hidden(v) else v for v in values]
    ax.bar(xs, heights, color=BAR_COLOUR)
    top = max([*heights, 1])
    for x, v in zip(xs, values, strict=True):
        if data.is_hidden(v):
            mark = f"<{min_n}" if v is None else "*"
            ax.text(x, top * 0.02, mark, ha="center", va="bottom", fontsize=8, color="#444")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, top * 1.15)
    ax.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fit_tick_labels(fig, ax, xs, labels)
    return fig


def _short_month(month: str) -> str:
    return data.month_label(month)[:3] + " " + month[:4]


def month_ticks(months: Sequence[str]) -> list[str]:
    """Short month labels for a chart's axis: 'Jan', with the year below the first month and
    each January ('Jan\n2027'), so that twelve fit side by side."""
    return [
        data.month_label(m)[:3] + (f"\n{m[:4]}" if i == 0 or m.endswith("-01") else "")
        for i, m in enumerate(months)
    ]


def _busiest(months: Sequence[str], values: Sequence[object], what: str) -> str:
    known = [(v, m) for m, v in zip(months, values, strict=True) if not data.is_hidden(v) and v]
    if not known:
        return ""
    best = max(v for v, _ in known)
    first = next(m for v, m in known if v == best)
    return f" The highest shown is {data.month_label(first)}: {best}."


def monthly_chart(
    months: Sequence[str], values: Sequence[object], what: str, min_n: int | None = None
) -> str:
    """Chart of a figure per month plus its text alternative (alt, caption, a table follows)."""
    span = f"{data.month_label(months[0])} to {data.month_label(months[-1])}"
    hidden = (
        f" Months whose figure comes from fewer than {min_n} are marked <{min_n} and not drawn."
        if any(v is None for v in values)
        else ""
    )
    if any(v is data.SECONDARY for v in values):
        hidden += f" Months marked * are not drawn: their figure is {SECONDARY_TEXT}."
    alt = f"Bar chart of {what} per month, {span}. The figures are in the table below the chart."
    caption = f"{what.capitalize()} per month, {span}.{_busiest(months, values, what)}{hidden}"
    png = bar_chart(month_ticks(months), values, what.capitalize(), min_n)
    return chart(png, alt + hidden, caption)


def _header(
    title: str, period: data.Period, notes: Sequence[str], subject: str | None = None
) -> Block:
    """The report's heading; `subject` (a person's or community's name) is typed text."""
    body = "".join(para(esc(n), "cop-note") for n in notes)
    heading = esc(title) + (f": {user(subject)}" if subject is not None else "")
    if subject is not None:
        title = f"{title}: {isolated_plain(subject)}"
    return Block(
        f'<header class="cop-report-head"><h1>{heading}</h1>'
        f'<p class="cop-period">Period: <span data-figure="period">{esc(period.label)}</span>'
        f"</p>{body}"
        f'<p class="cop-produced">Produced {esc(produced())} by CoP Workbook '
        f"{esc(__version__)}.</p></header>",
        title=f"{title} · {period.lo} to {period.end.isoformat()}",
    )


# -- person record -------------------------------------------------------------------------------
def person_header(who, period: data.Period) -> Block:
    if who is None:
        return _header(
            "CPD record",
            period,
            [
                "No person was chosen, so this record is empty. Produce one with "
                "`cop report person NAME --from YYYY-MM-DD --to YYYY-MM-DD`."
            ],
        )
    return _header(
        "CPD record",
        period,
        [
            "Your own submitted reflections of this period with the feedback released to "
            "you, and the case discussions you took part in with the actions you own or "
            "recorded. Nobody else's writing is included. Keep this record as carefully as "
            "the reflections themselves.",
        ],
        who.display_name,
    )


def person_summary(record: data.PersonRecord) -> Block:
    if record.person is None:
        return Block("")
    n = len(record.reflections)
    models = record.reflections["framework_id"].nunique() if n else 0
    parts = [
        f'<span data-figure="reflections">{n}</span> reflection{"s" if n != 1 else ""} '
        f'submitted, with <span data-figure="models">{models}</span> reflective '
        f"model{'s' if models != 1 else ''}",
        f'<span data-figure="feedback">{len(record.feedback)}</span> piece'
        f"{'s' if len(record.feedback) != 1 else ''} of released feedback",
        f'<span data-figure="discussions">{len(record.discussions)}</span> case discussion'
        f"{'s' if len(record.discussions) != 1 else ''}",
    ]
    out = ['<section class="cop-section"><h2>Summary</h2>', para("; ".join(parts) + ".")]
    if record.drafts:
        out.append(
            para(
                f"{record.drafts} draft{'s' if record.drafts != 1 else ''} changed in this "
                "period {} not included until submitted.".format(
                    "is" if record.drafts == 1 else "are"
                ),
                "cop-note",
            )
        )
    months, values = list(record.by_month["month"]), list(record.by_month["reflections"])
    if n:
        out.append(monthly_chart(months, values, "reflections submitted"))
        out.append(
            table(
                "person-months",
                "Reflections submitted per month",
                [("month", "Month"), ("reflections", "Reflections")],
                [
                    (m, data.month_label(m), {"reflections": figure(v)})
                    for m, v in zip(months, values, strict=True)
                ],
            )
        )
    else:
        out.append(para("No reflections were submitted in this period."))
    out.append("</section>")
    return Block("".join(out))


def _stage_order(framework, answers: pd.DataFrame) -> list[tuple[str, str]]:
    ids = list(answers["stage_id"])
    if framework is None:
        return [(i, i) for i in ids]
    known = [(s.id, s.label) for s in framework.stages]
    return known + [(i, i) for i in ids if i not in {k for k, _ in known}]


def person_entries(record: data.PersonRecord, frameworks: Catalogue) -> Block:
    if record.person is None:
        return Block("")
    out = ['<section class="cop-section"><h2>Reflections and feedback</h2>']
    if not len(record.reflections):
        out.append(para("No reflections were submitted in this period."))
    for refl in record.reflections.itertuples(index=False):
        fw = frameworks.get(refl.framework_id)
        name = fw.name if fw else refl.framework_id
        answers = record.answers[record.answers["reflection_id"] == refl.id]
        by_stage = {a.stage_id: a for a in answers.itertuples(index=False)}
        version = f" · version {refl.version_no}" if refl.version_no and refl.version_no > 1 else ""
        out.append(
            f'<article class="cop-entry" data-reflection="{esc(refl.id)}">'
            f"<h3>{esc(name)} — {esc(data.long_date(_day(refl.submitted_at)))}</h3>"
            f'<p class="cop-meta">Model version {esc(refl.framework_version)}{esc(version)} · '
            f"shared with {esc(VISIBILITY_LABELS.get(refl.visibility, refl.visibility))}</p><dl>"
        )
        for stage_id, label in _stage_order(fw, answers):
            a = by_stage.get(stage_id)
            if a is not None and str(a.text).strip():
                text = f'<dd class="cop-text">{user(a.text)}</dd>'
            elif a is not None and bool(a.passed):
                text = '<dd class="cop-passed">(passed)</dd>'
            else:
                text = '<dd class="cop-passed">(no answer)</dd>'
            out.append(f"<dt>{esc(label)}</dt>{text}")
        out.append("</dl>")
        fb = record.feedback[record.feedback["reflection_id"] == refl.id]
        if len(fb):
            out.append('<section class="cop-feedback"><h4>Feedback released to you</h4><ul>')
            depths = []
            for f in fb.itertuples(index=False):
                out.append(
                    f"<li><strong>{esc(KIND_LABELS.get(f.kind, f.kind))}</strong> from "
                    f"{user(f.supervisor_name)}, released "
                    f"{esc(data.long_date(_day(f.released_at)))}:"
                    f'<div class="cop-text">{user(f.text)}</div></li>'
                )
                if _given(f.depth_level) and (f.supervisor_name, f.depth_level) not in depths:
                    depths.append((f.supervisor_name, f.depth_level))
            out.append("</ul>")
            for who, level in depths:
                out.append(
                    para(
                        f"Depth of reflection noted by {user(who)} (Hatton &amp; Smith, for "
                        f"discussion, never a ranking): {esc(DEPTH_LABELS.get(level, level))}.",
                        "cop-meta",
                    )
                )
            out.append("</section>")
        out.append("</article>")
    out.append("</section>")
    return Block("".join(out))


def _given(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _day(stamp: str):
    return data.check_date(str(stamp)[:10])


def _protocol_name(protocols: Catalogue, protocol_id: str) -> str:
    p = protocols.get(protocol_id)
    return p.name if p else protocol_id


def _role_label(protocols: Catalogue, protocol_id: str, role_id: str) -> str:
    p = protocols.get(protocol_id)
    if p is not None:
        for role in p.roles:
            if role.id == role_id:
                return role.name
    return ROLE_LABELS.get(role_id, role_id.replace("_", " "))


def person_discussions(record: data.PersonRecord, protocols: Catalogue) -> Block:
    if record.person is None:
        return Block("")
    out = ['<section class="cop-section"><h2>Case discussions and actions</h2>']
    if not len(record.discussions):
        out.append(para("You took part in no case discussion in this period."))
    else:
        rows = []
        for d in record.discussions.itertuples(index=False):
            roles = [_role_label(protocols, d.protocol_id, r) for r in d.roles]
            if d.started and "Facilitator" not in roles:
                roles.insert(0, "Facilitator")
            rows.append(
                (
                    d.id,
                    data.long_date(_day(d.created_at)),
                    {
                        "protocol": esc(_protocol_name(protocols, d.protocol_id)),
                        "roles": esc(", ".join(dict.fromkeys(roles)) or "participant"),
                        "status": esc(d.status),
                    },
                )
            )
        out.append(
            table(
                "person-discussions",
                "Case discussions you took part in (case material is not included)",
                [
                    ("date", "Date"),
                    ("protocol", "Protocol"),
                    ("roles", "Your role"),
                    ("status", "Status"),
                ],
                rows,
            )
        )
    if len(record.actions):
        rows = []
        for a in record.actions.itertuples(index=False):
            why = " and ".join(
                w for w, yes in (("you own it", a.owned), ("you recorded it", a.recorded)) if yes
            )
            rows.append(
                (
                    a.id,
                    a.description,
                    {
                        "owner": user(a.owner),
                        "due": esc(
                            data.long_date(_day(a.due_date)) if _given(a.due_date) else "no date"
                        ),
                        "discussion": esc(
                            f"{_protocol_name(protocols, a.protocol_id)}, "
                            f"{data.long_date(_day(a.discussion_at))}"
                        ),
                        "why": esc(why),
                    },
                )
            )
        out.append(
            table(
                "person-actions",
                "Actions you own or recorded",
                [
                    ("action", "Action"),
                    ("owner", "Owner"),
                    ("due", "Due"),
                    ("discussion", "Discussion"),
                    ("why", "Listed because"),
                ],
                rows,
            )
        )
    elif len(record.discussions):
        out.append(para("No actions were recorded for you or by you."))
    out.append("</section>")
    return Block("".join(out))


# -- community growth ---------------------------------------------------------------------------
def community_header(period: data.Period, min_n: int, community: str | None = None) -> Block:
    """`community`: the name of the one community the report covers (None: every one)."""
    return _header(
        "Community growth",
        period,
        [
            "Counts only: no reflection text, no names. Reflections are counted when their "
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


def community_participation(growth: data.CommunityGrowth, frameworks: Catalogue) -> Block:
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
                        data.month_label(r.month),
                        {"reflections": figure(r.reflections, n), "people": figure(r.people, n)},
                    )
                    for r in g.reflections_by_month.itertuples(index=False)
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
                        frameworks.get(r.framework_id).name
                        if frameworks.get(r.framework_id)
                        else r.framework_id,
                        {"reflections": figure(r.reflections, n), "people": figure(r.people, n)},
                    )
                    for r in g.frameworks.itertuples(index=False)
                ],
            )
        )
    out.append("</section>")
    return Block("".join(out))


def community_discussions(growth: data.CommunityGrowth, protocols: Catalogue) -> Block:
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
                    (m, data.month_label(m), {"discussions": figure(v, n)})
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
                        _protocol_name(protocols, r.protocol_id),
                        {"discussions": figure(r.discussions, n)},
                    )
                    for r in g.protocols.itertuples(index=False)
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
                for r in g.roles.itertuples(index=False)
            ],
        )
    )
    out.append("</section>")
    return Block("".join(out))


def community_ratings(growth: data.CommunityGrowth, protocols: Catalogue) -> Block:
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


AFTER_COLOUR = "#b45309"


def community_sessions(sessions: data.SessionGrowth, min_n: int) -> Block:
    """Sessions held and attended per month, session roles, and confidence before and after."""
    from cop_widgets.services.sessions import ROTATING_ROLES

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
                    data.month_label(r.month),
                    {
                        "sessions": esc(r.sessions),
                        "attendances": esc(r.attendances),
                        "people": figure(r.people, n),
                    },
                )
                for r in g.by_month.itertuples(index=False)
            ],
        )
    )
    labels = dict(ROTATING_ROLES)
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
                for r in g.roles.itertuples(index=False)
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
                        data.month_label(r.month),
                        {
                            "before": _mean(r.before, r.n_before, n),
                            "n_before": esc(r.n_before),
                            "after": _mean(r.after, r.n_after, n),
                            "n_after": esc(r.n_after),
                        },
                    )
                    for r in trend.months.itertuples(index=False)
                    if r.n_before or r.n_after  # months with answers only
                ],
            )
        )
    out.append("</section>")
    return Block("".join(out))


def _mean(value, answers: int, min_n: int) -> str:
    if value is not None:
        return esc(f"{value:.1f}")
    return figure(None, min_n) if answers else "—"


def community_value_stories(stories: pd.DataFrame, min_n: int) -> Block:
    out = ['<section class="cop-section"><h2>Value-creation stories</h2>']
    out.append(
        para(
            "Stories practitioners shared with the community, tracing one thread from a CoP "
            "activity to what changed (Wenger, Trayner &amp; de Laat, 2011). A story counts for "
            "every cycle it reaches; most stay at the first cycles until someone comes back to "
            "add what happened.",
            "cop-note",
        )
    )
    reached = [v for v in stories["stories"] if not data.is_hidden(v)] if len(stories) else []
    if not len(stories) or (reached and max(reached) == 0):
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
                "Stories reaching each cycle of value",
                [("cycle", "Cycle"), ("stories", "Stories"), ("people", "People")],
                [
                    (
                        row.cycle,
                        row.label,
                        {
                            "stories": figure(row.stories, min_n),
                            "people": figure(row.people, min_n),
                        },
                    )
                    for row in stories.itertuples(index=False)
                ],
            )
        )
    out.append("</section>")
    return Block("".join(out))


TRIED_LABELS = {"yes": "Tried it", "partly": "Partly", "no": "Not yet"}


def person_sessions(sessions: data.PersonSessions, who) -> Block:
    """CPD evidence from sessions: attended, roles held, commitments and what happened."""
    from cop_widgets.services.sessions import ROTATING_ROLES

    if who is None:
        return Block("")
    labels = dict(ROTATING_ROLES)
    out = ['<section class="cop-section"><h2>Sessions and commitments</h2>']
    if not len(sessions.attended):
        out.append(para("You joined no CoP session in this period."))
    else:
        out.append(
            table(
                "person-sessions",
                "CoP sessions you joined",
                [
                    ("date", "Date"),
                    ("community", "Community"),
                    ("topic", "Topic"),
                    ("roles", "Your role"),
                ],
                [
                    (
                        r.session_id,
                        data.long_date(_day(r.starts_at)),
                        {
                            "community": user(r.community),
                            "topic": user(r.topic),
                            "roles": esc(
                                ", ".join(labels.get(x, x) for x in r.roles) or "participant"
                            ),
                        },
                    )
                    for r in sessions.attended.itertuples(index=False)
                ],
            )
        )
    if len(sessions.commitments):
        out.append(
            table(
                "person-commitments",
                "What you said you would do differently, and what happened",
                [
                    ("commitment", "Commitment"),
                    ("session", "Session"),
                    ("tried", "Did you try it?"),
                    ("happened", "What happened"),
                ],
                [
                    (
                        str(k),
                        r.text,
                        {
                            "session": f"{user(r.topic)}, {esc(data.long_date(_day(r.made_at)))}",
                            "tried": esc(TRIED_LABELS.get(r.tried, "not asked yet")),
                            "happened": user(r.followup_text or ""),
                        },
                    )
                    for k, r in enumerate(sessions.commitments.itertuples(index=False), 1)
                ],
            )
        )
    elif len(sessions.attended):
        out.append(para("You made no commitment at check-out in this period."))
    out.append("</section>")
    return Block("".join(out))
