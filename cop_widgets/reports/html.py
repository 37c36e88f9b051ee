"""The pieces every report page is built from: escaped text, tables, embedded charts, blocks.

Kept light (no pandas, no matplotlib at import) so that a report template that needs only these
starts fast. Every value that comes from the store or a content file goes through ``esc``;
whatever a person typed (names, topics, reflections, notes) goes through ``user``, which also
isolates its direction (``<bdi>``), so a right-to-left override in a topic cannot reverse the
report's own words and dates around it.
"""

from __future__ import annotations

import base64
import html
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cop_widgets.reports.params import long_date

TITLE_KEY = "cop_report"  # output metadata: {"cop_report": {"title": ...}} names the report
BAR_COLOUR = "#1f5f8b"
# the "after" series beside a "before" one (check-out against check-in)
AFTER_COLOUR = "#b45309"
# The report CSS's font stack (templates/cop_report/report.css) for the hand-drawn charts:
# Debian's Noto fonts cover what people type (CJK, full-width brackets), DejaVu the rest.
CHART_FONTS = "Noto Sans, Noto Sans CJK JP, DejaVu Sans, Arial, sans-serif"


class Block:
    """A piece of report HTML; displayed as text/html (the title, if any, in its metadata)."""

    def __init__(self, html_text: str, title: str | None = None, plain: str = ""):
        self.html = html_text
        self.title = title
        self.plain = plain or title or "(report section)"

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {"text/html": self.html, "text/plain": self.plain}
        if self.title:
            return data, {TITLE_KEY: {"title": self.title}}
        return data

    def __str__(self) -> str:
        return self.html


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def user(value: object) -> str:
    """Text a person typed, escaped and isolated for direction."""
    return f"<bdi>{esc(value)}</bdi>"


_BIDI_OPENERS = {"LRE", "RLE", "LRO", "RLO", "LRI", "RLI", "FSI"}


def isolated_plain(value: object) -> str:
    """Typed text inside plain text (a page title, a file's metadata), isolated with FSI ... PDI
    when it carries right-to-left letters or direction controls; unchanged otherwise."""
    text = str(value)
    if any(unicodedata.bidirectional(ch) in _BIDI_OPENERS | {"R", "AL"} for ch in text):
        return f"\u2068{text}\u2069"
    return text


def suppressed(min_n: int | None) -> str:
    return f"fewer than {min_n} — not shown"


SECONDARY_TEXT = "not shown, so that a smaller figure cannot be worked out"


def para(text_html: str, cls: str = "") -> str:
    return f'<p class="{esc(cls)}">{text_html}</p>' if cls else f"<p>{text_html}</p>"


def table(
    name: str,
    caption: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[tuple[str, str, dict[str, str]]],
) -> str:
    """columns: (key, heading), the first being the row heading; rows: (key, heading, cells
    as HTML by column key)."""
    head = "".join(f'<th scope="col">{esc(label)}</th>' for _, label in columns)
    body = []
    for key, label, cells in rows:
        tds = "".join(
            f'<td data-col="{esc(col)}">{cells.get(col, "")}</td>' for col, _ in columns[1:]
        )
        # a row heading may be typed text (an action, a commitment, a word): isolated
        body.append(f'<tr data-row="{esc(key)}"><th scope="row">{user(label)}</th>{tds}</tr>')
    return (
        f'<table class="cop-table" data-table="{esc(name)}"><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def chart(image: str, alt: str, caption: str, mime: str = "image/png") -> str:
    """A figure: the image (base64) with its text alternative and a visible caption."""
    return (
        f'<figure class="cop-chart"><img src="data:{mime};base64,{image}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


LABEL_FONT_PX = 11
# Widest advance of a character of the chart font at 11 px, over the width of the font size:
# digits and capitals of Noto Sans and DejaVu Sans are at most 0.72 em (W, M), most are 0.55.
CHAR_EM = 0.72
LABEL_GAP_PX = 8


def label_width(text: str, font_px: float = LABEL_FONT_PX) -> float:
    """An upper bound of a label's drawn width (wide characters count double)."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return (len(text) + wide) * CHAR_EM * font_px


def label_step(categories: Sequence[str], slot: float) -> int:
    """Label every step-th category so that no two labels drawn centred on their slots can
    touch: labels `step` slots apart are further apart than the widest is wide."""
    widest = max((label_width(c) for c in categories), default=0.0) + LABEL_GAP_PX
    return max(1, -(-int(widest) // max(1, int(slot))))


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]
    colour: str
    hatched: bool = False  # told apart without colour too (print, colour blindness)


def bar_svg(categories: Sequence[str], series: Sequence[Series], x_title: str) -> str:
    """A grouped bar chart as SVG (base64, for ``chart(..., mime=SVG)``), each bar labelled
    with its value. Drawn here rather than with matplotlib: a report kernel that draws only
    these never imports it, and the image stays sharp when printed."""
    width, height = 480, 230
    left, right, top, bottom = 44, 10, 30 if len(series) > 1 else 12, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *(v for s in series for v in s.values)])
    step = max(1, -(-peak // 4))
    y_max = step * -(-peak // step)
    slot = plot_w / max(1, len(categories))
    bar_w = slot * 0.7 / max(1, len(series))
    step = label_step(categories, slot)
    font = f'font-family="{CHART_FONTS}" font-size="11" fill="#1b1b1b"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="white" '
        'fill-opacity="0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#1b1b1b" '
        'stroke-width="1.5"/></pattern></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for tick in range(0, y_max + 1, step):
        y = top + plot_h - plot_h * tick / y_max
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#d1d5db" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {font}>{tick}</text>'
        )
    for i, category in enumerate(categories):
        x0 = left + slot * i + slot * 0.15
        for j, s in enumerate(series):
            value = s.values[i]
            bar_h = plot_h * value / y_max
            x, y = x0 + bar_w * j, top + plot_h - bar_h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                f'fill="{esc(s.colour)}"/>'
            )
            if s.hatched and value:
                out.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
                    'fill="url(#hatch)"/>'
                )
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                f"{font}>{value}</text>"
            )
        if i % step == 0:
            out.append(
                f'<text x="{left + slot * (i + 0.5):.1f}" y="{top + plot_h + 15}" '
                f'text-anchor="middle" {font}>{esc(category)}</text>'
            )
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#1b1b1b" stroke-width="1"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" {font}>'
        f"{esc(x_title)}</text>"
        f'<text transform="translate(12 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" {font}>Answers</text>'
    )
    if len(series) > 1:
        x = left
        for s in series:
            out.append(
                f'<rect x="{x}" y="8" width="14" height="12" fill="{esc(s.colour)}"/>'
                + (
                    f'<rect x="{x}" y="8" width="14" height="12" fill="url(#hatch)"/>'
                    if s.hatched
                    else ""
                )
                + f'<text x="{x + 20}" y="18" {font}>{esc(s.label)}</text>'
            )
            x += 30 + label_width(s.label)
    out.append("</svg>")
    return base64.b64encode("".join(out).encode("utf-8")).decode("ascii")


SVG = "image/svg+xml"


def line_svg(
    categories: Sequence[str],
    series: Sequence[Series],
    low: float,
    high: float,
    y_title: str,
) -> str:
    """A line chart as SVG (base64) on a fixed scale from low to high: one line per series,
    a marked point per value, a gap where a value is None (hidden or missing); the second
    series dashed and with square marks, so the lines differ without colour."""
    width, height = 560, 240
    left, right, top, bottom = 44, 12, 30, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(1, len(categories))
    font = f'font-family="{CHART_FONTS}" font-size="11" fill="#1b1b1b"'

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * (value - low) / (high - low)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" fill="white"/>'
    ]
    for tick in range(int(low), int(high) + 1):
        y = y_of(tick)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#d1d5db" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" {font}>{tick}</text>'
        )
    step = label_step(categories, slot)
    for i, category in enumerate(categories):
        if i % step == 0:
            out.append(
                f'<text x="{left + slot * (i + 0.5):.1f}" y="{top + plot_h + 15}" '
                f'text-anchor="middle" {font}>{esc(category)}</text>'
            )
    for j, s in enumerate(series):
        dash = ' stroke-dasharray="6 4"' if j else ""
        run: list[str] = []
        points = [(left + slot * (i + 0.5), v) for i, v in enumerate(s.values)] + [(0, None)]
        for x, value in points:
            if value is None:
                if len(run) > 1:
                    out.append(
                        f'<polyline points="{" ".join(run)}" fill="none" '
                        f'stroke="{esc(s.colour)}" stroke-width="2"{dash}/>'
                    )
                run = []
                continue
            y = y_of(value)
            run.append(f"{x:.1f},{y:.1f}")
            mark = (
                f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8"'
                if j
                else f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4"'
            )
            out.append(f'{mark} fill="{esc(s.colour)}"/>')
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#1b1b1b" stroke-width="1"/>'
        f'<text transform="translate(12 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" {font}>{esc(y_title)}</text>'
    )
    x = left
    for j, s in enumerate(series):
        dash = ' stroke-dasharray="6 4"' if j else ""
        out.append(
            f'<line x1="{x}" y1="14" x2="{x + 22}" y2="14" stroke="{esc(s.colour)}" '
            f'stroke-width="2"{dash}/><text x="{x + 28}" y="18" {font}>{esc(s.label)}</text>'
        )
        x += 40 + label_width(s.label)
    out.append("</svg>")
    return base64.b64encode("".join(out).encode("utf-8")).decode("ascii")


def produced() -> str:
    now = datetime.now(UTC)
    return f"{long_date(now.date())}, {now:%H:%M} UTC"
