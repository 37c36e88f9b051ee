"""HTML pieces of the session report (reports/notebooks/session_report.ipynb).

Same rules as common_blocks.py, with the same helpers (html.py): every stored or typed value is
escaped, each chart is an embedded PNG with an alt text and a table of the same figures, a figure
below the minimum N reads "fewer than N — not shown".
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from cop_widgets._version import __version__
from cop_widgets.content.roles import ROLE_LABELS
from cop_widgets.reports import session_data
from cop_widgets.reports.html import (
    AFTER_COLOUR,
    BAR_COLOUR,
    SVG,
    Block,
    Series,
    bar_svg,
    chart,
    esc,
    isolated_plain,
    para,
    produced,
    suppressed,
    table,
    user,
)
from cop_widgets.reports.params import long_date


def _when(report: session_data.SessionReport, zone: str) -> str:
    local = report.starts_at.astimezone(ZoneInfo(zone))
    return f"{long_date(local.date())}, {local:%H:%M} ({zone})"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _hidden(min_n: int) -> str:
    return f'<span class="cop-suppressed">{esc(suppressed(min_n))}</span>'


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _time(stamp: str, zone: str) -> str:
    return f"{datetime.fromisoformat(stamp).astimezone(ZoneInfo(zone)):%H:%M}"


def _minutes_between(start: str, end: str) -> int:
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return max(0, round(seconds / 60))


# -- sections ------------------------------------------------------------------------------------
def header(report: session_data.SessionReport, zone: str) -> Block:
    r = report
    meta = (
        f"{user(r.community_name)} · session {r.number} of {r.series_length} · "
        f"{esc(_when(r, zone))} · {r.duration_minutes} minutes"
    )
    focus = (
        para(f"<strong>Focus question:</strong> {user(r.focus_question)}")
        if r.focus_question
        else ""
    )
    status = (
        ""
        if r.status == "closed"
        else para("This session has not been closed yet: answers may still arrive.", "cop-note")
    )
    return Block(
        f'<header class="cop-report-head"><h1>Session report: {user(r.topic)}</h1>'
        f'<p class="cop-period">{meta}</p>{focus}{status}'
        f'<p class="cop-produced">Produced {esc(produced())} by CoP Workbook '
        f"{esc(__version__)}.</p></header>",
        title=f"Session report · {isolated_plain(r.topic)} · {r.starts_at.date().isoformat()}",
    )


def confidentiality(report: session_data.SessionReport) -> Block:
    n = report.min_n
    rule = (
        f"Ratings appear only when at least {n} people answered the question, words and "
        f"resources only when at least {n} people checked out; below that they read "
        f"'{suppressed(n)}'."
        if n > 1
        else "Minimum N is 1: no figure is suppressed. Share this report with care."
    )
    return Block(
        '<section class="cop-section cop-confidential" aria-label="Confidentiality">'
        "<h2>Confidentiality</h2>"
        + para(
            f"For the members of {user(report.community_name)}. What was said in the session "
            "stays there; only agreed, de-identified learning leaves the room. This report "
            "holds no case summary, no one's check-in, no private debrief and no name except "
            "those who held a role. Anonymous answers are shown only as totals. Do not forward "
            "it outside the community."
        )
        + para(esc(rule), "cop-note")
        + "</section>"
    )


def people(report: session_data.SessionReport) -> Block:
    r = report
    out = ['<section class="cop-section"><h2>Who took part</h2>']
    joined = (
        f'<span data-figure="attended">{r.attended}</span> '
        f"{'person' if r.attended == 1 else 'people'} joined"
    )
    if r.members:
        joined += (
            f', of <span data-figure="members">{r.members}</span> who had come to this '
            f'community\'s sessions by then; <span data-figure="first-time">{r.first_time}'
            "</span> for the first time"
        )
    out.append(para(joined + "."))
    out.append(
        para(
            f'<span data-figure="checked-in">{r.checked_in}</span> checked in and '
            f'<span data-figure="checked-out">{r.checked_out}</span> checked out.'
        )
    )
    if r.roles:
        rows = [
            (
                role,
                ROLE_LABELS.get(role, role.replace("_", " ").capitalize()),
                {"who": user(name)},
            )
            for role, name in r.roles.items()
        ]
        out.append(
            table("roles", "Roles in this session", [("role", "Role"), ("who", "Who")], rows)
        )
    else:
        out.append(para("No roles were recorded for this session."))
    out.append("</section>")
    return Block("".join(out))


def process(report: session_data.SessionReport, zone: str) -> Block:
    r = report
    out = ['<section class="cop-section"><h2>How we worked</h2>']
    if r.planned_protocol_id:
        total = sum(m for _, m in r.planned_phases)
        out.append(
            para(
                f"Planned protocol: <strong>{esc(r.planned_protocol_name)}</strong>"
                + (f", {total} minutes in {len(r.planned_phases)} phases." if total else ".")
            )
        )
        if r.planned_phases:
            out.append(
                table(
                    "planned-phases",
                    "Phases of the planned protocol, with their minutes",
                    [("phase", "Phase"), ("minutes", "Minutes")],
                    [
                        (str(i), label, {"minutes": esc(minutes)})
                        for i, (label, minutes) in enumerate(r.planned_phases, 1)
                    ],
                )
            )
    else:
        out.append(para("No protocol was planned for this session."))
    if r.discussions:
        rows = []
        for run in r.discussions:
            span = (
                f"{_time(run.opened_at, zone)}–{_time(run.ended_at, zone)} "
                f"({_minutes_between(run.opened_at, run.ended_at)} min)"
            )
            reached = (
                "all phases, finished"
                if run.finished
                else f"{run.phases_reached} of {run.phase_count} phases"
            )
            rows.append(
                (
                    run.id,
                    run.protocol_name,
                    {
                        "time": esc(span),
                        "phases": esc(reached),
                        "warning": user(run.content_note) if run.content_note else "none",
                        "checked": "yes" if run.summary_checked else "no",
                    },
                )
            )
        out.append(
            table(
                "discussions",
                "Case discussions held in this session",
                [
                    ("protocol", "Protocol"),
                    ("time", "Open"),
                    ("phases", "Phases"),
                    ("warning", "Content note given"),
                    ("checked", "Case summary checked for identifiers by its author"),
                ],
                rows,
            )
        )
    else:
        out.append(para("No case discussion was linked to this session."))
    out.append("</section>")
    return Block("".join(out))


def learning(report: session_data.SessionReport) -> Block:
    """Key themes, practice insights, actions and resources: the text that leaves the room."""
    r = report
    out = []
    if r.checked_out:
        out.append(_themes(r))
    out.append(_insights_and_actions(r))
    if r.checked_out:
        out.append(_resources(r))
    return Block("".join(out))


def _not_shown(r: session_data.SessionReport, answers: int, shown, nobody: str, what: str) -> str:
    """Why answers shown as written are not on the page, or "" when they are."""
    if answers == 0:
        return para(nobody)
    if shown is None:
        return para(f"{what}: {_hidden(r.min_n)} people checked out.")
    if not shown:
        return para(f"{what}: none can be shown (each was withheld by the check below).")
    return ""


def _themes(r: session_data.SessionReport) -> str:
    out = ['<section class="cop-section"><h2>Key themes</h2>']
    why = _not_shown(r, r.themes_n, r.themes, "Nobody gave a word for the session.", "Words")
    if why or r.themes is None:  # None: not shown, and `why` says why
        out.append(why)
    else:
        out.append(para(f"The words people used most for the session ({r.themes_n} answers)."))
        out.append(
            table(
                "themes",
                "Most frequent words",
                [("word", "Word"), ("count", "Mentions")],
                [(w, w, {"count": esc(c)}) for w, c in r.themes],
            )
        )
    out.append("</section>")
    return "".join(out)


def _insights_and_actions(r: session_data.SessionReport) -> str:
    out = ['<section class="cop-section"><h2>Practice insights</h2>']
    if r.insights:
        out.append(
            para(
                "Notes from the phases where the group drew out its learning, as the note-taker "
                "recorded them.",
                "cop-note",
            )
        )
        out.append('<ul class="cop-insights">')
        for i in r.insights:
            out.append(
                f'<li data-insight><span class="cop-meta">{esc(i.protocol_name)} · '
                f"{esc(i.phase_label)}:</span> {user(i.text)}</li>"
            )
        out.append("</ul>")
    else:
        out.append(para("No practice insights were recorded."))
    out.append("</section>")

    out.append('<section class="cop-section"><h2>Actions</h2>')
    if r.actions:
        out.append(
            table(
                "actions",
                "Actions agreed, with their owners",
                [("action", "Action"), ("owner", "Owner"), ("due", "Due")],
                [
                    (str(k), a.description, {"owner": user(a.owner), "due": esc(a.due_date or "—")})
                    for k, a in enumerate(r.actions, 1)
                ],
            )
        )
    else:
        out.append(para("No actions were recorded."))
    out.append("</section>")
    return "".join(out)


def _resources(r: session_data.SessionReport) -> str:
    out = ['<section class="cop-section"><h2>Resources shared</h2>']
    nobody = "No resources were shared at check-out."
    why = _not_shown(r, r.resources_n, r.resources, nobody, "Resources shared")
    if why or r.resources is None:  # None: not shown, and `why` says why
        out.append(why)
    else:
        out.append('<ul class="cop-resources">')
        out.extend(f"<li data-resource>{user(x)}</li>" for x in r.resources)
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def _scale_title(scale: session_data.Scale) -> str:
    return f"{scale.low} = {scale.low_label}, {scale.high} = {scale.high_label}"


def _distribution_chart(scale: session_data.Scale, title: str) -> str:
    counts = scale.counts
    if counts is None:  # not shown: there is nothing to draw
        return ""
    values = list(counts)
    svg = bar_svg(
        [str(v) for v in values],
        [Series("Answers", [counts[v] for v in values], BAR_COLOUR)],
        _scale_title(scale),
    )
    alt = (
        f"Bar chart of answers to '{scale.prompt}' from {scale.low} to {scale.high}. "
        "The figures are in the table below the chart."
    )
    return chart(svg, alt, title, SVG)


def _paired_chart(pair: session_data.Comparison, title: str) -> str:
    before, after = pair.before.counts, pair.after.counts
    if before is None or after is None:  # not shown: there is nothing to draw
        return ""
    values = list(after)
    svg = bar_svg(
        [str(v) for v in values],
        [
            Series("Before (looking back)", [before[v] for v in values], BAR_COLOUR),
            Series("Now", [after[v] for v in values], AFTER_COLOUR, hatched=True),
        ],
        _scale_title(pair.after),
    )
    alt = (
        f"Paired bar chart: answers before the session (looking back) and now, from "
        f"{pair.after.low} to {pair.after.high}. The figures are in the table below the chart."
    )
    return chart(svg, alt, title, SVG)


def _mean_cell(scale: session_data.Scale, n_min: int) -> str:
    if scale.shown:
        return _fmt(scale.mean)
    return _hidden(n_min) if scale.n else "—"


def _summary(scale: session_data.Scale, n_min: int) -> str:
    if not scale.shown:
        return f"{_hidden(n_min)} answers" if scale.n else "no answers"
    return f"mean {_fmt(scale.mean)}, median {scale.median:g}, n = {scale.n}"


def evaluation(report: session_data.SessionReport) -> Block:
    r, n = report, report.min_n
    out = ['<section class="cop-section"><h2>How the session went</h2>']
    if not r.answered_any:
        out.append(
            para(
                "Nobody answered the check-in or the check-out of this session, so there are no "
                "ratings to report."
            )
        )
        out.append("</section>")
        return Block("".join(out))
    if r.confidence:
        out.append("<h3>Confidence before and after</h3>")
        out.append(
            para(
                "At check-in people rated how confident they felt before today (looking back); "
                "at check-out, how confident they feel now. Both are anonymous.",
                "cop-note",
            )
        )
        rows = []
        for pair in r.confidence:
            rows.append(
                (
                    pair.key,
                    pair.after.prompt.removeprefix("Now: "),
                    {
                        "before": _mean_cell(pair.before, n),
                        "n_before": esc(pair.before.n),
                        "after": _mean_cell(pair.after, n),
                        "n_after": esc(pair.after.n),
                    },
                )
            )
        for pair in r.confidence:
            if pair.before.shown and pair.after.shown:
                text = pair.after.prompt.removeprefix("Now: ")
                out.append(
                    _paired_chart(
                        pair,
                        f"{text} Before: {_summary(pair.before, n)}. "
                        f"Now: {_summary(pair.after, n)}.",
                    )
                )
        out.append(
            table(
                "confidence",
                "Confidence, mean of answers from 1 to 5",
                [
                    ("item", "Item"),
                    ("before", "Before (mean)"),
                    ("n_before", "n before"),
                    ("after", "Now (mean)"),
                    ("n_after", "n now"),
                ],
                rows,
            )
        )
    if r.reaction:
        points = range(min(s.low for s in r.reaction), max(s.high for s in r.reaction) + 1)
        out.append("<h3>Reactions</h3>")
        for scale in r.reaction:
            if scale.shown:
                out.append(_distribution_chart(scale, f"{scale.prompt} {_summary(scale, n)}."))
        out.append(
            table(
                "reaction",
                "Reactions at check-out",
                [("item", "Item"), ("summary", "Answers")]
                + [("v" + str(v), str(v)) for v in points],
                [
                    (
                        s.item_id,
                        s.prompt,
                        {
                            "summary": _summary(s, n),
                            **{
                                "v" + str(v): esc(s.counts.get(v, 0))
                                if s.counts is not None
                                else ""
                                for v in points
                            },
                        },
                    )
                    for s in r.reaction
                ],
            )
        )
    out.append("</section>")
    return Block("".join(out))


def follow_through(report: session_data.SessionReport, zone: str) -> Block:
    r = report
    out = ['<section class="cop-section"><h2>Follow-through</h2>']
    if r.answered_any or r.followups_n:
        out.append(_commitments(r))
    if r.next_session:
        when, topic = r.next_session
        local = when.astimezone(ZoneInfo(zone))
        out.append(
            para(
                f"Next session: <strong>{user(topic)}</strong>, {esc(long_date(local.date()))} at "
                f"{local:%H:%M} ({esc(zone)})."
            )
        )
    elif not (r.answered_any or r.followups_n):
        return Block("")
    out.append("</section>")
    return Block("".join(out))


def _commitments(r: session_data.SessionReport) -> str:
    n = r.min_n
    out = [
        para(
            f'<span data-figure="commitments">{r.commitments}</span> '
            f"{'commitment was' if r.commitments == 1 else 'commitments were'} made at check-out "
            "(each comes back to its author at the next session; the text stays theirs)."
        )
    ]
    if r.followups_n == 0:
        out.append(para("Nobody reported back on a commitment from an earlier session."))
    elif r.followups is None:
        out.append(para(f"Reports on earlier commitments: {_hidden(n)} people answered."))
    else:
        f = r.followups
        out.append(
            para(
                f"{_plural(r.followups_n, 'person', 'people')} reported back on an earlier "
                f'commitment: <span data-figure="tried-yes">{f["yes"]}</span> tried it, '
                f'<span data-figure="tried-partly">{f["partly"]}</span> partly, '
                f'<span data-figure="tried-no">{f["no"]}</span> not yet.'
            )
        )
    return "".join(out)


def deidentification(report: session_data.SessionReport) -> Block:
    c = report.text_check
    checked_runs = sum(run.summary_checked for run in report.discussions)
    parts = [
        f"Every text in this report was checked on this machine for likely identifiers "
        f"(names, dates, phone numbers, addresses, schools, case numbers): "
        f'<span data-figure="texts-checked">{c.checked}</span> checked, '
        f'<span data-figure="texts-withheld">{c.withheld}</span> withheld because they may '
        "identify someone. The check finds most identifiers, not all: read the report before "
        "you send it."
    ]
    if report.discussions:
        parts.append(
            f"Case summaries checked by their authors before the discussion: {checked_runs} of "
            f"{len(report.discussions)} (the summaries themselves are not in this report)."
        )
    return Block(
        '<section class="cop-section"><h2>De-identification</h2>'
        + "".join(para(p) for p in parts)
        + "</section>"
    )
