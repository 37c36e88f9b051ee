"""Report parameters: record ids, ISO dates, whole numbers; the report period.

Kept apart from the *_data modules (no pandas, no SQLAlchemy at import) so that the command
line and the renderer check parameters without importing what only the kernel needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cop_widgets.errors import InvalidInput

# Matched whole (fullmatch), ASCII only: no trailing newline, no other digits.
UUID_PATTERN = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
ISO_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DEFAULT_MIN_N = 5
MAX_MIN_N = 1000
MAX_PERIOD_YEARS = 10
DEFAULT_PERIOD_MONTHS = 12
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# -- parameters ---------------------------------------------------------------------------------
def check_id(value: object, name: str = "id") -> str:
    """A record id (UUID text), lower-cased; anything else is refused."""
    if not isinstance(value, str) or not UUID_PATTERN.fullmatch(value):
        raise InvalidInput(
            name, f"{name} must be a record id like 1b4e28ba-2fa1-41d2-883f-0016d3cca427."
        )
    return value.lower()


def check_date(value: object, name: str = "date") -> date:
    """An ISO date (YYYY-MM-DD); anything else is refused."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DATE_PATTERN.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(name, f"{name} must be a date written YYYY-MM-DD, e.g. 2026-03-31.")


def check_min_n(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MIN_N:
        raise InvalidInput("min_n", f"min_n must be a whole number from 1 to {MAX_MIN_N}.")
    return value


def long_date(d: date) -> str:
    return f"{d.day} {MONTH_NAMES[d.month - 1]} {d.year}"


def month_label(month: str) -> str:
    """'2026-03' -> 'March 2026'."""
    year, mon = month.split("-")
    return f"{MONTH_NAMES[int(mon) - 1]} {year}"


@dataclass(frozen=True)
class Period:
    """Whole days from start to end, both included, in UTC."""

    start: date
    end: date

    @property
    def lo(self) -> str:
        return self.start.isoformat()

    @property
    def hi(self) -> str:
        """The day after the end: stored times (ISO text) of the period sort below it."""
        return (self.end + timedelta(days=1)).isoformat()

    @property
    def months(self) -> list[str]:
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    @property
    def label(self) -> str:
        return f"{long_date(self.start)} to {long_date(self.end)}"

    def where(self, column):
        """SQL: the column (ISO text) falls in the period."""
        from sqlalchemy import and_

        return and_(column >= self.lo, column < self.hi)


def parse_period(date_from: object = "", date_to: object = "", today: date | None = None) -> Period:
    """The report period; empty ends default to the 12 calendar months up to today (UTC)."""
    today = today or datetime.now(UTC).date()
    end = check_date(date_to, "date_to") if date_to else today
    if date_from:
        start = check_date(date_from, "date_from")
    else:
        y, m = end.year, end.month - (DEFAULT_PERIOD_MONTHS - 1)
        while m < 1:
            y, m = y - 1, m + 12
        start = date(y, m, 1)
    if start > end:
        raise InvalidInput("date_from", f"The period starts ({start}) after it ends ({end}).")
    if end.year - start.year > MAX_PERIOD_YEARS:
        raise InvalidInput("date_from", f"A report covers at most {MAX_PERIOD_YEARS} years.")
    return Period(start, end)
