"""The pieces every report page is built from: escaped text, tables, embedded charts, blocks.

Kept light (no pandas, no matplotlib at import) so that a report template that needs only these
starts fast. Every value that comes from the store or a content file goes through ``esc``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from .params import long_date

TITLE_KEY = "cop_report"  # output metadata: {"cop_report": {"title": ...}} names the report
BAR_COLOUR = "#1f5f8b"


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


def suppressed(min_n: int) -> str:
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
        body.append(f'<tr data-row="{esc(key)}"><th scope="row">{esc(label)}</th>{tds}</tr>')
    return (
        f'<table class="cop-table" data-table="{esc(name)}"><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def chart(png: str, alt: str, caption: str) -> str:
    return (
        f'<figure class="cop-chart"><img src="data:image/png;base64,{png}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def produced() -> str:
    now = datetime.now(UTC)
    return f"{long_date(now.date())}, {now:%H:%M} UTC"
