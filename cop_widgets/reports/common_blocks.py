"""HTML pieces and charts that the person record and the community growth report share.

Every value that comes from the store or a content file is escaped here (``esc``): a reflection
holding ``<script>`` is shown as that text. Each chart is a PNG embedded in the page, with an
``alt`` text and, next to it, a table of the same figures for screen readers and for print.
Suppressed figures arrive as None (see community_data.py) and are written "fewer than N — not
shown". Tables carry ``data-table``/``data-row``/``data-col`` attributes so tests can read
figures back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from cop_widgets._version import __version__
from cop_widgets.content.yaml_files import Catalogue
from cop_widgets.reports.common_data import SECONDARY, FigureValue, is_hidden
from cop_widgets.reports.html import (
    BAR_COLOUR,
    SECONDARY_TEXT,
    Block,
    chart,
    esc,
    isolated_plain,
    para,
    png,
    produced,
    suppressed,
    user,
)
from cop_widgets.reports.params import Period, month_label

if TYPE_CHECKING:  # annotations only: the content modules are loaded by whoever reads the files
    from cop_widgets.content.protocols import Protocol


def figure(value: object, min_n: int | None = None) -> str:
    if value is None:
        return f'<span class="cop-suppressed">{esc(suppressed(min_n))}</span>'
    if value is SECONDARY:
        return f'<span class="cop-suppressed">{esc(SECONDARY_TEXT)}</span>'
    return esc(value)


# -- charts -------------------------------------------------------------------------------------
def bar_chart(
    labels: Sequence[str],
    values: Sequence[FigureValue],
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
    values: Sequence[FigureValue],
    ylabel: str,
    min_n: int | None = None,
):
    """The matplotlib figure of ``bar_chart``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: the kernel's backend is left alone
    from matplotlib.ticker import MaxNLocator

    width = min(11.0, max(4.0, 0.55 * len(labels) + 1.5))
    fig = Figure(figsize=(width, 2.9))
    FigureCanvasAgg(fig)  # a renderer to measure the labels with
    ax = fig.add_subplot()
    xs = list(range(len(labels)))
    heights = [0 if is_hidden(v) else v for v in values]
    ax.bar(xs, heights, color=BAR_COLOUR)
    top = max([*heights, 1])
    for x, v in zip(xs, values, strict=True):
        if is_hidden(v):
            mark = f"<{min_n}" if v is None else "*"
            ax.text(x, top * 0.02, mark, ha="center", va="bottom", fontsize=8, color="#444")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, top * 1.15)
    # A new axes' major locator is an AutoLocator, a MaxNLocator (whose parameters these are).
    cast(MaxNLocator, ax.yaxis.get_major_locator()).set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fit_tick_labels(fig, ax, xs, labels)
    return fig


def month_ticks(months: Sequence[str]) -> list[str]:
    """Short month labels for a chart's axis: 'Jan', with the year below the first month and
    each January ('Jan\n2027'), so that twelve fit side by side."""
    return [
        month_label(m)[:3] + (f"\n{m[:4]}" if i == 0 or m.endswith("-01") else "")
        for i, m in enumerate(months)
    ]


def _busiest(months: Sequence[str], values: Sequence[FigureValue], what: str) -> str:
    known = [(v, m) for m, v in zip(months, values, strict=True) if not is_hidden(v) and v]
    if not known:
        return ""
    best = max(v for v, _ in known)
    first = next(m for v, m in known if v == best)
    return f" The highest shown is {month_label(first)}: {best}."


def monthly_chart(
    months: Sequence[str], values: Sequence[FigureValue], what: str, min_n: int | None = None
) -> str:
    """Chart of a figure per month plus its text alternative (alt, caption, a table follows)."""
    span = f"{month_label(months[0])} to {month_label(months[-1])}"
    hidden = (
        f" Months whose figure comes from fewer than {min_n} are marked <{min_n} and not drawn."
        if any(v is None for v in values)
        else ""
    )
    if any(v is SECONDARY for v in values):
        hidden += f" Months marked * are not drawn: their figure is {SECONDARY_TEXT}."
    alt = f"Bar chart of {what} per month, {span}. The figures are in the table below the chart."
    caption = f"{what.capitalize()} per month, {span}.{_busiest(months, values, what)}{hidden}"
    png = bar_chart(month_ticks(months), values, what.capitalize(), min_n)
    return chart(png, alt + hidden, caption)


def report_header(
    title: str, period: Period, notes: Sequence[str], subject: str | None = None
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


def protocol_name(protocols: Catalogue[Protocol], protocol_id: str) -> str:
    p = protocols.get(protocol_id)
    return p.name if p else protocol_id
